-- Retention and erasure (contract section 13). A session's or case's
-- personal data is removed once (`erased_at`, also kept in the session's
-- state and as the case's `erased` event); the columns the figures read
-- stay as they are.
ALTER TABLE sessions ADD COLUMN erased_at INTEGER;
ALTER TABLE escalations ADD COLUMN erased_at INTEGER;

-- The sweep's walk: only sessions not erased yet, oldest first. On
-- `created_at`, which never changes, and conditioned on `erased_at`, which
-- only erasure assigns: a step does not touch this index.
CREATE INDEX sessions_unerased ON sessions (created_at) WHERE erased_at IS NULL;
-- Outbox messages past the retention time are deleted oldest first.
CREATE INDEX outbox_created ON outbox (created_at);
