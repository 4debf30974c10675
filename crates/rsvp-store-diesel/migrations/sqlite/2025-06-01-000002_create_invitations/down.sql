DROP TABLE email_jobs;
DROP TABLE events;
DROP TABLE connections;
DROP TABLE link_tokens;
DROP TABLE invitations;
