//! The page chrome's words in every language the product speaks: one YAML
//! catalogue per language in `templates/locales/`, embedded in the binary.
//! English is the reference: a test checks every other catalogue has
//! exactly its keys, so a page never shows a key or a blank.
//!
//! Templates read the catalogue as `t`: `{{ t.back }}`. A few entries take
//! a value, written `{name}` in the text and filled with `replace`.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The chrome's languages, the engine's own (its built-in answers and
/// reasons are worded in the same five).
pub const LANGUAGES: &[&str] = crate::engine::CHROME_LANGUAGES;

const CATALOGUES: &[(&str, &str)] = &[
    ("en", include_str!("../../../templates/locales/en.yaml")),
    ("nl", include_str!("../../../templates/locales/nl.yaml")),
    ("de", include_str!("../../../templates/locales/de.yaml")),
    ("et", include_str!("../../../templates/locales/et.yaml")),
    ("ru", include_str!("../../../templates/locales/ru.yaml")),
];

pub type Catalogue = HashMap<String, String>;

fn all() -> &'static HashMap<&'static str, Catalogue> {
    static ALL: OnceLock<HashMap<&'static str, Catalogue>> = OnceLock::new();
    ALL.get_or_init(|| {
        CATALOGUES
            .iter()
            .map(|(lang, text)| {
                // Embedded and checked by the tests below: a broken catalogue
                // cannot ship, so an empty one here is only a safety net.
                let cat: Catalogue = serde_yaml::from_str(text).unwrap_or_default();
                (*lang, cat)
            })
            .collect()
    })
}

/// The catalogue of `lang` (English for a language the chrome lacks).
pub fn catalogue(lang: &str) -> &'static Catalogue {
    let all = all();
    all.get(lang)
        .or_else(|| all.get("en"))
        .expect("the English catalogue is embedded")
}

/// One entry, in `lang`.
pub fn text(lang: &str, key: &str) -> String {
    catalogue(lang).get(key).cloned().unwrap_or_default()
}

/// `lang` as one of the chrome's languages, if it is one.
pub fn supported(lang: &str) -> Option<&'static str> {
    LANGUAGES
        .iter()
        .copied()
        .find(|l| l.eq_ignore_ascii_case(lang))
}

/// A language's name in that language, for the switcher.
pub fn native_name(code: &str) -> &'static str {
    match code {
        "en" => "English",
        "nl" => "Nederlands",
        "de" => "Deutsch",
        "et" => "Eesti",
        "ru" => "Русский",
        "fr" => "Français",
        "fi" => "Suomi",
        "sv" => "Svenska",
        "es" => "Español",
        "lv" => "Latviešu",
        "lt" => "Lietuvių",
        "pl" => "Polski",
        "uk" => "Українська",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalogue_parses_and_has_exactly_the_english_keys() {
        let en: Catalogue = serde_yaml::from_str(CATALOGUES[0].1).expect("en.yaml parses");
        assert!(en.len() > 50, "the English catalogue looks truncated");
        for (lang, text) in CATALOGUES {
            let cat: Catalogue =
                serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{lang}.yaml: {e}"));
            let mut missing: Vec<&String> = en.keys().filter(|k| !cat.contains_key(*k)).collect();
            let mut extra: Vec<&String> = cat.keys().filter(|k| !en.contains_key(*k)).collect();
            missing.sort();
            extra.sort();
            assert!(missing.is_empty(), "{lang}.yaml lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "{lang}.yaml has keys English lacks: {extra:?}"
            );
            for (k, v) in &cat {
                assert!(!v.trim().is_empty(), "{lang}.yaml: `{k}` is blank");
                // A placeholder of the English text must be kept.
                for ph in en[k].match_indices('{').map(|(i, _)| &en[k][i..]) {
                    let name = &ph[..ph.find('}').map(|e| e + 1).unwrap_or(ph.len())];
                    assert!(v.contains(name), "{lang}.yaml: `{k}` lost {name}");
                }
            }
        }
    }

    #[test]
    fn every_chrome_language_has_a_name() {
        for l in LANGUAGES {
            assert!(!native_name(l).is_empty());
        }
    }
}
