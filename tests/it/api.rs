//! The JSON API (contract section 9) against a real server on an ephemeral
//! port, over a real SQLite file: every call, a walk to an escalation and the
//! queue working it, every role boundary, the double-submit race, client
//! mistakes as 4xx JSON, and the OpenAPI document against the router.

use crate::common;

use common::{Res, TestApp, redact};
use fixpath::http::HttpConfig;
use fixpath::store::Role;
use reqwest::Method;
use serde_json::{Value as Json, json};
use std::time::Duration;

fn customer_start(script: &str) -> Json {
    json!({ "script": script, "channel": "customer" })
}

/// Non-system trail entries: what people did.
fn answers_in(trail: &Json) -> Vec<&Json> {
    trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] != "system")
        .collect()
}

// ---------------------------------------------------------------------------
// Scripts and sessions.

#[tokio::test]
async fn scripts_lists_only_customer_facing_scripts() {
    let app = TestApp::start().await;
    let res = app.get("/api/v1/scripts", None).await;
    let list = res.assert_ok(200).as_array().unwrap().clone();
    let ids: Vec<&str> = list.iter().map(|s| s["id"].as_str().unwrap()).collect();
    // Not `power-cycle` (a sub-flow) nor `vpn-deep` (tier 2).
    assert_eq!(ids, ["instant", "wifi"]);
    let wifi = &list[1];
    assert_eq!(wifi["title"], "Wi-Fi keeps dropping");
    assert_eq!(wifi["languages"], json!(["en"]));
    assert_eq!(wifi["version"].as_str().unwrap().len(), 16);
    assert!(res.content_type.starts_with("application/json"));
}

#[tokio::test]
async fn start_session_returns_the_first_step_and_a_customer_token() {
    let app = TestApp::start().await;
    let res = app
        .post("/api/v1/sessions", None, &customer_start("wifi"))
        .await;
    let body = res.assert_ok(201).clone();
    let id = body["id"].as_str().unwrap();
    assert!(id.starts_with("ses_") && id.len() == 36, "{id}");
    let token = body["token"].as_str().unwrap();
    assert!(token.starts_with("fpc_") && token.len() == 47, "{token}");
    assert_eq!(body["status"], "active");
    assert_eq!(body["step"]["node"], "power");
    assert_eq!(body["step"]["seq"], 1);
    assert!(body["step"].get("help").is_none(), "no help for customers");

    // Only the hash of the token is stored.
    let stored = app.store.session(id).await.unwrap().unwrap();
    assert_ne!(stored.token_hash, token);
    assert_eq!(stored.token_hash, fixpath::http::auth::hash_token(token));

    let mut redacted = body.clone();
    redact(&mut redacted);
    insta::assert_json_snapshot!("session_created", redacted);
}

#[tokio::test]
async fn start_session_refusals() {
    let app = TestApp::start().await;
    let agent = app.user("alice", Role::Agent, 1).await;
    // An unknown script.
    app.post("/api/v1/sessions", None, &customer_start("nope"))
        .await
        .assert_error(404, "not_found");
    app.post(
        "/api/v1/sessions",
        Some(&agent),
        &json!({"script": "nope", "channel": "agent"}),
    )
    .await
    .assert_error(404, "not_found");
    // A language the script does not speak: the engine's own words.
    let msg = app
        .post(
            "/api/v1/sessions",
            None,
            &json!({"script": "wifi", "channel": "customer", "language": "fr"}),
        )
        .await
        .assert_error(422, "unknown_language")
        .to_owned();
    assert!(msg.contains("`fr`") && msg.contains("en"), "{msg}");
    // Scripts that are not customer-facing are not there for customers...
    app.post("/api/v1/sessions", None, &customer_start("vpn-deep"))
        .await
        .assert_error(404, "not_found");
    app.post("/api/v1/sessions", None, &customer_start("power-cycle"))
        .await
        .assert_error(404, "not_found");
    // ...but staff may run them.
    let res = app
        .post(
            "/api/v1/sessions",
            Some(&agent),
            &json!({"script": "vpn-deep", "channel": "agent", "reference": "T-1"}),
        )
        .await;
    let body = res.assert_ok(201);
    assert_eq!(
        body["step"]["help"],
        "The logs are under /var/log/vpn on the gateway."
    );
    let stored = app
        .store
        .session(body["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.owner.as_deref(), Some("alice"));
    assert_eq!(stored.reference.as_deref(), Some("T-1"));
}

#[tokio::test]
async fn a_session_that_escalates_at_once() {
    let app = TestApp::start().await;
    let (id, _, body) = app.start_session(None, &customer_start("instant")).await;
    assert_eq!(body["status"], "escalated");
    assert!(body["step"].is_null());
    assert_eq!(body["escalation"]["tier"], 2);
    assert_eq!(body["escalation"]["queue"], "desk");
    let esc = body["escalation"]["id"].as_str().unwrap();
    assert_eq!(&esc[4..], &id[4..]);
    let e = app.store.escalation(esc).await.unwrap().expect("stored");
    assert_eq!(e.record.session, id);
    // The relay was woken and has a message waiting.
    tokio::time::timeout(Duration::from_secs(1), app.state.outbox_notify.notified())
        .await
        .expect("the outbox relay is notified");
    assert!(app.store.outbox_pending().await.unwrap() >= 1);
}

#[tokio::test]
async fn resolve_and_then_nothing_more() {
    let app = TestApp::start().await;
    let (id, token, _) = app.start_session(None, &customer_start("wifi")).await;
    let path = format!("/api/v1/sessions/{id}/answer");
    let res = app
        .post(&path, Some(&token), &json!({"seq": 1, "answer": "No"}))
        .await;
    let body = res.assert_ok(200);
    assert_eq!(body["status"], "resolved");
    assert!(body["step"].is_null());
    assert_eq!(body["resolution"]["text"], "The router was not plugged in");
    // The session ended: a step at its current seq is a conflict, not a change.
    app.post(&path, Some(&token), &json!({"seq": 2, "answer": "yes"}))
        .await
        .assert_error(409, "session_ended");
    app.post(&path, Some(&token), &json!({"seq": 1, "answer": "yes"}))
        .await
        .assert_error(409, "stale_seq");
}

#[tokio::test]
async fn back_at_the_first_step_and_engine_refusals_are_422() {
    let app = TestApp::start().await;
    let (id, token, _) = app.start_session(None, &customer_start("wifi")).await;
    let t = Some(token.as_str());
    app.post(
        &format!("/api/v1/sessions/{id}/back"),
        t,
        &json!({"seq": 1}),
    )
    .await
    .assert_error(422, "nothing_to_go_back");
    let msg = app
        .post(
            &format!("/api/v1/sessions/{id}/answer"),
            t,
            &json!({"seq": 1, "answer": "maybe"}),
        )
        .await
        .assert_error(422, "unknown_answer")
        .to_owned();
    assert!(msg.contains("`maybe`") && msg.contains("yes"), "{msg}");
    app.post(
        &format!("/api/v1/sessions/{id}/answer"),
        t,
        &json!({"seq": 1, "value": "x"}),
    )
    .await
    .assert_error(422, "expected_answer");
    // Nothing changed.
    let body = app.get(&format!("/api/v1/sessions/{id}"), t).await;
    assert_eq!(body.assert_ok(200)["step"]["seq"], 1);
    assert_eq!(body.body["trail"], json!([]));
}

#[tokio::test]
async fn escalate_now_with_a_note() {
    let app = TestApp::start().await;
    let specialist = app.user("sam", Role::Specialist, 2).await;
    let (id, token, _) = app.start_session(None, &customer_start("wifi")).await;
    let res = app
        .post(
            &format!("/api/v1/sessions/{id}/escalate"),
            Some(&token),
            &json!({"seq": 1, "note": "I have tried everything"}),
        )
        .await;
    let body = res.assert_ok(200);
    assert_eq!(body["status"], "escalated");
    assert_eq!(body["escalation"]["tier"], 2);
    assert_eq!(body["escalation"]["queue"], "network");
    let esc = body["escalation"]["id"].as_str().unwrap().to_owned();
    let rec = app
        .get(&format!("/api/v1/escalations/{esc}"), Some(&specialist))
        .await;
    let rec = rec.assert_ok(200);
    assert_eq!(rec["notes"][0]["text"], "I have tried everything");
    assert_eq!(rec["notes"][0]["author"], "customer");
    assert_eq!(rec["trail"][0]["answer"]["id"], "_escalate");
    assert_eq!(rec["trail"][0]["actor"], "customer");
}

// ---------------------------------------------------------------------------
// The story: a customer walks to an escalation, a specialist works it.

#[tokio::test]
async fn walk_to_an_escalation_and_work_it_in_the_queue() {
    let app = TestApp::start().await;
    let sam = app.user("sam", Role::Specialist, 2).await;
    let kim = app.user("kim", Role::Specialist, 2).await;
    let admin = app.user("root", Role::Admin, 4).await;

    // The customer, as a browser would: no staff token, the session's token after.
    let (id, token, body) = app.start_session(None, &customer_start("wifi")).await;
    let t = Some(token.as_str());
    let answer = |body: Json| {
        let app = &app;
        let id = id.clone();
        async move {
            app.post(&format!("/api/v1/sessions/{id}/answer"), t, &body)
                .await
        }
    };
    assert_eq!(body["step"]["kind"], "ask");

    let r = answer(json!({"seq": 1, "answer": "yes"})).await;
    let step = r.assert_ok(200)["step"].clone();
    assert_eq!(step["node"], "serial");
    assert_eq!(step["kind"], "input");
    assert_eq!(step["input"]["pattern"], "^[A-Z0-9]{8}$");

    // A refused value changes nothing.
    let msg = answer(json!({"seq": 2, "value": "abc"}))
        .await
        .assert_error(422, "invalid_value")
        .to_owned();
    assert!(msg.contains("`abc`"), "{msg}");

    // A wrong serial, taken back, then the right one.
    let r = answer(json!({"seq": 2, "value": "WRONG123"})).await;
    assert_eq!(r.assert_ok(200)["step"]["node"], "power-cycle/unplug");
    let r = app
        .post(
            &format!("/api/v1/sessions/{id}/back"),
            t,
            &json!({"seq": 3}),
        )
        .await;
    let body = r.assert_ok(200);
    assert_eq!(body["step"]["node"], "serial");
    assert_eq!(body["step"]["seq"], 4);

    let r = answer(json!({"seq": 4, "value": "AB12CD34"})).await;
    assert_eq!(r.assert_ok(200)["step"]["kind"], "say");
    let r = answer(json!({"seq": 5, "answer": "done"})).await;
    let step = r.assert_ok(200)["step"].clone();
    assert_eq!(step["node"], "lights");
    assert_eq!(step["text"], "Which light is blinking on router AB12CD34?");
    assert!(step.get("help").is_none());

    let r = answer(json!({"seq": 6, "answer": "Red"})).await;
    let body = r.assert_ok(200).clone();
    assert_eq!(body["status"], "escalated");
    assert_eq!(body["escalation"]["queue"], "hardware");
    assert_eq!(body["escalation"]["reason"], "Red light on router AB12CD34");
    let esc = body["escalation"]["id"].as_str().unwrap().to_owned();

    // The customer reads the session back: the whole trail, retraction kept.
    let r = app.get(&format!("/api/v1/sessions/{id}"), t).await;
    let session = r.assert_ok(200).clone();
    assert_eq!(session["status"], "escalated");
    assert!(session["step"].is_null());
    let trail = session["trail"].as_array().unwrap();
    let retracted: Vec<&Json> = trail.iter().filter(|e| e["retracted"] == true).collect();
    assert_eq!(retracted.len(), 1);
    assert_eq!(retracted[0]["value"], "WRONG123");
    assert_eq!(answers_in(&session["trail"]).len(), 5);

    // A specialist finds it in the queue...
    let r = app
        .get(
            "/api/v1/escalations?tier=2&queue=hardware&status=open",
            Some(&sam),
        )
        .await;
    let list = r.assert_ok(200)["items"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], esc.as_str());
    assert_eq!(list[0]["status"], "open");
    assert_eq!(r.body["next"], Json::Null);
    // ...and not under other filters.
    let r = app
        .get("/api/v1/escalations?queue=network", Some(&sam))
        .await;
    assert_eq!(r.assert_ok(200), &json!({"items": [], "next": null}));
    let r = app
        .get("/api/v1/escalations?tier=&queue=&status=", Some(&sam))
        .await;
    assert_eq!(r.assert_ok(200)["items"].as_array().unwrap().len(), 1);
    // `all` is every status, as on the queue page (contract section 10).
    let r = app.get("/api/v1/escalations?status=all", Some(&sam)).await;
    assert_eq!(r.assert_ok(200)["items"].as_array().unwrap().len(), 1);

    // The record: section 8, with the full trail, the retracted entry included.
    let r = app
        .get(&format!("/api/v1/escalations/{esc}"), Some(&sam))
        .await;
    let record = r.assert_ok(200).clone();
    for field in [
        "id",
        "session",
        "script",
        "tier",
        "queue",
        "reason",
        "node",
        "channel",
        "language",
        "params",
        "vars",
        "trail",
        "notes",
        "created_at",
        "status",
        "claimed_by",
    ] {
        assert!(record.get(field).is_some(), "the record has `{field}`");
    }
    assert_eq!(record["session"], id.as_str());
    assert_eq!(record["trail"], session["trail"]);
    assert_eq!(record["vars"]["serial"], "AB12CD34");
    let mut redacted = record.clone();
    redact(&mut redacted);
    insta::assert_json_snapshot!("escalation_record", redacted);

    // Working it: one claim wins.
    let r = app
        .post(
            &format!("/api/v1/escalations/{esc}/claim"),
            Some(&sam),
            &json!({}),
        )
        .await;
    let claimed = r.assert_ok(200);
    assert_eq!(claimed["status"], "claimed");
    assert_eq!(claimed["claimed_by"], "sam");
    let msg = app
        .post(
            &format!("/api/v1/escalations/{esc}/claim"),
            Some(&kim),
            &json!({}),
        )
        .await
        .assert_error(409, "claimed_by_other")
        .to_owned();
    assert!(msg.contains("held by sam"), "{msg}");

    let r = app
        .post(
            &format!("/api/v1/escalations/{esc}/note"),
            Some(&sam),
            &json!({"text": "Line test booked"}),
        )
        .await;
    let noted = r.assert_ok(200);
    assert_eq!(noted["notes"][0]["author"], "sam");
    assert_eq!(noted["notes"][0]["text"], "Line test booked");

    // Escalating further: not to the same tier, not beyond 4.
    let further = format!("/api/v1/escalations/{esc}/escalate");
    app.post(&further, Some(&sam), &json!({"tier": 2, "note": "x"}))
        .await
        .assert_error(422, "invalid_tier");
    app.post(&further, Some(&sam), &json!({"tier": 5, "note": "x"}))
        .await
        .assert_error(422, "invalid_tier");
    let r = app
        .post(
            &further,
            Some(&sam),
            &json!({"note": "Needs a field engineer"}),
        )
        .await;
    let up = r.assert_ok(200).clone();
    assert_eq!(up["tier"], 3);
    assert_eq!(up["status"], "open");
    assert_eq!(up["queue"], "hardware");
    assert_eq!(up["trail"], record["trail"], "the trail is kept");
    assert_eq!(up["notes"][1]["text"], "Needs a field engineer");
    let r = app
        .post(
            &further,
            Some(&admin),
            &json!({"note": "Top tier", "queue": "field"}),
        )
        .await;
    assert_eq!(r.assert_ok(200)["tier"], 4);
    assert_eq!(r.body["queue"], "field");
    app.post(&further, Some(&admin), &json!({"note": "Beyond"}))
        .await
        .assert_error(422, "invalid_tier");

    // Resolving it, once.
    let resolve = format!("/api/v1/escalations/{esc}/resolve");
    let r = app
        .post(
            &resolve,
            Some(&admin),
            &json!({"note": "Replaced the modem"}),
        )
        .await;
    assert_eq!(r.assert_ok(200)["status"], "resolved");
    app.post(&resolve, Some(&admin), &json!({"note": "again"}))
        .await
        .assert_error(409, "escalation_resolved");
    app.post(
        &format!("/api/v1/escalations/{esc}/claim"),
        Some(&admin),
        &json!({}),
    )
    .await
    .assert_error(409, "escalation_resolved");
    // Now at tier 4: above kim's tier 2, so not there for kim.
    app.post(
        &format!("/api/v1/escalations/{esc}/claim"),
        Some(&kim),
        &json!({}),
    )
    .await
    .assert_error(404, "not_found");
    let r = app
        .get("/api/v1/escalations?status=resolved", Some(&kim))
        .await;
    assert_eq!(r.assert_ok(200)["items"], json!([]));
    let r = app
        .get("/api/v1/escalations?status=resolved", Some(&admin))
        .await;
    assert_eq!(r.assert_ok(200)["items"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["items"][0]["resolved_by"], "root");
    assert_eq!(r.body["items"][0]["resolution"], "Replaced the modem");

    // Every change queued a webhook event: created, claimed, noted,
    // escalated twice, resolved.
    assert!(app.store.outbox_pending().await.unwrap() >= 6);
}

// ---------------------------------------------------------------------------
// Roles.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    /// The token of the session the call names.
    OwnCustomer,
    /// The token of another session.
    OtherCustomer,
    /// A bearer token of neither kind.
    Garbage,
    Agent,
    Author,
    Specialist,
    Admin,
}

use Who::*;

#[tokio::test]
async fn every_role_boundary() {
    let app = TestApp::start().await;
    let agent = app.user("alice", Role::Agent, 1).await;
    let author = app.user("ada", Role::Author, 1).await;
    let specialist = app.user("sam", Role::Specialist, 2).await;
    let admin = app.user("root", Role::Admin, 4).await;
    let (sid, own, _) = app.start_session(None, &customer_start("wifi")).await;
    let (_, other, _) = app.start_session(None, &customer_start("wifi")).await;
    let (esc_session, esc_token, started) =
        app.start_session(None, &customer_start("instant")).await;
    let esc = started["escalation"]["id"].as_str().unwrap().to_owned();
    let token = |who: Who| -> Option<String> {
        match who {
            Anonymous => None,
            OwnCustomer => Some(own.clone()),
            OtherCustomer => Some(other.clone()),
            Garbage => Some("not-a-token".into()),
            Agent => Some(agent.clone()),
            Author => Some(author.clone()),
            Specialist => Some(specialist.clone()),
            Admin => Some(admin.clone()),
        }
    };

    let s = |p: &str| format!("/api/v1/sessions/{sid}{p}");
    let e = |p: &str| format!("/api/v1/escalations/{esc}{p}");
    let answer = json!({"seq": 1, "answer": "yes"});
    let seq = json!({"seq": 1});
    let note = json!({"note": "n"});
    let text = json!({"text": "t"});
    let agent_start = json!({"script": "wifi", "channel": "agent"});
    let api_start = json!({"script": "wifi", "channel": "api"});
    let tier2_start = customer_start("vpn-deep");
    let get = Method::GET;
    let post = Method::POST;
    let none = json!(null);

    // (method, path, body, who, expected status). Every refusal leaves
    // everything as it was (checked below).
    let table: Vec<(Method, String, &Json, Who, u16)> = vec![
        // Starting sessions: customers only on their channel, customer-facing scripts.
        (
            post.clone(),
            "/api/v1/sessions".into(),
            &agent_start,
            Anonymous,
            403,
        ),
        (
            post.clone(),
            "/api/v1/sessions".into(),
            &agent_start,
            OwnCustomer,
            403,
        ),
        (
            post.clone(),
            "/api/v1/sessions".into(),
            &api_start,
            Anonymous,
            403,
        ),
        (
            post.clone(),
            "/api/v1/sessions".into(),
            &api_start,
            OtherCustomer,
            403,
        ),
        (
            post.clone(),
            "/api/v1/sessions".into(),
            &tier2_start,
            Anonymous,
            404,
        ),
        (
            post.clone(),
            "/api/v1/sessions".into(),
            &agent_start,
            Garbage,
            401,
        ),
        // A session: its token or staff.
        (get.clone(), s(""), &none, Anonymous, 401),
        (get.clone(), s(""), &none, OtherCustomer, 404),
        (get.clone(), s(""), &none, Garbage, 401),
        (post.clone(), s("/answer"), &answer, Anonymous, 401),
        (post.clone(), s("/answer"), &answer, OtherCustomer, 404),
        (post.clone(), s("/answer"), &answer, Garbage, 401),
        (post.clone(), s("/back"), &seq, Anonymous, 401),
        (post.clone(), s("/back"), &seq, OtherCustomer, 404),
        (post.clone(), s("/back"), &seq, Garbage, 401),
        (post.clone(), s("/escalate"), &seq, Anonymous, 401),
        (post.clone(), s("/escalate"), &seq, OtherCustomer, 404),
        (post.clone(), s("/escalate"), &seq, Garbage, 401),
        // The author report: authors and admins.
        (
            get.clone(),
            "/api/v1/author/report".into(),
            &none,
            Anonymous,
            401,
        ),
        (
            get.clone(),
            "/api/v1/author/report".into(),
            &none,
            Garbage,
            401,
        ),
        (
            get.clone(),
            "/api/v1/author/report".into(),
            &none,
            OwnCustomer,
            403,
        ),
        (
            get.clone(),
            "/api/v1/author/report".into(),
            &none,
            Agent,
            403,
        ),
        (
            get.clone(),
            "/api/v1/author/report".into(),
            &none,
            Specialist,
            403,
        ),
    ];
    let mut table = table;
    // The queue: specialists and admins only, for every call.
    let queue_calls: Vec<(Method, String, &Json)> = vec![
        (get.clone(), "/api/v1/escalations".into(), &none),
        (get.clone(), "/api/v1/escalations?status=open".into(), &none),
        (get.clone(), e(""), &none),
        (post.clone(), e("/claim"), &none),
        (post.clone(), e("/note"), &text),
        (post.clone(), e("/resolve"), &note),
        (post.clone(), e("/escalate"), &note),
    ];
    for (m, p, b) in &queue_calls {
        for (who, status) in [
            (Anonymous, 401),
            (Garbage, 401),
            (OwnCustomer, 403),
            (OtherCustomer, 403),
            (Agent, 403),
            (Author, 403),
        ] {
            table.push((m.clone(), p.clone(), b, who, status));
        }
    }

    let mut failures = Vec::new();
    for (method, path, body, who, want) in &table {
        let mut req = app.client.request(method.clone(), app.url(path));
        if let Some(t) = token(*who) {
            req = req.bearer_auth(t);
        }
        if !body.is_null() {
            req = req.json(body);
        }
        let res: Res = app.send(req).await;
        let ok_shape = res.content_type.starts_with("application/json")
            && res.body["error"]["code"].is_string()
            && res.body["error"]["message"].is_string();
        if res.status.as_u16() != *want || !ok_shape {
            failures.push(format!(
                "{method} {path} as {who:?}: want {want}, got {} {}",
                res.status, res.text
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Nothing was changed by the refused calls.
    let stored = app.store.session(&sid).await.unwrap().unwrap();
    assert_eq!(stored.state.seq, 1);
    assert!(stored.state.trail.is_empty());
    let e_now = app.store.escalation(&esc).await.unwrap().unwrap();
    assert_eq!(e_now.case.status.as_str(), "open");
    assert!(e_now.record.notes.is_empty());
    assert_eq!(e_now.record.tier, 2);

    // And the allowed: reads by everyone who may read.
    for who in [OwnCustomer, Agent, Author, Specialist, Admin] {
        let r = app.get(&s(""), token(who).as_deref()).await;
        assert_eq!(r.status, 200, "GET session as {who:?}: {}", r.text);
    }
    for who in [Specialist, Admin] {
        let t = token(who);
        app.get("/api/v1/escalations", t.as_deref())
            .await
            .assert_ok(200);
        app.get(&e(""), t.as_deref()).await.assert_ok(200);
    }
    for who in [Author, Admin] {
        let r = app
            .get("/api/v1/author/report", token(who).as_deref())
            .await;
        let report = r.assert_ok(200);
        assert_eq!(report["published"], true);
        assert!(report["diagnostics"].is_array());
    }
    for who in [Anonymous, OwnCustomer, Agent, Specialist] {
        let r = app.get("/api/v1/scripts", token(who).as_deref()).await;
        r.assert_ok(200);
    }
    // Staff may start on every channel; customers on theirs.
    for (who, body) in [
        (Agent, &agent_start),
        (Specialist, &api_start),
        (Author, &customer_start("wifi")),
        (OwnCustomer, &customer_start("wifi")),
    ] {
        let r = app
            .post("/api/v1/sessions", token(who).as_deref(), body)
            .await;
        assert_eq!(r.status, 201, "start as {who:?}: {}", r.text);
    }
    // The escalated session's own token reads it, but not its escalation.
    let r = app
        .get(&format!("/api/v1/sessions/{esc_session}"), Some(&esc_token))
        .await;
    assert_eq!(r.assert_ok(200)["escalation"]["id"], esc.as_str());
    app.get(&e(""), Some(&esc_token))
        .await
        .assert_error(403, "forbidden");
    // A staff token that is not in the store.
    app.get(
        "/api/v1/escalations",
        Some("fps_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
    )
    .await
    .assert_error(401, "unauthorized");
}

#[tokio::test]
async fn staff_act_under_their_own_name() {
    let app = TestApp::start().await;
    let agent = app.user("alice", Role::Agent, 1).await;
    let (id, token, _) = app.start_session(None, &customer_start("wifi")).await;
    app.post(
        &format!("/api/v1/sessions/{id}/answer"),
        Some(&agent),
        &json!({"seq": 1, "answer": "yes"}),
    )
    .await
    .assert_ok(200);
    app.post(
        &format!("/api/v1/sessions/{id}/answer"),
        Some(&token),
        &json!({"seq": 2, "value": "AB12CD34"}),
    )
    .await
    .assert_ok(200);
    let r = app
        .get(&format!("/api/v1/sessions/{id}"), Some(&agent))
        .await;
    let trail = &r.assert_ok(200)["trail"];
    assert_eq!(trail[0]["actor"], "alice");
    assert_eq!(trail[1]["actor"], "customer");
}

// ---------------------------------------------------------------------------
// Help is for staff.

#[tokio::test]
async fn help_is_never_shown_to_a_customer_token() {
    let app = TestApp::start().await;
    let agent = app.user("alice", Role::Agent, 1).await;

    // A customer session: no help for anyone (the engine's customer view).
    let (cid, ctoken, body) = app.start_session(None, &customer_start("wifi")).await;
    assert!(body["step"].get("help").is_none());
    for t in [&ctoken, &agent] {
        let r = app.get(&format!("/api/v1/sessions/{cid}"), Some(t)).await;
        assert!(r.assert_ok(200)["step"].get("help").is_none());
    }

    // An agent session: help for staff, never for its customer token.
    let (aid, atoken, body) = app
        .start_session(Some(&agent), &json!({"script": "wifi", "channel": "agent"}))
        .await;
    assert_eq!(
        body["step"]["help"],
        "Agent-only: a dark router is almost always the power supply."
    );
    let r = app
        .get(&format!("/api/v1/sessions/{aid}"), Some(&agent))
        .await;
    assert!(r.assert_ok(200)["step"]["help"].is_string());
    let r = app
        .get(&format!("/api/v1/sessions/{aid}"), Some(&atoken))
        .await;
    assert!(r.assert_ok(200)["step"].get("help").is_none());
    assert!(!r.text.contains("Agent-only"));

    // Nor in the step an answer returns.
    let path = format!("/api/v1/sessions/{aid}/answer");
    app.post(&path, Some(&atoken), &json!({"seq": 1, "answer": "yes"}))
        .await
        .assert_ok(200);
    app.post(
        &path,
        Some(&atoken),
        &json!({"seq": 2, "value": "AB12CD34"}),
    )
    .await
    .assert_ok(200);
    let r = app
        .post(&path, Some(&atoken), &json!({"seq": 3, "answer": "done"}))
        .await;
    assert_eq!(r.assert_ok(200)["step"]["node"], "lights");
    assert!(r.body["step"].get("help").is_none(), "{}", r.text);
    let r = app
        .get(&format!("/api/v1/sessions/{aid}"), Some(&agent))
        .await;
    assert_eq!(
        r.assert_ok(200)["step"]["help"],
        "Red means the line is down at the exchange."
    );
}

// ---------------------------------------------------------------------------
// Concurrency: a double-click is one answer.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_double_submit_writes_one_trail_entry() {
    let app = TestApp::start().await;
    for round in 0..10 {
        let (id, token, _) = app.start_session(None, &customer_start("wifi")).await;
        let path = format!("/api/v1/sessions/{id}/answer");
        let body = json!({"seq": 1, "answer": "yes"});
        let (a, b) = tokio::join!(
            app.post(&path, Some(&token), &body),
            app.post(&path, Some(&token), &body)
        );
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort();
        assert_eq!(
            statuses,
            [200, 409],
            "round {round}: {} / {}",
            a.text,
            b.text
        );
        let conflict = if a.status == 409 { &a } else { &b };
        let msg = conflict.assert_error(409, "stale_seq");
        assert!(msg.contains("seq 2"), "{msg}");
        let stored = app.store.session(&id).await.unwrap().unwrap();
        assert_eq!(stored.state.trail.len(), 1, "round {round}");
        assert_eq!(stored.state.seq, 2);
    }
}

#[tokio::test]
async fn a_stale_seq_is_409_and_names_the_current_one() {
    let app = TestApp::start().await;
    let (id, token, _) = app.start_session(None, &customer_start("wifi")).await;
    let msg = app
        .post(
            &format!("/api/v1/sessions/{id}/answer"),
            Some(&token),
            &json!({"seq": 7, "answer": "yes"}),
        )
        .await
        .assert_error(409, "stale_seq")
        .to_owned();
    assert!(msg.contains("seq 7") && msg.contains("seq 1"), "{msg}");
    for p in ["back", "escalate"] {
        app.post(
            &format!("/api/v1/sessions/{id}/{p}"),
            Some(&token),
            &json!({"seq": 0}),
        )
        .await
        .assert_error(409, "stale_seq");
    }
    let stored = app.store.session(&id).await.unwrap().unwrap();
    assert!(stored.state.trail.is_empty());
}

// ---------------------------------------------------------------------------
// Client mistakes are 4xx JSON.

#[tokio::test]
async fn malformed_requests_are_4xx_json() {
    let app = TestApp::start().await;
    let admin = app.user("root", Role::Admin, 4).await;
    let (id, token, _) = app.start_session(None, &customer_start("wifi")).await;
    let json_ct = Some("application/json");
    let sessions = "/api/v1/sessions";
    let answer = format!("/api/v1/sessions/{id}/answer");

    let r = app
        .raw(Method::POST, sessions, None, json_ct, "{\"script\": ")
        .await;
    r.assert_error(400, "invalid_json");
    app.raw(Method::POST, sessions, None, json_ct, "")
        .await
        .assert_error(400, "invalid_json");
    app.raw(
        Method::POST,
        sessions,
        None,
        None,
        r#"{"script":"wifi","channel":"customer"}"#,
    )
    .await
    .assert_error(415, "unsupported_media_type");
    app.raw(
        Method::POST,
        sessions,
        None,
        Some("text/plain"),
        r#"{"script":"wifi","channel":"customer"}"#,
    )
    .await
    .assert_error(415, "unsupported_media_type");

    let msg = app
        .post(sessions, None, &json!({"channel": "customer"}))
        .await
        .assert_error(422, "invalid_body")
        .to_owned();
    assert!(msg.contains("`script`"), "{msg}");
    let msg = app
        .post(
            sessions,
            None,
            &json!({"script": "wifi", "channel": "phone"}),
        )
        .await
        .assert_error(422, "invalid_body")
        .to_owned();
    assert!(msg.contains("phone") && msg.contains("customer"), "{msg}");
    let msg = app
        .post(
            sessions,
            None,
            &json!({"script": "wifi", "channel": "customer", "langauge": "en"}),
        )
        .await
        .assert_error(422, "invalid_body")
        .to_owned();
    assert!(msg.contains("langauge"), "{msg}");
    app.post(
        sessions,
        None,
        &json!({"script": "wifi", "channel": "customer", "params": [1]}),
    )
    .await
    .assert_error(422, "invalid_body");
    app.post(sessions, None, &json!([1, 2]))
        .await
        .assert_error(422, "invalid_body");

    let t = Some(token.as_str());
    let msg = app
        .post(&answer, t, &json!({"seq": "one", "answer": "yes"}))
        .await
        .assert_error(422, "invalid_body")
        .to_owned();
    assert!(msg.contains("seq"), "{msg}");
    app.post(&answer, t, &json!({"seq": -1, "answer": "yes"}))
        .await
        .assert_error(422, "invalid_body");
    app.post(&answer, t, &json!({"seq": 1}))
        .await
        .assert_error(422, "invalid_body");
    app.post(
        &answer,
        t,
        &json!({"seq": 1, "answer": "yes", "value": "x"}),
    )
    .await
    .assert_error(422, "invalid_body");
    app.post(&answer, t, &json!({"seq": 1, "value": {"a": 1}}))
        .await
        .assert_error(422, "invalid_body");
    app.post(&answer, t, &json!({"answer": "yes"}))
        .await
        .assert_error(422, "invalid_body");

    // Oversized bodies: 413, as JSON, whether or not the length is declared.
    let big = format!(
        r#"{{"script":"wifi","channel":"customer","params":{{"x":"{}"}}}}"#,
        "a".repeat(HttpConfig::default().body_limit + 10)
    );
    app.raw(Method::POST, sessions, None, json_ct, big.clone())
        .await
        .assert_error(413, "payload_too_large");
    let (status, ct, body) = chunked_post(&app, sessions, &big).await;
    assert_eq!(status, 413, "{body}");
    assert!(ct.starts_with("application/json"), "{ct}");
    let body: Json = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");

    // Unknown routes, wrong methods.
    app.get("/api/v1/nothing", None)
        .await
        .assert_error(404, "not_found");
    app.get("/api/v2/scripts", None)
        .await
        .assert_error(404, "not_found");
    let msg = app
        .raw(Method::DELETE, "/api/v1/scripts", None, None, "")
        .await
        .assert_error(405, "method_not_allowed")
        .to_owned();
    assert!(msg.contains("GET"), "{msg}");
    app.raw(Method::PUT, &answer, t, json_ct, "{}")
        .await
        .assert_error(405, "method_not_allowed");
    app.get(&answer, t)
        .await
        .assert_error(405, "method_not_allowed");

    // Bad ids.
    for bad in [
        "nope",
        "ses_123",
        "ses_ZZ",
        "esc_00000000000000000000000000000000",
    ] {
        app.get(&format!("/api/v1/sessions/{bad}"), Some(&admin))
            .await
            .assert_error(404, "not_found");
        app.get(&format!("/api/v1/sessions/{bad}"), t)
            .await
            .assert_error(404, "not_found");
    }
    let missing = "ses_00000000000000000000000000000000";
    app.get(&format!("/api/v1/sessions/{missing}"), Some(&admin))
        .await
        .assert_error(404, "not_found");
    app.post(
        &format!("/api/v1/sessions/{missing}/answer"),
        Some(&admin),
        &json!({"seq": 1, "answer": "yes"}),
    )
    .await
    .assert_error(404, "not_found");
    for bad in ["nope", "esc_00000000000000000000000000000000", "ses_1"] {
        app.get(&format!("/api/v1/escalations/{bad}"), Some(&admin))
            .await
            .assert_error(404, "not_found");
        app.post(
            &format!("/api/v1/escalations/{bad}/claim"),
            Some(&admin),
            &json!({}),
        )
        .await
        .assert_error(404, "not_found");
        app.post(
            &format!("/api/v1/escalations/{bad}/escalate"),
            Some(&admin),
            &json!({"note": "n"}),
        )
        .await
        .assert_error(404, "not_found");
    }

    // Query strings.
    for q in [
        "tier=9",
        "tier=two",
        "status=closed",
        "limit=0",
        "limit=x",
        "colour=red",
    ] {
        app.get(&format!("/api/v1/escalations?{q}"), Some(&admin))
            .await
            .assert_error(400, "invalid_query");
    }

    // Queue bodies.
    let (_, _, started) = app.start_session(None, &customer_start("instant")).await;
    let esc = started["escalation"]["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/escalations/{esc}/note"),
        Some(&admin),
        &json!({"text": "  "}),
    )
    .await
    .assert_error(422, "invalid_body");
    app.post(
        &format!("/api/v1/escalations/{esc}/note"),
        Some(&admin),
        &json!({}),
    )
    .await
    .assert_error(422, "invalid_body");
    app.post(
        &format!("/api/v1/escalations/{esc}/resolve"),
        Some(&admin),
        &json!({"note": 3}),
    )
    .await
    .assert_error(422, "invalid_body");
    app.post(
        &format!("/api/v1/escalations/{esc}/escalate"),
        Some(&admin),
        &json!({"tier": 300, "note": "n"}),
    )
    .await
    .assert_error(422, "invalid_body");

    // Authorization headers that are neither kind of token.
    for h in [
        "Basic YWxhZGRpbjpvcGVuc2VzYW1l",
        "Bearer",
        "Bearer fpc_short",
        "Bearer xyz",
    ] {
        let req = app
            .client
            .get(app.url("/api/v1/escalations"))
            .header("authorization", h);
        let r = app.send(req).await;
        r.assert_error(401, "unauthorized");
    }
}

/// Posts a JSON body in chunks, with no Content-Length (reqwest cannot
/// stream without its `stream` feature): plain HTTP/1.1 over a socket.
/// Returns the status, the content type and the body.
async fn chunked_post(app: &TestApp, path: &str, body: &str) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    sock.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.as_bytes().chunks(8192) {
        let mut frame = format!("{:x}\r\n", chunk.len()).into_bytes();
        frame.extend_from_slice(chunk);
        frame.extend_from_slice(b"\r\n");
        // The server may answer 413 and close before the whole body is sent.
        if sock.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = sock.write_all(b"0\r\n\r\n").await;
    let mut raw = Vec::new();
    let _ = sock.read_to_end(&mut raw).await;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = raw.split_once("\r\n\r\n").expect("a response");
    let status: u16 = head.split(' ').nth(1).unwrap().parse().unwrap();
    let ct = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    (status, ct, body)
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

#[tokio::test]
async fn a_panicking_handler_is_a_500_json_error() {
    let app = TestApp::start_with(HttpConfig::default(), |router, state| {
        let config = HttpConfig::default();
        let fall_over = || async {
            if true {
                panic!("the handler fell over");
            }
            "never"
        };
        let boom: axum::Router<fixpath::http::AppState> = axum::Router::new()
            .route("/api/v1/boom", axum::routing::get(fall_over))
            .route("/boom", axum::routing::get(fall_over));
        router.merge(fixpath::http::layered(boom, &config).with_state(state))
    })
    .await;
    let r = app.get("/api/v1/boom", None).await;
    let msg = r.assert_error(500, "internal");
    assert!(
        !msg.contains("fell over"),
        "the cause stays in the log: {msg}"
    );
    // Outside the API a person gets a page, and no cause either.
    let r = app.get("/boom", None).await;
    assert_eq!(r.status.as_u16(), 500);
    assert!(
        r.content_type.starts_with("text/html"),
        "{}",
        r.content_type
    );
    assert!(r.text.contains("Something went wrong on our side"));
    assert!(!r.text.contains("fell over"));
}

// Current-thread: the pages are rendered, and log, on this thread.
#[tokio::test]
async fn a_failing_page_logs_its_cause_and_a_database_outage_is_a_503_page_logged_once() {
    use fixpath::http::error::ApiError;
    use fixpath::http::web::{Chrome, PageError, respond};
    let app = TestApp::start_with(HttpConfig::default(), |router, state| {
        let config = HttpConfig::default();
        let pages: axum::Router<fixpath::http::AppState> = axum::Router::new()
            .route(
                "/broken",
                axum::routing::get(|chrome: Chrome| async move {
                    let e = ApiError::internal("the disk caught fire");
                    respond(&chrome, Err(PageError::from(e)))
                }),
            )
            .route(
                "/down",
                axum::routing::get(|chrome: Chrome| async move {
                    let e = ApiError::Unavailable("connection refused".into());
                    respond(&chrome, Err(PageError::from(e)))
                }),
            );
        router.merge(fixpath::http::layered(pages, &config).with_state(state))
    })
    .await;
    let (logs, _guard) = common::logs::collect();

    let r = app.get("/broken", None).await;
    assert_eq!(r.status.as_u16(), 500);
    assert!(r.text.contains("Something went wrong on our side"));
    assert!(
        !r.text.contains("caught fire"),
        "the cause stays in the log"
    );
    let text = logs.text();
    assert!(
        text.contains("the disk caught fire"),
        "the operator reads the cause: {text}"
    );

    for _ in 0..20 {
        let r = app
            .client
            .get(app.url("/down"))
            .header("accept-language", "de")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 503);
        assert_eq!(r.headers()["retry-after"], "5");
        let body = r.text().await.unwrap();
        assert!(
            body.contains(
                "Bei uns ist ein Fehler aufgetreten. Bitte versuchen Sie es gleich noch einmal."
            ),
            "{body}"
        );
        assert!(!body.contains("connection refused"), "{body}");
    }
    // Clients retry while the database is down: not a line per refusal
    // (one at most: another test may have logged one in the last 10 s).
    let text = logs.text();
    let lines = text
        .lines()
        .filter(|l| l.contains("refused") || l.contains("a page failed"))
        .count();
    assert!(lines <= 1, "{lines} lines for 20 refusals:\n{text}");
}

// ---------------------------------------------------------------------------
// The OpenAPI document.

#[tokio::test]
async fn the_openapi_document_names_every_route() {
    let app = TestApp::start().await;
    let r = app.get("/api/openapi.json", None).await;
    let doc = r.assert_ok(200).clone();
    assert!(r.content_type.starts_with("application/json"));
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().expect("paths");

    let routes = fixpath::http::api::route_list();
    let mut missing = Vec::new();
    for (method, path) in &routes {
        let m = method.as_str().to_lowercase();
        if paths.get(*path).and_then(|p| p.get(&m)).is_none() {
            missing.push(format!("{method} {path}"));
        }
    }
    assert!(
        missing.is_empty(),
        "not in the OpenAPI document: {missing:?}"
    );

    let methods = ["get", "post", "put", "patch", "delete", "head", "options"];
    let mut extra = Vec::new();
    for (path, item) in paths {
        for m in item.as_object().unwrap().keys() {
            if !methods.contains(&m.as_str()) {
                continue;
            }
            if !routes
                .iter()
                .any(|(rm, rp)| rp == path && rm.as_str().eq_ignore_ascii_case(m))
            {
                extra.push(format!("{m} {path}"));
            }
        }
    }
    assert!(extra.is_empty(), "documented but not served: {extra:?}");

    // Every `$ref` points at a schema the document defines.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let pointer = r.strip_prefix('#').expect("a local ref");
        assert!(doc.pointer(pointer).is_some(), "dangling $ref {r}");
    }
}

fn collect_refs(v: &Json, out: &mut Vec<String>) {
    match v {
        Json::Object(m) => {
            for (k, v) in m {
                if k == "$ref" {
                    out.push(v.as_str().unwrap().to_owned());
                } else {
                    collect_refs(v, out);
                }
            }
        }
        Json::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn every_listed_route_is_served() {
    let app = TestApp::start().await;
    let admin = app.user("root", Role::Admin, 4).await;
    for (method, path) in fixpath::http::api::route_list() {
        let path = path
            .replace(
                "sessions/{id}",
                "sessions/ses_00000000000000000000000000000000",
            )
            .replace(
                "escalations/{id}",
                "escalations/esc_00000000000000000000000000000000",
            );
        let req = app
            .client
            .request(method.clone(), app.url(&path))
            .bearer_auth(&admin)
            .json(&json!({}));
        let r = app.send(req).await;
        assert_ne!(r.status, 405, "{method} {path}: {}", r.text);
        assert!(
            !r.text.contains("there is no route"),
            "{method} {path} is not routed: {}",
            r.text
        );
        assert!(
            r.content_type.starts_with("application/json"),
            "{method} {path}: {}",
            r.content_type
        );
    }
}

/// The live router against the document, not against the route table: every
/// documented method of a documented path is served, every other method on
/// it is a 405 that names the documented ones.
#[tokio::test]
async fn the_router_serves_exactly_the_documented_methods() {
    let app = TestApp::start().await;
    let admin = app.user("root", Role::Admin, 4).await;
    let doc = app
        .get("/api/openapi.json", None)
        .await
        .assert_ok(200)
        .clone();
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    for (pattern, item) in doc["paths"].as_object().expect("paths") {
        let path = pattern
            .replace(
                "sessions/{id}",
                "sessions/ses_00000000000000000000000000000000",
            )
            .replace(
                "escalations/{id}",
                "escalations/esc_00000000000000000000000000000000",
            );
        let documented: Vec<String> = methods
            .iter()
            .filter(|m| item.get(m.as_str().to_lowercase()).is_some())
            .map(|m| m.to_string())
            .collect();
        assert!(!documented.is_empty(), "{pattern} documents no method");
        for method in &methods {
            let req = app
                .client
                .request(method.clone(), app.url(&path))
                .bearer_auth(&admin)
                .json(&json!({}));
            let r = app.send(req).await;
            if documented.contains(&method.to_string()) {
                assert_ne!(r.status, 405, "{method} {pattern}: {}", r.text);
                assert!(
                    !r.text.contains("there is no route"),
                    "{method} {pattern} is documented but not served: {}",
                    r.text
                );
            } else {
                assert_eq!(
                    r.status, 405,
                    "{method} {pattern} is served but not documented: {}",
                    r.text
                );
                for m in &documented {
                    assert!(
                        r.text.contains(m.as_str()),
                        "{method} {pattern}: {}",
                        r.text
                    );
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Authors.

#[tokio::test]
async fn the_author_report_says_why_an_edit_was_refused() {
    let app = TestApp::start().await;
    let author = app.user("ada", Role::Author, 1).await;
    let r = app.get("/api/v1/author/report", Some(&author)).await;
    let first = r.assert_ok(200).clone();
    assert_eq!(first["published"], true);
    let codes: Vec<&str> = first["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["FP102"], "the fixtures' one warning");

    // An edit with an error is refused: the old program stays.
    let (id, token, _) = app.start_session(None, &customer_start("wifi")).await;
    std::fs::write(
        app.dir().join("scripts/wifi.yaml"),
        "id: wifi\ntitle: Broken\nnodes:\n  a:\n    ask: Which?\n    answers:\n      - Yes: nowhere\n",
    )
    .unwrap();
    let report = app.state.library.reload(&*app.state.store).await.unwrap();
    assert!(!report.published);
    let r = app.get("/api/v1/author/report", Some(&author)).await;
    let body = r.assert_ok(200);
    assert_eq!(body["published"], false);
    // The old program is still served. (`program` in the report is the
    // refused compilation's hash, not the one served: see the report's doc.)
    assert_eq!(app.state.library.current().hash, first["program"]);
    let diags = body["diagnostics"].as_array().unwrap();
    assert!(
        diags
            .iter()
            .any(|d| d["code"] == "FP005" && d["file"].as_str().unwrap().ends_with("wifi.yaml")),
        "{diags:?}"
    );
    assert!(body["text"].as_str().unwrap().contains("FP005"));
    // The session under way is not disturbed.
    app.post(
        &format!("/api/v1/sessions/{id}/answer"),
        Some(&token),
        &json!({"seq": 1, "answer": "yes"}),
    )
    .await
    .assert_ok(200);
}

#[tokio::test]
async fn a_session_keeps_its_pinned_version_after_an_edit() {
    let app = TestApp::start().await;
    let (id, token, _) = app.start_session(None, &customer_start("wifi")).await;
    // A valid edit is published: new sessions get it...
    let edited = common::SCRIPTS[0].1.replace(
        "Is the power light on the router lit?",
        "Is the router's power light on?",
    );
    std::fs::write(app.dir().join("scripts/wifi.yaml"), edited).unwrap();
    let report = app.state.library.reload(&*app.state.store).await.unwrap();
    assert!(report.published, "{}", report.text);
    let (_, _, fresh) = app.start_session(None, &customer_start("wifi")).await;
    assert_eq!(fresh["step"]["text"], "Is the router's power light on?");
    // ...the session under way keeps reading and stepping its own version.
    let r = app
        .get(&format!("/api/v1/sessions/{id}"), Some(&token))
        .await;
    assert_eq!(
        r.assert_ok(200)["step"]["text"],
        "Is the power light on the router lit?"
    );
    let r = app
        .post(
            &format!("/api/v1/sessions/{id}/answer"),
            Some(&token),
            &json!({"seq": 1, "answer": "yes"}),
        )
        .await;
    assert_eq!(r.assert_ok(200)["step"]["node"], "serial");
    let r = app
        .get(&format!("/api/v1/sessions/{id}"), Some(&token))
        .await;
    assert_eq!(
        r.assert_ok(200)["trail"][0]["text"],
        "Is the power light on the router lit?"
    );
}

// ---------------------------------------------------------------------------
// What a stranger may hand the server (issue 12, items 4 and 8).

#[tokio::test]
async fn only_staff_give_a_reference_and_it_is_bounded() {
    let app = TestApp::start().await;
    let agent = app.user("alice", Role::Agent, 1).await;
    let planted = json!({"script": "wifi", "channel": "customer", "reference": "TICKET-4711"});
    let res = app.post("/api/v1/sessions", None, &planted).await;
    let msg = res.assert_error(422, "reference_not_allowed");
    assert!(msg.contains("only staff"), "{msg}");
    // A customer token is no staff token either.
    let (_, token, _) = app.start_session(None, &customer_start("wifi")).await;
    app.post("/api/v1/sessions", Some(&token), &planted)
        .await
        .assert_error(422, "reference_not_allowed");
    // Staff: at most 64 characters, a plain charset.
    let long = json!({"script": "wifi", "channel": "agent", "reference": "T".repeat(65)});
    let msg = app
        .post("/api/v1/sessions", Some(&agent), &long)
        .await
        .assert_error(422, "invalid_reference")
        .to_owned();
    assert!(msg.contains("at most 64"), "{msg}");
    let markup = json!({"script": "wifi", "channel": "agent", "reference": "<b>T-1</b>"});
    app.post("/api/v1/sessions", Some(&agent), &markup)
        .await
        .assert_error(422, "invalid_reference");
    let fine = json!({"script": "wifi", "channel": "agent", "reference": "TICKET-4711"});
    app.post("/api/v1/sessions", Some(&agent), &fine)
        .await
        .assert_ok(201);
}

#[tokio::test]
async fn params_vars_notes_and_inputs_are_capped() {
    let app = TestApp::start().await;
    let start = |params: Json| json!({"script": "wifi", "channel": "customer", "params": params});
    let many: serde_json::Map<String, Json> =
        (0..33).map(|i| (format!("k{i}"), json!(i))).collect();
    let msg = app
        .post("/api/v1/sessions", None, &start(Json::Object(many)))
        .await
        .assert_error(413, "payload_too_large")
        .to_owned();
    assert!(msg.contains("at most 32"), "{msg}");
    let big = start(json!({ "customer": "x".repeat(3000) }));
    let msg = app
        .post("/api/v1/sessions", None, &big)
        .await
        .assert_error(413, "payload_too_large")
        .to_owned();
    assert!(msg.contains("`params.customer`"), "{msg}");
    let wide: serde_json::Map<String, Json> = (0..5)
        .map(|i| (format!("k{i}"), json!("x".repeat(2000))))
        .collect();
    app.post("/api/v1/sessions", None, &start(Json::Object(wide)))
        .await
        .assert_error(413, "payload_too_large");

    // An input value over 4,000 bytes, a note over 4 KiB.
    let (id, token, body) = app.start_session(None, &customer_start("wifi")).await;
    let seq = body["step"]["seq"].as_u64().unwrap();
    let res = app
        .post(
            &format!("/api/v1/sessions/{id}/answer"),
            Some(&token),
            &json!({"seq": seq, "answer": "y".repeat(4001)}),
        )
        .await;
    res.assert_error(413, "payload_too_large");
    // 600 Cyrillic letters (1,200 bytes) are no oversized body: the engine
    // judges them (here: no such answer), as it would 600 Latin ones.
    let res = app
        .post(
            &format!("/api/v1/sessions/{id}/answer"),
            Some(&token),
            &json!({"seq": seq, "answer": "я".repeat(600)}),
        )
        .await;
    assert_eq!(res.status.as_u16(), 422, "{:?}", res.body);
    let res = app
        .post(
            &format!("/api/v1/sessions/{id}/escalate"),
            Some(&token),
            &json!({"seq": seq, "note": "n".repeat(4097)}),
        )
        .await;
    res.assert_error(413, "payload_too_large");
    let res = app
        .post(
            &format!("/api/v1/sessions/{id}/escalate"),
            Some(&token),
            &json!({"seq": seq, "note": "please call me"}),
        )
        .await;
    res.assert_ok(200);
    let specialist = app.user("sam", Role::Specialist, 2).await;
    let esc = format!("/api/v1/escalations/esc_{}", id.trim_start_matches("ses_"));
    app.post(
        &format!("{esc}/note"),
        Some(&specialist),
        &json!({"text": "n".repeat(4097)}),
    )
    .await
    .assert_error(413, "payload_too_large");
    app.post(
        &format!("{esc}/resolve"),
        Some(&specialist),
        &json!({"note": "n".repeat(4097)}),
    )
    .await
    .assert_error(413, "payload_too_large");
    let record = app.get(&esc, Some(&specialist)).await;
    assert_eq!(record.assert_ok(200)["notes"].as_array().unwrap().len(), 1);
}

const WITH_VARS: &str = r#"id: plan
title: Which plan
vars:
  plan: basic
  attempts: 0
nodes:
  ask:
    ask: "Is your plan {{ plan }}?"
    answers:
      - label: "Yes"
        id: "yes"
        resolve: Fine
      - label: "No"
        id: "no"
        escalate: Plan mismatch
"#;

#[tokio::test]
async fn a_customer_sets_only_declared_vars_and_the_record_says_which() {
    let app =
        TestApp::start_with_scripts(HttpConfig::default(), &[("plan.yaml", WITH_VARS)], |r, _| r)
            .await;
    let res = app
        .post(
            "/api/v1/sessions",
            None,
            &json!({"script": "plan", "channel": "customer", "vars": {"plan": "gold", "vip": true, "admin": 1}}),
        )
        .await;
    let msg = res.assert_error(422, "unknown_vars");
    assert!(msg.contains("`admin`, `vip`"), "{msg}");
    assert!(
        msg.contains("plan, attempts") || msg.contains("attempts, plan"),
        "{msg}"
    );

    let (id, token, body) = app
        .start_session(
            None,
            &json!({"script": "plan", "channel": "customer", "vars": {"plan": "gold"}}),
        )
        .await;
    assert_eq!(body["step"]["text"], "Is your plan gold?");
    let seq = body["step"]["seq"].as_u64().unwrap();
    app.post(
        &format!("/api/v1/sessions/{id}/answer"),
        Some(&token),
        &json!({"seq": seq, "answer": "no"}),
    )
    .await
    .assert_ok(200);
    let specialist = app.user("sam", Role::Specialist, 2).await;
    let esc = format!("/api/v1/escalations/esc_{}", id.trim_start_matches("ses_"));
    let record = app
        .get(&esc, Some(&specialist))
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(record["vars"]["plan"], "gold");
    assert_eq!(record["customer_vars"], json!(["plan"]));

    // Staff may set any variable, and nothing is marked as the customer's.
    let agent = app.user("alice", Role::Agent, 1).await;
    let (id, _, body) = app
        .start_session(
            Some(&agent),
            &json!({"script": "plan", "channel": "agent", "vars": {"plan": "gold", "extra": 1}}),
        )
        .await;
    let seq = body["step"]["seq"].as_u64().unwrap();
    app.post(
        &format!("/api/v1/sessions/{id}/answer"),
        Some(&agent),
        &json!({"seq": seq, "answer": "no"}),
    )
    .await
    .assert_ok(200);
    let esc = format!("/api/v1/escalations/esc_{}", id.trim_start_matches("ses_"));
    let record = app
        .get(&esc, Some(&specialist))
        .await
        .assert_ok(200)
        .clone();
    assert!(record.get("customer_vars").is_none(), "{record}");
}

// ---------------------------------------------------------------------------
// Input hints and the words for a refused value.

/// An input node with a `hint` and an `invalid` text, in two languages, one
/// of them templated.
const SERIAL_HINT: (&str, &str) = (
    "serial.yaml",
    r#"id: serial
title: { en: Serial number, nl: Serienummer }
languages: [en, nl]
vars: { device: router }
nodes:
  serial:
    input: { en: "What is the serial number?", nl: "Wat is het serienummer?" }
    into: serial
    pattern: "^[A-Z0-9]{8}$"
    hint: { en: "Eight letters and digits, on the bottom of the {{ device }}.", nl: "Acht letters en cijfers, onder op de {{ device }}." }
    invalid: { en: "That is not it: the serial has exactly eight letters and digits.", nl: "Dat klopt niet: het serienummer heeft precies acht letters en cijfers." }
    next: done
  done:
    resolve: { en: Thank you, nl: Dank u }
"#,
);

#[tokio::test]
async fn an_input_step_carries_its_hint_and_invalid_texts_rendered_in_the_sessions_language() {
    let plain = (
        "plain.yaml",
        "id: plain\ntitle: Plain\nnodes:\n  name:\n    input: Your name?\n    into: name\n    next: done\n  done:\n    resolve: Thanks\n",
    );
    let app =
        TestApp::start_with_scripts(HttpConfig::default(), &[SERIAL_HINT, plain], |r, _| r).await;
    let (_, _, body) = app.start_session(None, &customer_start("serial")).await;
    let input = &body["step"]["input"];
    assert_eq!(
        input["hint"],
        "Eight letters and digits, on the bottom of the router."
    );
    assert_eq!(
        input["invalid"],
        "That is not it: the serial has exactly eight letters and digits."
    );

    let (_, _, body) = app
        .start_session(
            None,
            &json!({"script": "serial", "channel": "customer", "language": "nl"}),
        )
        .await;
    let input = &body["step"]["input"];
    assert_eq!(
        input["hint"],
        "Acht letters en cijfers, onder op de router."
    );
    assert_eq!(
        input["invalid"],
        "Dat klopt niet: het serienummer heeft precies acht letters en cijfers."
    );

    // Without them, the step's `input` has neither key.
    let (_, _, body) = app.start_session(None, &customer_start("plain")).await;
    let input = body["step"]["input"].as_object().expect("an input step");
    assert!(
        !input.contains_key("hint") && !input.contains_key("invalid"),
        "{input:?}"
    );
}

/// A customer-facing script whose first question is `ask`.
fn script_asking(id: &str, ask: &str) -> String {
    format!(
        "id: {id}\ntitle: {id}\nnodes:\n  a:\n    ask: \"{ask}\"\n    answers:\n      - Yes: {{ resolve: done }}\n"
    )
}

#[track_caller]
fn assert_escalated_over_the_bounds(body: &Json) {
    assert_eq!(body["status"], "escalated", "{body}");
    assert_eq!(body["escalation"]["node"], "a", "{body}");
    let reason = body["escalation"]["reason"].as_str().expect("a reason");
    assert!(
        reason.starts_with("This step could not be shown"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_text_over_the_render_bounds_escalates_and_the_server_keeps_answering() {
    // The template of issue 12, and one that only the clock stops.
    let hostile = script_asking(
        "hostile",
        "{% for c in 'x'*20000 %}{{ 'y'*1000000 }}{% endfor %}",
    );
    let slow = script_asking(
        "slow",
        "{% set l = range(10000) | list %}{% for i in range(10000) %}{% set y = l | sort(reverse=true) | unique %}{% endfor %}",
    );
    let app = TestApp::start_with_scripts(
        HttpConfig::default(),
        &[("hostile.yaml", &hostile), ("slow.yaml", &slow)],
        |r, state| r.merge(fixpath::server::ops::routes(state)),
    )
    .await;

    let started = std::time::Instant::now();
    let (_, _, body) = app.start_session(None, &customer_start("hostile")).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_escalated_over_the_bounds(&body);

    // Sixteen slow starts at once (each renders until its deadline, eight
    // at a time). This test's runtime has one thread, which also serves
    // the app: had a render run on it, /healthz would wait for them all.
    let starts: Vec<_> = (0..16)
        .map(|_| {
            let req = app
                .client
                .post(app.url("/api/v1/sessions"))
                .json(&customer_start("slow"));
            tokio::spawn(async move { req.send().await?.json::<Json>().await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let asked = std::time::Instant::now();
    let health = app.get("/healthz", None).await;
    let answered_in = asked.elapsed();
    let still_rendering = starts.iter().filter(|s| !s.is_finished()).count();
    health.assert_ok(200);
    assert!(
        still_rendering > 0,
        "/healthz was answered only after every render ({answered_in:?})"
    );
    assert!(answered_in < Duration::from_millis(500), "{answered_in:?}");
    for s in starts {
        let body = s.await.expect("the task ran").expect("a JSON answer");
        assert_escalated_over_the_bounds(&body);
    }
}
