-- Cases (contract section 10): an escalation is worked until it is closed.
--
-- The working state is `case_doc`, the case's own JSON document (status,
-- holder, times, messages, history); the columns beside it are copies for
-- the queries: the status (now with `waiting`), the holder, the reference
-- as shown and normalised (upper case, no dashes or spaces) for lookups,
-- the customer's address, and the due times still pending (the breach
-- timer scans these; `due_next`, the earlier of the two, orders the queue).
-- Rows written before keep `case_doc` NULL and read back as a case made
-- from their status and holder.

ALTER TABLE escalations DROP CONSTRAINT escalations_status_check;
ALTER TABLE escalations ADD CONSTRAINT escalations_status_check
    CHECK (status IN ('open', 'claimed', 'waiting', 'resolved'));

ALTER TABLE escalations
    ADD COLUMN reference       text,
    ADD COLUMN reference_norm  text,
    ADD COLUMN email           text,
    ADD COLUMN due_response    timestamptz,
    ADD COLUMN due_resolution  timestamptz,
    ADD COLUMN due_next        timestamptz,
    ADD COLUMN case_doc        text;

-- The reference an older case was shown under is its session's; a session
-- without one (started through the API) gets one made from the random end
-- of the case's id, stable across reads.
UPDATE escalations e SET reference = COALESCE(NULLIF(btrim(s.reference), ''),
        upper(substr(e.id, length(e.id) - 7, 4)) || '-' || upper(substr(e.id, length(e.id) - 3, 4)))
    FROM sessions s WHERE s.id = e.session_id;

-- ASCII letters only change case, as in SQLite and the server's own code.
UPDATE escalations SET reference_norm = translate(replace(replace(reference, '-', ''), ' ', ''),
    'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ');

DROP INDEX escalations_created;
CREATE INDEX escalations_created ON escalations (created_at, id);
CREATE INDEX escalations_reference ON escalations (reference_norm);
CREATE INDEX escalations_due_next ON escalations (due_next, created_at, id);
CREATE INDEX escalations_due_response ON escalations (due_response) WHERE due_response IS NOT NULL;
CREATE INDEX escalations_due_resolution ON escalations (due_resolution) WHERE due_resolution IS NOT NULL;

-- Who took a trail entry back and when: `{"by", "at"}`, or NULL.
ALTER TABLE trail_entries ADD COLUMN retraction text;

-- More capabilities for one session, beside its own token: the links a
-- mail or `/status` hands the customer (`/s/{id}?t=TOKEN`), by their
-- SHA-256 like every token.
CREATE TABLE session_links (
    token_hash  text        PRIMARY KEY,
    session_id  text        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL
);

CREATE INDEX session_links_session ON session_links (session_id);
