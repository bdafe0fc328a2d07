//! Finding a script from what a person types into the wizard's search box:
//! "my internet does not work", "wachtwoord vergeten", «пароль».
//!
//! Every script is indexed by the words of its title, its tags, its
//! questions and its answer labels, in every language it speaks. Words are
//! folded (case, accents; `Wi-Fi` is also `wifi`), and the words that say
//! nothing about the problem ("my", "does", "not work", «не работает») are
//! dropped, per language. A query word matches an indexed word exactly, as
//! its beginning (`print` finds `printer`), by a shared stem (`пароль` finds
//! `пароля`) or with a typo (`pasword`). Scripts that match more of the
//! query's words come first; among those, a match in the title counts more
//! than one in the tags, the tags more than a question, a question more than
//! an answer.
//!
//! Cyrillic is folded to lower case but never transliterated: a Latin
//! transliteration would let «сеть» (network) match `set-top box`.

use crate::program::{NodeKind, Program, Script, TextId};
use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

/// At most this many characters of a query are read.
pub const MAX_QUERY_CHARS: usize = 200;
/// At most this many words of a query count; the rest are ignored.
pub const MAX_QUERY_WORDS: usize = 12;

/// Where a word was found, from the strongest to the weakest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Title = 0,
    Tag = 1,
    Question = 2,
    Answer = 3,
}

impl Field {
    fn weight(self) -> u32 {
        match self {
            Field::Title => 8,
            Field::Tag => 4,
            Field::Question => 2,
            Field::Answer => 1,
        }
    }
}

/// The search index of one program's customer-facing scripts: every
/// distinct word once, with the scripts it occurs in, so a query compares
/// each of its words with each distinct word only once however many
/// scripts share it.
#[derive(Debug, Default)]
pub struct Index {
    scripts: Vec<String>,
    /// Word -> the scripts (positions in `scripts`) it occurs in, each with
    /// the strongest field it occurs in there.
    words: Vec<(String, Vec<(u32, Field)>)>,
}

/// One script found, with how well it matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub script: String,
    /// How many of the query's words it matched.
    pub matched: usize,
    pub score: u32,
}

impl Index {
    /// Indexes the scripts of `program` that `include` accepts.
    pub fn build(program: &Program, include: impl Fn(&Script) -> bool) -> Index {
        let mut scripts = Vec::new();
        let mut words: HashMap<String, Vec<(u32, Field)>> = HashMap::new();
        for s in program.scripts.iter().filter(|s| include(s)) {
            let ix = scripts.len() as u32;
            scripts.push(s.id.clone());
            for (word, field) in script_words(program, s) {
                words.entry(word).or_default().push((ix, field));
            }
        }
        let mut words: Vec<_> = words.into_iter().collect();
        words.sort_by(|a, b| a.0.cmp(&b.0));
        Index { scripts, words }
    }

    /// The scripts that match at least one word of `query`, best first.
    /// A query of stop words only (or nothing) finds nothing.
    pub fn search(&self, query: &str) -> Vec<Hit> {
        let query: String = query.chars().take(MAX_QUERY_CHARS).collect();
        let mut words: Vec<String> = Vec::new();
        for w in query_words(&query) {
            if !words.contains(&w) {
                words.push(w);
            }
            if words.len() == MAX_QUERY_WORDS {
                break;
            }
        }
        if words.is_empty() {
            return Vec::new();
        }
        // (matched query words, score) per script.
        let mut totals = vec![(0usize, 0u32); self.scripts.len()];
        let mut best = vec![0u32; self.scripts.len()];
        for q in &words {
            best.fill(0);
            for (w, postings) in &self.words {
                let Some(quality) = word_match(q, w) else {
                    continue;
                };
                for &(ix, field) in postings {
                    let b = &mut best[ix as usize];
                    *b = (*b).max(field.weight() * quality);
                }
            }
            for (total, &b) in totals.iter_mut().zip(&best) {
                if b > 0 {
                    total.0 += 1;
                    total.1 += b;
                }
            }
        }
        let mut hits: Vec<Hit> = totals
            .into_iter()
            .zip(&self.scripts)
            .filter(|((matched, _), _)| *matched > 0)
            .map(|((matched, score), script)| Hit {
                script: script.clone(),
                matched,
                score,
            })
            .collect();
        hits.sort_by(|a, b| {
            b.matched
                .cmp(&a.matched)
                .then(b.score.cmp(&a.score))
                .then(a.script.cmp(&b.script))
        });
        hits
    }
}

/// The words of one script, each with the strongest field it occurs in.
fn script_words(program: &Program, s: &Script) -> Vec<(String, Field)> {
    let mut words: HashMap<String, Field> = HashMap::new();
    let mut add = |text: &str, field: Field| {
        for w in index_words(text) {
            let f = words.entry(w).or_insert(field);
            *f = (*f).min(field);
        }
    };
    let texts = |id: TextId| -> Vec<String> {
        (0..s.languages.len().max(1))
            .map(|i| program.templates.source(id, i).into_owned())
            .collect()
    };
    for t in texts(s.title) {
        add(&t, Field::Title);
    }
    add(&s.id.replace('-', " "), Field::Title);
    for tag in &s.tags {
        add(tag, Field::Tag);
    }
    for (_, node) in s.nodes() {
        match &node.kind {
            // Instructions and greetings (`say`) are left out: every script
            // says "hello" and names passwords and settings in passing.
            NodeKind::Ask { text, answers, .. } => {
                for t in texts(*text) {
                    add(&t, Field::Question);
                }
                for a in answers {
                    for t in texts(a.label) {
                        add(&t, Field::Answer);
                    }
                }
            }
            NodeKind::Input { text, .. } => {
                for t in texts(*text) {
                    add(&t, Field::Question);
                }
            }
            _ => {}
        }
    }
    words.into_iter().collect()
}

/// How well a query word `q` matches an indexed word `w`, out of 4; `None`
/// when it does not. Short words must match exactly: `tv` must not find
/// `tvöö`, nor `ei` find `eile`.
fn word_match(q: &str, w: &str) -> Option<u32> {
    if q == w {
        return Some(4);
    }
    let (ql, wl) = (q.chars().count(), w.chars().count());
    if ql < 3 {
        return None;
    }
    if w.starts_with(q) {
        return Some(3);
    }
    // A shared stem: the words differ only in an inflected ending
    // (пароль/пароля, интернета/интернет, vergeten/vergeet). Five letters
    // at least, so `signal` does not find `sign`.
    let common = q.chars().zip(w.chars()).take_while(|(a, b)| a == b).count();
    if common >= 5 && common + 2 >= ql.min(wl) && ql.abs_diff(wl) <= 3 {
        return Some(2);
    }
    let allowed = match ql {
        0..4 => 0,
        4..8 => 1,
        _ => 2,
    };
    if allowed > 0
        && wl >= 4
        && ql.abs_diff(wl) <= allowed
        && strsim::damerau_levenshtein(q, w) <= allowed
    {
        return Some(1);
    }
    None
}

/// Folds case and accents, so `Drucker` finds `drucker` and `reseau` finds
/// `réseau`. Cyrillic stays Cyrillic (lower case, `ё` as `е`).
fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else if is_cyrillic(c) {
            for l in c.to_lowercase() {
                out.push(if l == 'ё' { 'е' } else { l });
            }
        } else {
            // A character deunicode does not know is dropped, as a
            // separator would be.
            let ascii = deunicode::deunicode_char(c).unwrap_or(" ");
            out.extend(ascii.chars().map(|a| a.to_ascii_lowercase()));
        }
    }
    out
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}')
}

/// The raw words of a text: folded, split at anything but letters, digits
/// and hyphens; template code (`{{ … }}`, `{% … %}`) left out.
fn raw_words(text: &str) -> Vec<String> {
    let plain = strip_template(text);
    fold(&plain)
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .map(|w| w.trim_matches('-').to_owned())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The words of a query: a hyphenated word counts once, joined (`wi-fi`
/// is `wifi`).
fn query_words(text: &str) -> impl Iterator<Item = String> {
    raw_words(text)
        .into_iter()
        .map(|w| w.replace('-', ""))
        .filter(|w| !is_stop_word(w))
}

/// The words of an indexed text: a hyphenated word both joined and as its
/// parts, so `wifi`, `wi-fi` and `set-top` all find it.
fn index_words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in raw_words(text) {
        if w.contains('-') {
            out.push(w.replace('-', ""));
            out.extend(w.split('-').filter(|p| !p.is_empty()).map(str::to_owned));
        } else {
            out.push(w);
        }
    }
    out.retain(|w| !is_stop_word(w));
    out
}

/// The text with template code replaced by a space: `{{ params.customer }}`
/// is not a word anyone searches for.
fn strip_template(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        let after = &rest[start..];
        let close = if after.starts_with("{{") {
            "}}"
        } else if after.starts_with("{%") {
            "%}"
        } else if after.starts_with("{#") {
            "#}"
        } else {
            out.push_str(&rest[..=start]);
            rest = &rest[start + 1..];
            continue;
        };
        out.push_str(&rest[..start]);
        out.push(' ');
        rest = match after.find(close) {
            Some(end) => &after[end + 2..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// Words that say nothing about which problem a person has, folded, in
/// every language the examples speak: function words, and the ways of
/// saying "it is broken" ("does not work", «не работает»), which every
/// script would match.
const STOP_WORDS: &[&str] = &[
    // en
    "a",
    "an",
    "the",
    "my",
    "i",
    "me",
    "it",
    "its",
    "is",
    "are",
    "am",
    "was",
    "be",
    "do",
    "does",
    "did",
    "doesnt",
    "dont",
    "not",
    "no",
    "cant",
    "cannot",
    "wont",
    "isnt",
    "to",
    "of",
    "on",
    "in",
    "at",
    "for",
    "with",
    "and",
    "or",
    "how",
    "what",
    "why",
    "can",
    "has",
    "have",
    "this",
    "that",
    "from",
    "any",
    "anymore",
    "work",
    "works",
    "working",
    "broken",
    "problem",
    "issue",
    "help",
    "please",
    "you",
    "your",
    "we",
    "our",
    // nl
    "de",
    "het",
    "een",
    "mijn",
    "ik",
    "is",
    "niet",
    "geen",
    "en",
    "of",
    "met",
    "wat",
    "hoe",
    "waarom",
    "kan",
    "doet",
    "werkt",
    "werken",
    "kapot",
    "probleem",
    "hulp",
    "meer",
    "van",
    "op",
    "bij",
    "voor",
    "u",
    "uw",
    "er",
    "zijn",
    "heeft",
    "heb",
    // de
    "der",
    "die",
    "das",
    "den",
    "dem",
    "des",
    "ein",
    "eine",
    "einen",
    "mein",
    "meine",
    "meinen",
    "ich",
    "ist",
    "nicht",
    "kein",
    "keine",
    "und",
    "oder",
    "mit",
    "mir",
    "es",
    "zu",
    "bei",
    "auf",
    "wie",
    "was",
    "warum",
    "geht",
    "funktioniert",
    "kaputt",
    "hilfe",
    "mehr",
    "sie",
    "ihr",
    "ihre",
    "hat",
    "habe",
    // et
    "ma",
    "mu",
    "mul",
    "minu",
    "on",
    "ei",
    "ja",
    "et",
    "kas",
    "mis",
    "kuidas",
    "miks",
    "see",
    "ole",
    "pole",
    "tööta",
    "toota",
    "töötab",
    "tootab",
    "katki",
    "probleem",
    "abi",
    "enam",
    "teie",
    "oma",
    "või",
    "voi",
    // ru
    "у",
    "меня",
    "мой",
    "моя",
    "моё",
    "мое",
    "мне",
    "я",
    "не",
    "нет",
    "и",
    "в",
    "во",
    "на",
    "с",
    "по",
    "что",
    "как",
    "почему",
    "это",
    "или",
    "а",
    "работает",
    "работают",
    "сломался",
    "сломалось",
    "проблема",
    "помогите",
    "помощь",
    "больше",
    "вы",
    "ваш",
    "есть",
];

fn is_stop_word(w: &str) -> bool {
    static SET: LazyLock<HashSet<&'static str>> =
        LazyLock::new(|| STOP_WORDS.iter().copied().collect());
    SET.contains(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_and_accents_but_keeps_cyrillic() {
        assert_eq!(fold("Réseau DRUCKER"), "reseau drucker");
        assert_eq!(fold("Ühendus Märgutuli"), "uhendus margutuli");
        assert_eq!(fold("ПАРОЛЬ Ёлка"), "пароль елка");
    }

    #[test]
    fn words_drop_templates_and_stop_words_and_join_hyphens() {
        let w =
            index_words("Hello {{ params.customer }}, my Wi-Fi {% if x %}does not work{% endif %}");
        assert_eq!(w, ["hello", "wifi", "wi", "fi"]);
    }

    #[test]
    fn matching_allows_prefixes_stems_and_typos_but_not_on_short_words() {
        assert_eq!(word_match("print", "printer"), Some(3));
        assert_eq!(word_match("пароль", "пароля"), Some(2));
        assert_eq!(word_match("pasword", "password"), Some(1));
        assert_eq!(word_match("pssword", "password"), Some(1));
        assert_eq!(word_match("tv", "tvs"), None);
        assert_eq!(word_match("net", "new"), None);
        assert_eq!(word_match("rotuer", "router"), Some(1));
        assert_eq!(word_match("screen", "green"), None);
        assert_eq!(word_match("signal", "sign"), None);
    }

    #[test]
    fn cyrillic_is_not_transliterated_into_latin_matches() {
        // deunicode makes «сеть» `set'`, which would find "set-top box".
        assert!(
            index_words("A set-top box")
                .iter()
                .all(|w| word_match("сеть", w).is_none())
        );
    }
}

/// The example library under `scripts/`: what people type finds the right
/// script first, in every language the library speaks.
#[cfg(test)]
mod library_tests {
    use super::*;
    use crate::compiler;

    fn index() -> Index {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
        let comp = compiler::compile_paths(&[dir]).expect("the scripts folder reads");
        assert_eq!(comp.errors(), 0, "the example scripts compile");
        Index::build(&comp.program, |s| s.tier == 1 && !s.is_subflow())
    }

    fn first(index: &Index, query: &str) -> Option<String> {
        index.search(query).first().map(|h| h.script.clone())
    }

    #[test]
    fn what_people_type_finds_the_right_script_first() {
        let index = index();
        for (query, script) in [
            ("my internet does not work", "router-no-internet"),
            ("forgot password", "password-reset"),
            ("wachtwoord vergeten", "password-reset"),
            ("network", "router-no-internet"),
            ("screen black", "tv-no-signal"),
            ("пароль", "password-reset"),
            ("забыл пароль", "password-reset"),
            ("нет интернета дома", "router-no-internet"),
            ("parool ununes", "password-reset"),
            ("printer ei prindi", "printer-not-printing"),
            ("WLAN bricht ständig ab", "wifi-drops"),
            ("Drucker druckt nicht", "printer-not-printing"),
            ("fernseher kein signal", "tv-no-signal"),
            ("PASWORD", "password-reset"),
            ("wi-fi", "wifi-drops"),
            ("e-mail", "phone-email-sync"),
        ] {
            assert_eq!(
                first(&index, query).as_deref(),
                Some(script),
                "{query:?}: {:?}",
                index.search(query)
            );
        }
    }

    #[test]
    fn nonsense_and_stop_words_find_nothing() {
        let index = index();
        for query in [
            "xylophone banana",
            "does not work",
            "не работает",
            "",
            "  ",
            "{{ }}",
        ] {
            assert_eq!(index.search(query), [], "{query:?}");
        }
    }

    #[test]
    fn cyrillic_queries_find_no_latin_look_alikes() {
        // «сеть» transliterates to `set`, as in "set-top box".
        let index = index();
        let hits = index.search("сеть");
        assert!(hits.iter().all(|h| h.script != "tv-no-signal"), "{hits:?}");
        assert_eq!(
            hits.first().map(|h| h.script.as_str()),
            Some("router-no-internet")
        );
    }

    #[test]
    fn long_queries_are_bounded() {
        let index = index();
        let long = "printer ".repeat(10_000);
        assert_eq!(
            first(&index, &long).as_deref(),
            Some("printer-not-printing")
        );
    }
}
