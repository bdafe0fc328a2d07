//! Bounds on what strangers can make the server spend.
//!
//! - [`HashGate`]: Argon2 takes about 19 MiB and a core's worth of time per
//!   password checked. Without a bound, 40 concurrent sign-ins ran 40 hashes
//!   at once on the blocking pool (up to 512 threads) and took the process
//!   from 66 MB to 860 MB. The gate lets a few hashes run at once (about two
//!   per core), lets a short queue wait for a slot, and turns everything
//!   beyond that away at once with 429 and `Retry-After` instead of an
//!   unbounded wait.
//! - [`ReportGate`]: a figures report (`GET /api/v1/stats`) reads and
//!   folds every session not yet counted and computes over the rollups: a
//!   couple run at once, a few wait, the rest are told to come back, so ten
//!   dashboards refreshing together do not run ten full reports side by side.
//! - [`RateLimiter`]: a token bucket per client address for sign-ins and for
//!   anonymous session starts, in a bounded map, so one address cannot
//!   spend the hash slots or fill the database by itself.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How a limit is set: `per_minute` requests on average, `burst` at once
/// after a quiet spell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_minute: u32,
    pub burst: u32,
}

/// The limits of one server, part of [`super::HttpConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitConfig {
    /// Password hashes checked at once.
    pub hash_slots: usize,
    /// Sign-ins that may wait for a hash slot; more are refused at once.
    pub hash_queue: usize,
    /// Sign-in attempts per client address.
    pub signin: Rate,
    /// Anonymous session starts (API and wizard) per client address.
    pub session_start: Rate,
    /// `/status` look-ups (a reference and an address) per client address:
    /// each may queue a mail, and a guesser would otherwise try references
    /// at the server's speed.
    pub status_lookup: Rate,
    /// Reverse proxies in front of the server whose `X-Forwarded-For` is
    /// believed; behind one, every client would otherwise share its address.
    pub trusted_proxies: Vec<IpAddr>,
}

/// About two hashes per core: enough to keep the cores busy while a
/// sign-in waits on the database, few enough that memory stays flat.
pub fn default_hash_slots() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() * 2)
        .unwrap_or(2)
}

impl Default for LimitConfig {
    fn default() -> Self {
        let hash_slots = default_hash_slots();
        LimitConfig {
            hash_slots,
            hash_queue: hash_slots * 8,
            signin: Rate {
                per_minute: 10,
                burst: 10,
            },
            session_start: Rate {
                per_minute: 60,
                burst: 30,
            },
            status_lookup: Rate {
                per_minute: 5,
                burst: 5,
            },
            trusted_proxies: Vec::new(),
        }
    }
}

/// The longest a sign-in waits in the queue for a hash slot.
const HASH_WAIT: Duration = Duration::from_secs(10);

/// Why a request was turned away, and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooMany {
    pub retry_after: Duration,
}

impl TooMany {
    /// Whole seconds for the `Retry-After` header, at least one.
    pub fn retry_after_secs(&self) -> u64 {
        let d = self.retry_after;
        (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
    }
}

/// The runtime state behind the limits, shared by every request.
#[derive(Debug)]
pub struct Guards {
    pub hashes: HashGate,
    pub signin: RateLimiter,
    pub session_start: RateLimiter,
    pub status_lookup: RateLimiter,
    pub reports: ReportGate,
}

impl Guards {
    pub fn new(config: &LimitConfig) -> Guards {
        Guards {
            hashes: HashGate::new(config.hash_slots, config.hash_queue),
            signin: RateLimiter::new("signin_rate", config.signin),
            session_start: RateLimiter::new("session_rate", config.session_start),
            status_lookup: RateLimiter::new("status_rate", config.status_lookup),
            reports: ReportGate::new(REPORT_SLOTS, REPORT_QUEUE),
        }
    }
}

impl Default for Guards {
    fn default() -> Self {
        Guards::new(&LimitConfig::default())
    }
}

/// At most `slots` password hashes at once, at most `queue` waiting.
#[derive(Debug)]
pub struct HashGate {
    slots: std::sync::Arc<Semaphore>,
    queue: usize,
    waiting: AtomicUsize,
    in_flight: std::sync::Arc<AtomicUsize>,
    peak: std::sync::Arc<AtomicUsize>,
}

/// Leaves the waiting count when the wait ends, however it ends (a client
/// that hangs up drops the future mid-wait).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HashGate {
    pub fn new(slots: usize, queue: usize) -> HashGate {
        HashGate {
            slots: std::sync::Arc::new(Semaphore::new(slots.max(1))),
            queue,
            waiting: AtomicUsize::new(0),
            in_flight: Default::default(),
            peak: Default::default(),
        }
    }

    /// The most hashes that ever ran at once (for tests and metrics).
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Waits for a hash slot: at once when one is free, in the queue while
    /// it is short, else `Err` at once.
    pub async fn acquire(&self) -> Result<HashSlot, TooMany> {
        let busy = || {
            refused("hash_busy");
            TooMany {
                retry_after: Duration::from_secs(1),
            }
        };
        let permit = match self.slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    return Err(busy());
                }
                let _waiting = Waiting(&self.waiting);
                match tokio::time::timeout(HASH_WAIT, self.slots.clone().acquire_owned()).await {
                    Ok(Ok(p)) => p,
                    _ => return Err(busy()),
                }
            }
        };
        Ok(HashSlot {
            permit,
            in_flight: self.in_flight.clone(),
            peak: self.peak.clone(),
        })
    }

    /// [`HashGate::acquire`], then [`HashSlot::run`].
    pub async fn run<T, F>(&self, work: F) -> Result<T, TooMany>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.acquire().await?.run(work).await
    }
}

/// A hash slot, held from [`HashGate::acquire`] until its work is done.
pub struct HashSlot {
    permit: tokio::sync::OwnedSemaphorePermit,
    in_flight: std::sync::Arc<AtomicUsize>,
    peak: std::sync::Arc<AtomicUsize>,
}

impl HashSlot {
    /// Runs `work` (a password hash) on the blocking pool. The slot moves
    /// into the blocking task, so a client that hangs up mid-hash does not
    /// free it before the hash is done.
    pub async fn run<T, F>(self, work: F) -> Result<T, TooMany>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let HashSlot {
            permit,
            in_flight,
            peak,
        } = self;
        tokio::task::spawn_blocking(move || {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            metrics::gauge!("fixpath_password_hashes_in_flight").increment(1.0);
            let out = work();
            in_flight.fetch_sub(1, Ordering::SeqCst);
            metrics::gauge!("fixpath_password_hashes_in_flight").decrement(1.0);
            drop(permit);
            out
        })
        .await
        .map_err(|_| TooMany {
            retry_after: Duration::from_secs(1),
        })
    }
}

/// Figures reports computed at once: the database does the work, and on a
/// small machine two keep it busy.
pub const REPORT_SLOTS: usize = 2;
/// Reports that may wait for a slot; more are refused at once.
pub const REPORT_QUEUE: usize = 4;
/// The longest a report waits for a slot.
const REPORT_WAIT: Duration = Duration::from_secs(20);

/// At most `slots` figures reports at once, at most `queue` waiting.
#[derive(Debug)]
pub struct ReportGate {
    slots: std::sync::Arc<Semaphore>,
    queue: usize,
    waiting: AtomicUsize,
}

impl ReportGate {
    pub fn new(slots: usize, queue: usize) -> ReportGate {
        ReportGate {
            slots: std::sync::Arc::new(Semaphore::new(slots.max(1))),
            queue,
            waiting: AtomicUsize::new(0),
        }
    }

    /// A slot for one report, held until dropped: at once when one is
    /// free, after a wait while the queue is short, else `Err` at once.
    pub async fn acquire(&self) -> Result<tokio::sync::OwnedSemaphorePermit, TooMany> {
        let busy = || {
            refused("reports_busy");
            TooMany {
                retry_after: Duration::from_secs(5),
            }
        };
        if let Ok(p) = self.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(busy());
        }
        let _waiting = Waiting(&self.waiting);
        match tokio::time::timeout(REPORT_WAIT, self.slots.clone().acquire_owned()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(busy()),
        }
    }
}

/// The most client addresses tracked at once. An address whose bucket has
/// filled up again is forgotten first; past that, newcomers share one
/// bucket, so a flood of addresses costs a bounded map, not memory.
const MAX_CLIENTS: usize = 50_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Counts a 429 in `fixpath_requests_refused_total{reason}`.
fn refused(reason: &'static str) {
    metrics::counter!("fixpath_requests_refused_total", "reason" => reason).increment(1);
}

/// A token bucket per client address.
#[derive(Debug)]
pub struct RateLimiter {
    /// The `reason` its refusals are counted under.
    reason: &'static str,
    rate: Rate,
    buckets: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    by_client: HashMap<IpAddr, Bucket>,
    /// When the full map was last swept for idle clients: at most once a
    /// second, so a flood of new addresses cannot make every request pay
    /// for a sweep.
    swept_at: Option<Instant>,
}

/// The key of an address: IPv6 clients get a /64 each (one household or
/// host), so hopping addresses inside it gains nothing.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

/// Where the newcomers share a bucket once the map is full.
const OVERFLOW: IpAddr = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);

impl RateLimiter {
    pub fn new(reason: &'static str, rate: Rate) -> RateLimiter {
        RateLimiter {
            reason,
            rate,
            buckets: Mutex::new(Buckets::default()),
        }
    }

    /// Takes one request from `ip`'s bucket; `Err` says how long until
    /// the next one is allowed.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), TooMany> {
        let burst = f64::from(self.rate.burst.max(1));
        let per_second = f64::from(self.rate.per_minute.max(1)) / 60.0;
        let refill = |b: &Bucket| {
            (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * per_second).min(burst)
        };
        let mut guard = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let Buckets {
            by_client,
            swept_at,
        } = &mut *guard;
        let mut key = client_key(ip);
        if !by_client.contains_key(&key) && by_client.len() >= MAX_CLIENTS {
            let due = swept_at.is_none_or(|at| now.saturating_duration_since(at).as_secs() >= 1);
            if due {
                by_client.retain(|_, b| refill(b) < burst);
                *swept_at = Some(now);
            }
            if by_client.len() >= MAX_CLIENTS {
                key = OVERFLOW;
            }
        }
        let bucket = by_client.entry(key).or_insert(Bucket {
            tokens: burst,
            at: now,
        });
        let tokens = refill(bucket);
        if tokens >= 1.0 {
            *bucket = Bucket {
                tokens: tokens - 1.0,
                at: now,
            };
            Ok(())
        } else {
            *bucket = Bucket { tokens, at: now };
            refused(self.reason);
            Err(TooMany {
                retry_after: Duration::from_secs_f64((1.0 - tokens) / per_second),
            })
        }
    }

    /// Addresses tracked now.
    pub fn clients(&self) -> usize {
        self.buckets.lock().map(|b| b.by_client.len()).unwrap_or(0)
    }
}

/// Where the newcomers share a bucket when the server runs without the
/// peers' addresses (every client then shares one, which errs on the side
/// of refusing).
const UNKNOWN_PEER: IpAddr = OVERFLOW;

/// The client's address: the listener's peer, or, when the peer is one of
/// [`LimitConfig::trusted_proxies`], the last address in
/// `X-Forwarded-For` that is not a trusted proxy itself (the one the
/// nearest trusted proxy saw). Anyone can write that header, so it is read
/// only from a proxy the operator named.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub IpAddr);

impl axum::extract::FromRequestParts<super::AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &super::AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<axum::extract::ConnectInfo<SocketAddr>>()
            .map_or(UNKNOWN_PEER, |c| c.0.ip());
        Ok(ClientIp(client_of(
            peer,
            &parts.headers,
            &state.config.limits.trusted_proxies,
        )))
    }
}

fn client_of(peer: IpAddr, headers: &axum::http::HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|hop| hop.trim().parse::<IpAddr>())
        .collect::<Result<_, _>>()
        .unwrap_or_default();
    hops.into_iter()
        .rev()
        .find(|ip| !trusted.contains(ip))
        .unwrap_or(peer)
}

impl TooMany {
    /// The API's 429 for `what` (e.g. "sessions started").
    pub fn api_error(self, what: &str) -> super::error::ApiError {
        let secs = self.retry_after_secs();
        super::error::ApiError::TooManyRequests {
            message: format!(
                "too many {what} from this address; try again in {secs} second{}",
                if secs == 1 { "" } else { "s" }
            ),
            retry_after: secs,
        }
    }
}

/// Sets `Retry-After` on a refusal's response.
pub fn with_retry_after(
    mut res: axum::response::Response,
    too_many: TooMany,
) -> axum::response::Response {
    res.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(too_many.retry_after_secs()),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_bucket_allows_its_burst_then_one_per_interval() {
        let limiter = RateLimiter::new(
            "test",
            Rate {
                per_minute: 6,
                burst: 3,
            },
        );
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check(ip("192.0.2.1"), t0).is_ok());
        }
        let refused = limiter.check(ip("192.0.2.1"), t0).unwrap_err();
        assert_eq!(refused.retry_after_secs(), 10);
        // Another address has its own bucket.
        assert!(limiter.check(ip("192.0.2.2"), t0).is_ok());
        // Ten seconds refill one request.
        let later = t0 + Duration::from_secs(10);
        assert!(limiter.check(ip("192.0.2.1"), later).is_ok());
        assert!(limiter.check(ip("192.0.2.1"), later).is_err());
    }

    #[test]
    fn ipv6_neighbours_share_a_bucket() {
        let limiter = RateLimiter::new(
            "test",
            Rate {
                per_minute: 1,
                burst: 1,
            },
        );
        let t0 = Instant::now();
        assert!(limiter.check(ip("2001:db8:1:2::1"), t0).is_ok());
        assert!(limiter.check(ip("2001:db8:1:2::ffff"), t0).is_err());
        assert!(limiter.check(ip("2001:db8:1:3::1"), t0).is_ok());
    }

    #[test]
    fn the_map_of_clients_stays_bounded() {
        let limiter = RateLimiter::new(
            "test",
            Rate {
                per_minute: 1,
                burst: 1,
            },
        );
        let t0 = Instant::now();
        for n in 0..(MAX_CLIENTS as u32 + 500) {
            let _ = limiter.check(IpAddr::V4(std::net::Ipv4Addr::from(n)), t0);
        }
        assert!(limiter.clients() <= MAX_CLIENTS + 1);
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_proxy() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.9, 198.51.100.7, 10.0.0.2".parse().unwrap(),
        );
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        // From a stranger, the header is ignored.
        assert_eq!(
            client_of(ip("192.0.2.5"), &headers, &proxies),
            ip("192.0.2.5")
        );
        // From our proxy: the last hop that is not one of ours (what our
        // proxy saw); what the client wrote before it is not believed.
        assert_eq!(
            client_of(ip("10.0.0.1"), &headers, &proxies),
            ip("198.51.100.7")
        );
        headers.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(
            client_of(ip("10.0.0.1"), &headers, &proxies),
            ip("10.0.0.1")
        );
    }

    #[tokio::test]
    async fn the_report_gate_lets_two_run_some_wait_and_refuses_the_rest() {
        let gate = std::sync::Arc::new(ReportGate::new(2, 1));
        let a = gate.acquire().await.unwrap();
        let _b = gate.acquire().await.unwrap();
        // The third waits in the queue; a fourth finds it full.
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.acquire().await.map(drop) })
        };
        while gate.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let refused = gate.acquire().await.unwrap_err();
        assert_eq!(refused.retry_after_secs(), 5);
        // A slot freed: the waiter gets it.
        drop(a);
        assert!(waiter.await.unwrap().is_ok());
        assert_eq!(gate.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_hash_gate_bounds_concurrency_and_its_queue() {
        use std::sync::atomic::AtomicBool;
        let gate = std::sync::Arc::new(HashGate::new(2, 3));
        // The "hashes" run until the test lets them finish, so the two
        // slots and the queue of three are full while the rest arrive.
        let go = std::sync::Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..12)
            .map(|_| {
                let (gate, go) = (gate.clone(), go.clone());
                tokio::spawn(async move {
                    gate.run(move || {
                        while !go.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    })
                    .await
                })
            })
            .collect();
        for _ in 0..1000 {
            if tasks.iter().filter(|t| t.is_finished()).count() >= 7 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        go.store(true, Ordering::SeqCst);
        let mut done = 0;
        let mut refused = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(()) => done += 1,
                Err(e) => {
                    assert_eq!(e.retry_after_secs(), 1);
                    refused += 1;
                }
            }
        }
        assert_eq!(gate.peak(), 2);
        assert_eq!(done, 5, "two running and three waiting");
        assert_eq!(refused, 7);
    }
}
