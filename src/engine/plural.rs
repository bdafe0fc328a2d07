//! CLDR cardinal plural rules for the languages the product speaks
//! (<https://www.unicode.org/cldr/charts/latest/supplemental/language_plural_rules.html>),
//! for whole numbers: all a counter on a page or in a reason needs.
//!
//! English, Dutch, German and Estonian: `one` for 1, `other` for the rest.
//! Russian: `one` for 1, 21, 101 (not 11), `few` for 2–4, 22–24 (not
//! 12–14), `many` for 0, 5–20, 25–30 and so on. (Russian `other` is for
//! fractions only.)

/// A CLDR plural category.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plural {
    One,
    Few,
    Many,
    Other,
}

impl Plural {
    /// The suffix of a catalogue key with plural forms: `minutes_one`.
    pub fn suffix(self) -> &'static str {
        match self {
            Plural::One => "one",
            Plural::Few => "few",
            Plural::Many => "many",
            Plural::Other => "other",
        }
    }
}

/// The plural category of the whole number `n` in `lang` (a language
/// without rules here is treated like English).
pub fn plural(lang: &str, n: u64) -> Plural {
    match lang {
        "ru" | "uk" => {
            let (m10, m100) = (n % 10, n % 100);
            if m10 == 1 && m100 != 11 {
                Plural::One
            } else if (2..=4).contains(&m10) && !(12..=14).contains(&m100) {
                Plural::Few
            } else {
                Plural::Many
            }
        }
        _ if n == 1 => Plural::One,
        _ => Plural::Other,
    }
}

/// The categories whole numbers reach in `lang`, and `other` (which CLDR
/// requires of every language): what a catalogue must spell out.
pub fn categories(lang: &str) -> &'static [Plural] {
    match lang {
        "ru" | "uk" => &[Plural::One, Plural::Few, Plural::Many, Plural::Other],
        _ => &[Plural::One, Plural::Other],
    }
}

#[cfg(test)]
mod tests {
    use super::Plural::*;
    use super::*;

    fn cats(lang: &str, ns: &[u64]) -> Vec<Plural> {
        ns.iter().map(|&n| plural(lang, n)).collect()
    }

    #[test]
    fn english_dutch_german_estonian_have_one_and_other() {
        for lang in ["en", "nl", "de", "et"] {
            assert_eq!(
                cats(lang, &[0, 1, 2, 5, 11, 21, 101]),
                [Other, One, Other, Other, Other, Other, Other],
                "{lang}"
            );
        }
    }

    #[test]
    fn russian_has_one_few_many() {
        assert_eq!(cats("ru", &[1, 21, 101, 1001]), [One; 4]);
        assert_eq!(cats("ru", &[2, 3, 4, 22, 34, 102]), [Few; 6]);
        assert_eq!(
            cats("ru", &[0, 5, 10, 11, 12, 14, 19, 20, 25, 111, 112]),
            [Many; 11]
        );
    }

    #[test]
    fn every_category_a_language_reaches_is_one_it_lists() {
        for lang in ["en", "nl", "de", "et", "ru"] {
            for n in 0..200 {
                assert!(categories(lang).contains(&plural(lang, n)), "{lang} {n}");
            }
        }
    }
}
