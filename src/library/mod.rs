//! The script library a server runs: the current [`Program`] compiled from
//! the scripts folder, and the older programs that sessions under way pinned.
//!
//! A session pins the version (content hash) of every script it runs. When
//! an author edits a script, new sessions get the new version; a session
//! under way keeps stepping through its pinned versions, compiled on demand
//! from the sources the store kept, and cached.
//!
//! The canned replies of the folder's `replies/` are read with the scripts
//! and published with them: a reload whose scripts or replies have errors
//! changes neither.

use crate::clock::Clock;
use crate::compiler::{self, Compilation};
use crate::diagnostics::{Diagnostic, Sources, render};
use crate::engine::Pin;
use crate::program::Program;
use crate::reply::Replies;
use crate::store::{ScriptVersion, Store, StoreError};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

pub mod search;
use time::OffsetDateTime;

/// How many pinned programs to keep compiled.
const CACHE: usize = 64;

/// The outcome of the last (re)load, for the authors' API and the logs.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoadReport {
    /// When the folder was last read.
    #[serde(with = "time::serde::rfc3339::option")]
    pub at: Option<OffsetDateTime>,
    /// Whether the new scripts were published.
    pub published: bool,
    /// The program hash now served.
    pub program: String,
    /// Every diagnostic of the last read (errors refuse the new version).
    pub diagnostics: Vec<serde_json::Value>,
    /// The same, as an author reads them.
    pub text: String,
}

pub struct Library {
    dir: PathBuf,
    current: RwLock<Arc<Program>>,
    /// The canned replies of the current version of the folder.
    replies: RwLock<Arc<Replies>>,
    pinned: Mutex<HashMap<Vec<Pin>, Arc<Program>>>,
    report: RwLock<LoadReport>,
    /// The search index of the current program, made on first search
    /// (keyed by the program's hash, so a reload makes a new one).
    search: Mutex<Option<(String, Arc<search::Index>)>>,
}

#[derive(Debug, thiserror::Error)]
pub enum LibraryError {
    #[error("the scripts folder cannot be read: {0}")]
    Folder(String),
    #[error("the scripts have errors:\n{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("script `{0}` version {1} is not stored")]
    MissingVersion(String, String),
}

impl Library {
    /// Compiles the scripts folder; refuses to start on errors (there is no
    /// older version to fall back to yet). Stores every script version.
    pub async fn open(dir: PathBuf, store: &dyn Store) -> Result<Library, LibraryError> {
        Library::prepare(dir)?.open(store).await
    }

    /// The first compilation of the folder, before any database is touched:
    /// a missing folder or scripts with errors stop the start here.
    pub fn prepare(dir: PathBuf) -> Result<Prepared, LibraryError> {
        let comp = compile_dir(&dir)?;
        let report = report(&comp, true);
        if comp.errors() > 0 {
            return Err(LibraryError::Invalid(report.text));
        }
        Ok(Prepared { dir, comp, report })
    }

    /// The program new sessions start on.
    pub fn current(&self) -> Arc<Program> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The search index of the current program's scripts that `include`
    /// accepts (always the same filter for one library).
    pub fn search_index(&self, include: fn(&crate::program::Script) -> bool) -> Arc<search::Index> {
        let program = self.current();
        let mut cached = self.search.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((hash, index)) = cached.as_ref()
            && *hash == program.hash
        {
            return index.clone();
        }
        let index = Arc::new(search::Index::build(&program, include));
        *cached = Some((program.hash.clone(), index.clone()));
        index
    }

    /// The canned replies of the folder, as last published.
    pub fn replies(&self) -> Arc<Replies> {
        self.replies
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn report(&self) -> LoadReport {
        self.report
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Re-reads the folder. A version with errors is refused: the old one
    /// stays, and the report says why.
    pub async fn reload(&self, store: &dyn Store) -> Result<LoadReport, LibraryError> {
        let comp = compile_dir(&self.dir)?;
        let ok = comp.errors() == 0;
        let mut report = report(&comp, ok);
        if !ok {
            // Refused: the program still served is the old one.
            report.program = self.current().hash.clone();
        }
        if ok {
            store_versions(&comp, store).await?;
            *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(comp.program);
            *self.replies.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(comp.replies);
        }
        *self.report.write().unwrap_or_else(|e| e.into_inner()) = report.clone();
        Ok(report)
    }

    /// The program that holds exactly these pinned versions: the current one
    /// when it does, else one compiled from the stored sources.
    pub async fn program_for(
        &self,
        pins: &[Pin],
        store: &dyn Store,
    ) -> Result<Arc<Program>, LibraryError> {
        let current = self.current();
        if pins.iter().all(|p| {
            current
                .get(&p.id)
                .is_some_and(|(_, s)| s.version == p.version)
        }) {
            return Ok(current);
        }
        let key = pins.to_vec();
        if let Some(p) = self
            .pinned
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Ok(p.clone());
        }
        let versions = store.script_versions(pins).await?;
        for p in pins {
            if !versions
                .iter()
                .any(|v| v.id == p.id && v.version == p.version)
            {
                return Err(LibraryError::MissingVersion(
                    p.id.to_string(),
                    p.version.to_string(),
                ));
            }
        }
        let comp = compiler::compile_texts(versions.into_iter().map(|v| (v.path, v.source)));
        let program = Arc::new(comp.program);
        let mut cache = self.pinned.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE {
            cache.clear();
        }
        cache.insert(key, program.clone());
        Ok(program)
    }
}

/// A scripts folder that compiled, not yet stored: see [`Library::prepare`].
pub struct Prepared {
    dir: PathBuf,
    comp: Compilation,
    report: LoadReport,
}

impl Prepared {
    /// How many scripts the folder holds.
    pub fn scripts(&self) -> usize {
        self.comp.program.scripts.len()
    }

    /// Stores every script version and serves them.
    pub async fn open(self, store: &dyn Store) -> Result<Library, LibraryError> {
        store_versions(&self.comp, store).await?;
        Ok(Library {
            dir: self.dir,
            current: RwLock::new(Arc::new(self.comp.program)),
            replies: RwLock::new(Arc::new(self.comp.replies)),
            pinned: Mutex::new(HashMap::new()),
            report: RwLock::new(self.report),
            search: Mutex::new(None),
        })
    }
}

fn compile_dir(dir: &std::path::Path) -> Result<Compilation, LibraryError> {
    compiler::compile_paths(&[dir.to_path_buf()]).map_err(|e| LibraryError::Folder(e.to_string()))
}

fn report(comp: &Compilation, published: bool) -> LoadReport {
    let diags: &[Diagnostic] = &comp.diagnostics;
    let sources: &Sources = &comp.sources;
    LoadReport {
        at: Some(Clock::system().now()),
        published,
        program: comp.program.hash.clone(),
        diagnostics: diags
            .iter()
            .map(|d| render::json_value(d, sources))
            .collect(),
        text: render::human(diags, sources, false),
    }
}

async fn store_versions(comp: &Compilation, store: &dyn Store) -> Result<(), StoreError> {
    let now = Clock::system().now();
    for s in &comp.program.scripts {
        let source = comp
            .sources
            .iter()
            .find(|(_, f)| f.path == s.path)
            .map(|(_, f)| f.text.to_string())
            .unwrap_or_default();
        store
            .put_script_version(&ScriptVersion {
                id: s.id.clone(),
                version: s.version.clone(),
                path: s.path.clone(),
                source,
                created_at: now,
            })
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::compiler;
    use crate::engine::{self, Channel, StartOptions};
    use crate::http::ops::customer_facing;

    fn assert_send_sync<T: Send + Sync>() {}

    /// The example library: every script a customer can pick (and every
    /// sub-flow it runs) speaks all five languages, and greets a customer
    /// whom no caller introduced without an empty name ("Hello , …").
    #[test]
    fn the_example_library_speaks_five_languages_and_greets_strangers_cleanly() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
        let comp = compiler::compile_paths(&[dir]).expect("the scripts folder reads");
        assert_eq!(comp.errors(), 0);
        let program = &comp.program;
        let five = ["en", "nl", "de", "et", "ru"];
        let mut checked = 0;
        for s in program.scripts.iter().filter(|s| customer_facing(s)) {
            assert_eq!(s.languages, five, "{}", s.id);
            for sub in &s.uses {
                assert_eq!(program.script(*sub).languages, five, "{} uses", s.id);
            }
            for lang in five {
                let mut opts = StartOptions::new(&s.id, Channel::Customer);
                opts.language = Some(lang.to_owned());
                let (session, _) =
                    engine::start(program, opts, crate::clock::Clock::system().now())
                        .expect("the session starts");
                let step = engine::view(program, &session)
                    .expect("the first step renders")
                    .expect("the script shows a first step");
                let shown = format!("{} {}", step.say.as_deref().unwrap_or(""), step.text);
                for bad in [" ,", " !", ",!", ", ,", "  "] {
                    assert!(!shown.contains(bad), "{} ({lang}): {shown:?}", s.id);
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 9 * 5);
    }

    /// The wizard's end page shows a customer the `resolve` text: it speaks
    /// to them, not about "the customer".
    #[test]
    fn example_resolutions_read_right_to_the_customer() {
        use crate::program::{NodeKind, Outcome};
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
        let comp = compiler::compile_paths(&[dir]).expect("the scripts folder reads");
        let program = &comp.program;
        let mut seen = 0;
        for s in program.scripts.iter().filter(|s| customer_facing(s)) {
            for (_, node) in s.nodes() {
                let mut texts = Vec::new();
                match &node.kind {
                    NodeKind::Resolve(t) => texts.push(*t),
                    NodeKind::Ask { answers, .. } => {
                        texts.extend(answers.iter().filter_map(|a| match a.outcome {
                            Outcome::Resolve(t) => Some(t),
                            _ => None,
                        }))
                    }
                    _ => {}
                }
                for t in texts {
                    for lang in 0..s.languages.len() {
                        let text = program.templates.source(t, lang).to_lowercase();
                        seen += 1;
                        for third_person in ["customer", "klant", "kunde", "klient", "клиент"]
                        {
                            assert!(!text.contains(third_person), "{}/{}: {text}", s.id, node.id);
                        }
                    }
                }
            }
        }
        assert!(seen > 50, "{seen}");
    }

    /// An example input that can refuse a value (a pattern, or a type other
    /// than free text) tells the person what it wants and why it refused.
    #[test]
    fn example_inputs_that_can_refuse_a_value_say_what_they_want() {
        use crate::program::NodeKind;
        use crate::script::ast::InputType;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
        let comp = compiler::compile_paths(&[dir]).expect("the scripts folder reads");
        let mut strict = 0;
        for s in comp.program.scripts.iter().filter(|s| customer_facing(s)) {
            for (_, node) in s.nodes() {
                if let NodeKind::Input {
                    kind,
                    pattern,
                    hint,
                    invalid,
                    ..
                } = &node.kind
                    && (pattern.is_some() || *kind != InputType::Text)
                {
                    strict += 1;
                    assert!(hint.is_some(), "{}/{}: no hint", s.id, node.id);
                    assert!(invalid.is_some(), "{}/{}: no invalid", s.id, node.id);
                }
            }
        }
        assert!(strict >= 10, "{strict}");
    }

    #[test]
    fn programs_can_be_shared_between_request_threads() {
        assert_send_sync::<super::Library>();
        assert_send_sync::<crate::program::Program>();
    }
}
