-- The per-business email cap (RSVP_EMAILS_PER_HOUR) counts a business's
-- email jobs of the last hour: the job carries its sender business, so the
-- count reads one index range instead of joining every invitation of it.
ALTER TABLE email_jobs ADD COLUMN business_id TEXT COLLATE "C";
UPDATE email_jobs AS j SET business_id = i.business_id FROM invitations AS i WHERE i.id = j.invitation_id;
UPDATE email_jobs SET business_id = '' WHERE business_id IS NULL;
ALTER TABLE email_jobs ALTER COLUMN business_id SET NOT NULL;
CREATE INDEX email_jobs_business_created_idx ON email_jobs (business_id, created_at);
