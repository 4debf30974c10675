DROP INDEX email_jobs_finished_idx;
