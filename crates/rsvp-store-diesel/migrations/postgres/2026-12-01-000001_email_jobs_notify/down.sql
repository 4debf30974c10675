DROP TRIGGER email_jobs_notify ON email_jobs;
DROP FUNCTION rsvp_email_jobs_notify();
