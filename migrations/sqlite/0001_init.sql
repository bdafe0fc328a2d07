-- fixpath on SQLite: the first schema.
--
-- Times are INTEGER milliseconds since the Unix epoch (UTC) in every column;
-- the JSON documents (session state, trail entries, records) keep their own
-- RFC 3339 times exactly as the engine wrote them.

-- Every script version a session may have pinned, kept so an old trail always
-- reads against the text it was asked with.
CREATE TABLE script_versions (
    id          TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    path        TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (id, version)
) WITHOUT ROWID;

-- One row per session, kept small: `state` is the engine's Session as JSON
-- without its trail (the trail grows one row per entry in trail_entries).
CREATE TABLE sessions (
    id          TEXT    PRIMARY KEY NOT NULL,
    token_hash  TEXT    NOT NULL,
    owner       TEXT,
    reference   TEXT,
    script      TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('active', 'resolved', 'escalated')),
    seq         INTEGER NOT NULL,
    state       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE INDEX sessions_by_reference ON sessions (reference, created_at)
    WHERE reference IS NOT NULL;

-- The answer trail; an entry is written once, only `retracted` changes later
-- (the column is authoritative, the flag inside `entry` is as first written).
CREATE TABLE trail_entries (
    session_id  TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    entry       TEXT    NOT NULL,
    retracted   INTEGER NOT NULL DEFAULT 0 CHECK (retracted IN (0, 1)),
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

-- The tier-2 queue. `record` is the section-8 document (notes included); tier
-- and queue are copies of the record's, for the queue listing.
CREATE TABLE escalations (
    id          TEXT    PRIMARY KEY NOT NULL,
    session_id  TEXT    NOT NULL REFERENCES sessions (id),
    tier        INTEGER NOT NULL CHECK (tier BETWEEN 1 AND 4),
    queue       TEXT,
    status      TEXT    NOT NULL CHECK (status IN ('open', 'claimed', 'resolved')),
    claimed_by  TEXT,
    record      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE INDEX escalations_queue ON escalations (status, tier, queue, created_at);
CREATE INDEX escalations_created ON escalations (created_at);
CREATE INDEX escalations_session ON escalations (session_id);

CREATE TABLE users (
    name           TEXT    PRIMARY KEY NOT NULL,
    role           TEXT    NOT NULL CHECK (role IN ('agent', 'specialist', 'author', 'admin')),
    tier           INTEGER NOT NULL CHECK (tier BETWEEN 1 AND 4),
    password_hash  TEXT
);

-- API tokens, by their SHA-256; the tokens themselves are never stored.
CREATE TABLE tokens (
    token_hash  TEXT PRIMARY KEY NOT NULL,
    user_name   TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE INDEX tokens_by_user ON tokens (user_name);

-- Webhook events, written in the same transaction as the change they report
-- and delivered by a relay that leases them.
CREATE TABLE outbox (
    id               TEXT    PRIMARY KEY NOT NULL,
    event_type       TEXT    NOT NULL,
    payload          TEXT    NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    delivered_to     TEXT    NOT NULL DEFAULT '[]',
    lease_owner      TEXT,
    lease_until      INTEGER,
    delivered_at     INTEGER,
    last_error       TEXT,
    created_at       INTEGER NOT NULL
);

-- Only undelivered messages are ever looked for; delivered ones stay out of
-- the index however many pile up.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
