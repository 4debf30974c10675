-- The invitee's side (docs/DECISIONS.md): where the page sends the invitee
-- after an answer, the language of the emails, and recipients' opt-outs.
ALTER TABLE invitations ADD COLUMN redirect_url TEXT;
-- 'en' or 'de'; NULL for invitations created before (the server's default applies).
ALTER TABLE invitations ADD COLUMN locale TEXT CHECK (locale IN ('en', 'de'));

CREATE TABLE suppressions (
    id TEXT PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    email_normalized TEXT NOT NULL,
    -- The business blocked; NULL blocks every business.
    business_id TEXT REFERENCES businesses (id),
    -- The invitation whose link the recipient opted out with (no foreign key:
    -- the opt-out outlives whatever becomes of the invitation).
    invitation_id TEXT,
    created_at INTEGER NOT NULL
) STRICT;

-- One suppression per address and scope ('' stands for everyone: NULLs are never equal in an index).
CREATE UNIQUE INDEX suppressions_one_per_scope ON suppressions (email_normalized, COALESCE(business_id, ''));
-- The operators' list: newest first, all or one address.
CREATE INDEX suppressions_keyset_idx ON suppressions (created_at, id);
CREATE INDEX suppressions_email_keyset_idx ON suppressions (email_normalized, created_at, id);
