//! Hot reload: watch the scripts folder and republish the library when an
//! author saves a script.
//!
//! Editors save in bursts (truncate then write, or write a temporary file and
//! rename it over the old one), so the watcher waits for the folder to be
//! quiet for a moment before it reads it; a change that arrives while a
//! reload runs is queued and triggers another one, so the last reload always
//! reads the final content. A version with errors is refused by the
//! [`Library`]: the old one stays, and the warning carries the diagnostics.
//! Sessions under way keep their pinned versions either way.

use crate::library::Library;
use crate::store::Store;
use notify::{EventKind, RecursiveMode, Watcher};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// How long the folder must be quiet before it is read.
pub const DEBOUNCE: Duration = Duration::from_millis(300);
/// A folder that never goes quiet is still read this often.
const MAX_DELAY: Duration = Duration::from_secs(3);

/// Starts watching `library.dir()` until `shutdown` turns true.
pub fn spawn(
    library: Arc<Library>,
    store: Arc<dyn Store>,
    mut shutdown: watch::Receiver<bool>,
    debounce: Duration,
) -> notify::Result<JoinHandle<()>> {
    let (tx, mut rx) = mpsc::unbounded_channel::<()>();
    let mut watcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
            Ok(ev) if relevant(&ev) => {
                let _ = tx.send(());
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "watching the scripts folder"),
        })?;
    watcher.watch(library.dir(), RecursiveMode::Recursive)?;
    tracing::info!(dir = %library.dir().display(), "watching the scripts folder for changes");

    Ok(tokio::spawn(async move {
        // Keep the watcher alive for as long as the task runs.
        let _watcher = watcher;
        loop {
            tokio::select! {
                got = rx.recv() => if got.is_none() { break },
                _ = shutdown.changed() => break,
            }
            // Wait until the folder is quiet (or has been busy for too long).
            let first = Instant::now();
            loop {
                let quiet = tokio::time::sleep(debounce);
                let cap = tokio::time::sleep_until(first + MAX_DELAY);
                tokio::select! {
                    got = rx.recv() => if got.is_none() { return },
                    _ = quiet => break,
                    _ = cap => break,
                    _ = shutdown.changed() => return,
                }
            }
            // Changes from here on belong to the next reload.
            while rx.try_recv().is_ok() {}
            tracing::debug!("the scripts folder changed; reading it again");
            reload(&library, &*store).await;
            if *shutdown.borrow() {
                break;
            }
        }
    }))
}

/// Whether an event may change what the library reads: writes, creations,
/// removals and renames of YAML files or of folders; not reads, and not an
/// editor's swap and backup files.
fn relevant(ev: &notify::Event) -> bool {
    use notify::event::{AccessKind, AccessMode};
    let kind_matters = match ev.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        _ => true,
    };
    kind_matters && (ev.paths.is_empty() || ev.paths.iter().any(|p| yaml_or_folder(p)))
}

fn yaml_or_folder(p: &Path) -> bool {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if name.starts_with('.') || name.ends_with('~') {
        return false;
    }
    match p.extension().and_then(|e| e.to_str()) {
        Some(ext) => matches!(ext.to_ascii_lowercase().as_str(), "yaml" | "yml"),
        // A folder (or a file without extension, which costs one
        // unchanged read at worst).
        None => true,
    }
}

/// Reads the folder again and logs the outcome.
pub async fn reload(library: &Library, store: &dyn Store) {
    let before = library.current().hash.clone();
    let was_refused = !library.report().published;
    match library.reload(store).await {
        Ok(report) if report.published && report.program == before && !was_refused => {
            metrics::counter!("fixpath_reloads_total", "outcome" => "unchanged").increment(1);
            tracing::debug!(program = %report.program, "scripts folder changed; scripts unchanged");
        }
        Ok(report) if report.published => {
            metrics::counter!("fixpath_reloads_total", "outcome" => "published").increment(1);
            let scripts = library.current().scripts.len();
            let warnings = report.text.trim_end();
            tracing::info!(
                program = %report.program,
                scripts,
                "scripts reloaded; new sessions start on version {}{}{}",
                report.program,
                if warnings.is_empty() { "" } else { "\n" },
                warnings
            );
        }
        Ok(report) => {
            metrics::counter!("fixpath_reloads_total", "outcome" => "refused").increment(1);
            tracing::warn!(
                program = %before,
                "the changed scripts have errors and were not published; version {before} stays\n{}",
                report.text.trim_end()
            );
        }
        Err(e) => {
            metrics::counter!("fixpath_reloads_total", "outcome" => "failed").increment(1);
            tracing::warn!(error = %e, "could not reload the scripts; version {before} stays");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RenameMode};
    use std::path::PathBuf;

    fn ev(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn yaml_writes_and_renames_count_swap_files_and_reads_do_not() {
        let m = EventKind::Modify(ModifyKind::Any);
        assert!(relevant(&ev(m, "/s/router.yaml")));
        assert!(relevant(&ev(m, "/s/sub/router.YML")));
        assert!(relevant(&ev(
            EventKind::Modify(ModifyKind::Name(RenameMode::To)),
            "/s/router.yaml"
        )));
        assert!(relevant(&ev(
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
            "/s/router.yaml"
        )));
        assert!(relevant(&ev(
            EventKind::Create(CreateKind::Folder),
            "/s/new"
        )));
        assert!(!relevant(&ev(
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            "/s/router.yaml"
        )));
        assert!(!relevant(&ev(m, "/s/.router.yaml.swp")));
        assert!(!relevant(&ev(m, "/s/router.yaml~")));
        assert!(!relevant(&ev(m, "/s/notes.txt")));
    }
}
