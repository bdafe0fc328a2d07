//! Satisfaction (contract section 11), the operation the API and the pages
//! share: a customer rates their session once when the script resolved it
//! and once after its case was resolved. Which of the two a rating is
//! comes from [`case::feedback::kind_now`]; the store keeps one per kind.

use super::AppState;
use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::ops;
use crate::case::feedback::{self, Feedback, FeedbackKind, MAX_COMMENT_CHARS, NotYet};
use crate::engine::Status;

/// A rating as given: the score unchecked (a stranger sends any number).
#[derive(Debug, Clone)]
pub struct Rating {
    pub score: i64,
    pub comment: Option<String>,
}

/// Checks a rating's score and comment: 422 for a score outside 1 to 5,
/// 413 for a comment over [`MAX_COMMENT_CHARS`].
pub fn check(r: &Rating) -> ApiResult<(u8, Option<String>)> {
    let Some(score) = feedback::score(r.score) else {
        return Err(ApiError::unprocessable(
            "invalid_score",
            format!(
                "`score` is {}; it must be a whole number from 1 (poor) to 5 (very good)",
                r.score
            ),
        ));
    };
    let comment = r
        .comment
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    if let Some(c) = comment
        && c.chars().count() > MAX_COMMENT_CHARS
    {
        return Err(ApiError::PayloadTooLarge(format!(
            "`comment` is {} characters; a comment is at most {MAX_COMMENT_CHARS}",
            c.chars().count()
        )));
    }
    Ok((score, comment.map(str::to_owned)))
}

/// The kind a rating of this session would be now, for its customer.
pub async fn kind_now(
    state: &AppState,
    session_id: &str,
    status: Status,
) -> ApiResult<Result<FeedbackKind, NotYet>> {
    let case = if status == Status::Escalated {
        state
            .store
            .escalation(&ops::escalation_id_for(session_id))
            .await?
            .map(|e| e.case.status)
    } else {
        None
    };
    Ok(feedback::kind_now(status, case))
}

/// Rates the session `id` for its customer (its token or a link token;
/// staff do not rate for the customer). The answer is the kind rated.
pub async fn give(
    state: &AppState,
    caller: &Caller,
    id: &str,
    rating: &Rating,
) -> ApiResult<FeedbackKind> {
    if let Caller::Staff(_) = caller {
        return Err(ApiError::Forbidden(
            "satisfaction is the customer's to give, with the session's token".into(),
        ));
    }
    let (score, comment) = check(rating)?;
    let (stored, _) = ops::open_session(state, caller, id).await?;
    let kind = match kind_now(state, id, stored.state.status).await? {
        Ok(kind) => kind,
        Err(NotYet::Active) => {
            return Err(ApiError::conflict(
                "not_ended",
                format!("session `{id}` is still under way: there is nothing to rate yet"),
            ));
        }
        Err(NotYet::CaseOpen) => {
            return Err(ApiError::conflict(
                "case_not_resolved",
                format!("the case of session `{id}` is not resolved: rate it once it is"),
            ));
        }
    };
    let f = Feedback {
        session_id: id.to_owned(),
        kind,
        score,
        comment,
        at: state.clock.now(),
    };
    if !state.store.add_feedback(&f).await? {
        return Err(ApiError::conflict(
            "feedback_given",
            format!(
                "session `{id}` has been rated already ({}); a rating is given once",
                kind.as_str()
            ),
        ));
    }
    metrics::counter!("fixpath_feedback_total", "score" => score.to_string()).increment(1);
    Ok(kind)
}
