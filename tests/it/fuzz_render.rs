//! Fuzzing the template renderer (issue 18): hostile texts that the linter
//! lets through (nested loops over large ranges, strings and lists
//! multiplied and joined, growing filters, macros that call themselves,
//! captured blocks) in the places a script renders them: a question, a
//! `set` value, an instruction and an escalation's reason.
//!
//! What must hold: no panic; every move of the session answers within
//! [`fuzz::CASE_BUDGET`] (a render has a 250 ms deadline; a move renders
//! a few texts); nothing shown or recorded is longer than the render's
//! output bound; a text that hits a bound escalates the session with a
//! reason instead of stranding it.
//!
//! Default: a fixed seed and few cases; run long with `FIXPATH_FUZZ_CASES`
//! and `PROPTEST_RNG_SEED` (docs/fuzzing.md).

use crate::common::fuzz;
use fixpath::compiler::compile_texts;
use fixpath::engine::{self, Channel, Reply, Session, StartOptions, Status};
use fixpath::program::Program;
use fixpath::program::bounds::MAX_OUTPUT;
use proptest::prelude::*;
use std::time::Instant;
use time::OffsetDateTime;

/// Numbers around the bounds: a range of 10,000 items is the most a render
/// may make, a string of 64 KiB the longest.
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "-1",
    "9",
    "99",
    "999",
    "1000",
    "9999",
    "10000",
    "10001",
    "65536",
    "100000",
    "1000000",
    "9999999999",
    "count",
];

/// An expression of a type, `depth` operations deep at most: typed, so
/// that most of them run (a type error ends a render at once) and reach the
/// operations that grow a value.
#[derive(Clone, Copy)]
enum Ty {
    Int,
    Str,
    List,
}

fn typed(ty: Ty, depth: u32) -> BoxedStrategy<String> {
    let leaf: BoxedStrategy<String> = match ty {
        Ty::Int => prop::sample::select(NUMBERS)
            .prop_map(str::to_owned)
            .boxed(),
        Ty::Str => prop::sample::select(&["'x'", "'ab'", "word", "'é'", "''", "'a b c'"][..])
            .prop_map(str::to_owned)
            .boxed(),
        Ty::List => prop::sample::select(&["[1, 2, 3]", "[]", "['a', 'b']", "range(count)"][..])
            .prop_map(str::to_owned)
            .boxed(),
    };
    if depth == 0 {
        return leaf;
    }
    let (i, st, l) = (
        typed(Ty::Int, depth - 1),
        typed(Ty::Str, depth - 1),
        typed(Ty::List, depth - 1),
    );
    let grown: BoxedStrategy<String> = match ty {
        Ty::Int => prop_oneof![
            (i.clone(), i.clone()).prop_map(|(a, b)| format!("({a} + {b})")),
            (i.clone(), i).prop_map(|(a, b)| format!("({a} * {b})")),
            l.clone().prop_map(|x| format!("({x} | length)")),
            l.prop_map(|x| format!("({x} | list | sum)")),
            st.prop_map(|x| format!("({x} | length)")),
        ]
        .boxed(),
        Ty::Str => prop_oneof![
            (st.clone(), i.clone()).prop_map(|(a, b)| format!("({a} * {b})")),
            (st.clone(), st.clone()).prop_map(|(a, b)| format!("({a} ~ {b})")),
            (st.clone(), st.clone()).prop_map(|(a, b)| format!("({a} + {b})")),
            l.clone().prop_map(|x| format!("({x} | join)")),
            (l.clone(), st.clone()).prop_map(|(x, sep)| format!("({x} | join({sep}))")),
            st.clone()
                .prop_map(|x| format!("({x} | replace('a', 'aaaaaaaa'))")),
            st.clone()
                .prop_map(|x| format!("({x} | replace('', 'xx'))")),
            st.clone().prop_map(|x| format!("({x} | indent(200))")),
            st.clone()
                .prop_map(|x| format!("({x} | upper | title | trim)")),
            l.clone().prop_map(|x| format!("({x} | tojson)")),
            l.prop_map(|x| format!("({x} | string)")),
            i.prop_map(|x| format!("({x} | string)")),
            st.prop_map(|x| format!("'%s%s' | format({x}, {x})")),
        ]
        .boxed(),
        Ty::List => prop_oneof![
            i.clone().prop_map(|x| format!("range({x})")),
            (l.clone(), i.clone()).prop_map(|(a, b)| format!("({a} * {b})")),
            (l.clone(), l.clone()).prop_map(|(a, b)| format!("({a} + {b})")),
            (i.clone(), st.clone()).prop_map(|(a, b)| format!("[{a}, {b}]")),
            l.clone()
                .prop_map(|x| format!("({x} | sort(reverse=true))")),
            l.clone().prop_map(|x| format!("({x} | unique | list)")),
            l.clone().prop_map(|x| format!("({x} | batch(3) | list)")),
            l.clone().prop_map(|x| format!("({x} | reverse | list)")),
            l.prop_map(|x| format!("({x} | map('string') | list)")),
            st.prop_map(|x| format!("({x} | list)")),
            i.prop_map(|x| format!("[{x}] * {x}")),
        ]
        .boxed(),
    };
    prop_oneof![1 => leaf, 3 => grown].boxed()
}

fn expr() -> impl Strategy<Value = String> {
    prop_oneof![typed(Ty::Int, 3), typed(Ty::Str, 3), typed(Ty::List, 3),]
}

/// A text: shown values, loops, conditions, captured blocks and macros.
fn text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        3 => expr().prop_map(|e| format!("{{{{ {e} }}}}")),
        1 => Just("Plain words. ".to_string()),
        1 => Just("{{ count }} ".to_string()),
    ];
    leaf.prop_recursive(3, 16, 3, |inner| {
        prop_oneof![
            4 => (typed(Ty::List, 3), inner.clone())
                .prop_map(|(e, body)| format!("{{% for loop_var in {e} %}}{body}{{% endfor %}}")),
            2 => (expr(), inner.clone(), inner.clone())
                .prop_map(|(e, a, b)| format!("{{% if {e} %}}{a}{{% else %}}{b}{{% endif %}}")),
            2 => (expr(), inner.clone())
                .prop_map(|(e, body)| format!("{{% set loop_var = {e} %}}{body}")),
            1 => inner.clone().prop_map(|body| {
                format!("{{% set captured %}}{body}{body}{{% endset %}}{{{{ captured }}}}{{{{ captured }}}}")
            }),
            1 => (inner.clone(), prop::sample::select(NUMBERS)).prop_map(|(body, n)| {
                // A macro that calls itself as deep as `n` says.
                format!(
                    "{{% macro m(n) %}}{body}{{% if n > 0 %}}{{{{ m(n - 1) }}}}{{{{ m(n - 1) }}}}{{% endif %}}{{% endmacro %}}{{{{ m({n}) }}}}"
                )
            }),
            2 => (inner.clone(), inner).prop_map(|(a, b)| format!("{a}{b}")),
        ]
    })
}

/// A script that renders the four texts in a question, a `set` value, an
/// instruction and an escalation's reason, in that order.
fn script(ask: &str, set: &str, say: &str, reason: &str) -> String {
    // Block scalars: a text holds every character a template may hold.
    format!(
        "id: hostile\ntitle: Hostile\nvars: {{ count: 3, word: ab, loop_var: 0 }}\nnodes:\n  \
         first:\n    ask: |-\n      {ask}\n    answers:\n      - label: Go\n        id: go\n        \
         set:\n          word: |-\n            {set}\n        goto: second\n      - label: Stop\n        \
         id: stop\n        resolve: Done\n  second:\n    say: |-\n      {say}\n    next: last\n  \
         last:\n    escalate:\n      reason: |-\n        {reason}\n"
    )
}

/// Did the session end because a text hit a render bound (the engine's
/// "could not be shown", or a failure that names the bound)?
fn stopped_by_a_bound(s: &Session) -> bool {
    matches!(
        s.ending.as_deref(),
        Some(engine::Ending::Escalated { reason, .. })
            if reason.contains("could not be shown") || reason.contains("render bound exceeded")
    )
}

fn t0() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH
}

/// What a session shows and keeps stays within the output bound, and an
/// ended session has its reason.
fn check(p: &Program, s: &Session) -> Result<(), TestCaseError> {
    if let Some(step) = engine::view(p, s).map_err(|e| TestCaseError::fail(e.to_string()))? {
        prop_assert!(
            step.text.len() <= MAX_OUTPUT,
            "a step of {} bytes",
            step.text.len()
        );
        for a in step.answers.iter() {
            prop_assert!(a.label.len() <= MAX_OUTPUT);
        }
    }
    for e in &s.trail {
        prop_assert!(
            e.text().len() <= MAX_OUTPUT,
            "a trail text of {} bytes",
            e.text().len()
        );
    }
    for (_, v) in s.vars.iter() {
        let size = v.to_string().len();
        prop_assert!(size <= 2 * MAX_OUTPUT + 2, "a variable of {size} bytes");
    }
    if s.status == Status::Escalated {
        let Some(engine::Ending::Escalated { reason, .. }) = s.ending.as_deref() else {
            return Err(TestCaseError::fail("escalated without an ending"));
        };
        prop_assert!(!reason.is_empty(), "an escalation without a reason");
        prop_assert!(reason.len() <= MAX_OUTPUT);
    }
    Ok(())
}

proptest! {
    #![proptest_config(fuzz::config(96))]

    #[test]
    fn hostile_texts_render_within_bounds(
        ask in text(),
        set in text(),
        say in text(),
        reason in text(),
        channel in prop_oneof![Just(Channel::Customer), Just(Channel::Agent)],
    ) {
        let yaml = script(&ask, &set, &say, &reason);
        let _watch = fuzz::watch(&yaml);
        let started = Instant::now();
        let comp = compile_texts([("hostile.yaml", yaml.as_str())]);
        prop_assert!(
            started.elapsed() < fuzz::CASE_BUDGET,
            "compiling took {:?}",
            started.elapsed()
        );
        // Only what the linter lets through runs; warnings (FP107, a
        // costly loop) do not stop a script.
        prop_assume!(comp.errors() == 0);
        let p = comp.program;
        let timed = |what: &str, started: Instant| -> Result<(), TestCaseError> {
            prop_assert!(
                started.elapsed() < fuzz::CASE_BUDGET,
                "{what} took {:?}\n{yaml}",
                started.elapsed()
            );
            Ok(())
        };
        let started = Instant::now();
        let (mut s, _) = engine::start(&p, StartOptions::new("hostile", channel), t0())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        timed("start", started)?;
        check(&p, &s)?;
        for answer in ["go", "done"] {
            if s.status != Status::Active {
                break;
            }
            let started = Instant::now();
            let _ = engine::view(&p, &s);
            timed("view", started)?;
            let started = Instant::now();
            // An answer may be refused (the text failed to render and the
            // session ended); it must not panic or hang.
            let _ = engine::answer(&p, &mut s, Reply::Answer(answer.into()), "fuzz", t0());
            timed(answer, started)?;
            check(&p, &s)?;
        }
        let started = Instant::now();
        let replayed = engine::replay(&p, &s).map_err(|e| TestCaseError::fail(e.to_string()))?;
        timed("replay", started)?;
        // A render stopped by its deadline is the one outcome that depends
        // on the machine rather than the text: on a busy machine the replay
        // may stop where the live run finished, or the other way round
        // (a long run found a case that fails on a recursion limit when
        // fast and on the deadline when slow). Anything else replays alike.
        if replayed != s {
            prop_assert!(
                stopped_by_a_bound(&replayed) || stopped_by_a_bound(&s),
                "the session replays to another:\n{replayed:?}\n{s:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Findings, kept as regression tests
// ---------------------------------------------------------------------------

/// Found by `hostile_texts_render_within_bounds`: a reason that rendered
/// to nothing (here a loop over an empty list) escalated with an empty
/// reason, a blank line for the specialist; the engine now writes its own.
#[test]
fn a_reason_that_renders_empty_gets_the_engines_words() {
    let yaml = script(
        "Is it on?",
        "ab",
        "Plug it in.",
        "{% for loop_var in [] %}{{ loop_var }}{% endfor %}",
    );
    let comp = compile_texts([("hostile.yaml", yaml.as_str())]);
    assert_eq!(comp.errors(), 0);
    let p = comp.program;
    let (mut s, _) =
        engine::start(&p, StartOptions::new("hostile", Channel::Customer), t0()).unwrap();
    for a in ["go", "done"] {
        engine::answer(&p, &mut s, Reply::Answer(a.into()), "fuzz", t0()).unwrap();
    }
    let Some(engine::Ending::Escalated { reason, .. }) = s.ending.as_deref() else {
        panic!("escalated: {:?}", s.ending);
    };
    assert_eq!(reason, "Handed over by the script after: Plug it in.");
    assert_eq!(engine::replay(&p, &s).unwrap(), s);
}

/// Found by `hostile_texts_render_within_bounds` (a long run hung): an
/// empty list repeated ten billion times passed the size check (0 items ×
/// n = 0), and minijinja's lazy repeat then stepped through every one of
/// the n empty rounds, for hours, where no deadline is checked.
#[test]
fn an_empty_list_repeated_without_end_is_refused() {
    for text in [
        "{{ [] * 9999999999 }}",
        "{{ (range(0) * 9999999999) | length }}",
        "{% for i in [] * 9999999999 %}{{ i }}{% endfor %}",
    ] {
        let yaml = script(text, "ab", "Plug it in.", "Why");
        let comp = compile_texts([("hostile.yaml", yaml.as_str())]);
        assert_eq!(comp.errors(), 0, "{text}");
        let p = comp.program;
        // On a thread: without the bound this does not end, and the test
        // must fail rather than hang.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let r = engine::start(&p, StartOptions::new("hostile", Channel::Agent), t0())
                .map(|(s, _)| s.status);
            let _ = tx.send(r);
        });
        let status = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .unwrap_or_else(|_| panic!("{text} still renders after 10 s"))
            .unwrap();
        assert_eq!(status, Status::Escalated, "{text}");
    }
}
