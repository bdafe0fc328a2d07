//! `fixpath serve`: the server (contract section 7). The flags and their
//! environment variables are read here; the TOML file of `--config` goes
//! underneath; [`crate::server`] does the rest once everything is valid.

use super::exit;
use super::formats::LogArg;
use crate::server::ServeError;
use crate::server::config::{ConfigFile, ServerConfig, Settings};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[command(after_help = "\
Settings come from flags, then environment variables, then the --config file, \
then the defaults. The file is TOML with the keys scripts, db, db_pool, listen, webhooks \
(a list), webhook_secret, smtp, mail_from, body_limit (bytes, or e.g. \"1MiB\"), session_idle (minutes), \
secure_cookies, log_format, public_url and a [limits] table (hash_slots, signin_per_minute, \
sessions_per_minute, status_per_minute, trusted_proxies), [sla.tierN] tables, reopen_within, \
[[connector]] tables and a [brand] table (name, logo, colour, support_url, frame_ancestors); \
relative paths in it are read from its folder. Logs go to stderr; FIXPATH_LOG \
or RUST_LOG sets the filter (default: info).")]
pub struct Args {
    /// The folder of troubleshooting scripts [default: scripts]
    #[arg(long, env = "FIXPATH_SCRIPTS", value_name = "DIR")]
    pub scripts: Option<PathBuf>,
    /// The database: an SQLite file path ending in .db, .sqlite or .sqlite3, an sqlite:// URL, or
    /// a postgres:// URL for several instances sharing one database
    /// [default: fixpath-data/fixpath.db]
    #[arg(long, env = "FIXPATH_DB", value_name = "URL", hide_env_values = true)]
    pub db: Option<String>,
    /// PostgreSQL connections this instance opens at most, 1 to 500 [default: 16]
    #[arg(long, env = "FIXPATH_DB_POOL", value_name = "N")]
    pub db_pool: Option<u32>,
    /// The address to listen on; port 0 picks a free port [default: 127.0.0.1:8080]
    #[arg(long, env = "FIXPATH_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Send every escalation event to this URL (repeatable; the variable is comma-separated)
    #[arg(
        long = "webhook",
        env = "FIXPATH_WEBHOOKS",
        value_name = "URL",
        value_delimiter = ','
    )]
    pub webhooks: Vec<String>,
    /// Sign webhooks with this Standard Webhooks secret
    #[arg(
        long,
        env = "FIXPATH_WEBHOOK_SECRET",
        value_name = "whsec_BASE64",
        hide_env_values = true
    )]
    pub webhook_secret: Option<String>,
    /// Mail customers about their case through this SMTP server: smtps://USER:PASSWORD@HOST:465,
    /// smtp://USER:PASSWORD@HOST:587?tls=required (STARTTLS) or smtp://HOST:25 (unencrypted)
    /// [default: no mail]
    #[arg(long, env = "FIXPATH_SMTP", value_name = "URL", hide_env_values = true)]
    pub smtp: Option<String>,
    /// The sender of case mail, e.g. "Helpdesk <help@example.com>"; required with --smtp
    #[arg(long, env = "FIXPATH_MAIL_FROM", value_name = "ADDRESS")]
    pub mail_from: Option<String>,
    /// A TOML file with the same settings, under the flags and variables
    #[arg(long, env = "FIXPATH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Minutes a customer's wizard session may sit idle before it no longer opens, 1 to 1440
    /// [default: 30]
    #[arg(long, env = "FIXPATH_SESSION_IDLE", value_name = "MINUTES")]
    pub session_idle: Option<u32>,
    /// Mark cookies Secure even when no proxy says `X-Forwarded-Proto: https` (set it when TLS
    /// ends in front of fixpath) [default: false]
    #[arg(
        long,
        env = "FIXPATH_SECURE_COOKIES",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    pub secure_cookies: Option<bool>,
    /// How to write the logs [default: text]
    #[arg(long, value_enum, env = "FIXPATH_LOG_FORMAT")]
    pub log_format: Option<LogArg>,
    /// The server's public address, where the links in mails lead, e.g.
    /// https://help.example.com [default: the address each request came to]
    #[arg(long, env = "FIXPATH_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
}

impl Args {
    /// This layer of settings: flags, or the environment where a flag is
    /// missing (clap reads both). An empty value (`FIXPATH_DB=`) counts as
    /// not set, as deployment tools write unset variables that way.
    fn settings(&self) -> Settings {
        let set = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        let webhooks: Vec<String> = self
            .webhooks
            .iter()
            .filter(|w| !w.trim().is_empty())
            .cloned()
            .collect();
        Settings {
            scripts: self.scripts.clone().filter(|p| !p.as_os_str().is_empty()),
            db: set(&self.db),
            db_pool: self.db_pool,
            listen: set(&self.listen),
            webhooks: (!webhooks.is_empty()).then_some(webhooks),
            webhook_secret: set(&self.webhook_secret),
            smtp: set(&self.smtp),
            mail_from: set(&self.mail_from),
            body_limit: None,
            session_idle: self.session_idle,
            secure_cookies: self.secure_cookies,
            log_format: self.log_format.map(Into::into),
            public_url: set(&self.public_url),
            limits: None,
            reopen_within: None,
            retain: None,
            sla: None,
            connector: None,
            brand: None,
            frame_ancestors: None,
        }
    }
}

/// The validated configuration of `args` and the file it names.
pub(super) fn config(args: &Args) -> Result<ServerConfig, crate::server::config::Problem> {
    let file = args.config.as_deref().map(ConfigFile::load).transpose()?;
    ServerConfig::resolve(args.settings(), file.as_ref())
}

pub(super) fn run(args: Args, err: &mut dyn std::io::Write) -> anyhow::Result<u8> {
    let config = match config(&args) {
        Ok(c) => c,
        Err(p) => {
            writeln!(err, "error: {p}")?;
            return Ok(exit::USAGE);
        }
    };
    crate::server::init_logging(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("fixpath")
        .build()?;
    let outcome = runtime.block_on(crate::server::run(config));
    // Tasks still around (an aborted request) are not waited for.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match outcome {
        Ok(()) => Ok(exit::OK),
        Err(e) => {
            if let Some(details) = e.details() {
                writeln!(err, "{}", details.trim_end())?;
            }
            writeln!(err, "error: {e}")?;
            // Contract section 7: 2 when it could not run as asked (no such
            // folder), 1 for problems found (scripts with errors, a
            // database or address that would not open).
            Ok(match e {
                ServeError::Folder(_) => exit::USAGE,
                _ => exit::PROBLEMS,
            })
        }
    }
}
