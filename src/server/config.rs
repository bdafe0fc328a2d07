//! The server's settings, resolved once into a typed [`ServerConfig`] before
//! anything starts: a bad address, database URL, webhook or secret stops
//! `fixpath serve` with a clear message (exit 2) instead of surfacing later.
//!
//! Settings come in layers, highest first: command-line flags, environment
//! variables (clap reads both into one [`Settings`]), the TOML file of
//! `--config` / `FIXPATH_CONFIG`, and the defaults of contract section 7.
//! Relative paths in the file are read from the file's folder, so a service
//! started from `/` finds the same scripts as an operator in that folder.

use crate::delivery;
use serde::Deserialize;
use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
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
    pub body_limit: usize,
    /// How long a customer's wizard session may sit idle.
    pub session_idle: std::time::Duration,
    pub secure_cookies: bool,
    pub log_format: LogFormat,
    /// Password hashes at once and per-address request rates.
    pub limits: crate::http::limits::LimitConfig,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
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

/// Parses a listen address: `IP:PORT`, or `HOST:PORT` for a name that
/// resolves (e.g. `localhost:8080`). Port 0 picks a free port.
pub fn parse_listen(s: &str) -> Result<SocketAddr, Problem> {
    let s = s.trim();
    let bad = || {
        Problem::new(format!("`{s}` is not an address to listen on")).hint(
            "write HOST:PORT, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080 (port 0 picks a free port)",
        )
    };
    if let Ok(a) = s.parse::<SocketAddr>() {
        return Ok(a);
    }
    match s.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => s
            .to_socket_addrs()
            .ok()
            .and_then(|mut it| it.next())
            .ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// Parses a webhook endpoint: an absolute `http` or `https` URL with a host.
pub fn parse_webhook(s: &str) -> Result<reqwest::Url, Problem> {
    let s = s.trim();
    let hint = "a webhook is an http:// or https:// URL, e.g. https://hooks.example.com/fixpath";
    let url = reqwest::Url::parse(s)
        .map_err(|e| Problem::new(format!("`{s}` is not a URL ({e})")).hint(hint))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Problem::new(format!(
            "`{s}` is not an http(s) URL (scheme `{}`)",
            url.scheme()
        ))
        .hint(hint));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Problem::new(format!("`{s}` has no host")).hint(hint));
    }
    Ok(url)
}

/// A size in bytes: a number, or a string such as `64KiB`, `1MiB`, `512kb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteSize(pub usize);

impl ByteSize {
    pub fn parse(s: &str) -> Result<ByteSize, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: usize = num
            .parse()
            .map_err(|_| format!("`{s}` is not a size such as 65536, 64KiB or 1MiB"))?;
        let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kb" | "kib" => 1024,
            "m" | "mb" | "mib" => 1024 * 1024,
            _ => return Err(format!("`{s}` is not a size such as 65536, 64KiB or 1MiB")),
        };
        n.checked_mul(mult)
            .filter(|&b| b > 0)
            .map(ByteSize)
            .ok_or_else(|| format!("`{s}` is not a usable size (more than 0 bytes, please)"))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(0) => Err(serde::de::Error::custom("a body limit of 0 bytes")),
            Raw::Int(n) => usize::try_from(n)
                .map(ByteSize)
                .map_err(serde::de::Error::custom),
            Raw::Str(s) => ByteSize::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

/// One layer of settings; `None`: this layer leaves it to the next one.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub scripts: Option<PathBuf>,
    pub db: Option<String>,
    /// PostgreSQL connections per instance (SQLite ignores it).
    pub db_pool: Option<u32>,
    pub listen: Option<String>,
    pub webhooks: Option<Vec<String>>,
    pub webhook_secret: Option<String>,
    pub body_limit: Option<ByteSize>,
    /// Minutes a customer's wizard session may sit idle.
    pub session_idle: Option<u32>,
    pub secure_cookies: Option<bool>,
    pub log_format: Option<LogFormat>,
    /// The `[limits]` table (file only).
    pub limits: Option<LimitSettings>,
}

/// The `[limits]` table: what a stranger may make the server spend.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Password hashes checked at once (default: two per core).
    pub hash_slots: Option<u32>,
    /// Sign-in attempts per minute from one address.
    pub signin_per_minute: Option<u32>,
    /// Anonymous session starts per minute from one address.
    pub sessions_per_minute: Option<u32>,
    /// Addresses of the reverse proxies whose `X-Forwarded-For` names the
    /// client.
    pub trusted_proxies: Option<Vec<String>>,
}

impl LimitSettings {
    fn resolve(&self, path: &Path) -> Result<crate::http::limits::LimitConfig, Problem> {
        use crate::http::limits::{LimitConfig, Rate};
        let mut limits = LimitConfig::default();
        let check = |key: &'static str, n: u32, max: u32| {
            if (1..=max).contains(&n) {
                Ok(n)
            } else {
                Err(Problem::new(format!("{n} is not a usable value for {key}"))
                    .hint(format!("give 1 to {max}"))
                    .from(&Origin::File { key, path }))
            }
        };
        if let Some(n) = self.hash_slots {
            let n = check("limits.hash_slots", n, 256)? as usize;
            limits.hash_slots = n;
            limits.hash_queue = n * 8;
        }
        if let Some(n) = self.signin_per_minute {
            let n = check("limits.signin_per_minute", n, 10_000)?;
            limits.signin = Rate {
                per_minute: n,
                burst: n,
            };
        }
        if let Some(n) = self.sessions_per_minute {
            let n = check("limits.sessions_per_minute", n, 100_000)?;
            limits.session_start = Rate {
                per_minute: n,
                burst: n.div_ceil(2),
            };
        }
        for p in self.trusted_proxies.iter().flatten() {
            let ip = p.trim().parse::<std::net::IpAddr>().map_err(|_| {
                Problem::new(format!("`{p}` is not an IP address"))
                    .hint("list the proxies' addresses, e.g. [\"127.0.0.1\", \"::1\"]")
                    .from(&Origin::File {
                        key: "limits.trusted_proxies",
                        path,
                    })
            })?;
            limits.trusted_proxies.push(ip);
        }
        Ok(limits)
    }
}

/// The TOML file of `--config`.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    pub path: PathBuf,
    pub settings: Settings,
}

impl ConfigFile {
    pub fn load(path: &Path) -> Result<ConfigFile, Problem> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Problem::new(format!(
                "cannot read the config file `{}`: {e}",
                path.display()
            ))
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<ConfigFile, Problem> {
        let mut settings: Settings = toml::from_str(text).map_err(|e| {
            Problem::new(format!(
                "the config file `{}` is not valid: {}",
                path.display(),
                e.to_string().trim_end()
            ))
            .hint(
                "the keys are scripts, db, db_pool, listen, webhooks (a list), webhook_secret, \
                 body_limit, session_idle, secure_cookies, log_format and a [limits] table \
                 (hash_slots, signin_per_minute, sessions_per_minute, trusted_proxies)",
            )
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        if let Some(s) = settings.scripts.as_mut()
            && s.is_relative()
        {
            *s = base.join(&*s);
        }
        // A plain relative database path too (not a URL: those stay as given).
        if let Some(db) = settings.db.as_mut()
            && let Ok(Database::Sqlite {
                file: Some(file), ..
            }) = Database::parse(db)
            && file.is_relative()
            && *db == file.to_string_lossy()
        {
            *db = base.join(file).to_string_lossy().into_owned();
        }
        Ok(ConfigFile {
            path: path.to_path_buf(),
            settings,
        })
    }
}

/// A setting that could not be used: what was wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub hint: Option<String>,
}

impl Problem {
    pub fn new(message: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with where the value came from.
    fn from(mut self, origin: &Origin) -> Problem {
        self.message = format!("{origin}: {}", self.message);
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problem {}

/// Where a value came from, for messages.
enum Origin<'a> {
    Flag {
        flag: &'static str,
        env: &'static str,
    },
    File {
        key: &'static str,
        path: &'a Path,
    },
}

impl fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag { flag, env } => write!(f, "{flag} (or {env})"),
            Origin::File { key, path } => write!(f, "`{key}` in {}", path.display()),
        }
    }
}

/// One setting through the layers: the flag's value (or its variable's),
/// else the file's, parsed; an error says which of them was wrong.
fn pick<T>(
    flag: (Option<&str>, &'static str, &'static str),
    file: Option<&ConfigFile>,
    (key, in_file): (&'static str, fn(&Settings) -> Option<&str>),
    parse: impl Fn(&str) -> Result<T, Problem>,
) -> Result<Option<T>, Problem> {
    let (value, name, env) = flag;
    if let Some(v) = value {
        let origin = Origin::Flag { flag: name, env };
        return parse(v).map(Some).map_err(|p| p.from(&origin));
    }
    match file.and_then(|f| in_file(&f.settings).map(|v| (f, v))) {
        Some((f, v)) => {
            let origin = Origin::File { key, path: &f.path };
            parse(v).map(Some).map_err(|p| p.from(&origin))
        }
        None => Ok(None),
    }
}

/// The database of a flag (or its variable), else of the file, else the
/// default; `fixpath user add` reads it the same way as the server.
pub fn resolve_db(flag: Option<&str>, file: Option<&ConfigFile>) -> Result<Database, Problem> {
    let db = pick(
        (flag, "--db", "FIXPATH_DB"),
        file,
        ("db", |s| s.db.as_deref()),
        Database::parse,
    )?;
    Ok(db.unwrap_or_else(|| Database::parse(DEFAULT_DB).expect("the default database parses")))
}

impl ServerConfig {
    /// Merges the layers (flags and environment over the file over the
    /// defaults) and validates every value.
    pub fn resolve(args: Settings, file: Option<&ConfigFile>) -> Result<ServerConfig, Problem> {
        let empty = Settings::default();
        let under = file.map_or(&empty, |f| &f.settings);

        let listen = pick(
            (args.listen.as_deref(), "--listen", "FIXPATH_LISTEN"),
            file,
            ("listen", |s| s.listen.as_deref()),
            parse_listen,
        )?
        .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("the default address parses"));

        let webhook_secret = pick(
            (
                args.webhook_secret.as_deref(),
                "--webhook-secret",
                "FIXPATH_WEBHOOK_SECRET",
            ),
            file,
            ("webhook_secret", |s| s.webhook_secret.as_deref()),
            WebhookSecret::parse,
        )?;

        // A list: the flags' (or the variable's) replace the file's.
        let (hooks, origin) = match (&args.webhooks, &under.webhooks, file) {
            (Some(h), _, _) => (
                h.as_slice(),
                Origin::Flag {
                    flag: "--webhook",
                    env: "FIXPATH_WEBHOOKS",
                },
            ),
            (None, Some(h), Some(f)) => (
                h.as_slice(),
                Origin::File {
                    key: "webhooks",
                    path: &f.path,
                },
            ),
            _ => (
                &[][..],
                Origin::File {
                    key: "webhooks",
                    path: Path::new(""),
                },
            ),
        };
        let mut webhooks = Vec::new();
        for h in hooks.iter().filter(|h| !h.trim().is_empty()) {
            let url = parse_webhook(h).map_err(|p| p.from(&origin))?;
            if !webhooks.contains(&url) {
                webhooks.push(url);
            }
        }

        let mut db = resolve_db(args.db.as_deref(), file)?;
        let pool = match (args.db_pool, under.db_pool, file) {
            (Some(n), _, _) => Some((
                n,
                Origin::Flag {
                    flag: "--db-pool",
                    env: "FIXPATH_DB_POOL",
                },
            )),
            (None, Some(n), Some(f)) => Some((
                n,
                Origin::File {
                    key: "db_pool",
                    path: &f.path,
                },
            )),
            _ => None,
        };
        if let Some((n, origin)) = pool {
            if !(1..=MAX_DB_POOL).contains(&n) {
                return Err(Problem::new(format!(
                    "{n} is not a usable number of database connections"
                ))
                .hint(format!(
                    "give 1 to {MAX_DB_POOL}; every instance opens that many at most, and \
                     together they must stay under PostgreSQL's max_connections"
                ))
                .from(&origin));
            }
            // SQLite has one writer and a fixed set of readers: nothing to size.
            if let Database::Postgres { pool, .. } = &mut db {
                *pool = n;
            }
        }

        let idle_minutes = match (args.session_idle, under.session_idle, file) {
            (Some(n), _, _) => Some((
                n,
                Origin::Flag {
                    flag: "--session-idle",
                    env: "FIXPATH_SESSION_IDLE",
                },
            )),
            (None, Some(n), Some(f)) => Some((
                n,
                Origin::File {
                    key: "session_idle",
                    path: &f.path,
                },
            )),
            _ => None,
        };
        let session_idle = match idle_minutes {
            None => DEFAULT_SESSION_IDLE,
            Some((n @ 1..=1440, _)) => std::time::Duration::from_secs(u64::from(n) * 60),
            Some((n, origin)) => {
                return Err(Problem::new(format!(
                    "{n} minutes is not a usable idle time for a customer's session"
                ))
                .hint("give 1 to 1440 minutes (a day)")
                .from(&origin));
            }
        };

        Ok(ServerConfig {
            scripts: args
                .scripts
                .or_else(|| under.scripts.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_SCRIPTS)),
            db,
            listen,
            webhooks,
            webhook_secret,
            body_limit: args
                .body_limit
                .or(under.body_limit)
                .map_or(DEFAULT_BODY_LIMIT, |b| b.0),
            session_idle,
            secure_cookies: args
                .secure_cookies
                .or(under.secure_cookies)
                .unwrap_or(false),
            log_format: args.log_format.or(under.log_format).unwrap_or_default(),
            limits: match (&under.limits, file) {
                (Some(l), Some(f)) => l.resolve(&f.path)?,
                _ => crate::http::limits::LimitConfig::default(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        ConfigFile::parse(Path::new("/etc/fixpath/fixpath.toml"), text).unwrap()
    }

    #[test]
    fn defaults_follow_the_contract() {
        let c = ServerConfig::resolve(Settings::default(), None).unwrap();
        assert_eq!(c.scripts, PathBuf::from("scripts"));
        assert_eq!(
            c.db,
            Database::Sqlite {
                url: "fixpath-data/fixpath.db".into(),
                file: Some("fixpath-data/fixpath.db".into())
            }
        );
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(c.webhooks.is_empty());
        assert!(c.webhook_secret.is_none());
        assert_eq!(c.body_limit, DEFAULT_BODY_LIMIT);
        assert_eq!(c.log_format, LogFormat::Text);
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let f = file(
            r#"
            scripts = "library"
            db = "data/fp.db"
            listen = "0.0.0.0:9000"
            webhooks = ["https://a.example/hook"]
            webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            body_limit = "1MiB"
            log_format = "json"
            "#,
        );
        let c = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap();
        assert_eq!(c.scripts, PathBuf::from("/etc/fixpath/library"));
        assert_eq!(
            c.db,
            Database::Sqlite {
                url: "/etc/fixpath/data/fp.db".into(),
                file: Some("/etc/fixpath/data/fp.db".into())
            }
        );
        assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(c.webhooks[0].as_str(), "https://a.example/hook");
        assert!(c.webhook_secret.is_some());
        assert_eq!(c.body_limit, 1024 * 1024);
        assert_eq!(c.log_format, LogFormat::Json);

        let args = Settings {
            scripts: Some("mine".into()),
            db: Some("sqlite://other.db".into()),
            listen: Some("127.0.0.1:0".into()),
            webhooks: Some(vec!["http://b.example/".into()]),
            log_format: Some(LogFormat::Text),
            ..Settings::default()
        };
        let c = ServerConfig::resolve(args, Some(&f)).unwrap();
        assert_eq!(c.scripts, PathBuf::from("mine"));
        assert_eq!(
            c.db,
            Database::Sqlite {
                url: "sqlite://other.db".into(),
                file: Some("other.db".into())
            }
        );
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.webhooks.len(), 1);
        assert_eq!(c.webhooks[0].host_str(), Some("b.example"));
        assert_eq!(c.log_format, LogFormat::Text);
        // Not overridden: still the file's.
        assert_eq!(c.body_limit, 1024 * 1024);
        assert!(c.webhook_secret.is_some());
    }

    #[test]
    fn database_urls() {
        let db = Database::parse("postgres://fp:hunter2@db.internal/fixpath").unwrap();
        assert_eq!(
            db,
            Database::Postgres {
                url: "postgres://fp:hunter2@db.internal/fixpath".into(),
                pool: DEFAULT_DB_POOL
            }
        );
        let shown = db.to_string();
        assert_eq!(shown, "postgres://fp:***@db.internal/fixpath");
        assert!(matches!(
            Database::parse("postgresql://db/x?sslmode=require"),
            Ok(Database::Postgres { .. })
        ));
        let e = Database::parse("postgres://fp:hunter2@db:notaport/x").unwrap_err();
        assert!(e.message.contains("not a valid PostgreSQL URL"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(Database::parse("mysql://db/x").is_err());
        assert_eq!(
            Database::parse("sqlite::memory:").unwrap(),
            Database::Sqlite {
                url: "sqlite::memory:".into(),
                file: None
            }
        );
        assert_eq!(
            Database::parse("sqlite:///var/lib/fp.db?mode=rwc").unwrap(),
            Database::Sqlite {
                url: "sqlite:///var/lib/fp.db?mode=rwc".into(),
                file: Some("/var/lib/fp.db".into())
            }
        );
    }

    #[test]
    fn a_bare_word_is_not_a_database_file() {
        for ok in [
            "fixpath-data/fixpath.db",
            "/var/lib/fixpath/data.SQLITE",
            "x.sqlite3",
            "sqlite://anything",
            "sqlite:anything",
        ] {
            assert!(
                matches!(Database::parse(ok), Ok(Database::Sqlite { .. })),
                "{ok}"
            );
        }
        for bad in [
            "nonsense",
            "fixpath-data/fixpath",
            "db.internal:5432/fixpath",
            "x.txt",
        ] {
            let e = Database::parse(bad).unwrap_err();
            assert!(e.message.contains("is not a database"), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_values_say_where_they_came_from() {
        let args = Settings {
            listen: Some("localhost".into()),
            ..Settings::default()
        };
        let e = ServerConfig::resolve(args, None).unwrap_err();
        assert!(
            e.message
                .starts_with("--listen (or FIXPATH_LISTEN): `localhost`"),
            "{e}"
        );
        assert!(e.hint.is_some());

        let f = file("webhooks = [\"ftp://files.example/x\"]");
        let e = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap_err();
        assert!(
            e.message
                .starts_with("`webhooks` in /etc/fixpath/fixpath.toml"),
            "{e}"
        );
        assert!(e.message.contains("not an http(s) URL"), "{e}");

        let args = Settings {
            webhook_secret: Some("hunter2".into()),
            ..Settings::default()
        };
        let e = ServerConfig::resolve(args, None).unwrap_err();
        assert!(e.to_string().contains("whsec_"), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn the_limits_table_sets_hash_slots_and_rates() {
        use crate::http::limits::{LimitConfig, Rate};
        let c = ServerConfig::resolve(Settings::default(), None).unwrap();
        assert_eq!(c.limits, LimitConfig::default());
        let f = file("[limits]\nhash_slots = 3\nsignin_per_minute = 20\nsessions_per_minute = 100");
        let c = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap();
        assert_eq!((c.limits.hash_slots, c.limits.hash_queue), (3, 24));
        assert_eq!(
            c.limits.signin,
            Rate {
                per_minute: 20,
                burst: 20
            }
        );
        assert_eq!(c.limits.session_start.per_minute, 100);
        let f = file("[limits]\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]");
        let c = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap();
        assert_eq!(c.limits.trusted_proxies.len(), 2);
        let f = file("[limits]\ntrusted_proxies = [\"nginx\"]");
        let e = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap_err();
        assert!(
            e.to_string().contains("`nginx` is not an IP address"),
            "{e}"
        );
        let f = file("[limits]\nhash_slots = 0");
        let e = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap_err();
        assert!(e.to_string().contains("limits.hash_slots"), "{e}");
        let e = ConfigFile::parse(Path::new("x.toml"), "[limits]\nhash_slot = 2").unwrap_err();
        assert!(e.to_string().contains("hash_slot"), "{e}");
    }

    #[test]
    fn the_customers_idle_time_and_secure_cookies_are_settings() {
        let c = ServerConfig::resolve(Settings::default(), None).unwrap();
        assert_eq!(c.session_idle, DEFAULT_SESSION_IDLE);
        assert!(!c.secure_cookies);
        let f = file("session_idle = 10\nsecure_cookies = true");
        let c = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap();
        assert_eq!(c.session_idle, std::time::Duration::from_secs(600));
        assert!(c.secure_cookies);
        let args = Settings {
            session_idle: Some(5),
            secure_cookies: Some(false),
            ..Settings::default()
        };
        let c = ServerConfig::resolve(args, Some(&f)).unwrap();
        assert_eq!(c.session_idle, std::time::Duration::from_secs(300));
        assert!(!c.secure_cookies, "the flag wins");
        for bad in [0, 1441] {
            let args = Settings {
                session_idle: Some(bad),
                ..Settings::default()
            };
            let e = ServerConfig::resolve(args, None).unwrap_err();
            assert!(
                e.message
                    .starts_with("--session-idle (or FIXPATH_SESSION_IDLE)"),
                "{e}"
            );
        }
    }

    #[test]
    fn the_pool_size_is_validated_and_applies_to_postgres() {
        let pg = || Settings {
            db: Some("postgres://fp@db/fixpath".into()),
            ..Settings::default()
        };
        let c = ServerConfig::resolve(pg(), None).unwrap();
        assert!(matches!(c.db, Database::Postgres { pool, .. } if pool == DEFAULT_DB_POOL));
        let f = file("db_pool = 40");
        let c = ServerConfig::resolve(pg(), Some(&f)).unwrap();
        assert!(matches!(c.db, Database::Postgres { pool: 40, .. }));
        let args = Settings {
            db_pool: Some(8),
            ..pg()
        };
        let c = ServerConfig::resolve(args, Some(&f)).unwrap();
        assert!(
            matches!(c.db, Database::Postgres { pool: 8, .. }),
            "the flag wins"
        );
        for bad in [0, MAX_DB_POOL + 1] {
            let args = Settings {
                db_pool: Some(bad),
                ..pg()
            };
            let e = ServerConfig::resolve(args, None).unwrap_err();
            assert!(
                e.message.starts_with("--db-pool (or FIXPATH_DB_POOL)"),
                "{e}"
            );
        }
        let e = ServerConfig::resolve(pg(), Some(&file("db_pool = 0"))).unwrap_err();
        assert!(
            e.message
                .starts_with("`db_pool` in /etc/fixpath/fixpath.toml"),
            "{e}"
        );
        // SQLite has nothing to size: accepted, unused.
        let sqlite = Settings {
            db_pool: Some(4),
            ..Settings::default()
        };
        assert!(matches!(
            ServerConfig::resolve(sqlite, None).unwrap().db,
            Database::Sqlite { .. }
        ));
    }

    #[test]
    fn listen_addresses() {
        assert_eq!(parse_listen("[::1]:80").unwrap().port(), 80);
        assert_eq!(parse_listen("localhost:8080").unwrap().port(), 8080);
        assert!(parse_listen("127.0.0.1").is_err());
        assert!(parse_listen("127.0.0.1:99999").is_err());
        assert!(parse_listen(":8080").is_err());
    }

    #[test]
    fn sizes_and_unknown_keys() {
        assert_eq!(ByteSize::parse("64KiB").unwrap().0, 65536);
        assert_eq!(ByteSize::parse("2 mb").unwrap().0, 2 * 1024 * 1024);
        assert_eq!(ByteSize::parse("100").unwrap().0, 100);
        assert!(ByteSize::parse("lots").is_err());
        assert!(ByteSize::parse("0").is_err());
        let e = ConfigFile::parse(Path::new("f.toml"), "listn = \"x\"").unwrap_err();
        assert!(e.message.contains("unknown field `listn`"), "{e}");
        let e = ConfigFile::parse(Path::new("f.toml"), "log_format = \"xml\"").unwrap_err();
        assert!(e.message.contains("xml"), "{e}");
    }

    #[test]
    fn secrets_are_never_printed() {
        let s = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(format!("{s:?}"), "WebhookSecret(***)");
    }
}
