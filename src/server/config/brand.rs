//! The `[brand]` table of the configuration file (contract section 13),
//! checked into a [`Brand`]: the logo is read and recognised now, the
//! colour and the addresses parsed now, so a mistake stops the start with a
//! message naming the key instead of showing a broken page later.
//!
//! `frame_ancestors` may stand in the table or at the top of the file (the
//! contract names it beside the table); once, not in both.

use super::resolve::{Origin, Problem};
use crate::http::web::brand::{self, Brand, Colour, Logo, MAX_LOGO};
use std::path::Path;

const KEYS: &str = "name, logo, colour, support_url and frame_ancestors";

/// The brand of the file at `path`: its `[brand]` table and a top-level
/// `frame_ancestors`, if any.
pub(super) fn resolve(
    table: Option<&toml::Table>,
    top_ancestors: Option<&toml::Value>,
    path: &Path,
) -> Result<Brand, Problem> {
    let empty = toml::Table::new();
    let table = table.unwrap_or(&empty);
    let at = |key: &str, p: Problem| p.from(&Origin::File { key, path });

    if let Some(key) = table.keys().find(|k| {
        !matches!(
            k.as_str(),
            "name" | "logo" | "colour" | "support_url" | "frame_ancestors"
        )
    }) {
        let hint = if key == "color" {
            "write `colour`, e.g. colour = \"#1d70b8\"".to_owned()
        } else {
            format!("the keys of [brand] are {KEYS}")
        };
        return Err(at(
            &format!("brand.{key}"),
            Problem::new(format!("`{key}` is not a key of [brand]")).hint(hint),
        ));
    }
    let text = |key: &'static str| -> Result<Option<&str>, Problem> {
        match table.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.as_str())),
            Some(v) => Err(at(
                &format!("brand.{key}"),
                Problem::new(format!("a text is needed, not {}", a_type(v)))
                    .hint(format!("write it in quotes, e.g. {key} = \"…\"")),
            )),
        }
    };

    let mut out = Brand::default();
    if let Some(name) = text("name")? {
        out.name = Some(brand::parse_name(name).map_err(|e| {
            at(
                "brand.name",
                Problem::new(e)
                    .hint("the name customers know the helpdesk by, e.g. \"Acme Support\""),
            )
        })?);
    }
    if let Some(colour) = text("colour")? {
        out.colour = Some(Colour::parse(colour).map_err(|e| {
            at(
                "brand.colour",
                Problem::new(e)
                    .hint("write # and six (or three) hex digits, e.g. colour = \"#1d70b8\""),
            )
        })?);
    }
    if let Some(url) = text("support_url")? {
        out.support_url = Some(brand::parse_support_url(url).map_err(|e| {
            at(
                "brand.support_url",
                Problem::new(e)
                    .hint("where customers reach a person, e.g. https://example.com/support"),
            )
        })?);
    }
    if let Some(logo) = text("logo")? {
        out.logo = Some(read_logo(logo, path).map_err(|p| at("brand.logo", p))?);
    }

    let (ancestors, key) = match (table.get("frame_ancestors"), top_ancestors) {
        (Some(_), Some(_)) => {
            return Err(at(
                "frame_ancestors",
                Problem::new("`frame_ancestors` is given twice, at the top and in [brand]")
                    .hint("keep one of them"),
            ));
        }
        (Some(v), None) => (Some(v), "brand.frame_ancestors"),
        (None, v) => (v, "frame_ancestors"),
    };
    if let Some(v) = ancestors {
        let hint = "list the sites that may show the wizard in a frame, each as \
                    scheme://host[:port], e.g. frame_ancestors = [\"https://support.example.com\"]";
        let toml::Value::Array(items) = v else {
            return Err(at(
                key,
                Problem::new(format!("a list is needed, not {}", a_type(v))).hint(hint),
            ));
        };
        for item in items {
            let toml::Value::String(s) = item else {
                return Err(at(
                    key,
                    Problem::new(format!("each origin is a text, not {}", a_type(item))).hint(hint),
                ));
            };
            let origin = brand::parse_origin(s).map_err(|e| at(key, Problem::new(e).hint(hint)))?;
            if !out.frame_ancestors.contains(&origin) {
                out.frame_ancestors.push(origin);
            }
        }
    }
    Ok(out)
}

/// A TOML value's type as a message names it.
fn a_type(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a text",
        toml::Value::Integer(_) => "a number",
        toml::Value::Float(_) => "a number",
        toml::Value::Boolean(_) => "true or false",
        toml::Value::Datetime(_) => "a date",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a table",
    }
}

/// Reads the logo, relative to the configuration file's folder.
fn read_logo(given: &str, config: &Path) -> Result<Logo, Problem> {
    let hint = "a PNG, JPEG, WebP or SVG file of at most 512 KiB, e.g. logo = \"logo.svg\" \
                (relative paths are read from the configuration file's folder)";
    if given.trim().is_empty() {
        return Err(Problem::new("the logo's path is empty").hint(hint));
    }
    let file = config.parent().unwrap_or(Path::new("")).join(given);
    let meta = std::fs::metadata(&file).map_err(|e| {
        Problem::new(format!("cannot read the logo `{}`: {e}", file.display())).hint(hint)
    })?;
    if !meta.is_file() {
        return Err(
            Problem::new(format!("the logo `{}` is not a file", file.display())).hint(hint),
        );
    }
    // Checked before reading: a path to a huge file is not read into memory.
    if meta.len() > MAX_LOGO as u64 {
        return Err(Problem::new(format!(
            "the logo `{}` is {} KiB, more than the {} KiB allowed",
            file.display(),
            meta.len().div_ceil(1024),
            MAX_LOGO / 1024
        ))
        .hint(hint));
    }
    let bytes = std::fs::read(&file).map_err(|e| {
        Problem::new(format!("cannot read the logo `{}`: {e}", file.display())).hint(hint)
    })?;
    Logo::from_bytes(bytes)
        .map_err(|e| Problem::new(format!("`{}`: {e}", file.display())).hint(hint))
}

#[cfg(test)]
#[path = "brand_tests.rs"]
mod tests;
