//! The whole life of a case (issue 14's end-to-end test), on SQLite and on
//! PostgreSQL: a customer escalates with an e-mail address → the "received"
//! mail arrives at a real SMTP server (aiosmtpd) → a tier-2 specialist
//! claims and replies with `wait: true` → the customer gets a mail, and its
//! link opens the case page with the reply → the customer answers on the
//! case page → the specialist resolves → the customer sees the resolution
//! on the case page, which asks how it went. The clock is fixed and moved
//! by the test, so the case's times, events and holder are checked exactly.
//!
//! Without aiosmtpd it skips with a `SKIPPED:` line, unless
//! `FIXPATH_REQUIRE_SMTP=1` (as in CI); the PostgreSQL run skips (or fails
//! with `FIXPATH_REQUIRE_PG=1`) like every other.

use crate::common::TestApp;
use crate::common::pg::TestDb;
use crate::mail::{FROM, PATIENCE, Smtpd, TempDir, fast, free_port, maildir, relay};
use crate::web::Browser;
use fixpath::clock::Clock;
use fixpath::delivery::RelayConfig;
use fixpath::delivery::mail::MailConfig;
use fixpath::http::CaseSettings;
use fixpath::store::postgres::PgStore;
use fixpath::store::sqlite::SqliteStore;
use fixpath::store::{Role, Store};
use mail_parser::MessageParser;
use serde_json::{Value as Json, json};
use std::sync::Arc;
use std::time::Instant;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-03-06 15:30 UTC);
const CUSTOMER: &str = "kim.de@example.org";

/// A mail as the customer reads it.
#[derive(Debug)]
struct Mail {
    to: String,
    subject: String,
    text: String,
    html: String,
}

/// Waits until the maildir holds `n` mails and returns them (in no
/// particular order: the test finds each by what it says).
async fn mails(dir: &std::path::Path, n: usize) -> Vec<Mail> {
    let start = Instant::now();
    loop {
        let raw = maildir(dir);
        if raw.len() >= n {
            assert_eq!(raw.len(), n, "more mails than sent");
            let mut out: Vec<(String, Mail)> = raw
                .iter()
                .map(|r| {
                    let m = MessageParser::default().parse(r).expect("a mail");
                    let id = m.message_id().unwrap_or_default().to_owned();
                    let mail = Mail {
                        to: m
                            .to()
                            .and_then(|a| a.first())
                            .and_then(|a| a.address())
                            .unwrap_or_default()
                            .to_owned(),
                        subject: m.subject().unwrap_or_default().to_owned(),
                        text: m.body_text(0).unwrap_or_default().into_owned(),
                        html: m.body_html(0).unwrap_or_default().into_owned(),
                    };
                    (id, mail)
                })
                .collect();
            out.sort_by(|a, b| a.0.cmp(&b.0));
            return out.into_iter().map(|(_, m)| m).collect();
        }
        assert!(
            start.elapsed() < PATIENCE,
            "{} of {n} mails arrived",
            raw.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The first link to the case page in a mail's text.
fn link_in(text: &str) -> String {
    let start = text
        .find("https://help.example.com/s/")
        .unwrap_or_else(|| panic!("no case link in:\n{text}"));
    text[start..]
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn at(v: &Json) -> OffsetDateTime {
    OffsetDateTime::parse(
        v.as_str().unwrap_or_else(|| panic!("a time: {v}")),
        &Rfc3339,
    )
    .unwrap_or_else(|e| panic!("{v}: {e}"))
}

async fn life_of_a_case(store: Arc<dyn Store>) {
    if !crate::mail::smtp_available() {
        return;
    }
    let clock = Clock::fixed(T0);
    let app = TestApp::start_on_examples(store.clone(), |state| {
        state.clock = clock.clone();
        state.cases = Arc::new(CaseSettings {
            mail: true,
            mirror: false,
            public_url: Some("https://help.example.com".into()),
            ..CaseSettings::default()
        });
    })
    .await;
    let dir = TempDir::new("lifecycle");
    let port = free_port();
    let _smtpd = Smtpd::start(port, &dir.maildir());
    let mut cfg = RelayConfig::new(vec![], None);
    fast(&mut cfg);
    let mail = MailConfig::new(&format!("smtp://127.0.0.1:{port}"), FROM).unwrap();
    let relay = relay(&app.store, cfg, mail);
    let ann = app.user("ann", Role::Specialist, 2).await;

    // The customer, in German, asks for help at the first step and leaves
    // an address.
    let (session, token, _) = app
        .start_session(
            None,
            &json!({"script": "router-no-internet", "channel": "customer", "language": "de"}),
        )
        .await;
    let r = app
        .post(
            &format!("/api/v1/sessions/{session}/escalate"),
            Some(&token),
            &json!({"seq": 1, "note": "Das WLAN fällt ständig aus", "email": CUSTOMER}),
        )
        .await;
    let esc = r.assert_ok(200)["escalation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let case = app
        .get(&format!("/api/v1/sessions/{session}"), Some(&token))
        .await;
    let reference = case.assert_ok(200)["case"]["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(case.body["case"]["status"], "open");

    // 1. "Received" arrives, in German, with the reference and a link that
    //    opens the session without the original token.
    let got = mails(&dir.maildir(), 1).await;
    assert_eq!(got[0].to, CUSTOMER);
    assert!(got[0].subject.contains(&reference), "{got:?}");
    assert!(got[0].text.contains(&reference), "{}", got[0].text);
    assert!(!got[0].text.contains("We received"), "{}", got[0].text);
    let link = link_in(&got[0].text);
    let link_token = link.split("?t=").nth(1).expect("a token in the link");
    assert_ne!(link_token, token, "the mail carries a token of its own");
    let via_link = app
        .get(&format!("/api/v1/sessions/{session}"), Some(link_token))
        .await;
    assert_eq!(via_link.assert_ok(200)["case"]["reference"], reference);

    // 2. A tier-2 specialist claims it ten minutes later and, five minutes
    //    after that, replies and waits for the customer.
    clock.advance(Duration::minutes(10));
    app.post(
        &format!("/api/v1/escalations/{esc}/claim"),
        Some(&ann),
        &json!({}),
    )
    .await
    .assert_ok(200);
    clock.advance(Duration::minutes(5));
    let reply = "Bitte starten Sie den Router neu und sagen Sie uns, ob die Lampe grün wird.";
    let r = app
        .post(
            &format!("/api/v1/escalations/{esc}/reply"),
            Some(&ann),
            &json!({"text": reply, "wait": true}),
        )
        .await;
    assert_eq!(r.assert_ok(200)["status"], "waiting");

    // The customer sees it in their session (and not the internal notes),
    // and gets a mail with the reply.
    let seen = app
        .get(&format!("/api/v1/sessions/{session}"), Some(&token))
        .await;
    let c = &seen.assert_ok(200)["case"];
    assert_eq!(c["status"], "waiting");
    let msgs = c["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 1, "{c}");
    assert_eq!(msgs[0]["from"], "staff");
    assert_eq!(msgs[0]["text"], reply);
    assert!(c.get("notes").is_none() && c.get("events").is_none(), "{c}");
    let got = mails(&dir.maildir(), 2).await;
    let reply_mail = got
        .iter()
        .find(|m| m.text.contains("Router neu"))
        .expect("the reply's mail");
    assert_eq!(reply_mail.to, CUSTOMER);
    assert!(
        reply_mail.html.contains("Router neu"),
        "{}",
        reply_mail.html
    );

    // 3. The customer follows the reply mail's link on another device: the
    //    case page, in German, shows the status and the reply, and takes the
    //    answer an hour later. The case is the holder's again.
    let mut kim = Browser::new(&app);
    kim.language = Some("de".into());
    let path = link_in(&reply_mail.text).replacen("https://help.example.com", "", 1);
    let page = kim.get(&path).await;
    page.assert_status(200)
        .assert_has("Wartet auf Ihre Antwort")
        .assert_has("Router neu")
        .assert_has(&reference);
    clock.advance(Duration::hours(1));
    kim.post(
        &format!("/s/{session}/message"),
        &[("text", "Neu gestartet, die Lampe bleibt rot.")],
    )
    .await
    .assert_status(200)
    .assert_has("die Lampe bleibt rot");
    let rec = app
        .get(&format!("/api/v1/escalations/{esc}"), Some(&ann))
        .await;
    assert_eq!(rec.assert_ok(200)["status"], "claimed");
    assert_eq!(rec.body["claimed_by"], "ann");

    // 4. The specialist resolves it the next morning.
    clock.advance(Duration::hours(17));
    let resolution = "Wir haben Ihnen ein neues Netzteil geschickt.";
    app.post(
        &format!("/api/v1/escalations/{esc}/resolve"),
        Some(&ann),
        &json!({"resolution": resolution}),
    )
    .await
    .assert_ok(200);

    // The customer sees the resolution and gets the third mail, which asks
    // how it went through its link.
    let seen = app
        .get(&format!("/api/v1/sessions/{session}"), Some(&token))
        .await;
    let c = &seen.assert_ok(200)["case"];
    assert_eq!(c["status"], "resolved");
    assert_eq!(c["resolution"], resolution);
    let got = mails(&dir.maildir(), 3).await;
    let resolved_mail = got
        .iter()
        .find(|m| m.text.contains("Netzteil"))
        .expect("the resolution's mail");
    assert!(resolved_mail.text.contains("https://help.example.com/s/"));
    // The case page shows the resolution and asks how it went.
    let page = kim.get(&format!("/s/{session}")).await;
    page.assert_status(200)
        .assert_has(resolution)
        .assert_has(&format!("/s/{session}/feedback"))
        .assert_has(r#"name="score""#);

    // 5. The record: times, holder, resolver and the history, exactly.
    let rec = app
        .get(&format!("/api/v1/escalations/{esc}"), Some(&ann))
        .await;
    let rec = rec.assert_ok(200);
    assert_eq!(rec["reference"], reference);
    assert_eq!(rec["email"], CUSTOMER);
    assert_eq!(rec["claimed_by"], "ann");
    assert_eq!(rec["resolved_by"], "ann");
    assert_eq!(at(&rec["created_at"]), T0);
    assert_eq!(at(&rec["claimed_at"]), T0 + Duration::minutes(10));
    assert_eq!(at(&rec["first_response_at"]), T0 + Duration::minutes(15));
    assert_eq!(
        at(&rec["resolved_at"]),
        T0 + Duration::minutes(15) + Duration::hours(18)
    );
    let events: Vec<(String, String, OffsetDateTime)> = rec["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_owned(),
                e["by"].as_str().unwrap_or_default().to_owned(),
                at(&e["at"]),
            )
        })
        .collect();
    let m = Duration::minutes;
    let expected: Vec<(String, String, OffsetDateTime)> = [
        ("created", "customer", T0),
        ("claimed", "ann", T0 + m(10)),
        ("reply", "ann", T0 + m(15)),
        ("waiting", "ann", T0 + m(15)),
        ("customer_message", "customer", T0 + m(75)),
        ("resolved", "ann", T0 + m(15) + Duration::hours(18)),
    ]
    .into_iter()
    .map(|(t, b, a)| (t.to_owned(), b.to_owned(), a))
    .collect();
    assert_eq!(events, expected, "{rec}");
    let messages: Vec<&str> = rec["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["from"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["staff", "customer"]);

    // Exactly three mails, each once.
    relay.stop().await;
    assert_eq!(maildir(&dir.maildir()).len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_life_of_a_case_on_sqlite() {
    let dir = TempDir::new("lifecycle-db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.db()).await.unwrap());
    life_of_a_case(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_life_of_a_case_on_postgres() {
    let Some(db) = TestDb::create("lifecycle").await else {
        return;
    };
    let store: Arc<dyn Store> = Arc::new(PgStore::open(&db.url, 8).await.unwrap());
    life_of_a_case(store).await;
    drop(db);
}
