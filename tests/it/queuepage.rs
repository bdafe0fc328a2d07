//! The specialists' pages (contract section 10) as a browser without
//! JavaScript uses them: the list by due time (overdue first and marked)
//! and its pages, the case page with every act and every refusal worded
//! for the reader, and a canned reply filled in in the case's language
//! while the page speaks the specialist's. The clock is fixed and moved.

use crate::common;
use crate::web::{Browser, redact};

use common::{TestApp, staff};
use fixpath::case::{Due, DueTimes};
use fixpath::clock::Clock;
use fixpath::http::limits::{LimitConfig, Rate};
use fixpath::http::{CaseSettings, HttpConfig};
use fixpath::store::Role;
use serde_json::json;
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

const SCREEN: (&str, &str) = (
    "screen.yaml",
    r#"id: screen
title: { en: Screen stays black, nl: Scherm blijft zwart, de: Bildschirm bleibt schwarz }
languages: [en, nl, de]
escalation: { tier: 2, queue: desk }
nodes:
  handover:
    escalate: { en: Straight to a person, nl: Direct naar een medewerker, de: Direkt zu einem Menschen }
"#,
);

const URGENT: (&str, &str) = (
    "urgent.yaml",
    r#"id: urgent
title: { en: Line is down, nl: Lijn ligt plat, de: Leitung ist tot }
languages: [en, nl, de]
escalation: { tier: 2, queue: urgent }
nodes:
  handover:
    escalate: { en: The line is down, nl: De lijn ligt plat, de: Die Leitung ist tot }
"#,
);

const PHOTO: (&str, &str) = (
    "replies/photo.yaml",
    r#"id: photo
title: { en: Ask for a photo, nl: Vraag om een foto, de: Um ein Foto bitten }
queues: [desk]
text:
  en: "Hello {{ params.customer | default('') }}, please send a photo of the screen ({{ reference }}, {{ script.title }}). {{ agent }}"
  nl: "Hallo {{ params.customer | default('') }}, stuur ons een foto van het scherm ({{ reference }}, {{ script.title }}). {{ agent }}"
  de: "Guten Tag {{ params.customer | default('') }}, bitte schicken Sie ein Foto des Bildschirms ({{ reference }}, {{ script.title }}). {{ agent }}"
"#,
);

/// Renders only for a customer whose name is a number: fails on the rest.
const BROKEN: (&str, &str) = (
    "replies/broken.yaml",
    r#"id: broken
title: { en: Count the customer, nl: Tel de klant, de: Kunden zählen }
text: { en: "{{ params.customer | default(0) | int }}", nl: "{{ params.customer | default(0) | int }}", de: "{{ params.customer | default(0) | int }}" }
"#,
);

const ELSEWHERE: (&str, &str) = (
    "replies/elsewhere.yaml",
    r#"id: elsewhere
title: { en: Only for printers, nl: Alleen voor printers, de: Nur für Drucker }
queues: [print]
text: { en: Printers only., nl: Alleen printers., de: Nur Drucker. }
"#,
);

/// Due times: a first response within an hour (ten minutes on the urgent
/// queue), a resolution within a day.
#[derive(Debug)]
struct Targets;

impl DueTimes for Targets {
    fn due(&self, _tier: u8, queue: Option<&str>, from: OffsetDateTime) -> Due {
        let response = if queue == Some("urgent") {
            Duration::minutes(10)
        } else {
            Duration::hours(1)
        };
        Due {
            response: Some(from + response),
            resolution: Some(from + Duration::days(1)),
        }
    }
}

async fn app() -> TestApp {
    // Room for the fifty-odd sessions a paging test starts.
    let roomy = Rate {
        per_minute: 10_000,
        burst: 10_000,
    };
    let config = HttpConfig {
        limits: LimitConfig {
            session_start: roomy,
            ..LimitConfig::default()
        },
        ..HttpConfig::default()
    };
    TestApp::start_with_setup(
        config,
        &[SCREEN, URGENT, PHOTO, BROKEN, ELSEWHERE],
        |state| {
            state.clock = Clock::fixed(T0);
            state.cases = Arc::new(CaseSettings {
                due_times: Arc::new(Targets),
                ..CaseSettings::default()
            });
        },
    )
    .await
}

/// A customer's session of `script` in `language`, handed to a person at
/// once: the case's id.
async fn escalated(app: &TestApp, script: &str, language: &str, customer: &str) -> String {
    let (id, _, body) = app
        .start_session(
            None,
            &json!({"script": script, "channel": "customer", "language": language,
                    "params": {"customer": customer}}),
        )
        .await;
    assert_eq!(body["status"], "escalated", "{body}");
    format!("esc_{}", id.trim_start_matches("ses_"))
}

/// A specialist of tier 2, signed in, reading pages in `language`.
async fn specialist(app: &TestApp, name: &str, language: &str) -> Browser {
    let password = format!("{name}-password-1");
    staff(app, name, Role::Specialist, &password).await;
    let mut b = Browser::new(app);
    b.language = Some(language.to_owned());
    b.get("/queue").await;
    b.post(
        "/signin",
        &[("name", name), ("password", &password), ("next", "/queue")],
    )
    .await
    .assert_status(200);
    b
}

/// Where `text` first appears on the page.
#[track_caller]
fn at(body: &str, text: &str) -> usize {
    body.find(text)
        .unwrap_or_else(|| panic!("`{text}` not on the page:\n{body}"))
}

#[tokio::test]
async fn the_list_puts_overdue_cases_first_marks_them_and_pages() {
    let app = app().await;
    let calm = escalated(&app, "screen", "en", "Ann").await;
    app.state.clock.advance(Duration::minutes(5));
    let urgent = escalated(&app, "urgent", "en", "Bob").await;
    // Twenty minutes in: the urgent case's first response (due at 09:15)
    // is overdue, the calm one's (10:00) is not.
    app.state.clock.set(T0 + Duration::minutes(20));
    let mut sam = specialist(&app, "sam", "en").await;
    let list = sam.get("/queue").await;
    list.assert_status(200)
        .assert_has("5 min overdue")
        .assert_has("in 40 min")
        .assert_has("2026-03-02 10:00 UTC");
    assert!(
        at(&list.body, &urgent) < at(&list.body, &calm),
        "the overdue case comes first"
    );
    assert_eq!(list.body.matches(r#"<tr class="overdue">"#).count(), 1);
    insta::assert_snapshot!("list_overdue_first", redact(&list.body));
    // Oldest first, on request.
    let by_age = sam.get("/queue?sort=created").await;
    assert!(at(&by_age.body, &calm) < at(&by_age.body, &urgent));
    // The waiting ones are to do; resolved ones only under their status.
    sam.post(
        &format!("/queue/{calm}/reply"),
        &[("text", "Is it on?"), ("wait", "yes")],
    )
    .await
    .assert_status(200);
    sam.get("/queue").await.assert_has(&calm);
    sam.get("/queue?status=waiting").await.assert_has(&calm);
    sam.post(
        &format!("/queue/{urgent}/resolve"),
        &[("text", "Line repaired")],
    )
    .await
    .assert_status(200);
    let to_do = sam.get("/queue").await;
    assert!(!to_do.body.contains(&urgent));
    sam.get("/queue?status=resolved").await.assert_has(&urgent);
    sam.get("/queue?status=all")
        .await
        .assert_has(&urgent)
        .assert_has(&calm);

    // Fifty to a page: the next page's link carries the filters and the
    // cursor, and the page after shows the rest.
    for n in 0..50 {
        escalated(&app, "screen", "en", &format!("C{n}")).await;
    }
    let first = sam.get("/queue?status=all").await;
    assert_eq!(
        first.body.matches("<tr").count(),
        51,
        "a header and 50 rows"
    );
    let next = regex::Regex::new(r#"href="([^"]+)" rel="next""#)
        .unwrap()
        .captures(&first.body)
        .expect("a link to the next page")[1]
        .replace("&amp;", "&")
        .replace("&#x2f;", "/");
    assert!(next.starts_with("/queue?status=all&after="), "{next}");
    let second = sam.get(&next).await;
    second
        .assert_status(200)
        .assert_has("Back to the first page");
    assert_eq!(second.body.matches("<tr").count(), 3, "a header and 2 rows");
    assert!(!second.body.contains(r#"rel="next""#));
    // A cursor that is not one of ours starts at the top, not a 500.
    sam.get("/queue?after=%00nonsense").await.assert_status(200);
}

#[tokio::test]
async fn a_case_is_claimed_taken_over_replied_to_and_resolved_with_refusals_in_words() {
    let app = app().await;
    let esc = escalated(&app, "screen", "en", "Ann").await;
    let mut sam = specialist(&app, "sam", "en").await;
    let mut ada = specialist(&app, "ada", "en").await;

    let open = sam.get(&format!("/queue/{esc}")).await;
    open.assert_status(200)
        .assert_has("Nobody")
        .assert_has("Not yet")
        .assert_has("The customer asked for a person");
    app.state.clock.advance(Duration::minutes(2));
    sam.post(&format!("/queue/{esc}/claim"), &[])
        .await
        .assert_status(200)
        .assert_has("since 2026-03-02 09:02 UTC")
        .assert_has("sam claimed the case");

    // Ada may not reply on sam's case: told who holds it, her text kept.
    let refused = ada
        .post(&format!("/queue/{esc}/reply"), &[("text", "ada was here")])
        .await;
    refused
        .assert_status(409)
        .assert_has("sam holds this case. Take it over first")
        .assert_has(">ada was here</textarea>")
        .assert_has("Yes, take this case over from sam");
    // Taking over is confirmed in words first.
    ada.post(&format!("/queue/{esc}/claim"), &[("take_over", "1")])
        .await
        .assert_status(422)
        .assert_has("Tick the box to confirm");
    app.state.clock.advance(Duration::minutes(3));
    let taken = ada
        .post(
            &format!("/queue/{esc}/claim"),
            &[("take_over", "1"), ("confirm", "yes")],
        )
        .await;
    taken
        .assert_status(200)
        .assert_has("ada took the case over from sam")
        .assert_has("since 2026-03-02 09:05 UTC");
    // Now sam is the one refused, by name.
    sam.post(&format!("/queue/{esc}/resolve"), &[("text", "done")])
        .await
        .assert_status(409)
        .assert_has("ada holds this case.");
    // Not a tier above: refused in words, nothing changes.
    ada.post(
        &format!("/queue/{esc}/escalate"),
        &[("tier", "2"), ("note", "sideways")],
    )
    .await
    .assert_status(422)
    .assert_has("Tier 2 is not a tier above this case&#x27;s tier 2.");

    app.state.clock.advance(Duration::minutes(5));
    let replied = ada
        .post(
            &format!("/queue/{esc}/reply"),
            &[("text", "Please check the <cable>."), ("wait", "yes")],
        )
        .await;
    replied
        .assert_status(200)
        .assert_has("Waiting for customer")
        .assert_has("Please check the &lt;cable&gt;.")
        .assert_has("ada is waiting for the customer&#x27;s answer")
        .assert_has("2026-03-02 09:10 UTC");
    ada.post(&format!("/queue/{esc}/note"), &[("text", "cable swapped")])
        .await
        .assert_has("cable swapped");
    let e = app.store.escalation(&esc).await.unwrap().unwrap();
    assert_eq!(e.case.status.as_str(), "waiting");

    app.state.clock.advance(Duration::minutes(10));
    let done = ada
        .post(
            &format!("/queue/{esc}/resolve"),
            &[
                ("text", "The cable was loose."),
                ("note", "second cable this week"),
            ],
        )
        .await;
    done.assert_status(200)
        .assert_has("Resolved by")
        .assert_has("The cable was loose.")
        .assert_has("second cable this week")
        .assert_has("ada resolved the case");
    let stored = app.store.escalation(&esc).await.unwrap().unwrap();
    assert_eq!(stored.case.resolved_by.as_deref(), Some("ada"));
    // Claimed by one, taken over and resolved by another: the history says
    // who did what, and the page names the resolver, not a holder.
    insta::assert_snapshot!("case_resolved_en", redact(&done.body));
    // Resolved: a further escalation is refused in words.
    ada.post(
        &format!("/queue/{esc}/escalate"),
        &[("tier", "3"), ("note", "one more")],
    )
    .await
    .assert_status(409)
    .assert_has("This case is resolved already.");
}

#[tokio::test]
async fn a_canned_reply_fills_in_in_the_cases_language_for_a_reader_of_another() {
    let app = app().await;
    let esc = escalated(&app, "screen", "de", "Erika").await;
    let reference = app
        .store
        .escalation(&esc)
        .await
        .unwrap()
        .unwrap()
        .case
        .reference;
    let mut sam = specialist(&app, "sam", "en").await;

    // Offered for the case's queue, titled in the reader's language.
    let page = sam.get(&format!("/queue/{esc}")).await;
    page.assert_status(200)
        .assert_has(r#"<option value="photo">Ask for a photo</option>"#)
        .assert_has("in the case&#x27;s language (Deutsch)");
    assert!(
        !page.body.contains("elsewhere"),
        "not offered on this queue"
    );

    // "Use": the page comes back with the reply in German, filled in.
    let used = sam.get(&format!("/queue/{esc}?reply=photo")).await;
    used.assert_status(200).assert_has(&format!(
        ">Guten Tag Erika, bitte schicken Sie ein Foto des Bildschirms ({reference}, Bildschirm bleibt schwarz). sam</textarea>"
    ));
    used.assert_has(r#"<option value="photo" selected>Ask for a photo</option>"#);
    insta::assert_snapshot!("case_canned_reply_en", redact(&used.body));

    // Sent as it stands, the customer gets it.
    sam.post(
        &format!("/queue/{esc}/reply"),
        &[("text", "Guten Tag Erika, bitte schicken Sie ein Foto.")],
    )
    .await
    .assert_status(200)
    .assert_has("Guten Tag Erika, bitte schicken Sie ein Foto.");

    // A reply that fails to render, or one not offered here: a friendly
    // word on the form, never a 500.
    sam.get(&format!("/queue/{esc}?reply=broken"))
        .await
        .assert_status(422)
        .assert_has("The canned reply “Count the customer” could not be filled in");
    sam.get(&format!("/queue/{esc}?reply=elsewhere"))
        .await
        .assert_status(422)
        .assert_has("That canned reply is not offered for this case.");

    // A reader in Dutch: the titles and the page in Dutch, the reply still
    // in the case's German.
    let mut noor = specialist(&app, "noor", "nl").await;
    let nl = noor.get(&format!("/queue/{esc}?reply=photo")).await;
    nl.assert_status(200)
        .assert_has("Vraag om een foto")
        .assert_has("Antwoord versturen")
        .assert_has(">Guten Tag Erika, bitte schicken Sie ein Foto des Bildschirms");
    // The German reader's case page, snapshotted as a second language.
    let mut udo = specialist(&app, "udo", "de").await;
    let de = udo.get(&format!("/queue/{esc}")).await;
    de.assert_status(200)
        .assert_has("Um ein Foto bitten")
        .assert_has("sam hat der Kundin oder dem Kunden geantwortet")
        .assert_has("Übernehmen");
    insta::assert_snapshot!("case_page_de", redact(&de.body));
}
