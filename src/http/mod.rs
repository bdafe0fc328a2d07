//! The HTTP surfaces on one router: the JSON API (`/api/v1`), health and
//! metrics. (The customer wizard, agent console and tier-2 queue pages sit on
//! the same operations; they come next.)

pub mod api;
pub mod auth;
pub mod error;
pub mod ops;

use crate::library::Library;
use crate::store::Store;
use axum::Router;
use std::sync::Arc;

/// Settings the handlers need.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            body_limit: 64 * 1024,
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
}

/// The application's router; the serve command adds the listener, the test
/// helpers an ephemeral port.
pub fn router(state: AppState) -> Router {
    api::routes(state)
}
