//! Every text and `if:` of the library, compiled once.
//!
//! A text without template syntax stays a literal and costs nothing to show.
//! The rest live in a minijinja [`Environment`]; the compiled [`Template`]
//! and [`Expression`] handles borrow it, so the environment and the handles
//! are kept together in a self-referential cell and addressed by index: a
//! step renders through an index, never a name lookup or a re-parse. The
//! compiler builds parts of a library in parallel, one environment each, and
//! merges them; an index then names a part and a position in it.

use super::bounds;
use super::{ExprId, Text, TextId};
use minijinja::{Environment, Expression, Template, Value};
use self_cell::self_cell;
use std::borrow::Cow;
use std::collections::HashSet;

/// Bounds the work one template render may do (an author's `{% for %}` over a
/// huge range must not stall a session); far above any real text.
const FUEL: u64 = 50_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextPiece {
    /// Shared, so that showing it is a reference-count increment, not a copy.
    Literal(Text),
    Template(u32),
}

struct Compiled<'a> {
    templates: Vec<Template<'a, 'a>>,
    exprs: Vec<Expression<'a, 'static>>,
}

self_cell!(
    struct Cell {
        owner: Environment<'static>,
        #[covariant]
        dependent: Compiled,
    }
);

pub struct Templates {
    /// One environment per part: the compiler checks parts of a library in
    /// parallel, each with its own environment, and [`merge`](Self::merge)s them.
    parts: Vec<Cell>,
    /// Per template number (the `n` of [`TextPiece::Template`]): its part and
    /// its position there.
    template_at: Vec<(u32, u32)>,
    /// Per expression: its part and its position there.
    expr_at: Vec<(u32, u32)>,
    /// Per text, one piece per language of its script (in the script's order).
    texts: Vec<Box<[TextPiece]>>,
    /// Per template, the names it reads (see [`Reads`]).
    template_reads: Vec<Option<Box<[Value]>>>,
    /// Per expression, the names it reads.
    expr_reads: Vec<Box<[Value]>>,
    /// The source of every expression, for graph labels and messages.
    expr_sources: Vec<Box<str>>,
    /// Per template, its source as written.
    template_sources: Vec<Box<str>>,
}

/// What a template or expression reads from its context: the engine builds
/// a context of just these names for a render (a variable or two) instead of
/// converting every variable and parameter of the session each time.
#[derive(Debug, Clone, Copy)]
pub enum Reads<'a> {
    /// The top-level names (`params`, not `params.customer`), as minijinja
    /// strings made once at compile time.
    Names(&'a [Value]),
    /// Anything: a template with statements (`{% ... %}`) gets the whole
    /// context, since statements can reach names no list can promise.
    All,
}

/// Does this text need the template engine at all?
pub fn is_template(src: &str) -> bool {
    src.contains("{{") || src.contains("{%") || src.contains("{#")
}

pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    // Texts are plain text; HTML escaping is the job of the page that shows them.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    bounds::install(&mut env);
    env
}

/// Is `name` one of the environment's own functions (`range`, `dict`, …, and
/// the checked operations of [`bounds`])? minijinja's name analysis lists
/// them among the names a text reads; they are not the script's variables.
fn is_global(env: &Environment<'_>, name: &str) -> bool {
    bounds::is_internal(name) || env.globals().any(|(g, _)| g == name)
}

/// Collects texts and expressions while the compiler checks a library.
pub struct TemplatesBuilder {
    env: Environment<'static>,
    n_templates: u32,
    texts: Vec<Box<[TextPiece]>>,
    template_reads: Vec<Option<Box<[Value]>>>,
    /// Per template, its source as written (the environment holds it
    /// rewritten, see [`bounds`]).
    sources: Vec<Box<str>>,
    /// Distinct expression sources, in the order first seen: `attempts > 2`
    /// is compiled once however many branches test it.
    exprs: Vec<String>,
    /// Per [`ExprId`]: its position in `exprs`.
    expr_ids: Vec<u32>,
    expr_cache: std::collections::HashMap<String, u32>,
    cache: std::collections::HashMap<String, (u32, HashSet<String>)>,
    pub patterns: std::collections::HashMap<String, regex::Regex>,
}

impl Default for TemplatesBuilder {
    fn default() -> Self {
        TemplatesBuilder {
            env: environment(),
            n_templates: 0,
            texts: Vec::new(),
            template_reads: Vec::new(),
            sources: Vec::new(),
            exprs: Vec::new(),
            expr_ids: Vec::new(),
            expr_cache: Default::default(),
            cache: Default::default(),
            patterns: Default::default(),
        }
    }
}

impl TemplatesBuilder {
    /// A builder for prose of several lines (canned replies): a tag on a
    /// line of its own (`{% if params.customer %}`) leaves no blank line or
    /// indentation behind, as an author of a letter expects.
    pub fn for_prose() -> Self {
        let mut b = TemplatesBuilder::default();
        b.env.set_trim_blocks(true);
        b.env.set_lstrip_blocks(true);
        b
    }

    /// Compiles one language's text. Returns the piece and the variables it reads.
    pub fn compile_piece(
        &mut self,
        src: &str,
    ) -> Result<(TextPiece, HashSet<String>), minijinja::Error> {
        if !is_template(src) {
            return Ok((TextPiece::Literal(src.into()), HashSet::new()));
        }
        if let Some((n, vars)) = self.cache.get(src) {
            return Ok((TextPiece::Template(*n), vars.clone()));
        }
        let n = self.n_templates;
        let name = n.to_string();
        // A source that does not parse goes in as it is, for minijinja's
        // own message about it.
        let checked = match bounds::rewrite_template(src) {
            Some(checked) => checked?,
            None => src.to_owned(),
        };
        self.env.add_template_owned(name.clone(), checked)?;
        self.n_templates += 1;
        self.sources.push(src.into());
        let vars: HashSet<String> = self
            .env
            .get_template(&name)
            .map(|t| t.undeclared_variables(false))
            .unwrap_or_default()
            .into_iter()
            .filter(|v| !is_global(&self.env, v))
            .collect();
        self.template_reads.push(
            (!src.contains("{%")).then(|| vars.iter().map(|v| Value::from(v.as_str())).collect()),
        );
        self.cache.insert(src.to_owned(), (n, vars.clone()));
        Ok((TextPiece::Template(n), vars))
    }

    pub fn push_text(&mut self, pieces: Vec<TextPiece>) -> TextId {
        self.texts.push(pieces.into_boxed_slice());
        TextId((self.texts.len() - 1) as u32)
    }

    /// Queues an expression; it is compiled once, by [`finish`](Self::finish).
    pub fn push_expr(&mut self, src: &str) -> ExprId {
        let distinct = match self.expr_cache.get(src) {
            Some(&i) => i,
            None => {
                let i = self.exprs.len() as u32;
                self.exprs.push(src.to_owned());
                self.expr_cache.insert(src.to_owned(), i);
                i
            }
        };
        self.expr_ids.push(distinct);
        ExprId((self.expr_ids.len() - 1) as u32)
    }

    /// Freezes the environment and compiles the expressions against it.
    /// Returns, per expression, the variables it reads or its compile error.
    pub fn finish(self) -> (Templates, Vec<Result<HashSet<String>, minijinja::Error>>) {
        let n = self.n_templates;
        let sources = self.exprs;
        let expr_ids = self.expr_ids;
        let expr_sources: Vec<Box<str>> = expr_ids
            .iter()
            .map(|&i| sources[i as usize].as_str().into())
            .collect();
        let mut results = Vec::with_capacity(sources.len());
        let mut reads_by_source: Vec<Box<[Value]>> = Vec::with_capacity(sources.len());
        let cell = Cell::new(self.env, |env| {
            let templates = (0..n)
                .map(|i| {
                    env.get_template(&i.to_string())
                        .expect("every template was added under its number")
                })
                .collect();
            let mut exprs = Vec::with_capacity(sources.len());
            for src in sources {
                let checked = match bounds::rewrite_expression(&src) {
                    Some(checked) => checked,
                    None => Ok(src),
                };
                match checked.and_then(|c| env.compile_expression_owned(c)) {
                    Ok(e) => {
                        let names: HashSet<String> = e
                            .undeclared_variables(false)
                            .into_iter()
                            .filter(|v| !is_global(env, v))
                            .collect();
                        reads_by_source
                            .push(names.iter().map(|v| Value::from(v.as_str())).collect());
                        results.push(Ok(names));
                        exprs.push(e);
                    }
                    Err(err) => {
                        results.push(Err(err));
                        reads_by_source.push(Box::default());
                        // Keep indices aligned; a program with FP008 is never run.
                        exprs.push(
                            env.compile_expression_owned("false")
                                .expect("`false` compiles"),
                        );
                    }
                }
            }
            Compiled { templates, exprs }
        });
        // Back to one entry per expression as pushed.
        let expr_reads = expr_ids
            .iter()
            .map(|&i| reads_by_source[i as usize].clone())
            .collect();
        let results = expr_ids
            .iter()
            .map(|&i| match &results[i as usize] {
                Ok(vars) => Ok(vars.clone()),
                Err(e) => Err(copy_error(e)),
            })
            .collect();
        (
            Templates {
                parts: vec![cell],
                template_at: (0..n).map(|i| (0, i)).collect(),
                expr_at: expr_ids.iter().map(|&i| (0, i)).collect(),
                texts: self.texts,
                template_reads: self.template_reads,
                expr_reads,
                expr_sources,
                template_sources: self.sources,
            },
            results,
        )
    }
}

/// A copy of a compile error for each use of a repeated expression
/// (`minijinja::Error` is not `Clone`): its kind and detail, which is all a
/// diagnostic shows of it.
fn copy_error(e: &minijinja::Error) -> minijinja::Error {
    match e.detail() {
        Some(d) => minijinja::Error::new(e.kind(), d.to_string()),
        None => minijinja::Error::from(e.kind()),
    }
}

impl Templates {
    pub fn builder() -> TemplatesBuilder {
        TemplatesBuilder::default()
    }

    /// Joins separately built parts into one. Returns, per part, the offsets
    /// to add to the [`TextId`]s and [`ExprId`]s it handed out.
    pub fn merge(parts: Vec<Templates>) -> (Templates, Vec<(u32, u32)>) {
        let mut out = Templates {
            parts: Vec::with_capacity(parts.len()),
            template_at: Vec::new(),
            expr_at: Vec::new(),
            texts: Vec::with_capacity(parts.iter().map(|p| p.texts.len()).sum()),
            template_reads: Vec::new(),
            expr_reads: Vec::new(),
            expr_sources: Vec::new(),
            template_sources: Vec::new(),
        };
        let mut offsets = Vec::with_capacity(parts.len());
        for part in parts {
            let base = out.parts.len() as u32;
            let tmpl_off = out.template_at.len() as u32;
            offsets.push((out.texts.len() as u32, out.expr_sources.len() as u32));
            out.template_at
                .extend(part.template_at.iter().map(|&(p, i)| (p + base, i)));
            out.expr_at
                .extend(part.expr_at.iter().map(|&(p, i)| (p + base, i)));
            out.expr_sources.extend(part.expr_sources);
            out.template_sources.extend(part.template_sources);
            // Both indexed like `template_at` and `expr_at`: appended in order.
            out.template_reads.extend(part.template_reads);
            out.expr_reads.extend(part.expr_reads);
            out.texts.extend(part.texts.into_iter().map(|mut pieces| {
                for piece in pieces.iter_mut() {
                    if let TextPiece::Template(n) = piece {
                        *n += tmpl_off;
                    }
                }
                pieces
            }));
            out.parts.extend(part.parts);
        }
        (out, offsets)
    }

    fn template(&self, n: u32) -> &Template<'_, '_> {
        let (p, i) = self.template_at[n as usize];
        &self.parts[p as usize].borrow_dependent().templates[i as usize]
    }

    pub fn pieces(&self, text: TextId) -> &[TextPiece] {
        &self.texts[text.0 as usize]
    }

    /// The text in the language at `lang` (an index into the script's
    /// languages), rendered against `ctx`.
    pub fn render(
        &self,
        text: TextId,
        lang: usize,
        ctx: &Value,
    ) -> Result<Cow<'_, str>, minijinja::Error> {
        let pieces = &self.texts[text.0 as usize];
        match pieces.get(lang).or_else(|| pieces.first()) {
            Some(TextPiece::Literal(s)) => Ok(Cow::Borrowed(s.as_str())),
            Some(TextPiece::Template(i)) => self.render_bounded(*i, ctx).map(Cow::Owned),
            None => Ok(Cow::Borrowed("")),
        }
    }

    /// One template rendered within the bounds of [`bounds`]: a deadline,
    /// a cap on the output and on every value it makes.
    fn render_bounded(&self, n: u32, ctx: &Value) -> Result<String, minijinja::Error> {
        let guard = bounds::Guard::new();
        let mut out = bounds::CappedOutput { buf: Vec::new() };
        #[allow(deprecated)]
        let r = self.template(n).render_to_write(ctx, &mut out).map(drop);
        guard.finish(r)?;
        String::from_utf8(out.buf).map_err(|_| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "the text rendered to invalid UTF-8",
            )
        })
    }

    /// What the text in the language at `lang` reads (nothing for a literal).
    pub fn text_reads(&self, text: TextId, lang: usize) -> Reads<'_> {
        let pieces = &self.texts[text.0 as usize];
        match pieces.get(lang).or_else(|| pieces.first()) {
            Some(TextPiece::Template(i)) => match &self.template_reads[*i as usize] {
                Some(names) => Reads::Names(names),
                None => Reads::All,
            },
            _ => Reads::Names(&[]),
        }
    }

    /// What an `if:` expression reads.
    pub fn expr_reads(&self, expr: ExprId) -> Reads<'_> {
        Reads::Names(&self.expr_reads[expr.0 as usize])
    }

    /// Evaluates an `if:` expression to true or false.
    pub fn eval(&self, expr: ExprId, ctx: &Value) -> Result<bool, minijinja::Error> {
        let (p, i) = self.expr_at[expr.0 as usize];
        let guard = bounds::Guard::new();
        let r = self.parts[p as usize].borrow_dependent().exprs[i as usize]
            .eval(ctx)
            .map(|v| v.is_true());
        guard.finish(r)
    }

    /// The source of an `if:` expression.
    pub fn expr_source(&self, expr: ExprId) -> &str {
        &self.expr_sources[expr.0 as usize]
    }

    /// The source of a text in one language (for graph labels and docs).
    pub fn source(&self, text: TextId, lang: usize) -> Cow<'_, str> {
        let pieces = &self.texts[text.0 as usize];
        match pieces.get(lang).or_else(|| pieces.first()) {
            Some(TextPiece::Literal(s)) => Cow::Borrowed(s.as_str()),
            Some(TextPiece::Template(i)) => Cow::Borrowed(&self.template_sources[*i as usize]),
            None => Cow::Borrowed(""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn literals_skip_the_engine_and_templates_render_by_index() {
        let mut b = Templates::builder();
        let (lit, vars) = b.compile_piece("Is it on?").expect("compiles");
        assert!(matches!(lit, TextPiece::Literal(_)));
        assert!(vars.is_empty());
        let (tpl, vars) = b
            .compile_piece("Hello {{ params.customer }}, is the {{ device }} on?")
            .expect("compiles");
        assert!(matches!(tpl, TextPiece::Template(0)));
        assert_eq!(
            vars,
            HashSet::from(["params".to_string(), "device".to_string()])
        );
        let t = b.push_text(vec![lit, tpl]);
        let e = b.push_expr("attempts > 2");
        let again = b.push_expr("attempts > 2");
        let other = b.push_expr("attempts > 5");
        let (templates, results) = b.finish();
        assert_eq!(results.len(), 3);
        let ctx = Value::from_serialize(
            context! { device => "router", params => context!{ customer => "Ann" }, attempts => 3 },
        );
        assert_eq!(templates.render(t, 0, &ctx).expect("renders"), "Is it on?");
        assert_eq!(
            templates.render(t, 1, &ctx).expect("renders"),
            "Hello Ann, is the router on?"
        );
        assert!(templates.eval(e, &ctx).expect("evaluates"));
        // A repeated expression shares the compiled one; its id still works.
        assert!(templates.eval(again, &ctx).expect("evaluates"));
        assert!(!templates.eval(other, &ctx).expect("evaluates"));
        assert_eq!(templates.expr_source(again), "attempts > 2");
        assert_eq!(templates.expr_source(other), "attempts > 5");
    }

    #[test]
    fn merged_parts_keep_every_text_and_expression_apart() {
        let part = |greeting: &str, expr: &str| {
            let mut b = Templates::builder();
            let lit = b.push_text(vec![TextPiece::Literal("plain".into())]);
            let (p, _) = b.compile_piece(greeting).expect("compiles");
            let t = b.push_text(vec![p]);
            let e = b.push_expr(expr);
            let (templates, results) = b.finish();
            assert!(results.iter().all(Result::is_ok));
            (templates, lit, t, e)
        };
        let (a, a_lit, a_t, a_e) = part("Hello {{ name }}", "n > 1");
        let (b, b_lit, b_t, b_e) = part("Goodbye {{ name }}", "n > 5");
        let (merged, offsets) = Templates::merge(vec![a, b]);
        assert_eq!(offsets, vec![(0, 0), (2, 1)]);
        let at = |t: TextId, k: usize| TextId(t.0 + offsets[k].0);
        let ex = |e: ExprId, k: usize| ExprId(e.0 + offsets[k].1);
        let ctx = Value::from_serialize(context! { name => "Ann", n => 3 });
        assert_eq!(
            merged.render(at(a_lit, 0), 0, &ctx).expect("renders"),
            "plain"
        );
        assert_eq!(
            merged.render(at(b_lit, 1), 0, &ctx).expect("renders"),
            "plain"
        );
        assert_eq!(
            merged.render(at(a_t, 0), 0, &ctx).expect("renders"),
            "Hello Ann"
        );
        assert_eq!(
            merged.render(at(b_t, 1), 0, &ctx).expect("renders"),
            "Goodbye Ann"
        );
        assert_eq!(merged.source(at(b_t, 1), 0), "Goodbye {{ name }}");
        assert!(merged.eval(ex(a_e, 0), &ctx).expect("evaluates"));
        assert!(!merged.eval(ex(b_e, 1), &ctx).expect("evaluates"));
        assert_eq!(merged.expr_source(ex(b_e, 1)), "n > 5");
        // Template numbers are global after the merge: the second part's
        // first template follows the first part's.
        assert_eq!(merged.pieces(at(b_t, 1)), &[TextPiece::Template(1)]);
    }

    #[test]
    fn broken_templates_and_expressions_are_errors_not_panics() {
        let mut b = Templates::builder();
        assert!(b.compile_piece("Is the {{ device light on?").is_err());
        b.push_expr("attempts >");
        b.push_expr("attempts > 1");
        b.push_expr("attempts >");
        let (_, results) = b.finish();
        assert!(results[0].is_err());
        assert!(results[1].is_ok());
        // Each use of a broken expression is reported where it stands.
        assert!(results[2].is_err());
    }

    #[test]
    fn runaway_templates_run_out_of_fuel() {
        let mut b = Templates::builder();
        let (p, _) = b
            .compile_piece(
                "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
            )
            .expect("compiles");
        let t = b.push_text(vec![p]);
        let (templates, _) = b.finish();
        assert!(templates.render(t, 0, &Value::UNDEFINED).is_err());
    }
}
