DROP TABLE email_cap_minutes;
