//! The HTTP surfaces on one router: the JSON API (`/api/v1`), the web pages
//! (customer wizard at `/`, agent console at `/agent`, tier-2 queue at
//! `/queue`, authors' pages at `/author`, users at `/admin/users`), health
//! and metrics. Both surfaces sit on the same operations
//! ([`ops`]).

pub mod api;
pub mod auth;
pub mod caps;
pub mod cases;
pub mod error;
pub mod feedback;
pub mod limits;
pub mod ops;
pub mod recent;
mod router;
pub mod web;

use crate::case::{DueTimes, NoTargets};
use crate::clock::Clock;
use crate::library::Library;
use crate::store::Store;
use std::sync::Arc;

/// What the cases need beyond the store (contract section 10).
#[derive(Debug, Clone)]
pub struct CaseSettings {
    /// Sets a case's due times (the `[sla]` configuration); default none.
    pub due_times: Arc<dyn DueTimes>,
    /// A customer message this long after resolving reopens a case.
    pub reopen_within: time::Duration,
    /// The server's public address for links in mails, e.g.
    /// `https://help.example.com` (`public_url`, `FIXPATH_PUBLIC_URL`);
    /// `None`: the address the request came to.
    pub public_url: Option<String>,
    /// Whether cases mail their customers (on with `--smtp`): the changes
    /// that mail put a `mail.*` message in the outbox.
    pub mail: bool,
    /// Whether ticketing connectors are configured: case changes put a
    /// `sync.` message in the outbox for them.
    pub mirror: bool,
}

impl Default for CaseSettings {
    fn default() -> Self {
        CaseSettings {
            due_times: Arc::new(NoTargets),
            reopen_within: crate::store::DEFAULT_REOPEN_WITHIN,
            public_url: None,
            mail: false,
            mirror: false,
        }
    }
}

/// Settings the handlers need.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// How long a customer's wizard session may sit idle before its pages
    /// stop opening it (the page warns shortly before).
    pub wizard_idle: std::time::Duration,
    /// Mark cookies `Secure` even without `X-Forwarded-Proto: https` (set
    /// this when TLS ends in front of fixpath without saying so).
    pub secure_cookies: bool,
    /// Password hashes at once and per-address request rates.
    pub limits: limits::LimitConfig,
    /// The customer pages' name, logo, colour, support link and the sites
    /// that may frame them (`[brand]`).
    pub brand: Arc<web::brand::Brand>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit: 64 * 1024,
            wizard_idle: std::time::Duration::from_secs(30 * 60),
            secure_cookies: false,
            limits: limits::LimitConfig::default(),
            brand: Arc::default(),
        }
    }
}

/// Everything a request handler may touch.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub library: Arc<Library>,
    pub config: Arc<HttpConfig>,
    /// Renders the Prometheus `/metrics` page.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Wakes the webhook relay when a new message is in the outbox.
    pub outbox_notify: Arc<tokio::sync::Notify>,
    /// The sessions this instance stepped last (see [`recent`]).
    pub recent: Arc<recent::Recent>,
    /// The hash slots and rate limits of [`HttpConfig::limits`].
    pub guards: Arc<limits::Guards>,
    /// The time handlers read (fixed in tests).
    pub clock: Clock,
    pub cases: Arc<CaseSettings>,
    /// The compiled script versions a figures report names abandoned
    /// sessions' nodes with: kept between reports, so each does not compile
    /// them again.
    pub programs: Arc<crate::stats::gather::Programs>,
}

pub use router::{layered, loggable_uri, router};
