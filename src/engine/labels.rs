//! The engine's own words, in every language of the product's chrome: the
//! built-in answers and the reasons it gives when it escalates by itself.

/// The languages the engine speaks itself.
pub const LANGUAGES: &[&str] = &["en", "nl", "de", "et", "ru"];

fn pick(lang: &str, texts: [&'static str; 5]) -> &'static str {
    let i = LANGUAGES.iter().position(|l| *l == lang).unwrap_or(0);
    texts[i]
}

/// `_none`: "None of these".
pub fn none_of_these(lang: &str) -> &'static str {
    pick(
        lang,
        [
            "None of these",
            "Geen van deze",
            "Nichts davon",
            "Mitte ükski neist",
            "Ничего из этого",
        ],
    )
}

/// `_escalate` for customers: "Talk to a person".
pub fn talk_to_person(lang: &str) -> &'static str {
    pick(
        lang,
        [
            "Talk to a person",
            "Met een medewerker praten",
            "Mit einer Person sprechen",
            "Räägi inimesega",
            "Связаться с сотрудником",
        ],
    )
}

/// `_escalate` for agents: "Escalate now".
pub fn escalate_now(lang: &str) -> &'static str {
    pick(
        lang,
        [
            "Escalate now",
            "Nu escaleren",
            "Jetzt eskalieren",
            "Eskaleeri kohe",
            "Эскалировать сейчас",
        ],
    )
}

/// The one answer of an instruction (`say` node).
pub fn done(lang: &str) -> &'static str {
    pick(lang, ["Done", "Gedaan", "Erledigt", "Tehtud", "Готово"])
}
