-- Users can be disabled (contract section 13): their tokens and web
-- sign-ins open nothing and they cannot sign in, until enabled again; the
-- tokens are kept, so enabling needs no new ones.
ALTER TABLE users ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
