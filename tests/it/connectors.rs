//! Ticketing connectors (contract section 12), end to end with the real
//! binary: the generic HTTP connector against a local receiver (templated
//! body, headers from the environment, `id_from`, per-event `on`), and the
//! Request Tracker connector against a real Request Tracker 5 (Debian's
//! `request-tracker5`, see `common::rt`): a case made into exactly one
//! ticket, notes and replies into comments and correspondence, RT's
//! correspondence, comments and resolution back into the case, one ticket
//! even when the server is killed right after RT made it, and a dead RT that
//! delays only the mirror.

use crate::serve::{
    Http, PATIENCE, Server, TempDir, fixpath, receiver, receiver_answering, start_session,
    token_of, user_add,
};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Waits until `f` gives something, or fails with `what` and the log.
fn wait_for<T>(server: &Server, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE * 2;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen in time:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A server on the folder's scripts and database with `config` as its
/// configuration file and `env` set.
fn serve(dir: &TempDir, config: &str, env: &[(&str, &str)]) -> Server {
    let path = dir.path().join("fixpath.toml");
    std::fs::write(&path, config).unwrap();
    let mut cmd = fixpath(dir.path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.arg("serve")
        .args(["--listen", "127.0.0.1:0", "--scripts"])
        .arg(dir.scripts())
        .args(["--db", &dir.db()])
        .arg("--config")
        .arg(&path);
    Server::spawn(cmd)
}

/// A customer escalates a new session, giving `email`; returns the session's
/// id and token.
fn escalate(http: &Http, server: &Server, email: &str) -> (String, String) {
    let (id, token, started) = start_session(http, server);
    let (status, body) = http.post(
        &server.url(&format!("/api/v1/sessions/{id}/escalate")),
        Some(&token),
        json!({"seq": started["step"]["seq"], "note": "Nothing helped.", "email": email}),
    );
    assert_eq!(status, 200, "{body:#}");
    (id, token)
}

/// The case of session `session`, as staff reads it.
fn case_of(http: &Http, server: &Server, staff: &str, session: &str) -> Value {
    let (status, page) = http.get(
        &server.url("/api/v1/escalations?status=all&limit=100"),
        Some(staff),
    );
    assert_eq!(status, 200, "{page:#}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["session"] == session)
        .cloned()
        .unwrap_or_else(|| panic!("no case of {session}: {page:#}"))
}

fn admin(dir: &TempDir) -> String {
    token_of(&user_add(dir, &["boss", "--role", "admin"], None))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no `{name}` in {headers:?}"))
}

// ---------------------------------------------------------------- generic

const HTTP_CONFIG: &str = r#"
[[connector]]
kind = "http"
name = "zendesk"
on = ["escalation.created"]
url = "@CREATE@/api/v2/tickets"
headers = { authorization = "Bearer {{ env.ZD_TEST_TOKEN }}", "idempotency-key" = "{{ message_id }}" }
body = '''{"ticket": {"subject": {{ ("[" ~ record.reference ~ "] " ~ record.script.title)|tojson }}, "comment": {"body": {{ record.ticket_text|tojson }}}, "requester": {"email": {{ record.email|tojson }}}}}'''
id_from = "/ticket/id"
link = "https://example.zendesk.com/agent/tickets/{{ id }}"

[[connector]]
kind = "http"
name = "zendesk-updates"
on = ["escalation.resolved"]
method = "PUT"
url = "@UPDATE@/api/v2/tickets/{{ ids.zendesk }}"
body = '''{"ticket": {"status": "solved", "comment": {"body": {{ record.resolution|tojson }}, "public": false}}}'''
"#;

#[test]
fn the_http_connector_sends_templated_requests_and_keeps_the_ticket_id() {
    const TOKEN: &str = "zd-7c1e0f5b2a9d4e61-do-not-log";
    let dir = TempDir::with_scripts("http-connector");
    let (create, created) = receiver_answering(r#"{"ticket": {"id": 4242, "status": "new"}}"#);
    let (update, updated) = receiver();
    let config = HTTP_CONFIG
        .replace("@CREATE@", create.trim_end_matches("/hook"))
        .replace("@UPDATE@", update.trim_end_matches("/hook"));
    let boss = admin(&dir);
    let server = serve(&dir, &config, &[("ZD_TEST_TOKEN", TOKEN)]);
    let http = Http::new();

    let (session, _) = escalate(&http, &server, "ann@example.com");
    let (headers, body) = wait_for(&server, "the create request", || {
        created.lock().unwrap().first().cloned()
    });
    let case = case_of(&http, &server, &boss, &session);
    assert_eq!(
        header(&headers, ":request"),
        "POST /api/v2/tickets HTTP/1.1"
    );
    assert_eq!(header(&headers, "authorization"), format!("Bearer {TOKEN}"));
    assert_eq!(header(&headers, "content-type"), "application/json");
    assert!(
        header(&headers, "idempotency-key").starts_with("msg_"),
        "{headers:?}"
    );
    let sent: Value = serde_json::from_str(&body).expect("the body is JSON");
    assert_eq!(
        sent,
        json!({"ticket": {
            "subject": format!("[{}] {}", case["reference"].as_str().unwrap(), case["script"]["title"].as_str().unwrap()),
            "comment": {"body": case["ticket_text"]},
            "requester": {"email": "ann@example.com"},
        }})
    );
    assert!(!case["ticket_text"].as_str().unwrap().is_empty());

    // The id from the answer, and the link made of it, are in the record.
    let linked = wait_for(&server, "the ticket link", || {
        let c = case_of(&http, &server, &boss, &session);
        (c["external"] != json!([])).then_some(c)
    });
    assert_eq!(
        linked["external"],
        json!([{"system": "zendesk", "id": "4242", "url": "https://example.zendesk.com/agent/tickets/4242"}])
    );
    assert!(
        updated.lock().unwrap().is_empty(),
        "nothing but the creation so far"
    );

    // Resolving goes to the second connector only, addressed by the id.
    let id = linked["id"].as_str().unwrap();
    let (status, body) = http.post(
        &server.url(&format!("/api/v1/escalations/{id}/resolve")),
        Some(&boss),
        json!({"resolution": "Replaced the \"blue\" cable."}),
    );
    assert_eq!(status, 200, "{body:#}");
    let (headers, body) = wait_for(&server, "the update request", || {
        updated.lock().unwrap().first().cloned()
    });
    assert_eq!(
        header(&headers, ":request"),
        "PUT /api/v2/tickets/4242 HTTP/1.1"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"ticket": {"status": "solved", "comment": {"body": "Replaced the \"blue\" cable.", "public": false}}})
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        created.lock().unwrap().len(),
        1,
        "one create, nothing else to it"
    );
    assert_eq!(updated.lock().unwrap().len(), 1);

    let (_, log) = server.stop();
    assert!(!log.contains(TOKEN), "the secret reached the log:\n{log}");
}

#[test]
fn a_connector_secret_missing_from_the_environment_stops_the_start() {
    let dir = TempDir::with_scripts("rt-no-secret");
    let path = dir.path().join("fixpath.toml");
    std::fs::write(
        &path,
        "[[connector]]\nkind = \"rt\"\nurl = \"http://127.0.0.1:9/rt\"\nuser = \"fixpath\"\n\
         password_env = \"FIXPATH_TEST_UNSET_RT_PASSWORD\"\nqueues = { \"*\" = \"General\" }\n",
    )
    .unwrap();
    let out = fixpath(dir.path())
        .env_remove("FIXPATH_TEST_UNSET_RT_PASSWORD")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            &dir.db(),
            "--config",
        ])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("connector[1]") && err.contains("FIXPATH_TEST_UNSET_RT_PASSWORD is not set"),
        "{err}"
    );
}
