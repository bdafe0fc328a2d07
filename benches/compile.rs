//! Compile+lint throughput against the floor: a bare YAML event parse.
//!
//! Targets (2 cores, release): compile+lint within 2x of the bare parse of
//! the same text, and a corpus of 1,000 files x 100 nodes in under 1 s.
//!
//! Cases, each with its `parse` floor next to its `compile`:
//! - `gen-1k`, `gen-10k`, `gen-100k`: one generated script of that many nodes;
//! - `corpus-1000x100`: 1,000 generated files; the floor is measured both
//!   sequentially and in parallel (rayon), as the compiler parses in parallel;
//! - `library`: the example scripts in `scripts/` (skipped while it has none),
//!   compiled from disk with `compile_paths`.
//!
//! `compile` is `compile_texts`/`compile_paths` end to end (parse, resolve,
//! check, lower, graph lints, diagnostic sort); dropping the result is left
//! out of the timing. Run: `cargo bench --bench compile`.
// A test or benchmark fails loudly by design; its shared helper modules are
// `pub` for the files that include them; it reads the wall clock freely.
#![allow(clippy::unwrap_used, unreachable_pub, clippy::disallowed_methods)]

mod common;
mod scriptgen;

use criterion::{
    BenchmarkGroup, Criterion, SamplingMode, Throughput, criterion_group, measurement::WallTime,
};
use fixpath::compiler::{self, Compilation};
use rayon::prelude::*;
use saphyr_parser::Parser;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

// The binary's allocator (src/main.rs), so the figures are what `fixpath
// lint` does; the bare parse runs on it too.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The floor: every YAML event of `text`, and nothing else.
fn bare_parse(text: &str) -> usize {
    let mut events = 0;
    for ev in Parser::new_from_str(text) {
        black_box(ev.expect("benchmark inputs are valid YAML"));
        events += 1;
    }
    events
}

fn summarize(what: &str, bytes: usize, nodes: usize, c: &Compilation) {
    eprintln!("[{what}] {bytes} bytes, {nodes} nodes");
    common::require_clean(what, c);
}

fn configure(g: &mut BenchmarkGroup<'_, WallTime>, bytes: usize, measure_secs: u64) {
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(measure_secs));
}

fn single_files(c: &mut Criterion) {
    for (name, nodes, secs) in [
        ("gen-1k", 1_000, 2),
        ("gen-10k", 10_000, 3),
        ("gen-100k", 100_000, 8),
    ] {
        let generated = scriptgen::script(&scriptgen::Options::new(name, nodes, 42));
        let path = format!("scripts/{name}.yaml");
        let text = generated.text;
        let bytes = text.len();
        summarize(
            name,
            bytes,
            nodes,
            &compiler::compile_texts([(path.as_str(), text.as_str())]),
        );
        eprintln!("[{name}] {} YAML events", bare_parse(&text));

        let mut g = c.benchmark_group(name);
        configure(&mut g, bytes, secs);
        if nodes >= 100_000 {
            g.sampling_mode(SamplingMode::Flat);
        }
        g.bench_function("parse", |b| b.iter(|| bare_parse(black_box(&text))));
        g.bench_function("compile", |b| {
            b.iter_with_large_drop(|| {
                compiler::compile_texts([(path.as_str(), black_box(text.as_str()))])
            })
        });
        g.finish();
    }
}

fn corpus(c: &mut Criterion) {
    let (files, nodes) = (1_000, 100);
    let corpus = scriptgen::corpus(files, nodes, 7);
    let bytes: usize = corpus.iter().map(|(_, t)| t.len()).sum();
    let name = "corpus-1000x100";
    let pairs = || corpus.iter().map(|(p, t)| (p.as_str(), t.as_str()));
    summarize(
        name,
        bytes,
        files * nodes,
        &compiler::compile_texts(pairs()),
    );

    let mut g = c.benchmark_group(name);
    configure(&mut g, bytes, 4);
    g.bench_function("parse-seq", |b| {
        b.iter(|| {
            corpus
                .iter()
                .map(|(_, t)| bare_parse(black_box(t)))
                .sum::<usize>()
        })
    });
    g.bench_function("parse-par", |b| {
        b.iter(|| {
            corpus
                .par_iter()
                .map(|(_, t)| bare_parse(black_box(t)))
                .sum::<usize>()
        })
    });
    g.bench_function("compile", |b| {
        b.iter_with_large_drop(|| compiler::compile_texts(black_box(pairs())))
    });
    g.finish();
}

fn library(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let files: Vec<PathBuf> = match fixpath::script::load::discover(std::slice::from_ref(&dir)) {
        Ok(found) => found
            .into_iter()
            .filter(|p| {
                fixpath::script::load::kind_of(p) == Some(fixpath::script::load::FileKind::Script)
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    if files.is_empty() {
        eprintln!("[library] {} holds no scripts yet: skipped", dir.display());
        return;
    }
    let texts: Vec<String> = files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default())
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    let paths = [dir];
    let first = compiler::compile_paths(&paths).expect("scripts/ exists");
    let nodes: usize = first
        .program
        .scripts
        .iter()
        .map(|s| s.graph.node_count())
        .sum();
    eprintln!("[library] {} script files", files.len());
    // The library may hold deliberate lint examples: report, do not fail.
    if first.errors() > 0 {
        eprintln!(
            "[library] note: {} errors; scripts with errors are not lowered nor graph-linted",
            first.errors()
        );
    }
    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    for d in &first.diagnostics {
        *by_code.entry(format!("{:?}", d.code)).or_default() += 1;
    }
    eprintln!("[library] {bytes} bytes, {nodes} nodes lowered, {by_code:?}");

    let mut g = c.benchmark_group("library");
    configure(&mut g, bytes, 2);
    g.bench_function("parse", |b| {
        b.iter(|| {
            texts
                .iter()
                .map(|t| bare_parse(black_box(t)))
                .sum::<usize>()
        })
    });
    g.bench_function("parse-par", |b| {
        b.iter(|| {
            texts
                .par_iter()
                .map(|t| bare_parse(black_box(t)))
                .sum::<usize>()
        })
    });
    g.bench_function("compile", |b| {
        b.iter_with_large_drop(|| {
            compiler::compile_paths(black_box(&paths)).expect("scripts/ exists")
        })
    });
    g.finish();
}

criterion_group!(benches, single_files, corpus, library);

fn main() {
    // As `fixpath lint` runs (src/cli/mod.rs).
    fixpath::memory::no_huge_pages();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
