-- Provider feedback, reminders and the funnel (issue 22).

-- What the provider reported on the invitation's latest email. A column of
-- its own (not more values of email_delivery, whose CHECK SQLite cannot
-- widen without rebuilding the table): when set, it is the invitation's
-- email_delivery; queuing a new email clears it.
ALTER TABLE invitations ADD COLUMN email_feedback TEXT CHECK (email_feedback IN ('delivered', 'bounced', 'complained'));
-- The first time the invitee's page was opened (the funnel's page_viewed).
ALTER TABLE invitations ADD COLUMN page_viewed_at INTEGER;
-- When the reminder before expiry was queued: set once, so one reminder per
-- invitation across replicas.
ALTER TABLE invitations ADD COLUMN reminded_at INTEGER;

-- The provider's id of a sent email (Postmark's MessageID), to match its
-- reports.
ALTER TABLE email_jobs ADD COLUMN provider_message_id TEXT;
CREATE INDEX email_jobs_provider_message_idx ON email_jobs (provider_message_id)
    WHERE provider_message_id IS NOT NULL;
-- What the email is: the invitation (or its reminder) to the invitee, or the
-- notice to its sender that it expired.
ALTER TABLE email_jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'invitation'
    CHECK (kind IN ('invitation', 'expiry_notice'));

-- Why an address is suppressed: the recipient's opt-out, or the provider's
-- hard bounce or complaint report.
ALTER TABLE suppressions ADD COLUMN reason TEXT NOT NULL DEFAULT 'opt_out'
    CHECK (reason IN ('opt_out', 'bounce', 'complaint'));

-- Provider events already applied: the same report twice has one effect.
CREATE TABLE provider_events (
    provider TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (provider, event_id)
);
CREATE INDEX provider_events_received_idx ON provider_events (received_at);
