-- Sent list filtered on `pending` (a sender's outstanding invitations): the
-- keyset of invitations_sent_keyset_idx over the pending rows only. Without
-- it, a business with a long history reads every older row of
-- invitations_sent_keyset_idx to learn that its last pending page is the
-- last (100+ ms at 1M rows), or the planner, misled by the correlation of
-- `pending` with a future `expires_at`, sorts every pending row read from
-- invitations_pending_expiry_idx (15-25 ms per page). docs/BENCHMARKS.md.
--
-- `source_is_invitee IN (TRUE, FALSE)` is always true (NOT NULL boolean):
-- a tag that only the list queries state, so that point lookups on
-- (business_id, email_normalized, pending) can never read this index in
-- place of invitations_one_pending_per_email (a planner without statistics
-- yet would: the keyset index then scans the sender's pending rows).
CREATE INDEX invitations_sent_pending_keyset_idx
    ON invitations (business_id, created_at, id)
    WHERE status = 'pending' AND source_is_invitee IN (TRUE, FALSE);
