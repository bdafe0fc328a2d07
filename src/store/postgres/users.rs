//! Users, their tokens, and the count of wrong passwords.

use super::PgStore;
use crate::store::Users;
use crate::store::codec::{self, DbTime, db, duplicate_or_db};
use crate::store::shared::Statements;
use crate::store::{NewUser, Result, User};
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
impl Users for PgStore {
    async fn create_user(&self, u: &NewUser) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("INSERT INTO users (name, role, tier, password_hash) VALUES ($1, $2, $3, $4)")
            .bind(&u.user.name)
            .bind(u.user.role.as_str())
            .bind(i16::from(u.user.tier))
            .bind(&u.password_hash)
            .execute(&mut *tx)
            .await
            .map_err(|e| duplicate_or_db(e, || format!("user `{}`", u.user.name)))?;
        sqlx::query("INSERT INTO tokens (token_hash, user_name) VALUES ($1, $2)")
            .bind(&u.token_hash)
            .bind(&u.user.name)
            .execute(&mut *tx)
            .await
            .map_err(|e| duplicate_or_db(e, || "token".into()))?;
        tx.commit().await.map_err(db)
    }

    async fn user_by_token(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<User>> {
        Statements(&self.pool)
            .user_by_token::<OffsetDateTime, i16>(token_hash, now)
            .await
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<(User, Option<String>)>> {
        Statements(&self.pool).user_by_name::<i16>(name).await
    }

    async fn list_users(&self, now: OffsetDateTime) -> Result<Vec<crate::store::UserSummary>> {
        Statements(&self.pool)
            .list_users::<OffsetDateTime>(now)
            .await
    }

    async fn add_token(&self, name: &str, token_hash: &str) -> Result<()> {
        Statements(&self.pool)
            .add_token::<OffsetDateTime>(name, token_hash, None)
            .await
    }

    async fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool> {
        Statements(&self.pool).set_disabled(name, disabled).await
    }

    async fn set_password(&self, name: &str, password_hash: &str) -> Result<bool> {
        Statements(&self.pool)
            .set_password(name, password_hash)
            .await
    }

    async fn revoke_tokens(&self, name: &str) -> Result<u64> {
        Statements(&self.pool).revoke_tokens(name).await
    }

    async fn add_expiring_token(
        &self,
        name: &str,
        token_hash: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        let write = Statements(&self.pool);
        write.sweep_tokens::<OffsetDateTime>(now).await?;
        write
            .add_token::<OffsetDateTime>(name, token_hash, Some(expires_at))
            .await
    }

    async fn revoke_token(&self, token_hash: &str) -> Result<()> {
        Statements(&self.pool)
            .run("DELETE FROM tokens WHERE token_hash = $1", token_hash)
            .await
    }

    async fn count_signin_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> Result<(u32, OffsetDateTime)> {
        let stale = OffsetDateTime::to_db(now - window);
        // One statement: the upsert is atomic, so two instances counting
        // the same name at once both count. Counts that ran out go too.
        let (failures, since): (i32, OffsetDateTime) = sqlx::query_as(
            "WITH gone AS (DELETE FROM signin_failures WHERE since <= $3 AND name <> $1) \
             INSERT INTO signin_failures AS f (name, failures, since) VALUES ($1, 1, $2) \
             ON CONFLICT (name) DO UPDATE SET \
               failures = CASE WHEN f.since <= $3 THEN 1 ELSE f.failures + 1 END, \
               since = CASE WHEN f.since <= $3 THEN $2 ELSE f.since END \
             RETURNING failures, since",
        )
        .bind(key)
        .bind(OffsetDateTime::to_db(now))
        .bind(stale)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok((codec::count(failures), since))
    }

    async fn signin_failures(&self, key: &str) -> Result<Option<(u32, OffsetDateTime)>> {
        Statements(&self.pool)
            .signin_failures::<OffsetDateTime, i32>(key)
            .await
    }

    async fn clear_signin_failures(&self, key: &str) -> Result<()> {
        Statements(&self.pool)
            .run("DELETE FROM signin_failures WHERE name = $1", key)
            .await
    }
}
