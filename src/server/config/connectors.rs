//! The `[[connector]]` tables of the configuration file (contract section
//! 12), checked into [`Connector`]s: every secret read from the
//! environment now, every template compiled now, so a mistake stops the
//! start with a message naming the table and the key.

use super::resolve::{Origin, Problem};
use crate::connect::http::{EVENTS, HttpConfig};
use crate::connect::{Connector, RtAuth, RtConfig, Secret};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// One call to a ticketing system may take this long.
const TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_POLL: Duration = Duration::from_secs(30);

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Raw {
    Rt(RawRt),
    Http(RawHttp),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRt {
    name: Option<String>,
    url: String,
    user: Option<String>,
    password_env: Option<String>,
    token_env: Option<String>,
    #[serde(default)]
    queues: BTreeMap<String, String>,
    poll: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    name: Option<String>,
    on: Option<Vec<String>>,
    method: Option<String>,
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    id_from: Option<String>,
    link: Option<String>,
}

/// The connectors of the file at `path`, in their order.
pub(super) fn resolve(tables: &[toml::Table], path: &Path) -> Result<Vec<Connector>, Problem> {
    let mut out: Vec<Connector> = Vec::new();
    for (i, table) in tables.iter().enumerate() {
        let key = format!("connector[{}]", i + 1);
        let at = |p: Problem| p.from(&Origin::File { key: &key, path });
        let raw: Raw = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| {
                at(Problem::new(format!("this connector is not one fixpath knows: {}", e.message().trim()))
                    .hint("write kind = \"rt\" (Request Tracker) or kind = \"http\", with the keys of docs/connectors.md"))
            })?;
        let c = match raw {
            Raw::Rt(r) => Connector::Rt(rt(r).map_err(at)?),
            Raw::Http(h) => Connector::Http(http(h).map_err(at)?),
        };
        if out.iter().any(|o| o.name() == c.name()) {
            return Err(at(Problem::new(format!(
                "two connectors are named `{}`",
                c.name()
            ))
            .hint(
                "give each its own `name`: it is the `system` of the case's `external`",
            )));
        }
        out.push(c);
    }
    Ok(out)
}

fn secret(var: &str) -> Result<Secret, Problem> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
        _ => Err(
            Problem::new(format!("the environment variable {var} is not set"))
                .hint("secrets come from the environment only: set it for the server's process"),
        ),
    }
}

fn base_url(url: &str) -> Result<String, Problem> {
    let u = reqwest::Url::parse(url.trim()).map_err(|e| {
        Problem::new(format!("`url` is not a URL: {e}"))
            .hint("write e.g. https://rt.example.com/rt")
    })?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(Problem::new("`url` must be an http:// or https:// address"));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(Problem::new("`url` carries a user or password")
            .hint("give the user as `user` and the password through `password_env`"));
    }
    Ok(u.as_str().trim_end_matches('/').to_owned())
}

fn rt(r: RawRt) -> Result<RtConfig, Problem> {
    let auth = match (&r.user, &r.password_env, &r.token_env) {
        (Some(user), Some(var), None) => RtAuth::Basic {
            user: user.clone(),
            password: secret(var)?,
        },
        (_, None, Some(var)) => RtAuth::Token(secret(var)?),
        _ => {
            return Err(Problem::new("a Request Tracker connector signs in with `user` and `password_env`, or with `token_env`")
                .hint("e.g. user = \"fixpath\" and password_env = \"RT_PASSWORD\""));
        }
    };
    if r.queues.is_empty() {
        return Err(Problem::new("`queues` is empty: new cases would have no RT queue to go to")
            .hint("map fixpath queues to RT queues, with \"*\" for the rest: queues = { \"*\" = \"General\" }"));
    }
    let poll = match &r.poll {
        Some(p) => seconds(p)?,
        None => DEFAULT_POLL,
    };
    Ok(RtConfig {
        name: r.name.unwrap_or_else(|| "rt".to_owned()),
        url: base_url(&r.url)?,
        auth,
        queues: r.queues,
        poll,
        timeout: TIMEOUT,
    })
}

/// `30s`, `5m`, `1h`: at least a second, at most a day.
fn seconds(s: &str) -> Result<Duration, Problem> {
    let t = s.trim();
    let d = if let Some(n) = t
        .strip_suffix('s')
        .and_then(|n| n.trim().parse::<u64>().ok())
    {
        Duration::from_secs(n)
    } else {
        crate::case::sla::Duration::parse(t)
            .map(|d| Duration::from_secs((u64::from(d.days) * 1440 + u64::from(d.minutes)) * 60))
            .map_err(|_| {
                Problem::new(format!("`{t}` is not a poll interval"))
                    .hint("write e.g. 30s, 5m or 1h")
            })?
    };
    if d < Duration::from_secs(1) || d > Duration::from_secs(86_400) {
        return Err(
            Problem::new(format!("`{t}` is not a usable poll interval")).hint("give 1s to 1d")
        );
    }
    Ok(d)
}

fn http(h: RawHttp) -> Result<HttpConfig, Problem> {
    let on =
        h.on.unwrap_or_else(|| vec!["escalation.created".to_owned()]);
    if let Some(bad) = on.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(
            Problem::new(format!("`on` names `{bad}`, which is not a case event"))
                .hint(format!("use {}", EVENTS.join(", "))),
        );
    }
    let method = match h.method.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("POST") => reqwest::Method::POST,
        Some("PUT") => reqwest::Method::PUT,
        Some("PATCH") => reqwest::Method::PATCH,
        Some(m) => {
            return Err(
                Problem::new(format!("`method` {m} is not one a connector sends"))
                    .hint("use POST, PUT or PATCH"),
            );
        }
    };
    for name in h.headers.keys() {
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(Problem::new(format!("`{name}` is not a header name")));
        }
    }
    if let Some(p) = &h.id_from
        && !(p.is_empty() || p.starts_with('/'))
    {
        return Err(
            Problem::new(format!("`id_from` = \"{p}\" is not a JSON pointer"))
                .hint("write it like /ticket/id"),
        );
    }
    let cfg = HttpConfig {
        name: h.name.unwrap_or_else(|| "http".to_owned()),
        on,
        method,
        url: h.url,
        headers: h.headers,
        body: h.body,
        id_from: h.id_from,
        link: h.link,
        timeout: TIMEOUT,
    };
    crate::connect::http::check(&cfg).map_err(Problem::new)?;
    Ok(cfg)
}
