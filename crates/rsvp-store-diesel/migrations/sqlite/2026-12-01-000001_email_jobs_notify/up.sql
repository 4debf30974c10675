-- PostgreSQL notifies other replicas of new email jobs with a trigger; a
-- SQLite database has one process, whose store wakes its own dispatcher
-- after the commit. Nothing to do here: the folder keeps both sets alike.
SELECT 1;
