//! Case mail over SMTP (contract section 10, "E-mail"): the outbox's
//! `mail.*` messages, rendered in the case's language as text and HTML
//! (`multipart/alternative`, templates under `templates/mail/`) and handed
//! to the configured SMTP server.
//!
//! A mail is an outbox message like a webhook event and goes out through the
//! same machinery ([`super::relay_loop`]): leased, retried with backoff,
//! settled only once the server took it (`delivered_to: ["smtp"]`). Its
//! `Message-ID` is `<OUTBOX-ID@DOMAIN-OF-MAIL-FROM>`, the same on every
//! retry, so a mail sent twice (a crash between the server's yes and our
//! record of it) is recognisable as one.
//!
//! Where mail differs from webhooks, and why:
//! - A dead server costs one timeout per batch, not one per mail: after a
//!   failure of the server itself (no connection, no answer, TLS) the rest
//!   of the batch is rescheduled untried. Each send is bounded in time, and
//!   none starts that could outlast the lease (another relay would lease the
//!   mail then and send it again).
//! - A mail that can never go out as it is (a payload that is no mail job,
//!   a recipient that is no address) is given up at once, and any mail after
//!   [`GIVE_UP_AFTER`] attempts (about a week with the default backoff): by
//!   then the case page says more than the mail would, and an address the
//!   server refuses would otherwise be tried every six hours forever.
//!   Given up means settled with `last_error` saying why and `delivered_to`
//!   empty, logged as an error.
//! - Without `--smtp` no mail relay runs, and mails left from a run with it
//!   are given up at start ([`give_up_without_smtp`]): kept, they would go
//!   out whenever mail is turned on again, maybe months later, about cases
//!   long closed, and hold the outbox's pending count above zero meanwhile.

use super::{Courier, RelayConfig, backoff, relay_loop};
use crate::case::mail::{MailJob, MailKind};
use crate::clock::Clock;
use crate::http::web::i18n;
use crate::store::{OutboxChannel, OutboxMessage, Store};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

/// Attempts after which a mail is given up: with the default backoff (5 s
/// doubling to 6 h) the fortieth comes about a week after the first.
pub const GIVE_UP_AFTER: u32 = 40;

/// What `delivered_to` records once the SMTP server took a mail.
pub const DELIVERED_TO: &str = "smtp";

/// Where mail goes and whom it comes from, validated. The URL keeps its
/// credentials for the transport only: it is shown (logs, `Debug`) without
/// them.
#[derive(Clone)]
pub struct MailConfig {
    url: String,
    shown: String,
    from: Mailbox,
    /// The domain of `from`: the right-hand side of every `Message-ID`.
    domain: String,
    clear_credentials: bool,
    /// Attempts after which a mail is given up ([`GIVE_UP_AFTER`]).
    pub give_up_after: u32,
}

/// Why `--smtp` or `--mail-from` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadMail {
    #[error("the SMTP URL does not parse ({0})")]
    Url(String),
    #[error("`{shown}` is not an SMTP URL (scheme `{scheme}`)")]
    Scheme { shown: String, scheme: String },
    #[error("`{0}` names no host")]
    NoHost(String),
    #[error("`{shown}` asks for `tls={tls}`; it can be `required` or `opportunistic`")]
    Tls { shown: String, tls: String },
    #[error("`{0}` is not an e-mail address to send from")]
    From(String),
}

impl BadMail {
    /// How to write it instead.
    pub fn hint(&self) -> &'static str {
        match self {
            BadMail::From(_) => {
                "write an address, e.g. help@example.com or \"Helpdesk <help@example.com>\""
            }
            _ => {
                "write smtps://USER:PASSWORD@HOST:465 (TLS), \
                 smtp://USER:PASSWORD@HOST:587?tls=required (STARTTLS) or smtp://HOST:25 \
                 (unencrypted); percent-encode special characters of the user name and password"
            }
        }
    }
}

impl MailConfig {
    /// Checks an SMTP URL (`smtp://`, `smtps://`, user and password in it,
    /// `?tls=required|opportunistic`, as lettre reads it) and the sender.
    pub fn new(smtp: &str, from: &str) -> Result<MailConfig, BadMail> {
        let smtp = smtp.trim();
        let url = reqwest::Url::parse(smtp).map_err(|e| BadMail::Url(e.to_string()))?;
        let shown = redact_smtp(&url);
        if !matches!(url.scheme(), "smtp" | "smtps") {
            return Err(BadMail::Scheme {
                scheme: url.scheme().to_owned(),
                shown,
            });
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(BadMail::NoHost(shown));
        }
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        if url.scheme() == "smtp"
            && let Some(t) = &tls
            && !matches!(t.as_str(), "required" | "opportunistic")
        {
            return Err(BadMail::Tls {
                tls: t.clone(),
                shown,
            });
        }
        // lettre's own reading, which builds the TLS settings, must take it
        // too; its message could quote the URL, so it is not shown.
        if AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp).is_err() {
            return Err(BadMail::Url("lettre cannot use it".into()));
        }
        let from_text = from.trim();
        let from: Mailbox = from_text
            .parse()
            .map_err(|_| BadMail::From(from_text.to_owned()))?;
        let domain = from.email.domain().to_owned();
        let has_credentials = !url.username().is_empty() || url.password().is_some();
        Ok(MailConfig {
            url: smtp.to_owned(),
            shown,
            from,
            domain,
            clear_credentials: has_credentials && url.scheme() == "smtp" && tls.is_none(),
            give_up_after: GIVE_UP_AFTER,
        })
    }

    /// The URL without user name and password, for logs and messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Gives a sender written without a name (`help@example.com`) this one
    /// (the `[brand]` name), so customers see who wrote; a name the
    /// operator wrote (`"Helpdesk <help@example.com>"`) stays.
    pub fn name_sender(&mut self, name: &str) {
        if self.from.name.as_deref().is_none_or(str::is_empty) {
            self.from = Mailbox::new(Some(name.to_owned()), self.from.email.clone());
        }
    }

    /// A user name or password would cross the network unencrypted
    /// (`smtp://` without `?tls=`): worth a warning at start.
    pub fn sends_credentials_in_clear(&self) -> bool {
        self.clear_credentials
    }

    /// The stable `Message-ID` of an outbox message.
    pub fn message_id(&self, outbox_id: &str) -> String {
        format!("<{outbox_id}@{}>", self.domain)
    }

    fn transport(
        &self,
        timeout: Duration,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
        Ok(AsyncSmtpTransport::<Tokio1Executor>::from_url(&self.url)?
            .timeout(Some(timeout))
            .build())
    }
}

impl fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp", &self.shown)
            .field("from", &self.from.to_string())
            .finish()
    }
}

/// `smtp://user:secret@host:587?tls=required` as
/// `smtp://***@host:587?tls=required`: the query says only how to connect.
fn redact_smtp(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    if u.username().is_empty() && u.password().is_none() {
        return u.to_string();
    }
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string().replacen("://", "://***@", 1)
}

/// A mail as it goes out: the subject and both parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedMail {
    /// The language the words are in (English for a case language the
    /// mails do not speak).
    pub language: &'static str,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders a mail job in its case's language (`de-AT` reads as `de`).
pub fn render(job: &MailJob) -> Result<RenderedMail, minijinja::Error> {
    let primary = job.language.split(['-', '_']).next().unwrap_or_default();
    let language = i18n::supported(primary).unwrap_or("en");
    let t = i18n::catalogue_value(language);
    let name = match job.kind {
        MailKind::Received => "received",
        MailKind::Reply => "reply",
        MailKind::Resolved => "resolved",
        MailKind::Link => "link",
    };
    let subject = i18n::text(language, &format!("mail_subject_{name}"))
        .replace("{reference}", &job.reference);
    // Lines, so the HTML part keeps the writer's line breaks (each line
    // escaped on its own) and the text part its paragraphs.
    let text_lines: Vec<&str> = job
        .text
        .as_deref()
        .map_or(Vec::new(), |t| t.lines().collect());
    let ctx = |link: minijinja::Value| {
        minijinja::context! {
            t,
            lang => language,
            subject => &subject,
            reference => &job.reference,
            title => &job.script_title,
            link,
            text_lines => &text_lines,
        }
    };
    let text = crate::render::render(
        &format!("mail/{name}.txt.j2"),
        ctx(minijinja::Value::from(job.link.as_str())),
    )?;
    // The link escaped for an attribute, but its slashes kept: the
    // template's escaping writes `/` as `&#x2f;`, which a browser reads
    // alike but a person looking at the link text (or a mail filter) not.
    let html = crate::render::render(
        &format!("mail/{name}.html.j2"),
        ctx(minijinja::Value::from_safe_string(escape_attribute(
            &job.link,
        ))),
    )?;
    Ok(RenderedMail {
        language,
        subject,
        text,
        html,
    })
}

fn escape_attribute(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The message of one outbox row, or why it cannot be sent.
pub fn message(cfg: &MailConfig, m: &OutboxMessage) -> Result<Message, Unsendable> {
    let job: MailJob = serde_json::from_str(&m.payload)
        .map_err(|e| Unsendable::Never(format!("the payload is not a mail job: {e}")))?;
    // The address is the customer's: named in no log line.
    let to: Mailbox = job
        .to
        .trim()
        .parse()
        .map_err(|_| Unsendable::Never("the recipient is not an e-mail address".into()))?;
    let mail = render(&job).map_err(|e| Unsendable::Template(e.to_string()))?;
    Message::builder()
        .from(cfg.from.clone())
        .to(to)
        .subject(mail.subject)
        .message_id(Some(cfg.message_id(&m.id)))
        // RFC 3834: out-of-office replies and the like stay away.
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Content-Language"),
            mail.language.into(),
        ))
        .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
        .map_err(|e| Unsendable::Never(format!("the mail cannot be built: {e}")))
}

/// Why a mail cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsendable {
    /// Nothing about it will change: given up.
    Never(String),
    /// Our template failed: retried, so a fixed release still sends it.
    Template(String),
}

enum Outcome {
    Sent,
    /// `server`: the server itself failed (no connection, no answer), not
    /// its answer to this mail.
    Retry {
        error: String,
        server: bool,
    },
    GiveUp(String),
}

struct Mailer {
    config: MailConfig,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// The most one send may take.
    bound: Duration,
}

/// The most one send may take: a few of the relay's timeouts (connect,
/// greeting, the commands), and at most half a lease.
fn send_bound(cfg: &RelayConfig) -> Duration {
    cfg.timeout.saturating_mul(3).min(cfg.lease / 2)
}

impl Mailer {
    async fn send(&self, m: &OutboxMessage) -> Outcome {
        let msg = match message(&self.config, m) {
            Ok(msg) => msg,
            Err(Unsendable::Never(e)) => return Outcome::GiveUp(e),
            Err(Unsendable::Template(e)) => {
                tracing::error!(message = %m.id, error = %e, "a mail template failed");
                return Outcome::Retry {
                    error: format!("the mail template failed: {e}"),
                    server: false,
                };
            }
        };
        match tokio::time::timeout(self.bound, self.transport.send(msg)).await {
            Ok(Ok(_)) => Outcome::Sent,
            Ok(Err(e)) => Outcome::Retry {
                server: !(e.is_transient() || e.is_permanent()),
                error: format!("{}: {e}", self.config.shown),
            },
            Err(_) => Outcome::Retry {
                error: format!(
                    "{}: no answer within {} s",
                    self.config.shown,
                    self.bound.as_secs()
                ),
                server: true,
            },
        }
    }

    async fn retry(&self, store: &dyn Store, cfg: &RelayConfig, m: &OutboxMessage, error: &str) {
        if m.attempts.saturating_add(1) >= self.config.give_up_after {
            let why = format!("given up after {} attempts: {error}", m.attempts + 1);
            return give_up(store, cfg, m, &why).await;
        }
        let at = Clock::system().now() + backoff(cfg, m.attempts);
        metrics::counter!("fixpath_mail_failures_total").increment(1);
        tracing::warn!(message = %m.id, attempts = m.attempts + 1, error = %crate::logtext::shown(error), retry_at = %at, "mail delivery failed; will retry");
        if let Err(e) = store
            .outbox_retry_at(&m.id, &cfg.owner, at, &[], error)
            .await
        {
            tracing::warn!(message = %m.id, error = %e, "could not record a failed mail; it is tried again when its lease runs out");
        }
    }
}

async fn give_up(store: &dyn Store, cfg: &RelayConfig, m: &OutboxMessage, why: &str) {
    metrics::counter!("fixpath_mails_given_up_total").increment(1);
    tracing::error!(message = %m.id, event = %m.event_type, error = %crate::logtext::shown(why), "a mail was given up and will not be sent");
    if let Err(e) = store
        .outbox_settle(&m.id, &cfg.owner, Clock::system().now(), &[], Some(why))
        .await
    {
        tracing::warn!(message = %m.id, error = %e, "could not record a mail given up; it is tried again when its lease runs out");
    }
}

impl Courier for Mailer {
    const CHANNEL: OutboxChannel = OutboxChannel::Mail;
    const NAME: &'static str = "mail";

    async fn deliver_batch(
        &self,
        store: &dyn Store,
        cfg: &RelayConfig,
        batch: Vec<OutboxMessage>,
        lease_until: OffsetDateTime,
    ) {
        let mut down: Option<String> = None;
        for m in batch {
            if let Some(error) = &down {
                self.retry(store, cfg, &m, error).await;
                continue;
            }
            // The rest waits for its lease to run out and is leased again.
            if Clock::system().now() + self.bound > lease_until {
                break;
            }
            match self.send(&m).await {
                Outcome::Sent => {
                    metrics::counter!("fixpath_mails_sent_total").increment(1);
                    let result = store
                        .outbox_settle(
                            &m.id,
                            &cfg.owner,
                            Clock::system().now(),
                            &[DELIVERED_TO.to_owned()],
                            None,
                        )
                        .await;
                    if let Err(e) = result {
                        tracing::warn!(message = %m.id, error = %e, "could not record a sent mail; it will be sent again (same Message-ID)");
                    }
                }
                Outcome::Retry { error, server } => {
                    self.retry(store, cfg, &m, &error).await;
                    if server {
                        down = Some(error);
                    }
                }
                Outcome::GiveUp(why) => give_up(store, cfg, &m, &why).await,
            }
        }
    }
}

/// Runs the mail relay until `shutdown` turns true. Wakes on `notify` (a new
/// message) or every `poll` (retries that fell due).
pub async fn run_mail_relay(
    store: Arc<dyn Store>,
    cfg: RelayConfig,
    mail: MailConfig,
    notify: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let bound = send_bound(&cfg);
    let transport = match mail.transport(cfg.timeout.min(bound)) {
        Ok(t) => t,
        Err(e) => {
            // MailConfig::new built one already: not expected.
            tracing::error!(error = %e, smtp = %mail.shown, "the mail relay could not set up SMTP; no mail is sent");
            return;
        }
    };
    let mailer = Mailer {
        config: mail,
        transport,
        bound,
    };
    relay_loop(store, cfg, mailer, notify, &mut shutdown).await;
}

/// Mail is off: gives up the mails a run with `--smtp` left in the outbox
/// (see the module's documentation) and says so once; returns how many.
pub async fn give_up_without_smtp(store: &dyn Store, now: OffsetDateTime) -> u64 {
    match store
        .outbox_give_up_channel(
            OutboxChannel::Mail,
            now,
            "mail is off (no --smtp): not sent",
        )
        .await
    {
        Ok(0) => 0,
        Ok(n) => {
            tracing::warn!(
                mails = n,
                "mail is off (no --smtp): mails left in the outbox by an earlier run are given up"
            );
            n
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not clear the mails left in the outbox");
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(kind: MailKind, language: &str, text: Option<&str>) -> MailJob {
        MailJob {
            kind,
            to: "kim@example.com".into(),
            language: language.into(),
            reference: "AUK2-GPA2".into(),
            script_title: "Wi-Fi <keeps> dropping".into(),
            link: "https://help.example.com/s/ses_1?t=a&b".into(),
            text: text.map(Into::into),
        }
    }

    #[test]
    fn the_smtp_url_is_checked_and_shown_without_credentials() {
        let c = MailConfig::new(
            "smtp://mailer:pa55word@mail.example.com:587?tls=required",
            "Helpdesk <help@example.com>",
        )
        .unwrap();
        assert_eq!(c.shown(), "smtp://***@mail.example.com:587?tls=required");
        assert!(!format!("{c:?}").contains("pa55word"));
        assert!(!c.sends_credentials_in_clear());
        assert_eq!(c.message_id("msg_1"), "<msg_1@example.com>");
        let plain = MailConfig::new("smtp://u:p@mail.example.com", "help@example.com").unwrap();
        assert!(plain.sends_credentials_in_clear());
        assert!(
            !MailConfig::new("smtps://mail.example.com", "help@example.com")
                .unwrap()
                .sends_credentials_in_clear()
        );

        let err = |smtp: &str, from: &str| MailConfig::new(smtp, from).unwrap_err();
        assert!(matches!(
            err("https://u:secret@mail.example.com", "a@b.example"),
            BadMail::Scheme { shown, .. } if !shown.contains("secret")
        ));
        assert!(matches!(
            err("smtp://mail.example.com?tls=maybe", "a@b.example"),
            BadMail::Tls { .. }
        ));
        assert!(matches!(
            err("mail.example.com", "a@b.example"),
            BadMail::Url(_)
        ));
        assert!(matches!(
            err("smtp://mail.example.com", "not an address"),
            BadMail::From(_)
        ));
    }

    #[test]
    fn mails_speak_the_case_language_and_escape_html() {
        let m = render(&job(MailKind::Reply, "de-AT", Some("Zeile <1>\nZeile 2"))).unwrap();
        assert_eq!(m.language, "de");
        assert_eq!(m.subject, "Eine Antwort auf Ihre Anfrage AUK2-GPA2");
        assert!(m.text.contains("Zeile <1>\nZeile 2"), "{}", m.text);
        assert!(m.html.contains("Zeile &lt;1&gt;<br>Zeile 2"), "{}", m.html);
        assert!(
            m.html.contains("Wi-Fi &lt;keeps&gt; dropping"),
            "{}",
            m.html
        );
        assert!(
            m.html
                .contains(r#"href="https://help.example.com/s/ses_1?t=a&amp;b""#),
            "{}",
            m.html
        );
        let quoted = job(MailKind::Received, "en", None);
        let quoted = MailJob {
            link: r#"https://h.example/s/1?"><script>"#.into(),
            ..quoted
        };
        let html = render(&quoted).unwrap().html;
        assert!(
            html.contains(r#"href="https://h.example/s/1?&quot;&gt;&lt;script&gt;""#),
            "{html}"
        );
        assert!(m.html.starts_with("<!doctype html>\n<html lang=\"de\">"));
        // Every language speaks for itself: no English, no placeholder left.
        let english: Vec<&str> = i18n::catalogue("en")
            .iter()
            .filter(|(k, _)| k.starts_with("mail_"))
            .flat_map(|(_, v)| v.split(['{', '}']))
            .map(str::trim)
            .filter(|p| p.len() > 8)
            .collect();
        for lang in ["nl", "de", "et", "ru"] {
            for kind in [
                MailKind::Received,
                MailKind::Reply,
                MailKind::Resolved,
                MailKind::Link,
            ] {
                let m = render(&job(kind, lang, Some("…"))).unwrap();
                assert_eq!(m.language, lang);
                for part in [&m.subject, &m.text, &m.html] {
                    assert!(!part.contains(['{', '}']), "{lang}: {part}");
                    for phrase in &english {
                        assert!(!part.contains(phrase), "{lang}: `{phrase}` in {part}");
                    }
                }
            }
        }
        // A language the mails do not speak: English, not a blank.
        let fr = render(&job(MailKind::Received, "fr", None)).unwrap();
        assert_eq!(fr.language, "en");
        assert_eq!(fr.subject, "We have received your request AUK2-GPA2");
    }
}
