-- The recomputed values stay: identical to the old ones for every ASCII
-- address, and still readable by the old code (which looks an IDN address up
-- by its lowercase form only).
DROP TABLE pending_fixups;
