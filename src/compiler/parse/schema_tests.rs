//! The JSON Schemas editors use against the parsers' own key tables: every
//! object of a schema offers exactly the keys its parser reads, so a key
//! added on one side only fails here.

use super::*;
use serde_json::Value as Json;
use std::collections::BTreeSet;

const SCRIPT_SCHEMA: &str = include_str!("../../../schema/fixpath-script.schema.json");
const TEST_SCHEMA: &str = include_str!("../../../schema/fixpath-test.schema.json");

/// Every JSON pointer in `schema` to an object with `properties`.
fn objects(v: &Json, at: String, out: &mut Vec<String>) {
    match v {
        Json::Object(m) => {
            if m.contains_key("properties") {
                out.push(at.clone());
            }
            for (k, x) in m {
                objects(x, format!("{at}/{k}"), out);
            }
        }
        Json::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                objects(x, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// The keys the schema offers at `pointer` (an object with `properties`,
/// or the `not: enum` of a `propertyNames`).
fn schema_keys(schema: &Json, pointer: &str) -> BTreeSet<String> {
    let v = schema
        .pointer(pointer)
        .unwrap_or_else(|| panic!("the schema has {pointer}"));
    let keys: Vec<String> = match v.get("properties").and_then(Json::as_object) {
        Some(props) => props.keys().cloned().collect(),
        None => v["propertyNames"]["not"]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{pointer} names its keys"))
            .iter()
            .map(|k| k.as_str().expect("a key is a string").to_owned())
            .collect(),
    };
    keys.into_iter().collect()
}

/// Compares both ways and names what differs, so a failure says which
/// side to mend.
fn differences(what: &str, schema: BTreeSet<String>, parser: &[String]) -> Option<String> {
    let parser: BTreeSet<String> = parser.iter().cloned().collect();
    let missing: Vec<&String> = parser.difference(&schema).collect();
    let refused: Vec<&String> = schema.difference(&parser).collect();
    if missing.is_empty() && refused.is_empty() {
        return None;
    }
    Some(format!(
        "{what}: the parser accepts {missing:?} that the schema lacks; \
         the schema offers {refused:?} that the parser refuses"
    ))
}

/// The script schema's objects, each with the parser's table for it.
fn script_tables() -> Vec<(String, Vec<String>)> {
    let mut t: Vec<(String, Vec<&'static str>)> = vec![
        (String::new(), SCRIPT_KEYS.to_vec()),
        (
            "/properties/escalation".into(),
            ESCALATION_DEFAULT_KEYS.to_vec(),
        ),
        ("/$defs/noKind".into(), KIND_KEYS.to_vec()),
        ("/$defs/askNode".into(), ASK_KEYS.to_vec()),
        ("/$defs/sayNode".into(), SAY_KEYS.to_vec()),
        ("/$defs/inputNode".into(), INPUT_KEYS.to_vec()),
        ("/$defs/branchNode".into(), BRANCH_KEYS.to_vec()),
        ("/$defs/resolveNode".into(), RESOLVE_KEYS.to_vec()),
        ("/$defs/escalateNode".into(), ESCALATE_KEYS.to_vec()),
        ("/$defs/useNode".into(), USE_KEYS.to_vec()),
        ("/$defs/returnNode".into(), RETURN_KEYS.to_vec()),
        (
            "/$defs/branchItem/oneOf/0".into(),
            BRANCH_ITEM_KEYS.to_vec(),
        ),
        ("/$defs/branchElse".into(), ELSE_KEYS.to_vec()),
        ("/$defs/escalation".into(), ESCALATION_KEYS.to_vec()),
        ("/$defs/escalationDetails".into(), ESCALATION_KEYS.to_vec()),
        ("/$defs/answerLong".into(), ANSWER_KEYS.to_vec()),
        ("/$defs/answerBody".into(), SHORT_ANSWER_KEYS.to_vec()),
        // Any of these keys makes an answer the long form; any other
        // single key is a short answer's label.
        ("/$defs/answer/if".into(), ANSWER_KEYS.to_vec()),
        ("/$defs/answerShort".into(), ANSWER_KEYS.to_vec()),
    ];
    // An answer with one outcome may have none of the others.
    for form in ["answerLong", "answerBody"] {
        for o in OUTCOME_KEYS {
            let others = OUTCOME_KEYS.iter().copied().filter(|x| x != o).collect();
            t.push((format!("/$defs/{form}/dependentSchemas/{o}"), others));
        }
    }
    t.into_iter()
        .map(|(p, keys)| (p, keys.into_iter().map(str::to_owned).collect()))
        .collect()
}

/// The keys serde reads for a struct with `deny_unknown_fields`, from the
/// error it gives for an unknown one ("expected `a`, `b` or `c`").
fn serde_fields(yaml: &str) -> Vec<String> {
    let err = crate::scenario::parse_test_file(yaml).expect_err("an unknown key is refused");
    let expected = err
        .split_once("expected")
        .unwrap_or_else(|| panic!("serde names the fields: {err}"))
        .1;
    let fields: Vec<String> = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    assert!(!fields.is_empty(), "serde names the fields: {err}");
    fields
}

/// The test schema's objects, with the fields the test file reader takes.
fn test_tables() -> Vec<(String, Vec<String>)> {
    const BOGUS: &str = "zz-not-a-key";
    vec![
        (String::new(), serde_fields(&format!("{BOGUS}: 1\n"))),
        (
            "/$defs/case".into(),
            serde_fields(&format!("script: s\ncases:\n  - {BOGUS}: 1\n")),
        ),
        (
            "/$defs/case/properties/expect".into(),
            serde_fields(&format!(
                "script: s\ncases:\n  - name: n\n    expect: {{ {BOGUS}: 1 }}\n"
            )),
        ),
    ]
}

fn compare(schema_text: &str, tables: Vec<(String, Vec<String>)>) -> Vec<String> {
    let schema: Json = serde_json::from_str(schema_text).expect("the schema is JSON");
    let mut problems = Vec::new();
    for (pointer, keys) in &tables {
        let what = if pointer.is_empty() {
            "top level"
        } else {
            pointer
        };
        problems.extend(differences(what, schema_keys(&schema, pointer), keys));
    }
    // An object the schema gains needs a table here too.
    let mut all = Vec::new();
    objects(&schema, String::new(), &mut all);
    for pointer in all {
        if !tables.iter().any(|(p, _)| *p == pointer) {
            problems.push(format!("{pointer}: no parser table is compared with it"));
        }
    }
    problems
}

#[test]
fn the_script_schema_offers_exactly_the_keys_the_parser_reads() {
    let problems = compare(SCRIPT_SCHEMA, script_tables());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_test_schema_offers_exactly_the_keys_the_test_reader_reads() {
    let problems = compare(TEST_SCHEMA, test_tables());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_key_on_one_side_only_is_caught() {
    let mut tables = script_tables();
    tables[0].1.push("colour".into());
    let problems = compare(SCRIPT_SCHEMA, tables);
    assert!(
        problems.iter().any(|p| p.contains("accepts [\"colour\"]")),
        "{problems:?}"
    );
    let mut tables = script_tables();
    tables[3].1.retain(|k| *k != "help");
    let problems = compare(SCRIPT_SCHEMA, tables);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("/$defs/askNode") && p.contains("offers [\"help\"]")),
        "{problems:?}"
    );
}

/// The FP002 ("unknown key") diagnostics of a script.
fn unknown_keys(text: &str) -> Vec<String> {
    let mut diags = Vec::new();
    parse(FileId(0), text, &mut diags);
    diags
        .into_iter()
        .filter(|d| d.code == Code::Fp002)
        .map(|d| d.message)
        .collect()
}

/// Beyond the tables: the parser reads every key the schema offers at the
/// top level and in each kind of node (a key in a table but not handled
/// would be reported as unknown).
#[test]
fn the_parser_takes_every_key_the_schema_offers() {
    let schema: Json = serde_json::from_str(SCRIPT_SCHEMA).expect("the schema is JSON");
    let mut refused = Vec::new();
    for key in schema_keys(&schema, "") {
        let head = ["id: s", "title: T", "nodes: { a: { resolve: done } }"];
        let mut lines: Vec<String> = head
            .iter()
            .filter(|l| !l.starts_with(&format!("{key}:")))
            .map(|l| (*l).to_owned())
            .collect();
        lines.push(format!("{key}: x"));
        refused.extend(unknown_keys(&lines.join("\n")));
    }
    for kind in KIND_KEYS {
        let pointer = format!("/$defs/{kind}Node");
        for key in schema_keys(&schema, &pointer) {
            if key == *kind {
                continue;
            }
            let text = format!("id: s\ntitle: T\nnodes:\n  a:\n    {kind}: x\n    {key}: x\n");
            refused.extend(unknown_keys(&text));
        }
    }
    assert!(refused.is_empty(), "{refused:#?}");
}
