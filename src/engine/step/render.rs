//! Texts and expressions rendered for one session.

use crate::engine::{Session, Vars};
use crate::program::templates::Reads;
use crate::program::{Program, Script, Text, TextId, TextPiece};
use serde_json::Value as Json;
use std::borrow::Cow;
use std::cell::OnceCell;

/// Renders texts for one step. Literals need no context at all; a template
/// or expression gets a context of just the names it reads (see
/// [`Reads`]), so a step never converts every variable and parameter.
pub(super) struct Renderer<'a> {
    program: &'a Program,
    s: &'a Session,
    lang: usize,
    ctx: OnceCell<minijinja::Value>,
}

#[derive(serde::Serialize)]
struct Ctx<'a> {
    #[serde(flatten)]
    vars: &'a Vars,
    channel: &'a str,
    language: &'a str,
    tier: u8,
    params: &'a Vars,
}

impl<'a> Renderer<'a> {
    pub(super) fn new(program: &'a Program, s: &'a Session, script: &Script) -> Self {
        let lang = script.language_index(&s.language).unwrap_or(0);
        Renderer {
            program,
            s,
            lang,
            ctx: OnceCell::new(),
        }
    }

    /// The text in the session's language: a literal is shared with the
    /// program (no copy); a template is rendered.
    pub(super) fn text(&self, id: TextId) -> Result<Text, minijinja::Error> {
        let pieces = self.program.templates.pieces(id);
        if let Some(TextPiece::Literal(l)) = pieces.get(self.lang).or_else(|| pieces.first()) {
            return Ok(l.clone());
        }
        let ctx = self.scope(self.program.templates.text_reads(id, self.lang));
        self.program
            .templates
            .render(id, self.lang, &ctx)
            .map(|c| Text::from(&*c))
    }

    /// The text in the session's language if it is a literal (shared with
    /// the program); `None` for a template.
    pub(super) fn literal(&self, id: TextId) -> Option<Text> {
        let pieces = self.program.templates.pieces(id);
        match pieces.get(self.lang).or_else(|| pieces.first()) {
            Some(TextPiece::Literal(l)) => Some(l.clone()),
            _ => None,
        }
    }

    /// The text in the session's language, borrowed where it is a literal
    /// (for values that are parsed, not kept).
    pub(super) fn render(&self, id: TextId) -> Result<Cow<'a, str>, minijinja::Error> {
        let program: &'a Program = self.program;
        let pieces = program.templates.pieces(id);
        if let Some(TextPiece::Literal(l)) = pieces.get(self.lang).or_else(|| pieces.first()) {
            return Ok(Cow::Borrowed(l.as_str()));
        }
        let ctx = self.scope(program.templates.text_reads(id, self.lang));
        program.templates.render(id, self.lang, &ctx)
    }

    /// The context for one render: the names it reads, or everything.
    fn scope(&self, reads: Reads<'_>) -> minijinja::Value {
        match reads {
            Reads::All => self.ctx().clone(),
            Reads::Names(names) => minijinja::Value::from_iter(names.iter().filter_map(|k| {
                let v = self.lookup(k.as_str()?)?;
                Some((k.clone(), v))
            })),
        }
    }

    /// One name of the context, as the whole context would have it: the
    /// built-ins win over variables of the same name.
    fn lookup(&self, name: &str) -> Option<minijinja::Value> {
        use minijinja::Value;
        Some(match name {
            "channel" => Value::from(self.s.channel.as_str()),
            "language" => Value::from(self.s.language.as_str()),
            "tier" => Value::from(self.s.tier),
            "params" => Value::from_serialize(&self.s.params),
            _ => match self.s.vars.get(name)? {
                Json::Null => Value::from(()),
                Json::Bool(b) => Value::from(*b),
                Json::String(s) => Value::from(s.as_str()),
                // As serde would hand the number over: unsigned first.
                Json::Number(n) => match (n.as_u64(), n.as_i64()) {
                    (Some(u), _) => Value::from(u),
                    (None, Some(i)) => Value::from(i),
                    _ => Value::from(n.as_f64().unwrap_or(f64::NAN)),
                },
                other => Value::from_serialize(other),
            },
        })
    }

    /// The whole template context: the variables and the built-ins (for
    /// templates with statements), built at most once per step.
    fn ctx(&self) -> &minijinja::Value {
        self.ctx.get_or_init(|| {
            minijinja::Value::from_serialize(Ctx {
                vars: &self.s.vars,
                channel: self.s.channel.as_str(),
                language: &self.s.language,
                tier: self.s.tier,
                params: &self.s.params,
            })
        })
    }

    /// Does the text render? Literals need no work at all.
    pub(super) fn check(&self, id: TextId) -> Result<(), minijinja::Error> {
        let pieces = self.program.templates.pieces(id);
        match pieces.get(self.lang).or_else(|| pieces.first()) {
            Some(TextPiece::Template(_)) => self.render(id).map(drop),
            _ => Ok(()),
        }
    }

    pub(super) fn eval(&self, e: crate::program::ExprId) -> Result<bool, minijinja::Error> {
        let ctx = self.scope(self.program.templates.expr_reads(e));
        self.program.templates.eval(e, &ctx)
    }
}
