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

/// The catalogue of `lang` as a template value (`t`), built once per
/// language: a template context holding it copies a reference, not the
/// catalogue's several hundred entries (measured: building it on every
/// escalation's ticket text cost a fifth of an answer's instructions).
pub fn catalogue_value(lang: &str) -> minijinja::Value {
    static VALUES: OnceLock<HashMap<&'static str, minijinja::Value>> = OnceLock::new();
    let values = VALUES.get_or_init(|| {
        all()
            .iter()
            .map(|(lang, cat)| (*lang, minijinja::Value::from_serialize(cat)))
            .collect()
    });
    values
        .get(lang)
        .or_else(|| values.get("en"))
        .cloned()
        .unwrap_or_default()
}

/// One entry, in `lang`.
pub fn text(lang: &str, key: &str) -> String {
    catalogue(lang).get(key).cloned().unwrap_or_default()
}

/// An entry with plural forms, for the count `n`, with `{n}` filled in:
/// `count("ru", "minutes", 3)` reads `minutes_few`. Catalogues spell out
/// the forms their language's CLDR rules reach (`_one`, `_few`, `_many`,
/// `_other`; checked by a test); a missing form falls back to `_other`.
pub fn count(lang: &str, key: &str, n: u64) -> String {
    let cat = catalogue(lang);
    let lang = if all().contains_key(lang) { lang } else { "en" };
    let form = crate::engine::plural::plural(lang, n).suffix();
    cat.get(&format!("{key}_{form}"))
        .or_else(|| cat.get(&format!("{key}_other")))
        .map(|t| t.replace("{n}", &n.to_string()))
        .unwrap_or_default()
}

/// The forms of a plural entry in `lang`, by CLDR category name, for a
/// page script that counts itself (with the browser's `Intl.PluralRules`).
pub fn forms(lang: &str, key: &str) -> Vec<(&'static str, String)> {
    let cat = catalogue(lang);
    ["one", "few", "many", "other"]
        .into_iter()
        .filter_map(|c| Some((c, cat.get(&format!("{key}_{c}"))?.clone())))
        .collect()
}

#[cfg(test)]
/// The base of a key with plural forms (`minutes` of `minutes_one`).
fn plural_base(key: &str) -> Option<(&str, &str)> {
    let (base, form) = key.rsplit_once('_')?;
    ["one", "few", "many", "other"]
        .contains(&form)
        .then_some((base, form))
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

    /// A catalogue's keys, a plural entry's forms written as the base with
    /// the forms its language needs (`minutes_one` … as `minutes_*`).
    fn keys(lang: &str, cat: &Catalogue) -> Vec<String> {
        let mut out: Vec<String> = cat
            .keys()
            .map(|k| match plural_base(k) {
                Some((base, _)) => format!("{base}_*"),
                None => k.clone(),
            })
            .collect();
        out.sort();
        out.dedup();
        // Every plural entry has exactly the forms its language reaches.
        for k in out.iter().filter_map(|k| k.strip_suffix("_*")) {
            let mut have: Vec<&str> = cat
                .keys()
                .filter_map(|c| plural_base(c).filter(|(b, _)| *b == k).map(|(_, f)| f))
                .collect();
            have.sort();
            let mut want: Vec<&str> = crate::engine::plural::categories(lang)
                .iter()
                .map(|c| c.suffix())
                .collect();
            want.sort();
            assert_eq!(have, want, "{lang}.yaml: the plural forms of `{k}`");
        }
        out
    }

    #[test]
    fn every_catalogue_parses_and_has_exactly_the_english_keys() {
        let en: Catalogue = serde_yaml::from_str(CATALOGUES[0].1).expect("en.yaml parses");
        assert!(en.len() > 50, "the English catalogue looks truncated");
        let en_keys = keys("en", &en);
        for (lang, text) in CATALOGUES {
            let cat: Catalogue =
                serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{lang}.yaml: {e}"));
            let cat_keys = keys(lang, &cat);
            let mut missing: Vec<&String> =
                en_keys.iter().filter(|k| !cat_keys.contains(k)).collect();
            let mut extra: Vec<&String> =
                cat_keys.iter().filter(|k| !en_keys.contains(k)).collect();
            missing.sort();
            extra.sort();
            assert!(missing.is_empty(), "{lang}.yaml lacks {missing:?}");
            assert!(
                extra.is_empty(),
                "{lang}.yaml has keys English lacks: {extra:?}"
            );
            for (k, v) in &cat {
                assert!(!v.trim().is_empty(), "{lang}.yaml: `{k}` is blank");
                // A placeholder of the English text must be kept (of a
                // plural form: of the English `_other`).
                let en_text = match plural_base(k) {
                    Some((base, _)) => &en[&format!("{base}_other")],
                    None => &en[k],
                };
                for ph in en_text.match_indices('{').map(|(i, _)| &en_text[i..]) {
                    let name = &ph[..ph.find('}').map(|e| e + 1).unwrap_or(ph.len())];
                    assert!(v.contains(name), "{lang}.yaml: `{k}` lost {name}");
                }
            }
        }
    }

    #[test]
    fn counts_use_each_languages_plural_forms() {
        let warn = |lang, n| count(lang, "wizard_expiry_warning", n);
        let has =
            |text: String, part: &str| assert!(text.contains(part), "{text:?} lacks {part:?}");
        has(warn("en", 1), "in 1 minute because");
        has(warn("en", 2), "in 2 minutes because");
        has(warn("nl", 1), "over 1 minuut,");
        has(warn("nl", 5), "over 5 minuten,");
        has(warn("de", 1), "in 1 Minute,");
        has(warn("de", 3), "in 3 Minuten,");
        has(warn("et", 1), "1 minuti pärast");
        has(warn("et", 4), "4 minuti pärast");
        has(warn("ru", 1), "через 1 минуту,");
        has(warn("ru", 3), "через 3 минуты,");
        has(warn("ru", 5), "через 5 минут,");
        has(warn("ru", 21), "через 21 минуту,");
        has(warn("ru", 12), "через 12 минут,");
        // A language without a catalogue counts in English.
        has(warn("fr", 1), "in 1 minute because");
        // The forms a page script picks from, by CLDR category.
        let ru: Vec<&str> = forms("ru", "wizard_expiry_warning")
            .iter()
            .map(|f| f.0)
            .collect();
        assert_eq!(ru, ["one", "few", "many", "other"]);
    }

    #[test]
    fn every_chrome_language_has_a_name() {
        for l in LANGUAGES {
            assert!(!native_name(l).is_empty());
        }
    }
}
