//! The generic HTTP connector (`kind = "http"`, contract section 12): one
//! request per case event it is set up for, its URL, headers and body
//! rendered from minijinja templates over the record; the ticket's id read
//! from the answer with a JSON pointer and kept in the case's `external`.
//!
//! Templates are the operator's, but they still run bounded: fuel caps the
//! work of one render, and the rendered parts have size limits. The
//! environment is readable in headers only (`env.NAME`), so a secret can go
//! into an `Authorization` header and never into a body or URL that a
//! ticketing system would store or log.

use super::{ConnectError, read_capped};
use crate::case::External;
use crate::clock::Clock;
use crate::store::{Store, TicketLink};
use minijinja::value::{Object, Value};
use minijinja::{AutoEscape, Environment};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The most an answer may be.
pub const MAX_ANSWER: usize = 1024 * 1024;
/// The most a rendered body may be.
pub const MAX_BODY: usize = 4 * 1024 * 1024;
/// Work one render may do (minijinja's fuel).
const FUEL: u64 = 2_000_000;

/// The events a connector may be set up for.
pub const EVENTS: [&str; 9] = [
    "escalation.created",
    "escalation.claimed",
    "escalation.taken_over",
    "escalation.note_added",
    "escalation.replied",
    "escalation.customer_message",
    "escalation.resolved",
    "escalation.reopened",
    "escalation.escalated",
];

/// An HTTP connector, checked.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub name: String,
    pub on: Vec<String>,
    pub method: reqwest::Method,
    /// Templates: the URL, each header's value, the body, the link.
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub body: Option<String>,
    /// RFC 6901 pointer to the ticket's id in the answer.
    pub id_from: Option<String>,
    pub link: Option<String>,
    pub timeout: Duration,
}

/// Compiles every template of `cfg`: a mistake stops the start, not the
/// first delivery.
pub fn check(cfg: &HttpConfig) -> Result<(), String> {
    environment(cfg).map(|_| ())
}

fn environment(cfg: &HttpConfig) -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    // JSON bodies: values go in through `tojson`, not HTML escaping.
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let mut add = |name: String, src: &str| {
        env.add_template_owned(name.clone(), src.to_owned())
            .map_err(|e| format!("the template `{name}` does not compile: {e}"))
    };
    add("url".into(), &cfg.url)?;
    for (h, v) in &cfg.headers {
        add(format!("headers.{h}"), v)?;
    }
    if let Some(b) = &cfg.body {
        add("body".into(), b)?;
    }
    if let Some(l) = &cfg.link {
        add("link".into(), l)?;
    }
    Ok(env)
}

/// `env.NAME` in header templates: read when asked for, one name at a time.
#[derive(Debug)]
struct EnvVars;

impl Object for EnvVars {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        std::env::var(key.as_str()?).ok().map(Value::from)
    }
}

pub struct HttpConnector {
    cfg: HttpConfig,
    env: Environment<'static>,
    client: reqwest::Client,
}

impl HttpConnector {
    pub fn new(cfg: HttpConfig) -> Result<HttpConnector, ConnectError> {
        let env = environment(&cfg).map_err(ConnectError::new)?;
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("fixpath/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConnectError::new(format!("no HTTP client: {e}")))?;
        Ok(HttpConnector { cfg, env, client })
    }

    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    fn render(&self, name: &str, ctx: &Value, limit: usize) -> Result<String, ConnectError> {
        let t = self
            .env
            .get_template(name)
            .map_err(|e| ConnectError::new(format!("{name}: {e}")))?;
        let out = t
            .render(ctx)
            .map_err(|e| ConnectError::new(format!("rendering {name}: {e}")))?;
        if out.len() > limit {
            return Err(ConnectError::new(format!(
                "rendering {name}: {} bytes, more than {limit}",
                out.len()
            )));
        }
        Ok(out)
    }

    /// Sends event `event` of case `escalation` (outbox message `message_id`)
    /// when the connector is set up for it.
    pub async fn deliver(
        &self,
        store: &dyn Store,
        message_id: &str,
        event: &str,
        escalation: &str,
    ) -> Result<(), ConnectError> {
        if !self.cfg.on.iter().any(|e| e == event) {
            return Ok(());
        }
        let Some(e) = store.escalation(escalation).await? else {
            return Ok(());
        };
        let ids: BTreeMap<&str, &str> = e
            .case
            .external
            .iter()
            .map(|x| (x.system.as_str(), x.id.as_str()))
            .collect();
        let record = Value::from_serialize(&e);
        let ctx = minijinja::context! {
            record => record,
            event => event,
            message_id => message_id,
            ids => ids,
        };
        let url = self.render("url", &ctx, 8 * 1024)?;
        let url = reqwest::Url::parse(url.trim())
            .map_err(|err| ConnectError::new(format!("the rendered URL is not a URL: {err}")))?;
        let mut req = self.client.request(self.cfg.method.clone(), url.clone());
        let header_ctx = minijinja::context! { env => Value::from_object(EnvVars), ..ctx.clone() };
        for h in self.cfg.headers.keys() {
            let v = self.render(&format!("headers.{h}"), &header_ctx, 8 * 1024)?;
            req = req.header(h.as_str(), v.trim());
        }
        if self.cfg.body.is_some() {
            let body = self.render("body", &ctx, MAX_BODY)?;
            if !self
                .cfg
                .headers
                .keys()
                .any(|h| h.eq_ignore_ascii_case("content-type"))
            {
                req = req.header("content-type", "application/json");
            }
            req = req.body(body);
        }
        let shown = crate::delivery::redact_url(url.as_str());
        let resp = req.send().await.map_err(|err| {
            ConnectError::new(format!(
                "{shown}: {}",
                crate::delivery::describe(&err.without_url())
            ))
        })?;
        let status = resp.status();
        let answer = read_capped(resp, MAX_ANSWER)
            .await
            .map_err(|err| ConnectError::new(format!("{shown}: {err}")))?;
        if !status.is_success() {
            return Err(ConnectError::new(format!("{shown} answered {status}")));
        }
        if let Some(pointer) = &self.cfg.id_from {
            self.keep_id(store, &e.record.id, pointer, &answer, &ctx)
                .await?;
        }
        Ok(())
    }

    /// Reads the ticket's id from the answer the first time there is one,
    /// and links it to the case.
    async fn keep_id(
        &self,
        store: &dyn Store,
        escalation: &str,
        pointer: &str,
        answer: &[u8],
        ctx: &Value,
    ) -> Result<(), ConnectError> {
        let name = &self.cfg.name;
        let mut link = store
            .ticket_link(escalation, name)
            .await?
            .unwrap_or_else(|| TicketLink::new(escalation, name));
        if link.external_id.is_some() {
            return Ok(());
        }
        // The request was taken either way: sending it again would make a
        // second ticket. An answer without the id is said loudly, once.
        let json: Option<Json> = serde_json::from_slice(answer).ok();
        let id = match json.as_ref().and_then(|j| j.pointer(pointer)) {
            Some(Json::String(s)) if !s.is_empty() => s.clone(),
            Some(Json::Number(n)) => n.to_string(),
            _ => {
                tracing::error!(connector = %name, escalation, pointer, "the answer has no ticket id at `id_from`; the case stays unlinked");
                return Ok(());
            }
        };
        let url = match &self.cfg.link {
            Some(_) => {
                let link_ctx = minijinja::context! { id => id.clone(), ..ctx.clone() };
                self.render("link", &link_ctx, 8 * 1024)?.trim().to_owned()
            }
            None => String::new(),
        };
        link.external_id = Some(id.clone());
        link.url = Some(url.clone()).filter(|u| !u.is_empty());
        // Nothing is read back from a generic system.
        link.open = false;
        store.save_ticket_link(&link, Clock::system().now()).await?;
        store
            .link_external(
                escalation,
                &External {
                    system: name.clone(),
                    id,
                    url,
                },
            )
            .await?;
        Ok(())
    }
}
