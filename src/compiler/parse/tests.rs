use super::*;

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A script whose nodes use most of YAML's ways of writing a value:
/// plain, quoted and multi-line strings, block scalars, flow
/// collections over several lines, comments, non-ASCII text.
fn varied_script(rng: &mut Rng, nodes: usize) -> String {
    let mut s = String::from(
        "# A generated script\nid: varied\ntitle: { en: \"Varied\", nl: Gevarieerd }\nlanguages: [en, nl]\nvars:\n  attempts: 0\nstart: n0\nnodes:\n",
    );
    for i in 0..nodes {
        let next = if i + 1 < nodes {
            format!("n{}", i + 1)
        } else {
            "done".into()
        };
        if rng.below(5) == 0 {
            s.push_str("# a comment at column 0\n");
        }
        match rng.below(7) {
            0 => s.push_str(&format!(
                "  n{i}:\n    ask: \"Is the light\n      on at step {i}?\"\n    answers:\n      - Yes: {next}\n      - No: {{ escalate: \"Stuck at {i}\" }}\n"
            )),
            1 => s.push_str(&format!(
                "  n{i}:\n    say: |\n      Unplug it.\n\n      Wait {i} seconds — ждите.\n    help: >-\n      Folded\n      help {i}\n    next: {next}\n"
            )),
            2 => s.push_str(&format!(
                "  n{i}:   # trailing comment\n    ask: {{ en: 'Is it ''on''? {i}',\n           nl: 'Staat het aan? {i}' }}\n    answers: [ {{ label: {{ en: Yes, nl: Ja }}, goto: {next} }},\n               {{ label: {{ en: No, nl: Nee }}, resolve: Fine }} ]\n"
            )),
            3 => s.push_str(&format!(
                "  n{i}:\n    input: Serial {i}\n    into: serial\n    pattern: '^[A-Z]{{2}}\\d+$'\n    next: {next}\n"
            )),
            4 => s.push_str(&format!(
                "  n{i}:\n    branch:\n      - if: attempts > {i}\n        goto: {next}\n      - else: {next}\n"
            )),
            5 => s.push_str(&format!(
                "  n{i}:\n    say: a plain text\n      that goes on {i}\n    next: {next}\n\n"
            )),
            _ => s.push_str(&format!(
                "  n{i}:\n    ask: Keep going? {i}\n    answers:\n      - label: Yes\n        set: {{ attempts: \"{{{{ attempts + 1 }}}}\" }}\n        goto: {next}\n      - No: done\n"
            )),
        }
    }
    s.push_str("  done:\n    resolve: |+\n      Solved.\n\n");
    s
}

/// Small edits with YAML's significant characters.
fn mutate(rng: &mut Rng, text: &str) -> String {
    const BITS: &[&str] = &[
        "\"",
        "'",
        "[",
        "]",
        "{",
        "}",
        "|",
        ">",
        "#",
        ":",
        ": ",
        "-",
        " ",
        "  ",
        "\n",
        "\n  ",
        "&a ",
        "*a",
        "\t",
        "?",
        "\r",
        "\r\n",
        "---\n",
        "\u{feff}",
        "é",
        ",",
        "\nnodes:\n",
        "\n  n1:\n",
        "\nx: 1\n",
    ];
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(3) {
            0 => {
                let bit = BITS[rng.below(BITS.len())].as_bytes();
                bytes.splice(at..at, bit.iter().copied());
            }
            1 if at < bytes.len() => {
                let to = (at + 1 + rng.below(8)).min(bytes.len());
                bytes.drain(at..to);
            }
            _ if at < bytes.len() => {
                let bit = BITS[rng.below(BITS.len())].as_bytes();
                let to = (at + bit.len()).min(bytes.len());
                bytes.splice(at..to, bit.iter().copied());
            }
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// What reading `text` gives: the script and the diagnostics.
fn reading(text: &str, min_part: Option<usize>) -> (Option<Script>, Vec<String>) {
    let mut diags = Vec::new();
    let s = match min_part {
        Some(m) => parse_with(FileId(0), text, &mut diags, 4, m),
        None => parse_whole(FileId(0), text, &mut diags),
    };
    (s, diags.iter().map(|d| format!("{d:?}")).collect())
}

const MIN_PART: usize = 512;

/// Fails with where two readings first differ (they are long).
fn assert_same(
    parts: &(Option<Script>, Vec<String>),
    whole: &(Option<Script>, Vec<String>),
    text: &str,
) {
    if parts == whole {
        return;
    }
    let (a, b) = (format!("{parts:?}"), format!("{whole:?}"));
    let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    let from = a[..at].char_indices().rev().nth(300).map_or(0, |(i, _)| i);
    let window = |s: &str| s[from..].chars().take(600).collect::<String>();
    panic!(
        "read in parts:\n{}\n\nread whole:\n{}\n\nthe file:\n{text}",
        window(&a),
        window(&b)
    );
}

#[test]
fn a_file_read_in_parts_gives_what_reading_it_whole_gives() {
    let mut rng = Rng(7);
    let mut split = 0;
    for round in 0..60 {
        let n = 20 + rng.below(60);
        let text = varied_script(&mut rng, n);
        let text = if round % 5 == 4 {
            text.replace('\n', "\r\n")
        } else {
            text
        };
        let parts = split::plan(&text, 4, MIN_PART);
        split += usize::from(parts.as_ref().is_some_and(|p| {
            let sink = read_parts(FileId(0), &text, p);
            sink.is_some()
        }));
        let whole = reading(&text, None);
        assert!(whole.0.is_some(), "{:#?}\n{text}", whole.1);
        assert_same(&reading(&text, Some(MIN_PART)), &whole, &text);
    }
    // Nearly every clean file is read in parts.
    assert!(split >= 50, "only {split} of 60 were read in parts");
}

#[test]
fn nesting_in_a_later_part_meets_the_depth_limit_where_it_does_whole() {
    let mut rng = Rng(3);
    let text = varied_script(&mut rng, 60);
    let at = text.find("  done:").expect("the last node");
    // The file's root, `nodes` and the node enclose `say`'s lists: 125
    // of them are the deepest allowed, 126 are one too many.
    for depth in [124, 125, 126, 127] {
        let deep = format!(
            "  deep:\n    say: {}{}\n    next: done\n",
            "[".repeat(depth),
            "]".repeat(depth)
        );
        let text = format!("{}{deep}{}", &text[..at], &text[at..]);
        let parts = split::plan(&text, 4, MIN_PART).expect("a plan");
        assert!(parts.last().is_some_and(|p| p.bytes.start < at));
        let whole = reading(&text, None);
        let too_deep = whole.1.iter().any(|d| d.contains("nesting deeper"));
        assert_eq!(too_deep, depth > 125, "{:#?}", whole.1);
        assert_same(&reading(&text, Some(MIN_PART)), &whole, &text);
    }
}

#[test]
fn a_mutated_file_read_in_parts_gives_what_reading_it_whole_gives() {
    let rounds: usize = std::env::var("FIXPATH_SPLIT_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(1000);
    let seed = std::env::var("FIXPATH_SPLIT_SEED")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(11);
    let mut rng = Rng(seed);
    let base: Vec<String> = (0..8)
        .map(|_| {
            let n = 30 + rng.below(40);
            varied_script(&mut rng, n)
        })
        .collect();
    let (mut split, mut broken) = (0, 0);
    for _ in 0..rounds {
        let pick = rng.below(base.len());
        let text = mutate(&mut rng, &base[pick]);
        let whole = reading(&text, None);
        let parts = split::plan(&text, 4, MIN_PART);
        if parts.is_some_and(|p| read_parts(FileId(0), &text, &p).is_some()) {
            split += 1;
            broken += usize::from(!whole.1.is_empty());
        }
        assert_same(&reading(&text, Some(MIN_PART)), &whole, &text);
    }
    // The comparison means something only if many mutated files were
    // read in parts, some of them with diagnostics. (Most edits break
    // the YAML or the plan, and those files are read whole.)
    assert!(split > rounds / 6, "{split} of {rounds} read in parts");
    assert!(broken > 0, "no mutated file read in parts had a diagnostic");
}
