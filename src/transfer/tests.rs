use super::*;
use time::macros::datetime;

fn session_row() -> Row {
    let k = kind_named("session").unwrap();
    k.fields
        .iter()
        .map(|f| match (f.ty, f.null) {
            (_, true) => Value::Null,
            (Ty::Text, _) => Value::Text(format!("{} «ё»\n\"", f.name)),
            (Ty::Int, _) => Value::Int(7),
            (Ty::Bool, _) => Value::Bool(true),
            (Ty::Time, _) => Value::Time(datetime!(2026-03-02 10:00:00.123456 +02:00)),
        })
        .collect()
}

#[test]
fn every_key_and_order_names_fields_of_its_kind() {
    let mut names = std::collections::HashSet::new();
    for k in KINDS {
        assert!(names.insert(k.name), "{} twice", k.name);
        for key in k.key {
            assert!(k.field(key).is_some(), "{}: key {key}", k.name);
        }
        for f in k.fields {
            assert_ne!(f.name, "kind", "{}: a field named kind", k.name);
        }
    }
}

#[test]
fn times_are_utc_with_milliseconds() {
    assert_eq!(
        format_time(datetime!(2026-03-02 10:00:00.123456 +02:00)),
        "2026-03-02T08:00:00.123Z"
    );
    assert_eq!(
        format_time(datetime!(2026-03-02 10:00 UTC)),
        "2026-03-02T10:00:00.000Z"
    );
}

#[test]
fn a_row_reads_back_as_written() {
    let k = kind_named("session").unwrap();
    let row = session_row();
    let line = render_row(k, &row, true);
    assert!(line.starts_with("{\"kind\":\"session\",\"id\":"), "{line}");
    assert!(!line.contains('\n'), "one line: {line}");
    let ParsedLine::Row(back_kind, back) = parse_line(&line).unwrap() else {
        panic!("not a row")
    };
    assert_eq!(back_kind.name, "session");
    // The time comes back at the millisecond, in UTC.
    let mut want = row.clone();
    for v in &mut want {
        if matches!(v, Value::Time(_)) {
            *v = Value::Time(datetime!(2026-03-02 08:00:00.123 UTC));
        }
    }
    assert_eq!(back, want);
    assert_eq!(render_row(k, &back, true), line);
}

#[test]
fn password_hashes_only_with_secrets() {
    let k = kind_named("user").unwrap();
    let row = vec![
        Value::Text("sam".into()),
        Value::Text("specialist".into()),
        Value::Int(2),
        Value::Text("$argon2id$v=19$…".into()),
        Value::Int(0),
    ];
    let without = render_row(k, &row, false);
    assert_eq!(
        without,
        r#"{"kind":"user","name":"sam","role":"specialist","tier":2,"disabled":0}"#
    );
    assert!(render_row(k, &row, true).contains("\"password_hash\":\"$argon2id"));
    // Read back without one: no password (NULL), not an error.
    let ParsedLine::Row(_, back) = parse_line(&without).unwrap() else {
        panic!()
    };
    assert_eq!(back[3], Value::Null);
    let kinds: Vec<&str> = kinds_of(What::Users, &Range::default(), false)
        .iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(kinds, ["user"]);
    let kinds: Vec<&str> = kinds_of(What::Users, &Range::default(), true)
        .iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(kinds, ["user", "token", "signin_failure"]);
}

#[test]
fn dates_leave_out_the_outbox_and_the_rollups() {
    let range = Range {
        since: Some(datetime!(2026-03-01 00:00 UTC)),
        until: None,
    };
    let dated: Vec<&str> = kinds_of(What::All, &range, true)
        .iter()
        .map(|k| k.name)
        .collect();
    assert!(!dated.contains(&"outbox") && !dated.iter().any(|k| k.starts_with("stats_")));
    assert!(dated.contains(&"session") && dated.contains(&"user"));
    let all = kinds_of(What::All, &Range::default(), true);
    assert_eq!(all.len(), KINDS.len());
}

#[test]
fn bad_lines_say_what_is_wrong() {
    let cases: &[(&str, LineError)] = &[
        ("{", LineError::NotJson(String::new())),
        ("[1]", LineError::NotJson(String::new())),
        (r#"{"id":"x"}"#, LineError::NoKind),
        (
            r#"{"kind":"sessoin"}"#,
            LineError::UnknownKind("sessoin".into()),
        ),
        (
            r#"{"kind":"user","name":"a","role":"agent","tier":1,"disabled":0,"admin":true}"#,
            LineError::UnknownField {
                kind: "user",
                field: "admin".into(),
            },
        ),
        (
            r#"{"kind":"user","name":"a","role":"agent","disabled":0}"#,
            LineError::Missing {
                kind: "user",
                field: "tier",
            },
        ),
        (
            r#"{"kind":"user","name":"a","role":"agent","tier":"1","disabled":0}"#,
            LineError::Type {
                kind: "user",
                field: "tier",
                expected: "a whole number",
            },
        ),
        (
            r#"{"kind":"signin_failure","name":"a","failures":1,"since":"yesterday"}"#,
            LineError::Type {
                kind: "signin_failure",
                field: "since",
                expected: "an RFC 3339 time",
            },
        ),
        (
            r#"{"kind":"fixpath-export","format":2}"#,
            LineError::Format(2),
        ),
    ];
    for (line, want) in cases {
        let got = parse_line(line).unwrap_err();
        match (want, &got) {
            (LineError::NotJson(_), LineError::NotJson(_)) => {}
            _ => assert_eq!(&got, want, "{line}"),
        }
        assert!(!got.to_string().is_empty());
    }
    assert_eq!(
        parse_line(&render_header(Header { rollups: true })).unwrap(),
        ParsedLine::Header(Header { rollups: true })
    );
}

fn digest(rows: &[(&'static str, &[Row])]) -> Digest {
    let mut d = Digester::default();
    for (name, rs) in rows {
        let k = kind_named(name).unwrap();
        d.start(k);
        for r in *rs {
            d.add(k, r);
        }
    }
    d.finish()
}

#[test]
fn the_comparison_finds_a_changed_row_a_missing_row_and_a_missing_table() {
    let row = session_row();
    let mut changed = row.clone();
    changed[6] = Value::Int(8);
    let same = compare(
        &digest(&[("session", std::slice::from_ref(&row)), ("user", &[])]),
        &digest(&[("session", std::slice::from_ref(&row)), ("user", &[])]),
    );
    assert!(same.iter().all(Compared::same), "{same:?}");
    assert_eq!(same[0].from.0, 1);
    assert_eq!(same[0].from.1.len(), 64);

    let one_value = compare(
        &digest(&[("session", std::slice::from_ref(&row))]),
        &digest(&[("session", &[changed])]),
    );
    assert!(!one_value[0].same());
    assert_eq!(one_value[0].from.0, one_value[0].to.0, "same count");

    let one_row = compare(
        &digest(&[("session", &[row.clone(), row.clone()])]),
        &digest(&[("session", std::slice::from_ref(&row))]),
    );
    assert!(!one_row[0].same());

    let one_table = compare(
        &digest(&[("session", &[]), ("user", &[])]),
        &digest(&[("session", &[])]),
    );
    assert!(one_table[0].same());
    // Empty on one side, absent on the other: 0 rows both, but no hash.
    assert!(!one_table[1].same());
}
