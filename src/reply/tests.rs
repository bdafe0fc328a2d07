//! Replies loaded, offered by queue and rendered, on in-memory libraries.

use super::*;
use crate::compiler::{Compilation, compile_texts};
use serde_json::json;

/// A script in English and German, so the library speaks both.
const SCRIPT: &str = "id: printer\ntitle: { en: Printer, de: Drucker }\nlanguages: [en, de]\nnodes:\n  done:\n    resolve: { en: Done, de: Erledigt }\n";

const GREETING: &str = r#"id: greeting
title: { en: "Greeting", de: "Begrüßung" }
text:
  en: |
    {% if params.customer %}
    Hello {{ params.customer }},
    {% else %}
    Hello,
    {% endif %}

    thank you for contacting us about "{{ script.title }}". Your reference is {{ reference }}.
    {{ agent | default("The helpdesk") }}
  de: |
    {% if params.customer %}
    Guten Tag {{ params.customer }},
    {% else %}
    Guten Tag,
    {% endif %}

    danke für Ihre Nachricht zu „{{ script.title }}“. Ihre Vorgangsnummer ist {{ reference }}.
    {{ agent | default("Ihr Helpdesk") }}
"#;

const PHOTO: &str = "id: photo\ntitle: { en: Photo, de: Foto }\nqueues: [printing, hardware]\ntext: { en: Please send a photo of the display., de: Bitte schicken Sie ein Foto des Displays. }\n";

const NETWORK: &str = "id: router-lights\ntitle: { en: Router lights, de: Router-Lampen }\nqueues: [network]\ntext: { en: \"Which lights are on, {{ params.customer | default('') }}?\", de: Welche Lampen leuchten? }\n";

fn library(extra: &[(&str, &str)]) -> Compilation {
    let mut files = vec![
        ("lib/printer.yaml", SCRIPT),
        ("lib/replies/greeting.yaml", GREETING),
        ("lib/replies/photo.yaml", PHOTO),
        ("lib/replies/router-lights.yaml", NETWORK),
    ];
    files.extend_from_slice(extra);
    compile_texts(files)
}

fn ctx() -> ReplyContext {
    ReplyContext {
        reference: Some("K7QF-2M9D".into()),
        params: BTreeMap::from([("customer".to_owned(), json!("Ann"))]),
        vars: BTreeMap::new(),
        script_title: Some("Printer".into()),
        agent: Some("Sam".into()),
    }
}

#[test]
fn replies_load_beside_the_scripts_and_are_not_taken_for_scripts() {
    let comp = library(&[]);
    assert_eq!(comp.errors(), 0, "{:?}", comp.diagnostics);
    assert_eq!(comp.warnings(), 0, "{:?}", comp.diagnostics);
    let ids: Vec<&str> = comp.program.scripts.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["printer"]);
    let replies = &comp.replies;
    let ids: Vec<&str> = replies.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["greeting", "photo", "router-lights"]);
    assert_eq!(replies.languages(), ["en", "de"]);
    assert_eq!(
        replies.get("photo").map(|r| r.path.as_str()),
        Some("lib/replies/photo.yaml")
    );
}

#[test]
fn a_queue_offers_the_replies_for_every_queue_and_its_own() {
    let comp = library(&[]);
    let offered = |queue: Option<&str>| -> Vec<String> {
        comp.replies
            .replies_for(queue)
            .map(|r| r.id.clone())
            .collect()
    };
    assert_eq!(offered(Some("printing")), ["greeting", "photo"]);
    assert_eq!(offered(Some("hardware")), ["greeting", "photo"]);
    assert_eq!(offered(Some("network")), ["greeting", "router-lights"]);
    assert_eq!(offered(Some("billing")), ["greeting"]);
    // A case without a queue: only the replies meant for every queue.
    assert_eq!(offered(None), ["greeting"]);
}

#[test]
fn a_reply_renders_in_the_cases_language_with_the_case_filled_in() {
    let comp = library(&[]);
    let replies = &comp.replies;
    let greeting = replies.get("greeting").expect("loaded");
    assert_eq!(
        replies.render(greeting, "en", &ctx()).expect("renders"),
        "Hello Ann,\n\nthank you for contacting us about \"Printer\". Your reference is K7QF-2M9D.\nSam"
    );
    let mut de = ctx();
    de.script_title = Some("Drucker".into());
    assert_eq!(
        replies.render(greeting, "de", &de).expect("renders"),
        "Guten Tag Ann,\n\ndanke für Ihre Nachricht zu „Drucker“. Ihre Vorgangsnummer ist K7QF-2M9D.\nSam"
    );
    assert_eq!(
        replies.title(greeting, "de", &de).expect("renders"),
        "Begrüßung"
    );
}

#[test]
fn a_missing_param_or_agent_leaves_no_gap_and_an_unknown_language_falls_back() {
    let comp = library(&[]);
    let replies = &comp.replies;
    let greeting = replies.get("greeting").expect("loaded");
    let bare = ReplyContext {
        reference: Some("K7QF-2M9D".into()),
        script_title: Some("Printer".into()),
        ..ReplyContext::default()
    };
    // Estonian is not a language of this library: the default, English.
    assert_eq!(replies.language_for("et"), "en");
    let text = replies.render(greeting, "et", &bare).expect("renders");
    assert_eq!(
        text,
        "Hello,\n\nthank you for contacting us about \"Printer\". Your reference is K7QF-2M9D.\nThe helpdesk"
    );
    assert!(!text.contains(" ,"), "{text:?}");
}

#[test]
fn a_render_that_hits_a_bound_fails_cleanly() {
    let runaway = "id: runaway\ntitle: { en: Runaway, de: Endlos }\ntext:\n  en: \"{% for i in range(9000) %}{{ params.customer ~ reference ~ script.title }}{% endfor %}\"\n  de: Kurz.\n";
    let comp = library(&[("lib/replies/runaway.yaml", runaway)]);
    assert_eq!(comp.errors(), 0, "{:?}", comp.diagnostics);
    let replies = &comp.replies;
    let reply = replies.get("runaway").expect("loaded");
    let mut big = ctx();
    big.params
        .insert("customer".into(), json!("x".repeat(1000)));
    match replies.render(reply, "en", &big) {
        Err(ReplyError::Exceeded { reply, bound }) => {
            assert_eq!(reply, "runaway");
            assert!(
                matches!(bound, Exceeded::Output | Exceeded::Budget),
                "{bound:?}"
            );
        }
        other => panic!("expected a bound to stop the render, got {other:?}"),
    }
    // The other language, and the other replies, are unaffected.
    assert_eq!(replies.render(reply, "de", &big).expect("renders"), "Kurz.");
    let photo = replies.get("photo").expect("loaded");
    assert!(replies.render(photo, "en", &big).is_ok());
}

#[test]
fn a_library_without_replies_offers_none() {
    let comp = compile_texts([("lib/printer.yaml", SCRIPT)]);
    assert!(comp.replies.is_empty());
    assert_eq!(comp.replies.replies_for(Some("printing")).count(), 0);
    assert!(Replies::default().is_empty());
}

/// The example library's replies: the six a helpdesk needs first, in all
/// five languages, and none leaves a gap, a stray tag or an empty quote
/// when the case has no customer name, reference or sender.
#[test]
fn the_example_replies_read_cleanly_in_five_languages_with_and_without_a_name() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let comp = crate::compiler::compile_paths(&[dir]).expect("the scripts folder reads");
    assert_eq!(comp.errors() + comp.warnings(), 0, "{:?}", comp.diagnostics);
    let replies = &comp.replies;
    let ids: Vec<&str> = replies.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "closing-no-reply",
            "field-service",
            "greeting",
            "photo-of-display",
            "resolved",
            "try-this"
        ]
    );
    let five = ["en", "nl", "de", "et", "ru"];
    assert_eq!(replies.languages(), five);
    let full = ctx();
    let bare = ReplyContext {
        script_title: Some("Printer".into()),
        ..ReplyContext::default()
    };
    for reply in replies.iter() {
        let mut seen = Vec::new();
        for lang in five {
            for (who, c) in [("full", &full), ("bare", &bare)] {
                let text = replies.render(reply, lang, c).expect("renders");
                let title = replies.title(reply, lang, c).expect("renders");
                for bad in [
                    " ,", " .", " !", "  ", "()", "\"\"", "„“", "«»", "‘’", "{", "}", "none",
                    "\n\n\n",
                ] {
                    assert!(
                        !text.contains(bad),
                        "{} ({lang}, {who}) has {bad:?}:\n{text}",
                        reply.id
                    );
                }
                assert!(
                    !text.starts_with(char::is_whitespace),
                    "{} ({lang})",
                    reply.id
                );
                assert!(
                    !title.is_empty() && !title.contains('{'),
                    "{} ({lang})",
                    reply.id
                );
                if who == "full" {
                    for part in ["Ann", "K7QF-2M9D", "Sam"] {
                        assert!(
                            text.contains(part),
                            "{} ({lang}) lacks {part}:\n{text}",
                            reply.id
                        );
                    }
                }
                seen.push(text);
            }
        }
        // Every language is its own translation, not a copy of another.
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 10, "{}", reply.id);
    }
    // The photo reply is for devices with a display, not for the network team.
    let offered = |q: &str| -> Vec<&str> {
        replies
            .replies_for(Some(q))
            .map(|r| r.id.as_str())
            .collect()
    };
    assert!(offered("tv").contains(&"photo-of-display"));
    assert!(!offered("network").contains(&"photo-of-display"));
    assert!(offered("network").contains(&"field-service"));
    assert!(!offered("email").contains(&"field-service"));
    assert_eq!(
        offered("email"),
        ["closing-no-reply", "greeting", "resolved", "try-this"]
    );
}

/// A reply file cut anywhere, or with bytes swapped, is a diagnostic, never
/// a panic: the loader and the checker see what an editor saves half-way.
#[test]
fn broken_reply_files_are_diagnostics_not_panics() {
    let mut cases = 0;
    for text in [GREETING, PHOTO, NETWORK] {
        let mut cuts: Vec<usize> = (0..text.len())
            .step_by(5)
            .filter(|&i| text.is_char_boundary(i))
            .collect();
        cuts.push(text.len());
        for cut in cuts {
            let comp = library(&[("lib/replies/cut.yaml", &text[..cut])]);
            let _ = comp.replies.len();
            cases += 1;
        }
        let mut bytes = text.as_bytes().to_vec();
        for i in (0..bytes.len().saturating_sub(1)).step_by(3) {
            bytes.swap(i, i + 1);
            let mangled = String::from_utf8_lossy(&bytes).into_owned();
            let comp = library(&[("lib/replies/swap.yaml", &mangled)]);
            // Whatever compiled renders or fails, within bounds.
            for r in comp.replies.iter() {
                let _ = comp.replies.render(r, "de", &ctx());
            }
            bytes.swap(i, i + 1);
            cases += 1;
        }
    }
    assert!(cases > 300, "{cases}");
}
