//! The OpenAPI document checked against the request types, and the route
//! table against itself.

use super::*;

use serde_json::json;
use std::collections::BTreeSet;

fn doc() -> Json {
    serde_json::from_str(OPENAPI).expect("the OpenAPI document is JSON")
}

/// The fields serde knows for a struct that denies unknown fields: its
/// error for an unknown one lists every field it expected.
fn serde_fields<T: DeserializeOwned>() -> BTreeSet<String> {
    let err = serde_json::from_value::<T>(json!({ "\u{1}": null }))
        .err()
        .expect("an unknown field is refused")
        .to_string();
    let (_, expected) = err
        .split_once("expected")
        .unwrap_or_else(|| panic!("not an unknown-field error: {err}"));
    expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// A value a schema accepts: its first enum value, else one of its type.
fn sample(doc: &Json, schema: &Json) -> Json {
    if let Some(r) = schema["$ref"].as_str() {
        let target = doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling {r}"));
        return sample(doc, target);
    }
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    let ty = match &schema["type"] {
        Json::Array(types) => types[0].as_str().unwrap_or_default().to_owned(),
        t => t.as_str().unwrap_or_default().to_owned(),
    };
    match ty.as_str() {
        "string" => json!("x"),
        "integer" | "number" if schema["minimum"].is_number() => schema["minimum"].clone(),
        "integer" | "number" => json!(0),
        "boolean" => json!(true),
        "array" => json!([]),
        "object" => json!({}),
        other => panic!("no sample for type `{other}`"),
    }
}

/// The documented schema `name` and the serde struct `T` name the same
/// fields, a body with every documented field is read, and so is one
/// with only the required ones.
fn same_fields<T: DeserializeOwned>(doc: &Json, name: &str) {
    let schema = &doc["components"]["schemas"][name];
    let props = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("schema {name} has no properties"));
    let documented: BTreeSet<String> = props.keys().cloned().collect();
    assert_eq!(documented, serde_fields::<T>(), "the fields of {name}");
    let full: serde_json::Map<String, Json> = props
        .iter()
        .map(|(k, v)| (k.clone(), sample(doc, v)))
        .collect();
    if let Err(e) = serde_json::from_value::<T>(Json::Object(full.clone())) {
        panic!("{name} with every documented field is refused: {e}");
    }
    let required: serde_json::Map<String, Json> = full
        .into_iter()
        .filter(|(k, _)| {
            schema["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x == k))
        })
        .collect();
    if let Err(e) = serde_json::from_value::<T>(Json::Object(required)) {
        panic!("{name} with only its required fields is refused: {e}");
    }
}

#[test]
fn documented_request_bodies_match_their_types() {
    let doc = doc();
    let checked = [
        "StartSession",
        "AnswerStep",
        "BackStep",
        "EscalateStep",
        "CustomerMessage",
        "ClaimEscalation",
        "AddNote",
        "ReplyEscalation",
        "ResolveEscalation",
        "EscalateFurther",
        "FeedbackRequest",
    ];
    same_fields::<StartSession>(&doc, "StartSession");
    same_fields::<AnswerStep>(&doc, "AnswerStep");
    same_fields::<BackStep>(&doc, "BackStep");
    same_fields::<EscalateStep>(&doc, "EscalateStep");
    same_fields::<CustomerMessage>(&doc, "CustomerMessage");
    same_fields::<ClaimEscalation>(&doc, "ClaimEscalation");
    same_fields::<AddNote>(&doc, "AddNote");
    same_fields::<ReplyEscalation>(&doc, "ReplyEscalation");
    same_fields::<ResolveEscalation>(&doc, "ResolveEscalation");
    same_fields::<EscalateFurther>(&doc, "EscalateFurther");
    same_fields::<FeedbackRequest>(&doc, "FeedbackRequest");

    // A request body documented later is checked here too.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            let Some(r) =
                op["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
            else {
                continue;
            };
            let name = r.rsplit('/').next().unwrap_or_default();
            assert!(
                checked.contains(&name),
                "{method} {path}: add its body {name} to this test"
            );
        }
    }
}

#[test]
fn documented_query_parameters_match_their_type() {
    let doc = doc();
    let documented: BTreeSet<String> = doc["paths"]["/api/v1/escalations"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(documented, serde_fields::<EscalationQuery>());
}

#[test]
fn every_route_is_listed_once() {
    let list = route_list();
    let mut seen = std::collections::HashSet::new();
    for (m, p) in &list {
        assert!(seen.insert((m.clone(), *p)), "{m} {p} listed twice");
    }
}

#[test]
fn documented_stats_parameters_match_their_type() {
    let doc = doc();
    let documented: BTreeSet<String> = doc["paths"]["/api/v1/stats"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .filter(|p| p["in"] == "query")
        .map(|p| p["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(documented, serde_fields::<StatsQuery>());
}

/// `value` fits `schema`: its JSON type is one the schema names, an
/// object has exactly the documented properties (all required ones), and
/// so on down.
fn fits(doc: &Json, schema: &Json, value: &Json, at: &str) {
    if let Some(r) = schema["$ref"].as_str() {
        let target = doc
            .pointer(r.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling {r}"));
        return fits(doc, target, value, at);
    }
    let kind = match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    };
    let types: Vec<&str> = match &schema["type"] {
        Json::Array(t) => t.iter().filter_map(Json::as_str).collect(),
        t => t.as_str().into_iter().collect(),
    };
    assert!(
        types.contains(&kind) || (kind == "integer" && types.contains(&"number")),
        "{at}: a {kind}, documented as {types:?}"
    );
    match value {
        Json::Object(map) => {
            if let Some(props) = schema["properties"].as_object() {
                let documented: BTreeSet<&String> = props.keys().collect();
                let sent: BTreeSet<&String> = map.keys().collect();
                assert_eq!(sent, documented, "{at}: the fields");
                for (k, v) in map {
                    fits(doc, &props[k], v, &format!("{at}.{k}"));
                }
            }
            if schema["additionalProperties"].is_object() {
                for (k, v) in map {
                    fits(
                        doc,
                        &schema["additionalProperties"],
                        v,
                        &format!("{at}.{k}"),
                    );
                }
            }
        }
        Json::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                fits(doc, &schema["items"], v, &format!("{at}[{i}]"));
            }
        }
        _ => {}
    }
}

#[test]
fn the_documented_stats_report_is_the_one_sent() {
    use crate::stats::{GroupData, Histogram, NodeData, Outcome, StatsData, StatsFilter};
    let mut h = Histogram::default();
    h.add(30, 2);
    let group = GroupData {
        script: "wifi".into(),
        version: "1111aaaa2222bbbb".into(),
        channel: "customer".into(),
        outcomes: [(Outcome::Resolved, h.clone())].into(),
        csat: [0, 0, 0, 1, 0],
        nodes: [(
            "power".to_owned(),
            NodeData {
                entered: 2,
                answers: [("yes".to_owned(), 2)].into(),
                dwell: h,
                ..NodeData::default()
            },
        )]
        .into(),
        ..GroupData::default()
    };
    let filter = StatsFilter {
        since: Some(time::macros::date!(2026 - 01 - 01)),
        ..StatsFilter::default()
    };
    let doc = doc();
    let schema = &doc["paths"]["/api/v1/stats"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    for versions in [
        crate::stats::Versions::Together,
        crate::stats::Versions::Each,
    ] {
        let filter = StatsFilter {
            versions,
            ..filter.clone()
        };
        let data = StatsData {
            groups: vec![group.clone()],
        };
        let report = crate::stats::report::build(&data, &filter, &BTreeMap::new());
        let sent = serde_json::to_value(&report).unwrap();
        fits(&doc, schema, &sent, "report");
    }
}
