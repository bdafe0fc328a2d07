//! Export, import and migrate: the shared SQL of `store::transfer`.
//!
//! Reads run in a read transaction on a reader (in WAL mode, a snapshot
//! the server's writes go on beside); loads in one `BEGIN IMMEDIATE`
//! transaction on the writer, so an import is whole or not at all.

use super::SqliteStore;
use crate::store::Result;
use crate::store::codec::db;
use crate::store::transfer::{self, Dialect, Load, Sink, Transfer};
use crate::transfer::{Kind, Range, Row};
use async_trait::async_trait;
use sqlx::{Sqlite, Transaction};

const DIALECT: Dialect = Dialect {
    arrival: "rowid",
    collate: "",
};

#[async_trait]
impl Transfer for SqliteStore {
    async fn read_rows(
        &self,
        kinds: &[&'static Kind],
        range: &Range,
        sink: &mut dyn Sink,
    ) -> Result<()> {
        let mut tx = self.reader.begin().await.map_err(db)?;
        transfer::read_rows::<Sqlite, i64>(&mut tx, &DIALECT, kinds, range, sink).await?;
        tx.rollback().await.map_err(db)
    }

    async fn load(&self) -> Result<Box<dyn Load>> {
        Ok(Box::new(Loader(self.begin_write().await?)))
    }
}

struct Loader(Transaction<'static, Sqlite>);

#[async_trait]
impl Load for Loader {
    async fn insert(&mut self, kind: &'static Kind, rows: &[Row]) -> Result<u64> {
        let done = transfer::insert_rows::<Sqlite, i64>(&mut self.0, kind, rows).await?;
        Ok(done.map_or(0, |d| d.rows_affected()))
    }

    async fn any(&mut self, kind: &'static Kind) -> Result<bool> {
        transfer::any::<Sqlite>(&mut self.0, kind).await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.0.commit().await.map_err(db)
    }
}
