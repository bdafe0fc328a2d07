-- Outcomes and analytics (contract section 11).
--
-- A session's outcome is how it first ended: `resolved` or `escalated` (set
-- by the step that ended it) or `abandoned` (set by the idle sweep when it
-- stayed active past the idle limit); NULL while it is active. `ended_at`
-- is when (an abandoned session: its last move). A session that moves again
-- after it was counted keeps its first outcome.
--
-- The figures are not computed from the trails at read time (1,000,000
-- sessions of 7 steps are 7,000,000 entries): an ended session is folded
-- once into the daily rollups below by the rollup job (`rolled` = 1), off
-- the answer path. Rollups are keyed by the UTC day the session started
-- (and `day` = '' for the rows that count every day: a report without
-- dates reads only those, through the primary key's first column), its
-- script, version and channel; times are whole seconds to two significant
-- digits, kept as histograms (value → count), so medians and p90 are exact
-- up to that rounding (see `stats::fold::two_digits`).

ALTER TABLE sessions ADD COLUMN version TEXT;
ALTER TABLE sessions ADD COLUMN channel TEXT;
ALTER TABLE sessions ADD COLUMN outcome TEXT CHECK (outcome IN ('resolved', 'escalated', 'abandoned'));
ALTER TABLE sessions ADD COLUMN ended_at INTEGER;
ALTER TABLE sessions ADD COLUMN rolled INTEGER NOT NULL DEFAULT 0;

UPDATE sessions SET
    version  = json_extract(state, '$.pins[0].version'),
    channel  = json_extract(state, '$.channel'),
    outcome  = CASE WHEN status <> 'active' THEN status END,
    ended_at = CASE WHEN status <> 'active' THEN updated_at END;

-- The idle sweep's candidates: sessions still without an outcome, oldest
-- first. `created_at` never changes, so a step does not touch this index.
CREATE INDEX sessions_open ON sessions (created_at) WHERE outcome IS NULL;
-- The rollup job's work: ended sessions not folded in yet.
CREATE INDEX sessions_unrolled ON sessions (ended_at) WHERE outcome IS NOT NULL AND rolled = 0;
-- Feedback and cases are counted by their session's script and start.
CREATE INDEX sessions_started ON sessions (script, created_at);

-- Sessions by outcome and time to outcome (seconds from start to end).
CREATE TABLE stats_outcomes (
    script    TEXT    NOT NULL,
    version   TEXT    NOT NULL,
    channel   TEXT    NOT NULL,
    day       TEXT    NOT NULL,   -- YYYY-MM-DD (UTC) the session started
    outcome   TEXT    NOT NULL,
    seconds   INTEGER NOT NULL,
    sessions  INTEGER NOT NULL,
    PRIMARY KEY (day, script, version, channel, outcome, seconds)
) WITHOUT ROWID;

-- Per node: entries (retracted ones included), and the sessions that ended
-- escalated or abandoned while at it.
CREATE TABLE stats_nodes (
    script     TEXT    NOT NULL,
    version    TEXT    NOT NULL,
    channel    TEXT    NOT NULL,
    day        TEXT    NOT NULL,
    node       TEXT    NOT NULL,
    entered    INTEGER NOT NULL,
    abandoned  INTEGER NOT NULL,
    escalated  INTEGER NOT NULL,
    PRIMARY KEY (day, script, version, channel, node)
) WITHOUT ROWID;

-- Per node and answer id: how often it was given.
CREATE TABLE stats_answers (
    script   TEXT    NOT NULL,
    version  TEXT    NOT NULL,
    channel  TEXT    NOT NULL,
    day      TEXT    NOT NULL,
    node     TEXT    NOT NULL,
    answer   TEXT    NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (day, script, version, channel, node, answer)
) WITHOUT ROWID;

-- Per node: dwell times (seconds from arriving at the node to answering it).
CREATE TABLE stats_dwell (
    script   TEXT    NOT NULL,
    version  TEXT    NOT NULL,
    channel  TEXT    NOT NULL,
    day      TEXT    NOT NULL,
    node     TEXT    NOT NULL,
    seconds  INTEGER NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (day, script, version, channel, node, seconds)
) WITHOUT ROWID;

-- A case's times as columns (copies of its document), for the case figures
-- without reading 100,000 documents.
ALTER TABLE escalations ADD COLUMN first_response_at INTEGER;
ALTER TABLE escalations ADD COLUMN resolved_at INTEGER;
ALTER TABLE escalations ADD COLUMN reopened INTEGER NOT NULL DEFAULT 0;
ALTER TABLE escalations ADD COLUMN breached_response INTEGER NOT NULL DEFAULT 0;
ALTER TABLE escalations ADD COLUMN breached_resolution INTEGER NOT NULL DEFAULT 0;

UPDATE escalations SET
    first_response_at   = CAST(ROUND((julianday(json_extract(case_doc, '$.first_response_at')) - 2440587.5) * 86400000) AS INTEGER),
    resolved_at         = CASE WHEN status = 'resolved'
                          THEN CAST(ROUND((julianday(json_extract(case_doc, '$.resolved_at')) - 2440587.5) * 86400000) AS INTEGER) END,
    reopened            = EXISTS (SELECT 1 FROM json_each(case_doc, '$.events') WHERE json_extract(value, '$.type') = 'reopened'),
    breached_response   = EXISTS (SELECT 1 FROM json_each(case_doc, '$.breached') WHERE value = 'response'),
    breached_resolution = EXISTS (SELECT 1 FROM json_each(case_doc, '$.breached') WHERE value = 'resolution')
WHERE case_doc IS NOT NULL;

-- The session's script, version, channel and start, copied to its cases
-- and ratings when they are written: the figures count 100,000 cases
-- without joining them to 1,000,000 sessions (a join the planner answers
-- by reading every session).
ALTER TABLE escalations ADD COLUMN script TEXT;
ALTER TABLE escalations ADD COLUMN version TEXT;
ALTER TABLE escalations ADD COLUMN channel TEXT;
ALTER TABLE escalations ADD COLUMN started_at INTEGER;
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
ALTER TABLE feedback ADD COLUMN started_at INTEGER;
UPDATE feedback SET
    script     = (SELECT s.script FROM sessions s WHERE s.id = feedback.session_id),
    version    = (SELECT s.version FROM sessions s WHERE s.id = feedback.session_id),
    channel    = (SELECT s.channel FROM sessions s WHERE s.id = feedback.session_id),
    started_at = (SELECT s.created_at FROM sessions s WHERE s.id = feedback.session_id);

-- The queue's default order (overdue and earliest first, cases without a
-- due time last) as an index: its first page is read in order, not sorted
-- from every open case (100,000 cases: 97 ms on PostgreSQL; 1 ms so).
CREATE INDEX escalations_due_order ON escalations ((due_next IS NULL), due_next, created_at, id);
