//! The checked operations, filters and functions a render's environment
//! gets in place of minijinja's own.

use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Rest};
use minijinja::{Environment, Error, ErrorKind, Expression, Value};
use std::fmt;
use std::sync::{Arc, OnceLock};

use super::{Exceeded, MAX_ITEMS, MAX_VALUE, charge, check_items, check_len, trip};

/// The length of `v` as text, or `None` past `cap` (without making it).
fn text_len(v: &Value, cap: usize) -> Option<usize> {
    if let Some(s) = v.as_str() {
        return (s.len() <= cap).then_some(s.len());
    }
    struct Count(usize, usize);
    impl fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            if self.0 > self.1 {
                Err(fmt::Error)
            } else {
                Ok(())
            }
        }
    }
    let mut c = Count(0, cap);
    fmt::write(&mut c, format_args!("{v}")).ok().map(|_| c.0)
}

/// The number of items of a list or iterable, counting at most one past
/// [`MAX_ITEMS`] (every list a render makes is bounded, so this is cheap).
fn items(v: &Value) -> usize {
    v.len().unwrap_or_else(|| {
        v.try_iter()
            .map(|it| it.take(MAX_ITEMS + 1).count())
            .unwrap_or(0)
    })
}

fn is_list(v: &Value) -> bool {
    matches!(
        v.kind(),
        minijinja::value::ValueKind::Seq | minijinja::value::ValueKind::Iterable
    )
}

/// An environment without the checks, in which the checked operations and
/// filters do the real work once they know it is small: the same semantics
/// as minijinja's own, by construction.
pub(super) fn plain() -> &'static Environment<'static> {
    static PLAIN: OnceLock<Environment<'static>> = OnceLock::new();
    PLAIN.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env
    })
}

/// Evaluates a fixed expression in [`plain`] against `ctx`. Each call site
/// compiles its expression once, into a static of its own (no lock shared
/// by all renders).
macro_rules! delegate {
    ($src:expr, $ctx:expr $(,)?) => {{
        static EXPR: OnceLock<Expression<'static, 'static>> = OnceLock::new();
        EXPR.get_or_init(|| {
            plain()
                .compile_expression($src)
                .expect("the delegating expressions are fixed and valid")
        })
        .eval($ctx)
    }};
}

fn pair(a: Value, b: Value) -> Value {
    Value::from_iter([("a", a), ("b", b)])
}

/// Two integers that fit an `i64`, the common case (`attempts + 1`): done
/// here, as minijinja would, without a round trip through an expression.
fn ints(a: &Value, b: &Value) -> Option<(i64, i64)> {
    if a.is_integer() && b.is_integer() {
        Some((a.as_i64()?, b.as_i64()?))
    } else {
        None
    }
}

/// `a * b`: a repeated string or list is checked before it is made.
fn mul(a: Value, b: Value) -> Result<Value, Error> {
    charge(0)?;
    if let Some(r) = ints(&a, &b).and_then(|(x, y)| x.checked_mul(y)) {
        return Ok(Value::from(r));
    }
    let (s, n) = if a.as_usize().is_some() {
        (&b, &a)
    } else {
        (&a, &b)
    };
    if let Some(n) = n.as_usize() {
        if let Some(text) = s.as_str() {
            check_len(text.len().saturating_mul(n))?;
        } else if is_list(s) {
            // minijinja repeats a list lazily, one round at a time: an
            // empty list repeated n times costs n rounds however few items
            // it makes, so the rounds count as items too.
            check_items(items(s).max(1).saturating_mul(n))?;
        }
    }
    delegate!("a * b", pair(a, b))
}

/// `a + b`: joined strings and lists are checked before they are made.
fn add(a: Value, b: Value) -> Result<Value, Error> {
    charge(0)?;
    if let Some(r) = ints(&a, &b).and_then(|(x, y)| x.checked_add(y)) {
        return Ok(Value::from(r));
    }
    if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
        check_len(x.len() + y.len())?;
    } else if is_list(&a) && is_list(&b) {
        check_items(items(&a).saturating_add(items(&b)))?;
    }
    delegate!("a + b", pair(a, b))
}

/// `a ~ b`: both sides as text, checked before they are joined.
fn concat(a: Value, b: Value) -> Result<Value, Error> {
    charge(0)?;
    let x = text_len(&a, MAX_VALUE).ok_or_else(|| trip(Exceeded::Value))?;
    let y = text_len(&b, MAX_VALUE).ok_or_else(|| trip(Exceeded::Value))?;
    check_len(x + y)?;
    delegate!("a ~ b", pair(a, b))
}

/// `{{ x }}`: what is shown counts, wherever it goes (a capture included).
fn emit(v: Value) -> Result<Value, Error> {
    let n = text_len(&v, MAX_VALUE).ok_or_else(|| trip(Exceeded::Value))?;
    charge(n)?;
    Ok(v)
}

/// `range(...)` with at most [`MAX_ITEMS`] numbers.
fn range(lower: i64, upper: Option<i64>, step: Option<i64>) -> Result<Value, Error> {
    charge(0)?;
    let (lo, hi) = match upper {
        Some(u) => (lower, u),
        None => (0, lower),
    };
    let step = step.unwrap_or(1);
    let span = (i128::from(hi) - i128::from(lo)).unsigned_abs();
    let n = span / u128::from(step.unsigned_abs().max(1));
    if n > MAX_ITEMS as u128 {
        return Err(trip(Exceeded::Items));
    }
    check_items(n as usize)?;
    let narrow = |v: i64| {
        isize::try_from(v)
            .map_err(|_| Error::new(ErrorKind::InvalidOperation, "range bound out of range"))
    };
    minijinja::functions::range(narrow(lo)?, Some(narrow(hi)?), Some(narrow(step)?))
}

/// The loop of a `{% for %}`: every round checks the clock and counts the
/// literal text the loop body shows per round.
#[derive(Debug)]
struct Rounds {
    inner: Value,
    raw: usize,
}

impl Object for Rounds {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Iterable
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let raw = self.raw;
        match self.inner.try_iter() {
            // An iterator cannot fail: a round over a bound ends the loop,
            // and the guard reports the bound when the render ends.
            Ok(inner) => Enumerator::Iter(Box::new(Ticking {
                inner,
                raw,
                stopped: false,
            })),
            Err(_) => Enumerator::Empty,
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        self.inner.len()
    }
}

/// The rounds of a loop, each charged; the same length as the loop's own
/// (minijinja takes `loop.length` from it).
struct Ticking {
    inner: minijinja::value::ValueIter,
    raw: usize,
    stopped: bool,
}

impl Iterator for Ticking {
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        if self.stopped || charge(self.raw).is_err() {
            self.stopped = true;
            return None;
        }
        self.inner.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

fn rounds(v: Value, raw: usize) -> Result<Value, Error> {
    charge(0)?;
    if v.is_undefined() || v.is_none() {
        return Ok(v);
    }
    // Not iterable: the same error the loop would have given.
    v.try_iter()?;
    Ok(Value::from_object(Rounds { inner: v, raw }))
}

/// The keyword arguments as a map for `**k`, each marked as used.
fn kwargs_value(k: &Kwargs) -> Result<Value, Error> {
    let mut pairs = Vec::new();
    for name in k.args() {
        pairs.push((name.to_owned(), k.get::<Value>(name)?));
    }
    Ok(Value::from(pairs.into_iter().collect::<Kwargs>()))
}

/// A filter that can grow a value: a check before (what the arguments ask
/// for) and after (what came out), and minijinja's own filter in between.
macro_rules! checked_filter {
    ($env:ident, $name:literal, $pre:expr) => {
        $env.add_filter(
            $name,
            |v: Value, args: Rest<Value>, kwargs: Kwargs| -> Result<Value, Error> {
                charge(0)?;
                let pre: fn(&Value, &[Value]) -> Result<(), Error> = $pre;
                pre(&v, &args.0)?;
                let with_kwargs = kwargs.args().next().is_some();
                let ctx = Value::from_iter([
                    ("v", v),
                    ("a", Value::from(args.0)),
                    ("k", kwargs_value(&kwargs)?),
                ]);
                let out = if with_kwargs {
                    delegate!(concat!("v|", $name, "(*a, **k)"), ctx)
                } else {
                    delegate!(concat!("v|", $name, "(*a)"), ctx)
                }?;
                if is_list(&out) {
                    check_items(items(&out))?;
                } else {
                    check_len(text_len(&out, MAX_VALUE).ok_or_else(|| trip(Exceeded::Value))?)?;
                }
                Ok(out)
            },
        );
    };
}

fn arg_usize(args: &[Value], i: usize) -> usize {
    args.get(i).and_then(Value::as_usize).unwrap_or(0)
}

fn small_input(v: &Value, _: &[Value]) -> Result<(), Error> {
    if is_list(v) {
        check_items(items(v))
    } else {
        text_len(v, MAX_VALUE)
            .map(drop)
            .ok_or_else(|| trip(Exceeded::Value))
    }
}

/// Installs the checked operations, `range` and filters in `env`.
pub fn install(env: &mut Environment<'static>) {
    env.add_function("__fp_mul", mul);
    env.add_function("__fp_add", add);
    env.add_function("__fp_cat", concat);
    env.add_function("__fp_emit", emit);
    env.add_function("__fp_loop", rounds);
    env.add_function("range", range);
    checked_filter!(env, "join", |v, args| {
        // Item by item, so that a long list stops early.
        let joiner = args
            .first()
            .and_then(|j| text_len(j, MAX_VALUE))
            .unwrap_or(0);
        let mut total = 0usize;
        for (i, item) in v.try_iter()?.enumerate() {
            if i >= MAX_ITEMS {
                return Err(trip(Exceeded::Items));
            }
            total += text_len(&item, MAX_VALUE).ok_or_else(|| trip(Exceeded::Value))? + joiner;
            if total > MAX_VALUE {
                return Err(trip(Exceeded::Value));
            }
        }
        Ok(())
    });
    checked_filter!(env, "replace", |v, args| {
        let text = v.to_string();
        let from = args.first().map(Value::to_string).unwrap_or_default();
        let to = args
            .get(1)
            .and_then(|t| text_len(t, MAX_VALUE))
            .unwrap_or(0);
        let hits = if from.is_empty() {
            text.chars().count() + 1
        } else {
            text.matches(from.as_str()).count()
        };
        check_len(text.len().saturating_add(hits.saturating_mul(to)))
    });
    checked_filter!(env, "indent", |v, args| {
        let text = text_len(v, MAX_VALUE).ok_or_else(|| trip(Exceeded::Value))?;
        let lines = v.as_str().map_or(1, |s| s.lines().count() + 1);
        let width = args
            .first()
            .map(|w| {
                w.as_usize()
                    .or_else(|| w.as_str().map(str::len))
                    .unwrap_or(0)
            })
            .unwrap_or(4);
        check_len(text.saturating_add(lines.saturating_mul(width)))
    });
    checked_filter!(env, "format", |v, args| {
        let mut total = text_len(v, MAX_VALUE).ok_or_else(|| trip(Exceeded::Value))?;
        // A width in the format (`%9999999s`) pads: count the widest.
        if let Some(fmt) = v.as_str() {
            for digits in fmt.split(|c: char| !c.is_ascii_digit()) {
                if !digits.is_empty() {
                    total = total.saturating_add(digits.parse::<usize>().unwrap_or(usize::MAX));
                }
            }
        }
        for a in args {
            total =
                total.saturating_add(text_len(a, MAX_VALUE).ok_or_else(|| trip(Exceeded::Value))?);
        }
        check_len(total)
    });
    checked_filter!(env, "batch", |v, args| {
        small_input(v, args)?;
        check_items(items(v).saturating_add(arg_usize(args, 0)))
    });
    checked_filter!(env, "slice", |v, args| {
        small_input(v, args)?;
        check_items(items(v).saturating_add(arg_usize(args, 0)))
    });
    checked_filter!(env, "list", small_input);
    checked_filter!(env, "string", small_input);
    checked_filter!(env, "tojson", small_input);
    checked_filter!(env, "pprint", small_input);
    checked_filter!(env, "escape", small_input);
    checked_filter!(env, "e", small_input);
    checked_filter!(env, "chain", |v, args| {
        let mut total = items(v);
        for a in args {
            total = total.saturating_add(items(a));
        }
        check_items(total)
    });
    checked_filter!(env, "zip", small_input);
}

/// The names [`install`] adds for the rewritten operations: not variables
/// of the script, whatever minijinja's name analysis says.
pub fn is_internal(name: &str) -> bool {
    name.starts_with("__fp_")
}
