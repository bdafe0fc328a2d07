//! What a stranger can make the server spend, and what it writes down:
//! the sign-in lockout under parallel tries, the bound on password hashes,
//! the per-address rate limits, the idle limit on the API, and log lines
//! that cannot be forged or leak a resume link's token.
//!
//! Every test here runs a real server on an ephemeral port and sends real,
//! parallel requests. The logs of the whole binary go to one buffer (a
//! process has one global subscriber), so the log test looks only for the
//! names it sent itself.

use crate::common;

use common::logs::Logs;
use common::{TestApp, staff};
use fixpath::http::HttpConfig;
use fixpath::http::limits::{LimitConfig, Rate};
use fixpath::http::web::throttle::MAX_FAILURES;
use fixpath::store::Role;
use reqwest::StatusCode;
use serde_json::json;
use std::sync::{Arc, OnceLock};

/// Limits that stay out of the way of a test about something else.
fn roomy() -> LimitConfig {
    LimitConfig {
        // Room for every hash a test runs at once, so none waits long in
        // the queue on a busy machine.
        hash_slots: 16,
        hash_queue: 1000,
        signin: Rate {
            per_minute: 10_000,
            burst: 10_000,
        },
        session_start: Rate {
            per_minute: 10_000,
            burst: 10_000,
        },
        status_lookup: Rate {
            per_minute: 10_000,
            burst: 10_000,
        },
        trusted_proxies: Vec::new(),
    }
}

async fn app_with_limits(limits: LimitConfig) -> TestApp {
    TestApp::start_with(
        HttpConfig {
            limits,
            ..HttpConfig::default()
        },
        |r, _| r,
    )
    .await
}

/// A sign-in answer: status, `Retry-After`, whether a staff cookie was set,
/// and the page.
struct SignIn {
    status: StatusCode,
    retry_after: Option<u64>,
    signed_in: bool,
    body: String,
}

/// Posts the sign-in form as a browser would (the CSRF cookie and field
/// agree), without following the redirect.
async fn sign_in(base: &str, name: &str, password: &str, language: &str) -> SignIn {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .post(format!("{base}/signin"))
        .header("cookie", "fp_csrf=test-csrf")
        .header("accept-language", language)
        .form(&[
            ("csrf", "test-csrf"),
            ("name", name),
            ("password", password),
            ("next", ""),
        ])
        .send()
        .await
        .expect("the sign-in is answered");
    let status = res.status();
    let retry_after = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let signed_in = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|c| c.to_str().is_ok_and(|c| c.starts_with("fp_staff=fps_")));
    let body = res.text().await.unwrap_or_default();
    SignIn {
        status,
        retry_after,
        signed_in,
        body,
    }
}

/// Sends all `tries` (name, password) at once; the answers in order.
async fn all_at_once(app: &TestApp, tries: Vec<(String, String)>) -> Vec<SignIn> {
    let barrier = Arc::new(tokio::sync::Barrier::new(tries.len()));
    let tasks: Vec<_> = tries
        .into_iter()
        .map(|(name, password)| {
            let base = app.base.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                sign_in(&base, &name, &password, "en").await
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn count(answers: &[SignIn], status: u16) -> usize {
    answers
        .iter()
        .filter(|a| a.status.as_u16() == status)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_passwords_cannot_outrun_the_lockout() {
    let app = app_with_limits(roomy()).await;
    staff(&app, "sam", Role::Specialist, "correct horse battery").await;
    let tries = (0..40)
        .map(|i| ("sam".to_owned(), format!("guess-{i}")))
        .collect();
    let answers = all_at_once(&app, tries).await;
    let max = MAX_FAILURES as usize;
    assert_eq!(
        count(&answers, 401),
        max,
        "only the first {max} are checked"
    );
    assert_eq!(count(&answers, 429), 40 - max, "the rest are refused");
    for a in answers.iter().filter(|a| a.status == 429) {
        assert!(a.retry_after.is_some_and(|s| s > 60), "a wait of minutes");
        assert!(a.body.contains("Too many wrong passwords"), "{}", a.body);
    }
    let right = sign_in(&app.base, "sam", "correct horse battery", "en").await;
    assert_eq!(right.status, 429);
    assert!(!right.signed_in);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_right_password_among_parallel_wrong_ones_is_checked_only_within_the_limit() {
    let app = app_with_limits(roomy()).await;
    staff(&app, "kim", Role::Specialist, "kim-password-1").await;
    let mut tries: Vec<(String, String)> = (0..29)
        .map(|i| ("kim".to_owned(), format!("guess-{i}")))
        .collect();
    tries.push(("kim".to_owned(), "kim-password-1".to_owned()));
    let answers = all_at_once(&app, tries).await;
    // Only the first MAX_FAILURES attempts have their password checked (a
    // 401, or the right one's redirect); the others are refused unchecked.
    // A right password among those first few clears the count, as any good
    // sign-in does, and the wrong ones after it start a new count.
    let max = MAX_FAILURES as usize;
    let checked = count(&answers, 401) + count(&answers, 303);
    let limit = if count(&answers, 303) == 1 {
        2 * max
    } else {
        max
    };
    assert!(checked <= limit, "{checked} passwords were checked");
    assert_eq!(checked + count(&answers, 429), 30);

    // Once the limit is reached, the right password among wrong ones is
    // refused like them.
    staff(&app, "lee", Role::Agent, "lee-password-1").await;
    for i in 0..MAX_FAILURES {
        let wrong = sign_in(&app.base, "lee", &format!("nope-{i}"), "en").await;
        assert_eq!(wrong.status, 401);
    }
    let mut tries: Vec<(String, String)> = (0..29)
        .map(|i| ("lee".to_owned(), format!("guess-{i}")))
        .collect();
    tries.push(("lee".to_owned(), "lee-password-1".to_owned()));
    let answers = all_at_once(&app, tries).await;
    assert_eq!(count(&answers, 429), 30);
    assert!(answers.iter().all(|a| !a.signed_in));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_hashes_run_a_few_at_a_time_and_the_overflow_is_told_to_wait() {
    let app = app_with_limits(LimitConfig {
        hash_slots: 2,
        hash_queue: 4,
        ..roomy()
    })
    .await;
    // Distinct names, so the lockout plays no part.
    let tries = (0..40)
        .map(|i| (format!("stranger-{i}"), "a password".to_owned()))
        .collect();
    let answers = all_at_once(&app, tries).await;
    assert_eq!(
        app.state.guards.hashes.peak(),
        2,
        "two hashes at once, at most"
    );
    let refused: Vec<&SignIn> = answers.iter().filter(|a| a.status == 429).collect();
    assert!(!refused.is_empty(), "a queue of 4 cannot hold 38");
    for a in &refused {
        assert_eq!(a.retry_after, Some(1));
        assert!(a.body.contains("Too many sign-in attempts"), "{}", a.body);
    }
    // Everyone else had their password checked (and it was wrong); a
    // queued one may also be told to wait when the machine is slow.
    assert_eq!(count(&answers, 401) + refused.len(), 40);
    assert!(count(&answers, 401) >= 2);
}

#[tokio::test]
async fn sign_ins_from_one_address_are_rate_limited_with_a_page_in_the_readers_language() {
    let app = app_with_limits(LimitConfig {
        signin: Rate {
            per_minute: 3,
            burst: 3,
        },
        ..roomy()
    })
    .await;
    for i in 0..3 {
        let a = sign_in(&app.base, &format!("who-{i}"), "pw", "de").await;
        assert_eq!(a.status, 401);
    }
    let refused = sign_in(&app.base, "who-4", "pw", "de").await;
    assert_eq!(refused.status, 429);
    // One request refills every 20 seconds.
    assert!(refused.retry_after.is_some_and(|s| (1..=20).contains(&s)));
    assert!(
        refused.body.contains("zu viele Anmeldeversuche"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("lang=\"de\""));
    insta::assert_snapshot!("signin_rate_limited_de", page_text(&refused.body));
}

/// A page as its reader sees it: the text of `<main>`, one line per
/// block, without markup.
fn page_text(html: &str) -> String {
    let main = html
        .split_once("<main")
        .and_then(|(_, rest)| rest.split_once("</main>"))
        .map_or(html, |(m, _)| m);
    let blocks = regex::Regex::new(r"</?(p|h1|h2|div|label|button|li|form|input)[^>]*>").unwrap();
    let tags = regex::Regex::new(r"<[^>]*>").unwrap();
    let lines = blocks.replace_all(main, "\n");
    let text = tags.replace_all(&lines, "");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("id=") && !l.starts_with("class="))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn anonymous_session_starts_are_rate_limited_and_staff_are_not() {
    let app = app_with_limits(LimitConfig {
        session_start: Rate {
            per_minute: 2,
            burst: 2,
        },
        ..roomy()
    })
    .await;
    let start = json!({"script": "wifi", "channel": "customer"});
    for _ in 0..2 {
        app.post("/api/v1/sessions", None, &start)
            .await
            .assert_ok(201);
    }
    let res = app
        .client
        .post(app.url("/api/v1/sessions"))
        .json(&start)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("try again in")
    );
    let agent = app.user("ann", Role::Agent, 1).await;
    let by_staff = json!({"script": "wifi", "channel": "agent"});
    app.post("/api/v1/sessions", Some(&agent), &by_staff)
        .await
        .assert_ok(201);

    // The wizard's start shares the address's bucket: a page, not JSON.
    let res = app
        .client
        .post(app.url("/start"))
        .header("cookie", "fp_csrf=c")
        .header("accept-language", "nl")
        .form(&[("csrf", "c"), ("script", "wifi")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let page = res.text().await.unwrap();
    assert!(page.contains("te veel sessies"), "{page}");
    insta::assert_snapshot!("wizard_start_rate_limited_nl", page_text(&page));
}

#[tokio::test]
async fn the_idle_limit_holds_on_the_api_too() {
    let app = TestApp::start_with(
        HttpConfig {
            wizard_idle: std::time::Duration::ZERO,
            limits: roomy(),
            ..HttpConfig::default()
        },
        |r, _| r,
    )
    .await;
    let start = json!({"script": "wifi", "channel": "customer"});
    let (id, token, _) = app.start_session(None, &start).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let base = format!("/api/v1/sessions/{id}");
    let answer = app
        .post(
            &format!("{base}/answer"),
            Some(&token),
            &json!({"seq": 1, "answer": "yes"}),
        )
        .await;
    let message = answer.assert_error(410, "session_expired");
    assert!(message.contains("start a new session"), "{message}");
    app.post(&format!("{base}/back"), Some(&token), &json!({"seq": 1}))
        .await
        .assert_error(410, "session_expired");
    app.post(
        &format!("{base}/escalate"),
        Some(&token),
        &json!({"seq": 1}),
    )
    .await
    .assert_error(410, "session_expired");
    let stored = app.store.session(&id).await.unwrap().expect("stored");
    assert_eq!(
        (stored.state.seq, stored.state.trail.len()),
        (1, 0),
        "nothing changed"
    );
}

// ---------------------------------------------------------------------------
// Logs.

/// Everything the binary logged, as text lines without colours.
fn log_buffer() -> Logs {
    static BUFFER: OnceLock<Logs> = OnceLock::new();
    BUFFER
        .get_or_init(|| {
            let logs = Logs::default();
            let sink = logs.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new("debug,sqlx=warn"))
                .with_ansi(false)
                .with_writer(move || sink.clone())
                .finish();
            tracing::subscriber::set_global_default(subscriber).expect("one subscriber");
            logs
        })
        .clone()
}

#[tokio::test]
async fn a_sign_in_name_cannot_forge_a_log_line_and_a_resume_token_is_never_logged() {
    let logs = log_buffer();
    let app = app_with_limits(roomy()).await;
    let forged =
        "mallory\n2026-12-07T02:00:00.000000Z  INFO fixpath: signed in name=admin1\u{1b}[2K";
    let a = sign_in(&app.base, forged, "wrong", "en").await;
    assert_eq!(a.status, 401);
    let long = format!("longname-{}", "x".repeat(60_000));
    let a = sign_in(&app.base, &long, "wrong", "en").await;
    assert_eq!(a.status, 401);

    // A resume link, opened from another device.
    let start = json!({"script": "wifi", "channel": "customer"});
    let (id, token, _) = app.start_session(None, &start).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .get(app.url(&format!("/s/{id}?lang=en&t={token}")))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection() || res.status().is_success());
    let res = client
        .get(app.url(&format!("/s/{id}?%74={token}")))
        .send()
        .await
        .unwrap();
    assert!(res.status().as_u16() < 500);

    let text = logs.text();
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("mallory") || l.contains("admin1") || l.contains("longname-"))
        .collect();
    assert_eq!(ours.len(), 2, "one line per failed sign-in: {ours:#?}");
    for line in &ours {
        assert!(line.contains("a web sign-in failed"), "{line}");
        assert!(!line.contains('\u{1b}'), "no raw ESC: {line:?}");
        assert!(line.len() < 1000, "a capped line: {} bytes", line.len());
    }
    assert!(ours[0].contains(r"mallory\n2026-12-07"), "{}", ours[0]);
    assert!(ours[0].contains(r"\u{1b}[2K"), "{}", ours[0]);
    assert!(ours[1].contains("xxx…"), "{}", ours[1]);
    assert!(
        !text
            .lines()
            .any(|l| l.trim_start().starts_with("2026-12-07T02:00:00.000000Z")),
        "a forged line"
    );

    // The request spans were logged (at debug), the token never.
    let token_body = token.trim_start_matches("fpc_");
    assert!(
        !text.contains(token_body),
        "the resume token reached the log"
    );
    assert!(
        text.contains(&format!("/s/{id}?lang=en&t=[redacted]")),
        "{text}"
    );
    assert!(text.contains(&format!("/s/{id}?%74=[redacted]")));
}
