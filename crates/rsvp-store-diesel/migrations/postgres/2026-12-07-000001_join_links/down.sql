DELETE FROM events WHERE invitation_id IS NULL;
DELETE FROM connections WHERE invitation_id IS NULL;
ALTER TABLE events DROP COLUMN join_link_id;
ALTER TABLE events ALTER COLUMN invitation_id SET NOT NULL;
ALTER TABLE connections DROP COLUMN join_link_id;
ALTER TABLE connections ALTER COLUMN invitation_id SET NOT NULL;
DROP TABLE connection_requests;
DROP TABLE join_links;
