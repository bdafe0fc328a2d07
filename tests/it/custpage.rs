//! The customer's side of a case (contract sections 10 and 11): the case
//! page at the session's link in each of its states and two languages, the
//! customer's message form (refused for another session's cookie), the
//! check page's e-mail address, `/status` (the same answer for a right and
//! a wrong pair; the link mail reaches a real aiosmtpd for the right pair
//! only), and satisfaction: its rules through the API on SQLite and
//! PostgreSQL, its forms on the pages.

use crate::common;
use crate::mail::{Smtpd, TempDir, fast, free_port, maildir, relay, smtp_available};
use crate::web::{Browser, Page, redact, start_wizard};

use common::pg::TestDb;
use common::{PRINTER, SCRIPTS, TestApp};
use fixpath::clock::Clock;
use fixpath::delivery::RelayConfig;
use fixpath::delivery::mail::MailConfig;
use fixpath::http::{CaseSettings, HttpConfig};
use fixpath::store::postgres::PgStore;
use fixpath::store::sqlite::SqliteStore;
use fixpath::store::{Role, Store};
use mail_parser::MessageParser;
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

async fn sqlite(name: &str) -> Arc<dyn Store> {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    let path = std::env::temp_dir().join(format!(
        "fixpath-custpage-{name}-{}-{}.db",
        std::process::id(),
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    ));
    Arc::new(SqliteStore::open(path.to_str().unwrap()).await.unwrap())
}

/// An app on the usual scripts and the printer (en, nl, de), its clock
/// fixed at [`T0`], mail on (links start with the request's host).
async fn app_on(store: Arc<dyn Store>) -> TestApp {
    let mut files = SCRIPTS.to_vec();
    files.push(PRINTER);
    let dir = std::env::temp_dir().join(format!(
        "fixpath-custpage-app-{}-{}",
        std::process::id(),
        fixpath::http::auth::random_id("x").unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    TestApp::start_in(
        dir,
        store,
        HttpConfig::default(),
        &files,
        |state| {
            state.clock = Clock::fixed(T0);
            state.cases = Arc::new(CaseSettings {
                mail: true,
                mirror: false,
                ..CaseSettings::default()
            });
        },
        |r, _| r,
    )
    .await
}

// ------------------------------------------------------------ satisfaction

/// A customer's Wi-Fi session resolved by the script (power light off).
async fn resolved_by_script(app: &TestApp) -> (String, String) {
    let (id, token, _) = app
        .start_session(None, &json!({"script": "wifi", "channel": "customer"}))
        .await;
    let r = app
        .post(
            &format!("/api/v1/sessions/{id}/answer"),
            Some(&token),
            &json!({"seq": 1, "answer": "no"}),
        )
        .await;
    assert_eq!(r.assert_ok(200)["status"], "resolved");
    (id, token)
}

/// A customer's Wi-Fi session handed to a person at once: `(id, token,
/// case id)`.
async fn escalated(app: &TestApp) -> (String, String, String) {
    let (id, token, _) = app
        .start_session(None, &json!({"script": "wifi", "channel": "customer"}))
        .await;
    let r = app
        .post(
            &format!("/api/v1/sessions/{id}/escalate"),
            Some(&token),
            &json!({"seq": 1}),
        )
        .await;
    let esc = r.assert_ok(200)["escalation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, token, esc)
}

async fn rate(app: &TestApp, id: &str, token: &str, body: Json) -> common::Res {
    app.post(
        &format!("/api/v1/sessions/{id}/feedback"),
        Some(token),
        &body,
    )
    .await
}

async fn feedback_rules(app: TestApp) {
    let sam = app.user("sam", Role::Specialist, 2).await;

    // Self-service: refused while malformed, then once.
    let (id, token) = resolved_by_script(&app).await;
    for bad in [0, 6, -1] {
        rate(&app, &id, &token, json!({"score": bad}))
            .await
            .assert_error(422, "invalid_score");
    }
    let long = "x".repeat(2001);
    let r = rate(&app, &id, &token, json!({"score": 3, "comment": long})).await;
    r.assert_error(413, "payload_too_large");
    let r = rate(&app, &id, &sam, json!({"score": 3})).await;
    r.assert_error(403, "forbidden");
    let (other, other_token) = resolved_by_script(&app).await;
    rate(&app, &id, &other_token, json!({"score": 3}))
        .await
        .assert_error(404, "not_found");
    let r = rate(&app, &id, &token, json!({"score": 5, "comment": "Quick!"})).await;
    assert_eq!(
        r.assert_ok(201),
        &json!({"kind": "self_service", "score": 5})
    );
    rate(&app, &id, &token, json!({"score": 4}))
        .await
        .assert_error(409, "feedback_given");
    assert_eq!(
        app.store.feedback_kinds(&id).await.unwrap(),
        vec![fixpath::case::feedback::FeedbackKind::SelfService]
    );
    assert!(app.store.feedback_kinds(&other).await.unwrap().is_empty());

    // Under way: nothing to rate.
    let (active, active_token, _) = app
        .start_session(None, &json!({"script": "wifi", "channel": "customer"}))
        .await;
    rate(&app, &active, &active_token, json!({"score": 2}))
        .await
        .assert_error(409, "not_ended");

    // A case: only once resolved, then once.
    let (id, token, esc) = escalated(&app).await;
    rate(&app, &id, &token, json!({"score": 2}))
        .await
        .assert_error(409, "case_not_resolved");
    app.post(
        &format!("/api/v1/escalations/{esc}/resolve"),
        Some(&sam),
        &json!({"resolution": "We replaced the router"}),
    )
    .await
    .assert_ok(200);
    let r = rate(&app, &id, &token, json!({"score": 4})).await;
    assert_eq!(r.assert_ok(201), &json!({"kind": "case", "score": 4}));
    rate(&app, &id, &token, json!({"score": 1}))
        .await
        .assert_error(409, "feedback_given");

    // Reopened and resolved again: still rated once.
    app.post(
        &format!("/api/v1/sessions/{id}/message"),
        Some(&token),
        &json!({"text": "It dropped again"}),
    )
    .await
    .assert_ok(200);
    rate(&app, &id, &token, json!({"score": 1}))
        .await
        .assert_error(409, "case_not_resolved");
    app.post(
        &format!("/api/v1/escalations/{esc}/resolve"),
        Some(&sam),
        &json!({"resolution": "New cable"}),
    )
    .await
    .assert_ok(200);
    rate(&app, &id, &token, json!({"score": 1}))
        .await
        .assert_error(409, "feedback_given");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_taken_once_per_kind_on_sqlite() {
    feedback_rules(app_on(sqlite("feedback").await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feedback_is_taken_once_per_kind_on_postgres() {
    let Some(db) = TestDb::create("feedback_is_taken_once_per_kind").await else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(PgStore::open(&db.url, 8).await.unwrap());
    feedback_rules(app_on(store).await).await;
    drop(db);
}

// ------------------------------------------------------------ the case page

/// A specialist's API call on case `esc`.
async fn staff_act(app: &TestApp, token: &str, esc: &str, act: &str, body: Json) {
    app.post(
        &format!("/api/v1/escalations/{esc}/{act}"),
        Some(token),
        &body,
    )
    .await
    .assert_ok(200);
}

/// Walks the printer script in `b` to the check page and hands it over
/// with `email`: the session id and the page after.
async fn hand_over(b: &mut Browser, email: &str) -> (String, Page) {
    let (id, page) = start_wizard(b, "printer").await;
    let seq = page.field("seq");
    let page = b
        .post(
            &format!("/s/{id}/answer"),
            &[("seq", &seq), ("answer", "yes")],
        )
        .await;
    let seq = page.field("seq");
    let page = b
        .post(
            &format!("/s/{id}/answer"),
            &[("seq", &seq), ("value", "LX-200")],
        )
        .await;
    let seq = page.field("seq");
    let check = b.get(&format!("/s/{id}/check")).await;
    check.assert_status(200).assert_has(r#"name="email""#);
    let page = b
        .post(
            &format!("/s/{id}/escalate"),
            &[("seq", &seq), ("note", ""), ("email", email)],
        )
        .await;
    (id, page)
}

/// Words of the pages under test, by language.
struct Words {
    received: &'static str,
    working: &'static str,
    waiting: &'static str,
    resolved: &'static str,
    you: &'static str,
    support: &'static str,
    mail: &'static str,
    reopen: &'static str,
    thanks: &'static str,
    closed: &'static str,
    closed_error: &'static str,
}

const EN: Words = Words {
    received: "Received",
    working: "A specialist is working on it",
    waiting: "Waiting for your reply",
    resolved: "<strong>Resolved</strong>",
    you: "<strong>You</strong>",
    support: "<strong>Support</strong>",
    mail: "We will also e-mail you when there is news.",
    reopen: "Not solved after all?",
    thanks: "Thank you for your feedback",
    closed: "is now closed",
    closed_error: "This request is closed and takes no more messages.",
};

const DE: Words = Words {
    received: "Eingegangen",
    working: "Eine Fachkraft kümmert sich darum",
    waiting: "Wartet auf Ihre Antwort",
    resolved: "<strong>Erledigt</strong>",
    you: "<strong>Sie</strong>",
    support: "<strong>Kundendienst</strong>",
    mail: "Wir benachrichtigen Sie außerdem per E-Mail",
    reopen: "Doch nicht gelöst?",
    thanks: "Vielen Dank für Ihre Bewertung",
    closed: "ist jetzt abgeschlossen",
    closed_error: "Diese Anfrage ist abgeschlossen und nimmt keine Nachrichten mehr an.",
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_case_page_follows_every_state_in_two_languages() {
    for (lang, w) in [("en", EN), ("de", DE)] {
        let app = app_on(sqlite("states").await).await;
        let sam = app.user("sam", Role::Specialist, 2).await;
        let mut kim = Browser::new(&app);
        kim.language = Some(lang.into());

        // A malformed address: the check page again, 422, what was typed kept.
        let (id, _) = start_wizard(&mut kim, "printer").await;
        let seq = kim.get(&format!("/s/{id}")).await.field("seq");
        let bad = kim
            .post(
                &format!("/s/{id}/escalate"),
                &[("seq", &seq), ("note", "it beeps"), ("email", "kim@")],
            )
            .await;
        bad.assert_status(422)
            .assert_has(r#"value="kim@""#)
            .assert_has("it beeps</textarea>")
            .assert_has(r##"href="#email""##);
        let again = kim.get(&format!("/s/{id}")).await;
        again.assert_status(200).assert_has(r#"name="answer""#);

        let (id, received) = hand_over(&mut kim, "kim@example.com").await;
        let esc = format!("esc_{}", id.trim_start_matches("ses_"));
        received
            .assert_status(200)
            .assert_has(w.received)
            .assert_has(w.mail)
            .assert_has(r#"action="/s/"#)
            .assert_has("/message");
        assert!(!received.body.contains("esc_"), "no internal ids");
        received.assert_has(r#"href="/status""#);
        insta::assert_snapshot!(format!("case_received_{lang}"), redact(&received.body));

        // The customer writes first; a hostile text is shown as text.
        let page = kim
            .post(&format!("/s/{id}/message"), &[("text", "<b>Still</b> red")])
            .await;
        page.assert_status(200)
            .assert_has(w.you)
            .assert_has("&lt;b&gt;Still&lt;&#x2f;b&gt; red");

        staff_act(&app, &sam, &esc, "claim", json!({})).await;
        staff_act(
            &app,
            &sam,
            &esc,
            "note",
            json!({"text": "internal: toner batch 7"}),
        )
        .await;
        let claimed = kim.get(&format!("/s/{id}")).await;
        claimed.assert_has(w.working);
        assert!(!claimed.body.contains("toner batch"), "notes stay internal");
        assert!(!claimed.body.contains("sam"), "staff sign as support");
        insta::assert_snapshot!(format!("case_claimed_{lang}"), redact(&claimed.body));

        app.state.clock.advance(Duration::minutes(20));
        staff_act(
            &app,
            &sam,
            &esc,
            "reply",
            json!({"text": "Which colour is the light?", "wait": true}),
        )
        .await;
        let waiting = kim.get(&format!("/s/{id}")).await;
        waiting
            .assert_has(w.waiting)
            .assert_has(w.support)
            .assert_has("Which colour is the light?");
        insta::assert_snapshot!(format!("case_waiting_{lang}"), redact(&waiting.body));

        let page = kim
            .post(&format!("/s/{id}/message"), &[("text", "Red, blinking")])
            .await;
        page.assert_has(w.working);

        staff_act(
            &app,
            &sam,
            &esc,
            "resolve",
            json!({"resolution": "We sent a new fuser"}),
        )
        .await;
        let resolved = kim.get(&format!("/s/{id}")).await;
        resolved
            .assert_has(w.resolved)
            .assert_has("We sent a new fuser")
            .assert_has(w.reopen)
            .assert_has(r#"name="score""#)
            .assert_has(r#"datetime="2026-03-02T09:20:00Z""#);
        insta::assert_snapshot!(format!("case_resolved_{lang}"), redact(&resolved.body));

        // Satisfaction from the page: a missing score is said, then once.
        let refused = kim
            .post(&format!("/s/{id}/feedback"), &[("comment", "ok")])
            .await;
        refused
            .assert_status(422)
            .assert_has(r##"href="#score-1""##);
        let thanked = kim
            .post(
                &format!("/s/{id}/feedback"),
                &[("score", "4"), ("comment", "fast")],
            )
            .await;
        thanked.assert_status(200).assert_has(w.thanks);
        assert!(!thanked.body.contains(r#"name="score""#));
        assert_eq!(
            app.store.feedback_kinds(&id).await.unwrap(),
            vec![fixpath::case::feedback::FeedbackKind::Case]
        );

        // A week and a minute later the case takes no more messages.
        app.state
            .clock
            .advance(Duration::days(7) + Duration::minutes(1));
        let closed = kim.get(&format!("/s/{id}")).await;
        closed.assert_has(w.closed).assert_has("2026-03-02");
        assert!(!closed.body.contains("/message"), "no reply form");
        insta::assert_snapshot!(format!("case_closed_{lang}"), redact(&closed.body));
        let late = kim
            .post(&format!("/s/{id}/message"), &[("text", "hello?")])
            .await;
        // Said in the error summary; the form is not offered any more.
        late.assert_status(409)
            .assert_has("error-summary")
            .assert_has(w.closed_error);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_case_reopens_on_a_message_within_the_window() {
    let app = app_on(sqlite("reopen").await).await;
    let sam = app.user("sam", Role::Specialist, 2).await;
    let mut kim = Browser::new(&app);
    let (id, _) = hand_over(&mut kim, "").await;
    let esc = format!("esc_{}", id.trim_start_matches("ses_"));
    let page = kim.get(&format!("/s/{id}")).await;
    assert!(
        !page.body.contains("We will also e-mail you"),
        "no address given"
    );
    staff_act(&app, &sam, &esc, "resolve", json!({"resolution": "Done"})).await;
    app.state.clock.advance(Duration::days(6));
    let page = kim
        .post(&format!("/s/{id}/message"), &[("text", "It is back")])
        .await;
    page.assert_has("A specialist is working on it")
        .assert_has("It is back");
    assert!(
        !page.body.contains(r#"name="score""#),
        "nothing to rate while open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_message_form_refuses_another_sessions_cookie_and_bad_texts() {
    let app = app_on(sqlite("others").await).await;
    let mut kim = Browser::new(&app);
    let mut eve = Browser::new(&app);
    let (kims, _) = hand_over(&mut kim, "").await;
    let (eves, _) = hand_over(&mut eve, "").await;

    // Eve's cookie (sent for Kim's page) opens nothing and writes nothing.
    let refused = eve
        .post(&format!("/s/{kims}/message"), &[("text", "from eve")])
        .await;
    refused.assert_status(404);
    assert!(!refused.body.contains("from eve"));
    let refused = eve
        .post(&format!("/s/{kims}/feedback"), &[("score", "1")])
        .await;
    refused.assert_status(404);
    let page = kim.get(&format!("/s/{kims}")).await;
    assert!(!page.body.contains("from eve"));
    // Nor does her token through the API.
    let eve_token = eve.jar["fp_session"].clone();
    app.post(
        &format!("/api/v1/sessions/{kims}/message"),
        Some(&eve_token),
        &json!({"text": "from eve"}),
    )
    .await
    .assert_error(404, "not_found");
    assert!(eves != kims);

    // Empty and too long: the page again with what was wrong.
    let empty = kim
        .post(&format!("/s/{kims}/message"), &[("text", "   ")])
        .await;
    empty
        .assert_status(422)
        .assert_has("Write your message before sending it.");
    let long = "y".repeat(5000);
    let too_long = kim
        .post(&format!("/s/{kims}/message"), &[("text", &long)])
        .await;
    too_long
        .assert_status(422)
        .assert_has("Your message is too long.");
    let page = kim.get(&format!("/s/{kims}")).await;
    page.assert_has("No messages yet.");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_solved_page_asks_for_satisfaction_once() {
    let app = app_on(sqlite("solved").await).await;
    let mut kim = Browser::new(&app);
    kim.language = Some("de".into());
    let (id, page) = start_wizard(&mut kim, "printer").await;
    let seq = page.field("seq");
    let solved = kim
        .post(
            &format!("/s/{id}/answer"),
            &[("seq", &seq), ("answer", "no")],
        )
        .await;
    solved
        .assert_has("Papier wurde eingelegt")
        .assert_has("Wie zufrieden sind Sie");
    insta::assert_snapshot!("solved_feedback_de", redact(&solved.body));
    let thanked = kim
        .post(&format!("/s/{id}/feedback"), &[("score", "5")])
        .await;
    thanked.assert_has("Vielen Dank für Ihre Bewertung");
    // A second post (another tab) changes nothing and still thanks.
    let again = kim
        .post(&format!("/s/{id}/feedback"), &[("score", "1")])
        .await;
    again.assert_status(200).assert_has("Vielen Dank");
}

// ------------------------------------------------------------ /status

/// Posts `/status` with `b`'s CSRF token: the page and how long it took.
async fn status(b: &mut Browser, reference: &str, email: &str) -> (Page, StdDuration) {
    b.get("/status").await;
    let start = Instant::now();
    let page = b
        .post("/status", &[("reference", reference), ("email", email)])
        .await;
    (page, start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_answers_alike_and_mails_the_link_for_the_right_pair_only() {
    if !smtp_available() {
        return;
    }
    let dir = TempDir::new("status");
    let port = free_port();
    let _smtpd = Smtpd::start(port, &dir.maildir());
    let app = app_on(sqlite("status").await).await;
    let mut cfg = RelayConfig::new(vec![], None);
    fast(&mut cfg);
    let mail = MailConfig::new(
        &format!("smtp://127.0.0.1:{port}"),
        "Helpdesk <help@example.com>",
    )
    .unwrap();
    let relay = relay(&app.store, cfg, mail);

    let mut kim = Browser::new(&app);
    kim.language = Some("de".into());
    let (id, page) = hand_over(&mut kim, "Kim@Example.com").await;
    let reference = Regex::new(r"[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}")
        .unwrap()
        .find(&page.body)
        .unwrap()
        .as_str()
        .to_owned();

    let mut stranger = Browser::new(&app);
    let form = stranger.get("/status").await;
    form.assert_status(200).assert_has(r#"name="reference""#);
    let home = stranger.get("/").await;
    home.assert_has(r#"href="/status""#);

    // Malformed: said at once, before anything is looked up.
    let (bad, _) = status(&mut stranger, "", "nobody").await;
    bad.assert_status(422)
        .assert_has(r##"href="#reference""##)
        .assert_has(r##"href="#email""##);

    // The right pair (typed loosely), a wrong address, an unknown reference.
    let loose = reference.to_lowercase().replace('-', "");
    let (right, t_right) = status(&mut stranger, &loose, "KIM@example.com").await;
    let (wrong, t_wrong) = status(&mut stranger, &reference, "eve@example.com").await;
    let (unknown, t_unknown) = status(&mut stranger, "ZZZZ-ZZZZ", "kim@example.com").await;
    right.assert_status(200);
    let right_body = redact(&right.body);
    assert_eq!(right_body, redact(&wrong.body));
    assert_eq!(right_body, redact(&unknown.body));
    assert!(!right.body.contains(&reference));
    for t in [t_right, t_wrong, t_unknown] {
        assert!(t >= fixpath::http::web::status::ANSWER_AFTER, "{t:?}");
    }
    let spread = [t_right, t_wrong, t_unknown]
        .iter()
        .max()
        .unwrap()
        .saturating_sub(*[t_right, t_wrong, t_unknown].iter().min().unwrap());
    assert!(
        spread < StdDuration::from_millis(300),
        "{t_right:?} {t_wrong:?} {t_unknown:?}"
    );
    insta::assert_snapshot!("status_sent_en", right_body);

    // Two mails reach the server: the case's receipt and the link, both to
    // the address as the customer gave it, in German; nothing for the others.
    let start = Instant::now();
    let mails = loop {
        let m = maildir(&dir.maildir());
        if m.len() >= 2 {
            break m;
        }
        assert!(
            start.elapsed() < StdDuration::from_secs(30),
            "mails: {}",
            m.len()
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    };
    tokio::time::sleep(StdDuration::from_millis(800)).await;
    assert_eq!(maildir(&dir.maildir()).len(), 2, "one link mail only");
    let parsed: Vec<_> = mails
        .iter()
        .map(|raw| MessageParser::default().parse(raw).unwrap())
        .collect();
    let link = parsed
        .iter()
        .find(|m| {
            m.subject()
                .is_some_and(|s| s.starts_with("Der Link zu Ihrer Anfrage"))
        })
        .expect("the link mail");
    assert_eq!(
        link.subject().unwrap(),
        format!("Der Link zu Ihrer Anfrage {reference}")
    );
    let to = link.to().unwrap().first().unwrap().address().unwrap();
    assert_eq!(to, "Kim@Example.com");
    let text = link.body_text(0).unwrap();
    assert!(
        text.contains("Sie haben den Link zu Ihrer Anfrage"),
        "{text}"
    );
    let url = Regex::new(r"http://127\.0\.0\.1:\d+/s/ses_[0-9a-f]{32}\?t=fpc_[A-Za-z0-9_-]+")
        .unwrap()
        .find(&text)
        .expect("a link")
        .as_str()
        .to_owned();
    assert!(url.contains(&id));
    // The link opens the case page in another browser.
    let mut elsewhere = Browser::new(&app);
    let path = url.split_once("127.0.0.1").unwrap().1;
    let path = &path[path.find('/').unwrap()..];
    let page = elsewhere.get(path).await;
    page.assert_status(200).assert_has("Eingegangen");

    // Per address, like session starts: the sixth look-up in a burst waits.
    let mut last = None;
    for _ in 0..3 {
        last = Some(status(&mut stranger, &reference, "eve@example.com").await.0);
    }
    last.unwrap().assert_status(429);
    relay.stop().await;
}

use regex::Regex;

/// An erased case (retention, `fixpath erase`): the customer's link says the
/// details were removed, in their language, and takes no message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_case_says_its_details_were_removed_in_the_customers_language() {
    let app = app_on(sqlite("erased").await).await;
    let sam = app.user("sam", Role::Specialist, 2).await;
    let mut kim = Browser::new(&app);
    kim.language = Some("de".into());
    let (id, _) = hand_over(&mut kim, "kim@example.com").await;
    let esc = format!("esc_{}", id.trim_start_matches("ses_"));
    staff_act(
        &app,
        &sam,
        &esc,
        "resolve",
        json!({"resolution": "Erledigt"}),
    )
    .await;
    let reference = app
        .store
        .escalation(&esc)
        .await
        .unwrap()
        .unwrap()
        .case
        .reference;
    let now = app.state.clock.now();
    assert!(matches!(
        app.store
            .erase_reference(&reference, "system", now)
            .await
            .unwrap(),
        fixpath::store::Erasure::Erased { cases: 1 }
    ));
    let page = kim.get(&format!("/s/{id}")).await;
    page.assert_status(410)
        .assert_has("Die Angaben zu dieser Anfrage wurden gelöscht");
    assert!(!page.body.contains("Erledigt"), "{}", page.body);
    insta::assert_snapshot!("case_erased_de", redact(&page.body));
    let refused = kim
        .post(&format!("/s/{id}/message"), &[("text", "Noch da?")])
        .await;
    refused
        .assert_status(410)
        .assert_has("Die Angaben zu dieser Anfrage wurden gelöscht");
}
