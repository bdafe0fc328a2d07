//! Input values the load generators send: a tiny generator for the
//! regular expressions scripts use, checked against the real regex.

use super::InputSpec;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One piece of a pattern: the characters it may be, and how many times.
#[derive(Debug, Clone)]
struct Piece {
    chars: Vec<char>,
    min: usize,
    max: usize,
}

/// A generator of strings matching a simple pattern: anchors, literals,
/// escapes (`\d \w \s \+ \.` …), `.`, character classes with ranges and
/// negation, and the quantifiers `? * + {n} {m,} {m,n}`. Groups and
/// alternation are not supported ([`ValueGen::parse`] gives `None`).
/// Negated classes and `.` draw from letters and digits. Unbounded
/// repetitions stop at the minimum + 3.
#[derive(Debug, Clone)]
struct ValueGen {
    pieces: Vec<Piece>,
}

const ALNUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

impl ValueGen {
    fn parse(pattern: &str) -> Option<ValueGen> {
        let cs: Vec<char> = pattern.chars().collect();
        let mut i = 0;
        let mut pieces: Vec<Piece> = Vec::new();
        while i < cs.len() {
            let c = cs[i];
            i += 1;
            let chars: Vec<char> = match c {
                '^' | '$' => continue,
                '(' | ')' | '|' => return None,
                '.' => ALNUM.chars().collect(),
                '\\' => {
                    let e = *cs.get(i)?;
                    i += 1;
                    escape_class(e).unwrap_or_else(|| vec![e])
                }
                '[' => {
                    let (set, next) = parse_class(&cs, i)?;
                    i = next;
                    set
                }
                '?' | '*' | '+' | '{' => {
                    let last = pieces.last_mut()?;
                    let (min, max) = match c {
                        '?' => (0, 1),
                        '*' => (0, 3),
                        '+' => (1, 4),
                        _ => {
                            let close = cs[i..].iter().position(|&c| c == '}')? + i;
                            let body: String = cs[i..close].iter().collect();
                            i = close + 1;
                            match body.split_once(',') {
                                None => {
                                    let n = body.trim().parse().ok()?;
                                    (n, n)
                                }
                                Some((a, b)) => {
                                    let a: usize = a.trim().parse().ok()?;
                                    let b = if b.trim().is_empty() {
                                        a + 3
                                    } else {
                                        b.trim().parse().ok()?
                                    };
                                    (a, b)
                                }
                            }
                        }
                    };
                    // A lazy `?` after a quantifier changes nothing here.
                    if cs.get(i) == Some(&'?') {
                        i += 1;
                    }
                    last.min = min;
                    last.max = max;
                    continue;
                }
                c => vec![c],
            };
            if chars.is_empty() {
                return None;
            }
            pieces.push(Piece {
                chars,
                min: 1,
                max: 1,
            });
        }
        Some(ValueGen { pieces })
    }

    fn generate(&self, rng: &mut SmallRng) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            let n = rng.gen_range(p.min..=p.max.max(p.min));
            for _ in 0..n {
                out.push(p.chars[rng.gen_range(0..p.chars.len())]);
            }
        }
        out
    }
}

fn escape_class(e: char) -> Option<Vec<char>> {
    Some(match e {
        'd' => ('0'..='9').collect(),
        'w' => ALNUM.chars().chain(['_']).collect(),
        's' => vec![' '],
        'D' | 'W' | 'S' => "abcdefghijklmnopqrstuvwxyz".chars().collect(),
        _ => return None,
    })
}

/// `[...]` from just after the `[`: the set, and the index after the `]`.
fn parse_class(cs: &[char], mut i: usize) -> Option<(Vec<char>, usize)> {
    let negated = cs.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut set: Vec<char> = Vec::new();
    let mut excluded_escapes: Vec<char> = Vec::new();
    let mut first = true;
    loop {
        let c = *cs.get(i)?;
        i += 1;
        if c == ']' && !first {
            break;
        }
        first = false;
        let lo = if c == '\\' {
            let e = *cs.get(i)?;
            i += 1;
            if let Some(class) = escape_class(e) {
                set.extend(class);
                excluded_escapes.push(e);
                continue;
            }
            e
        } else {
            c
        };
        if cs.get(i) == Some(&'-') && cs.get(i + 1).is_some_and(|&n| n != ']') {
            let hi = cs[i + 1];
            i += 2;
            set.extend(lo..=hi);
        } else {
            set.push(lo);
        }
    }
    if negated {
        let allowed: Vec<char> = ALNUM.chars().filter(|c| !set.contains(c)).collect();
        Some((allowed, i))
    } else {
        // Prefer the letters and digits of a class, when it has some: values
        // like `A /` match but read badly in logs.
        let alnum: Vec<char> = set
            .iter()
            .copied()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        Some((if alnum.is_empty() { set } else { alnum }, i))
    }
}

/// A value of an input type, ignoring any pattern.
fn typed_value(kind: &str, rng: &mut SmallRng) -> serde_json::Value {
    match kind {
        "number" => serde_json::Value::from(rng.gen_range(0..=9)),
        "email" => format!("user{}@example.com", rng.gen_range(0..10_000)).into(),
        "phone" => format!("+316{:08}", rng.gen_range(0..100_000_000u32)).into(),
        _ => "load test value".into(),
    }
}

/// Values for input steps: the pattern's generator when it has one that
/// checks out (20 samples all match the real regex), else the type's value.
#[derive(Default)]
pub struct Inputs {
    gens: HashMap<String, Option<ValueGen>>,
}

impl Inputs {
    fn generator(&mut self, pattern: &str) -> Option<&ValueGen> {
        self.gens
            .entry(pattern.to_owned())
            .or_insert_with(|| checked_generator(pattern))
            .as_ref()
    }

    pub fn value(&mut self, spec: &InputSpec, rng: &mut SmallRng) -> serde_json::Value {
        if !spec.required && rng.gen_bool(0.2) {
            return "".into();
        }
        match spec.pattern.as_deref().and_then(|p| self.generator(p)) {
            Some(g) if spec.kind == "number" => {
                let s = g.generate(rng);
                s.parse::<i64>()
                    .map(Into::into)
                    .unwrap_or_else(|_| s.into())
            }
            Some(g) => g.generate(rng).into(),
            None => typed_value(&spec.kind, rng),
        }
    }
}

fn checked_generator(pattern: &str) -> Option<ValueGen> {
    let re = regex::Regex::new(pattern).ok()?;
    let g = ValueGen::parse(pattern)?;
    let mut rng = SmallRng::seed_from_u64(7);
    (0..20)
        .all(|_| re.is_match(&g.generate(&mut rng)))
        .then_some(g)
}

/// The `pattern:` values of the scripts folder (plain, single- or
/// double-quoted YAML scalars), with the file and line they are on.
fn script_patterns(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            (name.ends_with(".yaml") || name.ends_with(".yml")) && !name.contains(".test.")
        })
        .collect();
    files.sort();
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let Some(raw) = line.trim_start().strip_prefix("pattern:") else {
                continue;
            };
            let raw = raw.trim();
            let value = if let Some(s) = raw.strip_prefix('\'') {
                s.rsplit_once('\'').map(|(v, _)| v.replace("''", "'"))
            } else if let Some(s) = raw.strip_prefix('"') {
                s.rsplit_once('"').map(|(v, _)| {
                    v.replace("\\\\", "\u{0}")
                        .replace("\\\"", "\"")
                        .replace('\u{0}', "\\")
                })
            } else {
                Some(raw.split(" #").next().unwrap_or(raw).trim().to_owned())
            };
            if let Some(v) = value {
                found.push((format!("{}:{}", file.display(), n + 1), v));
            }
        }
    }
    found
}

/// Every pattern of the folder must get generated values that match it (and
/// pass the engine's type checks, which the patterns here imply).
pub fn check_patterns(dir: &Path) -> Result<usize, String> {
    let patterns = script_patterns(dir);
    let mut bad = Vec::new();
    let mut rng = SmallRng::seed_from_u64(1);
    for (at, p) in &patterns {
        let Ok(re) = regex::Regex::new(p) else {
            bad.push(format!("{at}: `{p}` is not a regex"));
            continue;
        };
        match checked_generator(p) {
            Some(g) => {
                for _ in 0..200 {
                    let v = g.generate(&mut rng);
                    if !re.is_match(&v) {
                        bad.push(format!("{at}: `{v}` does not match `{p}`"));
                        break;
                    }
                }
            }
            None => bad.push(format!("{at}: no generator for `{p}`")),
        }
    }
    if bad.is_empty() {
        Ok(patterns.len())
    } else {
        Err(bad.join("\n"))
    }
}
