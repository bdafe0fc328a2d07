//! [`Text`]: the immutable, shared string of the program and the engine.
//!
//! A step shows texts the program already holds (node ids, answer ids,
//! literal labels and questions) and the engine's own words. Handing them
//! out as `String`s cost an allocation and a copy each, several per step;
//! a `Text` is one pointer to a reference-counted string, so handing out a
//! program's text is a reference-count increment and the engine's fixed
//! words (`ask`, `_none`, "None of these") are compile-time constants that
//! are never allocated or counted at all. Being one pointer (and
//! `Option<Text>` too) also keeps trail entries small.
//!
//! It reads like a `&str` (`Deref<Target = str>`, `as_str`, `==` with
//! `&str` and `String`, `Display`) and serializes as a plain JSON string,
//! so the JSON of everything that holds one is what it was with `String`.

use arcstr::ArcStr;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

/// An immutable, cheaply cloned string (one pointer; see the module docs).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Text(ArcStr);

/// A `Text` constant from a string literal: no allocation, ever.
macro_rules! static_text {
    ($s:literal) => {
        $crate::program::Text::from_arcstr(arcstr::literal!($s))
    };
}
pub(crate) use static_text;

impl Text {
    /// For [`static_text!`]; `const` so that constants can be built.
    #[doc(hidden)]
    pub const fn from_arcstr(s: ArcStr) -> Text {
        Text(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How many holders share this string; `None` for a constant (never
    /// allocated). Not part of the API: the engine benchmark's memory
    /// accounting uses it.
    #[doc(hidden)]
    pub fn strong_count(&self) -> Option<usize> {
        ArcStr::strong_count(&self.0)
    }

    /// Bytes of the allocation besides the text (reference count and length).
    pub const HEADER: usize = 2 * size_of::<usize>();

    /// Is this the very same string (not merely equal text)?
    pub fn ptr_eq(a: &Text, b: &Text) -> bool {
        ArcStr::ptr_eq(&a.0, &b.0)
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&str> for Text {
    fn from(s: &str) -> Text {
        Text(ArcStr::from(s))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Text {
        Text(ArcStr::from(s.as_str()))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Text {
        Text(ArcStr::from(s))
    }
}

impl From<Box<str>> for Text {
    fn from(s: Box<str>) -> Text {
        Text(ArcStr::from(&*s))
    }
}

impl From<Text> for String {
    fn from(t: Text) -> String {
        t.as_str().to_owned()
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text::from(v))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text::from(v))
            }
        }
        d.deserialize_str(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pointer_reads_like_str_and_serializes_as_a_string() {
        assert_eq!(size_of::<Text>(), size_of::<usize>());
        assert_eq!(size_of::<Option<Text>>(), size_of::<usize>());
        let t = Text::from("Is the light on?");
        assert_eq!(t, "Is the light on?");
        assert_eq!(t.as_str().len(), 16);
        assert!(t.starts_with("Is"));
        assert_eq!(format!("{t}"), "Is the light on?");
        let json = serde_json::to_string(&t).expect("serializes");
        assert_eq!(json, r#""Is the light on?""#);
        let back: Text = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, t);
        let copy = t.clone();
        assert!(Text::ptr_eq(&t, &copy), "a clone shares the string");
        const ASK: Text = static_text!("ask");
        assert_eq!(ASK, "ask");
    }
}
