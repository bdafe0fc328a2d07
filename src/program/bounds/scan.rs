//! The FP107 scan: what makes a text costly to render inside a loop.

use minijinja::machinery::ast::{BinOpKind, CallArg, Expr, Stmt};

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
