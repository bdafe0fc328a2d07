//! The web pages as a browser without JavaScript uses them: plain form
//! posts, redirects followed by hand, cookies kept in a small jar. Walks the
//! customer wizard to an escalation, signs in as a specialist and works it in
//! the queue, runs a call in the agent console and takes over a customer's
//! session; checks CSRF refusals, escaping of hostile input on every page,
//! languages, expiry and the security headers. Pages are snapshotted with
//! ids, tokens, references and times redacted.

use crate::common;

use common::{PRINTER, SCRIPTS, TestApp, staff};
use fixpath::http::HttpConfig;
use fixpath::store::Role;
use regex::Regex;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use std::collections::BTreeMap;

fn scripts() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<_> = SCRIPTS.to_vec();
    all.push(PRINTER);
    all
}

async fn app() -> TestApp {
    app_with(HttpConfig::default()).await
}

async fn app_with(config: HttpConfig) -> TestApp {
    TestApp::start_with_scripts(config, &scripts(), |r, _| r).await
}

/// A page as the browser got it.
pub(crate) struct Page {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Page {
    pub(crate) fn location(&self) -> Option<String> {
        self.headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }

    /// The value of the first `name="…" value="…"` field.
    pub(crate) fn field(&self, name: &str) -> String {
        let re = Regex::new(&format!(r#"name="{name}" value="([^"]*)""#)).unwrap();
        re.captures(&self.body)
            .unwrap_or_else(|| panic!("no field `{name}` in:\n{}", self.body))[1]
            .to_owned()
    }

    #[track_caller]
    pub(crate) fn assert_has(&self, text: &str) -> &Self {
        assert!(
            self.body.contains(text),
            "`{text}` not on the page:\n{}",
            self.body
        );
        self
    }

    #[track_caller]
    pub(crate) fn assert_status(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        self
    }
}

/// A browser without JavaScript: follows redirects itself so it sees every
/// `Set-Cookie`, and keeps cookies (by name; paths are not needed here).
pub(crate) struct Browser {
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    pub(crate) jar: BTreeMap<String, String>,
    pub(crate) language: Option<String>,
}

impl Browser {
    pub(crate) fn new(app: &TestApp) -> Browser {
        Browser {
            base: app.base.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            jar: BTreeMap::new(),
            language: None,
        }
    }

    fn cookie_header(&self) -> String {
        self.jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let mut req = req.header("cookie", self.cookie_header());
        if let Some(l) = &self.language {
            req = req.header("accept-language", l);
        }
        let res = req.send().await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        for c in headers.get_all(SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || c.contains("Max-Age=0") {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.to_owned(), v.to_owned());
            }
        }
        let body = res.text().await.unwrap();
        Page {
            status,
            headers,
            body,
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        let req = self.client.get(format!("{}{path}", self.base));
        let page = self.send(req).await;
        self.follow(page).await
    }

    /// Posts a form with this browser's CSRF token (as the page's hidden
    /// field would), then follows the redirect.
    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let csrf = self.jar.get("fp_csrf").cloned().unwrap_or_default();
        let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    pub(crate) async fn post_raw(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .form(fields);
        let page = self.send(req).await;
        self.follow(page).await
    }

    async fn follow(&mut self, mut page: Page) -> Page {
        for _ in 0..5 {
            if page.status != StatusCode::SEE_OTHER {
                return page;
            }
            let to = page.location().expect("a redirect has a location");
            let req = self.client.get(format!("{}{to}", self.base));
            page = self.send(req).await;
        }
        page
    }
}

/// Replaces what changes from run to run.
pub(crate) fn redact(html: &str) -> String {
    let rules = [
        (r"ses_[0-9a-f]{32}", "[session]"),
        (r"esc_[0-9a-f]{32}", "[escalation]"),
        (r"fpc_[A-Za-z0-9_-]{43}", "[token]"),
        (
            r#"name="csrf" value="[^"]*""#,
            r#"name="csrf" value="[csrf]""#,
        ),
        (r"\b[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}\b", "[reference]"),
        (
            r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
            "[time]",
        ),
        (r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", "[date time]"),
        (r"\b\d\d:\d\d\b", "[hh:mm]"),
        (r"\b[0-9a-f]{16}\b", "[version]"),
        (r"127\.0\.0\.1:\d+", "[host]"),
        (r"\d+ (min|h|d)\b", "[age]"),
    ];
    let mut out = html.to_owned();
    for (re, to) in rules {
        out = Regex::new(re).unwrap().replace_all(&out, to).into_owned();
    }
    out
}

/// The session id in a wizard address.
pub(crate) fn session_of(path: &str) -> String {
    Regex::new(r"ses_[0-9a-f]{32}")
        .unwrap()
        .find(path)
        .unwrap()
        .as_str()
        .to_owned()
}

#[tokio::test]
async fn a_customer_walks_the_wizard_to_an_escalation_and_a_specialist_resolves_it() {
    let app = app().await;
    staff(&app, "sam", Role::Specialist, "correct horse battery").await;
    let mut customer = Browser::new(&app);

    let list = customer.get("/").await;
    list.assert_status(200).assert_has("Printer does not print");
    assert!(
        !list.body.contains("VPN deep dive"),
        "tier-2 scripts are not for customers"
    );
    assert!(
        !list.body.contains("Power cycle"),
        "sub-flows are not for customers"
    );
    insta::assert_snapshot!("wizard_list", redact(&list.body));

    // Search narrows the list.
    let found = customer.get("/?q=printer").await;
    found.assert_has("Printer does not print");
    assert!(!found.body.contains("Wi-Fi keeps dropping"));

    // Start: a redirect to the session's own page, its token in a cookie.
    let req = customer
        .client
        .post(format!("{}/start", customer.base))
        .form(&[
            ("csrf", customer.jar["fp_csrf"].as_str()),
            ("script", "printer"),
        ]);
    let started = customer.send(req).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER);
    let path = started.location().unwrap();
    let id = session_of(&path);
    let cookie = started
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("fp_session="))
        .expect("the session's cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    assert!(cookie.contains(&format!("Path=/s/{id}")), "{cookie}");

    let step = customer.get(&path).await;
    step.assert_status(200)
        .assert_has("Is there paper in the tray?")
        .assert_has("None of these")
        .assert_has("Talk to a person");
    assert!(!step.body.contains("Agent-only"), "help is for staff only");
    insta::assert_snapshot!("wizard_step_question", redact(&step.body));

    // Continue without picking: an error summary, nothing changed.
    let seq = step.field("seq");
    let refused = customer
        .post(&format!("/s/{id}/answer"), &[("seq", &seq)])
        .await;
    refused
        .assert_status(422)
        .assert_has("There is a problem")
        .assert_has("Select an answer");
    insta::assert_snapshot!("wizard_step_error", redact(&refused.body));

    let input = customer
        .post(
            &format!("/s/{id}/answer"),
            &[("seq", &seq), ("answer", "yes")],
        )
        .await;
    input
        .assert_status(200)
        .assert_has("What is the model name?");
    // Going back retracts the answer and shows the question again.
    let seq = input.field("seq");
    let again = customer
        .post(&format!("/s/{id}/back"), &[("seq", &seq)])
        .await;
    again.assert_has("Is there paper in the tray?");
    let seq = again.field("seq");
    let input = customer
        .post(
            &format!("/s/{id}/answer"),
            &[("seq", &seq), ("answer", "yes")],
        )
        .await;
    // A reload of an old form (stale seq) changes nothing.
    let stale = customer
        .post(
            &format!("/s/{id}/answer"),
            &[("seq", &seq), ("answer", "no")],
        )
        .await;
    stale
        .assert_status(200)
        .assert_has("What is the model name?");

    let seq = input.field("seq");
    let hostile = "<script>alert('model')</script>";
    let light = customer
        .post(
            &format!("/s/{id}/answer"),
            &[("seq", &seq), ("value", hostile)],
        )
        .await;
    light.assert_status(200);
    assert!(
        !light.body.contains(hostile),
        "input is escaped:\n{}",
        light.body
    );
    light.assert_has("&lt;script&gt;alert(");

    // "Talk to a person": check your answers first, with a note.
    let check = customer.get(&format!("/s/{id}/check")).await;
    check
        .assert_status(200)
        .assert_has("Check your answers")
        .assert_has("Is there paper in the tray?")
        .assert_has("Yes");
    insta::assert_snapshot!("wizard_check", redact(&check.body));
    let seq = check.field("seq");
    let note = "<img src=x onerror=alert('note')>";
    let end = customer
        .post(
            &format!("/s/{id}/escalate"),
            &[("seq", &seq), ("note", note)],
        )
        .await;
    end.assert_status(200)
        .assert_has("A person will help you further")
        .assert_has("Reference");
    assert!(!end.body.contains(note));
    insta::assert_snapshot!("wizard_end_escalated", redact(&end.body));

    // The specialist signs in and finds it in the queue with its trail.
    let mut sam = Browser::new(&app);
    let gate = sam.get("/queue").await;
    gate.assert_status(200).assert_has("Sign in");
    let wrong = sam
        .post(
            "/signin",
            &[("name", "sam"), ("password", "wrong"), ("next", "/queue")],
        )
        .await;
    wrong.assert_status(401).assert_has("not right");
    let queue = sam
        .post(
            "/signin",
            &[
                ("name", "sam"),
                ("password", "correct horse battery"),
                ("next", "/queue"),
            ],
        )
        .await;
    queue
        .assert_status(200)
        .assert_has("Printer does not print");
    assert!(sam.jar.contains_key("fp_staff"));
    insta::assert_snapshot!("queue_list", redact(&queue.body));
    // The case's reference, as the customer was shown it, is in the list,
    // and finds the case however it is typed.
    let reference =
        Regex::new(r#"reference">(?:[^<]*<strong>)?([A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4})<"#)
            .unwrap()
            .captures(&end.body)
            .expect("the end page shows the reference")[1]
            .to_owned();
    queue.assert_has(&format!("<span class=\"reference\">{reference}</span>"));
    let typed = reference.replace('-', " ").to_lowercase();
    let found = sam
        .get(&format!(
            "/queue?status=all&reference={}",
            typed.replace(' ', "+")
        ))
        .await;
    found
        .assert_status(200)
        .assert_has("Printer does not print")
        .assert_has(&format!("value=\"{typed}\""));
    let none = sam.get("/queue?status=all&reference=ZZZZ-ZZZZ").await;
    none.assert_status(200).assert_has("Nothing waiting here.");
    assert!(!none.body.contains("Printer does not print"));

    let esc = format!("esc_{}", id.trim_start_matches("ses_"));
    let item = sam.get(&format!("/queue/{esc}")).await;
    item.assert_status(200)
        .assert_has("Is there paper in the tray?")
        .assert_has("Taken back")
        .assert_has("&lt;img src=x onerror=alert(");
    assert!(!item.body.contains(note) && !item.body.contains(hostile));
    insta::assert_snapshot!("queue_item_open", redact(&item.body));

    let claimed = sam.post(&format!("/queue/{esc}/claim"), &[]).await;
    claimed.assert_status(200).assert_has("Claimed");
    // Claiming what one holds changes nothing.
    let twice = sam.post(&format!("/queue/{esc}/claim"), &[]).await;
    twice.assert_status(200).assert_has("Claimed");
    let noted = sam
        .post(
            &format!("/queue/{esc}/note"),
            &[("text", "<b>checked</b> the driver")],
        )
        .await;
    noted.assert_has("&lt;b&gt;checked&lt;&#x2f;b&gt; the driver");
    let empty = sam
        .post(&format!("/queue/{esc}/resolve"), &[("text", "  ")])
        .await;
    empty.assert_status(422).assert_has("Write a note first");
    // Up to tier 3, above sam's own: back to the queue, where it is gone.
    let up = sam
        .post(
            &format!("/queue/{esc}/escalate"),
            &[("tier", "3"), ("note", "needs a field engineer")],
        )
        .await;
    up.assert_status(200);
    assert!(!up.body.contains(&esc), "no longer in sam's queue");
    let stored = app.store.escalation(&esc).await.unwrap().unwrap();
    assert_eq!(stored.record.tier, 3);
    assert!(stored.record.trail.len() >= 4, "the trail stays with it");
    sam.get(&format!("/queue/{esc}")).await.assert_status(404);
    // An admin sees every tier, and resolves it.
    staff(&app, "ada", Role::Admin, "ada-password-1").await;
    let mut ada = Browser::new(&app);
    ada.get("/queue").await;
    ada.post(
        "/signin",
        &[
            ("name", "ada"),
            ("password", "ada-password-1"),
            ("next", "/queue"),
        ],
    )
    .await
    .assert_status(200)
    .assert_has("Printer does not print");
    let done = ada
        .post(
            &format!("/queue/{esc}/resolve"),
            &[("text", "replaced the fuser")],
        )
        .await;
    done.assert_status(200)
        .assert_has("Resolved")
        .assert_has("needs a field engineer");
    // Resolved: a further escalation is refused on the item's own page,
    // saying why.
    let late = ada
        .post(
            &format!("/queue/{esc}/escalate"),
            &[("tier", "4"), ("note", "one more")],
        )
        .await;
    late.assert_status(409)
        .assert_has("resolved already")
        .assert_has("There is a problem");
    let stored = app.store.escalation(&esc).await.unwrap().unwrap();
    assert_eq!(stored.case.status.as_str(), "resolved");
    assert_eq!(stored.case.resolved_by.as_deref(), Some("ada"));
    assert_eq!(
        stored.case.resolution.as_deref(),
        Some("replaced the fuser")
    );
    // The list names who resolved it, not who held it first.
    let list = ada.get("/queue?status=resolved").await;
    list.assert_status(200)
        .assert_has(r#"<span class="muted">ada</span>"#);
}

#[tokio::test]
async fn an_agent_runs_a_call_and_takes_over_a_customers_session() {
    let app = app().await;
    staff(&app, "ann", Role::Agent, "pw-ann-123").await;
    let mut ann = Browser::new(&app);
    let signin = ann.get("/agent").await;
    signin.assert_has("Sign in");
    insta::assert_snapshot!("signin", redact(&signin.body));
    let home = ann
        .post(
            "/signin",
            &[
                ("name", "ann"),
                ("password", "pw-ann-123"),
                ("next", "/agent"),
            ],
        )
        .await;
    home.assert_status(200).assert_has("Start a call");
    insta::assert_snapshot!("console_home", redact(&home.body));

    let hostile = "<script>alert('caller')</script>";
    let call = ann
        .post(
            "/agent/start",
            &[
                ("script", "wifi"),
                ("customer", hostile),
                ("ticket", "T-1001"),
                ("language", ""),
            ],
        )
        .await;
    call.assert_status(200)
        .assert_has("Is the power light on the router lit?")
        .assert_has("a dark router is almost always the power supply")
        .assert_has("data-key=\"1\"")
        .assert_has("T-1001");
    assert!(!call.body.contains(hostile));
    call.assert_has("&lt;script&gt;alert(");
    insta::assert_snapshot!("console_step", redact(&call.body));
    let id = session_of(&call.body);
    let seq = call.field("seq");
    let serial = ann
        .post(
            &format!("/agent/s/{id}/answer"),
            &[("seq", &seq), ("answer", "yes")],
        )
        .await;
    let seq = serial.field("seq");
    let bad = ann
        .post(
            &format!("/agent/s/{id}/answer"),
            &[("seq", &seq), ("value", "nope")],
        )
        .await;
    bad.assert_status(422).assert_has("expected form");
    let escalated = ann
        .post(
            &format!("/agent/s/{id}/escalate"),
            &[("seq", &seq), ("note", "caller upset")],
        )
        .await;
    escalated.assert_status(200).assert_has("Next call");

    // A customer on the phone reads out the reference from their screen.
    let mut customer = Browser::new(&app);
    customer.get("/").await;
    let csrf = customer.jar["fp_csrf"].clone();
    let step = customer
        .post_raw("/start", &[("csrf", &csrf), ("script", "printer")])
        .await;
    let cid = session_of(&step.body);
    let seq = step.field("seq");
    customer
        .post(
            &format!("/s/{cid}/answer"),
            &[("seq", &seq), ("answer", "yes")],
        )
        .await;
    // Read from the page's reference element: a bare 4-4 pattern can also
    // turn up inside a token elsewhere on the page.
    let reference =
        Regex::new(r#"reference">(?:[^<]*<strong>)?([A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4})<"#)
            .unwrap()
            .captures(&step.body)
            .expect("the wizard shows the reference")[1]
            .to_owned();
    let typed = reference.to_lowercase().replace('-', " ");
    let taken = ann.post("/agent/takeover", &[("reference", &typed)]).await;
    taken
        .assert_status(200)
        .assert_has("What is the model name?")
        .assert_has("Is there paper in the tray?")
        .assert_has("Taken over");
    let seq = taken.field("seq");
    let next = ann
        .post(
            &format!("/agent/s/{cid}/answer"),
            &[("seq", &seq), ("value", "LaserJet 5")],
        )
        .await;
    next.assert_has("Does the LaserJet 5 show a red light?");
    let stored = app.store.session(&cid).await.unwrap().unwrap();
    let actors: Vec<&str> = stored
        .state
        .trail
        .iter()
        .map(|e| e.actor().as_str())
        .collect();
    assert_eq!(actors, vec!["customer", "ann"], "nothing asked twice");

    let missing = ann
        .post("/agent/takeover", &[("reference", "ZZZZ-ZZZZ")])
        .await;
    missing
        .assert_status(404)
        .assert_has("No session has the reference");

    // A stranger cannot plant a session under the ticket number the agent
    // is about to type: the API takes a reference from staff only.
    let planted = app
        .post(
            "/api/v1/sessions",
            None,
            &serde_json::json!({"script": "printer", "channel": "customer", "reference": "TICKET-4711"}),
        )
        .await;
    planted.assert_error(422, "reference_not_allowed");
    let capture = ann
        .post("/agent/takeover", &[("reference", "TICKET-4711")])
        .await;
    capture
        .assert_status(404)
        .assert_has("No session has the reference");
    // The console's own references are bounded too: a ticket number of 65
    // characters is refused on a page, not stored.
    let home = ann.get("/agent").await;
    home.assert_status(200);
    let long = "T".repeat(65);
    let refused = ann
        .post("/agent/start", &[("script", "printer"), ("ticket", &long)])
        .await;
    refused.assert_status(422).assert_has("at most 64");
    // Without a ticket the caller's name stands in, cut to what a
    // reference may hold, and finds the call again.
    let named = ann
        .post(
            "/agent/start",
            &[("script", "printer"), ("customer", "Anne (VIP)")],
        )
        .await;
    named.assert_status(200).assert_has("Anne (VIP)");
    let again = ann
        .post("/agent/takeover", &[("reference", "Anne VIP")])
        .await;
    again
        .assert_status(200)
        .assert_has("Is there paper in the tray?");

    // Agents do not work the queue.
    let queue = ann.get("/queue").await;
    queue.assert_status(403);

    // Signing out revokes the sign-in.
    let stolen = ann.jar["fp_staff"].clone();
    ann.post("/signout", &[]).await.assert_has("Sign in");
    let mut thief = Browser::new(&app);
    thief.jar.insert("fp_staff".into(), stolen);
    thief.get("/agent").await.assert_has("Sign in");
}

#[tokio::test]
async fn forms_without_the_csrf_token_or_from_another_site_are_refused() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.get("/").await;
    let none = b.post_raw("/start", &[("script", "printer")]).await;
    none.assert_status(403)
        .assert_has("did not come from this site");
    let wrong = b
        .post_raw(
            "/start",
            &[("csrf", "x".repeat(43).as_str()), ("script", "printer")],
        )
        .await;
    wrong.assert_status(403);
    let csrf = b.jar["fp_csrf"].clone();
    let req = b
        .client
        .post(format!("{}/start", b.base))
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str()), ("script", "printer")]);
    let cross = b.send(req).await;
    cross.assert_status(403);
    // `Origin: null` (a sandboxed frame, a data: page) is no page of ours.
    let req = b
        .client
        .post(format!("{}/start", b.base))
        .header("origin", "null")
        .form(&[("csrf", csrf.as_str()), ("script", "printer")]);
    b.send(req).await.assert_status(403);
    // Nothing was started by any of them (a start hands out its cookie).
    assert!(!b.jar.contains_key("fp_session"));
    // And the real form works.
    let ok = b.post("/start", &[("script", "printer")]).await;
    ok.assert_status(200)
        .assert_has("Is there paper in the tray?");
    insta::assert_snapshot!("error_csrf", redact(&none.body));
}

#[tokio::test]
async fn pages_speak_the_browsers_language_and_the_switcher_changes_it() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.language = Some("nl-NL,nl;q=0.9,en;q=0.5".into());
    let list = b.get("/").await;
    list.assert_has("lang=\"nl\"")
        .assert_has("Printer print niet");
    let step = b.post("/start", &[("script", "printer")]).await;
    step.assert_has("Zit er papier in de lade?")
        .assert_has("Geen van deze")
        .assert_has("Met een medewerker praten");
    // Switch the session to German: the next page speaks German.
    let id = session_of(&step.body);
    let seq = step.field("seq");
    let de = b
        .post(
            &format!("/s/{id}/language"),
            &[("seq", &seq), ("lang", "de")],
        )
        .await;
    de.assert_has("Ist Papier im Fach?")
        .assert_has("lang=\"de\"");
    // A language the script lacks is refused and changes nothing.
    let seq = de.field("seq");
    let ru = b
        .post(
            &format!("/s/{id}/language"),
            &[("seq", &seq), ("lang", "ru")],
        )
        .await;
    ru.assert_status(422);
    // The chrome alone in Estonian and Russian.
    let et = b.get("/?lang=et").await;
    et.assert_has("lang=\"et\"");
    let ru = b.get("/?lang=ru").await;
    ru.assert_has("lang=\"ru\"");
    assert!(b.jar.get("fp_lang").is_some_and(|l| l == "ru"));
}

#[tokio::test]
async fn an_idle_session_expires_and_a_resume_link_reopens_a_live_one() {
    let idle = app_with(HttpConfig {
        wizard_idle: std::time::Duration::ZERO,
        ..HttpConfig::default()
    })
    .await;
    let mut b = Browser::new(&idle);
    b.get("/").await;
    let csrf = b.jar.get("fp_csrf").cloned().unwrap_or_default();
    let req = b
        .client
        .post(format!("{}/start", b.base))
        .form(&[("csrf", csrf.as_str()), ("script", "printer")]);
    let started = b.send(req).await;
    let to = started.location().expect("a redirect to the session");
    let expired = b.follow(started).await;
    expired.assert_status(410).assert_has("expired");
    // An answer to it is refused the same way, and changes nothing.
    let id = session_of(&to);
    let answered = b
        .post(
            &format!("/s/{id}/answer"),
            &[("seq", "1"), ("answer", "yes")],
        )
        .await;
    answered.assert_status(410).assert_has("expired");
    let stored = idle.store.session(&id).await.unwrap().expect("stored");
    assert_eq!((stored.state.seq, stored.state.trail.len()), (1, 0));

    let app = app().await;
    let mut b = Browser::new(&app);
    b.get("/").await;
    let step = b.post("/start", &[("script", "printer")]).await;
    step.assert_has("ends after 30 minutes without activity");
    let page = step.body.replace("&#x2f;", "/");
    let resume = Regex::new(r#"value="(http://[^"]+\?t=fpc_[^"]+)""#)
        .unwrap()
        .captures(&page)
        .expect("a resume link")[1]
        .to_owned();
    // Another device: no cookie, only the link.
    let mut other = Browser::new(&app);
    let path = resume.trim_start_matches(&app.base).to_owned();
    let opened = other.get(&path).await;
    opened
        .assert_status(200)
        .assert_has("Is there paper in the tray?");
    // Without the token the session does not open, and says nothing of it.
    let mut stranger = Browser::new(&app);
    let id = session_of(&path);
    stranger
        .get(&format!("/s/{id}"))
        .await
        .assert_status(404)
        .assert_has("could not find this session");
}

#[tokio::test]
async fn pages_carry_security_headers_and_unknown_pages_are_friendly() {
    let app = app().await;
    let mut b = Browser::new(&app);
    let page = b.get("/").await;
    for h in fixpath::http::web::SECURITY_HEADERS {
        assert!(page.headers.contains_key(h), "missing {h}");
    }
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    let css = b.get("/static/style.css").await;
    css.assert_status(200);
    assert!(
        css.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
    let missing = b.get("/no/such/page").await;
    missing.assert_status(404).assert_has("Page not found");
    assert!(
        missing.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    insta::assert_snapshot!("error_not_found", redact(&missing.body));
    // The API keeps answering JSON.
    let api = b.get("/api/v1/nothing").await;
    assert_eq!(api.status, StatusCode::NOT_FOUND);
    assert!(
        api.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    // Garbage in a form is a page, not a 500.
    let garbage = b
        .client
        .post(format!("{}/s/ses_x/answer", b.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![0xff_u8, 0xfe, 0x00, b'%', b'%']);
    let res = b.send(garbage).await;
    assert!(res.status.is_client_error(), "{}", res.status);
    // A body over the limit on a page is a page too (the API's is JSON).
    let huge = "x".repeat(100 * 1024);
    let big = b.post("/start", &[("script", huge.as_str())]).await;
    big.assert_status(413).assert_has("too long");
    assert!(
        big.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn a_resolved_path_ends_on_a_solved_page() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.get("/").await;
    let step = b.post("/start", &[("script", "printer")]).await;
    let id = session_of(&step.body);
    let seq = step.field("seq");
    let end = b
        .post(
            &format!("/s/{id}/answer"),
            &[("seq", &seq), ("answer", "no")],
        )
        .await;
    end.assert_status(200)
        .assert_has("Your problem is solved")
        .assert_has("Paper was added");
    insta::assert_snapshot!("wizard_end_resolved", redact(&end.body));
}

#[tokio::test]
async fn authors_see_the_library_and_each_scripts_graph() {
    let app = app().await;
    staff(&app, "ada", Role::Author, "pw-ada-123").await;
    staff(&app, "ann", Role::Agent, "pw-ann-123").await;
    let mut ada = Browser::new(&app);
    ada.get("/signin").await;
    let home = ada
        .post(
            "/signin",
            &[("name", "ada"), ("password", "pw-ada-123"), ("next", "")],
        )
        .await;
    home.assert_status(200)
        .assert_has("Script library")
        .assert_has("Published")
        .assert_has("Printer does not print")
        .assert_has("power-cycle")
        .assert_has("sub-flow");
    let page = ada.get("/author/scripts/printer?lang=de").await;
    page.assert_status(200)
        .assert_has("Drucker druckt nicht")
        .assert_has("/author/scripts/printer/graph.svg?lang=de");
    let svg = ada.get("/author/scripts/printer/graph.svg?lang=de").await;
    svg.assert_status(200)
        .assert_has("<svg")
        .assert_has("Ist Papier im Fach?")
        // The picture's own words follow its language too.
        .assert_has("gelöst");
    assert!(
        svg.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/svg+xml")
    );
    ada.get("/author/scripts/nope").await.assert_status(404);

    let mut ann = Browser::new(&app);
    ann.get("/signin").await;
    ann.post(
        "/signin",
        &[("name", "ann"), ("password", "pw-ann-123"), ("next", "")],
    )
    .await;
    ann.get("/author").await.assert_status(403);
    let mut nobody = Browser::new(&app);
    nobody
        .get("/author/scripts/printer/graph.svg")
        .await
        .assert_has("Sign in");
}

#[tokio::test]
async fn too_many_wrong_passwords_lock_the_name_for_a_while() {
    let app = app().await;
    staff(&app, "sam", Role::Specialist, "correct horse battery").await;
    let mut guesser = Browser::new(&app);
    guesser.get("/signin").await;
    for i in 0..fixpath::http::web::throttle::MAX_FAILURES {
        let wrong = format!("guess-{i}");
        guesser
            .post(
                "/signin",
                &[("name", "sam"), ("password", &wrong), ("next", "")],
            )
            .await
            .assert_status(401);
    }
    // Now even the right password is refused, for this name only.
    let locked = guesser
        .post(
            "/signin",
            &[
                ("name", "SAM"),
                ("password", "correct horse battery"),
                ("next", ""),
            ],
        )
        .await;
    locked
        .assert_status(429)
        .assert_has("Too many wrong passwords");
    assert!(!guesser.jar.contains_key("fp_staff"));
    staff(&app, "kim", Role::Specialist, "kim-password-1").await;
    let mut kim = Browser::new(&app);
    kim.get("/signin").await;
    kim.post(
        "/signin",
        &[
            ("name", "kim"),
            ("password", "kim-password-1"),
            ("next", ""),
        ],
    )
    .await
    .assert_status(200)
    .assert_has("Escalations");
}

/// Starts a wizard session of `script`; its address.
pub(crate) async fn start_wizard(b: &mut Browser, script: &str) -> (String, Page) {
    b.get("/").await;
    let csrf = b.jar["fp_csrf"].clone();
    let page = b
        .post_raw("/start", &[("csrf", &csrf), ("script", script)])
        .await;
    (session_of(&page.body), page)
}

#[tokio::test]
async fn none_of_these_leads_to_the_check_page_and_sends_the_note() {
    let app = app().await;
    let mut b = Browser::new(&app);
    b.language = Some("de".into());
    let (id, step) = start_wizard(&mut b, "printer").await;
    step.assert_has("Ist Papier im Fach?")
        .assert_has("Nichts davon trifft zu")
        .assert_has("Mit einer Ansprechperson sprechen");
    let seq = step.field("seq");
    // "None of these" first shows what will be sent, like "Talk to a person".
    let check = b
        .post(
            &format!("/s/{id}/answer"),
            &[("seq", &seq), ("builtin", "_none")],
        )
        .await;
    check
        .assert_status(200)
        .assert_has("name=\"why\" value=\"none\"")
        .assert_has("name=\"note\"");
    let stored = app.store.session(&id).await.unwrap().unwrap();
    assert_eq!(
        stored.state.status,
        fixpath::engine::Status::Active,
        "nothing is sent before the person confirms"
    );
    let seq = check.field("seq");
    let end = b
        .post(
            &format!("/s/{id}/escalate"),
            &[
                ("seq", &seq),
                ("why", "none"),
                ("note", "Es ist ein anderes Fach"),
            ],
        )
        .await;
    end.assert_status(200);
    let stored = app.store.session(&id).await.unwrap().unwrap();
    match stored.state.ending.as_deref() {
        Some(fixpath::engine::Ending::Escalated { reason, notes, .. }) => {
            assert_eq!(reason, "Keine der Antworten passte zu: Ist Papier im Fach?");
            assert_eq!(notes, &vec!["Es ist ein anderes Fach".to_string()]);
        }
        other => panic!("expected an escalation, got {other:?}"),
    }
    let asked = &stored.state.trail[0];
    assert_eq!(asked.answer().unwrap().id.as_str(), "_none");
}

#[tokio::test]
async fn keeping_the_session_moves_its_idle_clock_and_the_warning_counts_in_plurals() {
    let files = [(
        "lamp.yaml",
        "id: lamp\ntitle: Лампа не горит\nlanguages: [ru]\nnodes:\n  a:\n    ask: Лампа включена?\n    answers:\n      - Да: { resolve: Хорошо }\n",
    )];
    let config = HttpConfig {
        wizard_idle: std::time::Duration::from_secs(60),
        ..HttpConfig::default()
    };
    let short = TestApp::start_with_scripts(config, &files, |r, _| r).await;
    let mut b = Browser::new(&short);
    let (id, step) = start_wizard(&mut b, "lamp").await;
    // One minute, in the plural form Russian uses for 1.
    step.assert_has("после 1 минуты бездействия")
        .assert_has(&format!("action=\"/s/{id}/keep\""))
        .assert_has("data-idle-seconds=\"60\"")
        .assert_has("data-warn-one=\"Ваш сеанс завершится через {n} минуту,")
        .assert_has("data-warn-few=\"Ваш сеанс завершится через {n} минуты,")
        .assert_has("data-warn-many=\"Ваш сеанс завершится через {n} минут,");
    let before = short.store.session(&id).await.unwrap().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let seq = step.field("seq");
    let kept = b.post(&format!("/s/{id}/keep"), &[("seq", &seq)]).await;
    kept.assert_status(200);
    let after = short.store.session(&id).await.unwrap().unwrap();
    assert!(
        after.updated_at > before.updated_at,
        "the idle clock starts again: {} -> {}",
        before.updated_at,
        after.updated_at
    );
    assert_eq!(after.state.seq, before.state.seq, "nothing else changed");
    assert_eq!(after.state.trail.len(), before.state.trail.len());

    // English, a longer limit: "30 minutes".
    let en = app().await;
    let mut b = Browser::new(&en);
    let (_, step) = start_wizard(&mut b, "wifi").await;
    step.assert_has("ends after 30 minutes without activity")
        .assert_has("data-warn-one=\"Your session will end in {n} minute because");
}

#[tokio::test]
async fn the_console_speaks_the_agents_language_and_offers_the_scripts_languages() {
    let mut files = scripts();
    files.push((
        "vpn-named.yaml",
        "id: vpn-named\ntitle: VPN keeps dropping (tier 2)\ntier: 2\nnodes:\n  a:\n    ask: Is the VPN client up to date?\n    answers:\n      - Yes: { resolve: ok }\n",
    ));
    let app = TestApp::start_with_scripts(HttpConfig::default(), &files, |r, _| r).await;
    staff(&app, "ann", Role::Agent, "pw-ann-123").await;
    let mut ann = Browser::new(&app);
    ann.language = Some("de".into());
    ann.get("/agent").await;
    let home = ann
        .post(
            "/signin",
            &[
                ("name", "ann"),
                ("password", "pw-ann-123"),
                ("next", "/agent"),
            ],
        )
        .await;
    home.assert_status(200)
        .assert_has("<select id=\"language\" name=\"language\"")
        .assert_has("<option value=\"nl\" lang=\"nl\">Nederlands (nl)</option>")
        .assert_has("VPN deep dive (Stufe 2)");
    assert!(
        !home.body.contains("(tier 2) (Stufe 2)"),
        "a title that names its tier is not told it twice"
    );

    // A language the script does not speak: the form again, nothing lost.
    let refused = ann
        .post(
            "/agent/start",
            &[
                ("script", "wifi"),
                ("customer", "Jan de Vries"),
                ("ticket", "T-77"),
                ("language", "nl"),
            ],
        )
        .await;
    refused
        .assert_status(422)
        .assert_has("„Wi-Fi keeps dropping“ gibt es in dieser Sprache nicht")
        .assert_has("value=\"Jan de Vries\"")
        .assert_has("value=\"T-77\"")
        .assert_has("<option value=\"wifi\" selected>");

    // A Dutch call for a German-speaking agent: the chrome stays German,
    // the script speaks Dutch.
    let call = ann
        .post(
            "/agent/start",
            &[
                ("script", "printer"),
                ("customer", "Jan"),
                ("ticket", ""),
                ("language", "nl"),
            ],
        )
        .await;
    call.assert_status(200)
        .assert_has("<html lang=\"de\"")
        .assert_has("lang=\"nl\">Zit er papier in de lade?</h1>")
        .assert_has("Notiz für die nächste Stufe")
        .assert_has("Jetzt eskalieren")
        .assert_has("Geen van deze");
    // The first step offers no `b`; the keys hint says so.
    call.assert_has("Tasten: 1–9 wählt eine Antwort, e schreibt eine Eskalationsnotiz.");
    assert!(!call.body.contains("data-key=\"b\""));
    // On an input step the keys are off while typing; the hint says so.
    let id = session_of(&call.body);
    let seq = call.field("seq");
    let input = ann
        .post(
            &format!("/agent/s/{id}/answer"),
            &[("seq", &seq), ("answer", "yes")],
        )
        .await;
    input
        .assert_has("lang=\"nl\">Wat is de modelnaam?</h1>")
        .assert_has("Solange Sie im Feld tippen, sind die Tasten aus. Mit Esc verlassen Sie das Feld; dann geht b zurück");
}

#[tokio::test]
async fn the_signin_page_shows_the_command_as_code_in_every_language() {
    let app = app().await;
    let mut b = Browser::new(&app);
    for lang in ["en", "nl", "de", "et", "ru"] {
        let page = b.get(&format!("/signin?lang={lang}")).await;
        page.assert_status(200)
            .assert_has(&format!("lang=\"{lang}\""))
            .assert_has("<code>fixpath user add</code>");
        assert!(!page.body.contains('`'), "{lang}: a literal backtick");
        assert!(!page.body.contains("{command}"), "{lang}");
    }
}

#[tokio::test]
async fn the_author_page_shows_a_refused_version_as_refused_and_no_server_paths() {
    let app = app().await;
    staff(&app, "ada", Role::Author, "pw-ada-123").await;
    let mut ada = Browser::new(&app);
    ada.get("/signin").await;
    ada.post(
        "/signin",
        &[("name", "ada"), ("password", "pw-ada-123"), ("next", "")],
    )
    .await;
    let scripts = app.dir().join("scripts");
    // Where the server keeps the scripts, as a page would print it (HTML
    // escaping writes `/` as `&#x2f;`).
    let server_path = scripts.to_string_lossy().replace('/', "&#x2f;");
    let home = ada.get("/author").await;
    // The test scripts have one warning (FP102 on `instant`).
    home.assert_status(200)
        .assert_has("printer.yaml")
        .assert_has("Problems found: 1 (as <code>fixpath lint</code> prints them):")
        .assert_has("status status-resolved");
    assert!(!home.body.contains("1 problems"));
    assert!(
        !home.body.contains(&server_path),
        "the scripts folder's place on the server shows:\n{}",
        home.body
    );
    let script = ada.get("/author/scripts/printer").await;
    script.assert_status(200).assert_has("printer.yaml");
    assert!(!script.body.contains(&server_path), "{}", script.body);

    // A broken file: the new version is refused.
    std::fs::write(
        scripts.join("broken.yaml"),
        "id: broken\ntitle: Broken\nnodes:\n  a:\n    ask: What?\n    answers:\n      - X: nowhere\n",
    )
    .unwrap();
    let report = app.state.library.reload(&*app.store).await.unwrap();
    assert!(!report.published);
    for lang in ["en", "nl", "de", "et", "ru"] {
        let home = ada.get(&format!("/author?lang={lang}")).await;
        home.assert_status(200)
            .assert_has("status status-refused")
            .assert_has("<code>fixpath lint</code>")
            .assert_has("broken.yaml");
        assert!(!home.body.contains("status-open"), "{lang}");
        // The diagnostics quote ids in backticks as `fixpath lint` does; the
        // page's own words do not.
        let words = home.body.split("<pre").next().unwrap_or_default();
        assert!(!words.contains('`'), "{lang}: a literal backtick");
        assert!(
            !home.body.contains(&server_path),
            "{lang}: the scripts folder's place on the server shows"
        );
    }
    let home = ada.get("/author?lang=en").await;
    home.assert_has("Problems found: 2 (as <code>fixpath lint</code> prints them):");
    let start = home.body.find("<h1>").unwrap_or(0);
    let end = home.body.find("</section>").unwrap_or(home.body.len());
    let when = Regex::new(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC").unwrap();
    let part = when.replace_all(&home.body[start..end], "[read at]");
    insta::assert_snapshot!("author_refused", redact(&part));
}

#[tokio::test]
async fn a_too_long_value_or_note_in_the_wizard_is_a_friendly_413() {
    let app = app().await;
    let mut customer = Browser::new(&app);
    customer.get("/").await;
    let step = customer.post("/start", &[("script", "printer")]).await;
    let id = session_of(&step.body);
    let seq = step.field("seq");
    let model = customer
        .post(
            &format!("/s/{id}/answer"),
            &[("seq", &seq), ("answer", "yes")],
        )
        .await;
    model.assert_has("What is the model name?");
    let seq = model.field("seq");
    let long = "L".repeat(4001);
    let refused = customer
        .post(
            &format!("/s/{id}/answer"),
            &[("seq", &seq), ("value", &long)],
        )
        .await;
    refused
        .assert_status(413)
        .assert_has("What you sent is too long.");
    let note = "n".repeat(4097);
    let refused = customer
        .post(
            &format!("/s/{id}/escalate"),
            &[("seq", &seq), ("note", &note)],
        )
        .await;
    refused
        .assert_status(413)
        .assert_has("What you sent is too long.");
    // Nothing was stored by either.
    let stored = app.store.session(&id).await.unwrap().unwrap();
    assert_eq!(stored.state.status, fixpath::engine::Status::Active);
    assert_eq!(stored.state.trail.len(), 1);
}

#[tokio::test]
async fn over_tls_cookies_are_prefixed_and_a_bare_one_is_not_trusted() {
    let app = app().await;
    let mut b = Browser::new(&app);
    let https = |req: reqwest::RequestBuilder| req.header("x-forwarded-proto", "https");
    let list = b.send(https(b.client.get(format!("{}/", b.base)))).await;
    list.assert_status(200);
    let set: Vec<String> = list
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    let csrf_cookie = set
        .iter()
        .find(|c| c.starts_with("__Host-fp_csrf="))
        .unwrap_or_else(|| panic!("no __Host- CSRF cookie: {set:?}"));
    assert!(
        csrf_cookie.contains("Path=/;") && csrf_cookie.contains("Secure"),
        "{csrf_cookie}"
    );
    let csrf = b.jar["__Host-fp_csrf"].clone();
    // The prefixed cookie is read back: the form goes through, and the
    // session's cookie is `__Secure-` (its path is the session's).
    let start = https(b.client.post(format!("{}/start", b.base)))
        .form(&[("csrf", csrf.as_str()), ("script", "printer")]);
    let started = b.send(start).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.body);
    let session_cookie = started
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Secure-fp_session="))
        .expect("a __Secure- session cookie");
    assert!(session_cookie.contains("Secure"), "{session_cookie}");
    let path = started.location().unwrap();
    let step = b
        .send(https(b.client.get(format!("{}{path}", b.base))))
        .await;
    step.assert_status(200)
        .assert_has("Is there paper in the tray?");

    // Over TLS a bare `fp_csrf` (planted by a neighbouring subdomain or a
    // plain-HTTP page) counts for nothing.
    let planted = "p".repeat(43);
    let req = https(b.client.post(format!("{}/start", b.base)))
        .header("cookie", format!("fp_csrf={planted}"))
        .form(&[("csrf", planted.as_str()), ("script", "printer")]);
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// A customer-facing input with the author's `hint` and `invalid` texts.
const SERIAL_HINT: (&str, &str) = (
    "serial.yaml",
    r#"id: serial
title: Serial number
vars: { device: router }
nodes:
  serial:
    input: What is the serial number?
    into: serial
    pattern: "^[A-Z0-9]{8}$"
    hint: "Eight letters and digits, on the bottom of the {{ device }}."
    invalid: "That is not it: the serial has exactly eight letters and digits."
    next: done
  done:
    resolve: Thank you
"#,
);

#[tokio::test]
async fn input_pages_show_the_authors_hint_and_their_words_for_a_refused_value() {
    let mut files = scripts();
    files.push(SERIAL_HINT);
    let app = TestApp::start_with_scripts(HttpConfig::default(), &files, |r, _| r).await;
    let hint = "Eight letters and digits, on the bottom of the router.";
    let invalid = "That is not it: the serial has exactly eight letters and digits.";

    // The wizard: the hint under the field, the author's words on a refusal.
    let mut customer = Browser::new(&app);
    customer.get("/").await;
    let csrf = customer.jar["fp_csrf"].clone();
    let step = customer
        .post_raw("/start", &[("csrf", &csrf), ("script", "serial")])
        .await;
    step.assert_status(200).assert_has(hint);
    assert!(!step.body.contains(invalid), "shown only on a refusal");
    let id = session_of(&step.body);
    let seq = step.field("seq");
    let refused = customer
        .post(
            &format!("/s/{id}/answer"),
            &[("seq", &seq), ("value", "abc")],
        )
        .await;
    refused
        .assert_status(422)
        .assert_has(hint)
        .assert_has(invalid);
    assert!(
        !refused.body.contains("expected form"),
        "the author's words replace the generic error"
    );
    insta::assert_snapshot!("wizard_step_invalid", redact(&refused.body));

    // Without `invalid`, the generic words stay (the printer's model input
    // has none).
    let step = customer
        .post_raw("/start", &[("csrf", &csrf), ("script", "wifi")])
        .await;
    let wid = session_of(&step.body);
    let seq = step.field("seq");
    let serial = customer
        .post(
            &format!("/s/{wid}/answer"),
            &[("seq", &seq), ("answer", "yes")],
        )
        .await;
    let seq = serial.field("seq");
    let generic = customer
        .post(
            &format!("/s/{wid}/answer"),
            &[("seq", &seq), ("value", "abc")],
        )
        .await;
    generic.assert_status(422);
    assert!(!generic.body.contains(invalid));

    // The console: the same hint, and the author's words for the agent.
    staff(&app, "ann", Role::Agent, "pw-ann-123").await;
    let mut ann = Browser::new(&app);
    ann.get("/agent").await;
    ann.post(
        "/signin",
        &[
            ("name", "ann"),
            ("password", "pw-ann-123"),
            ("next", "/agent"),
        ],
    )
    .await;
    let call = ann
        .post(
            "/agent/start",
            &[
                ("script", "serial"),
                ("customer", ""),
                ("ticket", ""),
                ("language", ""),
            ],
        )
        .await;
    call.assert_status(200).assert_has(hint);
    let cid = session_of(&call.body);
    let seq = call.field("seq");
    let bad = ann
        .post(
            &format!("/agent/s/{cid}/answer"),
            &[("seq", &seq), ("value", "nope")],
        )
        .await;
    bad.assert_status(422).assert_has(hint).assert_has(invalid);
}

#[tokio::test]
async fn a_text_over_the_render_bounds_hands_the_customer_to_a_person() {
    // The template of issue 12 as the first question of a customer script.
    let mut files = scripts();
    files.push((
        "hostile.yaml",
        "id: hostile\ntitle: Hostile\nnodes:\n  a:\n    ask: \"{% for c in 'x'*20000 %}{{ 'y'*1000000 }}{% endfor %}\"\n    answers:\n      - Yes: { resolve: done }\n",
    ));
    let app = TestApp::start_with_scripts(HttpConfig::default(), &files, |r, _| r).await;
    let mut b = Browser::new(&app);
    b.get("/").await;
    let started = std::time::Instant::now();
    let page = b.post("/start", &[("script", "hostile")]).await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    page.assert_status(200)
        .assert_has("A person will help you further");
    let queued = app
        .store
        .escalations(&fixpath::store::EscalationFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .expect("the queue reads")
        .items;
    assert_eq!(queued.len(), 1);
    assert!(
        queued[0]
            .record
            .reason
            .starts_with("This step could not be shown"),
        "{}",
        queued[0].record.reason
    );
}
/// The example library, as shipped in `scripts/`.
fn example_scripts() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .filter(|p| !p.to_string_lossy().ends_with(".test.yaml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// The titles of the wizard list's cards, in the order shown.
fn card_titles(body: &str) -> Vec<String> {
    body.split("<h2 class=\"card-title\">")
        .skip(1)
        .filter_map(|s| s.split("</h2>").next())
        .map(|s| s.to_owned())
        .collect()
}

#[tokio::test]
async fn the_wizard_search_finds_what_people_type_best_first_in_their_language() {
    let files = example_scripts();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let app = TestApp::start_with_scripts(HttpConfig::default(), &refs, |r, _| r).await;
    let mut customer = Browser::new(&app);

    let found = customer.get("/?q=my+internet+does+not+work").await;
    found.assert_status(200);
    assert_eq!(
        card_titles(&found.body).first().map(String::as_str),
        Some("Router has no internet")
    );

    let found = customer.get("/?q=forgot+password").await;
    assert_eq!(
        card_titles(&found.body).first().map(String::as_str),
        Some("Password reset or locked account")
    );

    // A Russian customer: the title comes back in Russian.
    customer.language = Some("ru".into());
    let found = customer
        .get("/?q=%D0%BF%D0%B0%D1%80%D0%BE%D0%BB%D1%8C")
        .await;
    assert_eq!(
        card_titles(&found.body).first().map(String::as_str),
        Some("Сброс пароля или заблокированная учётная запись"),
        "«пароль»"
    );
    insta::assert_snapshot!("wizard_search_ru", redact(&found.body));
    customer.language = None;

    let nothing = customer.get("/?q=xylophone+banana").await;
    nothing.assert_status(200);
    assert_eq!(card_titles(&nothing.body), Vec::<String>::new());

    // A query of any length is answered, read up to its first 200 characters.
    let long = format!("/?q={}", "printer+".repeat(5_000));
    let found = customer.get(&long).await;
    found.assert_status(200);
    assert_eq!(
        card_titles(&found.body).first().map(String::as_str),
        Some("Printer does not print")
    );

    // No query: every customer-facing script, by title.
    let all = card_titles(&customer.get("/").await.body);
    assert_eq!(all.len(), 9, "{all:?}");
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
}

/// A session started through the API has no reference until its case: its
/// wizard pages (reached by the resume link) show no empty "Your reference".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_session_in_the_wizard_shows_no_empty_reference() {
    let app = app().await;
    let (id, token, _) = app
        .start_session(
            None,
            &serde_json::json!({"script": "wifi", "channel": "customer"}),
        )
        .await;
    let mut b = Browser::new(&app);
    b.get(&format!("/s/{id}?t={token}")).await;
    let page = b.get(&format!("/s/{id}/check")).await;
    page.assert_status(200);
    assert!(!page.body.contains("Your reference"), "{}", page.body);
    assert!(!page.body.contains(r#"class="reference"></strong>"#));
}
