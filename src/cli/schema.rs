//! `fixpath schema [--test]`: the JSON Schema of the script format (or of
//! script test files), for editor completion and validation.

pub(super) const SCRIPT_SCHEMA: &str = include_str!("../../schema/fixpath-script.schema.json");
pub(super) const TEST_SCHEMA: &str = include_str!("../../schema/fixpath-test.schema.json");

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the schema of `*.test.yaml` files instead
    #[arg(long)]
    pub test: bool,
}

pub(super) fn run(args: Args, out: &mut dyn std::io::Write) -> anyhow::Result<u8> {
    let s = if args.test {
        TEST_SCHEMA
    } else {
        SCRIPT_SCHEMA
    };
    out.write_all(s.as_bytes())?;
    if !s.ends_with('\n') {
        out.write_all(b"\n")?;
    }
    Ok(super::exit::OK)
}
