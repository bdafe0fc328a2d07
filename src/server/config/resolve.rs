//! The layers merged and every value checked: a setting that cannot be used
//! is a [`Problem`] naming where it came from and how to fix it.

use super::*;
use super::{brand, connectors};
use std::net::ToSocketAddrs;
use std::path::Path;

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

/// Parses the public address: an absolute `http` or `https` URL with a
/// host and nothing after its path; kept without a trailing slash.
pub fn parse_public_url(s: &str) -> Result<String, Problem> {
    let s = s.trim();
    let hint = "the address customers reach the server at, e.g. https://help.example.com";
    let url = reqwest::Url::parse(s)
        .map_err(|e| Problem::new(format!("`{s}` is not a URL ({e})")).hint(hint))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(Problem::new(format!("`{s}` is not an http(s) URL with a host")).hint(hint));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Problem::new(format!("`{s}` has a query or a fragment")).hint(hint));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
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
    pub(super) fn from(mut self, origin: &Origin) -> Problem {
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
pub(super) enum Origin<'a> {
    Flag {
        flag: &'static str,
        env: &'static str,
    },
    File {
        key: &'a str,
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

/// `--smtp` and `--mail-from`: both or neither. Each comes from its flag
/// (or variable), else the file, on its own.
fn resolve_mail(
    args: &Settings,
    file: Option<&ConfigFile>,
) -> Result<Option<delivery::mail::MailConfig>, Problem> {
    let origin_of = |flag: bool, flag_name, env, key| match (flag, file) {
        (false, Some(f)) => Origin::File { key, path: &f.path },
        _ => Origin::Flag {
            flag: flag_name,
            env,
        },
    };
    let smtp = pick(
        (args.smtp.as_deref(), "--smtp", "FIXPATH_SMTP"),
        file,
        ("smtp", |s| s.smtp.as_deref()),
        |v| Ok(v.to_owned()),
    )?;
    let from = pick(
        (
            args.mail_from.as_deref(),
            "--mail-from",
            "FIXPATH_MAIL_FROM",
        ),
        file,
        ("mail_from", |s| s.mail_from.as_deref()),
        |v| Ok(v.to_owned()),
    )?;
    let smtp_origin = origin_of(args.smtp.is_some(), "--smtp", "FIXPATH_SMTP", "smtp");
    let from_origin = origin_of(
        args.mail_from.is_some(),
        "--mail-from",
        "FIXPATH_MAIL_FROM",
        "mail_from",
    );
    match (smtp, from) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(Problem::new(
            "mail needs a sender: --mail-from (or FIXPATH_MAIL_FROM) is not set",
        )
        .hint("give the address mail comes from, e.g. --mail-from \"Helpdesk <help@example.com>\"")
        .from(&smtp_origin)),
        (None, Some(_)) => Err(Problem::new(
            "a sender is set but no SMTP server: --smtp (or FIXPATH_SMTP) is not set",
        )
        .hint("give the server too, e.g. --smtp smtps://USER:PASSWORD@mail.example.com, or drop the sender to send no mail")
        .from(&from_origin)),
        (Some(smtp), Some(from)) => delivery::mail::MailConfig::new(&smtp, &from)
            .map(Some)
            .map_err(|e| {
                let origin = match e {
                    delivery::mail::BadMail::From(_) => &from_origin,
                    _ => &smtp_origin,
                };
                Problem::new(e.to_string()).hint(e.hint()).from(origin)
            }),
    }
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

        let mut mail = resolve_mail(&args, file)?;

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

        let public_url = pick(
            (
                args.public_url.as_deref(),
                "--public-url",
                "FIXPATH_PUBLIC_URL",
            ),
            file,
            ("public_url", |s| s.public_url.as_deref()),
            parse_public_url,
        )?;

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

        let brand = match file {
            Some(f) => brand::resolve(
                f.settings.brand.as_ref(),
                f.settings.frame_ancestors.as_ref(),
                &f.path,
            )?,
            None => Default::default(),
        };
        if let (Some(mail), Some(name)) = (mail.as_mut(), brand.name.as_deref()) {
            mail.name_sender(name);
        }

        Ok(ServerConfig {
            scripts: args
                .scripts
                .or_else(|| under.scripts.clone())
                .unwrap_or_else(|| PathBuf::from(DEFAULT_SCRIPTS)),
            db,
            listen,
            webhooks,
            webhook_secret,
            mail,
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
            sla: match file {
                Some(f) => sla::resolve(
                    f.settings.reopen_within.as_deref(),
                    f.settings.sla.as_ref(),
                    &f.path,
                )?,
                None => crate::case::sla::Sla::default(),
            },
            public_url,
            retain: match file {
                Some(f) => sla::retain(
                    f.settings.retain.as_deref(),
                    f.settings.reopen_within.as_deref(),
                    &f.path,
                )?,
                None => None,
            },
            connectors: match file {
                Some(f) => connectors::resolve(
                    f.settings.connector.as_deref().unwrap_or_default(),
                    &f.path,
                )?,
                None => Vec::new(),
            },
            brand,
        })
    }
}
