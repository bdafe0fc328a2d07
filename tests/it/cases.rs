//! Cases through the API (contract section 10), on SQLite and, when a
//! server is reachable, PostgreSQL (see `common::pg`): the customer's side
//! (the case in their session, messages, reopening), the specialists' (the
//! tier and holder rules, replies, waiting, resolving, escalating further),
//! the paged queue, and what every change leaves in the outbox (webhook
//! events, and mails with links that open the session). The clock is fixed
//! and moved by the tests.

use crate::common;

use common::pg::TestDb;
use common::{TestApp, redact};
use fixpath::case::mail::MailJob;
use fixpath::clock::Clock;
use fixpath::http::CaseSettings;
use fixpath::store::postgres::PgStore;
use fixpath::store::sqlite::SqliteStore;
use fixpath::store::{OutboxMessage, Role, Store};
use serde_json::{Value as Json, json};
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

/// An app over a fresh database of `backend`, its clock fixed at [`T0`],
/// mailing (links start at `https://help.example.com`).
async fn app(store: Arc<dyn Store>) -> TestApp {
    TestApp::start_on(store, |state| {
        state.clock = Clock::fixed(T0);
        state.cases = Arc::new(CaseSettings {
            mail: true,
            mirror: false,
            public_url: Some("https://help.example.com".into()),
            ..CaseSettings::default()
        });
    })
    .await
}

async fn sqlite(name: &str) -> Arc<dyn Store> {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    let path = std::env::temp_dir().join(format!(
        "fixpath-cases-{name}-{}-{}.db",
        std::process::id(),
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    ));
    Arc::new(SqliteStore::open(path.to_str().unwrap()).await.unwrap())
}

async fn postgres(db: &TestDb) -> Arc<dyn Store> {
    Arc::new(PgStore::open(&db.url, 8).await.unwrap())
}

/// Each scenario once per backend: `NAME::sqlite` always, `NAME::postgres`
/// when PostgreSQL is reachable.
macro_rules! on_both_backends {
    ($($name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = app(super::sqlite(stringify!($name)).await).await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = TestDb::create(stringify!($name)).await else {
                    return;
                };
                let $app = app(super::postgres(&db).await).await;
                $body
                drop($app);
                drop(db);
            }
        }
    )*};
}

/// A customer's session on the Wi-Fi script, escalated at once with this
/// body (`seq` is added): `(session id, token, case id)`.
async fn escalated(app: &TestApp, body: Json) -> (String, String, String) {
    let (id, token, _) = app
        .start_session(None, &json!({"script": "wifi", "channel": "customer"}))
        .await;
    let mut body = body;
    body["seq"] = json!(1);
    let r = app
        .post(
            &format!("/api/v1/sessions/{id}/escalate"),
            Some(&token),
            &body,
        )
        .await;
    let esc = r.assert_ok(200)["escalation"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (id, token, esc)
}

/// Every message now in the outbox, each once, in time order (those of
/// one change, at one time, by type).
async fn outbox(app: &TestApp) -> Vec<OutboxMessage> {
    let now = T0 + Duration::days(365);
    let mut msgs = app
        .store
        .lease_outbox("test", now, now + Duration::minutes(1), 1000)
        .await
        .unwrap();
    for m in &msgs {
        app.store
            .outbox_delivered(&m.id, "test", now)
            .await
            .unwrap();
    }
    msgs.sort_by(|a, b| {
        (a.next_attempt_at, &a.event_type).cmp(&(b.next_attempt_at, &b.event_type))
    });
    msgs
}

fn mails(msgs: &[OutboxMessage]) -> Vec<MailJob> {
    msgs.iter()
        .filter(|m| m.event_type.starts_with("mail."))
        .map(|m| serde_json::from_str(&m.payload).expect("a mail job"))
        .collect()
}

fn types(msgs: &[OutboxMessage]) -> Vec<&str> {
    msgs.iter().map(|m| m.event_type.as_str()).collect()
}

on_both_backends! {
    a_case_from_escalation_to_resolution_and_back(app) {
        let sam = app.user("sam", Role::Specialist, 2).await;
        let kim = app.user("kim", Role::Specialist, 2).await;
        let root = app.user("root", Role::Admin, 1).await;
        let clock = app.state.clock.clone();

        // A malformed address is refused and changes nothing.
        let (id, token, _) = app
            .start_session(None, &json!({"script": "wifi", "channel": "customer"}))
            .await;
        let msg = app
            .post(
                &format!("/api/v1/sessions/{id}/escalate"),
                Some(&token),
                &json!({"seq": 1, "email": "ann at example"}),
            )
            .await
            .assert_error(422, "invalid_email")
            .to_owned();
        assert!(msg.contains("ann at example"), "{msg}");
        let r = app.get(&format!("/api/v1/sessions/{id}"), Some(&token)).await;
        assert_eq!(r.assert_ok(200)["status"], "active");
        assert!(r.body.get("case").is_none());

        // With an address: escalated, received by mail.
        let r = app
            .post(
                &format!("/api/v1/sessions/{id}/escalate"),
                Some(&token),
                &json!({"seq": 1, "note": "It drops every hour", "email": " ann@example.com "}),
            )
            .await;
        let esc = r.assert_ok(200)["escalation"]["id"].as_str().unwrap().to_owned();
        let msgs = outbox(&app).await;
        assert_eq!(types(&msgs), ["escalation.created", "mail.received"]);
        let received = &mails(&msgs)[0];
        assert_eq!(received.to, "ann@example.com");
        assert_eq!(received.language, "en");
        assert_eq!(received.script_title, "Wi-Fi keeps dropping");
        let prefix = format!("https://help.example.com/s/{id}?t=");
        assert!(received.link.starts_with(&prefix), "{}", received.link);
        let link_token = received.link[prefix.len()..].to_owned();
        assert_ne!(link_token, token);

        // The customer's view of their case: no notes, events or address.
        let r = app.get(&format!("/api/v1/sessions/{id}"), Some(&token)).await;
        let case = r.assert_ok(200)["case"].clone();
        assert_eq!(case["status"], "open");
        assert_eq!(case["tier"], 2);
        assert_eq!(case["queue"], "network");
        assert_eq!(case["messages"], json!([]));
        let reference = case["reference"].as_str().unwrap().to_owned();
        assert_eq!(reference, received.reference);
        assert!(
            regex::Regex::new("^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$").unwrap().is_match(&reference),
            "{reference}"
        );
        for hidden in ["notes", "events", "email", "claimed_by", "resolution", "resolved_at"] {
            assert!(case.get(hidden).is_none(), "`{hidden}` is not for the customer: {case}");
        }
        // The mail's link opens the session like its own token.
        let r = app.get(&format!("/api/v1/sessions/{id}"), Some(&link_token)).await;
        assert_eq!(r.assert_ok(200)["case"]["reference"], reference.as_str());

        // The staff record: the address, the reference, the history.
        let r = app.get(&format!("/api/v1/escalations/{esc}"), Some(&sam)).await;
        let record = r.assert_ok(200).clone();
        assert_eq!(record["email"], "ann@example.com");
        assert_eq!(record["reference"], reference.as_str());
        assert_eq!(record["events"], json!([{"type": "created", "by": "customer", "at": "2026-03-02T09:00:00Z"}]));
        assert!(record["ticket_text"].as_str().unwrap().contains("It drops every hour"));

        // sam replies, waiting for the customer: that claims it.
        clock.advance(Duration::minutes(10));
        let r = app
            .post(
                &format!("/api/v1/escalations/{esc}/reply"),
                Some(&sam),
                &json!({"text": "Which lights are on?", "wait": true}),
            )
            .await;
        let e = r.assert_ok(200).clone();
        assert_eq!(e["status"], "waiting");
        assert_eq!(e["claimed_by"], "sam");
        assert_eq!(e["claimed_at"], "2026-03-02T09:10:00Z");
        assert_eq!(e["first_response_at"], "2026-03-02T09:10:00Z");

        // The holder rule: kim may not act on sam's case until taking it over.
        for (path, body) in [
            ("reply", json!({"text": "me too"})),
            ("resolve", json!({"resolution": "done"})),
            ("escalate", json!({"note": "up"})),
            ("claim", json!({})),
        ] {
            let msg = app
                .post(&format!("/api/v1/escalations/{esc}/{path}"), Some(&kim), &body)
                .await
                .assert_error(409, "claimed_by_other")
                .to_owned();
            assert!(msg.contains("held by sam"), "{path}: {msg}");
        }
        // A claim without a body is the same claim.
        app.raw(reqwest::Method::POST, &format!("/api/v1/escalations/{esc}/claim"), Some(&kim), None, "")
            .await
            .assert_error(409, "claimed_by_other");
        clock.advance(Duration::minutes(5));
        let r = app
            .post(&format!("/api/v1/escalations/{esc}/claim"), Some(&kim), &json!({"take_over": true}))
            .await;
        let e = r.assert_ok(200).clone();
        assert_eq!(e["claimed_by"], "kim");
        assert_eq!(e["status"], "waiting", "still waiting on the customer");
        assert_eq!(e["events"].as_array().unwrap().last().unwrap()["type"], "taken_over");
        app.post(&format!("/api/v1/escalations/{esc}/reply"), Some(&sam), &json!({"text": "x"}))
            .await
            .assert_error(409, "claimed_by_other");

        // The customer answers: back to its holder.
        clock.advance(Duration::minutes(5));
        let r = app
            .post(&format!("/api/v1/sessions/{id}/message"), Some(&token), &json!({"text": "Only the red one"}))
            .await;
        let seen = r.assert_ok(200).clone();
        assert_eq!(seen["status"], "claimed");
        assert_eq!(
            seen["messages"],
            json!([
                {"id": "m1", "from": "staff", "author": "sam", "text": "Which lights are on?", "at": "2026-03-02T09:10:00Z"},
                {"id": "m2", "from": "customer", "author": "customer", "text": "Only the red one", "at": "2026-03-02T09:20:00Z"}
            ])
        );

        // kim resolves it, with an internal note; the customer sees the resolution.
        clock.advance(Duration::minutes(10));
        let r = app
            .post(
                &format!("/api/v1/escalations/{esc}/resolve"),
                Some(&kim),
                &json!({"resolution": "We reset the line; it is stable now.", "note": "line card swapped"}),
            )
            .await;
        let e = r.assert_ok(200).clone();
        assert_eq!(e["status"], "resolved");
        assert_eq!(e["resolved_by"], "kim");
        assert_eq!(e["resolved_at"], "2026-03-02T09:30:00Z");
        assert_eq!(e["first_response_at"], "2026-03-02T09:10:00Z", "the first response stays");
        assert_eq!(e["notes"].as_array().unwrap().last().unwrap()["text"], "line card swapped");
        let r = app.get(&format!("/api/v1/sessions/{id}"), Some(&token)).await;
        let case = r.assert_ok(200)["case"].clone();
        assert_eq!(case["status"], "resolved");
        assert_eq!(case["resolution"], "We reset the line; it is stable now.");
        assert_eq!(case["resolved_at"], "2026-03-02T09:30:00Z");

        // Two days later the customer writes: reopened, back to kim.
        clock.advance(Duration::days(2));
        let r = app
            .post(&format!("/api/v1/sessions/{id}/message"), Some(&link_token), &json!({"text": "It is back"}))
            .await;
        assert_eq!(r.assert_ok(200)["status"], "claimed");
        let r = app.get(&format!("/api/v1/escalations/{esc}"), Some(&kim)).await;
        let e = r.assert_ok(200).clone();
        assert_eq!(e["claimed_by"], "kim");
        assert_eq!(e["resolved_by"], Json::Null);
        let kinds: Vec<&str> = e["events"].as_array().unwrap().iter().map(|x| x["type"].as_str().unwrap()).collect();
        assert_eq!(kinds[kinds.len() - 2..], ["customer_message", "reopened"]);
        // Resolved again (the older body: the note is the resolution), and
        // after a week the customer's message is refused.
        let r = app
            .post(&format!("/api/v1/escalations/{esc}/resolve"), Some(&kim), &json!({"note": "Replaced the modem"}))
            .await;
        assert_eq!(r.assert_ok(200)["resolution"], "Replaced the modem");
        clock.advance(Duration::days(7) + Duration::minutes(1));
        app.post(&format!("/api/v1/sessions/{id}/message"), Some(&token), &json!({"text": "Again?"}))
            .await
            .assert_error(409, "case_closed");
        // Only notes once resolved; admins see every tier.
        app.post(&format!("/api/v1/escalations/{esc}/reply"), Some(&root), &json!({"text": "x"}))
            .await
            .assert_error(409, "escalation_resolved");

        // What every change left in the outbox: its event, and a mail for
        // each reply and resolution.
        let msgs = outbox(&app).await;
        assert_eq!(
            types(&msgs),
            [
                "escalation.replied",
                "mail.reply",
                "escalation.taken_over",
                "escalation.customer_message",
                "escalation.resolved",
                "mail.resolved",
                "escalation.reopened",
                "escalation.resolved",
                "mail.resolved",
            ]
        );
        let sent = mails(&msgs);
        assert_eq!(sent[0].text.as_deref(), Some("Which lights are on?"));
        assert_eq!(sent[1].text.as_deref(), Some("We reset the line; it is stable now."));
        // A customer message's event carries the message, not the case.
        let m: Json = serde_json::from_str(&msgs[3].payload).unwrap();
        assert_eq!(m["data"]["message"]["text"], "Only the red one");
        assert!(m["data"].get("messages").is_none());

        // One full case record, as staff, the API and webhooks read it.
        let r = app.get(&format!("/api/v1/escalations/{esc}"), Some(&root)).await;
        let mut record = r.assert_ok(200).clone();
        redact(&mut record);
        insta::assert_json_snapshot!("case_record", record);
    }

    refusals_and_the_tier_rule(app) {
        let sam = app.user("sam", Role::Specialist, 2).await;
        let tess = app.user("tess", Role::Specialist, 3).await;
        let (id, token, esc) = escalated(&app, json!({})).await;
        let (other, other_token, _) = escalated(&app, json!({})).await;

        // A customer token on another session's case: not there.
        app.post(&format!("/api/v1/sessions/{id}/message"), Some(&other_token), &json!({"text": "hi"}))
            .await
            .assert_error(404, "not_found");
        app.get(&format!("/api/v1/sessions/{other}"), Some(&token))
            .await
            .assert_error(404, "not_found");
        // Staff reply on the case, not as the customer.
        app.post(&format!("/api/v1/sessions/{id}/message"), Some(&sam), &json!({"text": "hi"}))
            .await
            .assert_error(403, "forbidden");
        // A customer token is no staff token.
        app.post(&format!("/api/v1/escalations/{esc}/reply"), Some(&token), &json!({"text": "hi"}))
            .await
            .assert_error(403, "forbidden");
        // Messages are bounded, and not blank.
        app.post(&format!("/api/v1/sessions/{id}/message"), Some(&token), &json!({"text": "x".repeat(5000)}))
            .await
            .assert_error(413, "payload_too_large");
        app.post(&format!("/api/v1/sessions/{id}/message"), Some(&token), &json!({"text": "  "}))
            .await
            .assert_error(422, "invalid_body");
        // Before it escalated, a session has no case to write on.
        let (active, active_token, _) = app
            .start_session(None, &json!({"script": "wifi", "channel": "customer"}))
            .await;
        app.post(&format!("/api/v1/sessions/{active}/message"), Some(&active_token), &json!({"text": "hi"}))
            .await
            .assert_error(409, "not_escalated");
        // An address too long to be one.
        let r = app
            .post(
                &format!("/api/v1/sessions/{active}/escalate"),
                Some(&active_token),
                &json!({"seq": 1, "email": format!("{}@example.com", "a".repeat(300))}),
            )
            .await;
        r.assert_error(422, "invalid_email");

        // The tier rule: sent to tier 3, the case leaves sam's sight.
        app.post(&format!("/api/v1/escalations/{esc}/escalate"), Some(&sam), &json!({"note": "for tier 3"}))
            .await
            .assert_ok(200);
        app.get(&format!("/api/v1/escalations/{esc}"), Some(&sam))
            .await
            .assert_error(404, "not_found");
        app.post(&format!("/api/v1/escalations/{esc}/claim"), Some(&sam), &json!({}))
            .await
            .assert_error(404, "not_found");
        app.post(&format!("/api/v1/escalations/{esc}/note"), Some(&sam), &json!({"text": "x"}))
            .await
            .assert_error(404, "not_found");
        let r = app.get("/api/v1/escalations?status=all", Some(&sam)).await;
        let listed: Vec<&str> = r.assert_ok(200)["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
        assert!(!listed.contains(&esc.as_str()), "{listed:?}");
        assert_eq!(listed.len(), 1);
        let r = app.get(&format!("/api/v1/escalations/{esc}"), Some(&tess)).await;
        assert_eq!(r.assert_ok(200)["tier"], 3);
        assert_eq!(r.body["status"], "open");
        assert_eq!(r.body["claimed_by"], Json::Null);
    }

    the_queue_in_pages_by_arrival_and_by_due_time(app) {
        let sam = app.user("sam", Role::Specialist, 2).await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            app.state.clock.advance(Duration::minutes(1));
            ids.push(escalated(&app, json!({})).await.2);
        }
        let page = |q: String| {
            let app = &app;
            let sam = sam.clone();
            async move {
                let r = app.get(&format!("/api/v1/escalations?{q}"), Some(&sam)).await;
                let body = r.assert_ok(200).clone();
                let items: Vec<String> = body["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
                (items, body["next"].as_str().map(str::to_owned))
            }
        };
        let (first, next) = page("limit=2".into()).await;
        assert_eq!(first, ids[..2]);
        let next = next.expect("a next page");
        // A case that arrives between two pages comes last, not twice.
        app.state.clock.advance(Duration::minutes(1));
        ids.push(escalated(&app, json!({})).await.2);
        let (second, next) = page(format!("limit=2&after={next}")).await;
        assert_eq!(second, ids[2..]);
        assert_eq!(next, None);
        // `sort=due` (no targets here: arrival order, all last).
        let (by_due, _) = page("sort=due".into()).await;
        assert_eq!(by_due, ids);
        // A cursor of another order, or of nobody, is refused.
        let (_, created_cursor) = page("limit=1".into()).await;
        app.get(&format!("/api/v1/escalations?sort=due&after={}", created_cursor.unwrap()), Some(&sam))
            .await
            .assert_error(400, "invalid_query");
        app.get("/api/v1/escalations?after=not-a-cursor", Some(&sam))
            .await
            .assert_error(400, "invalid_query");
        app.get("/api/v1/escalations?sort=oldest", Some(&sam))
            .await
            .assert_error(400, "invalid_query");
        // Waiting is a status to filter on.
        app.post(&format!("/api/v1/escalations/{}/reply", ids[1]), Some(&sam), &json!({"text": "?", "wait": true}))
            .await
            .assert_ok(200);
        let (waiting, _) = page("status=waiting".into()).await;
        assert_eq!(waiting, [ids[1].clone()]);
    }
}

/// The wizard opens a session by a mail's link (`/s/{id}?t=TOKEN`) as by
/// its own token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mail_link_opens_the_wizard_page() {
    let app = app(sqlite("wizard_link").await).await;
    let (id, _, _) = escalated(&app, json!({"email": "ann@example.com"})).await;
    let link = mails(&outbox(&app).await)[0].link.clone();
    let query = &link[link.find("?t=").unwrap()..];
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(app.url(&format!("/s/{id}{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .find(|c| c.starts_with("fp_session="))
        .expect("the session's cookie")
        .to_owned();
    let page = client
        .get(app.url(&format!("/s/{id}")))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("A person will help you further")
    );
    // A made-up token opens nothing.
    let wrong = client
        .get(app.url(&format!("/s/{id}")))
        .header(
            "cookie",
            cookie.split('=').next().unwrap().to_owned() + "=fpc_made-up",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
}
