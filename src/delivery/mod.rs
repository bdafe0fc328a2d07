//! The outbox relays: webhook events to the configured endpoints, signed per
//! the Standard Webhooks convention, and case mails over SMTP ([`mail`]),
//! both with exponential backoff.
//!
//! The outbox row is written in the same transaction as the change it
//! announces, so a crash or a receiver outage loses nothing: a relay leases
//! due messages of its own channel ([`OutboxChannel`]), hands them over, and
//! marks them delivered only once they were taken (every endpoint answered
//! 2xx; the SMTP server accepted the mail). The `webhook-id` (a mail's
//! `Message-ID`) comes from the message id, the same on every retry, so
//! receivers can drop duplicates (delivery is at least once).
//!
//! No relay starts a delivery that could outlast its lease (another relay
//! would lease the message then and send it a second time), and a receiver
//! that does not answer at all is passed over for the rest of its batch, so
//! it costs one timeout per batch, not one per message.

pub mod mail;

use crate::clock::Clock;
use crate::store::{OutboxChannel, OutboxMessage, Store};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

#[derive(Debug, Clone)]
pub struct RelayConfig {
    pub endpoints: Vec<String>,
    /// The decoded bytes of the `whsec_` secret; `None`: unsigned.
    pub secret: Option<Vec<u8>>,
    /// Who holds a lease (unique per process).
    pub owner: String,
    /// Retry delays: `base * 2^attempts`, at most `max`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// How long one lease lasts; a crashed relay's messages are retried after it.
    pub lease: Duration,
    /// How often to look for due retries when nothing wakes the relay.
    pub poll: Duration,
    pub timeout: Duration,
    pub batch: u32,
}

impl RelayConfig {
    pub fn new(endpoints: Vec<String>, secret: Option<Vec<u8>>) -> Self {
        let mut id = [0u8; 8];
        let _ = getrandom::fill(&mut id);
        RelayConfig {
            endpoints,
            secret,
            owner: format!("relay-{}", hex(&id)),
            base_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(6 * 3600),
            lease: Duration::from_secs(60),
            poll: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            batch: 32,
        }
    }
}

/// The shortest key accepted, in decoded bytes: 192 bits. Standard
/// Webhooks tools make 24 to 64; a shorter one can be guessed offline from
/// one signed message.
pub const MIN_SECRET_BYTES: usize = 24;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BadSecret {
    #[error(
        "a webhook secret is `whsec_` followed by base64 (as Standard Webhooks tools print it)"
    )]
    Format,
    #[error(
        "the webhook secret is {0} bytes once decoded; it must be at least {MIN_SECRET_BYTES} \
         (make one with `openssl rand -base64 32` and put `whsec_` before it)"
    )]
    TooShort(usize),
}

/// Decodes a `whsec_…` secret into the key bytes.
pub fn parse_secret(s: &str) -> Result<Vec<u8>, BadSecret> {
    let b = s.trim().strip_prefix("whsec_").ok_or(BadSecret::Format)?;
    match B64.decode(b) {
        Ok(k) if k.len() >= MIN_SECRET_BYTES => Ok(k),
        Ok(k) if !k.is_empty() => Err(BadSecret::TooShort(k.len())),
        _ => Err(BadSecret::Format),
    }
}

/// An endpoint as it may be written down (logs, `last_error`, the outbox's
/// list of endpoints that took a message): without the user name and
/// password a URL can carry, and without its query string (where tokens
/// live too).
pub fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let had_auth = !u.username().is_empty() || u.password().is_some();
            if !had_auth && u.query().is_none() {
                return url.to_owned();
            }
            let _ = u.set_username("");
            let _ = u.set_password(None);
            if u.query().is_some() {
                u.set_query(Some("***"));
            }
            let s = u.to_string();
            if had_auth {
                s.replacen("://", "://***@", 1)
            } else {
                s
            }
        }
        Err(_) => "(an endpoint that is not a URL)".to_owned(),
    }
}

/// What went wrong with one attempt, for the log and `last_error`: the
/// kind of failure, never the URL reqwest would print with its credentials.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_request() {
        "the request failed"
    } else {
        "the exchange failed"
    };
    // `without_url` drops the URL from the message; the sources below it
    // (DNS, TLS, I/O) name hosts at most.
    let mut msg = kind.to_owned();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// `v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`.
pub fn sign(secret: &[u8], id: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// The delay before attempt `attempts + 1`, with up to 10 % jitter so
/// retries of many messages do not arrive all at once.
pub fn backoff(cfg: &RelayConfig, attempts: u32) -> Duration {
    let exp = cfg
        .base_delay
        .saturating_mul(1u32.checked_shl(attempts.min(20)).unwrap_or(u32::MAX));
    let d = exp.min(cfg.max_delay);
    let mut b = [0u8; 1];
    let _ = getrandom::fill(&mut b);
    d + d.mul_f64(f64::from(b[0]) / 255.0 / 10.0)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs until `shutdown` turns true. Wakes on `notify` (a new message) or
/// every `poll` (retries that fell due).
pub async fn run_relay(
    store: Arc<dyn Store>,
    cfg: RelayConfig,
    notify: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let client = match client(&cfg) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "the webhook relay could not start its HTTP client");
            return;
        }
    };
    relay_loop(store, cfg, Webhooks(client), notify, &mut shutdown).await;
}

/// The relay's HTTP client. Redirects are not followed: a receiver that
/// answers 3xx has not taken the message (it is retried), and the signed
/// body never goes to a host nobody configured.
pub fn client(cfg: &RelayConfig) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(cfg.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("fixpath/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// What a relay does with the messages of its channel; the leases, the
/// waiting and the stopping are [`relay_loop`]'s, the same for every channel.
pub(crate) trait Courier: Send + Sync {
    const CHANNEL: OutboxChannel;
    /// For the log: "webhook", "mail".
    const NAME: &'static str;
    /// Hands over a leased batch; the lease runs out at `lease_until`.
    fn deliver_batch(
        &self,
        store: &dyn Store,
        cfg: &RelayConfig,
        batch: Vec<OutboxMessage>,
        lease_until: OffsetDateTime,
    ) -> impl std::future::Future<Output = ()> + Send;
}

struct Webhooks(reqwest::Client);

impl Courier for Webhooks {
    const CHANNEL: OutboxChannel = OutboxChannel::Webhooks;
    const NAME: &'static str = "webhook";

    async fn deliver_batch(
        &self,
        store: &dyn Store,
        cfg: &RelayConfig,
        batch: Vec<OutboxMessage>,
        lease_until: OffsetDateTime,
    ) {
        let mut down = Down::default();
        for m in batch {
            // The most this message may take: a timeout per endpoint still
            // tried. One that could outlast the lease is not started:
            // another relay may lease it then and send it a second time.
            // The rest waits for its lease to run out and is leased again.
            let live = cfg.endpoints.len().saturating_sub(down.0.len()).max(1);
            let bound = cfg
                .timeout
                .saturating_mul(u32::try_from(live).unwrap_or(u32::MAX));
            if Clock::system().now() + bound > lease_until {
                break;
            }
            deliver_past(store, &self.0, cfg, m, &mut down).await;
        }
    }
}

/// The endpoints that did not answer at all (no connection, a timeout, not
/// HTTP) in this batch, by their redacted URL, with the error: the rest of
/// the batch is rescheduled for them untried, so a dead receiver costs one
/// timeout per batch instead of one per message. An endpoint that answered
/// with an error status is tried again with the next message: that answer
/// may be about the message.
#[derive(Default)]
struct Down(Vec<(String, String)>);

pub(crate) async fn relay_loop<C: Courier>(
    store: Arc<dyn Store>,
    cfg: RelayConfig,
    courier: C,
    notify: Arc<Notify>,
    shutdown: &mut watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            break;
        }
        let now = Clock::system().now();
        let until = now + cfg.lease;
        match store
            .lease_outbox_of(Some(C::CHANNEL), &cfg.owner, now, until, cfg.batch)
            .await
        {
            Ok(msgs) if !msgs.is_empty() => {
                courier.deliver_batch(&*store, &cfg, msgs, until).await;
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, relay = C::NAME, "could not read the outbox; will try again")
            }
        }
        tokio::select! {
            _ = notify.notified() => {}
            _ = tokio::time::sleep(cfg.poll) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Posts one message to every endpoint that has not taken it yet.
pub async fn deliver(
    store: &dyn Store,
    client: &reqwest::Client,
    cfg: &RelayConfig,
    m: OutboxMessage,
) {
    deliver_past(store, client, cfg, m, &mut Down::default()).await;
}

/// [`deliver`], passing over the endpoints found `down` in this batch and
/// adding those that do not answer now.
async fn deliver_past(
    store: &dyn Store,
    client: &reqwest::Client,
    cfg: &RelayConfig,
    m: OutboxMessage,
    down: &mut Down,
) {
    let mut delivered = m.delivered_to.clone();
    let mut last_error = String::new();
    for url in &cfg.endpoints {
        // Endpoints are remembered and reported by their redacted form.
        let shown = redact_url(url);
        if delivered.contains(&shown) {
            continue;
        }
        if let Some((_, error)) = down.0.iter().find(|(u, _)| *u == shown) {
            last_error = format!("{error} (not tried again in this batch)");
            continue;
        }
        let ts = Clock::system().now().unix_timestamp();
        let mut req = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &m.id)
            .header("webhook-timestamp", ts.to_string())
            .body(m.payload.clone());
        if let Some(secret) = &cfg.secret {
            req = req.header("webhook-signature", sign(secret, &m.id, ts, &m.payload));
        }
        match req.send().await {
            Ok(r) if r.status().is_success() => delivered.push(shown),
            Ok(r) if r.status().is_redirection() => {
                last_error = format!(
                    "{shown} answered {} (redirects are not followed: configure the URL it points to)",
                    r.status()
                )
            }
            Ok(r) => last_error = format!("{shown} answered {}", r.status()),
            Err(e) => {
                last_error = format!("{shown}: {}", describe(&e.without_url()));
                down.0.push((shown, last_error.clone()));
            }
        }
    }
    let now = Clock::system().now();
    let result = if cfg
        .endpoints
        .iter()
        .all(|u| delivered.contains(&redact_url(u)))
    {
        metrics::counter!("fixpath_webhooks_delivered_total").increment(1);
        store.outbox_delivered(&m.id, &cfg.owner, now).await
    } else {
        let at = now + backoff(cfg, m.attempts);
        metrics::counter!("fixpath_webhook_failures_total").increment(1);
        tracing::warn!(message = %m.id, attempts = m.attempts + 1, error = %last_error, retry_at = %at, "webhook delivery failed; will retry");
        store
            .outbox_retry_at(&m.id, &cfg.owner, at, &delivered, &last_error)
            .await
    };
    if let Err(e) = result {
        tracing::warn!(message = %m.id, error = %e, "could not record a webhook delivery; it will be sent again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_standard_webhooks() {
        // The example of the Standard Webhooks specification.
        let secret = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = r#"{"test": 2432232314}"#;
        let sig = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_must_be_whsec_base64() {
        assert_eq!(
            parse_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            Err(BadSecret::Format)
        );
        assert_eq!(parse_secret("whsec_!!!"), Err(BadSecret::Format));
        assert_eq!(parse_secret("whsec_"), Err(BadSecret::Format));
    }

    #[test]
    fn short_secrets_are_refused() {
        assert_eq!(parse_secret("whsec_AA=="), Err(BadSecret::TooShort(1)));
        // 23 bytes: one short.
        let k23 = format!("whsec_{}", B64.encode([7u8; 23]));
        assert_eq!(parse_secret(&k23), Err(BadSecret::TooShort(23)));
        let k24 = format!("whsec_{}", B64.encode([7u8; 24]));
        assert_eq!(parse_secret(&k24).map(|k| k.len()), Ok(24));
        let msg = BadSecret::TooShort(1).to_string();
        assert!(msg.contains("at least 24"), "{msg}");
    }

    #[test]
    fn credentials_in_a_url_are_never_written_down() {
        assert_eq!(
            redact_url("https://user:s3cret@hooks.example.com/in?token=abc"),
            "https://***@hooks.example.com/in?***"
        );
        assert_eq!(redact_url("http://127.0.0.1:9/x"), "http://127.0.0.1:9/x");
        assert!(!redact_url("https://only-user@h.example/").contains("only-user"));
    }

    #[test]
    fn backoff_grows_exponentially_and_stops_at_the_maximum() {
        let cfg = RelayConfig::new(vec![], None);
        let d0 = backoff(&cfg, 0);
        let d3 = backoff(&cfg, 3);
        assert!(d0 >= Duration::from_secs(5) && d0 <= Duration::from_millis(5500));
        assert!(d3 >= Duration::from_secs(40) && d3 <= Duration::from_secs(44));
        assert!(backoff(&cfg, 60) <= Duration::from_secs(6 * 3600 + 2160));
    }
}
