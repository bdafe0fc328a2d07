-- Outcomes and analytics (contract section 11). See the SQLite migration of
-- the same number for what each column and table is for; the shapes match.

ALTER TABLE sessions
    ADD COLUMN version   text,
    ADD COLUMN channel   text,
    ADD COLUMN outcome   text CHECK (outcome IN ('resolved', 'escalated', 'abandoned')),
    ADD COLUMN ended_at  timestamptz,
    ADD COLUMN rolled    smallint NOT NULL DEFAULT 0;

UPDATE sessions SET
    version  = (state::jsonb) -> 'pins' -> 0 ->> 'version',
    channel  = (state::jsonb) ->> 'channel',
    outcome  = CASE WHEN status <> 'active' THEN status END,
    ended_at = CASE WHEN status <> 'active' THEN updated_at END;

CREATE INDEX sessions_open ON sessions (created_at) WHERE outcome IS NULL;
CREATE INDEX sessions_unrolled ON sessions (ended_at) WHERE outcome IS NOT NULL AND rolled = 0;
CREATE INDEX sessions_started ON sessions (script, created_at);

CREATE TABLE stats_outcomes (
    script    text   NOT NULL,
    version   text   NOT NULL,
    channel   text   NOT NULL,
    day       text   NOT NULL,
    outcome   text   NOT NULL,
    seconds   bigint NOT NULL,
    sessions  bigint NOT NULL,
    PRIMARY KEY (day, script, version, channel, outcome, seconds)
);

CREATE TABLE stats_nodes (
    script     text   NOT NULL,
    version    text   NOT NULL,
    channel    text   NOT NULL,
    day        text   NOT NULL,
    node       text   NOT NULL,
    entered    bigint NOT NULL,
    abandoned  bigint NOT NULL,
    escalated  bigint NOT NULL,
    PRIMARY KEY (day, script, version, channel, node)
);

CREATE TABLE stats_answers (
    script   text   NOT NULL,
    version  text   NOT NULL,
    channel  text   NOT NULL,
    day      text   NOT NULL,
    node     text   NOT NULL,
    answer   text   NOT NULL,
    n        bigint NOT NULL,
    PRIMARY KEY (day, script, version, channel, node, answer)
);

CREATE TABLE stats_dwell (
    script   text   NOT NULL,
    version  text   NOT NULL,
    channel  text   NOT NULL,
    day      text   NOT NULL,
    node     text   NOT NULL,
    seconds  bigint NOT NULL,
    n        bigint NOT NULL,
    PRIMARY KEY (day, script, version, channel, node, seconds)
);

ALTER TABLE escalations
    ADD COLUMN first_response_at    timestamptz,
    ADD COLUMN resolved_at          timestamptz,
    ADD COLUMN reopened             smallint NOT NULL DEFAULT 0,
    ADD COLUMN breached_response    smallint NOT NULL DEFAULT 0,
    ADD COLUMN breached_resolution  smallint NOT NULL DEFAULT 0;

UPDATE escalations SET
    first_response_at   = (case_doc::jsonb ->> 'first_response_at')::timestamptz,
    resolved_at         = CASE WHEN status = 'resolved' THEN (case_doc::jsonb ->> 'resolved_at')::timestamptz END,
    reopened            = CASE WHEN (case_doc::jsonb -> 'events') @> '[{"type": "reopened"}]' THEN 1 ELSE 0 END,
    breached_response   = CASE WHEN (case_doc::jsonb -> 'breached') ? 'response' THEN 1 ELSE 0 END,
    breached_resolution = CASE WHEN (case_doc::jsonb -> 'breached') ? 'resolution' THEN 1 ELSE 0 END
WHERE case_doc IS NOT NULL;

-- The session's script, version, channel and start, copied to its cases
-- and ratings when they are written: the figures count 100,000 cases
-- without joining them to 1,000,000 sessions (a join the planner answers
-- by reading every session).
ALTER TABLE escalations ADD COLUMN script TEXT;
ALTER TABLE escalations ADD COLUMN version TEXT;
ALTER TABLE escalations ADD COLUMN channel TEXT;
ALTER TABLE escalations ADD COLUMN started_at timestamptz;
UPDATE escalations SET
    script     = (SELECT s.script FROM sessions s WHERE s.id = escalations.session_id),
    version    = (SELECT s.version FROM sessions s WHERE s.id = escalations.session_id),
    channel    = (SELECT s.channel FROM sessions s WHERE s.id = escalations.session_id),
    started_at = (SELECT s.created_at FROM sessions s WHERE s.id = escalations.session_id);
-- Covering: the case figures read this index, not the cases' documents.
CREATE INDEX escalations_started ON escalations (script, started_at, version, channel, status,
    reopened, breached_response, breached_resolution, created_at, first_response_at, resolved_at);

ALTER TABLE feedback ADD COLUMN script TEXT;
ALTER TABLE feedback ADD COLUMN version TEXT;
ALTER TABLE feedback ADD COLUMN channel TEXT;
ALTER TABLE feedback ADD COLUMN started_at timestamptz;
UPDATE feedback SET
    script     = (SELECT s.script FROM sessions s WHERE s.id = feedback.session_id),
    version    = (SELECT s.version FROM sessions s WHERE s.id = feedback.session_id),
    channel    = (SELECT s.channel FROM sessions s WHERE s.id = feedback.session_id),
    started_at = (SELECT s.created_at FROM sessions s WHERE s.id = feedback.session_id);

-- The queue's default order (overdue and earliest first, cases without a
-- due time last) as an index: its first page is read in order, not sorted
-- from every open case (100,000 cases: 97 ms on PostgreSQL; 1 ms so).
CREATE INDEX escalations_due_order ON escalations ((due_next IS NULL), due_next, created_at, id);
