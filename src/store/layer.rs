//! The one [`Store`] implementation: every backend that holds the SQL of
//! these parts is a store. Each part is one file of a backend (`sessions`,
//! `escalations`, `users`, `outbox`, with the schema in its `mod.rs`), and
//! what the parts mean is documented once, on [`Store`].

use super::{
    Changed, Escalation, EscalationChange, EscalationFilter, NewUser, OutboxMessage, Result, Saved,
    ScriptVersion, StepWrite, Store, StoredSession, User,
};
use crate::engine::Pin;
use crate::escalation::Record;
use async_trait::async_trait;
use time::OffsetDateTime;

/// The schema: see [`Store::migrate`].
#[async_trait]
pub trait Schema: Send + Sync + 'static {
    async fn migrate(&self) -> Result<()>;
}

/// Script versions and sessions: see [`Store`].
#[async_trait]
pub trait Sessions: Send + Sync + 'static {
    async fn put_script_version(&self, v: &ScriptVersion) -> Result<()>;
    async fn script_versions(&self, pins: &[Pin]) -> Result<Vec<ScriptVersion>>;
    async fn create_session(&self, s: &StoredSession, escalation: Option<&Record>) -> Result<()>;
    async fn session(&self, id: &str) -> Result<Option<StoredSession>>;
    async fn sessions_by_reference(
        &self,
        reference: &str,
        limit: u32,
    ) -> Result<Vec<StoredSession>>;
    async fn save_step(&self, w: &StepWrite<'_>) -> Result<Saved>;
}

/// The escalation queue: see [`Store`].
#[async_trait]
pub trait Escalations: Send + Sync + 'static {
    async fn escalations(&self, f: &EscalationFilter) -> Result<Vec<Escalation>>;
    async fn escalation(&self, id: &str) -> Result<Option<Escalation>>;
    async fn change_escalation(
        &self,
        id: &str,
        change: &EscalationChange,
        now: OffsetDateTime,
    ) -> Result<Changed>;
}

/// Users, their tokens and sign-in failures: see [`Store`].
#[async_trait]
pub trait Users: Send + Sync + 'static {
    async fn create_user(&self, u: &NewUser) -> Result<()>;
    async fn user_by_token(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<User>>;
    async fn user_by_name(&self, name: &str) -> Result<Option<(User, Option<String>)>>;
    async fn add_token(&self, name: &str, token_hash: &str) -> Result<()>;
    async fn add_expiring_token(
        &self,
        name: &str,
        token_hash: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()>;
    async fn revoke_token(&self, token_hash: &str) -> Result<()>;
    async fn count_signin_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> Result<(u32, OffsetDateTime)>;
    async fn signin_failures(&self, key: &str) -> Result<Option<(u32, OffsetDateTime)>>;
    async fn clear_signin_failures(&self, key: &str) -> Result<()>;
}

/// The webhook outbox: see [`Store`].
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    async fn lease_outbox(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>>;
    async fn outbox_delivered(&self, id: &str, owner: &str, now: OffsetDateTime) -> Result<()>;
    async fn outbox_retry_at(
        &self,
        id: &str,
        owner: &str,
        at: OffsetDateTime,
        delivered_to: &[String],
        error: &str,
    ) -> Result<()>;
    async fn outbox_pending(&self) -> Result<u64>;
}

#[async_trait]
impl<B: Schema + Sessions + Escalations + Users + Outbox> Store for B {
    async fn migrate(&self) -> Result<()> {
        Schema::migrate(self).await
    }

    async fn put_script_version(&self, v: &ScriptVersion) -> Result<()> {
        Sessions::put_script_version(self, v).await
    }

    async fn script_versions(&self, pins: &[Pin]) -> Result<Vec<ScriptVersion>> {
        let found = Sessions::script_versions(self, pins).await?;
        Ok(super::codec::in_pin_order(found, pins))
    }

    async fn create_session(&self, s: &StoredSession, escalation: Option<&Record>) -> Result<()> {
        Sessions::create_session(self, s, escalation).await
    }

    async fn session(&self, id: &str) -> Result<Option<StoredSession>> {
        Sessions::session(self, id).await
    }

    async fn sessions_by_reference(
        &self,
        reference: &str,
        limit: u32,
    ) -> Result<Vec<StoredSession>> {
        Sessions::sessions_by_reference(self, reference, limit).await
    }

    async fn save_step(&self, w: &StepWrite<'_>) -> Result<Saved> {
        Sessions::save_step(self, w).await
    }

    async fn escalations(&self, f: &EscalationFilter) -> Result<Vec<Escalation>> {
        Escalations::escalations(self, f).await
    }

    async fn escalation(&self, id: &str) -> Result<Option<Escalation>> {
        Escalations::escalation(self, id).await
    }

    async fn change_escalation(
        &self,
        id: &str,
        change: &EscalationChange,
        now: OffsetDateTime,
    ) -> Result<Changed> {
        Escalations::change_escalation(self, id, change, now).await
    }

    async fn create_user(&self, u: &NewUser) -> Result<()> {
        Users::create_user(self, u).await
    }

    async fn user_by_token(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<User>> {
        Users::user_by_token(self, token_hash, now).await
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<(User, Option<String>)>> {
        Users::user_by_name(self, name).await
    }

    async fn add_token(&self, name: &str, token_hash: &str) -> Result<()> {
        Users::add_token(self, name, token_hash).await
    }

    async fn add_expiring_token(
        &self,
        name: &str,
        token_hash: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()> {
        Users::add_expiring_token(self, name, token_hash, expires_at, now).await
    }

    async fn revoke_token(&self, token_hash: &str) -> Result<()> {
        Users::revoke_token(self, token_hash).await
    }

    async fn count_signin_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> Result<(u32, OffsetDateTime)> {
        Users::count_signin_failure(self, key, now, window).await
    }

    async fn signin_failures(&self, key: &str) -> Result<Option<(u32, OffsetDateTime)>> {
        Users::signin_failures(self, key).await
    }

    async fn clear_signin_failures(&self, key: &str) -> Result<()> {
        Users::clear_signin_failures(self, key).await
    }

    async fn lease_outbox(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>> {
        Outbox::lease_outbox(self, owner, now, until, limit).await
    }

    async fn outbox_delivered(&self, id: &str, owner: &str, now: OffsetDateTime) -> Result<()> {
        Outbox::outbox_delivered(self, id, owner, now).await
    }

    async fn outbox_retry_at(
        &self,
        id: &str,
        owner: &str,
        at: OffsetDateTime,
        delivered_to: &[String],
        error: &str,
    ) -> Result<()> {
        Outbox::outbox_retry_at(self, id, owner, at, delivered_to, error).await
    }

    async fn outbox_pending(&self) -> Result<u64> {
        Outbox::outbox_pending(self).await
    }
}
