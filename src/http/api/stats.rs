//! `GET /api/v1/stats` (contract section 11): the figures report for
//! authors and admins, the same one `fixpath stats --format json` prints,
//! with the same filters as query parameters.

use super::*;
use crate::stats::filter::FilterText;
use crate::stats::{Report, StatsFilter};

/// `GET /api/v1/stats?script=&version=&each_version=&since=&until=&channel=`.
/// Empty values mean "not given", as for the queue's filters; what the
/// filters refuse is 422 (well-formed, but no report can be made of it).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StatsQuery {
    #[serde(default)]
    script: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    each_version: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    channel: Option<String>,
}

impl StatsQuery {
    fn filter(&self) -> ApiResult<StatsFilter> {
        let refused = |m: String| ApiError::unprocessable("invalid_filter", m);
        let each_version = match self.each_version.as_deref().map(str::trim) {
            None | Some("" | "false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(refused(format!(
                    "`each_version` is `{}`; it must be true or false",
                    other.chars().take(40).collect::<String>()
                )));
            }
        };
        StatsFilter::parse(&FilterText {
            script: self.script.as_deref(),
            version: self.version.as_deref(),
            each_version,
            since: self.since.as_deref(),
            until: self.until.as_deref(),
            channel: self.channel.as_deref(),
        })
        .map_err(|e| refused(e.to_string()))
    }
}

/// An author or an admin, for the figures. Checked before the query is
/// read, so a refused caller learns nothing about the filters.
pub(super) struct FiguresReader;

impl FromRequestParts<AppState> for FiguresReader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_role(&[Role::Author, Role::Admin], "the figures")?;
        Ok(FiguresReader)
    }
}

/// `GET /api/v1/stats`: idle sessions abandoned and ended ones folded
/// first (as `fixpath stats` does), a few reports at a time.
pub(super) async fn stats_report(
    State(state): State<AppState>,
    _: FiguresReader,
    QueryParams(query): QueryParams<StatsQuery>,
) -> ApiResult<axum::Json<Report>> {
    let filter = query.filter()?;
    let _slot = state.guards.reports.acquire().await.map_err(|busy| {
        let secs = busy.retry_after_secs();
        ApiError::TooManyRequests {
            message: format!(
                "other figures reports are being computed; try again in {secs} seconds"
            ),
            retry_after: secs,
        }
    })?;
    let titles = crate::stats::report::titles(&state.library.current());
    let idle = time::Duration::try_from(state.config.wizard_idle).map_err(ApiError::internal)?;
    let report = crate::stats::gather::gather(
        &*state.store,
        &state.programs,
        &filter,
        Some((state.clock.now(), idle)),
        &titles,
        Some(crate::stats::gather::REQUEST_BUDGET),
    )
    .await?;
    Ok(axum::Json(report))
}
