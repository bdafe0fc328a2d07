//! Where each case stands in each connected ticketing system (contract
//! section 12), the same SQL on both backends: the link rows the connectors
//! keep, the poller's lease over them, and the case's `external` list.

use super::codec::{self, DbTime, db, decode, encode, small_int};
use super::shared::Statements;
use super::{Result, TicketLink};
use crate::case::{Case, External};
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};
use time::OffsetDateTime;

const LINK_COLUMNS: &str =
    "escalation_id, connector, external_id, url, creator, pushed, seen, open";

type LinkRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    i64,
    i64,
);

fn link_from_row(r: LinkRow) -> Result<TicketLink> {
    let (escalation, connector, external_id, url, creator, pushed, seen, open) = r;
    Ok(TicketLink {
        pushed: small_int("pushed of a ticket link", pushed)?,
        escalation,
        connector,
        external_id,
        url,
        creator,
        seen,
        open: open != 0,
    })
}

/// How many times the case document is read again when it changed between
/// the read and the write of its `external` list.
const LINK_RETRIES: usize = 8;

impl<DB> Statements<'_, DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> LinkRow: FromRow<'r, DB::Row>,
    for<'r> (Option<String>,): FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
{
    pub(super) async fn ticket_link(
        &self,
        escalation: &str,
        connector: &str,
    ) -> Result<Option<TicketLink>> {
        let sql = format!(
            "SELECT {LINK_COLUMNS} FROM ticket_links WHERE escalation_id = $1 AND connector = $2"
        );
        sqlx::query_as::<DB, LinkRow>(&sql)
            .bind(escalation)
            .bind(connector)
            .fetch_optional(self.0)
            .await
            .map_err(db)?
            .map(link_from_row)
            .transpose()
    }

    /// Writes the link's state; the poller's lease is left as it is.
    pub(super) async fn save_ticket_link<T>(
        &self,
        l: &TicketLink,
        now: OffsetDateTime,
    ) -> Result<()>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
    {
        sqlx::query::<DB>(
            "INSERT INTO ticket_links \
                 (escalation_id, connector, external_id, url, creator, pushed, seen, open, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (escalation_id, connector) DO UPDATE SET \
                 external_id = excluded.external_id, url = excluded.url, \
                 creator = excluded.creator, pushed = excluded.pushed, seen = excluded.seen, \
                 open = excluded.open, updated_at = excluded.updated_at",
        )
        .bind(l.escalation.as_str())
        .bind(l.connector.as_str())
        .bind(l.external_id.as_deref())
        .bind(l.url.as_deref())
        .bind(l.creator.as_deref())
        .bind(i64::from(l.pushed))
        .bind(l.seen)
        .bind(i64::from(l.open))
        .bind(T::to_db(now))
        .execute(self.0)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// The open, linked tickets of `connector` whose next read is due,
    /// leased to `owner` until `until` (which is also when they are due
    /// again). The due condition is repeated outside the sub-select: on
    /// PostgreSQL a row another instance leased meanwhile is read again
    /// before it is updated, and then no longer matches.
    pub(super) async fn lease_ticket_links<T>(
        &self,
        connector: &str,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<TicketLink>>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
    {
        let sql = format!(
            "UPDATE ticket_links SET poll_owner = $1, poll_until = $2 \
             WHERE connector = $3 AND (poll_until IS NULL OR poll_until <= $4) \
               AND (escalation_id, connector) IN (\
                 SELECT escalation_id, connector FROM ticket_links \
                 WHERE connector = $3 AND open = 1 AND external_id IS NOT NULL \
                   AND (poll_until IS NULL OR poll_until <= $4) \
                 ORDER BY poll_until LIMIT $5) \
             RETURNING {LINK_COLUMNS}"
        );
        let rows = sqlx::query_as::<DB, LinkRow>(&sql)
            .bind(owner)
            .bind(T::to_db(until))
            .bind(connector)
            .bind(T::to_db(now))
            .bind(codec::clamp_limit(limit))
            .fetch_all(self.0)
            .await
            .map_err(db)?;
        rows.into_iter().map(link_from_row).collect()
    }

    /// Puts `ext` in the case's `external` list (replacing the entry of the
    /// same system). Written only if the document is still the one read, so
    /// a change to the case made meanwhile is never overwritten: it is read
    /// again instead.
    pub(super) async fn link_external(&self, escalation: &str, ext: &External) -> Result<()> {
        for _ in 0..LINK_RETRIES {
            let Some((Some(doc),)) = sqlx::query_as::<DB, (Option<String>,)>(
                "SELECT case_doc FROM escalations WHERE id = $1",
            )
            .bind(escalation)
            .fetch_optional(self.0)
            .await
            .map_err(db)?
            else {
                return Ok(());
            };
            let mut case: Case = decode(&format!("case of escalation {escalation}"), &doc)?;
            if case.external.contains(ext) {
                return Ok(());
            }
            case.external.retain(|x| x.system != ext.system);
            case.external.push(ext.clone());
            let next = encode("case", &case)?;
            let done = sqlx::query_as::<DB, (String,)>(
                "UPDATE escalations SET case_doc = $1 WHERE id = $2 AND case_doc = $3 RETURNING id",
            )
            .bind(next.as_str())
            .bind(escalation)
            .bind(doc.as_str())
            .fetch_optional(self.0)
            .await
            .map_err(db)?;
            if done.is_some() {
                return Ok(());
            }
        }
        Err(super::StoreError::database(format!(
            "escalation {escalation} kept changing while its ticket link was written"
        )))
    }
}
