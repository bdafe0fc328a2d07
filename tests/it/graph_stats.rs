//! The annotated graph (contract section 11): a script's picture with its
//! figures drawn over it, as the authors' page and `fixpath graph --stats`
//! show it. The figures here are made up and handed in directly, so the
//! picture is tested without a store: nodes shaded by the share of their
//! sessions that escalated or were abandoned there, edges as wide as their
//! traffic, a legend in the picture's language.

use crate::common::TestApp;
use fixpath::program::export::heat::{Annotation, Figures};
use fixpath::program::export::{GraphFormat, export, export_annotated};
use serde_json::json;
use std::collections::BTreeMap;
use std::process::{Command, Stdio};

const FOLDER: &str = "tests/fixtures/graph";

fn figures(entered: u64, escalated: u64, abandoned: u64, answers: &[(&str, u64)]) -> Figures {
    Figures {
        entered,
        escalated,
        abandoned,
        answers: answers.iter().map(|(a, n)| ((*a).to_owned(), *n)).collect(),
    }
}

/// Made-up figures for the fixture `router-no-internet` (and the sub-flow it
/// uses, named `power-cycle/NODE` as the trail names it). `check` and the
/// escalation `hardware` are entered; `done` is never reached.
fn sample(lang: &str) -> Annotation {
    let mut nodes = BTreeMap::new();
    nodes.insert(
        "power".into(),
        figures(400, 0, 8, &[("yes", 300), ("no", 92)]),
    );
    nodes.insert("replug".into(), figures(92, 0, 20, &[]));
    nodes.insert(
        "lights".into(),
        figures(
            372,
            40,
            10,
            &[("red", 120), ("no-light", 200), ("all-of-them", 40)],
        ),
    );
    nodes.insert("check".into(), figures(120, 0, 0, &[]));
    nodes.insert("hardware".into(), figures(30, 30, 0, &[]));
    nodes.insert("serial".into(), figures(90, 0, 15, &[]));
    nodes.insert("power-cycle/unplug".into(), figures(75, 0, 3, &[]));
    nodes.insert(
        "power-cycle/wait".into(),
        figures(72, 0, 5, &[("yes", 55), ("no", 12)]),
    );
    Annotation {
        nodes,
        words: fixpath::http::web::author::graph_words(lang),
    }
}

fn compiled() -> fixpath::program::Program {
    let comp = fixpath::compiler::compile_paths(&[std::path::PathBuf::from(FOLDER)])
        .expect("the fixtures compile");
    comp.program
}

fn annotated(lang: &str) -> String {
    let program = compiled();
    let (ix, s) = program.get("router-no-internet").expect("the fixture");
    let l = s.language_index(lang).unwrap_or(0);
    export_annotated(&program, ix, l, &sample(lang))
}

/// The `<g class="n …">` line of node `key` (its tooltip follows it).
fn node_line<'a>(svg: &'a str, key: &str) -> (&'a str, &'a str) {
    let mut lines = svg.lines();
    while let Some(l) = lines.next() {
        if l.starts_with("<g class=\"n ")
            && let Some(t) = lines.clone().next()
            && (t == format!("<title>{key}") || t == format!("<title>{key}</title>"))
        {
            return (l, t);
        }
    }
    panic!("no node `{key}` in\n{svg}");
}

#[test]
fn nodes_are_shaded_by_their_bad_endings() {
    let svg = annotated("en");
    // 8 of 400 (2 %) end badly at `power`: the first step above none.
    assert!(node_line(&svg, "power").0.contains(" h1\""), "{svg}");
    // 20 of 92 (22 %) at `replug`.
    assert!(node_line(&svg, "replug").0.contains(" h4\""));
    // All 30 sessions at the escalation escalate: the darkest.
    assert!(node_line(&svg, "hardware").0.contains(" h8\""));
    // Entered, none ended there: the lightest step, still marked.
    assert!(node_line(&svg, "check").0.contains(" h0\""));
    // The outcomes answers lead to: reached as often as the answer was
    // given; an escalation by all of them.
    assert!(node_line(&svg, "lights.all-of-them").0.contains(" h8\""));
    assert!(node_line(&svg, "lights.no-light").0.contains(" h0\""));
    assert!(svg.contains(">0% · 200</text>"));
    // Never entered: plain.
    let (done, _) = node_line(&svg, "done");
    assert!(!done.contains(" h"), "{done}");
    // A sub-flow's box: entries at its start, endings anywhere in it
    // (3 + 5 of 75, 11 %).
    assert!(node_line(&svg, "cycle").0.contains(" h3\""));
    // The figures in the tooltip and in the box.
    let (_, tip) = node_line(&svg, "replug");
    assert!(
        svg.contains("entered 92 · escalated 0 · abandoned 20 (22%)"),
        "{tip}"
    );
    assert!(
        svg.contains(">22% · 92</text>"),
        "the figures line of `replug`"
    );
}

/// The `class` of edge `e`.
fn edge_class(svg: &str, e: usize) -> String {
    let key = format!("data-e=\"{e}\" ");
    let line = svg
        .lines()
        .find(|l| l.starts_with("<path class=\"e") && l.contains(&key))
        .unwrap_or_else(|| panic!("edge {e}"));
    line.split('"').nth(1).unwrap_or_default().to_owned()
}

#[test]
fn edges_are_as_wide_as_their_traffic() {
    let program = compiled();
    let (ix, _) = program.get("router-no-internet").expect("the fixture");
    let m = fixpath::program::export::model(&program, ix, 0);
    let svg = annotated("en");
    let find = |from: &str, answer: Option<&str>| {
        m.edges
            .iter()
            .position(|e| m.nodes[e.from].key == from && e.answer.as_deref() == answer)
            .unwrap_or_else(|| panic!("an edge from {from} ({answer:?})"))
    };
    // `power` → yes, 300 times: the busiest, 8px (class w16).
    assert_eq!(edge_class(&svg, find("power", Some("yes"))), "e w16");
    // `lights` → red, 120 of 300: 1 + 7 × 0.4 = 3.8px, drawn at 4.
    assert_eq!(edge_class(&svg, find("lights", Some("red"))), "e w8");
    // `serial` → the sub-flow: no answer, its target has one way in, so
    // it is as busy as the sub-flow's start: 1 + 7 × 75 / 300 = 2.75px,
    // drawn at 3.
    assert_eq!(edge_class(&svg, find("serial", None)), "e w6");
    // The edge after the sub-flow leads to `done`, never entered: 1px.
    assert_eq!(edge_class(&svg, find("cycle", None)), "e w2");
    // Into `lights` lead two edges: `replug`'s takes the base width.
    assert_eq!(edge_class(&svg, find("replug", None)), "e w3");
    assert!(svg.contains("<title>power → lights\ntimes taken: 300</title>"));
}

#[test]
fn plain_graph_is_unchanged_by_the_overlay_code() {
    let program = compiled();
    let (ix, _) = program.get("router-no-internet").expect("the fixture");
    let plain = export(&program, ix, 0, GraphFormat::Svg);
    assert!(!plain.contains("class=\"legend\""));
    assert!(!plain.contains(" h0"));
}

#[test]
fn annotated_svg() {
    let svg = annotated("en");
    assert!(svg.contains("<g class=\"legend\">"));
    insta::assert_snapshot!("annotated_svg", svg);
}

/// The legend's words, in each language the fixture speaks.
#[test]
fn legend_in_the_pictures_language() {
    let mut seen = String::new();
    for lang in ["en", "de"] {
        let svg = annotated(lang);
        let legend = svg.split("<g class=\"legend\">").nth(1).expect("a legend");
        seen.push_str(&format!("--- {lang}\n"));
        for part in legend.split("<text").skip(1) {
            if let Some((_, rest)) = part.split_once('>')
                && let Some((w, _)) = rest.split_once("</text>")
            {
                seen.push_str(w);
                seen.push('\n');
            }
        }
    }
    insta::assert_snapshot!("legend_words", seen);
}

/// Made-up figures for any script: every node entered, some ending badly,
/// the answers sharing the entries unevenly.
fn synthetic(m: &fixpath::program::export::Model) -> Annotation {
    let mut nodes = BTreeMap::new();
    for (i, n) in m.nodes.iter().enumerate() {
        if n.key.contains('.') {
            continue;
        }
        let entered = 60 + (i as u64 * 97) % 400;
        let bad = (entered * ((i as u64 * 7) % 10)) / 20;
        let mut f = figures(entered, bad / 2, bad - bad / 2, &[]);
        for (k, e) in m.edges.iter().filter(|e| e.from == i).enumerate() {
            if let Some(a) = &e.answer {
                f.answers.insert(a.clone(), entered / (k as u64 + 2));
            }
        }
        nodes.insert(n.key.clone(), f);
    }
    Annotation {
        nodes,
        words: fixpath::http::web::author::graph_words("en"),
    }
}

/// Every example script draws annotated, with the legend under the whole
/// graph and the picture tall enough for it. The pictures are left in
/// `target/tmp/annotated/` to look at.
#[test]
fn example_scripts_draw_annotated() {
    let comp = fixpath::compiler::compile_paths(&[std::path::PathBuf::from("scripts")])
        .expect("the examples compile");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("annotated");
    std::fs::create_dir_all(&dir).expect("a folder for the pictures");
    for s in &comp.program.scripts {
        let (ix, _) = comp.program.get(&s.id).expect("listed");
        let m = fixpath::program::export::model(&comp.program, ix, 0);
        let svg = export_annotated(&comp.program, ix, 0, &synthetic(&m));
        std::fs::write(dir.join(format!("{}.svg", s.id)), &svg).expect("written");
        let num = |l: &str, a: &str| -> f64 {
            let k = format!(" {a}=\"");
            let i = l.find(&k).unwrap_or_else(|| panic!("{a} in {l}")) + k.len();
            l[i..]
                .split('"')
                .next()
                .unwrap_or("")
                .parse()
                .unwrap_or(f64::NAN)
        };
        let height = num(svg.lines().next().unwrap_or(""), "height");
        let legend = svg
            .lines()
            .skip_while(|l| *l != "<g class=\"legend\">")
            .nth(1)
            .unwrap_or_else(|| panic!("{}: a legend", s.id));
        let (top, h) = (num(legend, "y"), num(legend, "height"));
        assert!(top + h <= height, "{}: the legend fits the picture", s.id);
        // Nothing of the graph below the legend's top.
        for l in svg.lines().filter(|l| l.starts_with("<rect class=\"s\"")) {
            assert!(
                num(l, "y") + num(l, "height") < top,
                "{}: a box overlaps the legend: {l}",
                s.id
            );
        }
    }
}

// ------------------------------------------------------------ real sessions

/// One customer's way through the printer script.
pub(crate) enum Walk {
    /// "No paper": resolved at the first question.
    PaperAdded,
    /// Paper, a model, a red light: escalated at `light`.
    RedLight,
    /// Paper, a model, no light: resolved at `light`.
    NoLight,
    /// "Talk to a person" at the first question: escalated at `paper`.
    AsksForPerson,
    /// Paper, then nothing: abandoned at `model` once idle.
    GivesUp,
}

pub(crate) async fn walk(app: &TestApp, w: &Walk) {
    let (id, token, _) = app
        .start_session(None, &json!({"script": "printer", "channel": "customer"}))
        .await;
    let t = Some(token.as_str());
    let answer = format!("/api/v1/sessions/{id}/answer");
    let steps: Vec<serde_json::Value> = match w {
        Walk::PaperAdded => vec![json!({"seq": 1, "answer": "no"})],
        Walk::RedLight => vec![
            json!({"seq": 1, "answer": "yes"}),
            json!({"seq": 2, "value": "LX-200"}),
            json!({"seq": 3, "answer": "red"}),
        ],
        Walk::NoLight => vec![
            json!({"seq": 1, "answer": "yes"}),
            json!({"seq": 2, "value": "LX-200"}),
            json!({"seq": 3, "answer": "none"}),
        ],
        Walk::AsksForPerson => {
            app.post(
                &format!("/api/v1/sessions/{id}/escalate"),
                t,
                &json!({"seq": 1}),
            )
            .await
            .assert_ok(200);
            vec![]
        }
        Walk::GivesUp => vec![json!({"seq": 1, "answer": "yes"})],
    };
    // A person takes a while over each step (on a fixed clock; the
    // system clock ignores this).
    for (i, s) in steps.into_iter().enumerate() {
        app.state
            .clock
            .advance(time::Duration::seconds(25 + 20 * i as i64));
        app.post(&answer, t, &s).await.assert_ok(200);
    }
}

// ------------------------------------------------------------ the command

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn fixpath(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_fixpath"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("FIXPATH_SCRIPTS")
        .env_remove("FIXPATH_DB")
        .stdin(Stdio::null())
        .output()
        .expect("the fixpath binary runs");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn stats_wants_svg() {
    for format in ["dot", "mermaid"] {
        let out = fixpath(&[
            "graph",
            "router-no-internet",
            "--scripts",
            FOLDER,
            "--format",
            format,
            "--stats",
            "--db",
            "sqlite::memory:",
        ]);
        assert_eq!(out.code, Some(2), "{}", out.stderr);
        assert_eq!(out.stdout, "");
        assert!(
            out.stderr
                .contains("--stats draws figures on the SVG picture only"),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn stats_refuses_a_database_that_is_not_there() {
    let missing = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("graph-stats-none.db");
    let _ = std::fs::remove_file(&missing);
    let db = missing.to_string_lossy().into_owned();
    let out = fixpath(&[
        "graph",
        "router-no-internet",
        "--scripts",
        FOLDER,
        "--format",
        "svg",
        "--stats",
        "--db",
        &db,
    ]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("there is no database at"),
        "{}",
        out.stderr
    );
    assert!(!missing.exists(), "no database left behind");
}

#[test]
fn stats_options_need_stats() {
    let out = fixpath(&[
        "graph",
        "router-no-internet",
        "--scripts",
        FOLDER,
        "--format",
        "svg",
        "--version",
        "abc",
    ]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(out.stderr.contains("--stats"), "{}", out.stderr);
}

/// The picture `fixpath graph --stats` draws from a server's database after
/// real sessions: eight customers on the printer script (as the browser
/// test drives them), read an hour later by the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_draws_the_figures_of_real_sessions() {
    // The sessions start in March; the command reads them now, so the
    // one who gave up is long past the idle limit.
    let app = TestApp::start_with_setup(
        fixpath::http::HttpConfig::default(),
        &[crate::common::PRINTER],
        |state| {
            state.clock =
                fixpath::clock::Clock::fixed(time::macros::datetime!(2026-03-02 09:00 UTC))
        },
    )
    .await;
    for w in [
        Walk::PaperAdded,
        Walk::PaperAdded,
        Walk::PaperAdded,
        Walk::RedLight,
        Walk::RedLight,
        Walk::NoLight,
        Walk::AsksForPerson,
        Walk::GivesUp,
    ] {
        walk(&app, &w).await;
    }
    let db = app.dir().join("fixpath.db").to_string_lossy().into_owned();
    let scripts = app.dir().join("scripts").to_string_lossy().into_owned();
    let out = tokio::task::spawn_blocking(move || {
        fixpath(&[
            "graph",
            "printer",
            "--scripts",
            &scripts,
            "--format",
            "svg",
            "--stats",
            "--db",
            &db,
        ])
    })
    .await
    .expect("the command ran");
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let svg = out.stdout;
    // `light`: 2 of 3 escalated (67 %); `model`: 1 of 4 gave up (25 %);
    // `paper`: 1 of 8 asked for a person (13 %).
    assert!(node_line(&svg, "light").0.contains(" h7\""), "{svg}");
    assert!(node_line(&svg, "model").0.contains(" h4\""));
    assert!(node_line(&svg, "paper").0.contains(" h3\""));
    assert!(svg.contains(">67% · 3</text>"));
    assert!(svg.contains("<g class=\"legend\">"));
}
