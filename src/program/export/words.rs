//! The picture's own words (outcome titles, edge words, the start tag), in
//! the language the graph is drawn in. Unknown languages fall back to English.

/// The words a graph of one language uses.
pub(super) struct Words {
    pub resolved: &'static str,
    /// `{n}` is replaced by the tier.
    pub escalate_tier: &'static str,
    pub escalate_next: &'static str,
    /// `{id}` is replaced by the node id.
    pub unresolved_at: &'static str,
    pub ret: &'static str,
    /// On the edge a sub-flow takes once it returns.
    pub returned: &'static str,
    /// On a branch's fallback edge.
    pub otherwise: &'static str,
    /// `{id}` is replaced by the sub-flow's id.
    pub uses: &'static str,
    pub start: &'static str,
}

const EN: Words = Words {
    resolved: "resolved",
    escalate_tier: "escalate to tier {n}",
    escalate_next: "escalate to the next tier",
    unresolved_at: "unresolved at {id}",
    ret: "return",
    returned: "returned",
    otherwise: "else",
    uses: "use {id}",
    start: "start",
};

const NL: Words = Words {
    resolved: "opgelost",
    escalate_tier: "escaleren naar de {n}e lijn",
    escalate_next: "escaleren naar de volgende lijn",
    unresolved_at: "niet opgelost bij {id}",
    ret: "terug",
    returned: "terug",
    otherwise: "anders",
    uses: "via {id}",
    start: "begin",
};

const DE: Words = Words {
    resolved: "gelöst",
    escalate_tier: "an Level {n} eskalieren",
    escalate_next: "an das nächste Level eskalieren",
    unresolved_at: "ungelöst bei {id}",
    ret: "zurück",
    returned: "zurück",
    otherwise: "sonst",
    uses: "über {id}",
    start: "Start",
};

const ET: Words = Words {
    resolved: "lahendatud",
    escalate_tier: "edasi {n}. tasemele",
    escalate_next: "edasi järgmisele tasemele",
    unresolved_at: "jäi lahendamata sammus {id}",
    ret: "tagasi",
    returned: "tagasi",
    otherwise: "muidu",
    uses: "kasutab voogu {id}",
    start: "algus",
};

const RU: Words = Words {
    resolved: "решено",
    escalate_tier: "передать на {n}-ю линию",
    escalate_next: "передать на следующую линию",
    unresolved_at: "не решено на шаге {id}",
    ret: "возврат",
    returned: "после возврата",
    otherwise: "иначе",
    uses: "сценарий {id}",
    start: "начало",
};

/// The words for language `code` (`de`, `pt-BR`, …): matched on the primary
/// subtag, English when none of ours fits.
pub(super) fn words(code: &str) -> &'static Words {
    let primary = code.split(['-', '_']).next().unwrap_or("");
    match primary.to_ascii_lowercase().as_str() {
        "nl" => &NL,
        "de" => &DE,
        "et" => &ET,
        "ru" => &RU,
        _ => &EN,
    }
}

impl Words {
    pub(super) fn escalate(&self, tier: Option<u8>) -> String {
        match tier {
            Some(n) => self.escalate_tier.replace("{n}", &n.to_string()),
            None => self.escalate_next.to_owned(),
        }
    }
    pub(super) fn unresolved(&self, id: &str) -> String {
        self.unresolved_at.replace("{id}", id)
    }
    pub(super) fn use_flow(&self, id: &str) -> String {
        self.uses.replace("{id}", id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_its_own_words() {
        let all = [&EN, &NL, &DE, &ET, &RU];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a.resolved, b.resolved);
                assert_ne!(a.escalate(Some(2)), b.escalate(Some(2)));
            }
            assert!(a.escalate(Some(3)).contains('3'));
            assert!(a.unresolved("x1").contains("x1"));
            assert!(a.use_flow("pc").contains("pc"));
        }
        assert_eq!(words("de-AT").resolved, "gelöst");
        assert_eq!(words("fr").resolved, "resolved");
    }
}
