-- Wakes the dispatchers of every replica when email jobs are queued: each
-- listens on `rsvp_email_jobs` (rsvp-store-diesel's listener), so a new
-- email is claimed at once instead of at the next poll. One notification
-- per statement, delivered at commit; PostgreSQL folds identical ones of a
-- transaction into one.
CREATE FUNCTION rsvp_email_jobs_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('rsvp_email_jobs', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER email_jobs_notify
    AFTER INSERT ON email_jobs
    FOR EACH STATEMENT EXECUTE FUNCTION rsvp_email_jobs_notify();
