-- The invitee's side (docs/DECISIONS.md): where the page sends the invitee
-- after an answer, the language of the emails, and recipients' opt-outs.
ALTER TABLE invitations ADD COLUMN redirect_url TEXT;
-- 'en' or 'de'; NULL for invitations created before (the server's default applies).
ALTER TABLE invitations ADD COLUMN locale TEXT COLLATE "C" CHECK (locale IN ('en', 'de'));

CREATE TABLE suppressions (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    email_normalized TEXT COLLATE "C" NOT NULL,
    -- The business blocked; NULL blocks every business.
    business_id TEXT COLLATE "C" REFERENCES businesses (id),
    -- The invitation whose link the recipient opted out with (no foreign key:
    -- the opt-out outlives whatever becomes of the invitation).
    invitation_id TEXT COLLATE "C",
    created_at BIGINT NOT NULL
);

-- One suppression per address and scope ('' stands for everyone: NULLs are never equal in an index).
CREATE UNIQUE INDEX suppressions_one_per_scope ON suppressions (email_normalized, COALESCE(business_id, ''));
-- The operators' list: newest first, all or one address.
CREATE INDEX suppressions_keyset_idx ON suppressions (created_at, id);
CREATE INDEX suppressions_email_keyset_idx ON suppressions (email_normalized, created_at, id);
