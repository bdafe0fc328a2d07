//! The compiler: script files in, an immutable [`Program`] and every
//! diagnostic out. The passes, in order:
//!
//! 1. [`load`](crate::script::load): files become sources (text kept for excerpts);
//! 2. [`parse`]: YAML into the typed mirror, every file in parallel;
//! 3. [`resolve`]: ids become indices; duplicates and unknown targets reported;
//! 4. [`check`]: texts, expressions, patterns and variables, compiled once;
//! 5. [`lower`]: one petgraph per script, content-hashed, into a [`Program`];
//! 6. [`lints`]: graph lints on the program.
//!
//! An author's mistake is a [`Diagnostic`], never an `Err`: the run goes on
//! and reports everything it can in one go.

pub mod check;
pub mod lints;
pub mod lower;
pub mod parse;
pub mod resolve;

use crate::diagnostics::{self, Diagnostic, FileId, SourceFile, Sources};
use crate::program::Program;
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
    let files = load::discover(paths)?;
    let mut sources = Sources::new();
    let mut diags = Vec::new();
    let mut scripts = Vec::new();
    let mut tests = Vec::new();
    for path in &files {
        let (id, res) = load::read(path, &mut sources);
        match res {
            Err(d) => diags.push(d),
            Ok(()) if load::kind_of(path) == Some(FileKind::Test) => tests.push(id),
            Ok(()) => scripts.push(id),
        }
    }
    Ok(compile_loaded(sources, scripts, tests, diags))
}

/// Compiles in-memory files: `(path, text)` pairs. Paths ending in
/// `.test.yaml` are taken as test files.
pub fn compile_texts<P: Into<String>, T: Into<String>>(
    files: impl IntoIterator<Item = (P, T)>,
) -> Compilation {
    let mut sources = Sources::new();
    let mut scripts = Vec::new();
    let mut tests = Vec::new();
    for (p, t) in files {
        let p: String = p.into();
        let is_test = load::kind_of(std::path::Path::new(&p)) == Some(FileKind::Test);
        let id = sources.add(SourceFile::new(p, t.into()));
        if is_test {
            tests.push(id)
        } else {
            scripts.push(id)
        }
    }
    compile_loaded(sources, scripts, tests, Vec::new())
}

fn compile_loaded(
    sources: Sources,
    scripts: Vec<FileId>,
    test_files: Vec<FileId>,
    mut diags: Vec<Diagnostic>,
) -> Compilation {
    let parsed: Vec<(Option<crate::script::ast::Script>, Vec<Diagnostic>)> = scripts
        .par_iter()
        .map(|&id| {
            let mut d = Vec::new();
            let text = sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
            let s = parse::parse(id, &text, &mut d);
            (s, d)
        })
        .collect();
    let mut asts = Vec::with_capacity(parsed.len());
    for (s, d) in parsed {
        diags.extend(d);
        asts.extend(s);
    }
    let resolved = resolve::resolve(asts, &mut diags);
    let (templates, checked) = check::check(&resolved, &sources, &mut diags);
    let broken: HashSet<FileId> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.file)
        .collect();
    let (program, origins) = lower::lower(resolved, checked, templates, &sources, &broken);
    lints::run(&program, &origins, &mut diags);
    diagnostics::sort(&mut diags, &sources);
    Compilation {
        sources,
        diagnostics: diags,
        program,
        test_files,
    }
}
