-- fixpath on PostgreSQL: the first schema, the same tables as SQLite's.
--
-- Times are timestamptz, written at whole milliseconds (the store truncates
-- them), so a time reads back exactly as SQLite's INTEGER milliseconds do.
-- The JSON documents (session state, trail entries, records, webhook bodies)
-- are TEXT, not jsonb: a webhook body must stay byte for byte what was
-- signed, and the store never queries inside them.
--
-- `arrival` columns break ties between equal times in arrival order (SQLite
-- uses its rowid for that).

CREATE TABLE script_versions (
    id          text        NOT NULL,
    version     text        NOT NULL,
    path        text        NOT NULL,
    source      text        NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (id, version)
);

-- One row per session, kept small: `state` is the engine's Session as JSON
-- without its trail (the trail grows one row per entry in trail_entries).
CREATE TABLE sessions (
    id          text        PRIMARY KEY,
    arrival     bigint      GENERATED ALWAYS AS IDENTITY,
    token_hash  text        NOT NULL,
    owner       text,
    reference   text,
    script      text        NOT NULL,
    status      text        NOT NULL CHECK (status IN ('active', 'resolved', 'escalated')),
    seq         bigint      NOT NULL,
    state       text        NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE INDEX sessions_by_reference ON sessions (reference, created_at)
    WHERE reference IS NOT NULL;

-- The answer trail; an entry is written once, only `retracted` changes later
-- (the column is authoritative, the flag inside `entry` is as first written).
CREATE TABLE trail_entries (
    session_id  text    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq         bigint  NOT NULL,
    entry       text    NOT NULL,
    retracted   boolean NOT NULL DEFAULT false,
    PRIMARY KEY (session_id, seq)
);

-- The tier-2 queue. `record` is the section-8 document (notes included); tier
-- and queue are copies of the record's, for the queue listing.
CREATE TABLE escalations (
    id          text        PRIMARY KEY,
    arrival     bigint      GENERATED ALWAYS AS IDENTITY,
    session_id  text        NOT NULL REFERENCES sessions (id),
    tier        smallint    NOT NULL CHECK (tier BETWEEN 1 AND 4),
    queue       text,
    status      text        NOT NULL CHECK (status IN ('open', 'claimed', 'resolved')),
    claimed_by  text,
    record      text        NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

CREATE INDEX escalations_queue ON escalations (status, tier, queue, created_at);
CREATE INDEX escalations_created ON escalations (created_at, arrival);
CREATE INDEX escalations_session ON escalations (session_id);

CREATE TABLE users (
    name           text     PRIMARY KEY,
    role           text     NOT NULL CHECK (role IN ('agent', 'specialist', 'author', 'admin')),
    tier           smallint NOT NULL CHECK (tier BETWEEN 1 AND 4),
    password_hash  text
);

-- API tokens, by their SHA-256; the tokens themselves are never stored.
CREATE TABLE tokens (
    token_hash  text PRIMARY KEY,
    user_name   text NOT NULL REFERENCES users (name) ON DELETE CASCADE
);

CREATE INDEX tokens_by_user ON tokens (user_name);

-- Webhook events, written in the same transaction as the change they report
-- and delivered by the relays of every instance, each message leased to one
-- of them at a time.
CREATE TABLE outbox (
    id               text        PRIMARY KEY,
    arrival          bigint      GENERATED ALWAYS AS IDENTITY,
    event_type       text        NOT NULL,
    payload          text        NOT NULL,
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    delivered_to     text        NOT NULL DEFAULT '[]',
    lease_owner      text,
    lease_until      timestamptz,
    delivered_at     timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL
);

-- Only undelivered messages are ever looked for; delivered ones stay out of
-- the index however many pile up.
CREATE INDEX outbox_due ON outbox (next_attempt_at, arrival) WHERE delivered_at IS NULL;
