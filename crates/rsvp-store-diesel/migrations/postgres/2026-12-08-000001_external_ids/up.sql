-- The host platform's ids of businesses and users (issue 23): what a JWT's
-- claims name. Unique per kind; NULL for the many that have none.
ALTER TABLE businesses ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX businesses_external_id_key ON businesses (external_id) WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX users_external_id_key ON users (external_id) WHERE external_id IS NOT NULL;
