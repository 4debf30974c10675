-- Sent list filtered on `pending`: the keyset of invitations_sent_keyset_idx
-- over the pending rows only; `source_is_invitee IN (TRUE, FALSE)` (always
-- true) is a tag only the list queries state. See the PostgreSQL migration
-- of the same name.
CREATE INDEX invitations_sent_pending_keyset_idx
    ON invitations (business_id, created_at, id)
    WHERE status = 'pending' AND source_is_invitee IN (TRUE, FALSE);
