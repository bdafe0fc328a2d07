-- What the analytics' indexes cost every write (issue 15: counting must not
-- cost the answer path more than 10 %).
--
-- An index whose key starts with the script takes each new row at the end
-- of that script's run of keys: with a dozen scripts in use, a commit
-- dirties a leaf page per script, and every dirty page goes to the WAL
-- (whole, the first time after a checkpoint). Keyed
-- by time first, new rows land on the last page or two.
--
-- `sessions_started` (script, created_at) is read by nothing any more: the
-- cases and ratings carry their session's script and start, and the active
-- count reads `sessions_open`.
DROP INDEX sessions_started;

-- The case figures' covering index, time first. A report for one script
-- reads the index over its dates and skips the other scripts' entries in
-- it, without a look at the table.
DROP INDEX escalations_started;
CREATE INDEX escalations_started ON escalations (started_at, script, version, channel, status,
    reopened, breached_response, breached_resolution, created_at, first_response_at, resolved_at);

-- `escalations_due_order` ((due_next IS NULL), due_next, created_at, id)
-- answers everything `escalations_due_next` (due_next, created_at, id) did:
-- the overdue count reads its range of cases with a due time.
DROP INDEX escalations_due_next;
