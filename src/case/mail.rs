//! The mails of a case (contract section 10): what the case layer puts in the
//! outbox for the mail relay (`delivery::mail`) to render and send.
//!
//! A mail is an outbox message like a webhook event, so it has the same
//! guarantees: written in the transaction of the change it announces, sent at
//! least once, retried with backoff, the same `Message-ID` on every retry
//! (made from the outbox message's id).

use serde::{Deserialize, Serialize};

/// Outbox event types that start with this are mails, not webhook events.
pub const EVENT_PREFIX: &str = "mail.";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailKind {
    /// The case was received: its reference and link.
    Received,
    /// A specialist replied: the reply and the link.
    Reply,
    /// The case was resolved: the resolution, and the link that asks for
    /// satisfaction.
    Resolved,
    /// The customer asked for the link again (`/status`, with the case's
    /// reference and address): the link alone.
    Link,
}

impl MailKind {
    /// The outbox event type: `mail.received`, `mail.reply`, `mail.resolved`,
    /// `mail.link`.
    pub fn event_type(self) -> &'static str {
        match self {
            MailKind::Received => "mail.received",
            MailKind::Reply => "mail.reply",
            MailKind::Resolved => "mail.resolved",
            MailKind::Link => "mail.link",
        }
    }
}

/// The payload of a `mail.*` outbox message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailJob {
    pub kind: MailKind,
    /// The customer's address, as they gave it (checked when given).
    pub to: String,
    /// The case's language (one of the library's languages).
    pub language: String,
    /// The case reference the customer was shown, e.g. `AUK2-GPA2`.
    pub reference: String,
    /// The script's title in the case's language.
    pub script_title: String,
    /// The case page, with a capability token that opens it.
    pub link: String,
    /// The staff reply (`Reply`) or the resolution (`Resolved`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}
