//! The authors' figures in a real browser (issue 15): customers walk the
//! printer script through the API (some solve it, some ask for a person,
//! one gives up halfway), then an author opens the script's page in English
//! and in German and reads the figures, the hottest nodes and the annotated
//! graph (an `<img>` whose SVG shades the nodes). Screenshot:
//! `author-stats.png`.
//!
//! The figures come from the store's rollups. Where the store cannot give
//! them yet, the page must say so and draw the plain graph; the test then
//! checks that note instead of the figures (and says so on stderr).

use super::case_pages::page_shot;
use super::{Driver, Session, browser_available, shots, sign_in};
use crate::common::{PRINTER, TestApp, staff};
use crate::graph_stats::{Walk, walk};

use anyhow::{Context, Result, ensure};
use base64::Engine as _;
use fixpath::clock::Clock;
use fixpath::http::HttpConfig;
use fixpath::store::Role;
use serde_json::json;
use std::path::Path;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

/// The text of `[data-figure=NAME]` on the page.
async fn figure(b: &Session, name: &str) -> Result<String> {
    let el = b.css(&format!("[data-figure='{name}']")).await?;
    b.text(&el).await
}

/// The annotated graph's SVG, as the page's `<img>` loaded it (fetched by
/// the page itself, with its cookies), once the image has drawn.
async fn graph_svg(b: &Session) -> Result<String> {
    let src = b
        .run_js(
            "const i = document.querySelector('figure.graph img'); \
             return [i.getAttribute('src'), i.complete && i.naturalWidth > 0];",
        )
        .await?;
    let path = src[0].as_str().context("the graph's src")?.to_owned();
    ensure!(src[1] == true, "the graph image has drawn ({path})");
    let here = b.current_url().await?;
    b.goto(&format!(
        "{}{path}",
        here.split("/author").next().unwrap_or_default()
    ))
    .await?;
    let source = b.get("/source").await?;
    b.goto(&here).await?;
    Ok(source.as_str().unwrap_or_default().to_owned())
}

/// A screenshot of one element (the graph), at its own size.
async fn element_shot(b: &Session, selector: &str, dir: &Path, name: &str) -> Result<()> {
    let el = b.css(selector).await?;
    let data = b.get(&format!("/element/{}/screenshot", el.0)).await?;
    let png = base64::engine::general_purpose::STANDARD
        .decode(data.as_str().unwrap_or_default())
        .context("the screenshot is base64")?;
    std::fs::write(dir.join(name), png)?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_author_reads_the_figures_and_the_annotated_graph_in_two_languages() -> Result<()> {
    if !browser_available() {
        return Ok(());
    }
    let shots = shots();
    let app = TestApp::start_with_setup(HttpConfig::default(), &[PRINTER], |state| {
        state.clock = Clock::fixed(T0);
    })
    .await;
    for w in [
        Walk::PaperAdded,
        Walk::PaperAdded,
        Walk::PaperAdded,
        Walk::RedLight,
        Walk::RedLight,
        Walk::NoLight,
        Walk::AsksForPerson,
        Walk::GivesUp,
    ] {
        walk(&app, &w).await;
    }
    // An hour on: the one who gave up is past the idle limit.
    app.state.clock.advance(Duration::hours(1));
    staff(&app, "ada", Role::Author, "pw-ada-123").await;
    let base = app.base.clone();
    let mut driver = Driver::start().await?;
    let b = driver.session().await?;
    b.set_window(1200, 900).await?;
    sign_in(&b, &base, "/author", "ada", "pw-ada-123").await?;

    for (lang, heading, hottest, unavailable) in [
        (
            "en",
            "Figures",
            "Hottest nodes",
            "The figures are unavailable right now",
        ),
        (
            "de",
            "Kennzahlen",
            "Brennpunkte",
            "Die Kennzahlen sind gerade nicht verfügbar",
        ),
    ] {
        b.goto(&format!("{base}/author/scripts/printer?lang={lang}"))
            .await?;
        b.wait_for("css selector", "h2#figures", heading).await?;
        let text = b.body_text().await?;
        ensure!(
            !text.contains(unavailable),
            "the figures are unavailable: {text}"
        );
        {
            // 8 sessions: 4 resolved, 3 escalated, 1 abandoned.
            ensure!(figure(&b, "started").await? == "8", "started");
            ensure!(figure(&b, "resolved").await? == "4", "resolved");
            ensure!(figure(&b, "escalated").await? == "3", "escalated");
            ensure!(figure(&b, "abandoned").await? == "1", "abandoned");
            ensure!(figure(&b, "active").await? == "0", "active");
            let pc = if lang == "en" { "%" } else { " %" };
            ensure!(figure(&b, "escalation").await? == format!("38{pc}"));
            ensure!(figure(&b, "abandonment").await? == format!("13{pc}"));
            ensure!(figure(&b, "deflection").await? == format!("50{pc}"));
            ensure!(figure(&b, "fcr").await? == format!("57{pc}"));
            // The hottest nodes: two escalated at `light`, then `paper`
            // (one asked for a person), then `model` (one gave up).
            b.wait_for("css selector", "h2#hottest", hottest).await?;
            let rows = b
                .run_js(
                    "return [...document.querySelectorAll('table.hottest tbody tr td:first-child')]\
                     .map(td => td.textContent.trim());",
                )
                .await?;
            ensure!(
                rows == json!(["light", "paper", "model"]),
                "hottest: {rows}"
            );
            // The picture: shaded nodes, a legend in the page's language.
            let svg = graph_svg(&b).await?;
            ensure!(svg.contains("class=\"legend\""), "a legend");
            ensure!(
                svg.contains("<g class=\"n q h"),
                "a question shaded by its figures"
            );
            let legend = if lang == "en" {
                "not entered"
            } else {
                "nie betreten"
            };
            ensure!(svg.contains(legend), "the legend in {lang}");
        }
        if lang == "en" {
            page_shot(&b, &shots, "author-stats.png").await?;
            element_shot(&b, "figure.graph img", &shots, "author-stats-graph.png").await?;
        } else {
            page_shot(&b, &shots, "author-stats-de.png").await?;
        }
    }
    drop(b);
    drop(driver);
    Ok(())
}
