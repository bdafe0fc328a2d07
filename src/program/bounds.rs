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

use minijinja::machinery::ast::{self, BinOpKind, CallArg, Expr, Stmt};
use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Rest};
use minijinja::{Environment, Error, ErrorKind, Expression, Value};
use std::cell::Cell;
use std::fmt;
use std::sync::{Arc, OnceLock};
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
fn plain() -> &'static Environment<'static> {
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
            check_items(items(s).saturating_mul(n))?;
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

/// A change to a text's source: replace `start..end` with `text`. Edits at
/// one position apply closings (inner first), then replacements, then
/// openings (outer first), so nested rewrites nest.
struct Edit {
    start: usize,
    end: usize,
    order: (u8, i64),
    text: String,
}

struct Rewriter<'s> {
    src: &'s str,
    edits: Vec<Edit>,
    ok: bool,
    /// How many loop, macro or capturing bodies enclose the statement.
    inside: u32,
}

impl Rewriter<'_> {
    fn wrap(&mut self, span: minijinja::machinery::Span, open: &str, close: &str, depth: i64) {
        self.wrap_range(
            span.start_offset as usize,
            span.end_offset as usize,
            open,
            close,
            depth,
        );
    }

    /// Wraps `s..e` of the source. Only binary operations have spans that
    /// start where their text does (a filter's starts at its name), so the
    /// callers pass ranges they know are a whole expression.
    fn wrap_range(&mut self, s: usize, e: usize, open: &str, close: &str, depth: i64) {
        self.edits.push(Edit {
            start: s,
            end: s,
            order: (2, depth),
            text: open.to_owned(),
        });
        self.edits.push(Edit {
            start: e,
            end: e,
            order: (0, -depth),
            text: close.to_owned(),
        });
    }

    fn stmts(&mut self, body: &[Stmt<'_>], depth: i64) {
        for s in body {
            self.stmt(s, depth);
        }
    }

    fn stmt(&mut self, s: &Stmt<'_>, depth: i64) {
        match s {
            Stmt::Template(t) => self.stmts(&t.children, depth),
            // What a text shows outright goes to the capped output; only
            // what a loop repeats or a capture keeps needs counting here.
            Stmt::EmitExpr(e) if self.inside == 0 => self.expr(&e.expr, depth),
            Stmt::EmitExpr(e) => {
                // From after `{{` (and its `-` or `+`) to the expression's end.
                let start = e.span().start_offset as usize + 2;
                let start = match self.src.as_bytes().get(start) {
                    Some(b'-' | b'+') => start + 1,
                    _ => start,
                };
                let end = e.expr.span().end_offset as usize;
                self.wrap_range(start, end, "__fp_emit((", "))", depth);
                self.expr(&e.expr, depth + 1);
            }
            Stmt::EmitRaw(_) => {}
            Stmt::ForLoop(f) => {
                let raw = raw_len(&f.body);
                // From after the `in` that follows the target to the end of
                // the iterable (before any `if` or `recursive`).
                let from = f.target.span().end_offset as usize;
                let end = f.iter.span().end_offset as usize;
                match self.src.get(from..end).and_then(|gap| gap.find("in")) {
                    Some(at) => self.wrap_range(
                        from + at + 2,
                        end,
                        " __fp_loop((",
                        &format!("), {raw})"),
                        depth,
                    ),
                    None => self.ok = false,
                }
                self.expr(&f.iter, depth + 1);
                if let Some(e) = &f.filter_expr {
                    self.expr(e, depth);
                }
                self.inside += 1;
                self.stmts(&f.body, depth);
                self.inside -= 1;
                self.stmts(&f.else_body, depth);
            }
            Stmt::IfCond(i) => {
                self.expr(&i.expr, depth);
                self.stmts(&i.true_body, depth);
                self.stmts(&i.false_body, depth);
            }
            Stmt::WithBlock(w) => {
                for (_, e) in &w.assignments {
                    self.expr(e, depth);
                }
                self.stmts(&w.body, depth);
            }
            Stmt::Set(s) => self.expr(&s.expr, depth),
            Stmt::SetBlock(s) => {
                if let Some(f) = &s.filter {
                    self.expr(f, depth);
                }
                self.inside_body(&s.body, depth);
            }
            Stmt::AutoEscape(a) => self.stmts(&a.body, depth),
            Stmt::FilterBlock(f) => {
                self.expr(&f.filter, depth);
                self.inside_body(&f.body, depth);
            }
            Stmt::Block(b) => self.stmts(&b.body, depth),
            Stmt::Macro(m) => {
                for d in &m.defaults {
                    self.expr(d, depth);
                }
                self.inside_body(&m.body, depth);
            }
            Stmt::CallBlock(c) => {
                self.call(&c.call, depth);
                self.inside_body(&c.macro_decl.body, depth);
            }
            Stmt::Do(d) => self.call(&d.call, depth),
            // Nothing to include or import from: these fail when rendered.
            // (`continue` and `break` hold no expression.)
            _ => {}
        }
    }

    /// A body whose output is captured (a `{% set %}` or `{% filter %}`
    /// block, a macro): what it shows is counted.
    fn inside_body(&mut self, body: &[Stmt<'_>], depth: i64) {
        self.inside += 1;
        self.stmts(body, depth);
        self.inside -= 1;
    }

    fn call(&mut self, c: &ast::Call<'_>, depth: i64) {
        self.expr(&c.expr, depth);
        self.args(&c.args, depth);
    }

    fn args(&mut self, args: &[CallArg<'_>], depth: i64) {
        for a in args {
            match a {
                CallArg::Pos(e)
                | CallArg::Kwarg(_, e)
                | CallArg::PosSplat(e)
                | CallArg::KwargSplat(e) => self.expr(e, depth),
            }
        }
    }

    fn expr(&mut self, e: &Expr<'_>, depth: i64) {
        match e {
            Expr::Var(_) | Expr::Const(_) => {}
            Expr::Slice(s) => {
                self.expr(&s.expr, depth);
                for x in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.expr(x, depth);
                }
            }
            Expr::UnaryOp(u) => self.expr(&u.expr, depth),
            Expr::BinOp(b) => {
                let (name, op) = match b.op {
                    BinOpKind::Mul => ("__fp_mul(", '*'),
                    BinOpKind::Add => ("__fp_add(", '+'),
                    BinOpKind::Concat => ("__fp_cat(", '~'),
                    _ => ("", ' '),
                };
                if !name.is_empty() {
                    // The operator sits between the operands, among
                    // parentheses and blanks only.
                    let from = b.left.span().end_offset as usize;
                    let to = b.right.span().start_offset as usize;
                    match self.src.get(from..to).and_then(|gap| gap.find(op)) {
                        Some(at) => {
                            self.wrap(b.span(), name, ")", depth);
                            self.edits.push(Edit {
                                start: from + at,
                                end: from + at + 1,
                                order: (1, 0),
                                text: ",".to_owned(),
                            });
                        }
                        None => self.ok = false,
                    }
                }
                self.expr(&b.left, depth + 1);
                self.expr(&b.right, depth + 1);
            }
            Expr::Compare(c) => {
                self.expr(&c.expr, depth);
                for op in &c.ops {
                    self.expr(&op.expr, depth);
                }
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr, depth);
                self.expr(&i.true_expr, depth);
                if let Some(f) = &i.false_expr {
                    self.expr(f, depth);
                }
            }
            Expr::Filter(f) => {
                if let Some(x) = &f.expr {
                    self.expr(x, depth);
                }
                self.args(&f.args, depth);
            }
            Expr::Test(t) => {
                self.expr(&t.expr, depth);
                self.args(&t.args, depth);
            }
            Expr::GetAttr(g) => self.expr(&g.expr, depth),
            Expr::GetItem(g) => {
                self.expr(&g.expr, depth);
                self.expr(&g.subscript_expr, depth);
            }
            Expr::Call(c) => self.call(c, depth),
            Expr::List(l) => {
                for x in &l.items {
                    self.expr(x, depth);
                }
            }
            Expr::Map(m) => {
                for x in m.keys.iter().chain(&m.values) {
                    self.expr(x, depth);
                }
            }
        }
    }

    fn apply(mut self) -> Option<String> {
        if !self.ok {
            return None;
        }
        self.edits.sort_by_key(|e| (e.start, e.order));
        let mut out = String::with_capacity(self.src.len() + 16 * self.edits.len());
        let mut at = 0;
        for e in &self.edits {
            if e.start < at {
                return None;
            }
            out.push_str(self.src.get(at..e.start)?);
            out.push_str(&e.text);
            at = e.end;
        }
        out.push_str(self.src.get(at..)?);
        Some(out)
    }
}

/// The literal text a loop body shows per round (its own nested loops count
/// their rounds themselves); branches count as if all were taken.
fn raw_len(body: &[Stmt<'_>]) -> usize {
    body.iter()
        .map(|s| match s {
            Stmt::EmitRaw(r) => r.raw.len(),
            Stmt::IfCond(i) => raw_len(&i.true_body) + raw_len(&i.false_body),
            Stmt::WithBlock(w) => raw_len(&w.body),
            Stmt::SetBlock(b) => raw_len(&b.body),
            Stmt::FilterBlock(b) => raw_len(&b.body),
            Stmt::AutoEscape(b) => raw_len(&b.body),
            _ => 0,
        })
        .sum()
}

/// The text's source with every operation that can grow a value routed
/// through the checks of [`install`]. `None` when the source does not
/// parse (the caller reports minijinja's own error for it).
pub fn rewrite_template(src: &str) -> Option<Result<String, Error>> {
    let ast =
        minijinja::machinery::parse(src, "<text>", Default::default(), Default::default()).ok()?;
    let mut r = Rewriter {
        src,
        edits: Vec::new(),
        ok: true,
        inside: 0,
    };
    r.stmt(&ast, 0);
    // The rewrite must itself be a template. A text it cannot rewrite is
    // refused rather than run unchecked.
    Some(
        r.apply()
            .filter(|out| {
                minijinja::machinery::parse(out, "<text>", Default::default(), Default::default())
                    .is_ok()
            })
            .ok_or_else(too_involved),
    )
}

fn too_involved() -> Error {
    Error::new(
        ErrorKind::SyntaxError,
        "this text is written in a way whose render cost cannot be checked; write it more simply",
    )
}

/// As [`rewrite_template`], for an `if:` expression.
pub fn rewrite_expression(src: &str) -> Option<Result<String, Error>> {
    let ast = minijinja::machinery::parse_expr(src).ok()?;
    let mut r = Rewriter {
        src,
        edits: Vec::new(),
        ok: true,
        inside: 0,
    };
    r.expr(&ast, 0);
    Some(
        r.apply()
            .filter(|out| minijinja::machinery::parse_expr(out).is_ok())
            .ok_or_else(too_involved),
    )
}

/// A range longer than this inside a loop is worth a warning (FP107).
pub const LARGE_RANGE: i64 = 1000;

/// What makes a text costly to render, for the FP107 warning: a string or
/// list repeated with `*`, or a range of more than [`LARGE_RANGE`] numbers,
/// inside a loop (the loop's own header included). The first such thing,
/// quoted from the text; `None` for a text without any (or that does not
/// parse: other checks report that).
pub fn costly_in_loop(src: &str) -> Option<String> {
    let ast =
        minijinja::machinery::parse(src, "<text>", Default::default(), Default::default()).ok()?;
    let mut found = None;
    costly_stmt(src, &ast, false, &mut found);
    found
}

fn costly_stmts(src: &str, body: &[Stmt<'_>], in_loop: bool, found: &mut Option<String>) {
    for s in body {
        costly_stmt(src, s, in_loop, found);
    }
}

fn costly_stmt(src: &str, s: &Stmt<'_>, in_loop: bool, found: &mut Option<String>) {
    if found.is_some() {
        return;
    }
    let expr = |e: &Expr<'_>, in_loop: bool, found: &mut Option<String>| {
        if in_loop {
            costly_expr(src, e, found);
        }
    };
    match s {
        Stmt::Template(t) => costly_stmts(src, &t.children, in_loop, found),
        Stmt::EmitExpr(e) => expr(&e.expr, in_loop, found),
        Stmt::ForLoop(f) => {
            // A loop's header runs once, but a range there sets its rounds.
            if let Some(n) = range_len(&f.iter).filter(|n| *n > LARGE_RANGE) {
                *found = Some(format!(
                    "loops over `{}` ({n} rounds)",
                    snippet(src, f.iter.span())
                ));
                return;
            }
            expr(&f.iter, in_loop, found);
            costly_stmts(src, &f.body, true, found);
            costly_stmts(src, &f.else_body, in_loop, found);
        }
        Stmt::IfCond(i) => {
            expr(&i.expr, in_loop, found);
            costly_stmts(src, &i.true_body, in_loop, found);
            costly_stmts(src, &i.false_body, in_loop, found);
        }
        Stmt::WithBlock(w) => {
            for (_, e) in &w.assignments {
                expr(e, in_loop, found);
            }
            costly_stmts(src, &w.body, in_loop, found);
        }
        Stmt::Set(s) => expr(&s.expr, in_loop, found),
        Stmt::SetBlock(b) => costly_stmts(src, &b.body, in_loop, found),
        Stmt::FilterBlock(b) => costly_stmts(src, &b.body, in_loop, found),
        Stmt::AutoEscape(b) => costly_stmts(src, &b.body, in_loop, found),
        // A macro may be called from a loop: its body counts as in one.
        Stmt::Macro(m) => costly_stmts(src, &m.body, true, found),
        Stmt::CallBlock(c) => costly_stmts(src, &c.macro_decl.body, true, found),
        _ => {}
    }
}

/// The first costly expression in `e` (which stands in a loop).
fn costly_expr(src: &str, e: &Expr<'_>, found: &mut Option<String>) {
    if found.is_some() {
        return;
    }
    match e {
        Expr::BinOp(b) if matches!(b.op, BinOpKind::Mul) => {
            let repeated = |x: &Expr<'_>| match x {
                Expr::Const(c) => c.value.as_str().is_some(),
                Expr::List(_) => true,
                _ => false,
            };
            if repeated(&b.left) || repeated(&b.right) {
                *found = Some(format!("repeats `{}`", snippet(src, b.span())));
                return;
            }
            costly_expr(src, &b.left, found);
            costly_expr(src, &b.right, found);
        }
        Expr::Call(c) => {
            if let Some(n) = range_len(e).filter(|n| *n > LARGE_RANGE) {
                *found = Some(format!("makes `{}` ({n} numbers)", snippet(src, c.span())));
                return;
            }
            costly_expr(src, &c.expr, found);
            costly_args(src, &c.args, found);
        }
        Expr::BinOp(b) => {
            costly_expr(src, &b.left, found);
            costly_expr(src, &b.right, found);
        }
        Expr::Slice(s) => costly_expr(src, &s.expr, found),
        Expr::UnaryOp(u) => costly_expr(src, &u.expr, found),
        Expr::Compare(c) => {
            costly_expr(src, &c.expr, found);
            for op in &c.ops {
                costly_expr(src, &op.expr, found);
            }
        }
        Expr::IfExpr(i) => {
            costly_expr(src, &i.test_expr, found);
            costly_expr(src, &i.true_expr, found);
            if let Some(f) = &i.false_expr {
                costly_expr(src, f, found);
            }
        }
        Expr::Filter(f) => {
            if let Some(x) = &f.expr {
                costly_expr(src, x, found);
            }
            costly_args(src, &f.args, found);
        }
        Expr::Test(t) => costly_expr(src, &t.expr, found),
        Expr::GetAttr(g) => costly_expr(src, &g.expr, found),
        Expr::GetItem(g) => costly_expr(src, &g.expr, found),
        Expr::List(l) => {
            for x in &l.items {
                costly_expr(src, x, found);
            }
        }
        Expr::Map(m) => {
            for x in &m.values {
                costly_expr(src, x, found);
            }
        }
        Expr::Var(_) | Expr::Const(_) => {}
    }
}

fn costly_args(src: &str, args: &[CallArg<'_>], found: &mut Option<String>) {
    for a in args {
        match a {
            CallArg::Pos(e)
            | CallArg::Kwarg(_, e)
            | CallArg::PosSplat(e)
            | CallArg::KwargSplat(e) => costly_expr(src, e, found),
        }
    }
}

/// How many numbers `range(...)` with constant arguments makes.
fn range_len(e: &Expr<'_>) -> Option<i64> {
    let Expr::Call(c) = e else { return None };
    let Expr::Var(v) = &c.expr else { return None };
    if v.id != "range" {
        return None;
    }
    let mut n = Vec::new();
    for a in &c.args {
        let CallArg::Pos(x) = a else { return None };
        n.push(x.as_const()?.as_i64()?);
    }
    let (lo, hi, step) = match n[..] {
        [hi] => (0, hi, 1),
        [lo, hi] => (lo, hi, 1),
        [lo, hi, step] if step != 0 => (lo, hi, step),
        _ => return None,
    };
    Some((hi.saturating_sub(lo) / step).max(0))
}

/// A short quote of the text at `span`.
fn snippet(src: &str, span: minijinja::machinery::Span) -> String {
    let text = src
        .get(span.start_offset as usize..span.end_offset as usize)
        .unwrap_or("");
    match text.char_indices().nth(60) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
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
    use super::*;
    use crate::program::templates::Templates;
    use minijinja::context;

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
