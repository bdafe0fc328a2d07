//! A driver for profiling the compiler under callgrind or perf, where
//! criterion's repeated sampling would only get in the way: it generates one
//! benchmark input (the same generator and seeds as `benches/compile.rs`) and
//! runs either the bare YAML event parse or compile+lint over it, once.
//!
//! ```sh
//! cargo build --profile bench --example compile_profile
//! valgrind --tool=callgrind target/release/examples/compile_profile compile gen-10k
//! valgrind --tool=callgrind target/release/examples/compile_profile parse gen-10k
//! ```
//!
//! Inputs: `gen-1k`, `gen-10k`, `gen-100k`, `corpus` (1,000 files x 100 nodes),
//! `library` (the example scripts, compiled `REPEAT` times, default 1).
//! The instruction count of `compile` over that of `parse` is the load-independent
//! compile/parse ratio quoted in `benches/RESULTS.md` (generation and the
//! process's start-up are in both runs; `gen` alone measures them).
// A profiling driver fails loudly by design; its shared helper modules are
// `pub` for the files that include them; it reads the wall clock freely.
#![allow(clippy::unwrap_used, unreachable_pub, clippy::disallowed_methods)]

#[path = "../benches/scriptgen/mod.rs"]
mod scriptgen;

use fixpath::compiler;

// The binary's allocator (src/main.rs).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use saphyr_parser::Parser;
use std::hint::black_box;

fn inputs(case: &str) -> Vec<(String, String)> {
    let single = |nodes| {
        let g = scriptgen::script(&scriptgen::Options::new(case, nodes, 42));
        vec![(format!("scripts/{case}.yaml"), g.text)]
    };
    match case {
        "gen-1k" => single(1_000),
        "gen-10k" => single(10_000),
        "gen-100k" => single(100_000),
        "corpus" => scriptgen::corpus(1_000, 100, 7),
        "library" => {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
            let mut files: Vec<(String, String)> = std::fs::read_dir(&dir)
                .map(|d| {
                    d.filter_map(Result::ok)
                        .map(|e| e.path())
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
                .into_iter()
                .filter(|p| {
                    let name = p.to_string_lossy();
                    name.ends_with(".yaml") && !name.ends_with(".test.yaml")
                })
                .filter_map(|p| {
                    Some((
                        p.to_string_lossy().into_owned(),
                        std::fs::read_to_string(&p).ok()?,
                    ))
                })
                .collect();
            files.sort();
            files
        }
        other => {
            eprintln!("unknown input `{other}`: gen-1k, gen-10k, gen-100k or corpus");
            std::process::exit(2)
        }
    }
}

fn main() {
    // As `fixpath lint` runs (src/cli/mod.rs).
    fixpath::memory::no_huge_pages();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (mode, case) = match args.as_slice() {
        [m, c] => (m.as_str(), c.as_str()),
        _ => {
            eprintln!("usage: compile_profile parse|compile|gen INPUT");
            std::process::exit(2)
        }
    };
    let files = inputs(case);
    match mode {
        "gen" => {}
        "parse" => {
            let mut events = 0usize;
            for (_, text) in &files {
                for ev in Parser::new_from_str(text) {
                    black_box(ev.is_ok());
                    events += 1;
                }
            }
            eprintln!("{events} events");
        }
        "compile" => {
            let repeat: usize = std::env::var("REPEAT")
                .ok()
                .and_then(|r| r.parse().ok())
                .unwrap_or(1);
            for _ in 1..repeat {
                drop(compiler::compile_texts(
                    files.iter().map(|(p, t)| (p.as_str(), t.as_str())),
                ));
            }
            let c = compiler::compile_texts(files.iter().map(|(p, t)| (p.as_str(), t.as_str())));
            eprintln!(
                "{} scripts, {} errors, {} warnings",
                c.program.scripts.len(),
                c.errors(),
                c.warnings()
            );
            // Dropping is not part of the benchmark's timing either.
            std::mem::forget(c);
        }
        other => {
            eprintln!("unknown mode `{other}`: parse, compile or gen");
            std::process::exit(2)
        }
    }
}
