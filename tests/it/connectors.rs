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
    let deadline = Instant::now() + PATIENCE * 3;
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

// ---------------------------------------------------------------- Request Tracker

use crate::common::rt::{Rt, rt_available};

/// The connector's configuration for RT at `base`: fiber cases go to the
/// queue `Fiber`, the rest to `General`; read back every second.
fn rt_config(base: &str) -> String {
    format!(
        "[[connector]]\nkind = \"rt\"\nurl = \"{base}\"\nuser = \"root\"\n\
         password_env = \"FIXPATH_TEST_RT_PASSWORD\"\n\
         queues = {{ fiber = \"Fiber\", \"*\" = \"General\" }}\npoll = \"1s\"\n"
    )
}

const RT_ENV: [(&str, &str); 1] = [("FIXPATH_TEST_RT_PASSWORD", crate::common::rt::PASSWORD)];

/// `root:password` as basic auth sends it: never to be logged.
const RT_BASIC: &str = "cm9vdDpwYXNzd29yZA";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The case's RT ticket id, once it is linked.
fn linked(http: &Http, server: &Server, staff: &str, session: &str) -> (Value, String) {
    wait_for(server, "the ticket link", || {
        let c = case_of(http, server, staff, session);
        let id = c["external"][0]["id"].as_str().map(str::to_owned)?;
        Some((c, id))
    })
}

/// The texts of the ticket's transactions of `kind` made by `creator`.
async fn texts(rt: &Rt, ticket: &str, kind: &str, creator: &str) -> Vec<String> {
    let mut out = Vec::new();
    for t in rt.history(ticket).await {
        if t["Type"] == kind && t["Creator"]["id"] == creator {
            out.push(rt.transaction_text(t["id"].as_str().unwrap()).await);
        }
    }
    out
}

#[test]
fn a_case_lives_in_request_tracker_both_ways() {
    if !rt_available() {
        return;
    }
    let rt = Rt::start();
    let run = runtime();
    let (status, q) = run.block_on(rt.post("root", "queue", json!({"Name": "Fiber"})));
    assert_eq!(status, 201, "{q:#}");
    let dir = TempDir::with_scripts("rt-e2e");
    let boss = admin(&dir);
    let server = serve(&dir, &rt_config(&rt.base), &RT_ENV);
    let http = Http::new();

    // A customer escalates: one ticket, as section 12 says.
    let (session, token) = escalate(&http, &server, "ann@example.com");
    let (case, ticket) = linked(&http, &server, &boss, &session);
    assert_eq!(
        case["external"],
        json!([{"system": "rt", "id": ticket, "url": format!("{}/Ticket/Display.html?id={ticket}", rt.base)}])
    );
    let t = run.block_on(rt.get(&format!("ticket/{ticket}")));
    assert_eq!(
        t["Subject"],
        format!(
            "[{}] {}: {}",
            case["reference"].as_str().unwrap(),
            case["script"]["title"].as_str().unwrap(),
            case["reason"].as_str().unwrap()
        )
    );
    assert_eq!(t["Queue"]["id"], "1", "General: {t:#}");
    assert_eq!(t["Requestor"][0]["id"], "ann@example.com", "{t:#}");
    // The content is the readable ticket byte for byte; the attachment is
    // the record (as it was before the link was added to it).
    let history = run.block_on(rt.history(&ticket));
    let create = history
        .iter()
        .find(|h| h["Type"] == "Create")
        .expect("a Create");
    let content = run.block_on(rt.transaction_text(create["id"].as_str().unwrap()));
    assert_eq!(content, case["ticket_text"].as_str().unwrap());
    let attached = run.block_on(rt.attachment_named(&ticket, "fixpath-case.json"));
    let mut attached: Value = serde_json::from_slice(&attached).expect("the attachment is JSON");
    let mut record = case.clone();
    record["external"] = json!([]);
    attached["external"] = json!([]);
    assert_eq!(attached, record);

    // The queue's page of the case links to the ticket.
    let id = case["id"].as_str().unwrap();
    let (status, page) = http.send(
        http.client
            .get(server.url(&format!("/queue/{id}")))
            .header("cookie", format!("fp_staff={boss}")),
    );
    assert_eq!(status, 200, "{page}");
    // The page escapes the address's slashes (`&#x2f;`).
    let link = format!(
        r#"<a href="{}" rel="noopener noreferrer">rt {ticket}</a>"#,
        format!("{}/Ticket/Display.html?id={ticket}", rt.base).replace('/', "&#x2f;")
    );
    assert!(
        page.contains(&link),
        "no `{link}` on the queue's page:\n{page}"
    );

    // A note and a reply here: a comment and correspondence there.
    let note = "Checked the line: “all green”.\nSecond line.";
    let reply = "Please try the blue cable.";
    for (act, body) in [
        ("note", json!({"text": note})),
        ("reply", json!({"text": reply})),
    ] {
        let (status, body) = http.post(
            &server.url(&format!("/api/v1/escalations/{id}/{act}")),
            Some(&boss),
            body,
        );
        assert_eq!(status, 200, "{act}: {body:#}");
    }
    wait_for(&server, "the note and the reply in RT", || {
        let comments = run.block_on(texts(&rt, &ticket, "Comment", "root"));
        let replies = run.block_on(texts(&rt, &ticket, "Correspond", "root"));
        (comments == [note] && replies == [reply]).then_some(())
    });

    // RT staff write back: correspondence, a comment, then the resolution.
    let from_rt = "The line is fixed on our side; please restart the router.";
    let (status, body) = run.block_on(rt.post(
        "alice",
        &format!("ticket/{ticket}/correspond"),
        json!({"Content": from_rt, "ContentType": "text/plain"}),
    ));
    assert_eq!(status, 201, "{body:#}");
    let seen = wait_for(
        &server,
        "RT's correspondence on the customer's side",
        || {
            let (_, s) = http.get(
                &server.url(&format!("/api/v1/sessions/{session}")),
                Some(&token),
            );
            s["case"]["messages"]
                .as_array()?
                .iter()
                .find(|m| m["text"] == from_rt)
                .cloned()
        },
    );
    assert_eq!(seen["from"], "staff", "{seen:#}");
    assert_eq!(seen["author"], "alice", "{seen:#}");
    let (status, page) = http.send(
        http.client
            .get(server.url(&format!("/s/{session}")))
            .header("cookie", format!("fp_session={token}")),
    );
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(from_rt),
        "the case page shows RT's reply:\n{page}"
    );

    let (status, body) = run.block_on(rt.post(
        "alice",
        &format!("ticket/{ticket}/comment"),
        json!({"Content": "Line card swapped.", "ContentType": "text/plain"}),
    ));
    assert_eq!(status, 201, "{body:#}");
    wait_for(&server, "RT's comment as a note", || {
        let c = case_of(&http, &server, &boss, &session);
        c["notes"]
            .as_array()?
            .iter()
            .any(|n| n["text"] == "Line card swapped." && n["author"] == "alice")
            .then_some(())
    });

    let (status, body) = run.block_on(rt.put(
        "alice",
        &format!("ticket/{ticket}"),
        json!({"Status": "resolved"}),
    ));
    assert_eq!(status, 200, "{body:#}");
    let done = wait_for(&server, "the case resolved from RT", || {
        let c = case_of(&http, &server, &boss, &session);
        (c["status"] == "resolved").then_some(c)
    });
    assert_eq!(done["resolution"], from_rt);
    assert_eq!(done["resolved_by"], "alice");

    // Nothing that came from RT went back to it.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(run.block_on(texts(&rt, &ticket, "Comment", "root")), [note]);
    assert_eq!(
        run.block_on(texts(&rt, &ticket, "Correspond", "root")),
        [reply]
    );
    let history = run.block_on(rt.history(&ticket));
    assert!(
        !history
            .iter()
            .any(|h| h["Type"] == "Status" && h["Creator"]["id"] == "root"),
        "fixpath set a status RT had set already: {history:#?}"
    );
    let (_, log) = server.stop();
    assert!(
        !log.contains(RT_BASIC),
        "the RT credentials reached the log"
    );
}

#[test]
fn escalating_further_moves_the_ticket_and_a_kill_after_the_create_makes_no_second_ticket() {
    if !rt_available() {
        return;
    }
    let rt = Rt::start();
    let run = runtime();
    let (status, q) = run.block_on(rt.post("root", "queue", json!({"Name": "Fiber"})));
    assert_eq!(status, 201, "{q:#}");
    let fiber = q["id"].as_str().unwrap().to_owned();
    let dir = TempDir::with_scripts("rt-kill");
    let boss = admin(&dir);
    let http = Http::new();

    // The relay stops for good right after RT made the ticket.
    let mut hook = RT_ENV.to_vec();
    hook.push(("FIXPATH_TEST_HANG_AFTER_TICKET_CREATE", "1"));
    let server = serve(&dir, &rt_config(&rt.base), &hook);
    let (session, _) = escalate(&http, &server, "bo@example.com");
    server.wait_for_log("test hook: the tickets relay stops", 1);
    let case = case_of(&http, &server, &boss, &session);
    assert_eq!(case["external"], json!([]), "the id was not stored");
    let reference = case["reference"].as_str().unwrap().to_owned();
    let query = format!("Subject LIKE '[{reference}]'");
    assert_eq!(run.block_on(rt.tickets(&query)).len(), 1);
    drop(server); // kill -9

    // The dead relay's lease on the message runs out first (30 s).
    let server = serve(&dir, &rt_config(&rt.base), &RT_ENV);
    let (case, ticket) = linked(&http, &server, &boss, &session);
    let found = run.block_on(rt.tickets(&query));
    assert_eq!(found.len(), 1, "still exactly one ticket: {found:#?}");
    assert_eq!(found[0]["id"].as_str(), Some(ticket.as_str()));

    // Escalating further: a comment with the note, and the mapped queue.
    let id = case["id"].as_str().unwrap();
    let (status, body) = http.post(
        &server.url(&format!("/api/v1/escalations/{id}/escalate")),
        Some(&boss),
        json!({"tier": 3, "queue": "fiber", "note": "Needs the fiber team."}),
    );
    assert_eq!(status, 200, "{body:#}");
    wait_for(&server, "the ticket in the Fiber queue", || {
        let t = run.block_on(rt.get(&format!("ticket/{ticket}")));
        (t["Queue"]["id"] == fiber.as_str()).then_some(())
    });
    assert_eq!(
        run.block_on(texts(&rt, &ticket, "Comment", "root")),
        ["Needs the fiber team."]
    );
    assert_eq!(run.block_on(rt.tickets(&query)).len(), 1);
}

#[test]
fn a_dead_or_hanging_rt_delays_only_the_mirror() {
    if !rt_available() {
        return;
    }
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // A port that takes connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let hanging = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                if let Ok((c, _)) = listener.accept() {
                    held.push(c);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let dir = TempDir::with_scripts("rt-down");
    let boss = admin(&dir);
    let base = format!("http://127.0.0.1:{port}/rt");
    let server = serve(&dir, &rt_config(&base), &RT_ENV);
    let http = Http::new();

    // The customer's escalation answers at once while RT hangs.
    let started = Instant::now();
    let (session, token) = escalate(&http, &server, "cy@example.com");
    let (_, s) = http.get(
        &server.url(&format!("/api/v1/sessions/{session}")),
        Some(&token),
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(s["case"]["reference"].is_string(), "{s:#}");
    server.wait_for_log("a ticketing connector failed; will retry", 1);
    assert!(server.log().contains("timed out"), "{}", server.log());

    // RT comes up on that port: the retry makes the ticket.
    stop.store(true, Ordering::Relaxed);
    hanging.join().unwrap();
    let rt = Rt::start_on(Some(port));
    let (case, ticket) = linked(&http, &server, &boss, &session);
    let reference = case["reference"].as_str().unwrap();
    let run = runtime();
    let found = run.block_on(rt.tickets(&format!("Subject LIKE '[{reference}]'")));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["id"].as_str(), Some(ticket.as_str()));
}
