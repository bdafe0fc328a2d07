//! The rewriter: routes everything in a text that can make a large value
//! or repeat work through the checks.

use minijinja::machinery::ast::{self, BinOpKind, CallArg, Expr, Stmt};
use minijinja::{Error, ErrorKind};

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
