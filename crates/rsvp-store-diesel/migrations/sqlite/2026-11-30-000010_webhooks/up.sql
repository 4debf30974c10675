-- Webhook endpoints of businesses and the webhook outbox (SQLite).

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    business_id TEXT NOT NULL REFERENCES businesses (id),
    url TEXT NOT NULL,
    -- '' for every type, else ',type,type,' (matched as a substring).
    event_types TEXT NOT NULL,
    description TEXT,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    -- whsec_<base64>, in clear: it signs every delivery.
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until INTEGER,
    failing_since INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE INDEX webhook_endpoints_business_idx ON webhook_endpoints (business_id, created_at, id);

CREATE TABLE webhook_deliveries (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id),
    -- The event id for the deliveries written with an event; unique within the endpoint.
    id TEXT NOT NULL,
    business_id TEXT NOT NULL,
    -- webhook-id: an event, or a notice that is not in the event log.
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    -- JSON data of a notice; NULL: the event as the business sees it.
    payload TEXT,
    occurred_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    next_attempt_at INTEGER NOT NULL,
    response_status INTEGER,
    duration_ms INTEGER,
    attempted_at INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (endpoint_id, id)
) STRICT;

-- Outbox claim: pending deliveries, oldest first.
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (created_at, id) WHERE status = 'pending';
-- Delivery log of an endpoint, newest first.
CREATE INDEX webhook_deliveries_endpoint_keyset_idx ON webhook_deliveries (endpoint_id, created_at, id);
