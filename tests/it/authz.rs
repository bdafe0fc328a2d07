//! The authorization matrix (issue 18): every route the server serves ×
//! eleven callers, the status each cell must answer written once, in
//! [`TABLE`].
//!
//! The routes come from the code, not from this file: the API's
//! `api::route_list()` and the paths of its OpenAPI document, the pages'
//! `web::route_list()` (each page module declares its routes once, on the
//! `Pages` list the router is built from) and the operators'
//! `server::ops::route_list()`. A served route without a row fails
//! [`every_served_route_has_a_row`], naming it; so does a row whose route
//! is no longer served, and a route with two rows. The API's rows must also
//! agree with the OpenAPI document (its `security` and documented
//! responses): [`the_api_rows_agree_with_the_openapi_document`].
//!
//! The callers, the table's columns in this order:
//!
//! | column  | who                                                          |
//! |---------|--------------------------------------------------------------|
//! | `none`  | no token, no sign-in                                         |
//! | `own`   | the token of the session the route names (of a shared session where it names none) |
//! | `other` | the token of another session                                 |
//! | `agent` | an agent (tier 1)                                            |
//! | `sp2`…`sp4` | a specialist of tier 2, 3, 4                             |
//! | `auth`  | an author                                                    |
//! | `admin` | an admin                                                     |
//! | `dis`   | an admin who was signed in, then disabled                    |
//! | `rev`   | an admin who was signed in, then had every token revoked     |
//!
//! How they call: the API (and `/healthz`, `/metrics`) with
//! `Authorization: Bearer …` (a customer's session token or a staff API
//! token); the pages as a browser does, with cookies: the staff signed in
//! through `POST /signin` send the `fp_staff` cookie it set, a customer the
//! session's `fp_session` cookie. Every page request carries the same CSRF
//! cookie and every form post its field, as any visitor's browser would:
//! a refusal here is about who calls, never about CSRF (that is `web.rs`'s
//! and `adminpage.rs`'s).
//!
//! A cell is the status, or [`SI`]: a 303 to `/signin?next=…` (a staff page
//! sends whoever is not signed in to sign in). Every cell runs on ids of its
//! own (a fresh session or case per cell, see [`Fix`]), so one caller's
//! claim or answer never changes what the next one gets; bodies are minimal
//! and valid, so an allowed caller gets 200/201/303, not a 4xx about the
//! body. When cells differ, the failure lists every differing cell with
//! what it got.
//!
//! ## Adding a route
//!
//! 1. Declare it where its surface declares routes: `api::table()` (and
//!    the OpenAPI document), a page module's `routes()`, or
//!    `server::ops::table()`.
//! 2. Add its row to [`TABLE`]: method, pattern as declared, the fixture
//!    whose id fills `{id}` (and `{seq}`, `{ref}` in the body), a minimal
//!    valid body, and the eleven statuses **as the contract says** (section
//!    9's "who" column, the tier rule of section 10), not as the code
//!    happens to answer.
//! 3. `cargo test --test it authz::` (SQLite; a few seconds).
//!
//! A new kind of caller is a column: a [`Caller`], its place in
//! [`CALLERS`], and a status for it in every row.

use crate::brand::{LOGO_PNG, brand};
use crate::common::{SCRIPTS, TestApp};

use fixpath::http::HttpConfig;
use fixpath::http::auth::{STAFF_PREFIX, mint_token};
use fixpath::http::limits::Rate;
use fixpath::store::{NewUser, Role, User};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A 303 to `/signin?next=…`.
const SI: u16 = 1;

/// What a row's `{id}` (and its body's `{seq}`, `{ref}`) are made from,
/// afresh for every cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fix {
    /// No id; `own` is a shared session's token.
    Nothing,
    /// An active customer session of `wifi`, at its first question, with a
    /// reference (for the console's takeover).
    Active,
    /// The same, one answer in (so there is a step to go back from).
    Answered,
    /// A `wifi` session the script resolved (there is something to rate).
    Solved,
    /// A case at tier 3 (an `instant` session's escalation, sent up by an
    /// admin): `{id}` is the case's id, `own` its session's token.
    Case,
    /// The same case, `{id}` its session's id.
    CaseSession,
    /// `{id}` is the script `wifi`.
    Script,
    /// No id; runs after every other row, as it ends the caller's sign-in.
    Last,
}

struct Row {
    method: &'static str,
    path: &'static str,
    fix: Fix,
    /// JSON for the API, a form (without its CSRF field) for the pages;
    /// `{seq}`, `{ref}`, `{n}` (a number of the cell's own) and `{c}` (the
    /// caller's column: a row's cells run at once) filled in.
    body: &'static str,
    want: [u16; 11],
}

const fn row(
    method: &'static str,
    path: &'static str,
    fix: Fix,
    body: &'static str,
    want: [u16; 11],
) -> Row {
    Row {
        method,
        path,
        fix,
        body,
        want,
    }
}

use Fix::*;

/// Every route × every caller. Columns: none, own, other, agent, sp2, sp3,
/// sp4, auth, admin, dis, rev (see the module's comment).
#[rustfmt::skip]
const TABLE: &[Row] = &[
    // The API (sections 9 and 10). Public: the token is not read.
    //  method  route                                  fixture      body                                               none own  othr agnt sp2  sp3  sp4  auth admn dis  rev
    row("GET",  "/api/openapi.json",                   Nothing,     "",                                                [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET",  "/api/v1/scripts",                     Nothing,     "",                                                [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    // Anyone starts a customer session; a token that is read must be valid.
    row("POST", "/api/v1/sessions",                    Nothing,     r#"{"script":"wifi","channel":"customer"}"#,       [201, 201, 201, 201, 201, 201, 201, 201, 201, 401, 401]),
    // A session: its token, or staff; another session's token finds nothing.
    row("GET",  "/api/v1/sessions/{id}",               Active,      "",                                                [401, 200, 404, 200, 200, 200, 200, 200, 200, 401, 401]),
    row("POST", "/api/v1/sessions/{id}/answer",        Active,      r#"{"seq":{seq},"answer":"yes"}"#,                 [401, 200, 404, 200, 200, 200, 200, 200, 200, 401, 401]),
    row("POST", "/api/v1/sessions/{id}/back",          Answered,    r#"{"seq":{seq}}"#,                                [401, 200, 404, 200, 200, 200, 200, 200, 200, 401, 401]),
    row("POST", "/api/v1/sessions/{id}/escalate",      Active,      r#"{"seq":{seq}}"#,                                [401, 200, 404, 200, 200, 200, 200, 200, 200, 401, 401]),
    // The customer's own voice: staff reply and never rate.
    row("POST", "/api/v1/sessions/{id}/message",       CaseSession, r#"{"text":"hello"}"#,                             [401, 200, 404, 403, 403, 403, 403, 403, 403, 401, 401]),
    row("POST", "/api/v1/sessions/{id}/feedback",      Solved,      r#"{"score":5}"#,                                  [401, 201, 404, 403, 403, 403, 403, 403, 403, 401, 401]),
    // The queue: specialists and admins; a tier-3 case is not there for tier 2.
    row("GET",  "/api/v1/escalations",                 Nothing,     "",                                                [401, 403, 403, 403, 200, 200, 200, 403, 200, 401, 401]),
    row("GET",  "/api/v1/escalations/{id}",            Case,        "",                                                [401, 403, 403, 403, 404, 200, 200, 403, 200, 401, 401]),
    row("POST", "/api/v1/escalations/{id}/claim",      Case,        "{}",                                              [401, 403, 403, 403, 404, 200, 200, 403, 200, 401, 401]),
    row("POST", "/api/v1/escalations/{id}/note",       Case,        r#"{"text":"checked the line"}"#,                  [401, 403, 403, 403, 404, 200, 200, 403, 200, 401, 401]),
    row("POST", "/api/v1/escalations/{id}/reply",      Case,        r#"{"text":"we are on it"}"#,                      [401, 403, 403, 403, 404, 200, 200, 403, 200, 401, 401]),
    row("POST", "/api/v1/escalations/{id}/resolve",    Case,        r#"{"resolution":"fixed"}"#,                       [401, 403, 403, 403, 404, 200, 200, 403, 200, 401, 401]),
    row("POST", "/api/v1/escalations/{id}/escalate",   Case,        r#"{"note":"needs tier 4"}"#,                      [401, 403, 403, 403, 404, 200, 200, 403, 200, 401, 401]),
    // Authors and admins.
    row("GET",  "/api/v1/author/report",               Nothing,     "",                                                [401, 403, 403, 403, 403, 403, 403, 200, 200, 401, 401]),
    row("GET",  "/api/v1/stats",                       Nothing,     "",                                                [401, 403, 403, 403, 403, 403, 403, 200, 200, 401, 401]),

    // The operators' routes: for the load balancer and Prometheus, no
    // token (keep them off the public side at the proxy).
    row("GET",  "/healthz",                            Nothing,     "",                                                [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET",  "/metrics",                            Nothing,     "",                                                [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),

    // The customer pages (section 10): open to anyone; a session's pages
    // open with its cookie only (staff use the console), and a missing or
    // wrong one is the same 404 as an unknown session.
    row("GET",  "/",                                   Nothing,     "",                                                [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("POST", "/start",                              Nothing,     "script=wifi",                                     [303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303]),
    row("GET",  "/s/{id}",                             Active,      "",                                                [404, 200, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    row("POST", "/s/{id}/answer",                      Active,      "seq={seq}&answer=yes",                            [404, 303, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    row("POST", "/s/{id}/back",                        Answered,    "seq={seq}",                                       [404, 303, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    row("GET",  "/s/{id}/check",                       Active,      "",                                                [404, 200, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    row("POST", "/s/{id}/escalate",                    Active,      "seq={seq}",                                       [404, 303, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    row("POST", "/s/{id}/language",                    Active,      "seq={seq}&lang=en",                               [404, 303, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    row("POST", "/s/{id}/keep",                        Active,      "seq={seq}",                                       [404, 303, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    row("POST", "/s/{id}/message",                     CaseSession, "text=hello",                                      [404, 303, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    row("POST", "/s/{id}/feedback",                    Solved,      "score=5",                                         [404, 303, 404, 404, 404, 404, 404, 404, 404, 404, 404]),
    // Answers the same whoever asks, whatever exists.
    row("GET",  "/status",                             Nothing,     "",                                                [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("POST", "/status",                             Nothing,     "reference=ABCD-EFGH&email=someone%40example.com", [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),

    // The agent console: agents and admins.
    row("GET",  "/agent",                              Nothing,     "",                                                [SI,  SI,  SI,  200, 403, 403, 403, 403, 200, SI,  SI ]),
    row("POST", "/agent/start",                        Nothing,     "script=wifi",                                     [SI,  SI,  SI,  303, 403, 403, 403, 403, 303, SI,  SI ]),
    row("POST", "/agent/takeover",                     Active,      "reference={ref}",                                 [SI,  SI,  SI,  303, 403, 403, 403, 403, 303, SI,  SI ]),
    row("GET",  "/agent/s/{id}",                       Active,      "",                                                [SI,  SI,  SI,  200, 403, 403, 403, 403, 200, SI,  SI ]),
    row("POST", "/agent/s/{id}/answer",                Active,      "seq={seq}&answer=yes",                            [SI,  SI,  SI,  303, 403, 403, 403, 403, 303, SI,  SI ]),
    row("POST", "/agent/s/{id}/back",                  Answered,    "seq={seq}",                                       [SI,  SI,  SI,  303, 403, 403, 403, 403, 303, SI,  SI ]),
    row("POST", "/agent/s/{id}/escalate",              Active,      "seq={seq}",                                       [SI,  SI,  SI,  303, 403, 403, 403, 403, 303, SI,  SI ]),

    // The queue: specialists and admins, under the tier rule.
    row("GET",  "/queue",                              Nothing,     "",                                                [SI,  SI,  SI,  403, 200, 200, 200, 403, 200, SI,  SI ]),
    row("GET",  "/queue/{id}",                         Case,        "",                                                [SI,  SI,  SI,  403, 404, 200, 200, 403, 200, SI,  SI ]),
    row("POST", "/queue/{id}/claim",                   Case,        "",                                                [SI,  SI,  SI,  403, 404, 303, 303, 403, 303, SI,  SI ]),
    row("POST", "/queue/{id}/reply",                   Case,        "text=we+are+on+it",                               [SI,  SI,  SI,  403, 404, 303, 303, 403, 303, SI,  SI ]),
    row("POST", "/queue/{id}/note",                    Case,        "text=checked+the+line",                           [SI,  SI,  SI,  403, 404, 303, 303, 403, 303, SI,  SI ]),
    row("POST", "/queue/{id}/resolve",                 Case,        "text=fixed",                                      [SI,  SI,  SI,  403, 404, 303, 303, 403, 303, SI,  SI ]),
    row("POST", "/queue/{id}/escalate",                Case,        "note=needs+tier+4",                               [SI,  SI,  SI,  403, 404, 303, 303, 403, 303, SI,  SI ]),

    // Signing in and out: anyone (a sign-in lands on the user's own page,
    // a sign-out on the sign-in page).
    row("GET",  "/signin",                             Nothing,     "",                                                [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("POST", "/signin",                             Nothing,     "name=probe{c}&password=pw-authz-matrix&next=",    [303, 303, 303, 303, 303, 303, 303, 303, 303, 303, 303]),
    row("POST", "/signout",                            Last,        "",                                                [SI,  SI,  SI,  SI,  SI,  SI,  SI,  SI,  SI,  SI,  SI ]),

    // The authors' pages: authors and admins.
    row("GET",  "/author",                             Nothing,     "",                                                [SI,  SI,  SI,  403, 403, 403, 403, 200, 200, SI,  SI ]),
    row("GET",  "/author/scripts/{id}",                Script,      "",                                                [SI,  SI,  SI,  403, 403, 403, 403, 200, 200, SI,  SI ]),
    row("GET",  "/author/scripts/{id}/graph.svg",      Script,      "",                                                [SI,  SI,  SI,  403, 403, 403, 403, 200, 200, SI,  SI ]),

    // The users page: admins only (acting on `victim`, never a caller).
    row("GET",  "/admin/users",                        Nothing,     "",                                                [SI,  SI,  SI,  403, 403, 403, 403, 403, 200, SI,  SI ]),
    row("POST", "/admin/users",                        Nothing,     "name=new{n}&role=agent&password=pw-new-user-{n}", [SI,  SI,  SI,  403, 403, 403, 403, 403, 200, SI,  SI ]),
    row("POST", "/admin/users/password",               Nothing,     "name=victim&password=pw-victim-2",                [SI,  SI,  SI,  403, 403, 403, 403, 403, 303, SI,  SI ]),
    row("POST", "/admin/users/token",                  Nothing,     "name=victim",                                     [SI,  SI,  SI,  403, 403, 403, 403, 403, 200, SI,  SI ]),
    row("POST", "/admin/users/revoke",                 Nothing,     "name=victim",                                     [SI,  SI,  SI,  403, 403, 403, 403, 403, 303, SI,  SI ]),
    row("POST", "/admin/users/disable",                Nothing,     "name=victim",                                     [SI,  SI,  SI,  403, 403, 403, 403, 403, 303, SI,  SI ]),
    row("POST", "/admin/users/enable",                 Nothing,     "name=victim",                                     [SI,  SI,  SI,  403, 403, 403, 403, 403, 303, SI,  SI ]),

    // What every page loads: public.
    row("GET",  "/static/style.css",                   Nothing,     "",                                                [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET",  "/static/app.js",                      Nothing,     "",                                                [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET",  "/brand/logo",                         Nothing,     "",                                                [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
    row("GET",  "/brand/style.css",                    Nothing,     "",                                                [200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]),
];

/// The callers, in the table's column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Nobody,
    Own,
    Other,
    Agent,
    Spec2,
    Spec3,
    Spec4,
    Author,
    Admin,
    Disabled,
    Revoked,
}

const CALLERS: [Caller; 11] = [
    Caller::Nobody,
    Caller::Own,
    Caller::Other,
    Caller::Agent,
    Caller::Spec2,
    Caller::Spec3,
    Caller::Spec4,
    Caller::Author,
    Caller::Admin,
    Caller::Disabled,
    Caller::Revoked,
];

impl Caller {
    fn name(self) -> &'static str {
        match self {
            Caller::Nobody => "no token",
            Caller::Own => "the session's token",
            Caller::Other => "another session's token",
            Caller::Agent => "agent",
            Caller::Spec2 => "specialist tier 2",
            Caller::Spec3 => "specialist tier 3",
            Caller::Spec4 => "specialist tier 4",
            Caller::Author => "author",
            Caller::Admin => "admin",
            Caller::Disabled => "disabled user",
            Caller::Revoked => "revoked token",
        }
    }

    /// The staff user behind the caller: name, role, tier.
    fn user(self) -> Option<(&'static str, Role, u8)> {
        Some(match self {
            Caller::Nobody | Caller::Own | Caller::Other => return None,
            Caller::Agent => ("ann", Role::Agent, 1),
            Caller::Spec2 => ("sam2", Role::Specialist, 2),
            Caller::Spec3 => ("sam3", Role::Specialist, 3),
            Caller::Spec4 => ("sam4", Role::Specialist, 4),
            Caller::Author => ("aut", Role::Author, 1),
            Caller::Admin => ("ada", Role::Admin, 4),
            Caller::Disabled => ("dis", Role::Admin, 4),
            Caller::Revoked => ("rev", Role::Admin, 4),
        })
    }
}

fn shown(code: u16) -> String {
    match code {
        SI => "303 to /signin".into(),
        c => c.to_string(),
    }
}

// ---------------------------------------------------------------------------
// The coverage check.

/// `(METHOD, PATH)` of every route the code serves.
fn served_routes() -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = Vec::new();
    let mut add = |m: &str, p: &str| {
        let r = (m.to_uppercase(), p.to_owned());
        if !all.contains(&r) {
            all.push(r);
        }
    };
    for (m, p) in fixpath::http::api::route_list() {
        add(m.as_str(), p);
    }
    let doc: Json = serde_json::from_str(fixpath::http::api::OPENAPI).unwrap();
    let methods = ["get", "post", "put", "patch", "delete"];
    for (path, item) in doc["paths"].as_object().expect("the OpenAPI paths") {
        for m in item.as_object().unwrap().keys() {
            if methods.contains(&m.as_str()) {
                add(m, path);
            }
        }
    }
    for (m, p) in fixpath::http::web::route_list() {
        add(m.as_str(), p);
    }
    for (m, p) in fixpath::server::ops::route_list() {
        add(m.as_str(), p);
    }
    all
}

#[test]
fn every_served_route_has_a_row() {
    let served = served_routes();
    let mut problems = Vec::new();
    for (m, p) in &served {
        if !TABLE.iter().any(|r| r.method == m && r.path == p) {
            problems.push(format!(
                "{m} {p} is served but has no row in authz::TABLE: add one (see the module's comment)"
            ));
        }
    }
    for (i, r) in TABLE.iter().enumerate() {
        if !served.iter().any(|(m, p)| r.method == m && r.path == p) {
            problems.push(format!(
                "{} {} has a row in authz::TABLE but is not served: remove the row",
                r.method, r.path
            ));
        }
        if TABLE[..i]
            .iter()
            .any(|o| o.method == r.method && o.path == r.path)
        {
            problems.push(format!("{} {} has two rows", r.method, r.path));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
    // The list is not empty by accident (a route list that lost a surface).
    assert!(served.iter().any(|(_, p)| p.starts_with("/api/v1/")));
    assert!(served.iter().any(|(_, p)| p == "/queue"));
    assert!(served.iter().any(|(_, p)| p == "/healthz"));
}

/// The API's rows say what the OpenAPI document says: each expected status
/// is one it documents for the call, and who may call (its `security`:
/// `{}` for anyone, `sessionToken`, `staffToken`) is who the row lets in.
#[test]
fn the_api_rows_agree_with_the_openapi_document() {
    let doc: Json = serde_json::from_str(fixpath::http::api::OPENAPI).unwrap();
    let ok = |code: u16| (200..300).contains(&code);
    let mut problems = Vec::new();
    for r in TABLE.iter().filter(|r| r.path.starts_with("/api/")) {
        let op = &doc["paths"][r.path][r.method.to_lowercase()];
        let documented = op["responses"].as_object().expect("responses");
        for (caller, want) in CALLERS.iter().zip(r.want) {
            if !documented.contains_key(&want.to_string()) {
                problems.push(format!(
                    "{} {} as {}: {} is not a documented response",
                    r.method,
                    r.path,
                    caller.name(),
                    shown(want)
                ));
            }
        }
        let security: Vec<String> = op["security"]
            .as_array()
            .expect("each call names its security")
            .iter()
            .map(|s| match s.as_object().and_then(|o| o.keys().next()) {
                Some(k) => k.clone(),
                None => "anyone".into(),
            })
            .collect();
        // A call open to anyone is open to every token's holder too.
        let lets_in = |who: &str| security.iter().any(|s| s == who || s == "anyone");
        let mut check = |who: &str, allowed: bool| {
            if lets_in(who) != allowed {
                problems.push(format!(
                    "{} {}: the document {} `{who}`, the row {}",
                    r.method,
                    r.path,
                    if lets_in(who) {
                        "lets in"
                    } else {
                        "does not let in"
                    },
                    if allowed { "does" } else { "does not" }
                ));
            }
        };
        let cell = |c: Caller| r.want[CALLERS.iter().position(|&k| k == c).unwrap()];
        check("anyone", ok(cell(Caller::Nobody)));
        check("sessionToken", ok(cell(Caller::Own)));
        let working_staff = CALLERS
            .into_iter()
            .filter(|c| c.user().is_some() && ![Caller::Disabled, Caller::Revoked].contains(c));
        check("staffToken", working_staff.into_iter().any(|c| ok(cell(c))));
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------
// The matrix.

/// The password of every user here.
const PASSWORD: &str = "pw-authz-matrix";
/// The CSRF token every page request carries (cookie and field).
const CSRF: &str = "authz-matrix-csrf-token-0123456789abcdefghij";

/// An Argon2id hash of `password` with the least cost: the server checks
/// a password with the parameters its hash names, so thirty sign-ins take
/// no time in a debug build (the default costs most of a second each).
fn cheap_hash(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(8, 1, 1, None).unwrap();
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"authz-matrix-salt").unwrap();
    argon
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string()
}

/// A cell's ids.
struct Made {
    id: String,
    /// The session's token (`own`).
    token: String,
    seq: u64,
    reference: String,
}

struct World {
    app: TestApp,
    /// Follows no redirect: a 303 is an answer.
    client: reqwest::Client,
    /// An admin outside the matrix, who makes the fixtures.
    setup: String,
    /// Each staff caller's API token and sign-in cookie, by name.
    api: BTreeMap<&'static str, String>,
    cookie: BTreeMap<&'static str, String>,
    /// `own` where a route names no session, and `other` everywhere.
    home: Made,
    stranger: Made,
    counter: AtomicUsize,
}

impl World {
    async fn new() -> World {
        let lots = Rate {
            per_minute: 100_000,
            burst: 100_000,
        };
        let mut config = HttpConfig {
            brand: Arc::new(brand(LOGO_PNG, &[])),
            ..HttpConfig::default()
        };
        // The matrix is about who calls, not how often.
        config.limits.signin = lots;
        config.limits.session_start = lots;
        config.limits.status_lookup = lots;
        let app = TestApp::start_with_scripts(config, SCRIPTS, |r, mut state| {
            state.metrics = Some(fixpath::server::ops::metrics_handle());
            r.merge(fixpath::server::ops::routes(state))
        })
        .await;
        let hash = cheap_hash(PASSWORD);
        let store = app.store.clone();
        let person = |name: &'static str, role: Role, tier: u8| {
            let token = mint_token(STAFF_PREFIX).unwrap();
            let new = NewUser {
                user: User {
                    name: name.into(),
                    role,
                    tier,
                },
                password_hash: Some(hash.clone()),
                token_hash: token.hash,
            };
            let store = store.clone();
            async move {
                store.create_user(&new).await.unwrap();
                token.plain
            }
        };
        let setup = person("setup", Role::Admin, 4).await;
        // The sign-in row signs in one of these per caller (at once: a name's
        // sign-ins are counted).
        const PROBES: [&str; 11] = [
            "probe0", "probe1", "probe2", "probe3", "probe4", "probe5", "probe6", "probe7",
            "probe8", "probe9", "probe10",
        ];
        for name in PROBES {
            person(name, Role::Agent, 1).await;
        }
        person("victim", Role::Agent, 1).await;
        let mut world = World {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            setup,
            api: BTreeMap::new(),
            cookie: BTreeMap::new(),
            home: Made::none(),
            stranger: Made::none(),
            counter: AtomicUsize::new(0),
            app,
        };
        for caller in CALLERS {
            let Some((name, role, tier)) = caller.user() else {
                continue;
            };
            let token = person(name, role, tier).await;
            world.api.insert(name, token);
            let cookie = world.sign_in(name).await;
            world.cookie.insert(name, cookie);
        }
        world.home = world.fixture(Fix::Active).await;
        world.stranger = world.fixture(Fix::Active).await;

        // Both work before they are taken away, so their refusals below
        // are the disabling's and the revoking's.
        for name in ["dis", "rev"] {
            let api = world.api_get("/api/v1/stats", &world.api[name]).await;
            assert_eq!(api, 200, "{name}'s API token works");
            let page = world.page_get("/admin/users", &world.cookie[name]).await;
            assert_eq!(page, 200, "{name}'s sign-in works");
        }
        assert!(world.app.store.set_disabled("dis", true).await.unwrap());
        assert!(world.app.store.revoke_tokens("rev").await.unwrap() >= 2);
        world
    }

    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }

    /// Signs `name` in through the sign-in form; the `fp_staff` cookie.
    async fn sign_in(&self, name: &str) -> String {
        let res = self
            .client
            .post(self.app.url("/signin"))
            .header(COOKIE, format!("fp_csrf={CSRF}"))
            .form(&[
                ("csrf", CSRF),
                ("name", name),
                ("password", PASSWORD),
                ("next", ""),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 303, "{name} signs in");
        res.headers()
            .get_all(SET_COOKIE)
            .iter()
            .filter_map(|c| c.to_str().ok())
            .find_map(|c| c.strip_prefix("fp_staff="))
            .and_then(|c| c.split(';').next())
            .unwrap_or_else(|| panic!("{name}'s sign-in sets a cookie"))
            .to_owned()
    }

    async fn api_get(&self, path: &str, token: &str) -> u16 {
        let res = self.client.get(self.app.url(path)).bearer_auth(token);
        res.send().await.unwrap().status().as_u16()
    }

    async fn page_get(&self, path: &str, cookie: &str) -> u16 {
        let res = self
            .client
            .get(self.app.url(path))
            .header(COOKIE, format!("fp_staff={cookie}"));
        res.send().await.unwrap().status().as_u16()
    }

    /// A call of the fixtures' admin; its JSON body.
    async fn setup_call(&self, path: &str, body: Json) -> Json {
        let res = self.app.post(path, Some(&self.setup), &body).await;
        assert!(res.status.is_success(), "{path}: {}", res.text);
        res.body
    }

    async fn start(&self, script: &str) -> Made {
        let n = self.next();
        let reference = format!("AUTHZ-{n}");
        let body = self
            .setup_call(
                "/api/v1/sessions",
                serde_json::json!({
                    "script": script, "channel": "customer", "reference": reference,
                }),
            )
            .await;
        Made {
            id: body["id"].as_str().unwrap().to_owned(),
            token: body["token"].as_str().unwrap().to_owned(),
            seq: body["step"]["seq"].as_u64().unwrap_or(0),
            reference,
        }
    }

    async fn answer(&self, made: &mut Made, answer: &str) {
        let path = format!("/api/v1/sessions/{}/answer", made.id);
        let body = self
            .setup_call(
                &path,
                serde_json::json!({"seq": made.seq, "answer": answer}),
            )
            .await;
        made.seq = body["step"]["seq"].as_u64().unwrap_or(0);
    }

    async fn fixture(&self, fix: Fix) -> Made {
        match fix {
            Fix::Nothing | Fix::Last => Made {
                token: self.home.token.clone(),
                ..Made::none()
            },
            Fix::Script => Made {
                id: "wifi".into(),
                token: self.home.token.clone(),
                ..Made::none()
            },
            Fix::Active => self.start("wifi").await,
            Fix::Answered => {
                let mut made = self.start("wifi").await;
                self.answer(&mut made, "yes").await;
                made
            }
            Fix::Solved => {
                let mut made = self.start("wifi").await;
                self.answer(&mut made, "no").await;
                made
            }
            Fix::Case | Fix::CaseSession => {
                let made = self.start("instant").await;
                let case = format!("esc_{}", made.id.trim_start_matches("ses_"));
                let case_ = self
                    .setup_call(
                        &format!("/api/v1/escalations/{case}/escalate"),
                        serde_json::json!({"tier": 3, "note": "for the tier rows"}),
                    )
                    .await;
                assert_eq!(case_["tier"], 3);
                match fix {
                    Fix::Case => Made { id: case, ..made },
                    _ => made,
                }
            }
        }
    }

    /// One cell: the status (or [`SI`]) and the start of the body.
    async fn call(&self, row: &Row, column: usize, caller: Caller) -> (u16, String) {
        let made = self.fixture(row.fix).await;
        let n = self.next();
        let path = row.path.replace("{id}", &made.id);
        let body = row
            .body
            .replace("{seq}", &made.seq.to_string())
            .replace("{ref}", &made.reference)
            .replace("{n}", &n.to_string())
            .replace("{c}", &column.to_string());
        let method = reqwest::Method::from_bytes(row.method.as_bytes()).unwrap();
        let mut req = self.client.request(method.clone(), self.app.url(&path));
        let bearer = row.path.starts_with("/api/")
            || fixpath::server::ops::route_list()
                .iter()
                .any(|(_, p)| *p == row.path);
        let session_token = match caller {
            Caller::Own => Some(&made.token),
            Caller::Other => Some(&self.stranger.token),
            _ => None,
        };
        let staff = caller.user().map(|(name, _, _)| name);
        if bearer {
            let token = session_token.or_else(|| staff.map(|s| &self.api[s]));
            if let Some(t) = token {
                req = req.header(AUTHORIZATION, format!("Bearer {t}"));
            }
            if method == reqwest::Method::POST {
                req = req.header(CONTENT_TYPE, "application/json").body(body);
            }
        } else {
            let mut cookies = vec![format!("fp_csrf={CSRF}")];
            if let Some(t) = session_token {
                cookies.push(format!("fp_session={t}"));
            }
            if let Some(s) = staff {
                cookies.push(format!("fp_staff={}", self.cookie[s]));
            }
            req = req.header(COOKIE, cookies.join("; "));
            if method == reqwest::Method::POST {
                let form = match body.as_str() {
                    "" => format!("csrf={CSRF}"),
                    b => format!("csrf={CSRF}&{b}"),
                };
                req = req
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(form);
            }
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let to_signin = res
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .is_some_and(|l| l.starts_with("/signin"));
        let text = res.text().await.unwrap_or_default();
        // A page says what it is in its title; JSON in its first words.
        let excerpt = match text.split_once("<title>") {
            Some((_, rest)) => rest.split('<').next().unwrap_or_default(),
            None => &text,
        };
        let excerpt = excerpt.chars().take(160).collect::<String>();
        match (status, to_signin) {
            (303, true) => (SI, excerpt),
            _ => (status, excerpt),
        }
    }
}

impl Made {
    fn none() -> Made {
        Made {
            id: String::new(),
            token: String::new(),
            seq: 0,
            reference: String::new(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_caller_gets_what_the_table_says_on_every_route() {
    let world = Arc::new(World::new().await);
    let rows = TABLE
        .iter()
        .filter(|r| r.fix != Fix::Last)
        .chain(TABLE.iter().filter(|r| r.fix == Fix::Last));
    let mut differ = Vec::new();
    let mut cells = 0;
    for row in rows {
        // A row's cells at once (each on ids of its own): `/status` takes
        // its time on purpose.
        let mut running = tokio::task::JoinSet::new();
        for (column, caller) in CALLERS.into_iter().enumerate() {
            let world = world.clone();
            running.spawn(async move { (column, world.call(row, column, caller).await) });
        }
        let mut got: Vec<Option<(u16, String)>> = vec![None; CALLERS.len()];
        while let Some(done) = running.join_next().await {
            let (column, answer) = done.unwrap();
            got[column] = Some(answer);
        }
        for ((caller, want), answer) in CALLERS.iter().zip(row.want).zip(got) {
            let (got, excerpt) = answer.unwrap();
            cells += 1;
            if got != want {
                differ.push(format!(
                    "{} {} as {}: expected {}, got {}  [{}]",
                    row.method,
                    row.path,
                    caller.name(),
                    shown(want),
                    shown(got),
                    excerpt.replace('\n', " ")
                ));
            }
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {cells} cells differ from authz::TABLE:\n{}",
        differ.len(),
        differ.join("\n")
    );
}
