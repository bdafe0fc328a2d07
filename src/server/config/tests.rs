use super::*;
use std::path::Path;

fn file(text: &str) -> ConfigFile {
    ConfigFile::parse(Path::new("/etc/fixpath/fixpath.toml"), text).unwrap()
}

#[test]
fn defaults_follow_the_contract() {
    let c = ServerConfig::resolve(Settings::default(), None).unwrap();
    assert_eq!(c.scripts, PathBuf::from("scripts"));
    assert_eq!(
        c.db,
        Database::Sqlite {
            url: "fixpath-data/fixpath.db".into(),
            file: Some("fixpath-data/fixpath.db".into())
        }
    );
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert!(c.webhooks.is_empty());
    assert!(c.webhook_secret.is_none());
    assert_eq!(c.body_limit, DEFAULT_BODY_LIMIT);
    assert_eq!(c.log_format, LogFormat::Text);
}

#[test]
fn flags_beat_the_file_and_the_file_beats_defaults() {
    let f = file(
        r#"
        scripts = "library"
        db = "data/fp.db"
        listen = "0.0.0.0:9000"
        webhooks = ["https://a.example/hook"]
        webhook_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        body_limit = "1MiB"
        log_format = "json"
        "#,
    );
    let c = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap();
    assert_eq!(c.scripts, PathBuf::from("/etc/fixpath/library"));
    assert_eq!(
        c.db,
        Database::Sqlite {
            url: "/etc/fixpath/data/fp.db".into(),
            file: Some("/etc/fixpath/data/fp.db".into())
        }
    );
    assert_eq!(c.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(c.webhooks[0].as_str(), "https://a.example/hook");
    assert!(c.webhook_secret.is_some());
    assert_eq!(c.body_limit, 1024 * 1024);
    assert_eq!(c.log_format, LogFormat::Json);

    let args = Settings {
        scripts: Some("mine".into()),
        db: Some("sqlite://other.db".into()),
        listen: Some("127.0.0.1:0".into()),
        webhooks: Some(vec!["http://b.example/".into()]),
        log_format: Some(LogFormat::Text),
        ..Settings::default()
    };
    let c = ServerConfig::resolve(args, Some(&f)).unwrap();
    assert_eq!(c.scripts, PathBuf::from("mine"));
    assert_eq!(
        c.db,
        Database::Sqlite {
            url: "sqlite://other.db".into(),
            file: Some("other.db".into())
        }
    );
    assert_eq!(c.listen.port(), 0);
    assert_eq!(c.webhooks.len(), 1);
    assert_eq!(c.webhooks[0].host_str(), Some("b.example"));
    assert_eq!(c.log_format, LogFormat::Text);
    // Not overridden: still the file's.
    assert_eq!(c.body_limit, 1024 * 1024);
    assert!(c.webhook_secret.is_some());
}

#[test]
fn database_urls() {
    let db = Database::parse("postgres://fp:hunter2@db.internal/fixpath").unwrap();
    assert_eq!(
        db,
        Database::Postgres {
            url: "postgres://fp:hunter2@db.internal/fixpath".into(),
            pool: DEFAULT_DB_POOL
        }
    );
    let shown = db.to_string();
    assert_eq!(shown, "postgres://fp:***@db.internal/fixpath");
    assert!(matches!(
        Database::parse("postgresql://db/x?sslmode=require"),
        Ok(Database::Postgres { .. })
    ));
    let e = Database::parse("postgres://fp:hunter2@db:notaport/x").unwrap_err();
    assert!(e.message.contains("not a valid PostgreSQL URL"), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(Database::parse("mysql://db/x").is_err());
    assert_eq!(
        Database::parse("sqlite::memory:").unwrap(),
        Database::Sqlite {
            url: "sqlite::memory:".into(),
            file: None
        }
    );
    assert_eq!(
        Database::parse("sqlite:///var/lib/fp.db?mode=rwc").unwrap(),
        Database::Sqlite {
            url: "sqlite:///var/lib/fp.db?mode=rwc".into(),
            file: Some("/var/lib/fp.db".into())
        }
    );
}

#[test]
fn a_bare_word_is_not_a_database_file() {
    for ok in [
        "fixpath-data/fixpath.db",
        "/var/lib/fixpath/data.SQLITE",
        "x.sqlite3",
        "sqlite://anything",
        "sqlite:anything",
    ] {
        assert!(
            matches!(Database::parse(ok), Ok(Database::Sqlite { .. })),
            "{ok}"
        );
    }
    for bad in [
        "nonsense",
        "fixpath-data/fixpath",
        "db.internal:5432/fixpath",
        "x.txt",
    ] {
        let e = Database::parse(bad).unwrap_err();
        assert!(e.message.contains("is not a database"), "{bad}: {e}");
    }
}

#[test]
fn bad_values_say_where_they_came_from() {
    let args = Settings {
        listen: Some("localhost".into()),
        ..Settings::default()
    };
    let e = ServerConfig::resolve(args, None).unwrap_err();
    assert!(
        e.message
            .starts_with("--listen (or FIXPATH_LISTEN): `localhost`"),
        "{e}"
    );
    assert!(e.hint.is_some());

    let f = file("webhooks = [\"ftp://files.example/x\"]");
    let e = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap_err();
    assert!(
        e.message
            .starts_with("`webhooks` in /etc/fixpath/fixpath.toml"),
        "{e}"
    );
    assert!(e.message.contains("not an http(s) URL"), "{e}");

    let args = Settings {
        webhook_secret: Some("hunter2".into()),
        ..Settings::default()
    };
    let e = ServerConfig::resolve(args, None).unwrap_err();
    assert!(e.to_string().contains("whsec_"), "{e}");
    assert!(!e.to_string().contains("hunter2"), "{e}");
}

#[test]
fn the_limits_table_sets_hash_slots_and_rates() {
    use crate::http::limits::{LimitConfig, Rate};
    let c = ServerConfig::resolve(Settings::default(), None).unwrap();
    assert_eq!(c.limits, LimitConfig::default());
    let f = file(
        "[limits]\nhash_slots = 3\nsignin_per_minute = 20\nsessions_per_minute = 100\nstatus_per_minute = 12",
    );
    let c = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap();
    assert_eq!((c.limits.hash_slots, c.limits.hash_queue), (3, 24));
    assert_eq!(
        c.limits.signin,
        Rate {
            per_minute: 20,
            burst: 20
        }
    );
    assert_eq!(c.limits.session_start.per_minute, 100);
    assert_eq!(
        c.limits.status_lookup,
        Rate {
            per_minute: 12,
            burst: 12
        }
    );
    let f = file("[limits]\ntrusted_proxies = [\"127.0.0.1\", \"::1\"]");
    let c = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap();
    assert_eq!(c.limits.trusted_proxies.len(), 2);
    let f = file("[limits]\ntrusted_proxies = [\"nginx\"]");
    let e = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap_err();
    assert!(
        e.to_string().contains("`nginx` is not an IP address"),
        "{e}"
    );
    let f = file("[limits]\nhash_slots = 0");
    let e = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap_err();
    assert!(e.to_string().contains("limits.hash_slots"), "{e}");
    let e = ConfigFile::parse(Path::new("x.toml"), "[limits]\nhash_slot = 2").unwrap_err();
    assert!(e.to_string().contains("hash_slot"), "{e}");
}

#[test]
fn the_customers_idle_time_and_secure_cookies_are_settings() {
    let c = ServerConfig::resolve(Settings::default(), None).unwrap();
    assert_eq!(c.session_idle, DEFAULT_SESSION_IDLE);
    assert!(!c.secure_cookies);
    let f = file("session_idle = 10\nsecure_cookies = true");
    let c = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap();
    assert_eq!(c.session_idle, std::time::Duration::from_secs(600));
    assert!(c.secure_cookies);
    let args = Settings {
        session_idle: Some(5),
        secure_cookies: Some(false),
        ..Settings::default()
    };
    let c = ServerConfig::resolve(args, Some(&f)).unwrap();
    assert_eq!(c.session_idle, std::time::Duration::from_secs(300));
    assert!(!c.secure_cookies, "the flag wins");
    for bad in [0, 1441] {
        let args = Settings {
            session_idle: Some(bad),
            ..Settings::default()
        };
        let e = ServerConfig::resolve(args, None).unwrap_err();
        assert!(
            e.message
                .starts_with("--session-idle (or FIXPATH_SESSION_IDLE)"),
            "{e}"
        );
    }
}

#[test]
fn the_pool_size_is_validated_and_applies_to_postgres() {
    let pg = || Settings {
        db: Some("postgres://fp@db/fixpath".into()),
        ..Settings::default()
    };
    let c = ServerConfig::resolve(pg(), None).unwrap();
    assert!(matches!(c.db, Database::Postgres { pool, .. } if pool == DEFAULT_DB_POOL));
    let f = file("db_pool = 40");
    let c = ServerConfig::resolve(pg(), Some(&f)).unwrap();
    assert!(matches!(c.db, Database::Postgres { pool: 40, .. }));
    let args = Settings {
        db_pool: Some(8),
        ..pg()
    };
    let c = ServerConfig::resolve(args, Some(&f)).unwrap();
    assert!(
        matches!(c.db, Database::Postgres { pool: 8, .. }),
        "the flag wins"
    );
    for bad in [0, MAX_DB_POOL + 1] {
        let args = Settings {
            db_pool: Some(bad),
            ..pg()
        };
        let e = ServerConfig::resolve(args, None).unwrap_err();
        assert!(
            e.message.starts_with("--db-pool (or FIXPATH_DB_POOL)"),
            "{e}"
        );
    }
    let e = ServerConfig::resolve(pg(), Some(&file("db_pool = 0"))).unwrap_err();
    assert!(
        e.message
            .starts_with("`db_pool` in /etc/fixpath/fixpath.toml"),
        "{e}"
    );
    // SQLite has nothing to size: accepted, unused.
    let sqlite = Settings {
        db_pool: Some(4),
        ..Settings::default()
    };
    assert!(matches!(
        ServerConfig::resolve(sqlite, None).unwrap().db,
        Database::Sqlite { .. }
    ));
}

#[test]
fn listen_addresses() {
    assert_eq!(parse_listen("[::1]:80").unwrap().port(), 80);
    assert_eq!(parse_listen("localhost:8080").unwrap().port(), 8080);
    assert!(parse_listen("127.0.0.1").is_err());
    assert!(parse_listen("127.0.0.1:99999").is_err());
    assert!(parse_listen(":8080").is_err());
}

#[test]
fn sizes_and_unknown_keys() {
    assert_eq!(ByteSize::parse("64KiB").unwrap().0, 65536);
    assert_eq!(ByteSize::parse("2 mb").unwrap().0, 2 * 1024 * 1024);
    assert_eq!(ByteSize::parse("100").unwrap().0, 100);
    assert!(ByteSize::parse("lots").is_err());
    assert!(ByteSize::parse("0").is_err());
    let e = ConfigFile::parse(Path::new("f.toml"), "listn = \"x\"").unwrap_err();
    assert!(e.message.contains("unknown field `listn`"), "{e}");
    let e = ConfigFile::parse(Path::new("f.toml"), "log_format = \"xml\"").unwrap_err();
    assert!(e.message.contains("xml"), "{e}");
}

#[test]
fn secrets_are_never_printed() {
    let s = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    assert_eq!(format!("{s:?}"), "WebhookSecret(***)");
}

#[test]
fn mail_needs_a_server_and_a_sender_and_flags_beat_the_file() {
    let c = ServerConfig::resolve(Settings::default(), None).unwrap();
    assert!(c.mail.is_none(), "no --smtp: no mail");

    let f = file(
        r#"
        smtp = "smtps://mailer:filepass@mail.example.com"
        mail_from = "Helpdesk <help@example.com>"
        "#,
    );
    let c = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap();
    let mail = c.mail.as_ref().unwrap();
    assert_eq!(mail.shown(), "smtps://***@mail.example.com");
    assert!(!format!("{c:?}").contains("filepass"));

    let args = Settings {
        smtp: Some("smtp://relay.internal:25".into()),
        ..Settings::default()
    };
    let c = ServerConfig::resolve(args, Some(&f)).unwrap();
    let mail = c.mail.unwrap();
    assert_eq!(mail.shown(), "smtp://relay.internal:25");
    assert_eq!(mail.from().email.to_string(), "help@example.com");

    let only_smtp = Settings {
        smtp: Some("smtps://u:flagpass@mail.example.com".into()),
        ..Settings::default()
    };
    let e = ServerConfig::resolve(only_smtp, None).unwrap_err();
    assert!(
        e.message
            .starts_with("--smtp (or FIXPATH_SMTP): mail needs a sender"),
        "{e}"
    );
    assert!(!e.to_string().contains("flagpass"), "{e}");

    let only_from = file("mail_from = \"help@example.com\"");
    let e = ServerConfig::resolve(Settings::default(), Some(&only_from)).unwrap_err();
    assert!(
        e.message.starts_with(
            "`mail_from` in /etc/fixpath/fixpath.toml: a sender is set but no SMTP server"
        ),
        "{e}"
    );

    let bad_from = Settings {
        smtp: Some("smtps://mail.example.com".into()),
        mail_from: Some("helpdesk".into()),
        ..Settings::default()
    };
    let e = ServerConfig::resolve(bad_from, None).unwrap_err();
    assert!(
        e.message
            .starts_with("--mail-from (or FIXPATH_MAIL_FROM): `helpdesk`"),
        "{e}"
    );
    assert!(e.hint.is_some());
}

#[test]
fn the_public_url_comes_from_a_flag_or_the_file_and_is_checked() {
    let f = file("public_url = \"https://help.example.com/\"");
    let c = ServerConfig::resolve(Settings::default(), Some(&f)).unwrap();
    assert_eq!(c.public_url.as_deref(), Some("https://help.example.com"));
    let args = Settings {
        public_url: Some("http://10.0.0.5:8080/help".into()),
        ..Settings::default()
    };
    let c = ServerConfig::resolve(args, Some(&f)).unwrap();
    assert_eq!(c.public_url.as_deref(), Some("http://10.0.0.5:8080/help"));
    let c = ServerConfig::resolve(Settings::default(), None).unwrap();
    assert_eq!(c.public_url, None);
    for bad in [
        "help.example.com",
        "ftp://x.example",
        "https://x.example/?a=1",
    ] {
        let args = Settings {
            public_url: Some(bad.into()),
            ..Settings::default()
        };
        let e = ServerConfig::resolve(args, None).unwrap_err();
        assert!(e.message.starts_with("--public-url"), "{e}");
    }
}
