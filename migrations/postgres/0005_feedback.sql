-- Satisfaction (contract section 11): one rating per session and kind
-- (`self_service` when the script resolved it, `case` once its case was
-- resolved). The primary key is what makes "once" hold across instances:
-- a second rating of the same kind finds the row and is refused.

CREATE TABLE feedback (
    session_id  text        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    kind        text        NOT NULL CHECK (kind IN ('self_service', 'case')),
    score       integer     NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment     text,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (session_id, kind)
);

CREATE INDEX feedback_created ON feedback (created_at);
