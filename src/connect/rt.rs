//! Request Tracker 5 over REST 2 (contract section 12): the calls the
//! connector makes, with the shapes RT answers in. Every answer is read to
//! at most [`MAX_ANSWER`] bytes; errors name the call and RT's status,
//! never the credentials.

use super::mirror::Transaction;
use super::{ConnectError, RtAuth, RtConfig, read_capped};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value as Json, json};

/// The most of one answer read: a history page or an attachment.
pub const MAX_ANSWER: usize = 4 * 1024 * 1024;
/// History pages read per ticket and poll: a ticket with more new
/// transactions than this is read on over the next polls.
const MAX_PAGES: u32 = 20;
/// RT keeps subjects to 200 characters.
const MAX_SUBJECT: usize = 200;

/// A ticket as created or found: its id and the RT user it was made by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    pub id: String,
    pub creator: Option<String>,
}

/// What a new ticket is made of.
#[derive(Debug, Clone)]
pub struct NewTicket<'a> {
    pub queue: &'a str,
    pub subject: String,
    pub requestor: Option<&'a str>,
    pub content: &'a str,
    /// The record, attached as `fixpath-case.json`.
    pub record_json: &'a str,
}

pub struct RtClient {
    http: reqwest::Client,
    cfg: RtConfig,
}

/// The subject of a case's ticket: `[REFERENCE] title: reason`.
pub fn subject(reference: &str, title: &str, reason: &str) -> String {
    let s = format!("[{reference}] {title}: {reason}");
    let s = s.replace(['\r', '\n'], " ");
    match s.char_indices().nth(MAX_SUBJECT) {
        Some((cut, _)) => s[..cut].to_owned(),
        None => s,
    }
}

impl RtClient {
    pub fn new(cfg: RtConfig) -> Result<RtClient, ConnectError> {
        let http = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::none())
            // RT answers a User-Agent with "Mozilla" in it with a redirect
            // to its login page.
            .user_agent(concat!("fixpath/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectError::new(format!("no HTTP client: {e}")))?;
        Ok(RtClient { http, cfg })
    }

    pub fn config(&self) -> &RtConfig {
        &self.cfg
    }

    /// The page a person opens for ticket `id`.
    pub fn ticket_url(&self, id: &str) -> String {
        format!("{}/Ticket/Display.html?id={id}", self.cfg.url)
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let url = format!("{}/REST/2.0{path}", self.cfg.url);
        let req = self.http.request(method, url);
        match &self.cfg.auth {
            RtAuth::Basic { user, password } => req.basic_auth(user, Some(password.expose())),
            RtAuth::Token(t) => req.header("authorization", format!("token {}", t.expose())),
        }
    }

    /// Sends `req` and reads a JSON answer of a 2xx; anything else is an
    /// error naming `what`.
    async fn call(&self, what: &str, req: reqwest::RequestBuilder) -> Result<Json, ConnectError> {
        let resp = req.send().await.map_err(|e| {
            ConnectError::new(format!(
                "{what}: {}",
                crate::delivery::describe(&e.without_url())
            ))
        })?;
        let status = resp.status();
        let body = read_capped(resp, MAX_ANSWER)
            .await
            .map_err(|e| ConnectError::new(format!("{what}: {e}")))?;
        if !status.is_success() {
            let said = serde_json::from_slice::<Json>(&body)
                .ok()
                .and_then(|j| j.get("message").and_then(Json::as_str).map(str::to_owned))
                .unwrap_or_default();
            return Err(ConnectError::new(format!(
                "{what}: Request Tracker answered {status}{}{}",
                if said.is_empty() { "" } else { ": " },
                crate::logtext::shown(&said)
            )));
        }
        if body.is_empty() {
            return Ok(Json::Null);
        }
        serde_json::from_slice(&body).map_err(|e| {
            ConnectError::new(format!("{what}: Request Tracker's answer is not JSON: {e}"))
        })
    }

    /// The ticket whose subject starts with `[reference]`, if one exists:
    /// what makes the create happen once even when the id was lost.
    pub async fn find(&self, reference: &str) -> Result<Option<Ticket>, ConnectError> {
        // TicketSQL quotes with single quotes; a reference is letters,
        // digits and a dash, but nothing else is let through either.
        let clean: String = reference
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let query = format!("Subject LIKE '[{clean}]'");
        let found = self
            .call(
                "looking for the case's ticket",
                self.request(reqwest::Method::GET, "/tickets").query(&[
                    ("query", query.as_str()),
                    ("fields", "Subject,Creator"),
                    ("orderby", "id"),
                    ("per_page", "20"),
                ]),
            )
            .await?;
        let prefix = format!("[{clean}]");
        let ticket = found
            .get("items")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .find(|t| {
                t.get("Subject")
                    .and_then(Json::as_str)
                    .is_some_and(|s| s.starts_with(&prefix))
            })
            .and_then(|t| {
                Some(Ticket {
                    id: id_of(t.get("id")?)?,
                    creator: t
                        .get("Creator")
                        .and_then(|c| c.get("id"))
                        .and_then(Json::as_str)
                        .map(str::to_owned),
                })
            });
        Ok(ticket)
    }

    /// Creates the ticket and reads back who RT says made it.
    pub async fn create(&self, t: &NewTicket<'_>) -> Result<Ticket, ConnectError> {
        let mut body = json!({
            "Queue": t.queue,
            "Subject": t.subject,
            "Content": t.content,
            "ContentType": "text/plain",
            "Attachments": [{
                "FileName": "fixpath-case.json",
                "FileType": "application/json",
                "FileContent": B64.encode(t.record_json),
            }],
        });
        if let Some(r) = t.requestor {
            body["Requestor"] = json!(r);
        }
        let made = self
            .call(
                "creating the ticket",
                self.request(reqwest::Method::POST, "/ticket").json(&body),
            )
            .await?;
        let id = made
            .get("id")
            .and_then(id_of)
            .ok_or_else(|| ConnectError::new("creating the ticket: Request Tracker gave no id"))?;
        let creator = self.creator(&id).await.ok().flatten();
        Ok(Ticket { id, creator })
    }

    /// Who made ticket `id`.
    pub async fn creator(&self, id: &str) -> Result<Option<String>, ConnectError> {
        let t = self
            .call(
                "reading the ticket",
                self.request(reqwest::Method::GET, &format!("/ticket/{id}")),
            )
            .await?;
        Ok(t.get("Creator")
            .and_then(|c| c.get("id"))
            .and_then(Json::as_str)
            .map(str::to_owned))
    }

    /// An internal comment (`correspond: false`) or correspondence.
    pub async fn write(
        &self,
        id: &str,
        correspond: bool,
        subject: &str,
        text: &str,
    ) -> Result<(), ConnectError> {
        let (path, what) = if correspond {
            ("correspond", "adding correspondence")
        } else {
            ("comment", "adding a comment")
        };
        self.call(
            what,
            self.request(reqwest::Method::POST, &format!("/ticket/{id}/{path}"))
                .json(&json!({
                    "Subject": subject,
                    "Content": text,
                    "ContentType": "text/plain",
                })),
        )
        .await?;
        Ok(())
    }

    /// Changes fields of the ticket (`Queue`, `Status`).
    pub async fn update(&self, id: &str, fields: Json) -> Result<(), ConnectError> {
        self.call(
            "updating the ticket",
            self.request(reqwest::Method::PUT, &format!("/ticket/{id}"))
                .json(&fields),
        )
        .await?;
        Ok(())
    }

    /// The ticket's transactions after `after`, oldest first.
    pub async fn history(&self, id: &str, after: i64) -> Result<Vec<Transaction>, ConnectError> {
        let mut out = Vec::new();
        let mut page = 1u32;
        loop {
            let got = self
                .call(
                    "reading the ticket's history",
                    self.request(reqwest::Method::GET, &format!("/ticket/{id}/history"))
                        .query(&[
                            ("fields", "Type,Creator,Field,NewValue"),
                            ("per_page", "100"),
                            ("page", &page.to_string()),
                        ]),
                )
                .await?;
            for t in got
                .get("items")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
            {
                let Some(tid) = t
                    .get("id")
                    .and_then(id_of)
                    .and_then(|s| s.parse::<i64>().ok())
                else {
                    continue;
                };
                if tid <= after {
                    continue;
                }
                let s = |k: &str| t.get(k).and_then(Json::as_str).map(str::to_owned);
                out.push(Transaction {
                    id: tid,
                    kind: s("Type").unwrap_or_default(),
                    creator: t
                        .get("Creator")
                        .and_then(|c| c.get("id"))
                        .and_then(Json::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    new_value: s("NewValue"),
                });
            }
            let pages = got.get("pages").and_then(Json::as_u64).unwrap_or(1);
            if u64::from(page) >= pages || page >= MAX_PAGES {
                break;
            }
            page += 1;
        }
        out.sort_by_key(|t| t.id);
        Ok(out)
    }

    /// The text of a comment or correspondence: its plain-text body, byte
    /// for byte (`/attachment/:id` gives the raw bytes; listings do not).
    pub async fn text(&self, txn: i64) -> Result<String, ConnectError> {
        let parts = self
            .call(
                "reading a message's parts",
                self.request(
                    reqwest::Method::GET,
                    &format!("/transaction/{txn}/attachments"),
                )
                .query(&[("fields", "ContentType,Filename"), ("per_page", "50")]),
            )
            .await?;
        let items: Vec<&Json> = parts
            .get("items")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .collect();
        let body = |ct: &str| {
            items.iter().find(|p| {
                p.get("ContentType").and_then(Json::as_str) == Some(ct)
                    && p.get("Filename")
                        .and_then(Json::as_str)
                        .unwrap_or("")
                        .is_empty()
            })
        };
        let Some(part) = body("text/plain") else {
            return Ok(String::new());
        };
        let Some(aid) = part.get("id").and_then(id_of) else {
            return Ok(String::new());
        };
        let a = self
            .call(
                "reading a message",
                self.request(reqwest::Method::GET, &format!("/attachment/{aid}")),
            )
            .await?;
        let raw = a.get("Content").and_then(Json::as_str).unwrap_or("");
        let bytes = B64
            .decode(raw.replace(['\n', '\r'], ""))
            .map_err(|_| ConnectError::new("reading a message: its content is not base64"))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// RT writes ids as strings in some answers and numbers in others.
fn id_of(v: &Json) -> Option<String> {
    match v {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_carry_the_reference_first_on_one_line() {
        assert_eq!(
            subject("AUK2-GPA2", "Printer", "no paper\nat all"),
            "[AUK2-GPA2] Printer: no paper at all"
        );
        let long = subject("R", &"x".repeat(500), "y");
        assert_eq!(long.chars().count(), MAX_SUBJECT);
    }

    #[test]
    fn ids_come_as_strings_or_numbers() {
        assert_eq!(id_of(&json!("12")), Some("12".into()));
        assert_eq!(id_of(&json!(12)), Some("12".into()));
        assert_eq!(id_of(&json!("")), None);
    }
}
