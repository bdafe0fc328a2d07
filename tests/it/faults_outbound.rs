//! Faults under load (issue 18), outbound: every receiver the server sends
//! to (webhooks, SMTP, a generic HTTP connector and a Request Tracker
//! connector, all configured at once) is down, slow (it answers after 30 s)
//! or answers garbage, while four clients start, answer and escalate
//! sessions with an e-mail address (so every escalation leaves a webhook
//! event, a mail and a connector message in the outbox). The answers must
//! keep their latency: the p99 stays within a generous bound of a baseline
//! measured in the same test against healthy receivers, and no request takes
//! anywhere near a relay's timeout. Nothing acknowledged is lost, the log
//! reports every channel's failures as retries and no error, and the outbox
//! still holds every undelivered message; once the slow receivers recover,
//! they get every one of them.
//!
//! The receivers are small fakes on std threads (`common::fakes`); "down"
//! is a port nobody listens on.

use crate::common::fakes::{Fake, Mode, Protocol, dead_port};
use crate::common::{one_fault_at_a_time, sqlite_rows};
use crate::faults::record_fault;
use crate::serve::{Http, Server, TempDir, fixpath};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Clients at once.
const CLIENTS: usize = 4;
/// Sessions each client starts, answers twice and escalates.
const SESSIONS_PER_CLIENT: usize = 25;
/// How long the relays may take to deliver everything to healthy (or
/// recovered) receivers. (Against slow ones, a connector message waits out
/// two 10 s timeouts, one per connector, before its failure is logged, and
/// the mail relay gives up a send only at its 30 s bound.)
const PATIENCE: Duration = Duration::from_secs(40);
/// What the RT connector reads its token from.
const RT_TOKEN_VAR: &str = "FIXPATH_FAULTS_RT_TOKEN";

// ---------------------------------------------------------------- receivers

/// The four receivers of one run, all of one mode, or all down.
struct Receivers {
    webhook: Option<Fake>,
    smtp: Option<Fake>,
    connector: Option<Fake>,
    rt: Option<Fake>,
    ports: [u16; 4],
}

impl Receivers {
    fn start(mode: Option<Mode>) -> Receivers {
        let fake = |p| mode.map(|m| Fake::start(p, m));
        let (webhook, smtp, connector, rt) = (
            fake(Protocol::Http),
            fake(Protocol::Smtp),
            fake(Protocol::Http),
            fake(Protocol::Http),
        );
        let port = |f: &Option<Fake>| f.as_ref().map_or_else(dead_port, |f| f.port);
        let ports = [port(&webhook), port(&smtp), port(&connector), port(&rt)];
        Receivers {
            webhook,
            smtp,
            connector,
            rt,
            ports,
        }
    }

    fn all(&self) -> impl Iterator<Item = &Fake> {
        [&self.webhook, &self.smtp, &self.connector, &self.rt]
            .into_iter()
            .flatten()
    }

    fn config(&self) -> String {
        let [webhook, smtp, connector, rt] = self.ports;
        format!(
            r#"webhooks = ["http://127.0.0.1:{webhook}/hook"]
smtp = "smtp://127.0.0.1:{smtp}"
mail_from = "Helpdesk <help@example.com>"
public_url = "http://help.example.com"

[limits]
sessions_per_minute = 100000

[[connector]]
kind = "http"
name = "tickets"
url = "http://127.0.0.1:{connector}/api/tickets"
headers = {{ "idempotency-key" = "{{{{ message_id }}}}" }}
body = '''{{"subject": {{{{ record.reference|tojson }}}}}}'''
id_from = "/ticket/id"

[[connector]]
kind = "rt"
url = "http://127.0.0.1:{rt}/rt"
token_env = "{RT_TOKEN_VAR}"
queues = {{ "*" = "General" }}
"#
        )
    }
}

// ---------------------------------------------------------------- load

/// A session as it was acknowledged.
struct Acked {
    id: String,
    token: String,
    escalated: bool,
}

#[derive(Default)]
struct Load {
    acked: Vec<Acked>,
    /// Every acknowledged request's time.
    latencies: Vec<Duration>,
    /// Requests not acknowledged, with what came back.
    failed: Vec<String>,
}

/// One client: sessions started, answered twice and escalated with an
/// address, each request timed.
fn client(base: &str) -> Load {
    let http = Http::new();
    let mut load = Load::default();
    let timed = |load: &mut Load, what: &str, url: String, token: Option<&str>, body: Json| {
        let t = Instant::now();
        let r = http.try_post(&url, token, body);
        let took = t.elapsed();
        match r {
            Some((200 | 201, b)) => {
                load.latencies.push(took);
                Some(b)
            }
            other => {
                load.failed
                    .push(format!("{what} after {took:?}: {other:?}"));
                None
            }
        }
    };
    for _ in 0..SESSIONS_PER_CLIENT {
        let Some(s) = timed(
            &mut load,
            "start",
            format!("{base}/api/v1/sessions"),
            None,
            json!({"script": "router-no-internet", "channel": "customer"}),
        ) else {
            continue;
        };
        let id = s["id"].as_str().unwrap().to_owned();
        let token = s["token"].as_str().unwrap().to_owned();
        load.acked.push(Acked {
            id: id.clone(),
            token: token.clone(),
            escalated: false,
        });
        let mut seq = s["step"]["seq"].clone();
        for answer in ["all-devices", "no"] {
            let Some(r) = timed(
                &mut load,
                "answer",
                format!("{base}/api/v1/sessions/{id}/answer"),
                Some(&token),
                json!({"seq": seq, "answer": answer}),
            ) else {
                break;
            };
            seq = r["step"]["seq"].clone();
        }
        let escalated = timed(
            &mut load,
            "escalate",
            format!("{base}/api/v1/sessions/{id}/escalate"),
            Some(&token),
            json!({"seq": seq, "note": "Nothing helped.", "email": "ann@example.com"}),
        );
        if escalated.is_some_and(|e| e["status"] == "escalated") {
            load.acked.last_mut().unwrap().escalated = true;
        }
    }
    load
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}

/// What one run measured.
struct Run {
    name: &'static str,
    requests: usize,
    sessions: usize,
    escalations: usize,
    found: usize,
    lost: Vec<String>,
    failed: Vec<String>,
    p50: Duration,
    p99: Duration,
    max: Duration,
    /// What became of the outbox's messages.
    outbox: String,
}

impl Run {
    fn line(&self, baseline_p99: Option<Duration>) -> String {
        format!(
            "outbound receivers {}: {} requests acknowledged ({} sessions, {} escalations), \
             {} not; {} sessions found whole, {} lost; latency p50 {} ms, p99 {} ms, max {} ms{}; \
             {}",
            self.name,
            self.requests,
            self.sessions,
            self.escalations,
            self.failed.len(),
            self.found,
            self.lost.len(),
            self.p50.as_millis(),
            self.p99.as_millis(),
            self.max.as_millis(),
            baseline_p99.map_or(String::new(), |b| format!(
                " (baseline p99 {} ms)",
                b.as_millis()
            )),
            self.outbox,
        )
    }
}

/// The load from [`CLIENTS`] clients at once, then every acknowledged
/// session looked for.
fn drive(server: &Server, name: &'static str) -> Run {
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let base = server.base.clone();
            std::thread::spawn(move || client(&base))
        })
        .collect();
    let mut all = Load::default();
    for c in clients {
        let l = c.join().unwrap();
        all.acked.extend(l.acked);
        all.latencies.extend(l.latencies);
        all.failed.extend(l.failed);
    }
    let http = Http::new();
    let mut lost = Vec::new();
    for a in &all.acked {
        let (status, s) = http.get(
            &server.url(&format!("/api/v1/sessions/{}", a.id)),
            Some(&a.token),
        );
        let whole = status == 200
            && (!a.escalated || (s["status"] == "escalated" && s["case"]["reference"].is_string()));
        if !whole {
            lost.push(format!("{}: {status} {s}", a.id));
        }
    }
    all.latencies.sort();
    Run {
        name,
        requests: all.latencies.len(),
        sessions: all.acked.len(),
        escalations: all.acked.iter().filter(|a| a.escalated).count(),
        found: all.acked.len() - lost.len(),
        lost,
        failed: all.failed,
        p50: percentile(&all.latencies, 0.50),
        p99: percentile(&all.latencies, 0.99),
        max: all.latencies.last().copied().unwrap_or_default(),
        outbox: String::new(),
    }
}

// ---------------------------------------------------------------- outbox

/// The outbox by event type: (messages, of them undelivered).
fn outbox(db: &str) -> BTreeMap<String, (i64, i64)> {
    let rows: Vec<(String, i64, i64)> = sqlite_rows(
        db,
        "SELECT event_type, count(*), sum(delivered_at IS NULL) FROM outbox GROUP BY event_type",
    );
    rows.into_iter().map(|(t, n, u)| (t, (n, u))).collect()
}

/// The message types every escalation with an address leaves.
const PER_ESCALATION: [&str; 3] = [
    "escalation.created",
    "mail.received",
    "sync.escalation.created",
];

fn wait_until(server: &Server, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "{what} did not happen in time:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Every channel said it failed and will retry.
const FAILURES: [&str; 3] = [
    "webhook delivery failed; will retry",
    "mail delivery failed; will retry",
    "a ticketing connector failed; will retry",
];

fn serve(dir: &TempDir, receivers: &Receivers) -> Server {
    std::fs::write(dir.path().join("fixpath.toml"), receivers.config()).unwrap();
    let mut cmd = fixpath(dir.path());
    cmd.env(RT_TOKEN_VAR, "1-faults-token")
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--scripts"])
        .arg(dir.scripts())
        .args(["--db", &dir.db(), "--config", "fixpath.toml"]);
    Server::spawn(cmd)
}

/// A run whose load is done; [`Running::finish`] checks the rest.
struct Running {
    name: &'static str,
    mode: Option<Mode>,
    began: Instant,
    dir: TempDir,
    receivers: Receivers,
    server: Server,
    run: Run,
}

/// The receivers in `mode` (`None`: down), a server sending to them, the
/// load, and every session looked for.
fn begin(name: &'static str, mode: Option<Mode>) -> Running {
    let began = Instant::now();
    let dir = TempDir::with_scripts(&format!("faults-out-{name}"));
    let receivers = Receivers::start(mode);
    let server = serve(&dir, &receivers);
    let run = drive(&server, name);
    Running {
        name,
        mode,
        began,
        dir,
        receivers,
        server,
        run,
    }
}

impl Running {
    /// The outbox, the receivers and the log checked.
    fn finish(self) -> Run {
        let Running {
            name,
            mode,
            began,
            dir,
            receivers,
            server,
            mut run,
        } = self;
        let n = run.escalations as i64;
        let undelivered = || {
            let types = outbox(&dir.db());
            PER_ESCALATION
                .iter()
                .map(|t| types.get(*t).map_or(0, |c| c.1))
                .sum::<i64>()
        };
        if mode == Some(Mode::Healthy) {
            // The fakes work: everything goes out during the load or soon after.
            wait_until(&server, "every delivery to healthy receivers", || {
                undelivered() == 0
            });
            run.outbox = format!("all {} messages delivered", 3 * n);
        } else {
            for f in FAILURES {
                server.wait_for_log(f, 1);
            }
            // Nothing dropped: every message of every escalation is still
            // waiting for its receiver.
            let types = outbox(&dir.db());
            for t in PER_ESCALATION {
                assert_eq!(
                    types.get(t).copied(),
                    Some((n, n)),
                    "{name}: `{t}` in the outbox (messages, undelivered), {n} escalations: {types:?}"
                );
            }
            run.outbox = format!("all {} messages kept undelivered, none dropped", 3 * n);
        }
        let reported = began.elapsed();
        if mode == Some(Mode::Slow) {
            // The receivers recover (the requests they sit on are answered
            // at once): every message reaches them on the relays' retries.
            receivers.all().for_each(|f| f.switch(Mode::Healthy));
            wait_until(
                &server,
                "every delivery once the receivers recovered",
                || undelivered() == 0,
            );
            run.outbox
                .push_str(", then all delivered once the receivers recovered");
        }
        if matches!(mode, Some(Mode::Healthy | Mode::Slow)) {
            let took = |f: &Option<Fake>| f.as_ref().map_or(0, Fake::took);
            let r = &receivers;
            assert_eq!(
                [
                    took(&r.webhook),
                    took(&r.smtp),
                    took(&r.connector),
                    took(&r.rt)
                ],
                [run.escalations; 4],
                "{name}: messages taken by the webhook, SMTP, HTTP connector and RT receivers"
            );
        } else {
            for f in receivers.all() {
                assert!(f.seen() > 0, "{name}: a receiver was never tried");
            }
        }
        eprintln!(
            "faults: outbound receivers {name}: failures reported after {reported:?}, \
             done after {:?}",
            began.elapsed()
        );
        let (_, log) = server.stop();
        for bad in ["ERROR", "panicked"] {
            assert!(!log.contains(bad), "{name}: `{bad}` in the log:\n{log}");
        }
        run
    }
}

#[test]
fn every_outbound_receiver_down_slow_or_garbage_leaves_the_answers_their_latency() {
    let _alone = one_fault_at_a_time();
    let started = Instant::now();
    let baseline = begin("healthy", Some(Mode::Healthy)).finish();
    // The slow receivers keep the relays waiting for 30 s before the mail
    // relay can report (its bound per send): the other faults run
    // meanwhile, once the slow run's load is done and its server idles.
    let slow = begin("slow", Some(Mode::Slow));
    let down = begin("down", None).finish();
    let garbage = begin("garbage", Some(Mode::Garbage)).finish();
    let faults = [down, slow.finish(), garbage];
    record_fault(&baseline.line(None));
    // A request that waited for a receiver would take a relay's timeout
    // (10 s) or the slow receiver's 30 s; the bounds are far below both and
    // far above what the other tests running beside this one on a two-core
    // machine add to a p99 of some tens of milliseconds.
    let bound = (baseline.p99 * 5).max(baseline.p99 + Duration::from_secs(1));
    let mut problems = Vec::new();
    for r in std::iter::once(&baseline).chain(&faults) {
        if r.name != "healthy" {
            record_fault(&r.line(Some(baseline.p99)));
        }
        if !r.failed.is_empty() || !r.lost.is_empty() {
            problems.push(format!(
                "{}: not acknowledged {:?}, lost {:?}",
                r.name, r.failed, r.lost
            ));
        }
        if r.sessions != CLIENTS * SESSIONS_PER_CLIENT || r.escalations != r.sessions {
            problems.push(format!(
                "{}: {} sessions, {} escalated",
                r.name, r.sessions, r.escalations
            ));
        }
        if r.p99 > bound || r.max > Duration::from_secs(5) {
            problems.push(format!(
                "{}: p99 {:?}, max {:?}; the bound is {bound:?} (baseline p99 {:?})",
                r.name, r.p99, r.max, baseline.p99
            ));
        }
    }
    eprintln!(
        "faults: outbound receivers: all runs in {:?}",
        started.elapsed()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
