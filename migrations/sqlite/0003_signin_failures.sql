-- Wrong passwords per sign-in name, shared by every instance on the database
-- (the web sign-in's lockout). `since` is when the count began, in
-- milliseconds since the Unix epoch; rows older than the window are deleted
-- as new failures come in.
CREATE TABLE signin_failures (
    name     TEXT    PRIMARY KEY,
    failures INTEGER NOT NULL,
    since    INTEGER NOT NULL
);
CREATE INDEX signin_failures_since ON signin_failures (since);
