//! The server's settings, resolved once into a typed [`ServerConfig`] before
//! anything starts: a bad address, database URL, webhook or secret stops
//! `fixpath serve` with a clear message (exit 2) instead of surfacing later.
//!
//! Settings come in layers, highest first: command-line flags, environment
//! variables (clap reads both into one [`Settings`]), the TOML file of
//! `--config` / `FIXPATH_CONFIG`, and the defaults of contract section 7.
//! Relative paths in the file are read from the file's folder, so a service
//! started from `/` finds the same scripts as an operator in that folder.
//!
//! This module holds the resolved types; [`file`] the layer of settings
//! (what clap reads from flags and the environment, and the TOML file),
//! [`resolve`] the merging and checking of the layers into a [`ServerConfig`].

mod brand;
mod connectors;
mod file;
mod resolve;
mod sla;
#[cfg(test)]
mod tests;

pub use file::{ByteSize, ConfigFile, LimitSettings, Settings};
pub use resolve::{Problem, parse_listen, parse_public_url, parse_webhook, resolve_db};

use crate::delivery;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The default scripts folder (contract section 7).
pub const DEFAULT_SCRIPTS: &str = "scripts";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// The default database: an SQLite file under `./fixpath-data/`.
pub const DEFAULT_DB: &str = "fixpath-data/fixpath.db";
/// The default size of the PostgreSQL connection pool (per instance).
pub const DEFAULT_DB_POOL: u32 = crate::store::postgres::DEFAULT_POOL;
/// The largest pool accepted: PostgreSQL's own default `max_connections` is
/// 100, shared by every instance and the operators' tools.
pub const MAX_DB_POOL: u32 = 500;
/// How long a customer's wizard session may sit idle by default.
pub const DEFAULT_SESSION_IDLE: std::time::Duration = std::time::Duration::from_secs(30 * 60);
/// The default largest request body.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// Everything the server needs, validated.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub scripts: PathBuf,
    pub db: Database,
    pub listen: SocketAddr,
    /// Every escalation event goes to each of these.
    pub webhooks: Vec<reqwest::Url>,
    pub webhook_secret: Option<WebhookSecret>,
    /// Case mail (`--smtp`, `--mail-from`); `None`: mail is off.
    pub mail: Option<delivery::mail::MailConfig>,
    pub body_limit: usize,
    /// How long a customer's wizard session may sit idle.
    pub session_idle: std::time::Duration,
    pub secure_cookies: bool,
    pub log_format: LogFormat,
    /// Password hashes at once and per-address request rates.
    pub limits: crate::http::limits::LimitConfig,
    /// Service levels (`[sla]`, file only) and `reopen_within`: the server
    /// hands this to the case workflow as its `DueTimes`.
    pub sla: crate::case::sla::Sla,
    /// Where the links in mails lead (`https://help.example.com`, no
    /// trailing slash); `None`: the address each request came to.
    pub public_url: Option<String>,
    /// Ticketing connectors (`[[connector]]`, file only).
    pub connectors: Vec<crate::connect::Connector>,
    /// `retain` (file only): personal data of sessions that ended and cases
    /// resolved longer ago than this is removed by the retention sweep;
    /// `None`: kept.
    pub retain: Option<time::Duration>,
    /// The customer pages' brand and who may frame them (`[brand]`, file
    /// only).
    pub brand: crate::http::web::brand::Brand,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event
    #[default]
    Text,
    /// One JSON object per line, for log collectors
    Json,
}

/// Where the server keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// `url` is what the store opens (a path or an `sqlite:` URL); `file` is
    /// the database file, `None` for an in-memory database.
    Sqlite { url: String, file: Option<PathBuf> },
    /// A `postgres://` or `postgresql://` URL (what sqlx accepts, e.g.
    /// `?sslmode=require`), and the most connections this process opens.
    Postgres { url: String, pool: u32 },
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite {
                file: Some(path), ..
            } => write!(f, "sqlite {}", path.display()),
            Database::Sqlite { file: None, .. } => f.write_str("sqlite in memory"),
            Database::Postgres { url, .. } => write!(f, "{}", redact_password(url)),
        }
    }
}

impl Database {
    /// Parses a `--db` value: a file path, `sqlite://PATH`, `sqlite:PATH`,
    /// `sqlite::memory:`, or `postgres://…` / `postgresql://…` (with the
    /// default pool size; [`ServerConfig::resolve`] applies `--db-pool`).
    pub fn parse(s: &str) -> Result<Database, Problem> {
        let s = s.trim();
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            // Checked now, so a typo stops the start with exit 2 rather than
            // at the first connection. sqlx's own message may quote the
            // password: not shown.
            if <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(s).is_err() {
                return Err(
                    Problem::new(format!("`{}` is not a valid PostgreSQL URL", redact_password(s)))
                        .hint("write postgres://USER:PASSWORD@HOST:PORT/DATABASE, e.g. postgres://fixpath@db.internal/fixpath"),
                );
            }
            return Ok(Database::Postgres {
                url: s.to_owned(),
                pool: DEFAULT_DB_POOL,
            });
        }
        if lower.starts_with("sqlite:") {
            let rest = s["sqlite:".len()..]
                .strip_prefix("//")
                .unwrap_or(&s["sqlite:".len()..]);
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Ok(Database::Sqlite {
                    url: s.to_owned(),
                    file: None,
                });
            }
            return Ok(Database::Sqlite {
                url: s.to_owned(),
                file: Some(PathBuf::from(path)),
            });
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(
                Problem::new(format!("`{scheme}://` databases are not supported")).hint(
                    "give an SQLite file path, e.g. fixpath-data/fixpath.db, sqlite://PATH, \
                     or a postgres:// URL",
                ),
            );
        }
        if s.is_empty() {
            return Err(Problem::new("the database path is empty")
                .hint("give an SQLite file path, e.g. fixpath-data/fixpath.db"));
        }
        // A bare word is more likely a mistake (a name meant for another
        // flag, a URL without its scheme) than a database file to create.
        let is_sqlite_file = Path::new(s)
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| {
                ["db", "sqlite", "sqlite3"]
                    .iter()
                    .any(|x| e.eq_ignore_ascii_case(x))
            });
        if !is_sqlite_file {
            return Err(Problem::new(format!(
                "`{s}` is not a database: an SQLite file path ends in .db, .sqlite or .sqlite3"
            ))
            .hint(
                "give e.g. fixpath-data/fixpath.db, sqlite://PATH for any other file name, \
                 or a postgres:// URL",
            ));
        }
        Ok(Database::Sqlite {
            url: s.to_owned(),
            file: Some(PathBuf::from(s)),
        })
    }
}

/// `postgres://user:secret@host` → `postgres://user:***@host`, for messages.
fn redact_password(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((auth, host)) if auth.contains(':') => {
                let user = auth.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            _ => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The key of a `whsec_…` secret. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl WebhookSecret {
    pub fn parse(s: &str) -> Result<WebhookSecret, Problem> {
        delivery::parse_secret(s)
            .map(WebhookSecret)
            .map_err(|e| Problem::new("the webhook secret is not valid").hint(e.to_string()))
    }

    pub fn key(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}
