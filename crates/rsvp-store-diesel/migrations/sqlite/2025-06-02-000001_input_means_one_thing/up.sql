-- Input that means one thing (docs/DECISIONS.md): emails are now compared
-- with the domain in its IDNA ASCII form (UTS 46) and the local part in NFC,
-- and names, external ids and messages refuse invisible format characters.
-- SQL can do neither IDNA nor Unicode categories, so this migration only
-- queues the work: right after the SQL migrations the store runs each queued
-- fix-up in Rust (crates/rsvp-store-diesel/src/fixups.rs), in batches,
-- idempotently, and deletes its row when done. A crash in between leaves the
-- row, so the next start finishes the work.
CREATE TABLE pending_fixups (
    name TEXT PRIMARY KEY NOT NULL
);

INSERT INTO pending_fixups (name) VALUES ('input_means_one_thing');
