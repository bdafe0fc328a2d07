//! Users, their tokens, and the count of wrong passwords.

use super::{SqliteStore, Tx};
use crate::store::Users;
use crate::store::codec::{self, DbTime, db, duplicate_or_db};
use crate::store::shared::Statements;
use crate::store::{NewUser, Result, User};
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
impl Users for SqliteStore {
    async fn create_user(&self, u: &NewUser) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO users (name, role, tier, password_hash) VALUES (?, ?, ?, ?)")
            .bind(&u.user.name)
            .bind(u.user.role.as_str())
            .bind(i64::from(u.user.tier))
            .bind(&u.password_hash)
            .execute(&mut *tx)
            .await
            .map_err(|e| duplicate_or_db(e, || format!("user `{}`", u.user.name)))?;
        insert_token(&mut tx, &u.user.name, &u.token_hash).await?;
        tx.commit().await.map_err(db)
    }

    async fn user_by_token(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<User>> {
        Statements(&self.reader)
            .user_by_token::<i64, i64>(token_hash, now)
            .await
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<(User, Option<String>)>> {
        Statements(&self.reader).user_by_name::<i64>(name).await
    }

    async fn list_users(&self, now: OffsetDateTime) -> Result<Vec<crate::store::UserSummary>> {
        Statements(&self.reader).list_users::<i64>(now).await
    }

    async fn add_token(&self, name: &str, token_hash: &str) -> Result<()> {
        Statements(&self.writer)
            .add_token::<i64>(name, token_hash, None)
            .await
    }

    async fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool> {
        Statements(&self.writer).set_disabled(name, disabled).await
    }

    async fn set_password(&self, name: &str, password_hash: &str) -> Result<bool> {
        Statements(&self.writer)
            .set_password(name, password_hash)
            .await
    }

    async fn revoke_tokens(&self, name: &str) -> Result<u64> {
        Statements(&self.writer).revoke_tokens(name).await
    }

    async fn add_expiring_token(
        &self,
        name: &str,
        token_hash: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        let write = Statements(&self.writer);
        write.sweep_tokens::<i64>(now).await?;
        write
            .add_token::<i64>(name, token_hash, Some(expires_at))
            .await
    }

    async fn revoke_token(&self, token_hash: &str) -> Result<()> {
        Statements(&self.writer)
            .run("DELETE FROM tokens WHERE token_hash = $1", token_hash)
            .await
    }

    async fn count_signin_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> Result<(u32, OffsetDateTime)> {
        let stale = i64::to_db(now - window);
        let mut tx = self.begin_write().await?;
        // Counts that ran out are forgotten: the table holds at most the
        // names that failed within one window.
        sqlx::query("DELETE FROM signin_failures WHERE since <= ? AND name <> ?")
            .bind(stale)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let (failures, since): (i64, i64) = sqlx::query_as(
            "INSERT INTO signin_failures (name, failures, since) VALUES (?1, 1, ?2) \
             ON CONFLICT (name) DO UPDATE SET \
               failures = CASE WHEN since <= ?3 THEN 1 ELSE failures + 1 END, \
               since = CASE WHEN since <= ?3 THEN ?2 ELSE since END \
             RETURNING failures, since",
        )
        .bind(key)
        .bind(i64::to_db(now))
        .bind(stale)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok((
            codec::count(failures),
            since.to_time(&|| "sign-in failures".into())?,
        ))
    }

    async fn signin_failures(&self, key: &str) -> Result<Option<(u32, OffsetDateTime)>> {
        Statements(&self.reader)
            .signin_failures::<i64, i64>(key)
            .await
    }

    async fn clear_signin_failures(&self, key: &str) -> Result<()> {
        Statements(&self.writer)
            .run("DELETE FROM signin_failures WHERE name = $1", key)
            .await
    }
}

async fn insert_token(tx: &mut Tx, name: &str, token_hash: &str) -> Result<()> {
    sqlx::query("INSERT INTO tokens (token_hash, user_name) VALUES (?, ?)")
        .bind(token_hash)
        .bind(name)
        .execute(&mut **tx)
        .await
        .map_err(|e| duplicate_or_db(e, || "token".into()))?;
    Ok(())
}
