//! The server's bootstrap: from a validated [`ServerConfig`] to a running
//! `fixpath serve`, and back down again.
//!
//! Start: logging, the store (opened and migrated), the script library
//! (refused with the author's diagnostics when it has errors), the router
//! (the API of [`crate::http`] plus [`ops`]' health and metrics), the
//! listener, then the webhook and mail relays, the breach timer and the
//! scripts watcher.
//!
//! Stop (SIGINT or SIGTERM): stop accepting, let requests in flight finish
//! (for at most [`GRACE`]), stop the relays, the timer and the watcher, close the
//! database. A clean stop exits 0, so a supervisor can tell it from a crash.

pub mod breach;
pub mod config;
pub mod listen;
pub mod ops;
pub mod outcomes;
mod periodic;
pub mod reload;
pub mod retention;

pub use config::{LogFormat, ServerConfig};

use crate::delivery::{self, RelayConfig};
use crate::http::{self, AppState, HttpConfig};
use crate::library::{Library, LibraryError};
use crate::store::Store;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;
use axum::Router;
use config::Database;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

/// How long requests in flight may take to finish after a stop signal.
pub const GRACE: Duration = Duration::from_secs(10);
/// How long the relay and the watcher get to wind down.
const WIND_DOWN: Duration = Duration::from_secs(5);

/// Why the server did not start, or stopped badly.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The scripts have errors; [`ServeError::details`] has the author's
    /// diagnostics.
    #[error("the scripts in `{dir}` have errors; the server did not start")]
    Scripts { dir: String, diagnostics: String },
    #[error("the scripts folder cannot be read: {0}")]
    Folder(String),
    #[error("could not open the database ({db}): {cause}")]
    Database { db: String, cause: String },
    #[error("could not listen on {addr}: {cause}")]
    Listen {
        addr: SocketAddr,
        cause: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Failed(String),
}

impl ServeError {
    /// What to print before the one-line error: the scripts' diagnostics.
    pub fn details(&self) -> Option<&str> {
        match self {
            ServeError::Scripts { diagnostics, .. } => Some(diagnostics),
            _ => None,
        }
    }
}

/// Installs the global log subscriber (text or JSON lines on stderr). The
/// filter is `FIXPATH_LOG`, else `RUST_LOG`, else `info`. A second call in
/// the same process keeps the first subscriber.
pub fn init_logging(format: LogFormat) {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    let filter = ["FIXPATH_LOG", "RUST_LOG"]
        .iter()
        .find_map(|var| {
            std::env::var(var)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .and_then(|v| match EnvFilter::try_new(&v) {
                    Ok(f) => Some(f),
                    Err(e) => {
                        eprintln!("warning: {var}={v} is not a log filter ({e}); using `info`");
                        None
                    }
                })
        })
        .unwrap_or_else(|| EnvFilter::new("info,sqlx=warn"));
    let sink = stderr_sink();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || -> Box<dyn std::io::Write> {
            match sink {
                Some(file) => Box::new(file),
                None => Box::new(std::io::stderr()),
            }
        });
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .try_init(),
        LogFormat::Json => builder.json().with_ansi(false).try_init(),
    };
}

/// A handle of its own on the process's stderr. `main` holds the lock of
/// `std::io::stderr()` for as long as a command runs, so a log line written
/// through it from a runtime worker would wait forever; each line is written
/// with one call, so lines from different threads do not mix.
fn stderr_sink() -> Option<&'static std::fs::File> {
    static SINK: std::sync::OnceLock<Option<std::fs::File>> = std::sync::OnceLock::new();
    SINK.get_or_init(duplicate_stderr).as_ref()
}

fn duplicate_stderr() -> Option<std::fs::File> {
    #[cfg(unix)]
    let handle = {
        use std::os::fd::AsFd;
        std::io::stderr().as_fd().try_clone_to_owned()
    };
    #[cfg(windows)]
    let handle = {
        use std::os::windows::io::AsHandle;
        std::io::stderr().as_handle().try_clone_to_owned()
    };
    handle.ok().map(std::fs::File::from)
}

/// The whole application's router: the API, health and metrics.
pub fn app(state: AppState) -> Router {
    http::router(state.clone()).merge(ops::routes(state))
}

/// Runs the server until SIGINT or SIGTERM. Logging must be set up already
/// ([`init_logging`]).
pub async fn run(config: ServerConfig) -> Result<(), ServeError> {
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        scripts = %config.scripts.display(),
        db = %config.db,
        listen = %config.listen,
        webhooks = config.webhooks.len(),
        signed = config.webhook_secret.is_some(),
        smtp = config.mail.as_ref().map_or("off", |m| m.shown()),
        "starting fixpath"
    );
    // From here on a stop signal is kept, even one sent during startup.
    let mut signals = StopSignals::install()
        .map_err(|e| ServeError::Failed(format!("cannot listen for stop signals: {e}")))?;
    let metrics = ops::metrics_handle();

    // The scripts first: a start that cannot serve them must not leave a
    // new database file behind.
    let prepared = match Library::prepare(config.scripts.clone()) {
        Ok(p) if p.scripts() == 0 => {
            return Err(ServeError::Folder(format!(
                "`{}` holds no scripts (*.yaml or *.yml files)",
                config.scripts.display()
            )));
        }
        Ok(p) => p,
        Err(LibraryError::Invalid(text)) => {
            return Err(ServeError::Scripts {
                dir: config.scripts.display().to_string(),
                diagnostics: text,
            });
        }
        Err(LibraryError::Folder(m)) => return Err(ServeError::Folder(m)),
        Err(other) => return Err(ServeError::Failed(other.to_string())),
    };

    let db = open_store(&config.db).await?;
    let store = db.store();

    let library = match prepared.open(&*store).await {
        Ok(l) => Arc::new(l),
        Err(e) => {
            db.close().await;
            return Err(ServeError::Database {
                db: config.db.to_string(),
                cause: e.to_string(),
            });
        }
    };
    tracing::info!(
        program = %library.current().hash,
        scripts = library.current().scripts.len(),
        "scripts loaded"
    );

    let outbox_notify = Arc::new(Notify::new());
    let clock = crate::clock::Clock::system();
    let http_config = HttpConfig {
        body_limit: config.body_limit,
        wizard_idle: config.session_idle,
        secure_cookies: config.secure_cookies,
        limits: config.limits.clone(),
        brand: Arc::new(config.brand.clone()),
    };
    let state = AppState {
        store: store.clone(),
        library: library.clone(),
        guards: Arc::new(crate::http::limits::Guards::new(&http_config.limits)),
        config: Arc::new(http_config),
        metrics: Some(metrics),
        outbox_notify: outbox_notify.clone(),
        recent: Default::default(),
        clock: clock.clone(),
        cases: Arc::new(crate::http::CaseSettings {
            due_times: Arc::new(config.sla.clone()),
            reopen_within: config.sla.reopen_within(),
            public_url: config.public_url.clone(),
            mail: config.mail.is_some(),
            mirror: !config.connectors.is_empty(),
        }),
        programs: Default::default(),
    };

    let listener = match TcpListener::bind(config.listen).await {
        Ok(l) => l,
        Err(cause) => {
            db.close().await;
            return Err(ServeError::Listen {
                addr: config.listen,
                cause,
            });
        }
    };
    let addr = listener.local_addr().map_err(|e| ServeError::Listen {
        addr: config.listen,
        cause: e,
    })?;
    tracing::info!("listening on http://{addr}");
    if config.brand.framable() {
        // Worth a line: it changes what the customer pages allow.
        tracing::info!(
            sites = %config.brand.frame_ancestors.join(" "),
            "the customer pages may be framed by these sites"
        );
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    if !config.webhooks.is_empty() && config.webhook_secret.is_none() {
        tracing::warn!(
            "webhooks are sent unsigned; set --webhook-secret so receivers can check them"
        );
    }
    // Each relay leases its own channel's messages and is woken on its own:
    // one wake-up taken by the other relay would leave it asleep until its
    // next poll.
    let mut wakers = Vec::new();
    // Without an endpoint there is nobody to deliver to: events wait in the
    // outbox and go out once a webhook is configured (no write per event
    // meanwhile).
    let relay = if config.webhooks.is_empty() {
        tracing::info!("no webhooks configured; escalation events wait in the outbox");
        tokio::spawn(async {})
    } else {
        let wake = Arc::new(Notify::new());
        wakers.push(wake.clone());
        spawn_relay(store.clone(), &config, wake, stop_rx.clone())
    };
    let mail_relay = match &config.mail {
        Some(mail) => {
            if mail.sends_credentials_in_clear() {
                tracing::warn!(
                    smtp = %mail.shown(),
                    "the SMTP password crosses the network unencrypted; use smtps:// or ?tls=required"
                );
            }
            let wake = Arc::new(Notify::new());
            wakers.push(wake.clone());
            tokio::spawn(delivery::mail::run_mail_relay(
                store.clone(),
                RelayConfig::new(Vec::new(), None),
                mail.clone(),
                wake,
                stop_rx.clone(),
            ))
        }
        None => {
            delivery::mail::give_up_without_smtp(&*store, clock.now()).await;
            tokio::spawn(async {})
        }
    };
    // Ticketing connectors: the relay that sends cases over, and for each
    // Request Tracker a reader of its tickets' histories.
    let mut connector_tasks = Vec::new();
    if !config.connectors.is_empty() {
        let wake = Arc::new(Notify::new());
        wakers.push(wake.clone());
        connector_tasks.push(tokio::spawn(crate::connect::run_relay(
            store.clone(),
            config.connectors.clone(),
            wake,
            stop_rx.clone(),
        )));
        for c in &config.connectors {
            tracing::info!(connector = c.name(), "ticketing connector on");
            if let crate::connect::Connector::Rt(rt) = c {
                connector_tasks.push(tokio::spawn(crate::connect::poll::run(
                    state.clone(),
                    rt.clone(),
                    stop_rx.clone(),
                )));
            }
        }
    }
    let timer = breach::spawn(
        store.clone(),
        clock.clone(),
        outbox_notify.clone(),
        stop_rx.clone(),
    );
    let idle = time::Duration::try_from(config.session_idle).unwrap_or(time::Duration::MINUTE * 30);
    let outcomes = outcomes::spawn(
        store.clone(),
        state.programs.clone(),
        clock.clone(),
        idle,
        stop_rx.clone(),
    );
    let sweeper = config
        .retain
        .map(|keep| retention::spawn(store.clone(), clock.clone(), keep, stop_rx.clone()));
    let waker = tokio::spawn(wake_relays(outbox_notify, wakers, stop_rx.clone()));
    let watcher = match reload::spawn(
        library.clone(),
        store.clone(),
        stop_rx.clone(),
        reload::DEBOUNCE,
    ) {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::warn!(error = %e, "cannot watch the scripts folder; edits need a restart");
            None
        }
    };

    let mut server = {
        let mut stop = stop_rx.clone();
        let serve = listen::serve(
            listener,
            app(state),
            listen::HEADER_READ_TIMEOUT,
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        );
        tokio::spawn(serve)
    };

    let outcome = tokio::select! {
        res = &mut server => Err(ServeError::Failed(match res {
            Ok(Ok(())) => "the listener closed".to_owned(),
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        })),
        signal = signals.wait() => {
            tracing::info!(signal, "shutting down: finishing requests in flight");
            let _ = stop_tx.send(true);
            match tokio::time::timeout(GRACE, &mut server).await {
                Ok(_) => {}
                Err(_) => {
                    tracing::warn!(
                        "requests still running after {} s; closing them",
                        GRACE.as_secs()
                    );
                    server.abort();
                }
            }
            Ok(())
        }
    };

    // Whatever ended the server, wind the rest down.
    let _ = stop_tx.send(true);
    for (what, task) in [
        ("webhook relay", Some(relay)),
        ("mail relay", Some(mail_relay)),
        ("relays' wake-ups", Some(waker)),
        ("breach timer", Some(timer.task)),
        ("outcome job", Some(outcomes)),
        ("retention sweep", sweeper),
        ("scripts watcher", watcher),
    ]
    .into_iter()
    .chain(
        connector_tasks
            .into_iter()
            .map(|t| ("ticketing connector", Some(t))),
    ) {
        let Some(mut task) = task else { continue };
        if tokio::time::timeout(WIND_DOWN, &mut task).await.is_err() {
            tracing::warn!("the {what} did not stop in time");
            task.abort();
        }
    }
    db.close().await;
    if outcome.is_ok() {
        tracing::info!("stopped");
    }
    outcome
}

/// An open store of either kind: used as `dyn Store`, closed as what it is.
#[derive(Debug, Clone)]
pub enum OpenStore {
    Sqlite(Arc<SqliteStore>),
    Postgres(Arc<PgStore>),
}

impl OpenStore {
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            OpenStore::Sqlite(s) => s.clone(),
            OpenStore::Postgres(s) => s.clone(),
        }
    }

    /// Closes the connections, waiting for them to finish.
    pub async fn close(&self) {
        match self {
            OpenStore::Sqlite(s) => s.close().await,
            OpenStore::Postgres(s) => s.close().await,
        }
    }
}

impl std::ops::Deref for OpenStore {
    type Target = dyn Store;

    fn deref(&self) -> &(dyn Store + 'static) {
        match self {
            OpenStore::Sqlite(s) => &**s,
            OpenStore::Postgres(s) => &**s,
        }
    }
}

/// Opens the database named by the config and brings its schema up to date
/// (on PostgreSQL under an advisory lock, so instances starting together
/// migrate one after the other).
pub async fn open_store(db: &Database) -> Result<OpenStore, ServeError> {
    let fail = |cause: String| ServeError::Database {
        db: db.to_string(),
        cause,
    };
    let store = match db {
        Database::Sqlite { url, .. } => OpenStore::Sqlite(Arc::new(
            SqliteStore::open(url)
                .await
                .map_err(|e| fail(e.to_string()))?,
        )),
        Database::Postgres { url, pool } => OpenStore::Postgres(Arc::new(
            PgStore::open(reachable(url).await.map_err(fail)?, *pool)
                .await
                .map_err(|e| fail(e.to_string()))?,
        )),
    };
    if let Err(e) = store.migrate().await {
        store.close().await;
        return Err(fail(e.to_string()));
    }
    Ok(store)
}

/// How long a PostgreSQL server may take to accept a connection before the
/// start gives up: the pool would otherwise wait out its acquire timeout and
/// report only that it timed out.
const PG_REACH_TIMEOUT: Duration = Duration::from_secs(5);

/// `url` itself once its host accepts a TCP connection, else why not, as
/// "cannot reach PostgreSQL at HOST:PORT: connection refused". A Unix
/// socket is left to the driver.
async fn reachable(url: &str) -> Result<&str, String> {
    use std::str::FromStr;
    let Ok(options) = sqlx::postgres::PgConnectOptions::from_str(url) else {
        // Database::parse checked it already; the driver says the rest.
        return Ok(url);
    };
    if options.get_socket().is_some() || options.get_host().starts_with('/') {
        return Ok(url);
    }
    let (host, port) = (options.get_host().to_owned(), options.get_port());
    let at = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let why = match tokio::time::timeout(
        PG_REACH_TIMEOUT,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => return Ok(url),
        Err(_) => format!("no answer within {} s", PG_REACH_TIMEOUT.as_secs()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            "connection refused".to_owned()
        }
        Ok(Err(e)) => e.to_string(),
    };
    Err(format!("cannot reach PostgreSQL at {at}: {why}"))
}

/// Starts the webhook relay ([`crate::delivery`]) with the configured
/// endpoints and secret; it stops when `stop` turns true.
fn spawn_relay(
    store: Arc<dyn Store>,
    config: &ServerConfig,
    notify: Arc<Notify>,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let relay = RelayConfig::new(
        config.webhooks.iter().map(|u| u.to_string()).collect(),
        config.webhook_secret.as_ref().map(|s| s.key().to_vec()),
    );
    tokio::spawn(delivery::run_relay(store, relay, notify, stop))
}

/// Passes each wake-up of the outbox (a new message) on to every relay,
/// until `stop` turns true.
async fn wake_relays(
    outbox: Arc<Notify>,
    relays: Vec<Arc<Notify>>,
    mut stop: watch::Receiver<bool>,
) {
    if relays.is_empty() {
        return;
    }
    loop {
        tokio::select! {
            _ = outbox.notified() => relays.iter().for_each(|r| r.notify_one()),
            _ = stop.wait_for(|s| *s) => break,
        }
    }
}

/// SIGINT (Ctrl-C) and SIGTERM, listened for from the moment they are
/// installed: a stop requested right after `listening on` is not lost.
struct StopSignals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> std::io::Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(StopSignals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(StopSignals {})
    }

    /// Waits for either; returns its name.
    async fn wait(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => "SIGINT",
                _ = self.term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}
