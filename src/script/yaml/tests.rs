use super::*;

/// An owned copy of a value, for assertions.
#[derive(Debug, Clone, PartialEq)]
struct Tree {
    value: Owned,
    span: Span,
}

#[derive(Debug, Clone, PartialEq)]
enum Owned {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Tree>),
    Map(Vec<(Tree, Tree)>),
}

fn own(y: Yaml<'_>) -> Tree {
    let value = match y.value() {
        Value::Null => Owned::Null,
        Value::Bool(b) => Owned::Bool(b),
        Value::Int(i) => Owned::Int(i),
        Value::Float(f) => Owned::Float(f),
        Value::Str(s) => Owned::Str(s.into()),
        Value::Seq(items) => Owned::Seq(items.iter().map(own).collect()),
        Value::Map(entries) => Owned::Map(entries.iter().map(|(k, v)| (own(k), own(v))).collect()),
    };
    Tree {
        value,
        span: y.span(),
    }
}

impl Tree {
    fn get(&self, key: &str) -> Option<&Tree> {
        match &self.value {
            Owned::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.value == Owned::Str(key.into()))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// Keeps the whole document (streams nothing), or, with `stream`, streams
/// the root and its `nodes` and records what came when.
#[derive(Default)]
struct Keep {
    stream: bool,
    root: Option<Tree>,
    entries: Vec<(Level, Tree, Tree)>,
}

impl Sink for Keep {
    fn stream(&mut self, key: Option<Yaml<'_>>) -> bool {
        self.stream && key.is_none_or(|k| k.as_str() == Some("nodes"))
    }
    fn entry(&mut self, level: Level, key: Yaml<'_>, value: Yaml<'_>) {
        self.entries.push((level, own(key), own(value)));
    }
    fn root(&mut self, root: Yaml<'_>) {
        self.root = Some(own(root));
    }
}

fn build(text: &str, budget: usize) -> (Read, Option<Tree>) {
    let mut keep = Keep::default();
    let read = read(text, budget, &mut keep);
    (read, keep.root)
}

fn root(text: &str) -> Tree {
    let (read, root) = build(text, 1_000_000);
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    root.expect("a root")
}

#[test]
fn scalars_follow_yaml_1_2_core_schema() {
    let r = root("a: Yes\nb: no\nc: true\nd: 12\ne: 1.5\nf: ~\ng: '12'\nh: -3\n");
    assert_eq!(r.get("a").unwrap().value, Owned::Str("Yes".into()));
    assert_eq!(r.get("b").unwrap().value, Owned::Str("no".into()));
    assert_eq!(r.get("c").unwrap().value, Owned::Bool(true));
    assert_eq!(r.get("d").unwrap().value, Owned::Int(12));
    assert_eq!(r.get("e").unwrap().value, Owned::Float(1.5));
    assert_eq!(r.get("f").unwrap().value, Owned::Null);
    assert_eq!(r.get("g").unwrap().value, Owned::Str("12".into()));
    assert_eq!(r.get("h").unwrap().value, Owned::Int(-3));
}

#[test]
fn values_carry_their_own_line_and_column() {
    let r = root("id: x\nnodes:\n  a:\n    ask: Hello\n");
    let ask = r
        .get("nodes")
        .unwrap()
        .get("a")
        .unwrap()
        .get("ask")
        .unwrap();
    assert_eq!((ask.span.start.line, ask.span.start.column), (4, 10));
}

#[test]
fn duplicate_keys_are_reported_where_they_stand() {
    let (read, _) = build("a: 1\nb: 2\na: 3\n", 100);
    assert_eq!(read.problems.len(), 1);
    match &read.problems[0] {
        BuildProblem::DuplicateKey { key, span, first } => {
            assert_eq!(key, "a");
            assert_eq!((span.start.line, first.start.line), (3, 1));
        }
        p => panic!("unexpected {p:?}"),
    }
}

#[test]
fn duplicate_keys_are_found_in_large_mappings_too() {
    let mut s: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
    s.push_str("k3: again\nk39: again\n");
    let (read, _) = build(&s, 1_000);
    let dups: Vec<(String, u32, u32)> = read
        .problems
        .iter()
        .filter_map(|p| match p {
            BuildProblem::DuplicateKey { key, span, first } => {
                Some((key.clone(), span.start.line, first.start.line))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        dups,
        vec![("k3".to_string(), 41, 4), ("k39".to_string(), 42, 40)]
    );
}

#[test]
fn alias_bombs_are_refused() {
    let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        s.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let (read, root) = build(&s, 100_000);
    assert!(read.aborted && root.is_none());
    assert!(
        matches!(&read.problems[0], BuildProblem::Syntax { message, .. } if message.contains("alias"))
    );
}

#[test]
fn deep_nesting_is_refused_without_recursion() {
    let block: String = (0..50_000)
        .map(|i| format!("{}a:\n", " ".repeat(i % 2000)))
        .collect();
    for s in [
        "[".repeat(50_000),
        "{a: ".repeat(50_000),
        "- ".repeat(50_000),
        block,
    ] {
        let (read, root) = build(&s, 1_000_000);
        assert!(read.aborted && root.is_none());
        assert!(
            matches!(&read.problems[0], BuildProblem::Syntax { message, .. } if message.contains("nesting")),
            "{:?}",
            read.problems
        );
    }
}

#[test]
fn syntax_errors_have_a_position() {
    let (read, root) = build("a: [1, 2\nb: 3\n", 100);
    assert!(read.aborted && root.is_none());
    match &read.problems[0] {
        BuildProblem::Syntax { span, .. } => assert!(span.start.line >= 1),
        p => panic!("unexpected {p:?}"),
    }
}

#[test]
fn streamed_entries_come_as_they_complete_and_aliases_reach_across_them() {
    let text = "id: x\nnodes:\n  a: &h {say: Hi}\n  b: *h\n  a: again\nafter: [1, *h]\n";
    let mut keep = Keep {
        stream: true,
        ..Keep::default()
    };
    let read = read(text, 1_000, &mut keep);
    assert!(!read.aborted);
    // The duplicate node `a` is reported where it stands, as in any mapping.
    assert!(matches!(
        &read.problems[..],
        [BuildProblem::DuplicateKey { key, span, first }]
            if key == "a" && span.start.line == 5 && first.start.line == 3
    ));
    let got: Vec<(Level, Owned, u32)> = keep
        .entries
        .iter()
        .map(|(l, k, v)| (*l, k.value.clone(), v.span.start.line))
        .collect();
    let s = |t: &str| Owned::Str(t.into());
    assert_eq!(
        got,
        vec![
            (Level::Root, s("id"), 1),
            (Level::Child, s("a"), 3),
            (Level::Child, s("b"), 4),
            (Level::Root, s("nodes"), 3),
            (Level::Root, s("after"), 6),
        ]
    );
    // The alias is the anchored value, at the alias's place.
    let b = &keep.entries[2].2;
    assert_eq!(b.get("say").map(|v| &v.value), Some(&s("Hi")));
    let after = &keep.entries[4].2;
    assert!(matches!(&after.value, Owned::Seq(items) if items[1].get("say").is_some()));
    // The streamed root arrives after its entries, with its span.
    assert_eq!(keep.root.map(|r| r.span.start.line), Some(1));
}
