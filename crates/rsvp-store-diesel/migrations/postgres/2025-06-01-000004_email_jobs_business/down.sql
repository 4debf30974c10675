DROP INDEX email_jobs_business_created_idx;
ALTER TABLE email_jobs DROP COLUMN business_id;
