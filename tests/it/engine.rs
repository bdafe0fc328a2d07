//! The session engine against contract sections 2–4: every way a path ends,
//! tiers, sub-flows, `set`, inputs, back, replay and pinning.

use fixpath::compiler::compile_texts;
use fixpath::engine::{self, Channel, Ending, Reply, Session, StartOptions, Status, StepError};
use fixpath::escalation::Record;
use fixpath::program::Program;
use serde_json::json;
use time::OffsetDateTime;

fn program(files: &[(&str, &str)]) -> Program {
    let comp = compile_texts(files.iter().map(|(p, t)| (p.to_string(), t.to_string())));
    let errors: Vec<_> = comp.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    comp.program
}

fn t0() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH
}

fn start(p: &Program, id: &str, channel: Channel) -> Session {
    engine::start(p, StartOptions::new(id, channel), t0())
        .expect("starts")
        .0
}

fn say(p: &Program, s: &mut Session, a: &str) {
    engine::answer(p, s, Reply::Answer(a.into()), "ann", t0()).expect("answer accepted");
}

fn escalation(s: &Session) -> (String, String, u8, Option<String>) {
    match s.ending.as_deref() {
        Some(Ending::Escalated {
            node,
            reason,
            tier,
            queue,
            ..
        }) => (node.clone(), reason.clone(), *tier, queue.clone()),
        other => panic!("expected an escalation, got {other:?}"),
    }
}

const ROUTER: &str = r#"
id: router
title: Router has no internet
escalation: { queue: network }
vars: { device: router, attempts: 0 }
nodes:
  power:
    ask: Is the power light on the front of the {{ device }} lit?
    help: Agent-only guidance.
    answers:
      - Yes: lights
      - No: { escalate: Device does not power on }
  lights:
    ask: Which light is blinking?
    answers:
      - label: Red
        set: { light: red, attempts: "{{ attempts + 1 }}" }
        goto: check
      - label: None
        id: no-light
        resolve: Connection restored
  check:
    branch:
      - if: attempts > 2
        goto: hardware
      - else: serial
  serial:
    input: What is the serial number on the label?
    into: serial
    pattern: "^[A-Z0-9]{8}$"
    next: cycle
  cycle:
    use: power-cycle
    next: lights
  hardware:
    escalate: { tier: 3, queue: hardware, reason: "Hardware fault suspected ({{ light }} light)" }
"#;

const POWER_CYCLE: &str = r#"
id: power-cycle
title: Power cycle
vars: { cycles: 0 }
nodes:
  unplug:
    say: Unplug the {{ device }} for 30 seconds (cycle {{ cycles }}).
    next: done
  done:
    return: Power cycled
"#;

fn router() -> Program {
    program(&[("router.yaml", ROUTER), ("power-cycle.yaml", POWER_CYCLE)])
}

#[test]
fn a_resolve_is_the_only_way_to_end_resolved() {
    let p = router();
    let mut s = start(&p, "router", Channel::Agent);
    say(&p, &mut s, "Yes");
    say(&p, &mut s, "no-light");
    assert_eq!(s.status, Status::Resolved);
    assert_eq!(
        s.ending.as_deref(),
        Some(&Ending::Resolved {
            node: "lights".into(),
            text: "Connection restored".into()
        })
    );
}

#[test]
fn an_escalate_answer_uses_the_scripts_queue_and_the_next_tier() {
    let p = router();
    let mut s = start(&p, "router", Channel::Customer);
    say(&p, &mut s, "No");
    let (node, reason, tier, queue) = escalation(&s);
    assert_eq!(
        (node.as_str(), reason.as_str(), tier, queue.as_deref()),
        ("power", "Device does not power on", 2, Some("network"))
    );
}

#[test]
fn an_escalate_node_takes_its_own_tier_and_queue_and_renders_its_reason() {
    let p = router();
    let opts = StartOptions {
        vars: [("attempts".to_string(), json!(2))].into(),
        ..StartOptions::new("router", Channel::Agent)
    };
    let (mut s, _) = engine::start(&p, opts, t0()).expect("starts");
    say(&p, &mut s, "Yes");
    say(&p, &mut s, "Red");
    let (node, reason, tier, queue) = escalation(&s);
    assert_eq!(node, "hardware");
    assert_eq!(reason, "Hardware fault suspected (red light)");
    assert_eq!((tier, queue.as_deref()), (3, Some("hardware")));
    // `set` rendered `{{ attempts + 1 }}` and stored a number, not text.
    assert_eq!(s.vars["attempts"], json!(3));
}

#[test]
fn none_of_these_escalates_quoting_the_question_and_can_be_turned_off() {
    let p = router();
    let mut s = start(&p, "router", Channel::Customer);
    let step = engine::view(&p, &s).unwrap().unwrap();
    assert!(
        step.answers
            .iter()
            .any(|a| a.id == "_none" && a.label == "None of these")
    );
    say(&p, &mut s, "_none");
    let (node, reason, tier, _) = escalation(&s);
    assert_eq!(node, "power");
    assert_eq!(
        reason,
        "None of the answers fit: Is the power light on the front of the router lit?"
    );
    assert_eq!(tier, 2);

    let p = program(&[(
        "x.yaml",
        "id: x\ntitle: X\noffer_none: false\nnodes:\n  q:\n    ask: Q?\n    answers:\n      - A: done\n  done:\n    resolve: ok\n",
    )]);
    let mut s = start(&p, "x", Channel::Customer);
    let step = engine::view(&p, &s).unwrap().unwrap();
    assert!(!step.answers.iter().any(|a| a.id == "_none"));
    let err = engine::answer(&p, &mut s, Reply::Answer("_none".into()), "c", t0()).unwrap_err();
    assert!(matches!(err, StepError::UnknownAnswer { .. }));
    assert_eq!(s.status, Status::Active);
}

#[test]
fn asking_for_a_person_escalates_with_the_note_at_any_step() {
    let p = router();
    let mut s = start(&p, "router", Channel::Customer);
    say(&p, &mut s, "Yes");
    let step = engine::view(&p, &s).unwrap().unwrap();
    assert!(
        step.answers
            .iter()
            .any(|a| a.id == "_escalate" && a.label == "Talk to a person")
    );
    engine::escalate_now(
        &p,
        &mut s,
        Some("please call me back".into()),
        "customer",
        t0(),
    )
    .unwrap();
    let Some(Ending::Escalated {
        node, tier, notes, ..
    }) = s.ending.as_deref()
    else {
        panic!()
    };
    assert_eq!((node.as_str(), *tier), ("lights", 2));
    assert_eq!(notes, &vec!["please call me back".to_string()]);
    // Nothing more can happen to an ended session.
    assert_eq!(
        engine::answer(&p, &mut s, Reply::Answer("Red".into()), "c", t0()).unwrap_err(),
        StepError::Ended("escalated")
    );
}

#[test]
fn the_loop_guard_escalates_a_node_entered_too_often() {
    let p = router();
    let mut s = start(&p, "router", Channel::Agent);
    say(&p, &mut s, "Yes");
    // Red -> check -> serial -> cycle -> power-cycle -> lights, max_visits 3
    for round in 0..3 {
        assert_eq!(s.status, Status::Active, "round {round}");
        say(&p, &mut s, "Red");
        if s.status != Status::Active {
            break;
        }
        engine::answer(&p, &mut s, Reply::Value("AB12CD34".into()), "ann", t0()).unwrap();
        say(&p, &mut s, "done");
    }
    let (node, reason, _, _) = escalation(&s);
    // attempts reaches 3 on the third Red: the branch escalates to hardware
    // unless the guard fires first; either way the session never strands.
    assert!(
        node == "hardware" || reason.starts_with("Went round in a loop"),
        "{node}: {reason}"
    );

    let p = program(&[(
        "loop.yaml",
        "id: loop\ntitle: L\nmax_visits: 2\nnodes:\n  a:\n    ask: Again?\n    answers:\n      - Yes: a\n      - No: { resolve: done }\n",
    )]);
    let mut s = start(&p, "loop", Channel::Agent);
    say(&p, &mut s, "Yes");
    assert_eq!(s.status, Status::Active);
    say(&p, &mut s, "Yes");
    let (node, reason, tier, _) = escalation(&s);
    assert_eq!((node.as_str(), tier), ("a", 2));
    assert!(
        reason == "Went round in a loop (more than 2 times) at: Again?",
        "{reason}"
    );
}

#[test]
fn a_template_that_fails_at_run_time_escalates_instead_of_stranding() {
    let p = program(&[(
        "f.yaml",
        "id: f\ntitle: F\nvars: { n: 0 }\nnodes:\n  a:\n    ask: Go?\n    answers:\n      - label: Yes\n        set: { n: \"{{ n + 'x' }}\" }\n        goto: b\n  b:\n    resolve: done\n",
    )]);
    let mut s = start(&p, "f", Channel::Agent);
    say(&p, &mut s, "Yes");
    let (node, reason, tier, _) = escalation(&s);
    assert_eq!((node.as_str(), tier), ("a", 2));
    assert!(
        reason.starts_with("The script failed at: Go? ("),
        "{reason}"
    );
}

#[test]
fn tiers_count_from_the_session_and_stop_at_four() {
    let p = program(&[(
        "t.yaml",
        "id: t\ntitle: T\ntier: 4\nnodes:\n  a:\n    escalate: too hard\n",
    )]);
    let s = start(&p, "t", Channel::Agent);
    assert_eq!(escalation(&s).2, 4);
    let p = program(&[(
        "t.yaml",
        "id: t\ntitle: T\ntier: 2\nnodes:\n  a:\n    escalate: too hard\n",
    )]);
    assert_eq!(escalation(&start(&p, "t", Channel::Agent)).2, 3);
    let p = program(&[(
        "t.yaml",
        "id: t\ntitle: T\ntier: 2\nescalation: { tier: 4 }\nnodes:\n  a:\n    escalate: too hard\n",
    )]);
    assert_eq!(escalation(&start(&p, "t", Channel::Agent)).2, 4);
}

#[test]
fn sub_flows_share_variables_fill_defaults_and_return_to_next() {
    let p = router();
    let mut s = start(&p, "router", Channel::Agent);
    say(&p, &mut s, "Yes");
    say(&p, &mut s, "Red");
    let adv = engine::answer(&p, &mut s, Reply::Value("AB12CD34".into()), "ann", t0()).unwrap();
    assert_eq!(adv.entered(&p, &s), vec!["cycle", "power-cycle/unplug"]);
    let step = engine::view(&p, &s).unwrap().unwrap();
    assert_eq!(step.node, "power-cycle/unplug");
    // The sub-flow sees the caller's `device` and its own default `cycles`.
    assert_eq!(step.text, "Unplug the router for 30 seconds (cycle 0).");
    let adv = engine::answer(&p, &mut s, Reply::Answer("done".into()), "ann", t0()).unwrap();
    assert_eq!(adv.entered(&p, &s), vec!["power-cycle/done", "lights"]);
    assert_eq!(engine::view(&p, &s).unwrap().unwrap().node, "lights");
    assert_eq!(s.vars["serial"], json!("AB12CD34"));
}

#[test]
fn a_refused_input_value_is_a_clear_error_that_changes_nothing() {
    let p = router();
    let mut s = start(&p, "router", Channel::Agent);
    say(&p, &mut s, "Yes");
    say(&p, &mut s, "Red");
    let before = s.clone();
    let err = engine::answer(&p, &mut s, Reply::Value("abc".into()), "ann", t0()).unwrap_err();
    assert!(
        err.to_string().contains("does not have the expected form"),
        "{err}"
    );
    assert_eq!(s, before);
    let err = engine::answer(&p, &mut s, Reply::Value("".into()), "ann", t0()).unwrap_err();
    assert_eq!(err.to_string(), "a value is required here");
    assert_eq!(
        engine::answer(&p, &mut s, Reply::Answer("Red".into()), "ann", t0()).unwrap_err(),
        StepError::ExpectedValue
    );
    assert_eq!(s, before);
}

#[test]
fn input_types_are_checked_and_numbers_stored_as_numbers() {
    let src = "id: i\ntitle: I\nnodes:\n  n:\n    input: How many?\n    into: count\n    type: number\n    next: e\n  e:\n    input: E-mail?\n    into: mail\n    type: email\n    next: ph\n  ph:\n    input: Phone?\n    into: phone\n    type: phone\n    required: false\n    next: end\n  end:\n    resolve: \"{{ count * 2 }} {{ mail }}\"\n";
    let p = program(&[("i.yaml", src)]);
    let mut s = start(&p, "i", Channel::Api);
    let v = |s: &mut Session, x: &str| engine::answer(&p, s, Reply::Value(x.into()), "api", t0());
    assert!(v(&mut s, "three").is_err());
    v(&mut s, "3").unwrap();
    assert_eq!(s.vars["count"], json!(3));
    assert!(v(&mut s, "ann@").is_err());
    assert!(v(&mut s, "ann example.com").is_err());
    v(&mut s, "ann@example.com").unwrap();
    assert!(v(&mut s, "call me").is_err());
    v(&mut s, "").unwrap();
    assert_eq!(
        s.ending.as_deref(),
        Some(&Ending::Resolved {
            node: "end".into(),
            text: "6 ann@example.com".into()
        })
    );
}

#[test]
fn help_is_for_staff_only() {
    let p = router();
    let agent = engine::view(&p, &start(&p, "router", Channel::Agent))
        .unwrap()
        .unwrap();
    assert_eq!(agent.help.as_deref(), Some("Agent-only guidance."));
    assert_eq!(agent.answers.last().unwrap().label, "Escalate now");
    let customer = engine::view(&p, &start(&p, "router", Channel::Customer))
        .unwrap()
        .unwrap();
    assert_eq!(customer.help, None);
}

const MULTI: &str = r#"
id: multi
title: { en: Printer, nl: Printer, de: Drucker }
languages: [en, nl, de]
nodes:
  q:
    ask: { en: "Is it on?", nl: "Staat hij aan?", de: "Ist er an?" }
    answers:
      - label: { en: "Yes", nl: "Ja", de: "Ja" }
        resolve: { en: "Good", nl: "Mooi", de: "Gut" }
      - label: { en: "No", nl: "Nee", de: "Nein" }
        escalate: { reason: { en: "Off", nl: "Uit", de: "Aus" } }
"#;

#[test]
fn steps_render_in_the_session_language_and_accept_its_labels() {
    let p = program(&[("m.yaml", MULTI)]);
    let opts = StartOptions {
        language: Some("nl".into()),
        ..StartOptions::new("multi", Channel::Customer)
    };
    let (mut s, _) = engine::start(&p, opts, t0()).unwrap();
    let step = engine::view(&p, &s).unwrap().unwrap();
    assert_eq!(step.text, "Staat hij aan?");
    assert_eq!(step.answers[0].label, "Ja");
    assert_eq!(step.answers[0].id, "yes");
    assert_eq!(step.answers[2].label, "Geen van deze");
    say(&p, &mut s, "nee");
    assert_eq!(escalation(&s).1, "Uit");

    let opts = StartOptions {
        language: Some("fr".into()),
        ..StartOptions::new("multi", Channel::Customer)
    };
    let err = engine::start(&p, opts, t0()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "script `multi` has no `fr` texts; it speaks en, nl, de"
    );
}

#[test]
fn going_back_keeps_the_retracted_answer_and_restores_the_variables() {
    let p = router();
    let mut s = start(&p, "router", Channel::Agent);
    say(&p, &mut s, "Yes");
    say(&p, &mut s, "Red");
    assert_eq!(s.vars["attempts"], json!(1));
    let seq = s.seq;
    engine::back(&p, &mut s, "ann", t0()).unwrap();
    assert_eq!(s.vars["attempts"], json!(0));
    assert!(!s.vars.contains_key("light"));
    assert!(s.seq > seq);
    assert_eq!(engine::view(&p, &s).unwrap().unwrap().node, "lights");
    assert_eq!(s.trail.len(), 2);
    assert!(s.trail[1].retracted());
    say(&p, &mut s, "no-light");
    assert_eq!(s.status, Status::Resolved);
    let kept: Vec<_> = s
        .trail
        .iter()
        .map(|e| {
            (
                e.node().as_str(),
                e.answer().map(|a| a.id.as_str()),
                e.retracted(),
            )
        })
        .collect();
    assert_eq!(
        kept,
        vec![
            ("power", Some("yes"), false),
            ("lights", Some("red"), true),
            ("lights", Some("no-light"), false),
            ("lights", None, false)
        ]
    );
    let mut fresh = start(&p, "router", Channel::Agent);
    assert_eq!(
        engine::back(&p, &mut fresh, "ann", t0()).unwrap_err(),
        StepError::NothingToGoBack
    );
}

#[test]
fn a_stored_session_replays_to_the_same_state() {
    let p = router();
    let mut s = start(&p, "router", Channel::Agent);
    say(&p, &mut s, "Yes");
    say(&p, &mut s, "Red");
    engine::back(&p, &mut s, "ann", t0()).unwrap();
    say(&p, &mut s, "Red");
    engine::answer(&p, &mut s, Reply::Value("AB12CD34".into()), "ann", t0()).unwrap();
    let stored = serde_json::to_string(&s).unwrap();
    let loaded: Session = serde_json::from_str(&stored).unwrap();
    assert_eq!(loaded, s);
    assert_eq!(engine::replay(&p, &loaded).unwrap(), s);
}

#[test]
fn steps_and_trails_share_the_programs_texts_instead_of_copying_them() {
    let p = router();
    let mut s = start(&p, "router", Channel::Agent);
    say(&p, &mut s, "Yes");
    let a = engine::view(&p, &s).unwrap().expect("a step");
    let b = engine::view(&p, &s).unwrap().expect("a step");
    assert_eq!(a.text, "Which light is blinking?");
    // The same string, not two equal copies: a literal text, node name and
    // answer id are handed out by reference count.
    assert!(engine::Text::ptr_eq(&a.text, &b.text));
    assert!(engine::Text::ptr_eq(&a.node, &b.node));
    assert!(engine::Text::ptr_eq(&a.answers[0].id, &b.answers[0].id));
    // `lights` shows only literals: every agent session shares one answer
    // list; a customer's differs (its `_escalate` is worded for them).
    let mut c = start(&p, "router", Channel::Customer);
    say(&p, &mut c, "Yes");
    let cv = engine::view(&p, &c).unwrap().expect("a step");
    assert!(std::sync::Arc::ptr_eq(&a.answers, &b.answers));
    assert!(!std::sync::Arc::ptr_eq(&a.answers, &cv.answers));
    assert_eq!(a.answers.last().unwrap().label, "Escalate now");
    assert_eq!(cv.answers.last().unwrap().label, "Talk to a person");
    assert_eq!(cv.help, None);
    say(&p, &mut s, "Red");
    let e = &s.trail[1];
    assert_eq!(
        (e.node().as_str(), e.text().as_str()),
        ("lights", "Which light is blinking?")
    );
    assert!(engine::Text::ptr_eq(e.text(), &a.text));
    assert!(
        engine::Text::ptr_eq(e.actor(), s.trail[0].actor()),
        "one actor string per session"
    );
    assert_eq!(e.set()["light"], json!("red"));
    assert_eq!(e.set()["attempts"], json!(1));
}

#[test]
fn the_usual_answer_shares_one_trail_head_across_sessions() {
    let p = router();
    let mut a = start(&p, "router", Channel::Agent);
    let mut b = start(&p, "router", Channel::Customer);
    for s in [&mut a, &mut b] {
        say(&p, s, "Yes");
        say(&p, s, "Red");
    }
    // `power` renders `{{ device }}`: each session has its own head, and
    // the text is the one shown.
    assert_eq!(
        a.trail[0].text(),
        "Is the power light on the front of the router lit?"
    );
    assert!(!std::sync::Arc::ptr_eq(
        a.trail[0].head(),
        b.trail[0].head()
    ));
    // `lights` is all literal but Red sets `{{ attempts + 1 }}`: its own too.
    assert!(!std::sync::Arc::ptr_eq(
        a.trail[1].head(),
        b.trail[1].head()
    ));
    assert_eq!(a.trail[1].set()["attempts"], json!(1));

    let p = program(&[(
        "lit.yaml",
        "id: lit\ntitle: L\nnodes:\n  q:\n    ask: Plugged in?\n    answers:\n      - label: Yes\n        set: { plugged: true }\n        goto: s\n      - No: { resolve: done }\n  s:\n    say: Wait a minute.\n    next: r\n  r:\n    ask: Better?\n    answers:\n      - Yes: { resolve: fixed }\n      - No: { escalate: still broken }\n",
    )]);
    let walk = |who: &str| {
        let mut s = start(&p, "lit", Channel::Customer);
        for a in ["Yes", "done", "No"] {
            engine::answer(&p, &mut s, Reply::Answer(a.into()), who, t0()).expect("accepted");
        }
        s
    };
    let (a, b) = (walk("customer"), walk("someone else"));
    for i in 0..3 {
        // One head in the program for this answer, however many sessions.
        assert!(
            std::sync::Arc::ptr_eq(a.trail[i].head(), b.trail[i].head()),
            "entry {i}"
        );
    }
    assert_eq!(a.trail[0].set()["plugged"], json!(true));
    assert_eq!(a.vars["plugged"], json!(true));
    assert_eq!(b.trail[0].actor(), "someone else");
    // The ending is the session's own.
    assert_eq!(a.trail[3].kind(), "escalate");
    assert!(!std::sync::Arc::ptr_eq(
        a.trail[3].head(),
        b.trail[3].head()
    ));
    // Shared or not, the trail reads back from JSON to the same entries.
    let json = serde_json::to_string(&a).unwrap();
    let back: Session = serde_json::from_str(&json).unwrap();
    assert_eq!(back, a);
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    assert_eq!(engine::replay(&p, &back).unwrap(), a);
}

#[test]
fn only_nodes_that_can_come_round_again_are_counted() {
    // An acyclic script: no node can be entered twice, nothing is counted.
    let p = program(&[(
        "dag.yaml",
        "id: dag\ntitle: D\nnodes:\n  a:\n    ask: A?\n    answers:\n      - Yes: b\n      - No: b\n  b:\n    say: B.\n    next: c\n  c:\n    resolve: done\n",
    )]);
    let mut s = start(&p, "dag", Channel::Agent);
    say(&p, &mut s, "Yes");
    say(&p, &mut s, "done");
    assert_eq!(s.status, Status::Resolved);
    assert!(s.visits.is_empty(), "{:?}", s.visits);

    // Two scripts that `use` each other without returning: no node is on a
    // cycle of its own script, yet the run would never end. The `use`
    // nodes are counted, so the guard ends it.
    let p = program(&[
        (
            "ping.yaml",
            "id: ping\ntitle: P\nmax_visits: 2\nnodes:\n  go:\n    say: Ping.\n    next: over\n  over:\n    use: pong\n    next: done\n  done:\n    resolve: done\n",
        ),
        (
            "pong.yaml",
            "id: pong\ntitle: Q\nmax_visits: 2\nnodes:\n  back:\n    use: ping\n    next: end\n  end:\n    resolve: done\n",
        ),
    ]);
    let mut s = start(&p, "ping", Channel::Agent);
    for round in 0..10 {
        if s.status != Status::Active {
            break;
        }
        assert!(round < 5, "the guard never fired");
        say(&p, &mut s, "done");
    }
    let (_, reason, _, _) = escalation(&s);
    assert!(reason.starts_with("Went round in a loop"), "{reason}");
}

#[test]
fn each_template_sees_the_names_it_reads_as_the_whole_context_has_them() {
    // Every render gets a context of only the names it reads; what it sees
    // must be what the whole context shows: variables, `params`, the
    // built-ins, a variable not set yet as empty, and a statement template
    // (given everything).
    let p = program(&[(
        "ctx.yaml",
        r#"
id: ctx
title: Context
vars: { device: router, count: 2, ratio: 0.5, ok: true, nothing: null }
nodes:
  show:
    ask: "{{ device }}/{{ count + 1 }}/{{ ratio }}/{{ ok }}/{{ nothing }}/{{ params.customer }}/{{ channel }}/{{ language }}/{{ tier }}/[{{ later }}]"
    answers:
      - label: "{% for k in ['a', 'b'] %}{{ k }}{{ count }}{% endfor %} {% if ok %}{{ device }}{% endif %}"
        id: go
        set: { count: "{{ count * 10 }}", later: x }
        goto: check
  check:
    branch:
      - if: count == 20 and channel == "agent" and params.customer == "Ann"
        goto: done
      - else: wrong
  done:
    resolve: "{{ count }}"
  wrong:
    escalate: wrong branch
"#,
    )]);
    let mut opts = StartOptions::new("ctx", Channel::Agent);
    opts.params.insert("customer".into(), json!("Ann"));
    let (mut s, _) = engine::start(&p, opts, t0()).unwrap();
    let step = engine::view(&p, &s).unwrap().expect("a step");
    assert_eq!(step.text, "router/3/0.5/True/None/Ann/agent/en/1/[]");
    assert_eq!(step.answers[0].label, "a2b2 router");
    say(&p, &mut s, "go");
    assert_eq!(s.vars["count"], json!(20));
    match s.ending.as_deref() {
        Some(Ending::Resolved { text, .. }) => assert_eq!(text, "20"),
        other => panic!("expected the resolve, got {other:?}"),
    }
}

#[test]
fn a_session_refuses_a_program_that_changed_its_pinned_script() {
    let p = router();
    let mut s = start(&p, "router", Channel::Agent);
    let edited = program(&[
        ("router.yaml", &ROUTER.replace("Which light", "Which lamp")),
        ("power-cycle.yaml", POWER_CYCLE),
    ]);
    let err =
        engine::answer(&edited, &mut s, Reply::Answer("Yes".into()), "ann", t0()).unwrap_err();
    assert!(matches!(err, StepError::VersionMismatch { .. }), "{err}");
    // Sub-flows are pinned too.
    let edited = program(&[
        ("router.yaml", ROUTER),
        (
            "power-cycle.yaml",
            &POWER_CYCLE.replace("30 seconds", "a minute"),
        ),
    ]);
    assert!(matches!(
        engine::view(&edited, &s).unwrap_err(),
        StepError::VersionMismatch { .. }
    ));
    assert_eq!(
        s.pins.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        vec!["router", "power-cycle"]
    );
}

fn redact(mut v: serde_json::Value) -> serde_json::Value {
    fn walk(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    if k == "at" || k == "created_at" || k == "started_at" {
                        *x = json!("[time]");
                    } else if k == "version" {
                        *x = json!("[version]");
                    } else {
                        walk(x);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

#[test]
fn the_escalation_record_as_json_and_as_ticket_text() {
    let p = router();
    let opts = StartOptions {
        params: [("customer".to_string(), json!("Ann <b>de Vries</b>"))].into(),
        ..StartOptions::new("router", Channel::Customer)
    };
    let (mut s, _) = engine::start(&p, opts, t0()).unwrap();
    say(&p, &mut s, "Yes");
    say(&p, &mut s, "Red");
    engine::back(&p, &mut s, "customer", t0()).unwrap();
    say(&p, &mut s, "Red");
    engine::answer(
        &p,
        &mut s,
        Reply::Value("AB12CD34".into()),
        "customer",
        t0(),
    )
    .unwrap();
    // Through the sub-flow and back: its `return` summary closes it.
    engine::answer(&p, &mut s, Reply::Answer("done".into()), "customer", t0()).unwrap();
    engine::escalate_now(
        &p,
        &mut s,
        Some("It still blinks red".into()),
        "customer",
        t0(),
    )
    .unwrap();
    let r = Record::from_session(&p, &s, "esc-1", "ses-1", t0()).expect("escalated");
    insta::assert_json_snapshot!("record", redact(serde_json::to_value(&r).unwrap()));
    let text = r.to_text().unwrap();
    let text = text.replace(&r.script.version, "[version]");
    insta::assert_snapshot!("record_text", text);
    assert!(
        Record::from_session(&p, &start(&p, "router", Channel::Agent), "x", "y", t0()).is_none()
    );
}

/// Three languages, so a reason can be read in each.
const LAMP: &str = r#"
id: lamp
title: { en: Lamp, de: Lampe, ru: Лампа }
languages: [en, de, ru]
max_visits: 1
nodes:
  toggle:
    ask: { en: "Is the lamp switched on?", de: "Ist die Lampe eingeschaltet?", ru: "Лампа включена?" }
    answers:
      - label: { en: Yes, de: Ja, ru: Да }
        goto: toggle
      - label: { en: No, de: Nein, ru: Нет }
        resolve: { en: Switched on, de: Eingeschaltet, ru: Включено }
"#;

fn lamp(language: &str, channel: Channel) -> (Program, Session) {
    let p = program(&[("lamp.yaml", LAMP)]);
    let opts = StartOptions {
        language: Some(language.into()),
        ..StartOptions::new("lamp", channel)
    };
    let s = engine::start(&p, opts, t0()).unwrap().0;
    (p, s)
}

#[test]
fn the_engines_reasons_are_in_the_sessions_language_and_quote_the_question() {
    // "Talk to a person" in German: the question as shown, no node id.
    let (p, mut s) = lamp("de", Channel::Customer);
    engine::escalate_now(&p, &mut s, None, "customer", t0()).unwrap();
    let (node, reason, _, _) = escalation(&s);
    assert_eq!(
        node, "toggle",
        "the node id stays in the record's node field"
    );
    assert_eq!(
        reason,
        "Hat um eine Ansprechperson gebeten bei: Ist die Lampe eingeschaltet?"
    );
    // The trail's closing entry says the same.
    assert_eq!(s.trail.last().unwrap().text().as_str(), reason);

    // "None of these" in Russian.
    let (p, mut s) = lamp("ru", Channel::Customer);
    say(&p, &mut s, "_none");
    let (_, reason, _, _) = escalation(&s);
    assert_eq!(
        reason,
        "Ни один ответ не подошёл к вопросу: Лампа включена?"
    );

    // An agent's "Escalate now", in English, names the agent.
    let (p, mut s) = lamp("en", Channel::Agent);
    engine::escalate_now(&p, &mut s, None, "Mia", t0()).unwrap();
    let (_, reason, _, _) = escalation(&s);
    assert_eq!(reason, "Mia escalated at: Is the lamp switched on?");

    // The loop guard in Russian: the plural after «более» (1 раза).
    let (p, mut s) = lamp("ru", Channel::Agent);
    say(&p, &mut s, "Да");
    let (_, reason, _, _) = escalation(&s);
    assert_eq!(
        reason,
        "Сценарий зациклился (более 1 раза) на шаге: Лампа включена?"
    );
}

#[test]
fn none_of_these_with_a_note_keeps_the_note() {
    let (p, mut s) = lamp("en", Channel::Customer);
    engine::none_fits(&p, &mut s, Some("It flickers".into()), "customer", t0()).unwrap();
    match s.ending.as_deref() {
        Some(Ending::Escalated { reason, notes, .. }) => {
            assert_eq!(reason, "None of the answers fit: Is the lamp switched on?");
            assert_eq!(notes, &vec!["It flickers".to_string()]);
        }
        other => panic!("expected an escalation, got {other:?}"),
    }
    let asked = &s.trail[0];
    assert_eq!(asked.answer().unwrap().id.as_str(), "_none");
    assert_eq!(asked.note().map(|n| n.as_str()), Some("It flickers"));
}

#[test]
fn a_sub_flows_return_summary_closes_it_in_the_trail() {
    let p = router();
    let mut s = start(&p, "router", Channel::Agent);
    say(&p, &mut s, "Yes");
    say(&p, &mut s, "Red");
    engine::answer(&p, &mut s, Reply::Value("AB12CD34".into()), "ann", t0()).unwrap();
    say(&p, &mut s, "done");
    let last = s.trail.last().unwrap();
    assert_eq!(
        (
            last.node().as_str(),
            last.kind().as_str(),
            last.text().as_str()
        ),
        ("power-cycle/done", "return", "Power cycled")
    );
    assert_eq!(last.actor().as_str(), "system");
    // Back past it: the person's own last answer is retracted, not the summary.
    engine::back(&p, &mut s, "ann", t0()).unwrap();
    assert!(
        s.trail
            .iter()
            .any(|e| e.retracted() && e.kind().as_str() == "say")
    );
}

/// The template of issue 12: it lints clean, and used to take a minute and
/// gigabytes to render.
const HOSTILE: &str = "{% for c in 'x'*20000 %}{{ 'y'*1000000 }}{% endfor %}";

#[test]
fn a_text_over_the_render_bounds_escalates_in_the_sessions_language() {
    let p = program(&[(
        "h.yaml",
        &format!(
            "id: h\ntitle: {{ en: H, de: H }}\nlanguages: [en, de]\nnodes:\n  a:\n    ask: {{ en: \"{HOSTILE}\", de: \"{HOSTILE}\" }}\n    answers:\n      - label: {{ en: Yes, de: Ja }}\n        resolve: {{ en: done, de: fertig }}\n"
        ),
    )]);
    for (lang, want) in [
        ("en", "This step could not be shown"),
        ("de", "Dieser Schritt konnte nicht angezeigt werden"),
    ] {
        let started = std::time::Instant::now();
        let mut opts = StartOptions::new("h", Channel::Customer);
        opts.language = Some(lang.into());
        let s = engine::start(&p, opts, t0()).expect("starts").0;
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "took {:?}",
            started.elapsed()
        );
        let (node, reason, tier, _) = escalation(&s);
        assert_eq!((node.as_str(), tier), ("a", 2));
        assert!(reason.starts_with(want), "{lang}: {reason}");
    }
}
