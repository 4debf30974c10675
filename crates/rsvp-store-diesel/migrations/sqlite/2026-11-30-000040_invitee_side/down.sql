DROP TABLE suppressions;
ALTER TABLE invitations DROP COLUMN locale;
ALTER TABLE invitations DROP COLUMN redirect_url;
