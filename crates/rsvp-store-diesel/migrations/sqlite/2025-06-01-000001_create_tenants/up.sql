-- Tenants, their members and the members' API keys (SQLite).
-- Ids are hyphenated lowercase UUID text; times are unix nanoseconds (UTC).
-- STRICT tables make SQLite refuse values of the wrong type.

CREATE TABLE businesses (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    business_id TEXT NOT NULL REFERENCES businesses (id),
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    created_at INTEGER NOT NULL
) STRICT;

-- One user per normalized email, across all businesses.
CREATE UNIQUE INDEX users_email_normalized_key ON users (email_normalized);
CREATE INDEX users_business_id_idx ON users (business_id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    -- SHA-256 of the key, lowercase hex: the key itself is never stored.
    key_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);
