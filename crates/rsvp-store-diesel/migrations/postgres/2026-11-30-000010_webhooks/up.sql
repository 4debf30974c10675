-- Webhook endpoints of businesses and the webhook outbox (PostgreSQL).

CREATE TABLE webhook_endpoints (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    business_id TEXT COLLATE "C" NOT NULL REFERENCES businesses (id),
    url TEXT NOT NULL,
    -- '' for every type, else ',type,type,' (matched as a substring).
    event_types TEXT COLLATE "C" NOT NULL,
    description TEXT,
    enabled BOOLEAN NOT NULL,
    -- whsec_<base64>, in clear: it signs every delivery.
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_until BIGINT,
    failing_since BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE INDEX webhook_endpoints_business_idx ON webhook_endpoints (business_id, created_at, id);

CREATE TABLE webhook_deliveries (
    endpoint_id TEXT COLLATE "C" NOT NULL REFERENCES webhook_endpoints (id),
    -- The event id for the deliveries written with an event; unique within the endpoint.
    id TEXT COLLATE "C" NOT NULL,
    business_id TEXT COLLATE "C" NOT NULL,
    -- webhook-id: an event, or a notice that is not in the event log.
    event_id TEXT COLLATE "C" NOT NULL,
    event_type TEXT NOT NULL,
    -- JSON data of a notice; NULL: the event as the business sees it.
    payload TEXT,
    occurred_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL,
    status TEXT COLLATE "C" NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
    next_attempt_at BIGINT NOT NULL,
    response_status INTEGER,
    duration_ms BIGINT,
    attempted_at BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (endpoint_id, id)
);

-- Outbox claim: pending deliveries, oldest first.
CREATE INDEX webhook_deliveries_pending_idx ON webhook_deliveries (created_at, id) WHERE status = 'pending';
-- Delivery log of an endpoint, newest first.
CREATE INDEX webhook_deliveries_endpoint_keyset_idx ON webhook_deliveries (endpoint_id, created_at, id);
