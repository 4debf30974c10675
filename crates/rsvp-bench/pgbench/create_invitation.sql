-- One rsvp invitation create, as Store::insert_invitation sent it to (before issue 19's procedure call)
-- PostgreSQL (crates/rsvp-store-diesel/src/one_statement.rs): ONE statement
-- whose data-modifying CTEs insert the invitation, its link token and its
-- `invitation.created` event, and whose main INSERT writes the email job;
-- atomic without BEGIN/COMMIT, one round trip. Same text, columns and
-- order, with NULL where rsvp binds NULL, for the benchmark's request
-- (email, message, first and last name). The transaction of four INSERTs
-- it replaced is create_invitation_transaction.sql.
--
-- Variables, given with --define by `rsvp-bench pgbench`:
--   business_id, user_id  the sender (rows that exist: foreign keys)
--   now                   unix nanoseconds at the start of the run
-- Per transaction, random numbers keep every key unique: ids are
-- '01990000-0000-7000-' followed by 18 digits (37 characters, about the 36
-- of rsvp's UUIDs), the email is distinct, the token hash 64 characters.
-- In the event's JSON, `:` before `null` is split off with `||`: pgbench
-- would read `:null` as a variable, even inside a string.
--
-- Run by hand (after `rsvp migrate` and creating the business and user):
--   pgbench -n -c 16 -j 2 -M prepared -t 1250 -f create_invitation.sql \
--     -D business_id=... -D user_id=... -D now=1750000000000000000 postgres://.../db

\set r random(100000000000000000, 999999999999999999)
\set t :now + random(0, 600000000000)
\set expires :t + 1209600000000000
WITH new_invitation AS (INSERT INTO invitations (id, business_id, sent_by_user_id, email, email_normalized, status, message, custom_data, roles, first_name, last_name, phone, external_id, source_is_invitee, invitee_business_id, expires_at, created_at, updated_at, resolved_at, email_delivery, last_sent_at, redirect_url, locale) VALUES ('01990000-0000-7000-' || :r, :business_id, :user_id, 'invitee' || :r || '@company.example', 'invitee' || :r || '@company.example', 'pending', 'We would like to add you to our supplier network on rsvp.', '{}', '[]', 'Bob', 'Builder', NULL, NULL, false, NULL, :expires, :t, :t, NULL, 'queued', :t, NULL, 'en')), new_link AS (INSERT INTO link_tokens (token_hash, invitation_id, created_at, revoked_at) VALUES ('0123456789abcdef0123456789abcdef0123456789abcd' || :r, '01990000-0000-7000-' || :r, :t, NULL)) , new_event AS (INSERT INTO events (id, kind, invitation_id, business_id, invitee_business_id, occurred_at, data) VALUES ('01990000-0000-7001-' || :r, 'invitation.created', '01990000-0000-7000-' || :r, :business_id, NULL, :t, '{"actor":{"type":"sender","user_id":"' || :user_id || '"},"status_before":' || 'null,"status_after":"pending","connection_id":' || 'null}')) INSERT INTO email_jobs (id, invitation_id, to_email, link_token, attempts, status, next_attempt_at, last_error, created_at, updated_at, business_id) VALUES ('01990000-0000-7002-' || :r, '01990000-0000-7000-' || :r, 'invitee' || :r || '@company.example', 'tok_0123456789abcdefghijklmnop' || :r, 0, 'queued', :t, NULL, :t, :t, :business_id);
