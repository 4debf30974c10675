-- The operator lifecycle (SQLite): suspended businesses, deactivated users,
-- several named API keys per user with expiry and last use.

-- The business-name filter compares `name_folded` (trimmed, lowercased by
-- the application: rsvp_domain::fold_for_search). SQLite's lower() folds
-- ASCII only, so the fix-up queued below folds existing rows again in Rust.
ALTER TABLE businesses ADD COLUMN name_folded TEXT NOT NULL DEFAULT '';
UPDATE businesses SET name_folded = lower(trim(name));
ALTER TABLE businesses ADD COLUMN suspended_at INTEGER;
-- The operator's business list: keyset on (created_at DESC, id DESC).
CREATE INDEX businesses_keyset_idx ON businesses (created_at, id);

ALTER TABLE users ADD COLUMN deactivated_at INTEGER;
-- A business's users: keyset on (created_at DESC, id DESC).
CREATE INDEX users_business_keyset_idx ON users (business_id, created_at, id);

-- Keys made before keys had names are "default"; their secret was never
-- kept, so their prefix is only "rsvp_". They keep working unchanged.
ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT 'default';
ALTER TABLE api_keys ADD COLUMN prefix TEXT NOT NULL DEFAULT 'rsvp_';
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
-- A user's keys, newest first.
CREATE INDEX api_keys_user_keyset_idx ON api_keys (user_id, created_at, id);

INSERT INTO pending_fixups (name) VALUES ('operator_lifecycle_names');
