//! The ticketing connectors' links: the shared SQL of `store::links`.

use super::PgStore;
use crate::case::External;
use crate::store::shared::Statements;
use crate::store::{Result, TicketLink, Tickets};
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
impl Tickets for PgStore {
    async fn ticket_link(&self, escalation: &str, connector: &str) -> Result<Option<TicketLink>> {
        Statements(&self.pool)
            .ticket_link(escalation, connector)
            .await
    }

    async fn save_ticket_link(&self, link: &TicketLink, now: OffsetDateTime) -> Result<()> {
        Statements(&self.pool)
            .save_ticket_link::<OffsetDateTime>(link, now)
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
        Statements(&self.pool)
            .lease_ticket_links::<OffsetDateTime>(connector, owner, now, until, limit)
            .await
    }

    async fn link_external(&self, escalation: &str, ext: &External) -> Result<()> {
        Statements(&self.pool).link_external(escalation, ext).await
    }
}
