//! The YAML surface of scripts: file discovery and loading ([`load`]), the
//! streaming, spanned YAML reader ([`yaml`]) and the typed mirror of a script
//! ([`ast`]).

pub mod ast;
pub mod load;
pub mod yaml;
