//! The registry of lint codes: the stable codes of contract section 5, their
//! severities, and the text `fixpath lint --explain CODE` prints.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

macro_rules! codes {
    ($( $variant:ident = $code:literal, $sev:ident, $summary:literal, $explain:literal; )*) => {
        /// A stable lint code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $( $variant, )* }

        impl Code {
            pub const ALL: &'static [Code] = &[ $( Code::$variant, )* ];

            pub fn as_str(self) -> &'static str {
                match self { $( Code::$variant => $code, )* }
            }

            pub fn severity(self) -> Severity {
                match self { $( Code::$variant => Severity::$sev, )* }
            }

            /// One line: what the code reports.
            pub fn summary(self) -> &'static str {
                match self { $( Code::$variant => $summary, )* }
            }

            /// What the rule checks, why, and how to fix it.
            pub fn explanation(self) -> &'static str {
                match self { $( Code::$variant => $explain, )* }
            }

            pub fn parse(s: &str) -> Option<Code> {
                let s = s.trim().to_ascii_uppercase();
                Code::ALL.iter().copied().find(|c| c.as_str() == s)
            }
        }
    };
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

codes! {
    Fp001 = "FP001", Error, "YAML syntax error",
"## What it checks
The file must be well-formed YAML 1.2, UTF-8 encoded, with one document whose
top level is a mapping. It also guards the tool: anchors and aliases that would
expand into a huge document (an \"alias bomb\"), nesting deeper than 128 levels
and files larger than 16 MiB are refused.

## Why
Nothing else can be checked in a file that does not parse.

## How to fix
Look at the line and column given: most often an indentation slip, a tab, a
missing space after `:` or an unclosed quote or bracket.

    nodes:
      power:
        ask: Is the light on?
       answers:            # <- one space too few: FP001
";
    Fp002 = "FP002", Error, "unknown key",
"## What it checks
Every key of a script, a node, an answer and a canned reply must be one the
format knows.

## Why
A misspelled key is otherwise silently ignored: `anwsers:` would leave a
question without answers, `hepl:` would hide guidance from agents.

## How to fix
Use the key the diagnostic suggests (\"did you mean\"), or remove the key.

    power:
      ask: Is the light on?
      hepl: Check the front panel   # FP002: did you mean `help`?
";
    Fp003 = "FP003", Error, "a required key is missing, or a value has the wrong type",
"## What it checks
Required keys are present (`id`, `title` and `nodes` on a script; `into` and
`next` on an input; `next` on a say and a use; `label` and an outcome on an
answer), and every value has the type the format expects: ids match
`[a-z0-9][a-z0-9-]*`, `tier` is 1 to 4, `max_visits` a positive integer,
`pattern` a valid regular expression, `set` and `vars` map names to plain
values. Answer ids that start with `_` are reserved for the built-in answers.
A canned reply has `id`, `title` and `text`, and its `queues`, when given, is a
list of at least one queue name.

## Why
The engine must be able to run every node the way the author meant it.

## How to fix
Add the missing key or correct the value as the message says.

    serial:
      input: What is the serial number?
      into: serial                 # FP003: `next` is missing
";
    Fp004 = "FP004", Error, "duplicate id",
"## What it checks
Node ids are unique within a script, answer ids within a question (an answer's
id defaults to the slug of its default-language label, so `Yes` and `yes!`
collide), keys within any mapping, script ids across all loaded files, and
canned reply ids across the replies folder (and queues within a reply's list).

## Why
A `goto` or a test must say unambiguously which node or answer it means.

## How to fix
Rename one of the two; the diagnostic points at both.

    answers:
      - Yes: lights
      - yes: replug      # FP004: both have the id `yes`
";
    Fp005 = "FP005", Error, "a reference names a node that does not exist",
"## What it checks
Every `goto`, `next`, `start`, `else` and short-form answer target names a node
of the same script.

## Why
A session that reaches a missing node would be stranded.

## How to fix
Fix the spelling (the diagnostic suggests the closest node id) or add the node.

    - Yes: ligths        # FP005: did you mean `lights`?
";
    Fp006 = "FP006", Error, "a node has no kind key, or more than one",
"## What it checks
Every node has exactly one kind key: `ask`, `say` (alone), `input`, `branch`,
`resolve`, `escalate`, `use` or `return`. `say` next to `ask` is the question's
preamble, not a second kind.

## Why
The kind decides what the engine does at the node; two kinds would be ambiguous.

## How to fix
Split the node in two, or remove the extra key.

    done:
      resolve: Fixed
      escalate: Not fixed    # FP006: `resolve` and `escalate` in one node
";
    Fp007 = "FP007", Error, "a question has no answers",
"## What it checks
Every `ask` node has an `answers` list with at least one answer.

## Why
A question without answers cannot be answered: the person would be stuck.

## How to fix
Add the answers, or make the node a `say` with `next` if it is an instruction.
";
    Fp008 = "FP008", Error, "a text is not a valid template, or an `if:` not a valid expression",
"## What it checks
Every text is compiled as a minijinja template and every `if:` as a minijinja
expression, once, when the script is compiled.

## Why
A template that does not compile would fail in front of a customer.

## How to fix
Close every `{{`, `{%` and `(`; quote strings inside expressions.

    ask: Is the {{ device light on?     # FP008: unclosed `{{`
";
    Fp009 = "FP009", Error, "a template or expression uses a variable that is never declared or set",
"## What it checks
Every variable a text or an `if:` reads is a built-in (`channel`, `language`,
`tier`, `params`), declared under `vars`, or set by some `set` or `into` in the
script or in a script connected to it through `use` (sub-flows share variables).
A canned reply reads `reference`, `params`, `vars`, `script.title` and `agent`
and nothing else: a session's variables are `vars.NAME` there.

## Why
A misspelled variable renders as empty text or makes a branch always false,
silently sending people down the wrong path.

## How to fix
Fix the spelling (the diagnostic suggests the closest name), or declare the
variable with a default under `vars`.

    vars: { attempts: 0 }
    ...
      - if: atempts > 2      # FP009: did you mean `attempts`?
";
    Fp010 = "FP010", Error, "a `branch` without a final `else`",
"## What it checks
A `branch` is a list of `{if: EXPR, goto: NODE}` items that ends with exactly one
`{else: NODE}`, and `else` stands nowhere else.

## Why
Without `else`, a session in which no condition holds has nowhere to go.

## How to fix
End the list with `- else: NODE`.
";
    Fp011 = "FP011", Error, "`use` names a script that is not loaded",
"## What it checks
The script id in every `use` is the id of a loaded script.

## Why
The sub-flow would be missing at run time and the session would escalate.

## How to fix
Fix the id (the diagnostic suggests the closest loaded script) or lint the
folder that holds the sub-flow too.
";
    Fp012 = "FP012", Error, "a trap: nodes from which no terminal can be reached",
"## What it checks
From every node some `resolve`, `escalate` or `return` (a node or an answer)
must be reachable by following answers, `next`, `goto` and `else`.

## Why
A person who enters a trap can only go round in circles until the loop guard
escalates: a path the author never meant.

## How to fix
Give one of the trapped nodes an answer or branch that leads out, to a
resolve or an escalate.

    a: { ask: Try again?, answers: [ { Yes: b } ] }
    b: { say: Restart it, next: a }     # FP012: a and b only lead to each other
";
    Fp013 = "FP013", Error, "a text lacks one of the script's languages, or names one it does not list",
"## What it checks
With more than one language in `languages`, every text (titles, questions,
labels, help, reasons, summaries) is a mapping that gives every listed
language, and no other. A canned reply answers cases of every script, so it
gives every language the library's scripts list.

## Why
A customer who chose Dutch must never see a question in English mid-way.

## How to fix
Add the missing translation, or add the language to `languages`.

    languages: [en, nl]
    ...
      ask: { en: Is it on? }     # FP013: `nl` is missing
";
    Fp101 = "FP101", Warning, "a node that cannot be reached from `start`",
"## What it checks
Every node can be reached from the script's start node.

## Why
An unreachable node is dead text: usually a forgotten `goto` or a typo in the
start node.

## How to fix
Link to the node from an answer or `next`, or remove it.
";
    Fp102 = "FP102", Warning, "the script can never end `resolved`",
"## What it checks
Some path from `start` reaches a `resolve`. Sub-flows (scripts that end in
`return`) are exempt: their caller decides.

## Why
A script that always escalates is usually a mistake, and never solves anything
at tier 1.

## How to fix
Add the resolving path, or silence it deliberately with `--deny-warnings` off.
";
    Fp103 = "FP103", Warning, "a path from `start` asks more than 15 questions",
"## What it checks
The longest path from `start` (through sub-flows, counting each node of a loop
once) asks at most 15 questions (`ask` and `input` nodes).

## Why
People give up on long scripts; a path that long should be split or escalate
earlier.

## How to fix
Ask the most decisive question first, split the script with `use`, or escalate
sooner.
";
    Fp104 = "FP104", Warning, "a declared variable that nothing reads",
"## What it checks
Every variable under `vars` is read by some text or `if:` in the script or in a
script connected to it by `use`.

## Why
An unread variable is usually a leftover or a misspelling of the one that is read.

## How to fix
Remove the declaration, or use the variable.
";
    Fp105 = "FP105", Warning, "a cycle: a path can repeat nodes",
"## What it checks
No path revisits a node. Loops are allowed: the engine's loop guard
(`max_visits`, default 3) escalates a session that enters a node too often.

## Why
Loops ask people the same thing again; it should be a deliberate choice.

## How to fix
Count attempts with `set` and branch forward, or accept the warning.
";
    Fp106 = "FP106", Warning, "a customer-facing text uses `params.X` without a fallback",
"## What it checks
In a customer-facing script, no text shows `params.X` bare. Customer-facing
means what the customer wizard lists (a tier-1 script that is not a sub-flow,
i.e. has no `return`) and every sub-flow such a script runs with `use`. A use
is fine with a fallback (`params.X | default(\"...\")`, `params.X or \"...\"`),
inside `{% if params.X %}...{% endif %}` (or an `elif` naming it), or as the
condition of an inline `... if params.X else ...`. `help` and escalation
reasons are not checked: only staff read them, with the session's params
beside them. A canned reply's text is checked too (its title is for staff):
it is sent to the customer.

## Why
`params` are what a caller passes at session start (an agent's customer name,
a ticket reference from a portal). A customer who opens the wizard by
themselves passes none, so the text renders with a hole: \"Hello , is your
router on?\"

## How to fix
Give a fallback, or leave the words out when there is no value.

    ask: \"Hello {{ params.name }}, is the router on?\"          # FP106
    ask: \"Hello {{ params.name | default('there') }}, is the router on?\"
    ask: \"{% if params.name %}Hello {{ params.name }}! {% endif %}Is the router on?\"
";
    Fp107 = "FP107", Warning, "a text repeats a string or walks a large range inside a loop",
"## What it checks
No text repeats a string or a list with `*` inside a `{% for %}` loop (or a
macro, which a loop may call), and no loop walks a `range` of more than 1000
numbers.

## Why
A text is rendered at every step of every session. Repetition inside a loop
multiplies: `{% for c in 'x'*20000 %}{{ 'y'*1000000 }}{% endfor %}` asks
for 20 GB of text. The engine stops every render at its bounds (64 KiB of
text, 64 KiB for any value, 10000 items for a list, 250 ms) and escalates the
session with \"this step could not be shown\"; this warning finds such texts
before a customer does.

## How to fix
Write the text out, or loop over the few items you mean (a list variable,
a small `range`).

    ask: \"{% for i in range(5000) %}.{% endfor %}\"        # FP107
    ask: \"Is the {{ device }} on?\"                       # fine
";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_parse_back() {
        for c in Code::ALL {
            assert_eq!(Code::parse(c.as_str()), Some(*c));
            assert_eq!(Code::parse(&c.as_str().to_lowercase()), Some(*c));
            assert!(c.explanation().contains("## How to fix"), "{c}");
        }
        assert_eq!(Code::ALL.len(), 20);
        assert_eq!(Code::parse("FP999"), None);
        assert_eq!(Code::Fp105.severity(), Severity::Warning);
        assert_eq!(Code::Fp013.severity(), Severity::Error);
    }
}
