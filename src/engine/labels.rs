//! The engine's own words, in every language of the product's chrome: the
//! built-in answers and the reasons it gives when it escalates by itself.
//!
//! They are [`Text`] constants, so showing them allocates nothing.

use crate::program::Text;
use crate::program::text::static_text;

/// The languages the engine speaks itself.
pub const LANGUAGES: &[&str] = &["en", "nl", "de", "et", "ru"];

/// The position of `lang` in [`LANGUAGES`]; English for any other.
pub fn index(lang: &str) -> usize {
    LANGUAGES.iter().position(|l| *l == lang).unwrap_or(0)
}

const NONE_OF_THESE: [Text; 5] = [
    static_text!("None of these"),
    static_text!("Geen van deze"),
    static_text!("Nichts davon"),
    static_text!("Mitte ükski neist"),
    static_text!("Ничего из этого"),
];

const TALK_TO_PERSON: [Text; 5] = [
    static_text!("Talk to a person"),
    static_text!("Met een medewerker praten"),
    static_text!("Mit einer Person sprechen"),
    static_text!("Räägi inimesega"),
    static_text!("Связаться с сотрудником"),
];

const ESCALATE_NOW: [Text; 5] = [
    static_text!("Escalate now"),
    static_text!("Nu escaleren"),
    static_text!("Jetzt eskalieren"),
    static_text!("Eskaleeri kohe"),
    static_text!("Эскалировать сейчас"),
];

const DONE: [Text; 5] = [
    static_text!("Done"),
    static_text!("Gedaan"),
    static_text!("Erledigt"),
    static_text!("Tehtud"),
    static_text!("Готово"),
];

// A1: render bounds — the reason when a text exceeds them.
const TEXT_NOT_SHOWN: [Text; 5] = [
    static_text!(
        "This step could not be shown: its text grew too large or took too long to prepare."
    ),
    static_text!(
        "Deze stap kon niet worden getoond: de tekst werd te groot of het opbouwen duurde te lang."
    ),
    static_text!(
        "Dieser Schritt konnte nicht angezeigt werden: Sein Text wurde zu groß oder brauchte zu lange."
    ),
    static_text!(
        "Seda sammu ei saanud näidata: selle tekst läks liiga suureks või selle koostamine võttis liiga kaua aega."
    ),
    static_text!(
        "Этот шаг не удалось показать: его текст оказался слишком большим или готовился слишком долго."
    ),
];

/// The reason of an escalation because a text exceeded the render bounds.
pub fn text_not_shown(lang: usize) -> Text {
    TEXT_NOT_SHOWN[lang].clone()
}

/// `_none`: "None of these"; `lang` is an [`index`].
pub fn none_of_these(lang: usize) -> Text {
    NONE_OF_THESE[lang].clone()
}

/// `_escalate` for customers: "Talk to a person".
pub fn talk_to_person(lang: usize) -> Text {
    TALK_TO_PERSON[lang].clone()
}

/// `_escalate` for agents: "Escalate now".
pub fn escalate_now(lang: usize) -> Text {
    ESCALATE_NOW[lang].clone()
}

/// The one answer of an instruction (`say` node).
pub fn done(lang: usize) -> Text {
    DONE[lang].clone()
}

/// Ids and kinds the engine writes, as constants.
pub const ID_NONE: Text = static_text!("_none");
pub const ID_ESCALATE: Text = static_text!("_escalate");
pub const ID_DONE: Text = static_text!("done");
pub const ACTOR_SYSTEM: Text = static_text!("system");
pub const KIND_ASK: Text = static_text!("ask");
pub const KIND_SAY: Text = static_text!("say");
pub const KIND_INPUT: Text = static_text!("input");
pub const KIND_RESOLVE: Text = static_text!("resolve");
pub const KIND_ESCALATE: Text = static_text!("escalate");
pub const INPUT_TEXT: Text = static_text!("text");
pub const INPUT_NUMBER: Text = static_text!("number");
pub const INPUT_EMAIL: Text = static_text!("email");
pub const INPUT_PHONE: Text = static_text!("phone");
