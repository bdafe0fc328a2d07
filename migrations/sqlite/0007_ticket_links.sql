-- Ticketing connectors (contract section 12): where each case stands in each
-- connected system. One row per case and connector: the ticket's id once it
-- exists (found or made), how many of the case's events went over
-- (`pushed`), the last transaction of the ticket read back (`seen`), and
-- the poller's lease, which doubles as its schedule (`poll_until`: the next
-- read is due then; several instances never read one ticket at once).

CREATE TABLE ticket_links (
    escalation_id TEXT    NOT NULL REFERENCES escalations (id) ON DELETE CASCADE,
    connector     TEXT    NOT NULL,
    external_id   TEXT,
    url           TEXT,
    creator       TEXT,
    pushed        INTEGER NOT NULL DEFAULT 0,
    seen          INTEGER NOT NULL DEFAULT 0,
    open          INTEGER NOT NULL DEFAULT 1,
    poll_owner    TEXT,
    poll_until    INTEGER,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (escalation_id, connector)
) WITHOUT ROWID;

-- The poller reads only the tickets of cases still open.
CREATE INDEX ticket_links_due ON ticket_links (connector, poll_until)
    WHERE open = 1 AND external_id IS NOT NULL;
