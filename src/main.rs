//! The `fixpath` binary: parse arguments, run, map to an exit code.

use std::process::ExitCode;

// mimalloc, not the system's malloc (see `fixpath::memory`); compiles and
// engine steps are measured with it (benches/RESULTS*.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Unlocked handles: the server logs from other threads while `run` lasts.
    let code = fixpath::cli::run(
        std::env::args_os(),
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    );
    ExitCode::from(code)
}
