DROP TABLE provider_events;
ALTER TABLE suppressions DROP COLUMN reason;
ALTER TABLE email_jobs DROP COLUMN kind;
DROP INDEX email_jobs_provider_message_idx;
ALTER TABLE email_jobs DROP COLUMN provider_message_id;
ALTER TABLE invitations DROP COLUMN reminded_at;
ALTER TABLE invitations DROP COLUMN page_viewed_at;
ALTER TABLE invitations DROP COLUMN email_feedback;
