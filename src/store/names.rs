//! What a user name may be, checked once for every way a user is made
//! (`fixpath user add` and the admins' page `/admin/users`): the same rule
//! the sign-in page and the trails rely on. The problem is a value, so the
//! CLI words it in English and the page in the admin's language.

/// A user name as the store and the sign-in page take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

/// Why a text is not a user name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameProblem {
    #[error("the user name is empty")]
    Empty,
    #[error("the user name `{}` contains spaces or control characters", .0.escape_debug())]
    Spaces(String),
    /// The trail names who acted: these are the engine's own.
    #[error("`{0}` is reserved: trails use it for the engine and for customers")]
    Reserved(String),
    #[error(
        "the user name is {chars} characters long; at most {} please",
        UserName::MAX_CHARS
    )]
    TooLong { chars: usize },
}

impl UserName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(s: &str) -> Result<UserName, NameProblem> {
        if s.is_empty() {
            return Err(NameProblem::Empty);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(NameProblem::Spaces(s.to_owned()));
        }
        if matches!(s, "system" | "customer") {
            return Err(NameProblem::Reserved(s.to_owned()));
        }
        let chars = s.chars().count();
        if chars > Self::MAX_CHARS {
            return Err(NameProblem::TooLong { chars });
        }
        Ok(UserName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(UserName::parse("ann").is_ok());
        assert!(UserName::parse("ann.de-vries_2@tier2").is_ok());
        assert!(UserName::parse(&"ä".repeat(64)).is_ok());
        assert_eq!(
            UserName::parse(&"a".repeat(65)),
            Err(NameProblem::TooLong { chars: 65 })
        );
        assert_eq!(UserName::parse(""), Err(NameProblem::Empty));
        assert!(matches!(
            UserName::parse("ann smith"),
            Err(NameProblem::Spaces(_))
        ));
        assert!(UserName::parse("ann\t").is_err());
        assert!(matches!(
            UserName::parse("system"),
            Err(NameProblem::Reserved(_))
        ));
        assert_eq!(
            NameProblem::Spaces("a\tb".into()).to_string(),
            "the user name `a\\tb` contains spaces or control characters"
        );
    }
}
