//! Ticketing connectors (contract section 12): cases mirrored into the
//! ticketing system a helpdesk already runs.
//!
//! Out: every case change made while connectors are configured leaves a
//! `sync.` message in the outbox, in the change's own transaction. The
//! tickets relay ([`run_relay`]) leases those messages like the webhook
//! relay leases its own and hands each to every connector that has not yet
//! taken it; a connector that fails is retried with backoff, and nothing
//! else waits for it. A Request Tracker connector sends over the case's
//! events it has not sent yet ([`mirror::pushes`]), so a message is only a
//! wake-up and the order of events is the case's own. Its ticket is made
//! once: before creating, it looks for a ticket carrying the case's
//! reference, so a crash between RT's answer and storing the id does not
//! make a second one.
//!
//! Back: [`poll`] reads the history of the open linked tickets of each RT
//! connector and turns what others did there into acts on the case
//! ([`mirror::act_of`]), marked with where they came from so they are never
//! sent back.

pub mod http;
pub mod mirror;
pub mod poll;
pub mod rt;

use crate::case::External;
use crate::clock::Clock;
use crate::delivery::{Courier, RelayConfig, backoff, relay_loop};
use crate::store::{OutboxChannel, OutboxMessage, Store, TicketLink};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

/// A secret read from the environment: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Secret {
        Secret(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtAuth {
    Basic {
        user: String,
        password: Secret,
    },
    /// An RT auth token (`Authorization: token …`).
    Token(Secret),
}

/// A Request Tracker connector, checked.
#[derive(Debug, Clone)]
pub struct RtConfig {
    /// Its `system` in the case's `external`.
    pub name: String,
    /// RT's address with its web path, no trailing slash.
    pub url: String,
    pub auth: RtAuth,
    /// fixpath queue → RT queue; `*` for the others.
    pub queues: BTreeMap<String, String>,
    /// How often the linked tickets are read back.
    pub poll: Duration,
    /// One call's limit.
    pub timeout: Duration,
}

impl RtConfig {
    /// The RT queue of a fixpath queue.
    pub fn queue_of(&self, queue: Option<&str>) -> Option<&str> {
        queue
            .and_then(|q| self.queues.get(q))
            .or_else(|| self.queues.get("*"))
            .map(String::as_str)
    }
}

/// A configured connector.
#[derive(Debug, Clone)]
pub enum Connector {
    Rt(RtConfig),
    Http(http::HttpConfig),
}

impl Connector {
    pub fn name(&self) -> &str {
        match self {
            Connector::Rt(c) => &c.name,
            Connector::Http(c) => &c.name,
        }
    }
}

/// Why a call to a ticketing system did not work: written for the log and
/// the outbox's `last_error`, never with credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(String);

impl ConnectError {
    pub fn new(msg: impl Into<String>) -> ConnectError {
        ConnectError(msg.into())
    }
}

impl From<crate::store::StoreError> for ConnectError {
    fn from(e: crate::store::StoreError) -> Self {
        ConnectError(format!("the store: {e}"))
    }
}

/// Reads a response body, refusing one longer than `cap` bytes.
pub(crate) async fn read_capped(
    mut resp: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| {
        format!(
            "the answer broke off: {}",
            crate::delivery::describe(&e.without_url())
        )
    })? {
        if out.len() + chunk.len() > cap {
            return Err(format!("the answer is longer than {cap} bytes"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A connector ready to deliver: its client and settings.
enum Live {
    Rt(rt::RtClient),
    Http(Box<http::HttpConnector>),
}

impl Live {
    fn name(&self) -> &str {
        match self {
            Live::Rt(c) => &c.config().name,
            Live::Http(c) => c.name(),
        }
    }
}

/// Test hook: with `FIXPATH_TEST_HANG_AFTER_TICKET_CREATE=1`, the relay
/// stops for good right after RT made a ticket and before its id is
/// stored, so a test can kill the server at the worst moment.
const HANG_AFTER_CREATE: &str = "FIXPATH_TEST_HANG_AFTER_TICKET_CREATE";

/// Sends over to one RT connector what the case has and the ticket has
/// not: the ticket itself first (found, or made), then the events after the
/// ones already sent, recording progress after each call.
pub async fn mirror_rt(
    store: &dyn Store,
    rt: &rt::RtClient,
    escalation: &str,
) -> Result<(), ConnectError> {
    let name = &rt.config().name;
    let Some(e) = store.escalation(escalation).await? else {
        return Ok(());
    };
    let now = || Clock::system().now();
    let mut link = store
        .ticket_link(escalation, name)
        .await?
        .unwrap_or_else(|| TicketLink::new(escalation, name));
    let Some(queue) = rt.config().queue_of(e.record.queue.as_deref()) else {
        return Err(ConnectError::new(format!(
            "no RT queue for the fixpath queue `{}`: add it, or \"*\", to the connector's `queues`",
            e.record.queue.as_deref().unwrap_or("(none)")
        )));
    };
    if link.external_id.is_none() {
        let ticket = match rt.find(&e.case.reference).await? {
            Some(t) => t,
            None => {
                let record_json = serde_json::to_string_pretty(&e)
                    .map_err(|err| ConnectError::new(format!("encoding the record: {err}")))?;
                let t = rt
                    .create(&rt::NewTicket {
                        queue,
                        subject: rt::subject(
                            &e.case.reference,
                            &e.record.script.title,
                            &e.record.reason,
                        ),
                        requestor: e.case.email.as_deref(),
                        content: &e.case.ticket_text,
                        record_json: &record_json,
                    })
                    .await?;
                if std::env::var(HANG_AFTER_CREATE).is_ok_and(|v| v == "1") {
                    tracing::warn!(ticket = %t.id, "test hook: the tickets relay stops after creating a ticket");
                    std::future::pending::<()>().await;
                }
                t
            }
        };
        let url = rt.ticket_url(&ticket.id);
        link.external_id = Some(ticket.id.clone());
        link.url = Some(url.clone());
        link.creator = ticket.creator;
        // The new ticket holds the case as it is now: its creation is sent.
        link.pushed = link.pushed.max(1);
        store.save_ticket_link(&link, now()).await?;
        store
            .link_external(
                escalation,
                &External {
                    system: name.clone(),
                    id: ticket.id.clone(),
                    url,
                },
            )
            .await?;
        tracing::info!(escalation, connector = %name, ticket = %ticket.id, "the case has its ticket");
    }
    let Some(id) = link.external_id.clone() else {
        return Ok(());
    };
    let from = usize::try_from(link.pushed).unwrap_or(usize::MAX);
    for (done, calls) in mirror::pushes(&e.record, &e.case, from, name) {
        for call in calls {
            match call {
                mirror::Push::Comment { subject, text } => {
                    rt.write(&id, false, &subject, &text).await?
                }
                mirror::Push::Correspond { subject, text } => {
                    rt.write(&id, true, &subject, &text).await?
                }
                mirror::Push::Move { queue } => {
                    if let Some(q) = rt.config().queue_of(queue.as_deref()) {
                        rt.update(&id, serde_json::json!({ "Queue": q })).await?;
                    }
                }
                mirror::Push::Status(s) => {
                    rt.update(&id, serde_json::json!({ "Status": s })).await?
                }
            }
        }
        link.pushed = u32::try_from(done).unwrap_or(u32::MAX);
        store.save_ticket_link(&link, now()).await?;
    }
    let open = e.case.status != crate::case::Status::Resolved;
    if link.open != open {
        link.open = open;
        store.save_ticket_link(&link, now()).await?;
    }
    Ok(())
}

/// The payload of a `sync.` message.
#[derive(Debug, serde::Deserialize)]
struct SyncEvent {
    event: String,
    escalation: String,
}

struct Tickets(Vec<Live>);

impl Courier for Tickets {
    const CHANNEL: OutboxChannel = OutboxChannel::Tickets;
    const NAME: &'static str = "ticketing";

    async fn deliver_batch(
        &self,
        store: &dyn Store,
        cfg: &RelayConfig,
        batch: Vec<OutboxMessage>,
        _: OffsetDateTime,
    ) {
        for m in batch {
            self.deliver(store, cfg, m).await;
        }
    }
}

impl Tickets {
    async fn deliver(&self, store: &dyn Store, cfg: &RelayConfig, m: OutboxMessage) {
        let ev: SyncEvent = match serde_json::from_str(&m.payload) {
            Ok(ev) => ev,
            Err(e) => {
                tracing::error!(message = %m.id, error = %e, "a connector message that cannot be read; dropped");
                let _ = store
                    .outbox_settle(
                        &m.id,
                        &cfg.owner,
                        Clock::system().now(),
                        &m.delivered_to,
                        Some("unreadable"),
                    )
                    .await;
                return;
            }
        };
        let mut delivered = m.delivered_to.clone();
        let mut errors = Vec::new();
        for c in &self.0 {
            let name = c.name().to_owned();
            if delivered.contains(&name) {
                continue;
            }
            let done = match c {
                Live::Rt(rt) => mirror_rt(store, rt, &ev.escalation).await,
                Live::Http(h) => h.deliver(store, &m.id, &ev.event, &ev.escalation).await,
            };
            match done {
                Ok(()) => delivered.push(name),
                Err(e) => errors.push(format!("{name}: {e}")),
            }
        }
        let now = Clock::system().now();
        let result = if errors.is_empty() {
            metrics::counter!("fixpath_connector_deliveries_total").increment(1);
            store.outbox_delivered(&m.id, &cfg.owner, now).await
        } else {
            let at = now + backoff(cfg, m.attempts);
            let error = errors.join("; ");
            metrics::counter!("fixpath_connector_failures_total").increment(1);
            tracing::warn!(message = %m.id, escalation = %ev.escalation, attempts = m.attempts + 1, error = %error, retry_at = %at, "a ticketing connector failed; will retry");
            store
                .outbox_retry_at(&m.id, &cfg.owner, at, &delivered, &error)
                .await
        };
        if let Err(e) = result {
            tracing::warn!(message = %m.id, error = %e, "could not record a connector delivery; it will be sent again");
        }
    }
}

/// Runs the tickets relay until `shutdown`: every configured connector
/// gets every `sync.` message once.
pub async fn run_relay(
    store: Arc<dyn Store>,
    connectors: Vec<Connector>,
    notify: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut live = Vec::new();
    for c in connectors {
        match c {
            Connector::Rt(cfg) => match rt::RtClient::new(cfg) {
                Ok(c) => live.push(Live::Rt(c)),
                Err(e) => {
                    tracing::error!(error = %e, "a Request Tracker connector could not start")
                }
            },
            Connector::Http(cfg) => match http::HttpConnector::new(cfg) {
                Ok(c) => live.push(Live::Http(Box::new(c))),
                Err(e) => tracing::error!(error = %e, "an HTTP connector could not start"),
            },
        }
    }
    let mut cfg = RelayConfig::new(Vec::new(), None);
    cfg.owner = cfg.owner.replacen("relay-", "tickets-", 1);
    // One message at a time, so a lease covers one case's calls (each at
    // most `timeout`); short, so a message of a relay that died is taken
    // up again soon. Should a slow relay and the one that took over work
    // on one case at once, the ticket is still made once (it is looked for
    // first); a comment may then be sent twice, never lost.
    cfg.lease = Duration::from_secs(30);
    cfg.batch = 1;
    relay_loop(store, cfg, Tickets(live), notify, &mut shutdown).await;
}
