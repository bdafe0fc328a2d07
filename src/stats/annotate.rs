//! A script's figures as the overlay of its graph (section 11: the authors'
//! annotated picture): the node figures of a report entry, by node name.

use super::ScriptStats;
use crate::program::export::heat::{Annotation, Figures, Words};

/// The overlay of `s`'s graph, explained in `words`.
pub fn annotation(s: &ScriptStats, words: Words) -> Annotation {
    Annotation {
        nodes: s
            .nodes
            .iter()
            .map(|n| {
                let f = Figures {
                    entered: n.entered,
                    escalated: n.escalated,
                    abandoned: n.abandoned,
                    answers: n.answers.clone(),
                };
                (n.node.clone(), f)
            })
            .collect(),
        words,
    }
}
