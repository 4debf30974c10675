DROP PROCEDURE rsvp_create_invitation;
DROP TABLE email_cap_minutes;
