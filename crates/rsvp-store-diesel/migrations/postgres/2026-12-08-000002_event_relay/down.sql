DROP TABLE event_relay;
DROP INDEX events_relay_order_idx;
ALTER TABLE events DROP COLUMN relay_seq;
ALTER TABLE events DROP COLUMN relay_tx;
