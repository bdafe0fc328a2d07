//! The listener: accepts connections and serves the router on each, over
//! HTTP/1.1, with a bound on how long a client may take to send its
//! request head. `axum::serve` sets none, so a client that sends half a
//! request and waits held its connection (and its task and buffers) for as
//! long as it liked: fifty of them were still open after 40 s.
//!
//! Shutdown is graceful: the listener stops accepting, every connection
//! finishes the request it is serving and closes, and [`serve`] returns once
//! the last one did.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt as _;

/// How long a client may take to send a request's head (request line and
/// headers), from the moment the connection is open or the previous
/// response went out: a kept-alive connection idle for this long is closed
/// too (a proxy in front opens a new one).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` completes, then lets the open
/// connections finish. Each request carries the peer's address as
/// [`ConnectInfo<SocketAddr>`], as `into_make_service_with_connect_info`
/// would give it.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection holds a receiver; `closed()` resolves when the last
    // one is gone.
    let (open_tx, open_rx) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather
                    // than spin, and keep serving the connections there are.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = app.clone();
        let mut stop = stop_rx.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            let service = app.map_request(move |req: axum::http::Request<Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo(peer));
                req
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_read_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades();
            let mut conn = std::pin::pin!(conn);
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, %peer, "connection ended with an error");
                        }
                        break;
                    }
                    _ = stop.wait_for(|s| *s) => conn.as_mut().graceful_shutdown(),
                }
            }
            drop(open);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_rx);
    open_tx.closed().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn server(timeout: Duration) -> (std::net::SocketAddr, watch::Sender<bool>) {
        let app = Router::new().route("/", axum::routing::get(|| async { "ok" }));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, mut rx) = watch::channel(false);
        tokio::spawn(serve(listener, app, timeout, async move {
            let _ = rx.wait_for(|s| *s).await;
        }));
        (addr, tx)
    }

    #[tokio::test]
    async fn a_half_sent_request_is_closed_after_the_timeout() {
        let (addr, _stop) = server(Duration::from_millis(300)).await;
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let started = std::time::Instant::now();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut buf)).await;
        assert!(
            read.is_ok(),
            "the connection was still open after 5 s of a half-sent request"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        // Whatever hyper answers (a 408 or nothing), the connection is over.
        let text = String::from_utf8_lossy(&buf);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 408"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_whole_request_is_served_and_shutdown_waits_for_it() {
        let (addr, stop) = server(Duration::from_millis(300)).await;
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut buf = Vec::new();
        c.read_to_end(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(text.ends_with("ok"), "{text}");
        let _ = stop.send(true);
    }
}
