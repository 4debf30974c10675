-- Idempotency-Key records (SQLite): one per (scope, key); the first request's
-- answer, replayed to retries for 24 h, then pruned.

CREATE TABLE idempotency_records (
    -- SHA-256 (lowercase hex) of the caller's credential: never the credential.
    scope TEXT NOT NULL,
    -- The client's key as sent (1 to 255 visible ASCII characters).
    idempotency_key TEXT NOT NULL,
    -- SHA-256 (lowercase hex) of the request: method, path, query, body.
    fingerprint TEXT NOT NULL,
    -- The attempt holding the record (a UUID, fresh per request).
    attempt_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('in_progress', 'completed')),
    started_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- The answer, once completed: status, replayed headers (JSON array of
    -- [name, value]) and body. It may hold a secret shown once (an API key,
    -- an accept_url), kept as carefully as the rest of the database.
    response_status INTEGER,
    response_headers TEXT,
    response_body BLOB,
    PRIMARY KEY (scope, idempotency_key),
    CHECK ((status = 'completed') = (response_status IS NOT NULL))
) STRICT;

-- Pruning: the earliest expiry first, in batches named by attempt.
CREATE INDEX idempotency_records_expiry_idx ON idempotency_records (expires_at, attempt_id);
