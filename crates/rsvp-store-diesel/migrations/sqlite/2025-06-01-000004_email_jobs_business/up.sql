-- The per-business email cap (RSVP_EMAILS_PER_HOUR) counts a business's
-- email jobs of the last hour: the job carries its sender business, so the
-- count reads one index range instead of joining every invitation of it.
ALTER TABLE email_jobs ADD COLUMN business_id TEXT NOT NULL DEFAULT '';
UPDATE email_jobs SET business_id = COALESCE(
    (SELECT invitations.business_id FROM invitations WHERE invitations.id = email_jobs.invitation_id), '');
CREATE INDEX email_jobs_business_created_idx ON email_jobs (business_id, created_at);
