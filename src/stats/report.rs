//! From raw figures to section 11's report: the store's groups (one per
//! script, version and channel) merged into one entry per script, or per
//! script and version, and the rates, medians and p90s computed from the
//! merged counts and histograms (never averaged from per-group figures: a
//! median of medians is not a median).

use super::{
    CaseData, CaseStats, Csat, GroupData, Histogram, NodeData, NodeStats, Outcome, Rates, Report,
    ScriptStats, SessionCounts, Spread, StatsData, StatsFilter, Versions,
};
use std::collections::BTreeMap;

/// The channel whose sessions `deflection` counts: a customer who solved it
/// alone is a contact the desk did not take; an agent's session is one it
/// already took.
const DEFLECTION_CHANNEL: &str = "customer";

/// Section 11's report of `data`, which the store read for `filter`:
/// groups merged per script (and per version when `filter.versions` asks),
/// rates, medians and p90 computed. `titles` maps script ids to the title
/// shown (an id without one shows the id).
///
/// `Versions::Only(v)` keeps the groups whose version is `v` or starts
/// with it, each version an entry of its own: a prefix that matches two
/// versions of a script shows both, named, rather than merging them under
/// one name.
pub fn build(data: &StatsData, filter: &StatsFilter, titles: &BTreeMap<String, String>) -> Report {
    let mut merged: BTreeMap<(&str, Option<&str>), Merged> = BTreeMap::new();
    for g in &data.groups {
        let version = match &filter.versions {
            Versions::Together => None,
            Versions::Each => Some(g.version.as_str()),
            Versions::Only(v) if g.version.starts_with(v.as_str()) => Some(g.version.as_str()),
            Versions::Only(_) => continue,
        };
        merged
            .entry((g.script.as_str(), version))
            .or_default()
            .add(g);
    }
    Report {
        since: filter.since.map(|d| d.to_string()),
        until: filter.until.map(|d| d.to_string()),
        scripts: merged
            .into_iter()
            .map(|((id, version), m)| {
                m.stats(
                    id,
                    version,
                    titles.get(id).map(String::as_str).unwrap_or(id),
                )
            })
            .collect(),
    }
}

/// The groups of one entry, added up.
#[derive(Default)]
struct Merged {
    outcomes: BTreeMap<Outcome, Histogram>,
    /// Ended sessions of the customer channel, by outcome.
    customer: BTreeMap<Outcome, u64>,
    active: u64,
    cases: CaseData,
    csat: [u64; 5],
    nodes: BTreeMap<String, NodeData>,
}

impl Merged {
    fn add(&mut self, g: &GroupData) {
        for (&outcome, h) in &g.outcomes {
            self.outcomes.entry(outcome).or_default().merge(h);
            if g.channel == DEFLECTION_CHANNEL {
                *self.customer.entry(outcome).or_default() += h.count();
            }
        }
        self.active += g.active;
        let (c, d) = (&mut self.cases, &g.cases);
        c.count += d.count;
        c.resolved += d.resolved;
        c.reopened += d.reopened;
        c.first_response.merge(&d.first_response);
        c.resolution.merge(&d.resolution);
        c.breached_response += d.breached_response;
        c.breached_resolution += d.breached_resolution;
        for (sum, n) in self.csat.iter_mut().zip(g.csat) {
            *sum += n;
        }
        for (id, n) in &g.nodes {
            let m = self.nodes.entry(id.clone()).or_default();
            m.entered += n.entered;
            m.abandoned += n.abandoned;
            m.escalated += n.escalated;
            for (answer, times) in &n.answers {
                *m.answers.entry(answer.clone()).or_default() += times;
            }
            m.dwell.merge(&n.dwell);
        }
    }

    fn ended(&self, outcome: Outcome) -> u64 {
        self.outcomes.get(&outcome).map_or(0, Histogram::count)
    }

    fn stats(self, id: &str, version: Option<&str>, title: &str) -> ScriptStats {
        let resolved = self.ended(Outcome::Resolved);
        let escalated = self.ended(Outcome::Escalated);
        let abandoned = self.ended(Outcome::Abandoned);
        let ended = resolved + escalated + abandoned;
        let customer = |o| self.customer.get(&o).copied().unwrap_or(0);
        let customer_ended: u64 = Outcome::ALL.into_iter().map(customer).sum();
        let mut all = Histogram::default();
        for h in self.outcomes.values() {
            all.merge(h);
        }
        let csat_count: u64 = self.csat.iter().sum();
        let csat_points: u64 = self
            .csat
            .iter()
            .zip(1u64..)
            .map(|(n, score)| n * score)
            .sum();
        ScriptStats {
            id: id.to_owned(),
            version: version.map(str::to_owned),
            title: title.to_owned(),
            sessions: SessionCounts {
                started: ended + self.active,
                resolved,
                escalated,
                abandoned,
                active: self.active,
            },
            rates: Rates {
                deflection: share(customer(Outcome::Resolved), customer_ended),
                escalation: share(escalated, ended),
                abandonment: share(abandoned, ended),
                fcr: share(resolved, resolved + escalated),
            },
            time_to_outcome_s: Spread {
                median: all.median(),
                p90: all.p90(),
            },
            cases: CaseStats {
                count: self.cases.count,
                resolved: self.cases.resolved,
                reopened: self.cases.reopened,
                median_first_response_s: self.cases.first_response.median(),
                median_resolution_s: self.cases.resolution.median(),
                breached_response: self.cases.breached_response,
                breached_resolution: self.cases.breached_resolution,
            },
            csat: Csat {
                count: csat_count,
                average: share(csat_points, csat_count),
                distribution: self.csat,
            },
            nodes: self
                .nodes
                .into_iter()
                .map(|(node, n)| NodeStats {
                    median_dwell_s: n.dwell.median(),
                    node,
                    entered: n.entered,
                    answers: n.answers,
                    abandoned: n.abandoned,
                    escalated: n.escalated,
                })
                .collect(),
        }
    }
}

/// `part ÷ whole`, or `None` when `whole` is 0 (section 11: null).
fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

/// The title of every script in `program`, in its first language: the
/// names a report shows (scripts since removed show their id).
pub fn titles(program: &crate::program::Program) -> BTreeMap<String, String> {
    program
        .scripts
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                program.templates.source(s.title, 0).into_owned(),
            )
        })
        .collect()
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

#[cfg(test)]
mod tests;
