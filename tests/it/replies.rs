//! Canned replies as a server and an author meet them: loaded with the
//! scripts folder, published and refused with it on reload, and linted by
//! `fixpath lint` on their own with the library's languages.

use fixpath::library::Library;
use fixpath::reply::ReplyContext;
use fixpath::store::Schema;
use fixpath::store::sqlite::SqliteStore;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const SCRIPT: &str = "id: printer\ntitle: { en: Printer, de: Drucker }\nlanguages: [en, de]\nnodes:\n  done:\n    resolve: { en: Printing again, de: Er druckt wieder }\n";
const PHOTO: &str = "id: photo\ntitle: { en: Photo, de: Foto }\nqueues: [print]\ntext: { en: \"Please send a photo, {{ params.customer | default('dear customer') }}.\", de: \"Bitte schicken Sie ein Foto.\" }\n";

/// A folder of its own under the system's temporary folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("fixpath-replies-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("scripts/replies")).expect("a temporary folder");
        TempDir(dir)
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.0.join("scripts").join(name), text).expect("the file is written");
    }

    fn scripts(&self) -> PathBuf {
        self.0.join("scripts")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn store(dir: &Path) -> SqliteStore {
    let store = SqliteStore::open(dir.join("fixpath.db").to_str().expect("a UTF-8 path"))
        .await
        .expect("the store opens");
    store.migrate().await.expect("the schema migrates");
    store
}

fn ids(library: &Library) -> Vec<String> {
    library.replies().iter().map(|r| r.id.clone()).collect()
}

#[tokio::test]
async fn the_library_serves_replies_and_reloads_them_with_the_scripts() {
    let dir = TempDir::new("reload");
    dir.write("printer.yaml", SCRIPT);
    dir.write("replies/photo.yaml", PHOTO);
    let store = store(&dir.0).await;
    let library = Library::open(dir.scripts(), &store)
        .await
        .expect("the folder compiles");
    // The reply is not a script, and the server has it.
    assert_eq!(library.current().scripts.len(), 1);
    assert_eq!(ids(&library), ["photo"]);
    let replies = library.replies();
    let photo = replies.get("photo").expect("loaded");
    let ctx = ReplyContext::default();
    assert_eq!(
        replies.render(photo, "en", &ctx).expect("renders"),
        "Please send a photo, dear customer."
    );

    // A new reply is published with the next reload.
    dir.write(
        "replies/greeting.yaml",
        "id: greeting\ntitle: { en: Hello, de: Hallo }\ntext: { en: \"Hello, your reference is {{ reference }}.\", de: \"Guten Tag, Ihre Vorgangsnummer ist {{ reference }}.\" }\n",
    );
    let report = library.reload(&store).await.expect("the folder reads");
    assert!(report.published, "{}", report.text);
    assert_eq!(ids(&library), ["greeting", "photo"]);
    let replies = library.replies();
    let greeting = replies.get("greeting").expect("published");
    let ctx = ReplyContext {
        reference: Some("K7QF-2M9D".into()),
        ..ReplyContext::default()
    };
    assert_eq!(
        replies.render(greeting, "de", &ctx).expect("renders"),
        "Guten Tag, Ihre Vorgangsnummer ist K7QF-2M9D."
    );

    // A reply with an error is refused like a script with one: the replies
    // served stay as they were, and the report says why, at file:line:col.
    dir.write(
        "replies/photo.yaml",
        &PHOTO.replace("Bitte schicken Sie ein Foto.", "Bitte {{ kunde }}."),
    );
    let report = library.reload(&store).await.expect("the folder reads");
    assert!(!report.published);
    assert!(
        report
            .text
            .contains("error[FP009]: variable `kunde` is not available in a reply"),
        "{}",
        report.text
    );
    assert!(
        report.text.contains("replies/photo.yaml:4:101"),
        "{}",
        report.text
    );
    assert_eq!(ids(&library), ["greeting", "photo"]);
    let replies = library.replies();
    let photo = replies.get("photo").expect("still served");
    assert_eq!(
        replies
            .render(photo, "de", &ReplyContext::default())
            .expect("renders"),
        "Bitte schicken Sie ein Foto."
    );
}

#[tokio::test]
async fn a_folder_whose_reply_has_errors_does_not_start() {
    let dir = TempDir::new("start");
    dir.write("printer.yaml", SCRIPT);
    dir.write(
        "replies/photo.yaml",
        "id: photo\ntitle: Photo\ntxt: Send a photo\n",
    );
    match Library::prepare(dir.scripts()) {
        Err(fixpath::library::LibraryError::Invalid(text)) => {
            assert!(text.contains("FP002"), "{text}");
            assert!(text.contains("did you mean `text`?"), "{text}");
        }
        Err(other) => panic!("expected the reply's diagnostics, got {other}"),
        Ok(_) => panic!("a reply with errors must stop the start"),
    }
}

/// Runs the real binary from `dir`.
fn fixpath(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fixpath"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("FIXPATH_SCRIPTS")
        .stdin(Stdio::null())
        .output()
        .expect("the fixpath binary runs");
    (
        out.status.code().expect("an exit code"),
        String::from_utf8(out.stdout).expect("UTF-8"),
    )
}

#[test]
fn a_reply_linted_on_its_own_speaks_the_languages_of_its_library() {
    let dir = TempDir::new("lint-one");
    dir.write("printer.yaml", SCRIPT);
    dir.write(
        "replies/photo.yaml",
        "id: photo\ntitle: { en: Photo, de: Foto }\ntext: { en: Please send a photo. }\n",
    );
    // A broken neighbour is context, not reported.
    dir.write("replies/other.yaml", "id: other\n");
    let (code, out) = fixpath(&dir.0, &["lint", "scripts/replies/photo.yaml"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error[FP013]: the reply's text lacks the `de` text"),
        "{out}"
    );
    assert!(out.contains("--> scripts/replies/photo.yaml:3:7"), "{out}");
    assert!(!out.contains("other.yaml"), "{out}");
    // The folder: every problem, the neighbour's too.
    let (code, out) = fixpath(&dir.0, &["lint", "scripts", "--format", "json"]);
    assert_eq!(code, 1, "{out}");
    let diags: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let files: Vec<&str> = diags
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| d["file"].as_str().expect("a file"))
        .collect();
    assert!(files.contains(&"scripts/replies/other.yaml"), "{files:?}");
    assert!(files.contains(&"scripts/replies/photo.yaml"), "{files:?}");
    // Fixed, it passes with warnings denied.
    dir.write(
        "replies/photo.yaml",
        "id: photo\ntitle: { en: Photo, de: Foto }\ntext: { en: Please send a photo., de: Bitte schicken Sie ein Foto. }\n",
    );
    let (code, out) = fixpath(
        &dir.0,
        &["lint", "scripts/replies/photo.yaml", "--deny-warnings"],
    );
    assert_eq!(code, 0, "{out}");
}
