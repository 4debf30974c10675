-- PostgreSQL's procedure rsvp_create_invitation is rewritten here; SQLite
-- has no procedure (its create is statements on the one writer). Nothing to
-- do: the folder keeps both sets alike.
SELECT 1;
