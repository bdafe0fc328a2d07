//! The authors' page of a script with its figures (contract section 11):
//! the version and period form, the figures or a note saying why there are
//! none, and the graph asked with the same query. A bad query is a note on
//! the page, never a failure; the picture always draws.
//!
//! These tests hold whether or not the store can give figures yet: without
//! them the page says so and asks for the plain graph; with them it shows
//! the figures and asks for the annotated one (the browser test drives real
//! sessions and looks at the figures themselves).

use crate::common::{PRINTER, SCRIPTS, TestApp, staff};
use crate::web::{Browser, Page};
use fixpath::http::HttpConfig;
use fixpath::store::Role;

async fn app() -> TestApp {
    let mut scripts = SCRIPTS.to_vec();
    scripts.push(PRINTER);
    TestApp::start_with_scripts(HttpConfig::default(), &scripts, |r, _| r).await
}

/// A browser signed in as an author (`name`, created here) that asks for
/// pages in `lang`.
async fn author(app: &TestApp, name: &str, lang: &str) -> Browser {
    staff(app, name, Role::Author, "pw-ada-123").await;
    let mut b = Browser::new(app);
    b.language = Some(lang.to_owned());
    b.get("/signin").await;
    b.post(
        "/signin",
        &[("name", name), ("password", "pw-ada-123"), ("next", "")],
    )
    .await
    .assert_status(200);
    b
}

/// The graph's address on the page.
fn graph_src(page: &Page) -> String {
    let at = page
        .body
        .find("/author/scripts/printer/graph.svg")
        .expect("the graph is on the page");
    page.body[at..]
        .split('"')
        .next()
        .unwrap_or_default()
        .replace("&amp;", "&")
}

/// The page's `<main>`, versions and per-request values redacted.
fn main_of(page: &Page) -> String {
    let body = &page.body;
    let start = body.find("<main").expect("a main");
    let end = body.find("</main>").expect("its end") + "</main>".len();
    let part = crate::web::redact(&body[start..end]);
    regex::Regex::new(r"\b[0-9a-f]{12}([0-9a-f]{4})?\b")
        .unwrap()
        .replace_all(&part, "[version]")
        .into_owned()
}

#[tokio::test]
async fn the_script_page_shows_its_figures() {
    let app = app().await;
    for (lang, figures, unavailable, none) in [
        (
            "en",
            "Figures",
            "The figures are unavailable right now",
            "No sessions in this period for this version yet.",
        ),
        (
            "de",
            "Kennzahlen",
            "Die Kennzahlen sind gerade nicht verfügbar",
            "Für diese Version gibt es in diesem Zeitraum noch keine Sitzungen.",
        ),
    ] {
        let mut ada = author(&app, &format!("ada-{lang}"), lang).await;
        let page = ada
            .get(&format!("/author/scripts/printer?lang={lang}"))
            .await;
        page.assert_status(200).assert_has(figures);
        // The version picker: the current version first, all of them last.
        let version =
            fixpath::compiler::compile_texts([("printer.yaml".to_owned(), PRINTER.1.to_owned())])
                .program
                .get("printer")
                .map(|(_, s)| s.version.clone())
                .expect("the printer script compiles");
        page.assert_has(&format!("<option value=\"\" selected>{}", &version[..12]))
            .assert_has("<option value=\"all\"");
        let src = graph_src(&page);
        assert!(!page.body.contains(unavailable), "{}", page.body);
        assert!(src.contains("stats=1"), "{src}");
        assert!(
            page.body.contains("data-figure=\"started\"") || page.body.contains(none),
            "figures, or the note that there are none:\n{}",
            page.body
        );
        let svg = ada.get(&src).await;
        svg.assert_status(200).assert_has("<svg");
        // With figures asked for and given, the picture explains them.
        svg.assert_has("<g class=\"legend\">");
    }
}

#[tokio::test]
async fn a_bad_query_is_a_note_beside_the_form() {
    let app = app().await;
    let mut ada = author(&app, "ada", "en").await;
    let page = ada
        .get("/author/scripts/printer?since=yesterday&until=2026-13-40&version=%3Cscript%3E")
        .await;
    page.assert_status(400)
        .assert_has("There is a problem")
        .assert_has("“yesterday” is not a date")
        .assert_has("“2026-13-40” is not a date")
        .assert_has("This script has no version “&lt;script&gt;”")
        .assert_has("href=\"#since\"");
    assert!(!page.body.contains("<script>"));
    // The graph still draws, plain.
    assert!(!graph_src(&page).contains("stats=1"));
    insta::assert_snapshot!("author_bad_query", main_of(&page));
    let page = ada
        .get("/author/scripts/printer?since=2026-12-02&until=2026-12-01")
        .await;
    page.assert_status(400)
        .assert_has("The period ends before it begins.");
    let mut de = author(&app, "dora", "de").await;
    de.get("/author/scripts/printer?since=gestern")
        .await
        .assert_status(400)
        .assert_has("„gestern“ ist kein Datum");
}

#[tokio::test]
async fn the_graph_with_a_bad_query_or_no_figures_is_the_plain_picture() {
    let app = app().await;
    let mut ada = author(&app, "ada", "en").await;
    let plain = ada.get("/author/scripts/printer/graph.svg?lang=en").await;
    plain.assert_status(200);
    for q in [
        "stats=1&since=yesterday",
        "stats=1&version=%3Cx%3E",
        "stats=0&version=all",
    ] {
        let svg = ada
            .get(&format!("/author/scripts/printer/graph.svg?lang=en&{q}"))
            .await;
        svg.assert_status(200);
        assert_eq!(svg.body, plain.body, "{q}");
    }
    let svg = ada
        .get("/author/scripts/printer/graph.svg?lang=en&stats=1&version=all")
        .await;
    svg.assert_status(200).assert_has("<svg");
}

/// The picker lists every version the store has of the script, newest
/// first after the current one, even one without sessions in the period.
#[tokio::test]
async fn the_version_picker_lists_the_stored_versions() {
    let app = app().await;
    let old = "0123456789abcdef";
    app.store
        .put_script_version(&fixpath::store::ScriptVersion {
            id: "printer".into(),
            version: old.into(),
            path: "printer.yaml".into(),
            source: PRINTER
                .1
                .replace("Printer does not print", "An older printer"),
            created_at: time::macros::datetime!(2026-01-01 00:00 UTC),
        })
        .await
        .unwrap();
    let mut ada = author(&app, "ada", "en").await;
    let page = ada.get("/author/scripts/printer").await;
    page.assert_status(200)
        .assert_has(&format!("<option value=\"{old}\">{}", &old[..12]));
    // Chosen by a prefix: selected, and no complaint.
    let page = ada.get("/author/scripts/printer?version=0123456789").await;
    page.assert_status(200)
        .assert_has(&format!("<option value=\"{old}\" selected>"));
    assert!(!page.body.contains("has no version"), "{}", page.body);
    // A version the store does not have is named beside the form.
    let page = ada.get("/author/scripts/printer?version=fedcba").await;
    page.assert_has("This script has no version “fedcba”");
}
