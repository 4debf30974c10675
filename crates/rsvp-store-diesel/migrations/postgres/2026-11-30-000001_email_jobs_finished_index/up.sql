-- Retention: finished jobs (sent or failed) by when they finished, so the
-- pruner deletes the oldest in batches without scanning the outbox.
CREATE INDEX email_jobs_finished_idx ON email_jobs (updated_at) WHERE status <> 'queued';
