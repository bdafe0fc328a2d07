//! What operators and their tools ask of a running server: `/healthz` for
//! load balancers and orchestrators, `/metrics` for Prometheus.
//!
//! The Prometheus recorder is global to the process, so it is installed once
//! ([`metrics_handle`]); a second server in the same process (tests) shares
//! it. Gauges that mirror stored state (the outbox) are read on scrape, so
//! they are never stale and cost nothing between scrapes; so is the count
//! of overdue cases (one range of an index).

use crate::http::AppState;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// How long `/healthz` waits for the database.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// How often the recorder's histogram samples are folded into their
/// buckets, whether or not anyone reads `/metrics` (see [`spawn_upkeep`]).
pub const UPKEEP_EVERY: Duration = Duration::from_secs(1);

/// The process's Prometheus recorder, installed on first use, with its
/// upkeep thread.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            match PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ])
                .and_then(|b| b.install_recorder())
            {
                Ok(h) => {
                    describe();
                    spawn_upkeep(h.clone());
                    h
                }
                Err(e) => {
                    // Another recorder was installed first (an embedding
                    // program); serve an empty page rather than fail.
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics stays empty");
                    PrometheusBuilder::new().build_recorder().handle()
                }
            }
        })
        .clone()
}

/// The recorder keeps every histogram sample (its value and when) until an
/// upkeep folds the samples into the buckets, and only `/metrics` ran one:
/// a server nobody scraped kept one sample per request for as long as it
/// ran, 16-24 bytes each (`tests/it/metrics_memory.rs`), about 1.5 MiB a
/// minute at the soak bench's 1,200 requests/s (`benches/RESULTS-soak.md`).
/// `install_recorder` leaves the upkeep to the caller; this thread does it
/// every [`UPKEEP_EVERY`] for the life of the process, as
/// `PrometheusBuilder::install` would have.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no metrics upkeep thread; only /metrics folds the samples");
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(
        "fixpath_outbox_pending",
        "outbox messages (webhook events, mails) not yet delivered or given up"
    );
    describe_counter!(
        "fixpath_mails_sent_total",
        "case mails the SMTP server took"
    );
    describe_counter!(
        "fixpath_mail_failures_total",
        "failed attempts to send a case mail (each retried later)"
    );
    describe_counter!(
        "fixpath_mails_given_up_total",
        "case mails given up: unreadable, no address, or too many failed attempts"
    );
    describe_gauge!(
        "fixpath_scripts",
        "scripts in the library new sessions start on"
    );
    describe_gauge!(
        "fixpath_library_published",
        "1 when the last read of the scripts folder was published, 0 when it was refused"
    );
    describe_gauge!("fixpath_build_info", "the running fixpath version");
    describe_counter!(
        "fixpath_cases_breached_total",
        "due times that passed unanswered, by kind: response, resolution (counted by the instance that recorded them)"
    );
    describe_gauge!(
        "fixpath_cases_overdue",
        "unresolved cases past a due time still pending"
    );
    describe_counter!(
        "fixpath_reloads_total",
        "reads of the scripts folder after a change, by outcome"
    );
    describe_gauge!(
        "fixpath_password_hashes_in_flight",
        "password hashes (sign-ins) being checked now; at most the hash slots"
    );
    describe_counter!(
        "fixpath_requests_refused_total",
        "requests answered 429, by reason: hash_busy, signin_rate, session_rate"
    );
    describe_histogram!(
        "fixpath_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "time to answer an HTTP request"
    );
}

/// `/healthz` and `/metrics`, to be merged with [`crate::http::router`];
/// under the API's layers, so they are traced and timed like every route.
pub fn routes(state: AppState) -> Router {
    let mut router = Router::new();
    for (_, path, handler) in table() {
        router = router.route(path, handler);
    }
    crate::http::layered(router, &state.config).with_state(state)
}

/// `(METHOD, PATH)` of every route [`routes`] serves, for the tests (the
/// authorization matrix has a row for each).
pub fn route_list() -> Vec<(Method, &'static str)> {
    table().into_iter().map(|(m, p, _)| (m, p)).collect()
}

/// The operators' routes: the one list [`routes`] and [`route_list`] read.
fn table() -> Vec<(Method, &'static str, MethodRouter<AppState>)> {
    vec![
        (Method::GET, "/healthz", get(healthz)),
        (Method::GET, "/metrics", get(metrics_page)),
    ]
}

/// 200 `{"status":"ok"}` when the database answers, else 503.
async fn healthz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(HEALTH_TIMEOUT, state.store.outbox_pending()).await {
        Ok(Ok(_)) => Json(serde_json::json!({ "status": "ok" })).into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: the database did not answer");
            unavailable("the database did not answer")
        }
        Err(_) => {
            tracing::warn!("health check: the database did not answer in time");
            unavailable("the database did not answer in time")
        }
    }
}

fn unavailable(message: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({
            "status": "unavailable",
            "error": { "code": "database_unavailable", "message": message },
        })),
    )
        .into_response()
}

/// The Prometheus text page; state-mirroring gauges are refreshed first.
async fn metrics_page(State(state): State<AppState>) -> Response {
    let Some(handle) = &state.metrics else {
        return (StatusCode::NOT_FOUND, "metrics are off\n").into_response();
    };
    match tokio::time::timeout(HEALTH_TIMEOUT, state.store.outbox_pending()).await {
        Ok(Ok(n)) => metrics::gauge!("fixpath_outbox_pending").set(n as f64),
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: could not count the outbox"),
        Err(_) => tracing::warn!("metrics: counting the outbox timed out"),
    }
    match tokio::time::timeout(HEALTH_TIMEOUT, state.store.overdue_cases(state.clock.now())).await {
        Ok(Ok(n)) => metrics::gauge!("fixpath_cases_overdue").set(n as f64),
        Ok(Err(e)) => tracing::warn!(error = %e, "metrics: could not count the overdue cases"),
        Err(_) => tracing::warn!("metrics: counting the overdue cases timed out"),
    }
    let library = state.library.current();
    metrics::gauge!("fixpath_scripts").set(library.scripts.len() as f64);
    let published = state.library.report().published;
    metrics::gauge!("fixpath_library_published").set(if published { 1.0 } else { 0.0 });
    metrics::gauge!("fixpath_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
