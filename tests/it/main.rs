//! The integration tests, as one test binary: a change to the crate links
//! it once instead of once per file (the README's "Tests" has the figures).
// A test fails loudly by design; the shared helpers are `pub` for the files
// that use them; a test reads the wall clock freely.
#![allow(clippy::unwrap_used, unreachable_pub, clippy::disallowed_methods)]

mod common;

mod adminpage;
mod allocator;
mod api;
mod authorpage;
mod authz;
mod backup;
mod brand;
mod breach;
mod browser;
mod cases;
mod cli;
mod cli_engine;
mod connectors;
mod custpage;
mod delivery;
mod engine;
mod faults;
mod faults_disk;
mod faults_outbound;
mod figures;
mod fuzz_api;
mod fuzz_compiler;
mod fuzz_engine;
mod fuzz_render;
mod graph;
mod graph_stats;
mod lifecycle;
mod limits;
mod lint_fixtures;
mod mail;
mod metrics_memory;
mod multi_instance;
mod queuepage;
mod replies;
mod retention;
mod robustness;
mod serve;
mod stats;
mod store;
mod transfer;
mod web;
