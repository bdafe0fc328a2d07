//! Deterministic generator of realistic, valid fixpath scripts, for the
//! benchmarks (and, later, for robustness tests that need big inputs).
//!
//! Shape of a generated script (contract, sections 1–2):
//! - mostly `ask` nodes with 2–4 answers, in both the short form
//!   (`- Yes: node-x`, sometimes `- No: { escalate: ... }`) and the long form
//!   (`label`, optional `id`, `set`, and one of `goto`/`resolve`/`escalate`);
//! - some `say` instructions, `input` nodes with a `pattern`, and `branch`
//!   nodes (`if: attempts > 2` and friends, ending with `else`);
//! - a few templated texts (`{{ device }}`, `{{ light }}`, `{{ attempts }}`)
//!   and templated `set` values (`"{{ attempts + 1 }}"`);
//! - `resolve` and `escalate` nodes scattered after questions and at the end.
//!
//! The graph is a DAG (every edge goes forward), every node is reachable
//! from `start` and every node reaches a terminal, so the compile has no
//! error and the graph lints do their full work (one expected warning:
//! FP103, the long path). Every question, instruction, help text and reason
//! is distinct (it names its step); short answer labels come from a small
//! realistic pool ("Yes", "No", ...), as in real scripts.
//!
//! No randomness: every choice derives from a hash of (seed, index), so the
//! same arguments always give the same bytes.

// Each bench/test target that includes this module uses only part of it.
#![allow(dead_code)]

use std::fmt::Write;

/// Options of one generated script.
#[derive(Debug, Clone)]
pub struct Options {
    /// The script id (`[a-z0-9][a-z0-9-]*`).
    pub id: String,
    /// How many nodes the script holds (at least 8).
    pub nodes: usize,
    /// Varies every choice; two seeds give two different scripts.
    pub seed: u64,
    /// Write every text as `{ en: ..., nl: ... }` with `languages: [en, nl]`
    /// (answers then all use the long form: a short-form label is one text).
    pub bilingual: bool,
}

impl Options {
    pub fn new(id: impl Into<String>, nodes: usize, seed: u64) -> Self {
        Options {
            id: id.into(),
            nodes,
            seed,
            bilingual: false,
        }
    }
}

/// One generated script: its YAML text and how many nodes it holds.
#[derive(Debug, Clone)]
pub struct Generated {
    pub text: String,
    pub nodes: usize,
}

/// A generated script of `nodes` nodes.
pub fn script(opts: &Options) -> Generated {
    assert!(opts.nodes >= 8, "a generated script needs at least 8 nodes");
    let g = Gen::new(opts);
    let mut out = String::with_capacity(opts.nodes * 200);
    g.write(&mut out);
    Generated {
        text: out,
        nodes: opts.nodes,
    }
}

/// A corpus of `files` scripts of `nodes` nodes each, as `(path, text)`
/// pairs with unique script ids; every tenth file is bilingual (en, nl).
pub fn corpus(files: usize, nodes: usize, seed: u64) -> Vec<(String, String)> {
    (0..files)
        .map(|f| {
            let area = AREAS[f % AREAS.len()];
            let id = format!("{area}-flow-{f:04}");
            let mut opts =
                Options::new(id.clone(), nodes, seed.wrapping_add(f as u64 * 0x9E37_79B9));
            opts.bilingual = f % 10 == 7;
            (format!("scripts/{area}/{id}.yaml"), script(&opts).text)
        })
        .collect()
}

/// SplitMix64: a good, tiny mixing function (no `rand` needed).
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const AREAS: &[&str] = &[
    "network", "printer", "email", "vpn", "laptop", "phone", "wifi", "account",
];

const PARTS: &[(&str, &str)] = &[
    ("power", "stroom"),
    ("status", "status"),
    ("internet", "internet"),
    ("wifi", "wifi"),
    ("ethernet", "ethernet"),
    ("dsl", "dsl"),
    ("wan", "wan"),
    ("battery", "accu"),
    ("toner", "toner"),
    ("sync", "synchronisatie"),
];
const THINGS: &[(&str, &str)] = &[
    ("router", "router"),
    ("modem", "modem"),
    ("printer", "printer"),
    ("laptop", "laptop"),
    ("docking station", "dockingstation"),
    ("access point", "access point"),
    ("phone", "telefoon"),
    ("monitor", "monitor"),
    ("switch", "switch"),
];
const STATES: &[(&str, &str)] = &[
    ("lit", "aan"),
    ("blinking", "aan het knipperen"),
    ("steady green", "continu groen"),
    ("orange", "oranje"),
    ("off", "uit"),
    ("flashing red", "rood aan het knipperen"),
];
const ACTIONS: &[(&str, &str)] = &[
    (
        "Unplug the {T}, wait 30 seconds and plug it back in",
        "Haal de stekker van de {T} eruit, wacht 30 seconden en steek hem er weer in",
    ),
    (
        "Check that the cable into the {T} is pushed in until it clicks",
        "Controleer of de kabel in de {T} vastklikt",
    ),
    (
        "Restart the {T} from its settings menu",
        "Herstart de {T} via het instellingenmenu",
    ),
    (
        "Move the {T} closer to the wall socket",
        "Zet de {T} dichter bij het stopcontact",
    ),
    (
        "Hold the reset button of the {T} for ten seconds",
        "Houd de resetknop van de {T} tien seconden ingedrukt",
    ),
    (
        "Close every program and open the {T} panel again",
        "Sluit alle programma's en open het {T}-paneel opnieuw",
    ),
];
const INPUTS: &[(&str, &str, &str, &str)] = &[
    (
        "What is the serial number on the label of the {T}",
        "Wat is het serienummer op het label van de {T}",
        "serial",
        "^[A-Z0-9]{8}$",
    ),
    (
        "Which MAC address does the {T} show",
        "Welk MAC-adres toont de {T}",
        "mac",
        "^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$",
    ),
    (
        "What error code is on the screen of the {T}",
        "Welke foutcode staat op het scherm van de {T}",
        "error_code",
        "^[A-Z]{1,3}-?[0-9]{2,4}$",
    ),
    (
        "Which ticket number did the customer get for the {T}",
        "Welk ticketnummer kreeg de klant voor de {T}",
        "ticket",
        "^(INC|REQ)[0-9]{6,8}$",
    ),
    (
        "What firmware version does the {T} report",
        "Welke firmwareversie meldt de {T}",
        "firmware",
        "^[0-9]+\\.[0-9]+(\\.[0-9]+)?$",
    ),
];
const CONDITIONS: &[&str] = &[
    "attempts > 2",
    "attempts > 2",
    "attempts >= 1 and light == \"red\"",
    "light == \"off\"",
    "attempts > 2 or light == \"orange\"",
];
/// Short-form labels: (en, nl). Distinct slugs, disjoint from the long ones.
const SHORT_LABELS: &[(&str, &str)] = &[
    ("Yes", "Ja"),
    ("No", "Nee"),
    ("Not sure", "Weet niet"),
    ("It is off", "Hij is uit"),
    ("Sometimes", "Soms"),
    ("Only on one device", "Alleen op een apparaat"),
];
/// Long-form labels: (en, nl, the `light` value they set).
const LONG_LABELS: &[(&str, &str, &str)] = &[
    ("Red, blinking fast", "Rood, snel knipperend", "red"),
    ("Orange, steady", "Oranje, continu", "orange"),
    (
        "Green but no connection",
        "Groen maar geen verbinding",
        "green",
    ),
    ("No light at all", "Helemaal geen lampje", "off"),
    (
        "Two lights alternate",
        "Twee lampjes wisselen af",
        "alternating",
    ),
];
const ESC_QUEUES: &[&str] = &[
    "network",
    "hardware",
    "field-service",
    "accounts",
    "security",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ask,
    Say,
    Input,
    Branch,
    Resolve,
    Escalate,
}

struct Gen<'a> {
    o: &'a Options,
    kinds: Vec<Kind>,
    ids: Vec<String>,
}

impl<'a> Gen<'a> {
    fn new(o: &'a Options) -> Self {
        let n = o.nodes;
        let mut kinds = Vec::with_capacity(n);
        for i in 0..n {
            let h = mix(o.seed ^ (i as u64).wrapping_mul(0xA24B_AED4_963E_E407)) % 100;
            let k = if i >= n - 2 {
                // The last two nodes: the final resolve and escalate.
                if i == n - 2 {
                    Kind::Resolve
                } else {
                    Kind::Escalate
                }
            } else if i == n - 3 || i == 0 {
                // Node n-3 leads to both final nodes; node 0 reads `device`.
                Kind::Ask
            } else if i == 1 {
                // Reads `attempts` and `light`: no declared variable goes unread.
                Kind::Branch
            } else if kinds[i - 1] == Kind::Ask && i < n - 4 && h < 22 {
                // A terminal right after a question: that question leads here.
                if h < 13 {
                    Kind::Resolve
                } else {
                    Kind::Escalate
                }
            } else {
                match h {
                    0..=61 => Kind::Ask,
                    62..=75 => Kind::Say,
                    76..=85 => Kind::Input,
                    _ => Kind::Branch,
                }
            };
            kinds.push(k);
        }
        let ids = (0..n)
            .map(|i| {
                let word = match kinds[i] {
                    Kind::Ask => ["check", "ask", "lights", "cable", "screen", "login"][i % 6],
                    Kind::Say => "do",
                    Kind::Input => "get",
                    Kind::Branch => "route",
                    Kind::Resolve => "fixed",
                    Kind::Escalate => "handover",
                };
                format!("{word}-{i}")
            })
            .collect();
        Gen { o, kinds, ids }
    }

    fn h(&self, i: usize, salt: u64) -> u64 {
        mix(self.o.seed ^ mix(((i as u64) << 8) | salt))
    }

    fn terminal(&self, i: usize) -> bool {
        matches!(self.kinds[i], Kind::Resolve | Kind::Escalate)
    }

    /// The main successor of non-terminal `i`: the next node, skipping a
    /// terminal that follows a question (the question links it itself).
    fn succ(&self, i: usize) -> usize {
        if self.terminal(i + 1) && i + 1 < self.o.nodes - 2 {
            i + 2
        } else {
            i + 1
        }
    }

    /// Some node ahead of `i` (forward edges only: the graph is a DAG).
    fn ahead(&self, i: usize, salt: u64) -> usize {
        let n = self.o.nodes;
        let lo = (i + 2).min(n - 1);
        let hi = (i + 12).min(n - 1);
        lo + (self.h(i, salt) as usize) % (hi - lo + 1)
    }

    fn write(&self, out: &mut String) {
        let o = self.o;
        let area = AREAS[(o.seed % AREAS.len() as u64) as usize];
        let _ = writeln!(out, "id: {}", o.id);
        self.text_line(
            out,
            0,
            "title",
            &format!("Troubleshooting flow {} ({} nodes)", o.id, o.nodes),
            &format!("Stappenplan {} ({} stappen)", o.id, o.nodes),
        );
        if o.bilingual {
            out.push_str("languages: [en, nl]\n");
        }
        out.push_str("tier: 1\n");
        let _ = writeln!(out, "escalation: {{ tier: 2, queue: {area} }}");
        out.push_str("max_visits: 3\n");
        let _ = writeln!(out, "tags: [generated, {area}]");
        let thing = THINGS[(o.seed % THINGS.len() as u64) as usize].0;
        let _ = writeln!(
            out,
            "vars:\n  device: {thing}\n  attempts: 0\n  light: unknown"
        );
        let _ = writeln!(out, "start: {}", self.ids[0]);
        out.push_str("nodes:\n");
        for i in 0..o.nodes {
            self.node(out, i);
        }
    }

    /// `  key: TEXT` at `indent`, plain or by language.
    fn text_line(&self, out: &mut String, indent: usize, key: &str, en: &str, nl: &str) {
        pad(out, indent);
        if self.o.bilingual {
            let _ = writeln!(out, "{key}: {{ en: {}, nl: {} }}", quoted(en), quoted(nl));
        } else {
            let _ = writeln!(out, "{key}: {}", plain(en));
        }
    }

    /// A question text for node `i`; some are templates.
    fn question(&self, i: usize) -> (String, String) {
        let h = self.h(i, 1);
        let (p_en, p_nl) = PARTS[(h % PARTS.len() as u64) as usize];
        let (t_en, t_nl) = THINGS[(h / 7 % THINGS.len() as u64) as usize];
        let (s_en, s_nl) = STATES[(h / 101 % STATES.len() as u64) as usize];
        let templated = i == 0 || h % 100 < 8;
        let thing_en = if templated { "{{ device }}" } else { t_en };
        let thing_nl = if templated { "{{ device }}" } else { t_nl };
        match h / 1009 % 4 {
            0 => (
                format!("Is the {p_en} light on the front of the {thing_en} {s_en} at step {i}?"),
                format!("Is het {p_nl}lampje voor op de {thing_nl} {s_nl} bij stap {i}?"),
            ),
            1 => (
                format!("Step {i}: what does the {p_en} light of the {thing_en} show now?"),
                format!("Stap {i}: wat toont het {p_nl}lampje van de {thing_nl} nu?"),
            ),
            2 => (
                format!("After step {i}, does the {thing_en} still show {p_en} trouble?"),
                format!("Toont de {thing_nl} na stap {i} nog {p_nl}problemen?"),
            ),
            _ => (
                format!("Can the customer reach the {p_en} page of the {thing_en} (check {i})?"),
                format!("Kan de klant de {p_nl}pagina van de {thing_nl} bereiken (controle {i})?"),
            ),
        }
    }

    fn node(&self, out: &mut String, i: usize) {
        let _ = writeln!(out, "  {}:", self.ids[i]);
        let h = self.h(i, 2);
        match self.kinds[i] {
            Kind::Ask => self.ask(out, i),
            Kind::Say => {
                let (a_en, a_nl) = ACTIONS[(h % ACTIONS.len() as u64) as usize];
                let (t_en, t_nl) = THINGS[(h / 11 % THINGS.len() as u64) as usize];
                let (t_en, t_nl) = if i == 2 || h % 100 < 10 {
                    ("{{ device }}", "{{ device }}")
                } else {
                    (t_en, t_nl)
                };
                let en = format!("{} (step {i}).", a_en.replace("{T}", t_en));
                let nl = format!("{} (stap {i}).", a_nl.replace("{T}", t_nl));
                self.text_line(out, 4, "say", &en, &nl);
                if h % 100 >= 80 {
                    self.text_line(
                        out,
                        4,
                        "help",
                        &format!("Agents: note the time of step {i} in the ticket."),
                        &format!("Agenten: noteer de tijd van stap {i} in het ticket."),
                    );
                }
                let _ = writeln!(out, "    next: {}", self.ids[self.succ(i)]);
            }
            Kind::Input => {
                let (q_en, q_nl, into, pattern) = INPUTS[(h % INPUTS.len() as u64) as usize];
                let (t_en, t_nl) = THINGS[(h / 13 % THINGS.len() as u64) as usize];
                let en = format!("{} (step {i})?", q_en.replace("{T}", t_en));
                let nl = format!("{} (stap {i})?", q_nl.replace("{T}", t_nl));
                self.text_line(out, 4, "input", &en, &nl);
                let _ = writeln!(out, "    into: {into}");
                if h.is_multiple_of(3) {
                    out.push_str("    type: text\n");
                }
                let _ = writeln!(out, "    pattern: {}", quoted(pattern));
                let _ = writeln!(out, "    next: {}", self.ids[self.succ(i)]);
            }
            Kind::Branch => {
                out.push_str("    branch:\n");
                let arms = if h.is_multiple_of(4) { 2 } else { 1 };
                for a in 0..arms {
                    let cond = if i == 1 && a == 0 {
                        CONDITIONS[2]
                    } else {
                        CONDITIONS[(self.h(i, 10 + a) % CONDITIONS.len() as u64) as usize]
                    };
                    let _ = writeln!(
                        out,
                        "      - if: {cond}\n        goto: {}",
                        self.ids[self.ahead(i, 20 + a)]
                    );
                }
                let _ = writeln!(out, "      - else: {}", self.ids[self.succ(i)]);
            }
            Kind::Resolve => {
                let (t_en, t_nl) = THINGS[(h % THINGS.len() as u64) as usize];
                self.text_line(
                    out,
                    4,
                    "resolve",
                    &format!("The {t_en} works again after step {i}"),
                    &format!("De {t_nl} werkt weer na stap {i}"),
                );
            }
            Kind::Escalate => {
                let (t_en, t_nl) = THINGS[(h % THINGS.len() as u64) as usize];
                let en = format!("The {t_en} still fails at step {i}");
                let nl = format!("De {t_nl} faalt nog steeds bij stap {i}");
                if h.is_multiple_of(2) {
                    self.text_line(out, 4, "escalate", &en, &nl);
                } else {
                    let queue = ESC_QUEUES[(h / 3 % ESC_QUEUES.len() as u64) as usize];
                    let tier = 2 + h / 17 % 2;
                    let reason = if self.o.bilingual {
                        format!("{{ en: {}, nl: {} }}", quoted(&en), quoted(&nl))
                    } else {
                        quoted(&format!("{en} ({{{{ light }}}} light)"))
                    };
                    let _ = writeln!(
                        out,
                        "    escalate: {{ tier: {tier}, queue: {queue}, reason: {reason} }}"
                    );
                }
            }
        }
    }

    fn ask(&self, out: &mut String, i: usize) {
        let n = self.o.nodes;
        let h = self.h(i, 3);
        let (q_en, q_nl) = self.question(i);
        self.text_line(out, 4, "ask", &q_en, &q_nl);
        if h % 100 < 10 {
            self.text_line(
                out,
                4,
                "say",
                &format!("Look at the lights before you answer (step {i})."),
                &format!("Kijk naar de lampjes voordat je antwoordt (stap {i})."),
            );
        }
        if h % 100 >= 85 {
            self.text_line(
                out,
                4,
                "help",
                &format!(
                    "Agent tip for step {i}: a blinking light usually means a firmware update."
                ),
                &format!(
                    "Tip voor stap {i}: een knipperend lampje betekent meestal een firmware-update."
                ),
            );
        }
        out.push_str("    answers:\n");
        // Targets: the first answer continues, a question followed by a
        // terminal links it too, node n-3 links both final nodes.
        let mut targets: Vec<Option<usize>> = Vec::with_capacity(4);
        targets.push(Some(self.succ(i)));
        if i == n - 3 {
            targets = vec![Some(n - 2), Some(n - 1)];
        } else if self.terminal(i + 1) {
            targets.push(Some(i + 1));
        }
        let count = 2 + (h / 100 % 3) as usize; // 2..=4
        while targets.len() < count {
            let k = targets.len() as u64;
            // Some answers end the script themselves (inline resolve/escalate).
            targets.push(if self.h(i, 30 + k) % 100 < 12 {
                None
            } else {
                Some(self.ahead(i, 40 + k))
            });
        }
        let short0 = (h / 300) as usize;
        let long0 = (h / 3000) as usize;
        for (k, t) in targets.iter().enumerate() {
            let hk = self.h(i, 50 + k as u64);
            // Short form unless bilingual (a short label is one text) or drawn long.
            let long = self.o.bilingual || hk % 100 < 35 || (t.is_none() && hk.is_multiple_of(2));
            if !long {
                let (label, _) = SHORT_LABELS[(short0 + k) % SHORT_LABELS.len()];
                match t {
                    Some(t) => {
                        let _ = writeln!(out, "      - {label}: {}", self.ids[*t]);
                    }
                    None => {
                        let _ = writeln!(
                            out,
                            "      - {label}: {{ escalate: {} }}",
                            quoted(&format!("Customer answered {label} at step {i}"))
                        );
                    }
                }
                continue;
            }
            let (l_en, l_nl, light) = LONG_LABELS[(long0 + k) % LONG_LABELS.len()];
            if self.o.bilingual {
                let _ = writeln!(
                    out,
                    "      - label: {{ en: {}, nl: {} }}",
                    quoted(l_en),
                    quoted(l_nl)
                );
            } else {
                let _ = writeln!(out, "      - label: {}", quoted(l_en));
            }
            if hk.is_multiple_of(5) {
                let _ = writeln!(out, "        id: option-{}", k + 1);
            }
            match hk / 5 % 3 {
                0 => {
                    let _ = writeln!(
                        out,
                        "        set: {{ light: {light}, attempts: \"{{{{ attempts + 1 }}}}\" }}"
                    );
                }
                1 => {
                    let _ = writeln!(out, "        set: {{ light: {light} }}");
                }
                _ => {}
            }
            match t {
                Some(t) => {
                    let _ = writeln!(out, "        goto: {}", self.ids[*t]);
                }
                None if (hk / 15).is_multiple_of(2) => {
                    let key = "resolve";
                    let en = format!("Solved by answer {} at step {i}", k + 1);
                    let nl = format!("Opgelost met antwoord {} bij stap {i}", k + 1);
                    self.text_line(out, 8, key, &en, &nl);
                }
                None => {
                    let en = format!("Needs a technician after answer {} at step {i}", k + 1);
                    let nl = format!("Monteur nodig na antwoord {} bij stap {i}", k + 1);
                    self.text_line(out, 8, "escalate", &en, &nl);
                }
            }
        }
    }
}

fn pad(out: &mut String, n: usize) {
    for _ in 0..n {
        out.push(' ');
    }
}

/// A double-quoted YAML scalar.
fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// A plain scalar when the text allows it (the usual way authors write),
/// else a double-quoted one.
fn plain(s: &str) -> String {
    let risky = s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':')
        || s.starts_with(|c: char| "{[&*!|>'\"%@`#,?:-".contains(c));
    if risky { quoted(s) } else { s.to_owned() }
}
