//! The test file format, read with serde (the design card's serde_yaml).

use serde::Deserialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    pub script: String,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub params: BTreeMap<String, Json>,
    #[serde(default)]
    pub vars: BTreeMap<String, Json>,
    #[serde(default)]
    pub language: Option<String>,
    /// `agent` (default), `customer` or `api`.
    #[serde(default)]
    pub channel: Option<crate::engine::Channel>,
    #[serde(default)]
    pub answers: Vec<Answer>,
    pub expect: Expect,
}

/// An answer as written: YAML reads `- 12` or `- true` as a number or a
/// boolean; a test means the text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Answer {
    pub fn text(&self) -> String {
        match self {
            Answer::Text(s) => s.clone(),
            Answer::Int(i) => i.to_string(),
            Answer::Float(f) => f.to_string(),
            Answer::Bool(b) => b.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpectedOutcome {
    Resolved,
    Escalated,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    pub outcome: ExpectedOutcome,
    #[serde(default)]
    pub tier: Option<u8>,
    #[serde(default)]
    pub queue: Option<String>,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub path: Option<Vec<String>>,
}

/// Parses a test file; the error names the line and column.
pub fn parse_test_file(text: &str) -> Result<TestFile, String> {
    serde_yaml::from_str(text).map_err(|e| match e.location() {
        Some(l) => format!("line {}, column {}: {e}", l.line(), l.column()),
        None => e.to_string(),
    })
}
