-- Tenants, their members and the members' API keys (PostgreSQL).
-- Ids are hyphenated lowercase UUID text; times are unix nanoseconds (UTC).
-- Key columns use the "C" collation: byte order, as in SQLite, whatever the
-- server's locale (UUIDv7 text then sorts in time order), and faster.

CREATE TABLE businesses (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE users (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    business_id TEXT COLLATE "C" NOT NULL REFERENCES businesses (id),
    email TEXT NOT NULL,
    email_normalized TEXT COLLATE "C" NOT NULL,
    first_name TEXT,
    last_name TEXT,
    created_at BIGINT NOT NULL
);

-- One user per normalized email, across all businesses.
CREATE UNIQUE INDEX users_email_normalized_key ON users (email_normalized);
CREATE INDEX users_business_id_idx ON users (business_id);

CREATE TABLE api_keys (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    -- SHA-256 of the key, lowercase hex: the key itself is never stored.
    key_hash TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);
CREATE INDEX api_keys_user_id_idx ON api_keys (user_id);
