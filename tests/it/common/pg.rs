//! A PostgreSQL database of the test's own: `CREATE DATABASE
//! fixpath_test_<random>` through the admin URL of `FIXPATH_TEST_PG`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`), dropped `WITH
//! (FORCE)` when the handle drops, so parallel runs never meet.
//!
//! When PostgreSQL is unreachable the test is skipped with a notice on
//! stderr (not captured by the harness), unless `FIXPATH_REQUIRE_PG=1` (as in CI): then it fails, saying
//! why.

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use std::time::Duration;

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long to wait for the admin connection before calling PostgreSQL
/// unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct TestDb {
    /// The new database's URL, for the store.
    pub url: String,
    admin: String,
    name: String,
}

fn admin_url() -> String {
    std::env::var("FIXPATH_TEST_PG")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned())
}

fn required() -> bool {
    std::env::var("FIXPATH_REQUIRE_PG").is_ok_and(|v| v.trim() == "1")
}

/// `url` with its path (the database) replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let mut u = reqwest::Url::parse(url)
        .unwrap_or_else(|e| panic!("FIXPATH_TEST_PG is not a URL ({e}): {url}"));
    u.set_path(&format!("/{name}"));
    u.to_string()
}

async fn connect(url: &str) -> Result<PgConnection, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect(url)).await {
        Ok(Ok(c)) => Ok(c),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer in {} s", CONNECT_TIMEOUT.as_secs())),
    }
}

impl TestDb {
    /// A fresh, empty database for `test`; `None` (after a notice) when
    /// PostgreSQL is unreachable and not required.
    pub async fn create(test: &str) -> Option<TestDb> {
        let admin = admin_url();
        let mut conn = match connect(&admin).await {
            Ok(c) => c,
            Err(e) if required() => panic!(
                "FIXPATH_REQUIRE_PG=1 but PostgreSQL is unreachable at {admin} ({e}); \
                 start it, or point FIXPATH_TEST_PG at a server where this user may CREATE DATABASE"
            ),
            Err(e) => {
                // Straight to the process's stderr: the test harness
                // captures `eprintln!` of passing tests, and a skip must be
                // seen.
                use std::io::Write;
                let _ = writeln!(
                    std::io::stderr(),
                    "SKIPPED: the PostgreSQL run of `{test}`: PostgreSQL is unreachable \
                     at {admin} ({e}). Set FIXPATH_TEST_PG to an admin URL to run it \
                     (FIXPATH_REQUIRE_PG=1 makes this a failure)."
                );
                return None;
            }
        };
        let mut b = [0u8; 8];
        getrandom::fill(&mut b).expect("random bytes");
        let name = format!("fixpath_test_{}", u64::from_le_bytes(b) & 0xffff_ffff_ffff);
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} at {admin}: {e}"));
        let _ = conn.close().await;
        Some(TestDb {
            url: with_database(&admin, &name),
            admin,
            name,
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which must not block on
        // itself: a thread of its own, with a runtime of its own.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                let mut conn = connect(&admin).await?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = conn.close().await;
                Ok::<_, String>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!(
                "warning: could not drop the test database {}: {e}",
                self.name
            );
        }
    }
}
