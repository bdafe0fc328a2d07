//! `fixpath erase REFERENCE` (contract section 13): the personal data of one
//! case and its session removed now, whatever their age or status (a
//! customer's request to be forgotten), with an `erased` event on the case.
//! A case still being worked on is refused: it is resolved first.
//! What is removed and what stays is the retention sweep's (see
//! `Store::erase_reference`); the figures do not change.

use super::{exit, on_store};
use crate::store::Erasure;
use clap::Parser;

#[derive(Debug, Parser)]
pub struct Args {
    /// The case's reference, as the customer was shown it (`AUK2-GPA2`; case and dash do not
    /// matter)
    #[arg(value_name = "REFERENCE")]
    pub reference: String,
    #[command(flatten)]
    pub store: super::DbArgs,
}

/// The longest reference looked up; a real one is 9 characters.
const MAX_REFERENCE: usize = 64;

pub(super) fn run(
    args: Args,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let reference = args.reference.trim().to_owned();
    if reference.is_empty() || reference.len() > MAX_REFERENCE {
        writeln!(
            err,
            "error: `{}` is not a case reference; it looks like AUK2-GPA2 (the customer's \
             confirmation shows it)",
            args.reference
                .chars()
                .take(MAX_REFERENCE)
                .collect::<String>()
        )?;
        return Ok(exit::USAGE);
    }
    let Some(db) = args.store.existing(err)? else {
        return Ok(exit::USAGE);
    };
    let now = crate::clock::Clock::system().now();
    let lookup = reference.clone();
    let Some(done) = on_store(&db, err, |store| async move {
        store.erase_reference(&lookup, "system", now).await
    })?
    else {
        return Ok(exit::PROBLEMS);
    };
    match done {
        Ok(Erasure::Erased { cases }) => {
            writeln!(
                out,
                "erased: the personal data of case {reference} and its session ({cases} {} in \
                 all); its counts stay in the figures",
                if cases == 1 { "case" } else { "cases" }
            )?;
            Ok(exit::OK)
        }
        Ok(Erasure::Already) => {
            writeln!(out, "case {reference} was erased before; nothing to do")?;
            Ok(exit::OK)
        }
        Ok(Erasure::Unresolved { reference: open }) => {
            writeln!(
                err,
                "error: case {open} is not resolved yet; nothing was removed. Resolve it (the \
                 queue, or the API's resolve), then erase it"
            )?;
            Ok(exit::PROBLEMS)
        }
        Ok(Erasure::NotFound) => {
            writeln!(
                err,
                "error: there is no case with the reference {reference}"
            )?;
            Ok(exit::PROBLEMS)
        }
        Ok(Erasure::Changed) => {
            writeln!(
                err,
                "error: case {reference} changed while it was being erased (a specialist or the \
                 customer wrote to it); nothing was removed: run the command again"
            )?;
            Ok(exit::PROBLEMS)
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(exit::PROBLEMS)
        }
    }
}
