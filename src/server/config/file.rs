//! One layer of settings ([`Settings`]: what clap reads from the flags and
//! the environment, and what the TOML file holds) and the TOML file itself.

use super::resolve::Origin;
use super::{Database, LogFormat, Problem};
use serde::Deserialize;
use std::path::{Path, PathBuf};

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
    /// The SMTP server of case mail (`smtp://…`, `smtps://…`); none: no mail.
    pub smtp: Option<String>,
    /// The sender of case mail; required with `smtp`.
    pub mail_from: Option<String>,
    pub body_limit: Option<ByteSize>,
    /// Minutes a customer's wizard session may sit idle.
    pub session_idle: Option<u32>,
    pub secure_cookies: Option<bool>,
    pub log_format: Option<LogFormat>,
    /// The server's public address, for the links in mails.
    pub public_url: Option<String>,
    /// The `[limits]` table (file only).
    pub limits: Option<LimitSettings>,
    /// How long after its resolution a customer's message reopens a case
    /// (file only): a duration such as `7d`.
    pub reopen_within: Option<String>,
    /// How long personal data of ended sessions and resolved cases is kept
    /// (file only): a duration such as `180d`; none: kept until erased.
    pub retain: Option<String>,
    /// The `[sla]` table (file only), kept as TOML so its checks can name
    /// every key (`config::sla`).
    pub sla: Option<toml::Table>,
    /// The `[[connector]]` tables (file only), kept as TOML and checked by
    /// `config::connectors`.
    pub connector: Option<Vec<toml::Table>>,
    /// The `[brand]` table (file only), checked by `config::brand`.
    pub brand: Option<toml::Table>,
    /// The sites that may frame the customer pages (file only; also taken
    /// in `[brand]`).
    pub frame_ancestors: Option<toml::Value>,
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
    /// `/status` look-ups per minute from one address.
    pub status_per_minute: Option<u32>,
    /// Addresses of the reverse proxies whose `X-Forwarded-For` names the
    /// client.
    pub trusted_proxies: Option<Vec<String>>,
}

impl LimitSettings {
    pub(super) fn resolve(&self, path: &Path) -> Result<crate::http::limits::LimitConfig, Problem> {
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
        if let Some(n) = self.status_per_minute {
            let n = check("limits.status_per_minute", n, 10_000)?;
            limits.status_lookup = Rate {
                per_minute: n,
                burst: n,
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
                 smtp, mail_from, body_limit, session_idle, secure_cookies, log_format, \
                 public_url, reopen_within, retain, a [limits] table (hash_slots, signin_per_minute, \
                 sessions_per_minute, status_per_minute, trusted_proxies), [sla.tier1] to \
                 [sla.tier4] tables, [[connector]] tables and a [brand] table (name, logo, \
                 colour, support_url, frame_ancestors)",
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
