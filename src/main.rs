//! The `fixpath` binary: parse arguments, run, map to an exit code.

use std::process::ExitCode;

fn main() -> ExitCode {
    // Unlocked handles: the server logs from other threads while `run` lasts.
    let code = fixpath::cli::run(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    ExitCode::from(code)
}
