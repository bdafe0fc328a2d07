//! The `fixpath` binary: parse arguments, run, map to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    let code = fixpath::cli::run(
        std::env::args_os(),
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(code)
}
