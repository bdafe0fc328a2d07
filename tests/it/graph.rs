//! `fixpath graph`: the compiled graph of a script as DOT, Mermaid and SVG.
//!
//! The fixture `tests/fixtures/graph/router-no-internet.yaml` holds every node
//! kind (a question with `say` and `help`, an instruction, an input, a branch,
//! a sub-flow, a resolve, an escalate, and answers that resolve or escalate
//! themselves); the sub-flow beside it ends in `return`. DOT and Mermaid are
//! snapshotted. The SVG is read back as geometry: its crossings are counted
//! against Graphviz's on the example scripts and a generated 60-node one,
//! every label must sit on its own edge, and the picture's own words are
//! snapshotted in all five languages.

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

// ------------------------------------------------------------ the picture

#[path = "../../benches/scriptgen/mod.rs"]
mod scriptgen;

/// A point of the picture.
type Pt = (f64, f64);

/// The drawn picture, read back from the SVG: each edge as a polyline (its
/// cubic curves sampled), and each edge label as a rectangle, keyed by the
/// edge's `data-e`.
struct Picture {
    edges: Vec<(usize, Vec<Pt>)>,
    labels: Vec<(usize, [f64; 4])>,
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let i = tag.find(&key)? + key.len();
    tag[i..].split('"').next()
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("a number: {s:?}"))
}

/// `M x,y C x,y x,y x,y …` as sampled points.
fn polyline(d: &str) -> Vec<Pt> {
    let mut pts = Vec::new();
    let mut cur = (0.0, 0.0);
    let spaced = d.replace('M', " M ").replace('C', " C ");
    let mut toks = spaced.split_whitespace();
    let pt = |t: &str| -> Pt {
        let (x, y) = t.split_once(',').expect("x,y");
        (num(x), num(y))
    };
    while let Some(t) = toks.next() {
        match t {
            "M" => {
                cur = pt(toks.next().expect("a point"));
                pts.push(cur);
            }
            "C" => {
                let c1 = pt(toks.next().expect("c1"));
                let c2 = pt(toks.next().expect("c2"));
                let b = pt(toks.next().expect("end"));
                for k in 1..=16 {
                    let t = k as f64 / 16.0;
                    let u = 1.0 - t;
                    let (k0, k1, k2, k3) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
                    pts.push((
                        k0 * cur.0 + k1 * c1.0 + k2 * c2.0 + k3 * b.0,
                        k0 * cur.1 + k1 * c1.1 + k2 * c2.1 + k3 * b.1,
                    ));
                }
                cur = b;
            }
            other => panic!("unexpected path token {other:?} in {d}"),
        }
    }
    pts
}

fn picture(svg: &str) -> Picture {
    let mut p = Picture {
        edges: Vec::new(),
        labels: Vec::new(),
    };
    for line in svg.lines() {
        if line.starts_with("<path class=\"e") {
            let e = num(attr(line, "data-e").expect("data-e on an edge")) as usize;
            p.edges.push((e, polyline(attr(line, "d").expect("d"))));
        } else if line.starts_with("<g class=\"l\"") || line.starts_with("<g class=\"l ") {
            let e = num(attr(line, "data-e").expect("data-e on a label")) as usize;
            let rect = &line[line.find("<rect").expect("a label's box")..];
            let r = ["x", "y", "width", "height"].map(|a| num(attr(rect, a).expect(a)));
            p.labels.push((e, r));
        }
    }
    p
}

/// Whether segments ab and cd cross properly (touching ends do not count:
/// edges that share a box start or end at neighbouring ports).
fn cross(a: Pt, b: Pt, c: Pt, d: Pt) -> bool {
    let orient = |p: Pt, q: Pt, r: Pt| (q.0 - p.0) * (r.1 - p.1) - (q.1 - p.1) * (r.0 - p.0);
    let (d1, d2) = (orient(c, d, a), orient(c, d, b));
    let (d3, d4) = (orient(a, b, c), orient(a, b, d));
    d1 * d2 < 0.0 && d3 * d4 < 0.0
}

fn seg_in_rect(a: Pt, b: Pt, r: [f64; 4]) -> bool {
    let [x, y, w, h] = r;
    let inside = |p: Pt| p.0 > x && p.0 < x + w && p.1 > y && p.1 < y + h;
    if inside(a) || inside(b) {
        return true;
    }
    let c = [(x, y), (x + w, y), (x + w, y + h), (x, y + h)];
    (0..4).any(|i| cross(a, b, c[i], c[(i + 1) % 4]))
}

/// Crossings in the picture: every point where two edges cross, plus every
/// edge that runs through another edge's label (a label on a crossing).
fn crossings(p: &Picture) -> usize {
    let mut n = 0;
    for (i, (_, a)) in p.edges.iter().enumerate() {
        for (_, b) in &p.edges[i + 1..] {
            for s in a.windows(2) {
                for t in b.windows(2) {
                    if cross(s[0], s[1], t[0], t[1]) {
                        n += 1;
                    }
                }
            }
        }
    }
    for &(le, r) in &p.labels {
        for (e, line) in &p.edges {
            if *e != le && line.windows(2).any(|s| seg_in_rect(s[0], s[1], r)) {
                n += 1;
            }
        }
    }
    n
}

/// The SVG of a script in `scripts/`, and its picture.
fn example(id: &str) -> (String, Picture) {
    let svg = graph(&[id, "--scripts", "scripts", "--format", "svg"]);
    let p = picture(&svg);
    (svg, p)
}

/// A generated script of 60 nodes (benches/scriptgen, seed 60), written
/// where cargo keeps test files; returns its path.
fn sixty() -> String {
    let g = scriptgen::script(&scriptgen::Options::new("sixty", 60, 60));
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("graph-sixty");
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let path = dir.join("sixty.yaml");
    std::fs::write(&path, g.text).expect("the script is written");
    path.to_string_lossy().into_owned()
}

/// Graphviz's crossings on the same graphs, measured on 2026-12-07 with
/// graphviz 2.43 (Debian 12): `fixpath graph ID --format dot | dot -v -Tplain`
/// prints "mincross …: N crossings" (dot counts the crossings of its rank
/// orders, edge labels included as nodes of their own, as we draw them).
const DOT_CROSSINGS: &[(&str, usize)] = &[
    ("router-no-internet", 1),
    ("laptop-no-boot", 1),
    ("slow-computer", 8),
    ("tv-no-signal", 1),
];
/// The same for the 60-node script of [`sixty`] (the file it writes).
const DOT_SIXTY: usize = 46;

#[test]
fn no_more_crossings_than_dot() {
    let mut report = Vec::new();
    for &(id, dot) in DOT_CROSSINGS {
        let (_, p) = example(id);
        report.push((id.to_owned(), crossings(&p), dot));
    }
    let svg = graph(&[&sixty(), "--format", "svg"]);
    report.push(("sixty".into(), crossings(&picture(&svg)), DOT_SIXTY));
    for (id, ours, dot) in &report {
        assert!(
            ours <= dot,
            "{id}: {ours} crossings, dot has {dot}; all: {report:?}"
        );
    }
}

#[test]
fn crossings_are_counted() {
    // Two edges that swap sides cross once; a third runs through a label.
    let svg = "<path class=\"e\" data-e=\"0\" d=\"M0,0C0,50 100,50 100,100\"/>\n\
               <path class=\"e\" data-e=\"1\" d=\"M100,0C100,40 0,40 0,80\"/>\n\
               <path class=\"e\" data-e=\"2\" d=\"M200,0C200,30 200,60 200,100\"/>\n\
               <g class=\"l\" data-e=\"0\"><rect x=\"190\" y=\"40\" width=\"30\" height=\"20\"/></g>\n\
               <g class=\"l\" data-e=\"2\"><rect x=\"190\" y=\"70\" width=\"30\" height=\"20\"/></g>\n";
    assert_eq!(crossings(&picture(svg)), 2);
}

#[test]
fn labels_stand_on_their_own_edge() {
    for &(id, _) in DOT_CROSSINGS {
        let (_, p) = example(id);
        assert!(!p.labels.is_empty(), "{id} has labels");
        for &(e, r) in &p.labels {
            let (_, line) = p
                .edges
                .iter()
                .find(|(k, _)| *k == e)
                .unwrap_or_else(|| panic!("{id}: label {e} has an edge"));
            assert!(
                line.windows(2).any(|s| seg_in_rect(s[0], s[1], r)),
                "{id}: label of edge {e} is off its edge"
            );
        }
    }
}

/// Edge labels that are the picture's words, not the script's answers.
const OURS: &[&str] = &[
    "returned",
    "else",
    "terug",
    "anders",
    "zurück",
    "sonst",
    "tagasi",
    "muidu",
    "после возврата",
    "иначе",
];

/// The text of every `<text>` element on a line.
fn texts(line: &str) -> Vec<&str> {
    line.split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>').and_then(|(_, r)| r.split_once("</text>")))
        .map(|(w, _)| w)
        .collect()
}

/// The picture's own words (outcome titles, the start tag, the edge after a
/// sub-flow, a branch's fallback) in every language the script speaks.
#[test]
fn own_words_in_the_pictures_language() {
    let mut seen = String::new();
    for lang in ["en", "nl", "de", "et", "ru"] {
        let svg = graph(&[
            "router-no-internet",
            "--scripts",
            "scripts",
            "--format",
            "svg",
            "--language",
            lang,
        ]);
        seen.push_str(&format!("--- {lang}\n"));
        // The title of an outcome, its lines joined.
        let mut outcome: Option<Vec<String>> = None;
        for line in svg.lines() {
            let words = texts(line).join(" ");
            if line.starts_with("<g class=\"n ok") || line.starts_with("<g class=\"n esc") {
                outcome = Some(Vec::new());
            } else if line == "</g>" {
                if let Some(title) = outcome.take() {
                    seen.push_str(&title.join(" "));
                    seen.push('\n');
                }
            } else if line.starts_with("<text class=\"t\"") {
                if let Some(title) = outcome.as_mut() {
                    title.push(words);
                }
            } else if line.starts_with("<g class=\"tag\"")
                || (line.starts_with("<g class=\"l\"") && OURS.contains(&words.as_str()))
            {
                seen.push_str(&words);
                seen.push('\n');
            }
        }
    }
    insta::assert_snapshot!("own_words", seen);
}
