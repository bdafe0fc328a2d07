//! Script tests (contract section 6): `*.test.yaml` files of cases, each a
//! list of answers and the outcome expected. Core, so the CLI and (later)
//! the authors' pages share one runner.

mod coverage;
mod file;
mod run;

pub use coverage::{Uncovered, uncovered};
pub use file::{Case, Expect, ExpectedOutcome, TestFile, parse_test_file};
pub use run::{CaseResult, run_case};
