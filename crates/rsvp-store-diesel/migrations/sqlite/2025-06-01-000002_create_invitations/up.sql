-- Invitations, their link tokens, connections, events and the email outbox (SQLite).

CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    business_id TEXT NOT NULL REFERENCES businesses (id),
    sent_by_user_id TEXT NOT NULL REFERENCES users (id),
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'accepted', 'rejected', 'cancelled', 'expired')),
    message TEXT,
    -- JSON object
    custom_data TEXT NOT NULL,
    -- JSON array of strings
    roles TEXT NOT NULL,
    first_name TEXT,
    last_name TEXT,
    phone TEXT,
    external_id TEXT,
    source_is_invitee INTEGER NOT NULL CHECK (source_is_invitee IN (0, 1)),
    invitee_business_id TEXT REFERENCES businesses (id),
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    resolved_at INTEGER,
    email_delivery TEXT CHECK (email_delivery IN ('queued', 'sent', 'failed')),
    last_sent_at INTEGER
) STRICT;

-- At most one pending invitation per (sender business, normalized email).
CREATE UNIQUE INDEX invitations_one_pending_per_email
    ON invitations (business_id, email_normalized) WHERE status = 'pending';
-- Sent list: keyset on (created_at DESC, id DESC) within a business.
CREATE INDEX invitations_sent_keyset_idx ON invitations (business_id, created_at, id);
-- Received list: by the invited address, same keyset.
CREATE INDEX invitations_received_keyset_idx ON invitations (email_normalized, created_at, id);
-- Expiry sweep.
CREATE INDEX invitations_pending_expiry_idx ON invitations (expires_at, id) WHERE status = 'pending';

CREATE TABLE link_tokens (
    -- SHA-256 of the token, lowercase hex: the token itself is never stored here.
    token_hash TEXT PRIMARY KEY NOT NULL,
    invitation_id TEXT NOT NULL REFERENCES invitations (id),
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;

CREATE INDEX link_tokens_invitation_idx ON link_tokens (invitation_id);

CREATE TABLE connections (
    id TEXT PRIMARY KEY NOT NULL,
    -- The pair in canonical order (smaller id first), computed by the application.
    business_low TEXT NOT NULL REFERENCES businesses (id),
    business_high TEXT NOT NULL REFERENCES businesses (id),
    inviter_business_id TEXT NOT NULL REFERENCES businesses (id),
    invitee_business_id TEXT NOT NULL REFERENCES businesses (id),
    invitation_id TEXT NOT NULL REFERENCES invitations (id),
    roles TEXT NOT NULL,
    source_is_invitee INTEGER NOT NULL CHECK (source_is_invitee IN (0, 1)),
    created_at INTEGER NOT NULL,
    CHECK (business_low < business_high)
) STRICT;

-- One connection per unordered pair of businesses.
CREATE UNIQUE INDEX connections_one_per_pair ON connections (business_low, business_high);
CREATE INDEX connections_inviter_keyset_idx ON connections (inviter_business_id, created_at, id);
CREATE INDEX connections_invitee_keyset_idx ON connections (invitee_business_id, created_at, id);

CREATE TABLE events (
    -- UUIDv7: ids grow with time, events are listed in id order.
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    invitation_id TEXT NOT NULL REFERENCES invitations (id),
    business_id TEXT NOT NULL REFERENCES businesses (id),
    invitee_business_id TEXT REFERENCES businesses (id),
    occurred_at INTEGER NOT NULL,
    -- JSON
    data TEXT NOT NULL
) STRICT;

CREATE INDEX events_business_keyset_idx ON events (business_id, id);
CREATE INDEX events_invitee_keyset_idx ON events (invitee_business_id, id);

CREATE TABLE email_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    invitation_id TEXT NOT NULL REFERENCES invitations (id),
    to_email TEXT NOT NULL,
    -- The link token in clear, only until the email is sent (then wiped).
    link_token TEXT,
    attempts INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Outbox claim: queued jobs, oldest first (those not yet due are skipped).
CREATE INDEX email_jobs_queued_idx ON email_jobs (created_at, id) WHERE status = 'queued';
-- The latest job of an invitation.
CREATE INDEX email_jobs_invitation_idx ON email_jobs (invitation_id, created_at);
