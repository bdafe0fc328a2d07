//! The ticketing connectors' links: the shared SQL of `store::links`.

use super::SqliteStore;
use crate::case::External;
use crate::store::shared::Statements;
use crate::store::{Result, TicketLink, Tickets};
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
impl Tickets for SqliteStore {
    async fn ticket_link(&self, escalation: &str, connector: &str) -> Result<Option<TicketLink>> {
        Statements(&self.writer)
            .ticket_link(escalation, connector)
            .await
    }

    async fn save_ticket_link(&self, link: &TicketLink, now: OffsetDateTime) -> Result<()> {
        Statements(&self.writer)
            .save_ticket_link::<i64>(link, now)
            .await
    }

    async fn lease_ticket_links(
        &self,
        connector: &str,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<TicketLink>> {
        Statements(&self.writer)
            .lease_ticket_links::<i64>(connector, owner, now, until, limit)
            .await
    }

    async fn link_external(&self, escalation: &str, ext: &External) -> Result<()> {
        Statements(&self.writer)
            .link_external(escalation, ext)
            .await
    }
}
