-- Ticketing connectors (contract section 12): where each case stands in each
-- connected system. One row per case and connector: the ticket's id once it
-- exists (found or made), how many of the case's events went over
-- (`pushed`), the last transaction of the ticket read back (`seen`), and
-- the poller's lease, which doubles as its schedule (`poll_until`: the next
-- read is due then; several instances never read one ticket at once).

CREATE TABLE ticket_links (
    escalation_id text        NOT NULL REFERENCES escalations (id) ON DELETE CASCADE,
    connector     text        NOT NULL,
    external_id   text,
    url           text,
    creator       text,
    pushed        bigint      NOT NULL DEFAULT 0,
    seen          bigint      NOT NULL DEFAULT 0,
    open          bigint      NOT NULL DEFAULT 1,
    poll_owner    text,
    poll_until    timestamptz,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (escalation_id, connector)
);

-- The poller reads only the tickets of cases still open.
CREATE INDEX ticket_links_due ON ticket_links (connector, poll_until)
    WHERE open = 1 AND external_id IS NOT NULL;
