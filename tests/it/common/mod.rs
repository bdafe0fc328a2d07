//! Test helpers for the HTTP API: a real server on an ephemeral port
//! (127.0.0.1:0) over a fresh SQLite file and a scripts folder written for
//! the test, users created straight through the store, and a small client.
//! [`pg`] gives a test a PostgreSQL database of its own.
#![allow(dead_code)]

pub mod fakes;
pub mod fuzz;
pub mod logs;
pub mod pg;
pub mod pgcluster;
pub mod rt;

use fixpath::http::auth::{STAFF_PREFIX, mint_token};
use fixpath::http::{AppState, HttpConfig, router};
use fixpath::library::Library;
use fixpath::store::sqlite::SqliteStore;
use fixpath::store::{NewUser, Role, Store, User};
use reqwest::StatusCode;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The scripts every test app serves.
pub const SCRIPTS: &[(&str, &str)] = &[
    (
        "wifi.yaml",
        r#"id: wifi
title: Wi-Fi keeps dropping
escalation: { tier: 2, queue: network }
nodes:
  power:
    ask: Is the power light on the router lit?
    help: "Agent-only: a dark router is almost always the power supply."
    answers:
      - label: "Yes"
        id: "yes"
        goto: serial
      - label: "No"
        id: "no"
        resolve: The router was not plugged in
  serial:
    input: What is the serial number on the label?
    into: serial
    pattern: "^[A-Z0-9]{8}$"
    next: cycle
  cycle:
    use: power-cycle
    next: lights
  lights:
    ask: Which light is blinking on router {{ serial }}?
    help: Red means the line is down at the exchange.
    answers:
      - label: Red
        id: red
        escalate: { reason: "Red light on router {{ serial }}", tier: 2, queue: hardware }
      - label: Green
        id: green
        resolve: The connection is back
"#,
    ),
    (
        "power-cycle.yaml",
        r#"id: power-cycle
title: Power cycle
nodes:
  unplug:
    say: Unplug the device, wait 30 seconds and plug it back in.
    next: done
  done:
    return: Power cycled
"#,
    ),
    (
        "vpn-deep.yaml",
        r#"id: vpn-deep
title: VPN deep dive
tier: 2
nodes:
  logs:
    ask: Do the VPN logs show an authentication failure?
    help: The logs are under /var/log/vpn on the gateway.
    answers:
      - label: "Yes"
        id: "yes"
        resolve: The VPN credentials were reset
      - label: "No"
        id: "no"
        escalate: VPN fault beyond tier 2
"#,
    ),
    (
        "instant.yaml",
        r#"id: instant
title: Straight to a person
nodes:
  handover:
    escalate: { reason: Always handed to a person, tier: 2, queue: desk }
"#,
    ),
];

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh folder under the system's temp dir, removed when the app drops.
fn temp_dir() -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).expect("random bytes");
    let dir = std::env::temp_dir().join(format!(
        "fixpath-api-{}-{n}-{:08x}",
        std::process::id(),
        u32::from_le_bytes(bytes)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub store: Arc<dyn Store>,
    dir: PathBuf,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A response: status and JSON body (`Null` when the body is not JSON).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub content_type: String,
    pub body: Json,
    pub text: String,
}

impl Res {
    /// Asserts a JSON error `{"error": {"code", "message"}}` with this status.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) -> &str {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert!(
            self.content_type.starts_with("application/json"),
            "not JSON ({}): {}",
            self.content_type,
            self.text
        );
        assert_eq!(self.body["error"]["code"], code, "{}", self.text);
        let message = self.body["error"]["message"].as_str().expect("a message");
        assert!(!message.is_empty());
        message
    }

    #[track_caller]
    pub fn assert_ok(&self, status: u16) -> &Json {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        &self.body
    }
}

/// The rows of one statement on the SQLite file `db`, opened read-only
/// beside a server that may be running (or stopped) on it.
pub fn sqlite_rows<T>(db: &str, sql: &str) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::ConnectOptions;
        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .read_only(true)
            .connect()
            .await
            .unwrap();
        sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
    })
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::start_with(HttpConfig::default(), |r, _| r).await
    }

    /// Starts an app whose router is `wrap(router(state), state)`, for
    /// tests that add a route of their own.
    pub async fn start_with(
        config: HttpConfig,
        wrap: impl FnOnce(axum::Router, AppState) -> axum::Router,
    ) -> TestApp {
        Self::start_with_scripts(config, SCRIPTS, wrap).await
    }

    /// Starts an app on its own scripts.
    pub async fn start_with_scripts(
        config: HttpConfig,
        files: &[(&str, &str)],
        wrap: impl FnOnce(axum::Router, AppState) -> axum::Router,
    ) -> TestApp {
        let dir = temp_dir();
        let db = dir.join("fixpath.db");
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(db.to_str().unwrap())
                .await
                .expect("the store opens"),
        );
        Self::start_in(dir, store, config, files, |_| {}, wrap).await
    }

    /// Starts an app over `store` (a PostgreSQL one, say) on the usual
    /// scripts, its state adjusted by `setup` (a fixed clock, case
    /// settings) before it serves.
    pub async fn start_on(store: Arc<dyn Store>, setup: impl FnOnce(&mut AppState)) -> TestApp {
        Self::start_in(
            temp_dir(),
            store,
            HttpConfig::default(),
            SCRIPTS,
            setup,
            |r, _| r,
        )
        .await
    }

    /// Starts an app over `store` on the repository's example library
    /// (`scripts/`, its canned replies included), set up by `setup`.
    pub async fn start_on_examples(
        store: Arc<dyn Store>,
        setup: impl FnOnce(&mut AppState),
    ) -> TestApp {
        let dir = temp_dir();
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts"),
            &dir.join("scripts"),
        );
        Self::start_in(dir, store, HttpConfig::default(), &[], setup, |r, _| r).await
    }

    /// Starts an app on its own scripts (and replies), over a fresh SQLite
    /// file, its state adjusted by `setup` (a fixed clock, case settings).
    pub async fn start_with_setup(
        config: HttpConfig,
        files: &[(&str, &str)],
        setup: impl FnOnce(&mut AppState),
    ) -> TestApp {
        let dir = temp_dir();
        let db = dir.join("fixpath.db");
        let store: Arc<dyn Store> = Arc::new(
            SqliteStore::open(db.to_str().unwrap())
                .await
                .expect("the store opens"),
        );
        Self::start_in(dir, store, config, files, setup, |r, _| r).await
    }

    pub async fn start_in(
        dir: PathBuf,
        store: Arc<dyn Store>,
        config: HttpConfig,
        files: &[(&str, &str)],
        setup: impl FnOnce(&mut AppState),
        wrap: impl FnOnce(axum::Router, AppState) -> axum::Router,
    ) -> TestApp {
        let scripts = dir.join("scripts");
        std::fs::create_dir_all(&scripts).unwrap();
        for (name, text) in files {
            // `replies/…` files go in their folder beside the scripts.
            let path = scripts.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        store.migrate().await.expect("the schema migrates");
        let library = Library::open(scripts, &*store)
            .await
            .expect("the test scripts compile");
        let mut state = AppState {
            store: store.clone(),
            library: Arc::new(library),
            guards: Arc::new(fixpath::http::limits::Guards::new(&config.limits)),
            config: Arc::new(config),
            metrics: None,
            outbox_notify: Arc::new(tokio::sync::Notify::new()),
            recent: Default::default(),
            clock: Default::default(),
            cases: Default::default(),
            programs: Default::default(),
        };
        setup(&mut state);
        let app = wrap(router(state.clone()), state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            // With the peer's address, as `fixpath serve` runs it.
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app).await.expect("the server runs");
        });
        TestApp {
            base: format!("http://{addr}"),
            client: reqwest::Client::new(),
            state,
            store,
            dir,
            server,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates a user in the store and returns their API token.
    pub async fn user(&self, name: &str, role: Role, tier: u8) -> String {
        let token = mint_token(STAFF_PREFIX).unwrap();
        self.store
            .create_user(&NewUser {
                user: User {
                    name: name.into(),
                    role,
                    tier,
                },
                password_hash: None,
                token_hash: token.hash,
            })
            .await
            .expect("user created");
        token.plain
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Res {
        let res = req.send().await.expect("the request is answered");
        let status = res.status();
        let content_type = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let text = res.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(Json::Null);
        Res {
            status,
            content_type,
            body,
            text,
        }
    }

    fn auth(req: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Res {
        self.send(Self::auth(self.client.get(self.url(path)), token))
            .await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Json) -> Res {
        self.send(Self::auth(self.client.post(self.url(path)), token).json(body))
            .await
    }

    /// A request with any method, body and content type.
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Res {
        let mut req = Self::auth(self.client.request(method, self.url(path)), token);
        if let Some(ct) = content_type {
            req = req.header(reqwest::header::CONTENT_TYPE, ct);
        }
        self.send(req.body(body)).await
    }

    /// Starts a session; returns `(id, token, body)`.
    pub async fn start_session(&self, token: Option<&str>, body: &Json) -> (String, String, Json) {
        let res = self.post("/api/v1/sessions", token, body).await;
        let body = res.assert_ok(201).clone();
        (
            body["id"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
            body,
        )
    }
}

/// Replaces ids, tokens, versions and times with placeholders, so a
/// snapshot holds only what is stable.
pub fn redact(v: &mut Json) {
    match v {
        Json::Object(map) => {
            for (k, v) in map.iter_mut() {
                let placeholder = match k.as_str() {
                    "id" if v.as_str().is_some_and(|s| s.starts_with("ses_")) => Some("[session]"),
                    "id" if v.as_str().is_some_and(|s| s.starts_with("esc_")) => {
                        Some("[escalation]")
                    }
                    "session" => Some("[session]"),
                    "token" => Some("[token]"),
                    "version" => Some("[version]"),
                    "at" | "created_at" | "updated_at" | "timestamp" | "claimed_at"
                    | "first_response_at" | "resolved_at" | "retracted_at" | "response"
                    | "resolution"
                        if v.as_str()
                            .is_some_and(|s| s.contains('T') && s.ends_with('Z')) =>
                    {
                        Some("[time]")
                    }
                    "reference" if v.is_string() => Some("[reference]"),
                    // Snapshotted on its own where it matters.
                    "ticket_text" => Some("[ticket text]"),
                    _ => None,
                };
                match placeholder {
                    Some(p) if !v.is_null() => *v = Json::String(p.into()),
                    _ => redact(v),
                }
            }
        }
        Json::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// A multilingual, customer-facing script beside the API tests' ones.
pub const PRINTER: (&str, &str) = (
    "printer.yaml",
    r#"id: printer
title:
  en: Printer does not print
  nl: Printer print niet
  de: Drucker druckt nicht
languages: [en, nl, de]
escalation: { tier: 2, queue: print }
nodes:
  paper:
    ask:
      en: Is there paper in the tray?
      nl: Zit er papier in de lade?
      de: Ist Papier im Fach?
    help:
      en: "Agent-only: most calls end here."
      nl: "Alleen voor medewerkers: de meeste gesprekken eindigen hier."
      de: "Nur für Mitarbeiter: die meisten Anrufe enden hier."
    answers:
      - id: "yes"
        label: { en: "Yes", nl: "Ja", de: "Ja" }
        goto: model
      - id: "no"
        label: { en: "No", nl: "Nee", de: "Nein" }
        resolve: { en: Paper was added, nl: Er is papier bijgedaan, de: Papier wurde eingelegt }
  model:
    input: { en: What is the model name?, nl: Wat is de modelnaam?, de: Wie heißt das Modell? }
    into: model
    next: light
  light:
    ask: { en: "Does the {{ model }} show a red light?", nl: "Toont de {{ model }} een rood lampje?", de: "Zeigt der {{ model }} ein rotes Licht?" }
    answers:
      - id: "red"
        label: { en: Red light, nl: Rood lampje, de: Rotes Licht }
        escalate: { reason: { en: "Red light on {{ model }}", nl: "Rood lampje op {{ model }}", de: "Rotes Licht am {{ model }}" }, tier: 2 }
      - id: "none"
        label: { en: No light, nl: Geen lampje, de: Kein Licht }
        resolve: { en: The printer works again, nl: De printer werkt weer, de: Der Drucker geht wieder }
"#,
);

/// A staff user who signs in with a password.
pub async fn staff(app: &TestApp, name: &str, role: Role, password: &str) {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::encode_b64(b"a-fixed-test-salt").unwrap();
    let hash = argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .unwrap()
        .to_string();
    app.store
        .create_user(&NewUser {
            user: User {
                name: name.into(),
                role,
                tier: 2,
            },
            password_hash: Some(hash),
            token_hash: fixpath::http::auth::hash_token(&format!("fps_{name}-api")),
        })
        .await
        .unwrap();
}

/// Held by a fault test while it runs: each drives a server as hard as it
/// takes, and one measuring latencies next to another would measure that.
pub fn one_fault_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static FAULTS: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A fault test that failed poisoned it; the next one may still run.
    FAULTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
