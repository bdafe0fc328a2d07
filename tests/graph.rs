//! `fixpath graph`: the compiled graph of a script as DOT, Mermaid and SVG.
//!
//! The fixture `tests/fixtures/graph/router-no-internet.yaml` holds every node
//! kind (a question with `say` and `help`, an instruction, an input, a branch,
//! a sub-flow, a resolve, an escalate, and answers that resolve or escalate
//! themselves); the sub-flow beside it ends in `return`. DOT and Mermaid are
//! snapshotted; the SVG layout is being rewritten, so it is only checked for
//! shape.

use std::process::{Command, Stdio};

const SCRIPT: &str = "tests/fixtures/graph/router-no-internet.yaml";
const SUBFLOW: &str = "tests/fixtures/graph/power-cycle.yaml";
const FOLDER: &str = "tests/fixtures/graph";

/// Node ids of the main script, as written.
const NODES: &[&str] = &[
    "power", "replug", "lights", "check", "serial", "cycle", "done", "hardware",
];
/// Node ids of the sub-flow.
const SUBFLOW_NODES: &[&str] = &["unplug", "wait", "back"];

/// Runs `fixpath graph ARGS...` from the crate root; returns stdout, after
/// asserting that it succeeded and printed nothing on stderr.
fn graph(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_fixpath"))
        .arg("graph")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("FIXPATH_SCRIPTS")
        .stdin(Stdio::null())
        .output()
        .expect("the fixpath binary runs");
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    assert!(
        out.status.success(),
        "fixpath graph {args:?} failed ({:?}):\n{stderr}",
        out.status.code()
    );
    assert_eq!(stderr, "", "fixpath graph {args:?} wrote to stderr");
    stdout
}

/// Runs twice and asserts the output is identical: the export must not
/// depend on hash-map order or anything else that varies between runs.
fn stable(args: &[&str]) -> String {
    let first = graph(args);
    for _ in 0..3 {
        assert_eq!(
            graph(args),
            first,
            "fixpath graph {args:?} printed something else on another run"
        );
    }
    first
}

#[test]
fn dot() {
    let out = stable(&[SCRIPT, "--format", "dot"]);
    assert!(out.starts_with("digraph "), "{out}");
    assert!(out.ends_with("}\n"), "{out}");
    for id in NODES {
        assert!(
            out.contains(&format!("  \"{id}\" [label=")),
            "node `{id}` is drawn:\n{out}"
        );
    }
    insta::assert_snapshot!("dot", out);
}

#[test]
fn dot_is_the_default_format() {
    assert_eq!(graph(&[SCRIPT]), graph(&[SCRIPT, "--format", "dot"]));
}

#[test]
fn mermaid() {
    let out = stable(&[SCRIPT, "--format", "mermaid"]);
    assert!(out.contains("flowchart TD\n"), "{out}");
    for id in NODES {
        assert!(
            out.contains(&format!("\"{id}")),
            "node `{id}` is drawn:\n{out}"
        );
    }
    insta::assert_snapshot!("mermaid", out);
}

#[test]
fn subflow_with_return() {
    let dot = stable(&[SUBFLOW, "--format", "dot"]);
    insta::assert_snapshot!("subflow_dot", dot);
    let mermaid = stable(&[SUBFLOW, "--format", "mermaid"]);
    insta::assert_snapshot!("subflow_mermaid", mermaid);
}

#[test]
fn svg_is_well_formed_enough() {
    for (args, nodes) in [
        (&[SCRIPT, "--format", "svg"], NODES),
        (&[SUBFLOW, "--format", "svg"], SUBFLOW_NODES),
    ] {
        let out = stable(args);
        assert!(out.starts_with("<svg"), "{out}");
        assert!(
            out.contains("xmlns=\"http://www.w3.org/2000/svg\""),
            "{out}"
        );
        assert!(out.ends_with("</svg>\n"), "{out}");
        assert_eq!(out.matches("<svg").count(), 1, "one picture:\n{out}");
        for id in nodes {
            assert!(out.contains(id), "node `{id}` appears in the SVG:\n{out}");
        }
        // Text from the script is escaped: no raw `<` or `&` from a label.
        for line in out.lines().filter(|l| l.starts_with("<text")) {
            let inner = line.split_once('>').map(|(_, r)| r).unwrap_or("");
            let inner = inner
                .rsplit_once("</text>")
                .map(|(l, _)| l)
                .unwrap_or(inner);
            assert!(!inner.contains('<'), "unescaped `<` in {line}");
        }
    }
}

#[test]
fn by_id_is_the_same_as_by_file() {
    for format in ["dot", "mermaid", "svg"] {
        let by_file = graph(&[SCRIPT, "--format", format]);
        let by_id = graph(&[
            "router-no-internet",
            "--scripts",
            FOLDER,
            "--format",
            format,
        ]);
        assert_eq!(by_file, by_id, "--format {format}");
    }
}
