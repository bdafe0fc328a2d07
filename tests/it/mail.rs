//! Case mail end to end against a real SMTP server: `mail.*` messages put in
//! a real outbox (SQLite), the mail relay running, and aiosmtpd (Debian's
//! `python3-aiosmtpd`) storing what it received in a maildir, read back and
//! parsed here. Checked: recipient, sender, subject, language, reference,
//! link, both parts; a server down at first still gets each mail exactly
//! once; a server that never answers costs one timeout per batch; webhook
//! events stay out of the mail channel; the SMTP password never reaches the
//! log; without `--smtp` leftover mails are given up once.
//!
//! Without aiosmtpd the tests skip with a `SKIPPED:` line, unless
//! `FIXPATH_REQUIRE_SMTP=1` (as in CI) makes that a failure.

use fixpath::case::mail::{MailJob, MailKind};
use fixpath::delivery::RelayConfig;
use fixpath::delivery::mail::{MailConfig, give_up_without_smtp, run_mail_relay};
use fixpath::store::sqlite::SqliteStore;
use fixpath::store::{Schema, Store};
use mail_parser::{MessageParser, MimeHeaders};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const PYTHON: &str = "/usr/bin/python3";
const BIN: &str = env!("CARGO_BIN_EXE_fixpath");
const FROM: &str = "Helpdesk <help@example.com>";
/// How long anything here may take on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------- helpers

/// Whether aiosmtpd can run; without it, a skip (or a failure in CI).
pub(crate) fn smtp_available() -> bool {
    let ok = Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return true;
    }
    if std::env::var("FIXPATH_REQUIRE_SMTP").is_ok_and(|v| v == "1") {
        panic!(
            "`{PYTHON} -m aiosmtpd` is not available and FIXPATH_REQUIRE_SMTP=1: \
             install python3-aiosmtpd"
        );
    }
    eprintln!(
        "SKIPPED: `{PYTHON} -m aiosmtpd` is not available (install python3-aiosmtpd); \
         FIXPATH_REQUIRE_SMTP=1 makes this a failure"
    );
    false
}

/// A folder removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fixpath-mail-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn db(&self) -> String {
        self.0.join("fixpath.db").to_string_lossy().into_owned()
    }

    pub(crate) fn maildir(&self) -> PathBuf {
        self.0.join("maildir")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// aiosmtpd storing every mail in a maildir. Killed on drop.
pub(crate) struct Smtpd(Child);

impl Smtpd {
    pub(crate) fn start(port: u16, maildir: &Path) -> Smtpd {
        let child = Command::new(PYTHON)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("aiosmtpd starts");
        let smtpd = Smtpd(child);
        let start = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < PATIENCE, "aiosmtpd did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        smtpd
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Every mail in the maildir, raw.
pub(crate) fn maildir(dir: &Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in entries {
            out.push(std::fs::read(e.unwrap().path()).unwrap());
        }
    }
    out
}

async fn open_store(dir: &TempDir) -> Arc<dyn Store> {
    let s: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.db()).await.unwrap());
    s.migrate().await.unwrap();
    s
}

fn job(kind: MailKind, language: &str, to: &str, text: Option<&str>) -> MailJob {
    MailJob {
        kind,
        to: to.into(),
        language: language.into(),
        reference: "AUK2-GPA2".into(),
        script_title: match language {
            "de" => "WLAN bricht ständig ab".into(),
            _ => "Wi-Fi keeps dropping".into(),
        },
        link: "https://help.example.com/s/ses_7Qm2?t=fpc_9xYz".into(),
        text: text.map(Into::into),
    }
}

async fn enqueue(store: &dyn Store, job: &MailJob) -> String {
    store
        .enqueue_outbox(
            job.kind.event_type(),
            &serde_json::to_string(job).unwrap(),
            OffsetDateTime::now_utc(),
        )
        .await
        .unwrap()
}

/// An outbox row as stored.
#[derive(Debug, Clone)]
struct Row {
    event_type: String,
    attempts: i64,
    delivered_to: String,
    settled: bool,
    last_error: Option<String>,
}

async fn rows(db: &str) -> HashMap<String, Row> {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{db}"))
        .await
        .unwrap();
    /// id, event_type, attempts, delivered_to, delivered_at, last_error
    type Raw = (String, String, i64, String, Option<i64>, Option<String>);
    let rows: Vec<Raw> = sqlx::query_as(
        "SELECT id, event_type, attempts, delivered_to, delivered_at, last_error FROM outbox",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    rows.into_iter()
        .map(|(id, event_type, attempts, delivered_to, at, last_error)| {
            let row = Row {
                event_type,
                attempts,
                delivered_to,
                settled: at.is_some(),
                last_error,
            };
            (id, row)
        })
        .collect()
}

/// Waits until `done` holds for the outbox's rows.
async fn until(db: &str, what: &str, done: impl Fn(&HashMap<String, Row>) -> bool) {
    let start = Instant::now();
    loop {
        let r = rows(db).await;
        if done(&r) {
            return;
        }
        assert!(start.elapsed() < PATIENCE, "{what}: {r:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) fn fast(cfg: &mut RelayConfig) {
    cfg.base_delay = Duration::from_millis(100);
    cfg.max_delay = Duration::from_millis(400);
    cfg.poll = Duration::from_millis(50);
    cfg.timeout = Duration::from_secs(5);
}

pub(crate) struct Relay {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

pub(crate) fn relay(store: &Arc<dyn Store>, cfg: RelayConfig, mail: MailConfig) -> Relay {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(run_mail_relay(
        store.clone(),
        cfg,
        mail,
        Arc::new(tokio::sync::Notify::new()),
        stopped,
    ));
    Relay { stop, task }
}

impl Relay {
    pub(crate) async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(PATIENCE, self.task)
            .await
            .expect("the relay stops")
            .unwrap();
    }
}

/// The phrases of the English mail catalogue, placeholders cut out: none
/// may show up in a mail in another language.
fn english_phrases() -> Vec<String> {
    let en: HashMap<String, String> = serde_yaml::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/templates/locales/en.yaml"
    )))
    .unwrap();
    en.iter()
        .filter(|(k, _)| k.starts_with("mail_"))
        .flat_map(|(_, v)| {
            v.split(['{', '}'])
                .filter(|p| p.trim().len() > 8)
                .map(|p| p.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mails_arrive_in_the_case_language_as_text_and_html() {
    if !smtp_available() {
        return;
    }
    let dir = TempDir::new("arrive");
    let store = open_store(&dir).await;
    let mut sent = Vec::new();
    for lang in ["en", "de"] {
        // What staff wrote, in the case's language like the rest.
        let (reply, resolution) = match lang {
            "de" => (
                "Bitte starten Sie den Router neu.\nPrüfen Sie danach noch einmal die Lampe.",
                "Wir haben das Netzteil ausgetauscht.",
            ),
            _ => (
                "Please restart the router.\nThen check the light again.",
                "We replaced the power supply.",
            ),
        };
        for (kind, text) in [
            (MailKind::Received, None),
            (MailKind::Reply, Some(reply)),
            (MailKind::Resolved, Some(resolution)),
        ] {
            let to = format!("kim.{lang}@example.org");
            let j = job(kind, lang, &to, text);
            sent.push((enqueue(&*store, &j).await, j));
        }
    }
    // Never mail: a webhook event, and a job whose address is none.
    let hook = store
        .enqueue_outbox("escalation.created", "{}", OffsetDateTime::now_utc())
        .await
        .unwrap();
    let bad = enqueue(
        &*store,
        &job(MailKind::Received, "en", "not an address", None),
    )
    .await;

    let port = free_port();
    let _smtpd = Smtpd::start(port, &dir.maildir());
    let mut cfg = RelayConfig::new(vec![], None);
    fast(&mut cfg);
    let mail = MailConfig::new(&format!("smtp://127.0.0.1:{port}"), FROM).unwrap();
    let relay = relay(&store, cfg, mail);
    let db = dir.db();
    until(&db, "every mail settled", |r| {
        r.values()
            .filter(|row| row.event_type.starts_with("mail."))
            .all(|row| row.settled)
    })
    .await;
    relay.stop().await;

    let r = rows(&db).await;
    for (id, _) in &sent {
        assert_eq!(r[id].delivered_to, r#"["smtp"]"#, "{:?}", r[id]);
    }
    assert!(
        !r[&hook].settled && r[&hook].attempts == 0 && r[&hook].last_error.is_none(),
        "the mail relay left the webhook event alone: {:?}",
        r[&hook]
    );
    assert!(r[&bad].settled && r[&bad].delivered_to == "[]");
    assert!(
        r[&bad]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("not an e-mail address")),
        "{:?}",
        r[&bad]
    );

    let raw = maildir(&dir.maildir());
    assert_eq!(
        raw.len(),
        sent.len(),
        "one mail per job, none for the others"
    );
    let by_id: HashMap<String, mail_parser::Message> = raw
        .iter()
        .map(|bytes| {
            let m = MessageParser::default().parse(bytes).unwrap();
            (m.message_id().unwrap().to_owned(), m)
        })
        .collect();
    let english = english_phrases();
    assert!(english.len() > 10);
    for (id, j) in &sent {
        let m = &by_id[&format!("{id}@example.com")];
        let to = m.to().and_then(|a| a.first()).and_then(|a| a.address());
        assert_eq!(to, Some(j.to.as_str()));
        let from = m.from().and_then(|a| a.first()).unwrap();
        assert_eq!(
            (from.name(), from.address()),
            (Some("Helpdesk"), Some("help@example.com"))
        );
        // The envelope too (aiosmtpd notes it).
        assert_eq!(m.header_raw("X-RcptTo").map(str::trim), Some(j.to.as_str()));
        assert_eq!(
            m.header_raw("Content-Language").map(str::trim),
            Some(j.language.as_str())
        );
        assert_eq!(
            m.header_raw("Auto-Submitted").map(str::trim),
            Some("auto-generated")
        );
        let subject = m.subject().unwrap();
        assert!(subject.contains("AUK2-GPA2"), "{subject}");

        let root = m.root_part().content_type().unwrap();
        assert_eq!(
            (root.ctype(), root.subtype()),
            ("multipart", Some("alternative"))
        );
        let text = m.text_part(0).unwrap();
        let html = m.html_part(0).unwrap();
        assert_eq!(text.content_type().unwrap().subtype(), Some("plain"));
        assert_eq!(html.content_type().unwrap().subtype(), Some("html"));
        let text = text.text_contents().unwrap();
        let html = html.text_contents().unwrap();
        for part in [text, html] {
            assert!(part.contains("AUK2-GPA2"), "{part}");
            assert!(part.contains(&j.script_title), "{part}");
            assert!(part.contains(&j.link), "the link, whole: {part}");
            if let Some(t) = &j.text {
                for line in t.lines() {
                    assert!(part.contains(line), "{part}");
                }
            }
            if j.language != "en" {
                for phrase in &english {
                    assert!(
                        !part.contains(phrase.as_str()),
                        "English `{phrase}` in {part}"
                    );
                }
            }
        }
        assert!(html.contains(r#"<html lang=""#), "{html}");
        assert!(!text.contains('<'), "the text part is text: {text}");
    }
    let subjects: Vec<&str> = sent
        .iter()
        .map(|(id, _)| by_id[&format!("{id}@example.com")].subject().unwrap())
        .collect();
    assert_eq!(
        subjects,
        [
            "We have received your request AUK2-GPA2",
            "A reply to your request AUK2-GPA2",
            "Your request AUK2-GPA2 is resolved",
            "Wir haben Ihre Anfrage AUK2-GPA2 erhalten",
            "Eine Antwort auf Ihre Anfrage AUK2-GPA2",
            "Ihre Anfrage AUK2-GPA2 ist gelöst",
        ]
    );

    // What the customer reads, one of each kind in two languages.
    for (id, j) in &sent {
        let m = &by_id[&format!("{id}@example.com")];
        let shown = format!(
            "Subject: {}\nTo: {}\nContent-Language: {}\nMessage-ID: <[outbox id]@example.com>\n\n{}",
            m.subject().unwrap(),
            j.to,
            j.language,
            m.body_text(0).unwrap()
        );
        let kind = j.kind.event_type().trim_start_matches("mail.");
        insta::assert_snapshot!(format!("{kind}_{}", j.language), shown);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_down_at_first_gets_each_mail_exactly_once() {
    if !smtp_available() {
        return;
    }
    let dir = TempDir::new("down");
    let store = open_store(&dir).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let to = format!("customer{n}@example.org");
        ids.push(enqueue(&*store, &job(MailKind::Received, "en", &to, None)).await);
    }
    let port = free_port();
    let mut cfg = RelayConfig::new(vec![], None);
    fast(&mut cfg);
    let mail = MailConfig::new(&format!("smtp://127.0.0.1:{port}"), FROM).unwrap();
    let relay = relay(&store, cfg, mail);
    let db = dir.db();
    // Nobody listens yet: every mail fails once first.
    until(&db, "a first failed attempt of each mail", |r| {
        r.values().all(|row| row.attempts >= 1)
    })
    .await;
    let r = rows(&db).await;
    assert!(r.values().all(|row| !row.settled), "{r:#?}");
    let error = r[&ids[0]].last_error.clone().unwrap_or_default();
    assert!(
        error.contains(&format!("smtp://127.0.0.1:{port}")),
        "{error}"
    );

    let _smtpd = Smtpd::start(port, &dir.maildir());
    until(&db, "every mail sent after the outage", |r| {
        r.values().all(|row| row.settled)
    })
    .await;
    relay.stop().await;

    let mut got: Vec<String> = maildir(&dir.maildir())
        .iter()
        .map(|b| {
            let m = MessageParser::default().parse(b).unwrap();
            m.message_id().unwrap().to_owned()
        })
        .collect();
    got.sort();
    let mut want: Vec<String> = ids.iter().map(|id| format!("{id}@example.com")).collect();
    want.sort();
    assert_eq!(got, want, "each mail once, by its Message-ID");
}

/// A server that accepts connections and never says a word: each attempt
/// must end in the relay's time, and a batch pays for it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_costs_one_timeout_per_batch() {
    let dir = TempDir::new("silent");
    let store = open_store(&dir).await;
    for n in 0..3 {
        let to = format!("customer{n}@example.org");
        enqueue(&*store, &job(MailKind::Received, "en", &to, None)).await;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn({
        let accepted = accepted.clone();
        async move {
            while let Ok((socket, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                held.lock().unwrap().push(socket);
            }
        }
    });
    let mut cfg = RelayConfig::new(vec![], None);
    cfg.timeout = Duration::from_millis(300);
    cfg.base_delay = Duration::from_secs(600);
    cfg.poll = Duration::from_millis(50);
    let mail = MailConfig::new(&format!("smtp://127.0.0.1:{port}"), FROM).unwrap();
    let start = Instant::now();
    let relay = relay(&store, cfg, mail);
    let db = dir.db();
    until(&db, "each mail failed once", |r| {
        r.values().all(|row| row.attempts == 1)
    })
    .await;
    let took = start.elapsed();
    relay.stop().await;
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "after the server failed, the rest of the batch waited untried"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    let r = rows(&db).await;
    assert!(r.values().all(|row| !row.settled), "{r:#?}");
}

#[tokio::test]
async fn without_smtp_leftover_mails_are_given_up_and_webhook_events_kept() {
    let dir = TempDir::new("off");
    let store = open_store(&dir).await;
    let mail = enqueue(
        &*store,
        &job(MailKind::Reply, "en", "a@example.org", Some("hi")),
    )
    .await;
    let hook = store
        .enqueue_outbox("escalation.claimed", "{}", OffsetDateTime::now_utc())
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    assert_eq!(give_up_without_smtp(&*store, now).await, 1);
    assert_eq!(give_up_without_smtp(&*store, now).await, 0, "once");
    let r = rows(&dir.db()).await;
    assert!(r[&mail].settled && r[&mail].delivered_to == "[]");
    assert!(
        r[&mail]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("no --smtp"))
    );
    assert!(!r[&hook].settled, "webhook events wait for their relay");
    assert_eq!(store.outbox_pending().await.unwrap(), 1);
}

// ---------------------------------------------------------------- the binary

/// `fixpath serve` with the repository's scripts, none of the caller's
/// settings, and `args`; stderr collected. Killed on drop.
struct Server {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Server {
    fn start(dir: &TempDir, args: &[&str]) -> Server {
        let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
        let mut cmd = Command::new(BIN);
        cmd.current_dir(&dir.0)
            .env("NO_COLOR", "1")
            .env("FIXPATH_LOG", "info,sqlx=warn");
        for var in [
            "FIXPATH_SCRIPTS",
            "FIXPATH_DB",
            "FIXPATH_LISTEN",
            "FIXPATH_WEBHOOKS",
            "FIXPATH_CONFIG",
            "FIXPATH_SMTP",
            "FIXPATH_MAIL_FROM",
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
        let mut child = cmd
            .args(["serve", "--listen", "127.0.0.1:0", "--scripts"])
            .arg(scripts)
            .args(["--db", &dir.db()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn({
            let log = log.clone();
            move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        Server { child, log }
    }

    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let log = self.log.lock().unwrap().clone();
            if log.contains(needle) {
                return log;
            }
            assert!(start.elapsed() < PATIENCE, "no `{needle}` in:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_sends_through_smtp_without_logging_its_password_and_clears_mail_when_off() {
    let dir = TempDir::new("serve");
    let id = {
        let store = SqliteStore::open(&dir.db()).await.unwrap();
        store.migrate().await.unwrap();
        let j = job(MailKind::Received, "en", "kim@example.org", None);
        let id = enqueue(&store, &j).await;
        store.close().await;
        id
    };
    // Nobody listens there: the relay's attempt fails and is logged.
    let port = free_port();
    let smtp = format!("smtp://mailer:s3cr3t-pw@127.0.0.1:{port}?tls=required");
    {
        let server = Server::start(&dir, &["--smtp", &smtp, "--mail-from", FROM]);
        let log = server.wait_for("mail delivery failed");
        assert!(log.contains("smtp://***@127.0.0.1"), "{log}");
        assert!(
            !log.contains("s3cr3t-pw") && !log.contains("mailer:"),
            "{log}"
        );
    }
    let r = rows(&dir.db()).await;
    let error = r[&id].last_error.clone().unwrap_or_default();
    assert!(!error.is_empty() && !error.contains("s3cr3t-pw"), "{error}");
    assert!(!r[&id].settled);

    // Mail turned off: the mail left is given up, and said so once.
    {
        let server = Server::start(&dir, &[]);
        server.wait_for("mails left in the outbox");
        std::thread::sleep(Duration::from_millis(300));
        let log = server.log.lock().unwrap().clone();
        assert_eq!(log.matches("mails left in the outbox").count(), 1, "{log}");
        assert!(
            log.contains("smtp=off") || log.contains("smtp=\"off\""),
            "{log}"
        );
    }
    let r = rows(&dir.db()).await;
    assert!(
        r[&id].settled && r[&id].delivered_to == "[]",
        "{:?}",
        r[&id]
    );
}

#[test]
fn mail_settings_are_checked_before_anything_starts() {
    let dir = TempDir::new("settings");
    let run = |args: &[&str]| {
        let out = Command::new(BIN)
            .current_dir(&dir.0)
            .env_remove("FIXPATH_SMTP")
            .env_remove("FIXPATH_MAIL_FROM")
            .args(["serve", "--listen", "127.0.0.1:0", "--db", &dir.db()])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--smtp", "smtps://u:hunter22@mail.example.com"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--mail-from"), "{err}");
    let (code, err) = run(&["--mail-from", "help@example.com"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--smtp"), "{err}");
    let (code, err) = run(&[
        "--smtp",
        "https://u:hunter22@mail.example.com",
        "--mail-from",
        "help@example.com",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("scheme `https`") && err.contains("hint:"),
        "{err}"
    );
    assert!(!err.contains("hunter22"), "{err}");
    let (code, err) = run(&[
        "--smtp",
        "smtps://mail.example.com",
        "--mail-from",
        "nobody",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("`nobody` is not an e-mail address"), "{err}");
    assert!(!dir.0.join("fixpath.db").exists(), "nothing started");
}
