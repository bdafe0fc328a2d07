//! fixpath: troubleshooting decision trees for helpdesks.
//!
//! The pipeline, in five lines:
//! 1. [`script`] loads YAML files and mirrors them as typed, spanned scripts;
//! 2. [`compiler`] parses, resolves, checks and lowers them into a [`program::Program`];
//! 3. [`compiler::lints`] check the compiled graphs; [`diagnostics`] report every problem at once;
//! 4. [`program`] is the immutable, content-hashed library every later feature runs on
//!    ([`reply`]: the canned replies loaded beside it);
//! 5. [`engine`] steps sessions through it; [`store`], [`http`] and [`delivery`] serve it.
//!
//! The modules below are `pub` where the pipeline is a library (the tests,
//! the benchmarks and the binary use them); helpers only the crate uses are
//! private, and `unreachable_pub` keeps their items `pub(crate)`.

pub mod case;
pub mod cli;
pub mod clock;
pub mod compiler;
pub mod connect;
pub mod delivery;
pub mod diagnostics;
pub mod engine;
pub mod escalation;
pub mod http;
pub mod library;
mod logtext;
pub mod memory;
pub mod program;
mod render;
pub mod reply;
pub mod scenario;
pub mod script;
pub mod server;
pub mod stats;
pub mod store;
pub mod transfer;
