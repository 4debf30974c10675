-- The per-business email cap in constant time (issue 19): each business's
-- queued emails counted in unix-minute buckets, updated in the transaction
-- that queues the email (on SQLite's one writer, so check and count are one
-- atomic step).
CREATE TABLE email_cap_minutes (
    business_id TEXT NOT NULL,
    minute BIGINT NOT NULL,
    queued INTEGER NOT NULL,
    PRIMARY KEY (business_id, minute)
);

-- The emails queued in the last hour before the upgrade still count (the
-- index below serves this one last time).
INSERT INTO email_cap_minutes (business_id, minute, queued)
SELECT business_id, created_at / 60000000000, count(*)
FROM email_jobs
WHERE created_at >= (CAST(strftime('%s', 'now') AS INTEGER) - 3660) * 1000000000
GROUP BY business_id, created_at / 60000000000;

-- The index of the old count (every email job of the business in the last
-- hour, on every create) has no reader left: one index fewer per email job.
DROP INDEX email_jobs_business_created_idx;
