//! Which authored answers no case exercises.

use crate::program::{NodeKind, Program};
use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Uncovered {
    pub path: String,
    pub script: String,
    pub node: String,
    pub answer: String,
}

/// Every answer of every script in `program` that is not in `chosen`.
pub fn uncovered(program: &Program, chosen: &HashSet<(String, String, String)>) -> Vec<Uncovered> {
    let mut out = Vec::new();
    for s in &program.scripts {
        for (_, n) in s.nodes() {
            if let NodeKind::Ask { answers, .. } = &n.kind {
                for a in answers {
                    let key = (s.id.clone(), n.id.clone(), a.id.clone());
                    if !chosen.contains(&key) {
                        out.push(Uncovered {
                            path: s.path.clone(),
                            script: s.id.clone(),
                            node: n.id.clone(),
                            answer: a.id.clone(),
                        });
                    }
                }
            }
        }
    }
    out.sort();
    out
}
