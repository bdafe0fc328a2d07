//! Running one case against the program.

use super::file::{Case, ExpectedOutcome};
use crate::engine::{self, Channel, Ending, Reply, StartOptions};
use crate::program::Program;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    pub name: String,
    /// Why it failed: the step and what was expected versus seen.
    pub failures: Vec<String>,
    /// (script id, node id, answer id) of every authored answer chosen.
    pub chosen: Vec<(String, String, String)>,
    pub path: Vec<String>,
    /// Remarks that do not fail the case (answers left over at the end).
    pub notes: Vec<String>,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Runs `case` against script `script` of `program`. A fixed clock keeps the
/// run deterministic.
pub fn run_case(program: &Program, script: &str, case: &Case) -> CaseResult {
    let mut res = CaseResult {
        name: case.name.clone(),
        failures: Vec::new(),
        chosen: Vec::new(),
        path: Vec::new(),
        notes: Vec::new(),
    };
    let now = OffsetDateTime::UNIX_EPOCH;
    let opts = StartOptions {
        script: script.to_owned(),
        channel: case.channel.unwrap_or(Channel::Agent),
        language: case.language.clone(),
        params: case.params.clone(),
        vars: case.vars.clone(),
        tier: None,
    };
    let (mut s, adv) = match engine::start(program, opts, now) {
        Ok(x) => x,
        Err(e) => {
            res.failures
                .push(format!("the session could not start: {e}"));
            return res;
        }
    };
    res.path
        .extend(adv.entered(program, &s).into_iter().map(String::from));
    let mut answers = case.answers.iter().enumerate();
    let mut step_no = 0;
    loop {
        let step = match engine::view(program, &s) {
            Ok(Some(step)) => step,
            Ok(None) => break,
            Err(e) => {
                res.failures.push(format!("the session failed: {e}"));
                return res;
            }
        };
        step_no += 1;
        let reply = if step.kind == "say" {
            Reply::Answer(engine::ANSWER_DONE.into())
        } else {
            let Some((_, a)) = answers.next() else {
                res.failures.push(format!(
                    "step {step_no} (node `{}`): the answers ran out before the session ended; it asks: {}",
                    step.node, step.text
                ));
                return res;
            };
            let a = a.text();
            if step.input.is_some() && a != engine::ANSWER_ESCALATE {
                Reply::Value(a)
            } else {
                Reply::Answer(a)
            }
        };
        let before = s.trail.len();
        match engine::answer(program, &mut s, reply.clone(), "test", now) {
            Ok(adv) => res
                .path
                .extend(adv.entered(program, &s).into_iter().map(String::from)),
            Err(e) => {
                let given = match &reply {
                    Reply::Answer(a) | Reply::Value(a) => a.clone(),
                };
                res.failures.push(format!(
                    "step {step_no} (node `{}`): `{given}` was refused: {e}",
                    step.node
                ));
                return res;
            }
        }
        // Record the authored answer chosen, for coverage.
        if let Some(e) = s.trail.get(before)
            && let Some(a) = e.answer()
            && e.kind() == "ask"
            && !a.id.starts_with('_')
        {
            let (sid, nid) = match e.node().split_once('/') {
                Some((sc, n)) => (sc.to_owned(), n.to_owned()),
                None => (script.to_owned(), e.node().to_string()),
            };
            res.chosen.push((sid, nid, a.id.to_string()));
        }
    }
    let left = answers.count();
    let exp = &case.expect;
    let (outcome, node, tier, queue) = match s.ending.as_deref() {
        Some(Ending::Resolved { node, .. }) => {
            (ExpectedOutcome::Resolved, node.clone(), None, None)
        }
        Some(Ending::Escalated {
            node, tier, queue, ..
        }) => (
            ExpectedOutcome::Escalated,
            node.clone(),
            Some(*tier),
            queue.clone(),
        ),
        None => {
            res.failures.push("the session did not end".into());
            return res;
        }
    };
    let seen = match (s.ending.as_deref(), tier, &queue) {
        (Some(Ending::Escalated { reason, .. }), Some(t), q) => format!(
            "escalated at `{node}` (tier {t}{}): {reason}",
            q.as_ref()
                .map(|q| format!(", queue {q}"))
                .unwrap_or_default()
        ),
        _ => format!("resolved at `{node}`"),
    };
    if outcome != exp.outcome {
        let want = match exp.outcome {
            ExpectedOutcome::Resolved => "resolved",
            ExpectedOutcome::Escalated => "escalated",
        };
        res.failures
            .push(format!("expected the session to end {want}, but it {seen}"));
    }
    if let Some(t) = exp.tier
        && tier != Some(t)
    {
        res.failures
            .push(format!("expected tier {t}, but it {seen}"));
    }
    if let Some(q) = &exp.queue
        && queue.as_ref() != Some(q)
    {
        res.failures
            .push(format!("expected queue `{q}`, but it {seen}"));
    }
    if let Some(n) = &exp.node
        && &node != n
    {
        res.failures
            .push(format!("expected it to end at `{n}`, but it {seen}"));
    }
    if let Some(p) = &exp.path
        && p != &res.path
    {
        let at = p
            .iter()
            .zip(&res.path)
            .position(|(a, b)| a != b)
            .unwrap_or(p.len().min(res.path.len()));
        res.failures.push(format!(
                "expected path [{}]\n           but it took [{}]\n           (they part at position {})",
                p.join(", "),
                res.path.join(", "),
                at + 1
            ));
    }
    if left > 0 {
        // Not a failure by the contract, but almost always a mistake.
        res.notes.push(format!(
            "{left} answer(s) left over after the session ended at `{node}`"
        ));
    }
    res
}
