//! The compiler: script files in, an immutable [`Program`] and every
//! diagnostic out. The passes, in order:
//!
//! 1. [`load`]: files become sources (text kept for excerpts);
//! 2. [`parse`]: YAML into the typed mirror, every file in parallel, and a
//!    big file in parts (where [`split`] finds it can be cut);
//! 3. [`resolve`]: ids become indices; duplicates and unknown targets reported;
//! 4. [`check`]: texts, expressions, patterns and variables, compiled once;
//! 5. [`lower`]: one petgraph per script, content-hashed, into a [`Program`];
//! 6. [`lints`]: graph lints on the program.
//!
//! Canned replies (files in a `replies/` folder) are parsed and checked
//! beside the scripts, against the languages the scripts list, into the
//! [`Replies`] the server offers on cases.
//!
//! An author's mistake is a [`Diagnostic`], never an `Err`: the run goes on
//! and reports everything it can in one go.

pub mod check;
pub mod lints;
pub mod lower;
mod params;
pub mod parse;
pub mod resolve;
pub mod split;
mod syntax;

use crate::diagnostics::{self, Diagnostic, FileId, SourceFile, Sources};
use crate::program::Program;
use crate::reply::Replies;
use crate::script::load::{self, FileKind, MissingPath};
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::PathBuf;

/// Everything one compiler run produced.
pub struct Compilation {
    pub sources: Sources,
    /// Sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    pub program: Program,
    /// The `*.test.yaml` files found among the inputs (not compiled as scripts).
    pub test_files: Vec<FileId>,
    /// The canned replies found among the inputs (contract section 10).
    pub replies: Replies,
}

impl Compilation {
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Loads and compiles every script under `paths`.
pub fn compile_paths(paths: &[PathBuf]) -> Result<Compilation, MissingPath> {
    Ok(compile_files(&load::discover(paths)?))
}

/// Loads and compiles these files, in this order: where two define the same
/// script id, the earlier one is the script and the later one the duplicate.
pub fn compile_files(files: &[PathBuf]) -> Compilation {
    let mut sources = Sources::new();
    let mut diags = Vec::new();
    let mut files_of = Files::default();
    for path in files {
        let (id, res) = load::read(path, &mut sources);
        match res {
            Err(d) => diags.push(d),
            Ok(()) => files_of.push(load::kind_of(path), id),
        }
    }
    compile_loaded(sources, files_of, diags)
}

/// Compiles in-memory files: `(path, text)` pairs. Paths ending in
/// `.test.yaml` are taken as test files, and paths in a `replies/` folder
/// as canned replies.
pub fn compile_texts<P: Into<String>, T: Into<String>>(
    files: impl IntoIterator<Item = (P, T)>,
) -> Compilation {
    let mut sources = Sources::new();
    let mut files_of = Files::default();
    for (p, t) in files {
        let p: String = p.into();
        let kind = load::kind_of(std::path::Path::new(&p));
        let id = sources.add(SourceFile::new(p, t.into()));
        files_of.push(kind, id);
    }
    compile_loaded(sources, files_of, Vec::new())
}

/// The files of a run, by kind.
#[derive(Default)]
struct Files {
    scripts: Vec<FileId>,
    tests: Vec<FileId>,
    replies: Vec<FileId>,
}

impl Files {
    fn push(&mut self, kind: Option<FileKind>, id: FileId) {
        match kind {
            Some(FileKind::Test) => self.tests.push(id),
            Some(FileKind::Reply) => self.replies.push(id),
            // A file named on its own is a script whatever its extension.
            Some(FileKind::Script) | None => self.scripts.push(id),
        }
    }
}

fn compile_loaded(sources: Sources, files: Files, mut diags: Vec<Diagnostic>) -> Compilation {
    let Files {
        scripts,
        tests: test_files,
        replies,
    } = files;
    // Each file is parsed, and its content hash taken, on its own: in
    // parallel, collected in order.
    let parsed: Vec<(Option<crate::script::ast::Script>, Vec<Diagnostic>, String)> = scripts
        .par_iter()
        .map(|&id| {
            let mut d = Vec::new();
            let text = sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
            let (s, version) =
                rayon::join(|| parse::parse(id, &text, &mut d), || lower::version(&text));
            (s, d, version)
        })
        .collect();
    let mut asts = Vec::with_capacity(parsed.len());
    let mut versions = vec![String::new(); sources.len()];
    for (&id, (s, d, version)) in scripts.iter().zip(parsed) {
        diags.extend(d);
        asts.extend(s);
        versions[id.0 as usize] = version;
    }
    let resolved = resolve::resolve(asts, &mut diags);
    let (templates, checked) = check::check(&resolved, &sources, &mut diags);
    let replies = compile_replies(&sources, &replies, &resolved.scripts, &mut diags);
    let broken: HashSet<FileId> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.file)
        .collect();
    let (program, origins) =
        lower::lower(resolved, checked, templates, &sources, &versions, &broken);
    lints::run(&program, &origins, &mut diags);
    diagnostics::sort(&mut diags, &sources);
    Compilation {
        sources,
        diagnostics: diags,
        program,
        test_files,
        replies,
    }
}

/// Parses and checks the reply files against the scripts' languages.
fn compile_replies(
    sources: &Sources,
    files: &[FileId],
    scripts: &[crate::script::ast::Script],
    diags: &mut Vec<Diagnostic>,
) -> Replies {
    let asts: Vec<_> = files
        .iter()
        .filter_map(|&id| {
            let text = sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
            parse::parse_reply(id, &text, diags)
        })
        .collect();
    check::check_replies(&asts, check::library_languages(scripts), sources, diags)
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::Value;

    /// Script `i` of a library big enough to be checked in several chunks:
    /// templated texts, `set` templates and `if:` expressions that name `i`,
    /// and, in some scripts, a broken template, a broken expression, an
    /// unknown variable or an unread one.
    fn script(i: usize, nodes: usize) -> String {
        let mut s = format!(
            "id: s{i}\ntitle: \"Script {i} for {{{{ who }}}}\"\nvars: {{ who: x, count: 0{} }}\nstart: n0\nnodes:\n",
            if i % 6 == 2 { ", unread: 1" } else { "" }
        );
        for k in 0..nodes - 1 {
            let next = k + 1;
            if k % 2 == 0 {
                let text = match (i % 7, k) {
                    (3, 30) => "Broken {{ who ".to_string(),
                    (4, 20) => format!("Who is {{{{ nobody{i} }}}}?"),
                    _ => format!("Q{i}-{k} for {{{{ who }}}}?"),
                };
                s.push_str(&format!(
                    "  n{k}:\n    ask: \"{text}\"\n    answers:\n      - label: Next\n        set: {{ count: \"{{{{ count + {i} }}}}\" }}\n        goto: n{next}\n      - No: {{ escalate: \"Stuck at {i}-{k}\" }}\n"
                ));
            } else {
                let cond = if i % 9 == 5 && k == 41 {
                    "count >".to_string()
                } else {
                    format!("count > {i}")
                };
                s.push_str(&format!(
                    "  n{k}:\n    branch:\n      - if: \"{cond}\"\n        goto: n{next}\n      - else: n{next}\n"
                ));
            }
        }
        s.push_str(&format!("  n{}:\n    resolve: \"Done {i}\"\n", nodes - 1));
        s
    }

    /// What a diagnostic says, without the file id (which depends on the run).
    fn said(c: &Compilation, d: &Diagnostic) -> String {
        format!(
            "{} {:?} {:?} {} {:?} {:?} {:?}",
            c.sources.path(d.file),
            d.code,
            d.span,
            d.message,
            d.label,
            d.hints,
            d.related.iter().map(|(_, s, m)| (s, m)).collect::<Vec<_>>()
        )
    }

    #[test]
    fn a_library_checked_in_parallel_chunks_says_what_each_file_alone_says() {
        let (files, nodes) = (30, 60);
        let texts: Vec<(String, String)> = (0..files)
            .map(|i| (format!("lib/s{i:02}.yaml"), script(i, nodes)))
            .collect();
        let whole = compile_texts(texts.iter().map(|(p, t)| (p.as_str(), t.as_str())));
        // 30 x 60 nodes is several chunks of at least 512 nodes each, so
        // texts, expressions and diagnostics cross chunk boundaries.
        assert!(files * nodes > 3 * 512);
        let mut alone: Vec<String> = Vec::new();
        for (p, t) in &texts {
            let c = compile_texts([(p.as_str(), t.as_str())]);
            alone.extend(c.diagnostics.iter().map(|d| said(&c, d)));
        }
        let together: Vec<String> = whole.diagnostics.iter().map(|d| said(&whole, d)).collect();
        assert_eq!(together, alone);
        for code in ["Fp008", "Fp009", "Fp104"] {
            assert!(
                together.iter().any(|d| d.contains(code)),
                "no {code} in {together:#?}"
            );
        }

        // Every lowered script renders its own texts and evaluates its own
        // expressions, whichever chunk compiled them.
        let p = &whole.program;
        let lowered: Vec<&str> = p.scripts.iter().map(|s| s.id.as_str()).collect();
        assert!(lowered.len() > files / 2, "{lowered:?}");
        for s in &p.scripts {
            let i: usize = s.id[1..].parse().expect("ids are s<number>");
            let ctx = Value::from_serialize(minijinja::context! { who => "Ann", count => 10 });
            let title = p.templates.render(s.title, 0, &ctx).expect("renders");
            assert_eq!(title, format!("Script {i} for Ann"));
            for (_, node) in s.nodes() {
                match &node.kind {
                    crate::program::NodeKind::Ask { text, answers, .. } => {
                        let k = &node.id[1..];
                        let q = p.templates.render(*text, 0, &ctx).expect("renders");
                        assert_eq!(q, format!("Q{i}-{k} for Ann?"));
                        let crate::program::SetValue::Template(t) = answers[0].set[0].1 else {
                            panic!("a templated set value");
                        };
                        let v = p.templates.render(t, 0, &ctx).expect("renders");
                        assert_eq!(v, (10 + i).to_string());
                    }
                    crate::program::NodeKind::Branch { arms, .. } => {
                        assert_eq!(p.templates.expr_source(arms[0].0), format!("count > {i}"));
                        assert_eq!(
                            p.templates.eval(arms[0].0, &ctx).expect("evaluates"),
                            10 > i
                        );
                    }
                    _ => {}
                }
            }
        }
    }

    /// An input's `hint` and `invalid` are texts like any other: checked
    /// for every language, compiled as templates, and read for FP009.
    #[test]
    fn input_hint_and_invalid_are_checked_texts() {
        let head = "id: s\ntitle: { en: S, nl: S }\nlanguages: [en, nl]\nnodes:\n  serial:\n    input: { en: Serial?, nl: Serienummer? }\n    into: serial\n    next: done\n";
        let tail = "  done:\n    resolve: { en: Done, nl: Klaar }\n";
        let codes = |extra: &str| -> Vec<(String, u32, u32)> {
            let c = compile_texts([("s.yaml", format!("{head}{extra}{tail}"))]);
            c.diagnostics
                .iter()
                .map(|d| {
                    (
                        d.code.as_str().to_owned(),
                        d.span.start.line,
                        d.span.start.column,
                    )
                })
                .collect()
        };
        let clean = "    hint: { en: On the label, nl: Op het etiket }\n    invalid: { en: \"Eight characters, {{ serial }}\", nl: \"Acht tekens, {{ serial }}\" }\n";
        assert_eq!(codes(clean), []);
        let c = compile_texts([("s.yaml", format!("{head}{clean}{tail}"))]);
        let (_, script) = c.program.get("s").expect("compiled");
        match &script.node(petgraph::stable_graph::NodeIndex::new(0)).kind {
            crate::program::NodeKind::Input { hint, invalid, .. } => {
                assert!(hint.is_some() && invalid.is_some());
            }
            other => panic!("an input node, found {}", other.name()),
        }
        // A language missing, a broken template, a variable nothing sets.
        assert_eq!(
            codes("    hint: { en: On the label }\n"),
            [("FP013".into(), 9, 11)]
        );
        assert_eq!(
            codes("    invalid: { en: \"Bad {{ serial \", nl: Fout }\n"),
            [("FP008".into(), 9, 20)]
        );
        assert_eq!(
            codes("    hint: { en: \"{{ nobody }}\", nl: \"{{ nobody }}\" }\n"),
            [("FP009".into(), 9, 21), ("FP009".into(), 9, 41)]
        );
        // A misspelling gets the right name.
        let c = compile_texts([("s.yaml", format!("{head}    hnit: x\n{tail}"))]);
        let d = &c.diagnostics[0];
        assert_eq!(d.code.as_str(), "FP002");
        assert!(
            d.hints.iter().any(|h| h.contains("`hint`")),
            "{:?}",
            d.hints
        );
    }

    /// FP106 is for what customers read: not a tier-2 script, not `help`,
    /// and not a sub-flow only tier-2 scripts run.
    #[test]
    fn fp106_stays_out_of_staff_scripts() {
        let fp106 = |files: &[(&str, &str)]| -> Vec<String> {
            let c = compile_texts(files.iter().copied());
            c.diagnostics
                .iter()
                .filter(|d| d.code == diagnostics::Code::Fp106)
                .map(|d| c.sources.path(d.file).to_owned())
                .collect()
        };
        let greet = "id: greet\ntitle: Hi\nnodes:\n  a:\n    say: \"Hello {{ params.name }}\"\n    help: \"Caller {{ params.name }}\"\n    next: b\n  b:\n    resolve: Done\n";
        assert_eq!(fp106(&[("greet.yaml", greet)]), ["greet.yaml"]);
        let staff = greet.replace("title: Hi\n", "title: Hi\ntier: 2\n");
        assert!(fp106(&[("greet.yaml", &staff)]).is_empty());
        let sub = "id: sub\ntitle: Sub\nnodes:\n  a:\n    return: \"Done for {{ params.name }}\"\n";
        let caller = "id: deep\ntitle: Deep\ntier: 2\nnodes:\n  a:\n    use: sub\n    next: b\n  b:\n    resolve: Done\n";
        assert!(fp106(&[("sub.yaml", sub), ("deep.yaml", caller)]).is_empty());
        let caller = caller.replace("tier: 2\n", "");
        assert_eq!(
            fp106(&[("sub.yaml", sub), ("deep.yaml", &caller)]),
            ["sub.yaml"]
        );
    }
}
