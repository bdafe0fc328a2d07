//! `fixpath backup` (contract section 13): a copy of the SQLite database
//! taken while the server keeps writing opens, passes SQLite's integrity
//! check and holds every session acknowledged before the backup began; the
//! refusals are clear and write nothing.

use crate::serve::{Http, Server, TempDir, fixpath};
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

fn backup(dir: &TempDir, db: &str, out: &std::path::Path) -> std::process::Output {
    fixpath(dir.path())
        .args(["backup", "--db", db])
        .arg(out)
        .output()
        .expect("fixpath runs")
}

#[test]
fn a_backup_taken_under_load_holds_everything_acknowledged_before_it() {
    let dir = TempDir::with_scripts("backup-load");
    std::fs::write(
        dir.path().join("fixpath.toml"),
        "[limits]\nsessions_per_minute = 100000\n",
    )
    .unwrap();
    let server = Server::start(&dir, &["--config", "fixpath.toml"]);
    let base = server.base.clone();
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    // Two writers: sessions started and answered until told to stop.
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (base, acknowledged, stop) = (base.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                let http = Http::new();
                while !stop.load(Ordering::Relaxed) {
                    let (status, s) = http.post(
                        &format!("{base}/api/v1/sessions"),
                        None,
                        json!({"script": "router-no-internet", "channel": "customer"}),
                    );
                    assert_eq!(status, 201, "{s:#}");
                    let id = s["id"].as_str().unwrap().to_owned();
                    let (status, _) = http.post(
                        &format!("{base}/api/v1/sessions/{id}/answer"),
                        s["token"].as_str(),
                        json!({"seq": s["step"]["seq"], "answer": "_escalate"}),
                    );
                    assert_eq!(status, 200);
                    acknowledged.lock().unwrap().push(id);
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 50 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let out = dir.path().join("copy.db");
    let done = backup(&dir, &dir.db(), &out);
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let stdout = String::from_utf8_lossy(&done.stdout);
    assert_eq!(
        done.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(stdout.contains("integrity check ok"), "{stdout}");

    // The copy opens as a store and holds every session acknowledged
    // before the backup began, with its case.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use fixpath::store::{Schema, Sessions};
        let store = fixpath::store::sqlite::SqliteStore::open(out.to_str().unwrap())
            .await
            .expect("the copy opens");
        store.migrate().await.expect("and is up to date");
        for id in &before {
            let s = store.session(id).await.unwrap();
            assert!(
                s.is_some(),
                "{id} was acknowledged before the backup and is missing"
            );
        }
    });
    let (_, log) = server.stop();
    assert!(!log.contains("ERROR"), "{log}");
}

#[test]
fn a_backup_refuses_what_it_cannot_do_and_writes_nothing() {
    let dir = TempDir::with_scripts("backup-refusals");
    let out = dir.path().join("copy.db");
    // No database there: refused, nothing created.
    let none = backup(&dir, &dir.db(), &out);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("there is no database"));
    assert!(!out.exists() && !std::path::Path::new(&dir.db()).exists());
    // PostgreSQL is its own tools' job.
    let pg = backup(&dir, "postgres://fixpath@127.0.0.1/fixpath", &out);
    assert_eq!(pg.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&pg.stderr).contains("pg_dump"));
    // An existing file is never overwritten.
    let server = Server::start(&dir, &[]);
    drop(server);
    std::fs::write(&out, "keep me").unwrap();
    let exists = backup(&dir, &dir.db(), &out);
    assert_eq!(exists.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&exists.stderr).contains("exists already"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
}
