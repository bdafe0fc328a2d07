//! Export, import and migrate: the shared SQL of `store::transfer`.
//!
//! Reads run in one REPEATABLE READ, READ ONLY transaction (one snapshot
//! while the servers write); loads in one transaction, so an import is
//! whole or not at all. Text keys are ordered byte by byte (`COLLATE "C"`),
//! as SQLite orders them, whatever the database's collation.

use super::PgStore;
use crate::store::Result;
use crate::store::codec::db;
use crate::store::transfer::{self, Dialect, Load, Sink, Transfer};
use crate::transfer::{Kind, Range, Row};
use async_trait::async_trait;
use sqlx::{Postgres, Transaction};
use time::OffsetDateTime;

const DIALECT: Dialect = Dialect {
    arrival: "arrival",
    collate: " COLLATE \"C\"",
};

#[async_trait]
impl Transfer for PgStore {
    async fn read_rows(
        &self,
        kinds: &[&'static Kind],
        range: &Range,
        sink: &mut dyn Sink,
    ) -> Result<()> {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(db)?;
        transfer::read_rows::<Postgres, OffsetDateTime>(&mut tx, &DIALECT, kinds, range, sink)
            .await?;
        tx.rollback().await.map_err(db)
    }

    async fn load(&self) -> Result<Box<dyn Load>> {
        Ok(Box::new(Loader(self.pool.begin().await.map_err(db)?)))
    }
}

struct Loader(Transaction<'static, Postgres>);

#[async_trait]
impl Load for Loader {
    async fn insert(&mut self, kind: &'static Kind, rows: &[Row]) -> Result<u64> {
        let done =
            transfer::insert_rows::<Postgres, OffsetDateTime>(&mut self.0, kind, rows).await?;
        Ok(done.map_or(0, |d| d.rows_affected()))
    }

    async fn any(&mut self, kind: &'static Kind) -> Result<bool> {
        transfer::any::<Postgres>(&mut self.0, kind).await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.0.commit().await.map_err(db)
    }
}
