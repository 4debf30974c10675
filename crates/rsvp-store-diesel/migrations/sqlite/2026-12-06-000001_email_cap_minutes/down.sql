CREATE INDEX email_jobs_business_created_idx ON email_jobs (business_id, created_at);
DROP TABLE email_cap_minutes;
