//! Satisfaction (contract section 11): a customer rates a session once when
//! the script resolved it (`self_service`) and once after its case was
//! resolved (`case`). Which of the two a rating is follows from where the
//! session and its case stand; this is that rule, with the bounds of a
//! rating. Domain code only: the store keeps one row per session and kind,
//! so "once" holds across instances.

use super::Status as CaseStatus;
use crate::engine::Status as SessionStatus;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The lowest and highest score.
pub const SCORES: std::ops::RangeInclusive<i64> = 1..=5;

/// Characters of an optional comment: room for a few sentences, not for a
/// stranger's novel.
pub const MAX_COMMENT_CHARS: usize = 2000;

/// What is rated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackKind {
    /// The script solved it.
    SelfService,
    /// A person solved it (the session's case was resolved).
    Case,
}

impl FeedbackKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackKind::SelfService => "self_service",
            FeedbackKind::Case => "case",
        }
    }

    pub fn parse(s: &str) -> Option<FeedbackKind> {
        [FeedbackKind::SelfService, FeedbackKind::Case]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One rating, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    pub session_id: String,
    pub kind: FeedbackKind,
    /// 1 (poor) to 5 (very good).
    pub score: u8,
    pub comment: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Why nothing can be rated yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotYet {
    /// The session is still under way.
    Active,
    /// A person has the case and has not resolved it (or it was reopened).
    CaseOpen,
}

/// What a rating now would rate: the script's solution, or the case's
/// (`case` is the case's status when the session escalated).
pub fn kind_now(session: SessionStatus, case: Option<CaseStatus>) -> Result<FeedbackKind, NotYet> {
    match (session, case) {
        (SessionStatus::Resolved, _) => Ok(FeedbackKind::SelfService),
        (SessionStatus::Escalated, Some(CaseStatus::Resolved)) => Ok(FeedbackKind::Case),
        (SessionStatus::Escalated, _) => Err(NotYet::CaseOpen),
        (SessionStatus::Active, _) => Err(NotYet::Active),
    }
}

/// A score as given, if it is one of 1 to 5.
pub fn score(n: i64) -> Option<u8> {
    if SCORES.contains(&n) {
        u8::try_from(n).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_follows_the_session_and_its_case() {
        use CaseStatus as C;
        use SessionStatus as S;
        assert_eq!(kind_now(S::Resolved, None), Ok(FeedbackKind::SelfService));
        assert_eq!(
            kind_now(S::Escalated, Some(C::Resolved)),
            Ok(FeedbackKind::Case)
        );
        for open in [C::Open, C::Claimed, C::Waiting] {
            assert_eq!(kind_now(S::Escalated, Some(open)), Err(NotYet::CaseOpen));
        }
        assert_eq!(kind_now(S::Escalated, None), Err(NotYet::CaseOpen));
        assert_eq!(kind_now(S::Active, None), Err(NotYet::Active));
    }

    #[test]
    fn scores_are_one_to_five() {
        assert_eq!(score(1), Some(1));
        assert_eq!(score(5), Some(5));
        for bad in [0, 6, -1, i64::MAX] {
            assert_eq!(score(bad), None);
        }
        for k in [FeedbackKind::SelfService, FeedbackKind::Case] {
            assert_eq!(FeedbackKind::parse(k.as_str()), Some(k));
        }
    }
}
