//! What one render of a script's text may cost.
//!
//! minijinja's fuel counts instructions, not what an instruction makes: one
//! `'y' * 1000000` is a single instruction and a megabyte. So every text is
//! rewritten once, when it is compiled, to route everything that can make a
//! large value or repeat work through the checks here:
//!
//! - `a * b`, `a + b` and `a ~ b` become calls that check the size of the
//!   result before it is made (no string over [`MAX_VALUE`] bytes, no list
//!   over [`MAX_ITEMS`] items);
//! - `{{ x }}` counts what it shows, so text captured by `{% set %}` blocks
//!   and macros is bounded too, and every loop counts its literal text per
//!   round and checks the clock;
//! - `range` and the filters that can grow a value (`join`, `replace`,
//!   `indent`, `format`, `batch`, …) are replaced by checked versions.
//!
//! A render runs under a [`Guard`]: a deadline ([`DEADLINE`]) and a budget of
//! bytes made in all ([`BUDGET`]), kept per thread. Its output goes to a
//! writer that stops past [`MAX_OUTPUT`] bytes. The first bound hit ends the
//! render with an error that [`exceeded`] recognises.
//!
//! The checked operations and filters are in `checks`, the rewriting of a
//! text's source in `rewrite`, and the FP107 scan for costly loops in `scan`.

mod checks;
mod rewrite;
mod scan;

pub use checks::{install, is_internal};
pub use rewrite::{rewrite_expression, rewrite_template};
pub use scan::{LARGE_RANGE, costly_in_loop};

use minijinja::{Error, ErrorKind};
use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant};

/// The longest text one render may show.
pub const MAX_OUTPUT: usize = 64 * 1024;
/// The largest string a render may make (or show at once).
pub const MAX_VALUE: usize = 64 * 1024;
/// The longest list a render may make (`range`, `*`, `+`, `batch`, …).
pub const MAX_ITEMS: usize = 10_000;
/// The bytes one render may make in all: values, shown text, loop rounds.
pub const BUDGET: usize = 1024 * 1024;
/// How long one render may take. A real text takes microseconds.
pub const DEADLINE: Duration = Duration::from_millis(250);

/// Which bound a render hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exceeded {
    Time,
    Output,
    Value,
    Items,
    Budget,
}

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exceeded::Time => write!(f, "the text took longer than {} ms", DEADLINE.as_millis()),
            Exceeded::Output => write!(f, "the text is longer than {MAX_OUTPUT} bytes"),
            Exceeded::Value => write!(f, "the text makes a value longer than {MAX_VALUE} bytes"),
            Exceeded::Items => write!(f, "the text makes a list of more than {MAX_ITEMS} items"),
            Exceeded::Budget => write!(f, "the text makes more than {BUDGET} bytes in all"),
        }
    }
}

impl std::error::Error for Exceeded {}

impl Exceeded {
    fn error(self) -> Error {
        Error::new(ErrorKind::InvalidOperation, "render bound exceeded").with_source(self)
    }
}

/// The render bound an error reports, if it is one.
pub fn exceeded(err: &minijinja::Error) -> Option<Exceeded> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(x) = e.downcast_ref::<Exceeded>() {
            return Some(*x);
        }
        if let Some(x) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<Exceeded>())
        {
            return Some(*x);
        }
        source = e.source();
    }
    None
}

#[derive(Clone, Copy)]
struct Limits {
    deadline: Instant,
    left: usize,
    /// The first bound hit; later checks fail at once, and the render
    /// reports it even where minijinja has no way to pass an error on (an
    /// iterator that stops early).
    tripped: Option<Exceeded>,
}

thread_local! {
    static ACTIVE: Cell<Option<Limits>> = const { Cell::new(None) };
}

/// The bounds of one render on this thread, from now until it is dropped.
pub struct Guard {
    previous: Option<Limits>,
}

impl Guard {
    pub fn new() -> Guard {
        Guard::with_deadline(DEADLINE)
    }

    pub fn with_deadline(deadline: Duration) -> Guard {
        let previous = ACTIVE.replace(Some(Limits {
            deadline: Instant::now() + deadline,
            left: BUDGET,
            tripped: None,
        }));
        Guard { previous }
    }

    /// The bound the render hit, if any, to turn an early stop into an error.
    pub fn tripped(&self) -> Option<Exceeded> {
        ACTIVE.get().and_then(|l| l.tripped)
    }

    /// The render's result, an error if a bound was hit on the way.
    pub fn finish<T>(self, r: Result<T, Error>) -> Result<T, Error> {
        match (self.tripped(), r) {
            (Some(x), _) => Err(x.error()),
            (_, r) => r,
        }
    }
}

impl Default for Guard {
    fn default() -> Self {
        Guard::new()
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        ACTIVE.set(self.previous);
    }
}

fn trip(x: Exceeded) -> Error {
    ACTIVE.with(|a| {
        if let Some(mut l) = a.get() {
            l.tripped.get_or_insert(x);
            a.set(Some(l));
        }
    });
    x.error()
}

/// Counts `bytes` against the render's budget and checks the clock.
/// Outside a render (no [`Guard`]) only the per-value bounds apply.
pub fn charge(bytes: usize) -> Result<(), Error> {
    let Some(mut l) = ACTIVE.get() else {
        return Ok(());
    };
    if let Some(x) = l.tripped {
        return Err(x.error());
    }
    if Instant::now() > l.deadline {
        return Err(trip(Exceeded::Time));
    }
    match l.left.checked_sub(bytes) {
        Some(left) => {
            l.left = left;
            ACTIVE.set(Some(l));
            Ok(())
        }
        None => Err(trip(Exceeded::Budget)),
    }
}

fn check_len(bytes: usize) -> Result<(), Error> {
    if bytes > MAX_VALUE {
        return Err(trip(Exceeded::Value));
    }
    charge(bytes)
}

fn check_items(items: usize) -> Result<(), Error> {
    if items > MAX_ITEMS {
        return Err(trip(Exceeded::Items));
    }
    // A list costs at least a pointer-sized slot per item.
    charge(items.saturating_mul(8))
}

/// A writer for a render's output that stops past [`MAX_OUTPUT`] bytes and
/// checks the clock on every write.
pub struct CappedOutput {
    pub buf: Vec<u8>,
}

impl std::io::Write for CappedOutput {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + b.len() > MAX_OUTPUT {
            let _ = trip(Exceeded::Output);
            return Err(std::io::Error::other(Exceeded::Output));
        }
        if let Err(e) = charge(0) {
            let x = exceeded(&e).unwrap_or(Exceeded::Time);
            return Err(std::io::Error::other(x));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::checks::plain;
    use super::*;
    use crate::program::templates::Templates;
    use minijinja::{Environment, Value, context};

    /// Renders `src` the way a session does: compiled into a library's
    /// templates, within the bounds.
    fn render(src: &str, ctx: Value) -> Result<String, Error> {
        let mut b = Templates::builder();
        let (p, _) = b.compile_piece(src)?;
        let t = b.push_text(vec![p]);
        let (templates, _) = b.finish();
        templates.render(t, 0, &ctx).map(|c| c.into_owned())
    }

    fn bound_of(src: &str) -> Option<Exceeded> {
        match render(src, Value::UNDEFINED) {
            Ok(out) => panic!("{src} rendered {} bytes within the bounds", out.len()),
            Err(e) => exceeded(&e).or_else(|| panic!("{src}: {e:#}")),
        }
    }

    #[test]
    fn the_rewrite_keeps_what_a_text_shows() {
        let ctx = Value::from_serialize(context! {
            device => "router",
            attempts => 3,
            items => vec!["a", "b", "c"],
            params => context! { customer => "Ann" },
        });
        let plain = plain();
        for src in [
            "Hello {{ params.customer | default('there') }}, is the {{ device }} on?",
            "{{ attempts * 2 }} {{ attempts + 1 }} {{ 'x' * 3 }} {{ 2 * 'ab' }} {{ device ~ '!' }}",
            "{{ (device ~ '-') * 2 }} {{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ -attempts * 2 }}",
            "{{ items + ['d'] }} {{ items * 2 }} {{ (items * 2) | join(', ') }} {{ [1, 2] + [3] }}",
            "{% for i in items %}{{ loop.index }}/{{ loop.length }}:{{ i ~ i }}{% if not loop.last %}, {% endif %}{% endfor %}",
            "{% for i in range(3) -%}\n  {{ i * i }}\n{%- endfor %} {% for i in [] %}x{% else %}empty{% endfor %}",
            "{% set s %}{% for i in range(2) %}<{{ i }}>{% endfor %}{% endset %}{{ s | upper }}",
            "{% macro m(x) %}[{{ x ~ x }}]{% endmacro %}{{ m('a') }}{{ m(device) }}",
            "{{ device | replace('r', 'R') }} {{ 'a\nb' | indent(2, true) }} {{ '%s-%s' | format(1, 2) }}",
            "{{ items | batch(2, 'z') | list }} {{ items | tojson }} {{ items|length }}",
            "{{ 'ü' ~ 'ß' * 2 }} {{ {'a': 1 + 1}['a'] * 2 }} {{ 'yes' if attempts * 2 > 5 else 'no' }}",
            "{% for k, v in {'a': 1}|items %}{{ k ~ v }}{% endfor %}{{ range(1, 10, 3) | list }}",
            "{{ undefined_thing }}|{% for x in undefined_list %}{{ x }}{% endfor %}|",
        ] {
            let want = plain.render_str(src, &ctx).expect("renders plainly");
            let got = render(src, ctx.clone()).expect("renders within the bounds");
            assert_eq!(got, want, "{src}\nrewritten: {:?}", rewrite_template(src));
        }
        for src in [
            "{{ 9223372036854775807 + 1 }} {{ 4611686018427387904 * 4 }} {{ 2.0 + 1 }} {{ 2 * 1.5 }} {{ true + 1 }}",
            "{{ -3 * 2 }} {{ 3 + -5 }} {{ attempts * attempts }}",
        ] {
            let want = plain.render_str(src, &ctx).expect("renders plainly");
            let got = render(src, ctx.clone()).expect("renders within the bounds");
            assert_eq!(got, want, "{src}");
        }
        for src in [
            "attempts * 2 > 5",
            "device ~ '' == 'router'",
            "(attempts + 1) * 'x' == 'xxxx'",
        ] {
            let want = plain
                .compile_expression(src)
                .expect("compiles")
                .eval(&ctx)
                .expect("evaluates");
            let e = rewrite_expression(src).expect("parses").expect("rewrites");
            let got = plain_with_checks()
                .compile_expression(&e)
                .expect("compiles")
                .eval(&ctx)
                .expect("evaluates");
            assert_eq!(got, want, "{src}");
        }
    }

    fn plain_with_checks() -> Environment<'static> {
        let mut env = Environment::new();
        install(&mut env);
        env
    }

    #[test]
    fn the_template_of_the_issue_ends_at_once() {
        let t = Instant::now();
        let hit = bound_of("{% for c in 'x'*20000 %}{{ 'y'*1000000 }}{% endfor %}");
        assert_eq!(hit, Some(Exceeded::Value));
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "took {:?}",
            t.elapsed()
        );
    }

    #[test]
    fn every_way_to_grow_a_value_is_bounded() {
        for (src, want) in [
            ("{% set x = 'y' * 1000000 %}", Exceeded::Value),
            ("{{ 'y' * 70000 }}", Exceeded::Value),
            ("{% set x = range(1000000000) %}", Exceeded::Items),
            ("{{ ([1] * 100000) | join }}", Exceeded::Items),
            ("{{ ([1] * 5000 + [2] * 5001) | length }}", Exceeded::Items),
            ("{% set x = 'y' * 40000 %}{{ x ~ x }}", Exceeded::Value),
            ("{% set x = 'y' * 40000 %}{{ x + x }}", Exceeded::Value),
            (
                "{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
                Exceeded::Value,
            ),
            (
                "{{ ('a' * 1000) | replace('a', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb') }}",
                Exceeded::Value,
            ),
            ("{{ 'a' | indent(100000) }}", Exceeded::Value),
            ("{{ '%100000000s' | format('a') }}", Exceeded::Value),
            ("{{ [1] | batch(100000000, 'x') | list }}", Exceeded::Items),
            ("{{ ('\"' * 30000) | tojson | tojson }}", Exceeded::Value),
            ("{{ range(10000) | join(',' * 60) }}", Exceeded::Value),
            // Captured text counts too: each piece is small, the sum is not.
            (
                "{% set s %}{% for i in range(10000) %}{{ 'y' * 60000 }}{% endfor %}{% endset %}",
                Exceeded::Budget,
            ),
            (
                "{% macro m() %}{{ 'y' * 60000 }}{% endmacro %}{% for i in range(10000) %}{% set x = m() %}{% endfor %}",
                Exceeded::Budget,
            ),
            // Literal text repeated by a loop counts per round.
            (
                &format!(
                    "{{% set s %}}{{% for i in range(10000) %}}{}{{% endfor %}}{{% endset %}}",
                    "z".repeat(1000)
                ),
                Exceeded::Budget,
            ),
            // Output that is fine piece by piece but too long in all.
            (
                "{% for i in range(100) %}{{ 'y' * 1000 }}{% endfor %}",
                Exceeded::Output,
            ),
        ] {
            assert_eq!(bound_of(src), Some(want), "{src}");
        }
    }

    #[test]
    fn costly_texts_are_found_inside_loops_only() {
        for (src, want) in [
            (
                "{% for c in 'x'*20000 %}{{ 'y'*1000000 }}{% endfor %}",
                Some("repeats `'y'*1000000`"),
            ),
            (
                "{% for i in range(5000) %}.{% endfor %}",
                Some("loops over `range(5000)` (5000 rounds)"),
            ),
            (
                "{% for i in items %}{% set l = range(1, 20000) | list %}{% endfor %}",
                Some("makes `range(1, 20000)` (19999 numbers)"),
            ),
            (
                "{% for i in items %}{{ [0] * n }}{% endfor %}",
                Some("repeats `[0] * n`"),
            ),
            (
                "{% macro m() %}{{ '-' * 80 }}{% endmacro %}",
                Some("repeats `'-' * 80`"),
            ),
            // Outside a loop, or a small range, or numbers: no warning.
            ("{{ '-' * 80 }}", None),
            ("{% for i in range(10) %}{{ i * 2 }}{% endfor %}", None),
            ("{% for i in items %}{{ attempts * 3 }}{% endfor %}", None),
            ("Is the {{ device }} on?", None),
            ("{{ broken", None),
        ] {
            assert_eq!(costly_in_loop(src).as_deref(), want, "{src}");
        }
    }

    /// Work no bound but the clock counts: sorting a long list, again and
    /// again, until the deadline.
    pub(crate) const SLOW: &str = "{% set l = range(10000) | list %}{% for i in range(10000) %}{% set y = l | sort(reverse=true) | unique %}{% endfor %}";

    #[test]
    fn a_slow_text_ends_at_its_deadline() {
        let started = Instant::now();
        assert_eq!(bound_of(SLOW), Some(Exceeded::Time));
        let took = started.elapsed();
        assert!(took >= DEADLINE && took < DEADLINE * 4, "took {took:?}");
    }

    #[test]
    fn a_render_past_its_deadline_stops() {
        let env = {
            let mut env = crate::program::templates::environment();
            env.set_fuel(None);
            env
        };
        let src = rewrite_template(
            "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        )
        .expect("parses")
        .expect("rewrites");
        let t = env.template_from_str(&src).expect("compiles");
        let guard = Guard::with_deadline(Duration::from_millis(20));
        let started = Instant::now();
        let r = guard.finish(t.render(()));
        let err = r.expect_err("stopped");
        assert_eq!(exceeded(&err), Some(Exceeded::Time));
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    }
}
