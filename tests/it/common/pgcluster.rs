//! A PostgreSQL server of the test's own, for faults that cannot be made on
//! the shared one: `initdb` into a temporary folder, `pg_ctl` to start it
//! on a free port, to stop it the way a crash does (`-m immediate`) and to
//! start it again. CI's other PostgreSQL tests keep using the machine's
//! server and never see these restarts.
//!
//! The binaries are Debian's (`/usr/lib/postgresql/<version>/bin`, the
//! newest), or the folder `FIXPATH_PG_BIN` names. PostgreSQL refuses to run
//! as root: as root, every command runs as the `postgres` user (`runuser`).
//! When the binaries are not there the test is skipped with a notice on
//! stderr, unless `FIXPATH_REQUIRE_PG=1` (as in CI): then it fails.

use std::path::PathBuf;
use std::process::Command;

pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    pub port: u16,
}

fn required() -> bool {
    std::env::var("FIXPATH_REQUIRE_PG").is_ok_and(|v| v.trim() == "1")
}

fn bin_dir() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("FIXPATH_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Hands a folder to the `postgres` user (owner, mode 700), as PostgreSQL
/// wants its data folder and a tablespace's; as another user, the folder is
/// ours already.
pub fn give_to_postgres(dir: &std::path::Path) {
    if !is_root() {
        return;
    }
    for (tool, arg) in [("chown", "postgres:postgres"), ("chmod", "700")] {
        let ok = Command::new(tool)
            .arg(arg)
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "{tool} {arg} {}", dir.display());
    }
}

impl Cluster {
    /// A new, running server; `None` (after a notice) when PostgreSQL's
    /// binaries are not on this machine and it is not required.
    pub fn start(test: &str) -> Option<Cluster> {
        let Some(bin) = bin_dir() else {
            assert!(
                !required(),
                "FIXPATH_REQUIRE_PG=1 but PostgreSQL's binaries were not found in \
                 /usr/lib/postgresql/*/bin; install postgresql or set FIXPATH_PG_BIN"
            );
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: `{test}`: PostgreSQL's binaries (initdb, pg_ctl) were not found; \
                 set FIXPATH_PG_BIN (FIXPATH_REQUIRE_PG=1 makes this a failure)."
            );
            return None;
        };
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).expect("random bytes");
        let dir = std::env::temp_dir().join(format!(
            "fixpath-pg-{test}-{:012x}",
            u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], 0, 0])
        ));
        std::fs::create_dir_all(&dir).unwrap();
        give_to_postgres(&dir);
        let cluster = Cluster {
            bin,
            dir,
            port: free_port(),
        };
        cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data(),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
        );
        cluster.up();
        Some(cluster)
    }

    /// The URL of the server's `postgres` database.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// The URL of one of the server's databases.
    pub fn url_of(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The folder the server's files are in (owned by `postgres` when we
    /// are root).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Runs one SQL statement on the `postgres` database with `psql`.
    pub fn sql(&self, statement: &str) {
        let port = self.port.to_string();
        self.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                statement,
            ],
        );
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    /// A tool of the server's, run as `postgres` when we are root
    /// (PostgreSQL refuses to run as root).
    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let exe = self.bin.join(tool);
        let mut cmd = self.command(tool);
        let out = cmd
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server and waits until it takes connections.
    pub fn up(&self) {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={}",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-o", &opts, "-l", &log, "-w", "start"],
        );
    }

    /// Stops the server the way a crash would: every backend killed at
    /// once, no checkpoint; the next start replays the WAL.
    pub fn crash(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
        );
    }

    /// The server's own log, for a failure message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut cmd = self.command("pg_ctl");
        let _ = cmd
            .args(["-D", &self.data(), "-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
