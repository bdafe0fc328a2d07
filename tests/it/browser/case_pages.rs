//! A case from both sides in real browsers (issue 14): a German-speaking
//! customer hands the printer script over with an e-mail address and
//! follows the case page; a specialist reading English finds the case
//! overdue in the queue, answers with a canned reply filled in in German,
//! waits for the customer, reads the answer and resolves; the customer
//! sees the resolution and the satisfaction question. Two Chromiums (two
//! cookie jars: the customer's session and language are not the
//! specialist's), one server with a fixed clock moved by hand.

use super::{Driver, El, Session, browser_available, shots, sign_in};
use crate::common::{PRINTER, TestApp, staff};

use anyhow::{Context, Result};
use fixpath::case::{Due, DueTimes};
use fixpath::clock::Clock;
use fixpath::http::{CaseSettings, HttpConfig};
use fixpath::store::Role;
use regex::Regex;
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

/// A canned reply for the printer's queue, in the script's languages.
const PHOTO: (&str, &str) = (
    "replies/printer-photo.yaml",
    r#"id: printer-photo
title: { en: Ask for a photo of the printer, nl: Vraag om een foto van de printer, de: Um ein Foto des Druckers bitten }
queues: [print]
text:
  en: "Hello, could you send us a photo of the printer's display? ({{ reference }}, {{ script.title }}) {{ agent }}"
  nl: "Hallo, kunt u ons een foto van het display van de printer sturen? ({{ reference }}, {{ script.title }}) {{ agent }}"
  de: "Guten Tag, könnten Sie uns ein Foto der Anzeige des Druckers schicken? ({{ reference }}, {{ script.title }}) {{ agent }}"
"#,
);

/// Due times as an `[sla]` would set them: a first response within the
/// hour, a resolution within a day.
#[derive(Debug)]
struct Hourly;

impl DueTimes for Hourly {
    fn due(&self, _tier: u8, _queue: Option<&str>, from: OffsetDateTime) -> Due {
        Due {
            response: Some(from + Duration::hours(1)),
            resolution: Some(from + Duration::days(1)),
        }
    }
}

/// The page's text of the first element matching `selector`, waited for
/// until it contains `text`.
async fn text_of(b: &Session, selector: &str, text: &str) -> Result<String> {
    let el = b.wait_for("css selector", selector, text).await?;
    b.text(&el).await
}

/// A form control's current value (a textarea's text as typed or filled).
async fn value(b: &Session, el: &El) -> Result<String> {
    let v = b.get(&format!("/element/{}/property/value", el.0)).await?;
    Ok(v.as_str().unwrap_or_default().to_owned())
}

/// A screenshot of the whole page (up to 1800 pixels), not just the
/// window: the window is made as tall as the page for it (plus what the
/// browser's own frame takes), then put back.
pub(super) async fn page_shot(b: &Session, dir: &Path, name: &str) -> Result<()> {
    let sizes = b
        .run_js(
            "return [document.documentElement.scrollHeight, \
                     window.outerHeight - window.innerHeight];",
        )
        .await?;
    let page = sizes[0].as_u64().unwrap_or(900).clamp(600, 1800);
    let frame = sizes[1].as_u64().unwrap_or(0).min(300);
    b.set_window(1200, u32::try_from(page + frame).unwrap_or(900))
        .await?;
    let taken = b.screenshot(dir, name).await;
    b.set_window(1200, 900).await?;
    taken
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_goes_from_a_german_customer_to_an_english_specialist_and_back() -> Result<()> {
    if !browser_available() {
        return Ok(());
    }
    let shots = shots();
    let app = TestApp::start_with_setup(HttpConfig::default(), &[PRINTER, PHOTO], |state| {
        state.clock = Clock::fixed(T0);
        state.cases = Arc::new(CaseSettings {
            due_times: Arc::new(Hourly),
            mail: true,
            mirror: false,
            ..CaseSettings::default()
        });
    })
    .await;
    staff(&app, "sam", Role::Specialist, "correct horse battery").await;
    let base = app.base.clone();
    let mut driver = Driver::start().await?;
    let kim = driver.session().await?;
    let sam = driver.session().await?;
    kim.set_window(1200, 900).await?;
    sam.set_window(1200, 900).await?;

    // (1) The customer picks German on the list and walks the printer
    // script to the check page.
    kim.goto(&format!("{base}/")).await?;
    kim.click(&kim.css("nav.langs a[hreflang='de']").await?)
        .await?;
    kim.click(
        &kim.xpath(
            "//li[contains(@class,'card')][.//h2[normalize-space()='Drucker druckt nicht']]\
             //button[@type='submit']",
        )
        .await?,
    )
    .await?;
    kim.wait_for("css selector", "legend h1", "Ist Papier im Fach?")
        .await?;
    let weiter = "//form[contains(@class,'step')]//button[normalize-space()='Weiter']";
    kim.click(&kim.xpath("//label[normalize-space()='Ja']").await?)
        .await?;
    kim.click(&kim.xpath(weiter).await?).await?;
    kim.wait_for("css selector", "label[for=value]", "Wie heißt das Modell?")
        .await?;
    kim.type_into(&kim.css("input#value").await?, "LX-200")
        .await?;
    kim.click(&kim.xpath(weiter).await?).await?;
    kim.wait_for(
        "css selector",
        "legend h1",
        "Zeigt der LX-200 ein rotes Licht?",
    )
    .await?;
    kim.click(
        &kim.wait_for("link text", "Mit einer Ansprechperson sprechen", "")
            .await?,
    )
    .await?;

    // (2) An address on the check page, and the case is handed over.
    kim.wait_for("css selector", "h1", "Prüfen Sie Ihre Antworten")
        .await?;
    kim.type_into(&kim.css("input#email").await?, "kim@example.com")
        .await?;
    kim.type_into(
        &kim.css("textarea#note").await?,
        "Das rote Licht blinkt seit gestern.",
    )
    .await?;
    kim.click(
        &kim.xpath("//button[normalize-space()='An eine Ansprechperson senden']")
            .await?,
    )
    .await?;
    let head = text_of(&kim, ".case-head", "Eingegangen").await?;
    assert!(
        head.contains("Eine Ansprechperson hilft Ihnen weiter"),
        "{head}"
    );
    assert!(
        head.contains("Wir benachrichtigen Sie außerdem per E-Mail"),
        "{head}"
    );
    let reference = Regex::new(r"Vorgangsnummer\s+([A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4})")?
        .captures(&head)
        .with_context(|| format!("no reference on the case page:\n{head}"))?[1]
        .to_owned();
    // The case page is the session's own address: opened again, the same.
    let case_url = kim.current_url().await?;
    assert!(
        Regex::new(r"/s/ses_[0-9a-f]+$")?.is_match(&case_url),
        "{case_url}"
    );
    kim.goto(&case_url).await?;
    let page = text_of(&kim, ".case-status", "Eingegangen").await?;
    assert!(page.contains("Stand:"), "{page}");
    let body = kim.body_text().await?;
    assert!(body.contains("Noch keine Nachrichten"), "{body}");
    assert!(!body.contains("esc_") && !body.contains("ses_"), "{body}");

    // (3) Another case comes in later; an hour and a quarter after the
    // first, the specialist's list has it overdue, on top and marked.
    app.state.clock.advance(Duration::minutes(45));
    let (other, token, _) = app
        .start_session(
            None,
            &json!({"script": "printer", "channel": "customer", "language": "en"}),
        )
        .await;
    app.post(
        &format!("/api/v1/sessions/{other}/escalate"),
        Some(&token),
        &json!({"seq": 1}),
    )
    .await
    .assert_ok(200);
    app.state.clock.advance(Duration::minutes(30));
    sign_in(&sam, &base, "/queue", "sam", "correct horse battery").await?;
    let overdue = text_of(&sam, "table.queue tr.overdue", &reference).await?;
    assert!(overdue.contains("Overdue"), "{overdue}");
    assert!(overdue.contains("15 min overdue"), "{overdue}");
    // The case's own words are the customer's (German); the list's are English.
    assert!(overdue.contains("Drucker druckt nicht"), "{overdue}");
    assert!(overdue.contains("First response"), "{overdue}");
    let rows = sam.find_all("css selector", "table.queue tbody tr").await?;
    assert_eq!(rows.len(), 2, "both cases are to do");
    assert_eq!(
        sam.find_all("css selector", "table.queue tr.overdue")
            .await?
            .len(),
        1,
        "only the first is overdue"
    );
    assert!(
        sam.text(&rows[0]).await?.contains(&reference),
        "the overdue case comes first"
    );
    assert!(sam.text(&rows[1]).await?.contains("in 30 min"));
    page_shot(&sam, &shots, "queue-overdue.png").await?;

    // (4) The specialist opens it, picks the canned reply and presses
    // "Use": the page is English, the reply is German, the case's language.
    sam.click(
        &sam.xpath(&format!(
            "//tr[contains(@class,'overdue')][contains(.,'{reference}')]//a"
        ))
        .await?,
    )
    .await?;
    sam.wait_for("css selector", "#reply-title", "Reply to the customer")
        .await?;
    let hint = text_of(&sam, "#canned-hint", "Deutsch").await?;
    assert!(hint.contains("in the case's language (Deutsch)"), "{hint}");
    sam.click(
        &sam.css("select#canned-reply option[value='printer-photo']")
            .await?,
    )
    .await?;
    sam.click(&sam.xpath("//button[normalize-space()='Use']").await?)
        .await?;
    let canned = format!(
        "Guten Tag, könnten Sie uns ein Foto der Anzeige des Druckers schicken? \
         ({reference}, Drucker druckt nicht) sam"
    );
    let deadline = std::time::Instant::now() + super::WAIT;
    loop {
        let el = sam.css("textarea#reply-text").await?;
        if value(&sam, &el).await.is_ok_and(|v| v == canned) {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the reply was not filled in: {:?}",
            value(&sam, &el).await
        );
        tokio::time::sleep(super::POLL).await;
    }
    let picked = sam
        .get(&format!(
            "/element/{}/property/value",
            sam.css("select#canned-reply").await?.0
        ))
        .await?;
    assert_eq!(picked, "printer-photo", "the pick stays selected");
    let page = sam.body_text().await?;
    for english in ["Send reply", "Wait for the customer's answer", "Resolve"] {
        assert!(page.contains(english), "`{english}` not on the page");
    }
    // As the specialist sees it: "Use" brought the page back at the reply.
    sam.screenshot(&shots, "queue-canned-reply.png").await?;

    // (5) Sent, waiting for the customer.
    sam.click(&sam.css("input#reply-wait").await?).await?;
    sam.click(
        &sam.xpath("//button[normalize-space()='Send reply']")
            .await?,
    )
    .await?;
    sam.wait_for("css selector", ".facts .status", "Waiting for customer")
        .await?;
    text_of(&sam, "ul.messages", &canned).await?;

    // (6) The customer reloads: the reply, and the page asks for an answer.
    kim.goto(&case_url).await?;
    let status = text_of(&kim, ".case-status", "Wartet auf Ihre Antwort").await?;
    assert!(status.contains("Stand:"), "{status}");
    let messages = text_of(&kim, "ol.messages", &canned).await?;
    assert!(messages.contains("Kundendienst"), "{messages}");
    assert!(!messages.contains("sam ·"), "staff sign as support");
    let body = kim.body_text().await?;
    assert!(
        body.contains("Eine Fachkraft hat Ihnen eine Frage gestellt"),
        "{body}"
    );
    page_shot(&kim, &shots, "case-waiting-de.png").await?;
    let answer = "Auf der Anzeige steht E-13. Ein Foto habe ich leider nicht.";
    kim.type_into(&kim.css("textarea#text").await?, answer)
        .await?;
    kim.click(
        &kim.xpath("//button[normalize-space()='Nachricht senden']")
            .await?,
    )
    .await?;
    kim.wait_for(
        "css selector",
        ".case-status",
        "Eine Fachkraft kümmert sich darum",
    )
    .await?;
    let messages = text_of(&kim, "ol.messages", answer).await?;
    assert!(messages.contains("Sie ·"), "{messages}");

    // (7) The specialist sees the answer and resolves.
    app.state.clock.advance(Duration::minutes(10));
    sam.goto(&sam.current_url().await?).await?;
    text_of(&sam, "ul.messages", answer).await?;
    sam.type_into(
        &sam.css("textarea#resolve-text").await?,
        "Fehler E-13 ist die Fixiereinheit: Wir haben Ihnen eine neue geschickt.",
    )
    .await?;
    sam.click(&sam.xpath("//button[normalize-space()='Resolve']").await?)
        .await?;
    sam.wait_for("css selector", ".facts .status", "Resolved")
        .await?;

    // (8) The customer sees how, and is asked how it went; answers once.
    kim.goto(&case_url).await?;
    kim.wait_for("css selector", ".case-status", "Erledigt")
        .await?;
    let resolution = text_of(&kim, ".case-resolution", "So haben wir es gelöst").await?;
    assert!(
        resolution.contains("Wir haben Ihnen eine neue geschickt."),
        "{resolution}"
    );
    assert!(resolution.contains("2026-03-02"), "{resolution}");
    let feedback = text_of(
        &kim,
        "section.feedback",
        "Wie zufrieden sind Sie mit der Hilfe",
    )
    .await?;
    assert!(feedback.contains("Sehr zufrieden"), "{feedback}");
    page_shot(&kim, &shots, "case-resolved-de.png").await?;
    kim.click(&kim.xpath("//label[normalize-space()='Zufrieden']").await?)
        .await?;
    kim.click(
        &kim.xpath("//button[normalize-space()='Bewertung senden']")
            .await?,
    )
    .await?;
    kim.wait_for(
        "css selector",
        "section.feedback-thanks",
        "Vielen Dank für Ihre Bewertung",
    )
    .await?;
    let session = case_url.rsplit('/').next().unwrap_or_default();
    assert_eq!(
        app.store.feedback_kinds(session).await?,
        vec![fixpath::case::feedback::FeedbackKind::Case]
    );

    for b in [&kim, &sam] {
        if let Some(errors) = b.console_errors().await {
            assert!(errors.is_empty(), "console errors: {errors:#?}");
        }
    }
    eprintln!("screenshots in {}", shots.display());
    drop(kim);
    drop(sam);
    drop(driver);
    Ok(())
}
