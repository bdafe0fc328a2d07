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
--
-- SQLite cannot alter a CHECK constraint: the table is rebuilt.

CREATE TABLE escalations_new (
    id              TEXT    PRIMARY KEY NOT NULL,
    session_id      TEXT    NOT NULL REFERENCES sessions (id),
    tier            INTEGER NOT NULL CHECK (tier BETWEEN 1 AND 4),
    queue           TEXT,
    status          TEXT    NOT NULL CHECK (status IN ('open', 'claimed', 'waiting', 'resolved')),
    claimed_by      TEXT,
    record          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    reference       TEXT,
    reference_norm  TEXT,
    email           TEXT,
    due_response    INTEGER,
    due_resolution  INTEGER,
    due_next        INTEGER,
    case_doc        TEXT
);

-- The reference an older case was shown under is its session's; a session
-- without one (started through the API) gets one made from the random end
-- of the case's id, stable across reads.
INSERT INTO escalations_new
    (id, session_id, tier, queue, status, claimed_by, record, created_at, updated_at, reference)
SELECT e.id, e.session_id, e.tier, e.queue, e.status, e.claimed_by, e.record, e.created_at,
       e.updated_at,
       COALESCE(NULLIF(trim(s.reference), ''),
                upper(substr(e.id, length(e.id) - 7, 4)) || '-' || upper(substr(e.id, length(e.id) - 3, 4)))
FROM escalations e LEFT JOIN sessions s ON s.id = e.session_id
ORDER BY e.rowid;

UPDATE escalations_new SET reference_norm = upper(replace(replace(reference, '-', ''), ' ', ''));

DROP TABLE escalations;
ALTER TABLE escalations_new RENAME TO escalations;

CREATE INDEX escalations_queue ON escalations (status, tier, queue, created_at);
CREATE INDEX escalations_created ON escalations (created_at, id);
CREATE INDEX escalations_session ON escalations (session_id);
CREATE INDEX escalations_reference ON escalations (reference_norm);
CREATE INDEX escalations_due_next ON escalations (due_next, created_at, id);
CREATE INDEX escalations_due_response ON escalations (due_response) WHERE due_response IS NOT NULL;
CREATE INDEX escalations_due_resolution ON escalations (due_resolution) WHERE due_resolution IS NOT NULL;

-- Who took a trail entry back and when: `{"by", "at"}`, or NULL.
ALTER TABLE trail_entries ADD COLUMN retraction TEXT;

-- More capabilities for one session, beside its own token: the links a
-- mail or `/status` hands the customer (`/s/{id}?t=TOKEN`), by their
-- SHA-256 like every token.
CREATE TABLE session_links (
    token_hash  TEXT    PRIMARY KEY NOT NULL,
    session_id  TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX session_links_session ON session_links (session_id);
