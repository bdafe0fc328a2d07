//! Fuzzing the request decoders (issue 18): random JSON bodies (wrong types,
//! unknown keys, huge strings, deep nesting, bytes that are not JSON) posted
//! to the session endpoints of an in-process server, and random form bodies
//! posted to the wizard's routes.
//!
//! What must hold: never a 5xx (a panic is caught as a 500, so this covers
//! panics too), an API error is JSON with a non-empty `code` and `message`,
//! a page error is a page, and no request takes longer than
//! [`fuzz::CASE_BUDGET`] (a hang is a failure, not a slow test).
//!
//! Default: a fixed seed and few cases (each is a few requests); run long
//! with `FIXPATH_FUZZ_CASES` and `PROPTEST_RNG_SEED` (docs/fuzzing.md).

use crate::common::{self, TestApp, fuzz};
use crate::web::Browser;
use fixpath::http::HttpConfig;
use fixpath::http::limits::{LimitConfig, Rate};
use fixpath::store::Role;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::{Map, Value as Json, json};
use std::time::Instant;

/// A server whose anonymous session starts are not rate-limited: every case
/// starts one, and a 429 would hide the decoders behind the limiter.
async fn app() -> TestApp {
    let unlimited = Rate {
        per_minute: 1_000_000,
        burst: 1_000_000,
    };
    let config = HttpConfig {
        limits: LimitConfig {
            session_start: unlimited,
            status_lookup: unlimited,
            ..LimitConfig::default()
        },
        ..HttpConfig::default()
    };
    let mut scripts = common::SCRIPTS.to_vec();
    scripts.push(common::PRINTER);
    let mut app = TestApp::start_with_scripts(config, &scripts, |r, _| r).await;
    app.client = fresh_connections();
    app
}

/// A client that opens a connection per request. The server answers a body
/// over its limit (413) before reading it, and then closes the connection;
/// a pooled client can pick that connection for its next request before it
/// sees the close, and fail with a broken pipe (the client's race, not the
/// server's: found by a long run).
fn fresh_connections() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The names the decoders know, so that random objects often get past the
/// first unknown key and reach the value checks.
const KEYS: &[&str] = &[
    "script",
    "channel",
    "language",
    "params",
    "vars",
    "reference",
    "seq",
    "answer",
    "value",
    "note",
    "email",
    "text",
    "rating",
    "comment",
    "helped",
];

/// Strings the decoders and the engine give meaning to.
const WORDS: &[&str] = &[
    "wifi",
    "printer",
    "power-cycle",
    "agent",
    "customer",
    "api",
    "en",
    "et",
    "yes",
    "no",
    "Yes",
    "red",
    "done",
    "_none",
    "_escalate",
    "AB12CD34",
    "ann@example.com",
    "not an address",
    "",
    " ",
    "\u{0}",
    "\u{202e}",
    "<script>alert(1)</script>",
    "{{ 7 * 7 }}",
];

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(WORDS).prop_map(str::to_owned),
        3 => ".{0,24}",
        1 => any::<String>(),
        // Near and past the server's caps (input values, notes, the body).
        1 => prop::sample::select(&[999usize, 1_001, 4_097, 20_000, 70_000][..])
            .prop_map(|n| "é".repeat(n / 2)),
    ]
}

fn number() -> impl Strategy<Value = Json> {
    prop_oneof![
        any::<i64>().prop_map(Json::from),
        any::<u64>().prop_map(Json::from),
        (0u32..8).prop_map(Json::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Json::Number)),
    ]
}

fn json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        1 => Just(Json::Null),
        1 => any::<bool>().prop_map(Json::Bool),
        3 => number(),
        4 => string().prop_map(Json::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Json::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        3 => prop::sample::select(KEYS).prop_map(str::to_owned),
                        1 => ".{0,10}",
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Json::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// An object of the known keys with random values: most bodies a careless
/// client sends look like this.
fn near_valid() -> impl Strategy<Value = Json> {
    prop::collection::vec((prop::sample::select(KEYS), json()), 0..5).prop_map(|kv| {
        Json::Object(
            kv.into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect::<Map<_, _>>(),
        )
    })
}

/// The keys each route's decoder takes (the first is the start route's).
fn keys_of(route: &str) -> &'static [&'static str] {
    match route {
        "" => &[
            "script",
            "channel",
            "language",
            "params",
            "vars",
            "reference",
        ],
        "/answer" => &["seq", "answer", "value"],
        "/back" => &["seq"],
        "/escalate" => &["seq", "note", "email"],
        "/message" => &["text"],
        "/feedback" => &["score", "comment"],
        _ => KEYS,
    }
}

/// A value of the type the decoder expects for `key`, mostly; now and
/// then anything.
fn typed(key: &'static str) -> BoxedStrategy<Json> {
    let right: BoxedStrategy<Json> = match key {
        "seq" => (0u32..6).prop_map(Json::from).boxed(),
        "score" => (-2i64..8).prop_map(Json::from).boxed(),
        "channel" => prop::sample::select(&["agent", "customer", "api", "Agent", ""][..])
            .prop_map(Json::from)
            .boxed(),
        "params" | "vars" => prop::collection::btree_map(
            prop_oneof![
                Just("serial".to_string()),
                Just("attempts".to_string()),
                ".{0,6}"
            ],
            json(),
            0..4,
        )
        .prop_map(|m| Json::Object(m.into_iter().collect()))
        .boxed(),
        "value" => prop_oneof![string().prop_map(Json::from), number()].boxed(),
        _ => string().prop_map(Json::from).boxed(),
    };
    prop_oneof![8 => right, 1 => json()].boxed()
}

/// A body of the route's own keys with mostly well-typed values, and now
/// and then a key it does not know: gets past the decoder to the checks
/// behind it.
fn typed_body(route: &'static str) -> impl Strategy<Value = Json> {
    let keys = keys_of(route);
    let fields: Vec<BoxedStrategy<Option<(String, Json)>>> = keys
        .iter()
        .map(|&k| {
            prop::option::weighted(0.85, typed(k).prop_map(move |v| (k.to_owned(), v))).boxed()
        })
        .collect();
    (
        fields,
        prop::option::weighted(0.15, (prop::sample::select(KEYS), json())),
    )
        .prop_map(|(fields, extra)| {
            let mut m: Map<String, Json> = fields.into_iter().flatten().collect();
            if let Some((k, v)) = extra {
                m.insert(k.to_owned(), v);
            }
            Json::Object(m)
        })
}

/// A body as bytes, and the content type it is sent with.
#[derive(Debug, Clone)]
enum Body {
    Json(Json),
    /// The step's own `seq` with random other keys: gets past the seq check.
    WithSeq(Json),
    Bytes(Vec<u8>, Option<&'static str>),
    /// `[[[…]]]` or `{"a":{"a":…}}`, this deep.
    Deep(usize, bool),
}

fn body(route: &'static str) -> impl Strategy<Value = Body> {
    prop_oneof![
        3 => typed_body(route).prop_map(Body::Json),
        5 => typed_body(route).prop_map(Body::WithSeq),
        1 => near_valid().prop_map(Body::Json),
        2 => json().prop_map(Body::Json),
        1 => (
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..200),
                json().prop_map(|j| {
                    // A JSON text cut short.
                    let t = j.to_string();
                    let cut = t.len() / 2;
                    t.into_bytes()[..cut].to_vec()
                }),
            ],
            prop::option::of(prop::sample::select(
                &["application/json", "text/plain", "application/json; charset=latin1", "application/x-www-form-urlencoded"][..]
            )),
        )
            .prop_map(|(b, ct)| Body::Bytes(b, ct)),
        1 => ((1usize..400), any::<bool>()).prop_map(|(d, arrays)| Body::Deep(d, arrays)),
    ]
}

/// Who the request is sent as.
#[derive(Debug, Clone, Copy)]
enum Auth {
    Session,
    Staff,
    Nobody,
    Garbage,
}

const SESSION_ROUTES: &[&str] = &["", "/answer", "/back", "/escalate", "/message", "/feedback"];

fn assert_answer(res: &common::Res, what: &str) -> Result<(), TestCaseError> {
    let status = res.status.as_u16();
    prop_assert!(status < 500, "{what}: {status} {}", res.text);
    if status >= 400 {
        prop_assert!(
            res.content_type.starts_with("application/json"),
            "{what}: a {status} that is not JSON ({}): {}",
            res.content_type,
            res.text
        );
        let code = res.body["error"]["code"].as_str().unwrap_or("");
        let message = res.body["error"]["message"].as_str().unwrap_or("");
        prop_assert!(
            !code.is_empty() && !message.is_empty(),
            "{what}: a {status} without a code and a message: {}",
            res.text
        );
    } else if !res.text.is_empty() {
        prop_assert!(
            !res.body.is_null(),
            "{what}: a {status} that is not JSON: {}",
            res.text
        );
    }
    Ok(())
}

/// The answers a run got, by status (and code): a run where every body was
/// refused at the door would test nothing, so some must get through and
/// the refusals must be of several kinds.
fn assert_varied(seen: &std::collections::BTreeMap<String, usize>) {
    eprintln!("answers: {seen:?}");
    if fuzz::cases_overridden() {
        return;
    }
    assert!(
        seen.keys()
            .any(|k| k.starts_with('2') || k.starts_with('3')),
        "no body got through: {seen:?}"
    );
    assert!(seen.len() >= 5, "too few kinds of answer: {seen:?}");
}

/// Random bodies to `POST /api/v1/sessions` and each session endpoint.
#[test]
fn api_session_bodies() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (app, staff) = rt.block_on(async {
        let app = app().await;
        let staff = app.user("fuzz", Role::Specialist, 2).await;
        (app, staff)
    });
    let mut config = fuzz::config(128);
    config.source_file = Some(file!());
    let seen = std::cell::RefCell::new(std::collections::BTreeMap::<String, usize>::new());
    let mut runner = TestRunner::new(config);
    let strategy = prop::sample::select(SESSION_ROUTES).prop_flat_map(|route| {
        (
            Just(route),
            prop_oneof![
                8 => Just(Auth::Session),
                2 => Just(Auth::Staff),
                1 => Just(Auth::Nobody),
                1 => Just(Auth::Garbage),
            ],
            body(route),
            prop::sample::select(&["wifi", "printer"][..]),
            // Where the session is when the body comes: fresh, one answer
            // in, or escalated (where messages and feedback are taken).
            0u8..3,
        )
    });
    let result = runner.run(&strategy, |(route, auth, body, script, prep)| {
        let _watch = fuzz::watch((route, auth, &body, script, prep));
        rt.block_on(async {
            let started = Instant::now();
            let (id, token, created) = app
                .start_session(Some(&staff), &json!({"script": script, "channel": "agent"}))
                .await;
            let mut seq = created["step"]["seq"].as_u64().unwrap_or(1);
            let session = |what: &str| format!("/api/v1/sessions/{id}/{what}");
            match prep {
                1 => {
                    let r = app
                        .post(
                            &session("answer"),
                            Some(&token),
                            &json!({"seq": seq, "answer": "yes"}),
                        )
                        .await;
                    seq = r.assert_ok(200)["step"]["seq"].as_u64().unwrap_or(seq);
                }
                2 => {
                    app.post(&session("escalate"), Some(&token), &json!({"seq": seq}))
                        .await
                        .assert_ok(200);
                }
                _ => {}
            }
            // The start route takes the body itself; the others a session.
            let path = if route.is_empty() {
                "/api/v1/sessions".to_string()
            } else {
                format!("/api/v1/sessions/{id}{route}")
            };
            let (bytes, content_type) = match body {
                Body::Json(j) => (j.to_string().into_bytes(), Some("application/json")),
                Body::WithSeq(mut j) => {
                    if let Some(m) = j.as_object_mut()
                        && !route.is_empty()
                        && keys_of(route).contains(&"seq")
                    {
                        m.insert("seq".into(), json!(seq));
                    }
                    (j.to_string().into_bytes(), Some("application/json"))
                }
                Body::Bytes(b, ct) => (b, ct),
                Body::Deep(depth, arrays) => {
                    let (open, close) = if arrays { ("[", "]") } else { ("{\"a\":", "}") };
                    let mut s = open.repeat(depth);
                    s.push('1');
                    s.push_str(&close.repeat(depth));
                    (s.into_bytes(), Some("application/json"))
                }
            };
            let token = match auth {
                Auth::Session => Some(token.as_str()),
                Auth::Staff => Some(staff.as_str()),
                Auth::Nobody => None,
                Auth::Garbage => Some("fps_0000"),
            };
            let res = app
                .raw(reqwest::Method::POST, &path, token, content_type, bytes)
                .await;
            assert_answer(&res, &format!("POST {path}"))?;
            let code = res.body["error"]["code"]
                .as_str()
                .unwrap_or("ok")
                .to_owned();
            *seen
                .borrow_mut()
                .entry(format!("{} {code}", res.status.as_u16()))
                .or_default() += 1;
            // Whatever the body did, the session still reads back whole.
            let read = app
                .get(&format!("/api/v1/sessions/{id}"), Some(&staff))
                .await;
            prop_assert_eq!(read.status.as_u16(), 200, "{}", read.text);
            prop_assert!(
                started.elapsed() < fuzz::CASE_BUDGET * 2,
                "the case took {:?}",
                started.elapsed()
            );
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}\n{runner}");
    }
    assert_varied(&seen.into_inner());
}

/// A form body: pairs of known or random names with random values, or
/// bytes that are no form at all.
#[derive(Debug, Clone)]
enum FormBody {
    Pairs(Vec<(String, String)>, bool),
    Bytes(Vec<u8>),
}

const FORM_KEYS: &[&str] = &[
    "seq",
    "answer",
    "builtin",
    "value",
    "note",
    "why",
    "email",
    "lang",
    "script",
    "text",
    "rating",
    "comment",
    "reference",
];

fn form_body() -> impl Strategy<Value = FormBody> {
    let value = prop_oneof![
        3 => string(),
        2 => prop::sample::select(&["1", "2", "0", "-1", "4294967296", "1.5", "none", "escalate"][..])
            .prop_map(str::to_owned),
    ];
    let key = prop_oneof![
        4 => prop::sample::select(FORM_KEYS).prop_map(str::to_owned),
        1 => ".{0,8}",
    ];
    prop_oneof![
        5 => (prop::collection::vec((key, value), 0..6), any::<bool>())
            .prop_map(|(p, right_seq)| FormBody::Pairs(p, right_seq)),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(FormBody::Bytes),
    ]
}

const WIZARD_ROUTES: &[&str] = &[
    "/start",
    "/s/{id}/answer",
    "/s/{id}/back",
    "/s/{id}/escalate",
    "/s/{id}/language",
    "/s/{id}/keep",
    "/s/{id}/message",
    "/s/{id}/feedback",
    "/status",
];

/// Random form bodies to the wizard's routes, with this browser's CSRF
/// token (so the fields reach the decoders) or without.
#[test]
fn wizard_form_bodies() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(app());
    let mut config = fuzz::config(96);
    config.source_file = Some(file!());
    let seen = std::cell::RefCell::new(std::collections::BTreeMap::<String, usize>::new());
    let mut runner = TestRunner::new(config);
    let strategy = (
        prop::sample::select(WIZARD_ROUTES),
        form_body(),
        prop::bool::weighted(0.85),
        prop::sample::select(&["wifi", "printer"][..]),
    );
    let result = runner.run(&strategy, |(route, body, with_csrf, script)| {
        let _watch = fuzz::watch((route, &body, with_csrf, script));
        rt.block_on(async {
            let started = Instant::now();
            let mut b = Browser::new(&app);
            b.client = fresh_connections();
            b.get("/").await.assert_status(200);
            let page = b.post("/start", &[("script", script)]).await;
            prop_assert_eq!(page.status.as_u16(), 200, "{}", page.body);
            let id = regex::Regex::new(r"ses_[0-9a-f]{32}")
                .unwrap()
                .find(&page.body)
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default();
            prop_assert!(!id.is_empty(), "no session on the page:\n{}", page.body);
            let seq = regex::Regex::new(r#"name="seq" value="(\d+)""#)
                .unwrap()
                .captures(&page.body)
                .map(|c| c[1].to_owned())
                .unwrap_or_else(|| "1".into());
            let path = route.replace("{id}", &id);
            let csrf = b.jar.get("fp_csrf").cloned().unwrap_or_default();
            let bytes = match body {
                FormBody::Pairs(mut pairs, right_seq) => {
                    if right_seq {
                        pairs.insert(0, ("seq".into(), seq));
                    }
                    if with_csrf {
                        pairs.insert(0, ("csrf".into(), csrf));
                    }
                    serde_urlencoded::to_string(&pairs).unwrap().into_bytes()
                }
                FormBody::Bytes(mut bytes) => {
                    if with_csrf {
                        let mut head = format!("csrf={csrf}&").into_bytes();
                        head.append(&mut bytes);
                        bytes = head;
                    }
                    bytes
                }
            };
            let req = b
                .client
                .post(format!("{}{path}", b.base))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(bytes);
            let res = b.send(req).await;
            let status = res.status.as_u16();
            *seen.borrow_mut().entry(status.to_string()).or_default() += 1;
            prop_assert!(status < 500, "POST {path}: {status}\n{}", res.body);
            // A refusal is a page in the customer's words, not a bare status.
            if status >= 400 {
                prop_assert!(
                    res.body.contains("<html")
                        || res.body.contains("<!doctype")
                        || res.body.contains("<!DOCTYPE"),
                    "POST {path}: a {status} that is not a page:\n{}",
                    res.body
                );
            }
            // The session's page still opens.
            let page = b.get(&format!("/s/{id}")).await;
            prop_assert!(page.status.as_u16() < 500, "{}", page.body);
            prop_assert!(
                started.elapsed() < fuzz::CASE_BUDGET * 2,
                "the case took {:?}",
                started.elapsed()
            );
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}\n{runner}");
    }
    assert_varied(&seen.into_inner());
}
