//! The engine's own words, in every language of the product's chrome: the
//! built-in answers and the reasons it gives when it escalates by itself.
//!
//! They are [`Text`] constants, so showing them allocates nothing.

use crate::program::Text;
use crate::program::text::static_text;

/// The languages the engine speaks itself.
pub const LANGUAGES: &[&str] = &["en", "nl", "de", "et", "ru"];

/// The position of `lang` in [`LANGUAGES`]; English for any other.
pub(super) fn index(lang: &str) -> usize {
    LANGUAGES.iter().position(|l| *l == lang).unwrap_or(0)
}

const NONE_OF_THESE: [Text; 5] = [
    static_text!("None of these"),
    static_text!("Geen van deze"),
    static_text!("Nichts davon trifft zu"),
    static_text!("Ükski neist ei sobi"),
    static_text!("Ничего не подходит"),
];

const TALK_TO_PERSON: [Text; 5] = [
    static_text!("Talk to a person"),
    static_text!("Met een medewerker praten"),
    static_text!("Mit einer Ansprechperson sprechen"),
    static_text!("Räägi teenindajaga"),
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
    static_text!("Klaar"),
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
pub(super) fn text_not_shown(lang: usize) -> Text {
    TEXT_NOT_SHOWN[lang].clone()
}

/// `_none`: "None of these"; `lang` is an [`index`].
pub(super) fn none_of_these(lang: usize) -> Text {
    NONE_OF_THESE[lang].clone()
}

/// `_escalate` for customers: "Talk to a person".
pub(super) fn talk_to_person(lang: usize) -> Text {
    TALK_TO_PERSON[lang].clone()
}

/// `_escalate` for agents: "Escalate now".
pub(super) fn escalate_now(lang: usize) -> Text {
    ESCALATE_NOW[lang].clone()
}

/// The one answer of an instruction (`say` node).
pub(super) fn done(lang: usize) -> Text {
    DONE[lang].clone()
}

/// A reason the engine writes itself when it escalates, worded in the
/// session's language. `at` is the question (or instruction) as the person
/// last saw it; `None` when nothing was shown yet. Node ids stay out of the
/// sentence: the record keeps them in its `node` field.
#[derive(Debug, Clone, Copy)]
pub(super) enum Reason<'a> {
    /// "None of these" at a question.
    NoneFits,
    /// The customer's "Talk to a person".
    CustomerAsked,
    /// An agent's "Escalate now" (the agent's name).
    AgentEscalated(&'a str),
    /// The loop guard: a node entered more than `max` times.
    Loop { max: u32 },
    /// A text or condition that could not be worked out; `detail` is the
    /// template engine's own (technical, English) message.
    Failure { detail: &'a str },
    /// An `escalate` without a reason of its own.
    Escalated,
    /// A sub-flow's `return` with no caller (the sub-flow was started on
    /// its own); `summary` is its return text.
    ReturnedAlone { summary: &'a str },
}

/// Where nothing was shown yet, in place of the question.
const BEFORE_FIRST: [&str; 5] = [
    "(before the first step)",
    "(vóór de eerste stap)",
    "(vor dem ersten Schritt)",
    "(enne esimest sammu)",
    "(до первого шага)",
];

impl Reason<'_> {
    /// The sentence in language `lang` (an [`index`]).
    pub(super) fn text(self, lang: usize, at: Option<&str>) -> String {
        let lang = lang.min(LANGUAGES.len() - 1);
        let q = at
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .unwrap_or(BEFORE_FIRST[lang]);
        match self {
            Reason::NoneFits => match lang {
                1 => format!("Geen van de antwoorden paste bij: {q}"),
                2 => format!("Keine der Antworten passte zu: {q}"),
                3 => format!("Ükski vastus ei sobinud küsimusele: {q}"),
                4 => format!("Ни один ответ не подошёл к вопросу: {q}"),
                _ => format!("None of the answers fit: {q}"),
            },
            Reason::CustomerAsked => match lang {
                1 => format!("Wilde een medewerker spreken bij: {q}"),
                2 => format!("Hat um eine Ansprechperson gebeten bei: {q}"),
                3 => format!("Soovis teenindajaga rääkida sammul: {q}"),
                4 => format!("Клиент попросил связаться с сотрудником на шаге: {q}"),
                _ => format!("Asked for a person at: {q}"),
            },
            Reason::AgentEscalated(who) => match lang {
                1 => format!("{who} heeft doorgezet bij: {q}"),
                2 => format!("{who} hat weitergeleitet bei: {q}"),
                3 => format!("{who} andis edasi sammul: {q}"),
                4 => format!("Эскалация от {who} на шаге: {q}"),
                _ => format!("{who} escalated at: {q}"),
            },
            Reason::Loop { max } => {
                let one = super::plural::plural(LANGUAGES[lang], u64::from(max))
                    == super::plural::Plural::One;
                match lang {
                    1 => format!("Bleef rondgaan (vaker dan {max} keer) bij: {q}"),
                    2 => format!("Drehte sich im Kreis (öfter als {max}-mal) bei: {q}"),
                    3 => {
                        let times = if one { "kord" } else { "korda" };
                        format!("Jäi ringiratast käima (rohkem kui {max} {times}) sammul: {q}")
                    }
                    4 => {
                        // After «более» the genitive: 1 раза, 2 раз, 5 раз, 21 раза.
                        let times = if one { "раза" } else { "раз" };
                        format!("Сценарий зациклился (более {max} {times}) на шаге: {q}")
                    }
                    _ => {
                        let times = if one { "time" } else { "times" };
                        format!("Went round in a loop (more than {max} {times}) at: {q}")
                    }
                }
            }
            Reason::Failure { detail } => match lang {
                1 => format!("Het script liep vast bij: {q} ({detail})"),
                2 => format!("Das Skript ist abgebrochen bei: {q} ({detail})"),
                3 => format!("Skript katkes sammul: {q} ({detail})"),
                4 => format!("Сбой сценария на шаге: {q} ({detail})"),
                _ => format!("The script failed at: {q} ({detail})"),
            },
            Reason::Escalated => match lang {
                1 => format!("Door het script doorgezet na: {q}"),
                2 => format!("Vom Skript weitergeleitet nach: {q}"),
                3 => format!("Skript andis edasi pärast sammu: {q}"),
                4 => format!("Сценарий передал обращение после шага: {q}"),
                _ => format!("Handed over by the script after: {q}"),
            },
            Reason::ReturnedAlone { summary } => match lang {
                1 => format!(
                    "Een deelscript eindigde ({summary}) zonder script om naar terug te keren, na: {q}"
                ),
                2 => {
                    format!("Ein Teilablauf endete ({summary}) ohne aufrufendes Skript, nach: {q}")
                }
                3 => format!("Alamskript lõppes ({summary}), kuid pole kuhu naasta; pärast: {q}"),
                4 => format!("Подсценарий завершился ({summary}), но вернуться некуда; после: {q}"),
                _ => {
                    format!("A sub-flow ended ({summary}) with no script to return to, after: {q}")
                }
            },
        }
    }
}

/// The reserved answer ids (contract section 3), as people send them: "none
/// of these", "talk to a person" / "escalate now", and an instruction's "done".
pub const ANSWER_NONE: &str = "_none";
pub const ANSWER_ESCALATE: &str = "_escalate";
pub const ANSWER_DONE: &str = "done";

/// Ids and kinds the engine writes, as constants.
pub(super) const ID_NONE: Text = static_text!("_none");
pub(super) const ID_ESCALATE: Text = static_text!("_escalate");
pub(super) const ID_DONE: Text = static_text!("done");
pub(super) const ACTOR_SYSTEM: Text = static_text!("system");
pub(super) const KIND_ASK: Text = static_text!("ask");
pub(super) const KIND_SAY: Text = static_text!("say");
pub(super) const KIND_INPUT: Text = static_text!("input");
pub(super) const KIND_RESOLVE: Text = static_text!("resolve");
pub(super) const KIND_ESCALATE: Text = static_text!("escalate");
/// The entry that closes a sub-flow: its `return` summary.
pub(super) const KIND_RETURN: Text = static_text!("return");
pub(super) const INPUT_TEXT: Text = static_text!("text");
pub(super) const INPUT_NUMBER: Text = static_text!("number");
pub(super) const INPUT_EMAIL: Text = static_text!("email");
pub(super) const INPUT_PHONE: Text = static_text!("phone");

#[cfg(test)]
mod reserved_tests {
    use super::*;

    #[test]
    fn the_shared_answer_ids_spell_the_reserved_ones() {
        assert_eq!(ID_NONE, ANSWER_NONE);
        assert_eq!(ID_ESCALATE, ANSWER_ESCALATE);
        assert_eq!(ID_DONE, ANSWER_DONE);
    }
}
