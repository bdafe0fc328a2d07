use fixpath::compiler::compile_texts;
use fixpath::diagnostics::render;
fn show(name: &str, text: &str) {
    let t = std::time::Instant::now();
    let comp = compile_texts([("bad.yaml", text.to_string())]);
    let el = t.elapsed();
    let t = std::time::Instant::now();
    let h = render::human(&comp.diagnostics, &comp.sources, false);
    println!(
        "=== {name} compile {:?} human {:?} ({} bytes) scripts {}",
        el,
        t.elapsed(),
        h.len(),
        comp.program.scripts.len()
    );
    for d in comp.diagnostics.iter().take(6) {
        let m: String = d.message.chars().take(200).collect();
        println!(
            "  {} {}:{}-{}:{} {} (len {}) | hints {:?}",
            d.code.as_str(),
            d.span.start.line,
            d.span.start.column,
            d.span.end.line,
            d.span.end.column,
            m,
            d.message.len(),
            d.hints
                .iter()
                .map(|h| h.chars().take(100).collect::<String>())
                .collect::<Vec<_>>()
        );
    }
    if h.len() < 3000 {
        println!("{h}");
    }
}
fn chain(n: usize, cycle: bool) -> String {
    let mut s = String::from("id: chain-id\ntitle: Long chain\nnodes:\n");
    for i in 0..n {
        if i + 1 == n && !cycle {
            s.push_str(&format!("  n{i}:\n    resolve: Done\n"));
            continue;
        }
        let next = if i + 1 == n { 0 } else { i + 1 };
        s.push_str(&format!("  n{i}:\n    ask: Step {i}?\n    answers:\n      - Next: n{next}\n      - Fixed: {{ resolve: Fixed at {i} }}\n"));
    }
    s
}
#[test]
fn explore() {
    show("chain", &chain(20_000, false));
    show("chain cycle", &chain(20_000, true));
    show(
        "bom err",
        "\u{feff}idd: x\nid: a\ntitle: T\nnodes: {n: {resolve: ok}}\n",
    );
    show(
        "cr only",
        "id: cr\rtitle: T\rnodes:\r  n:\r    resolve: ok\r    colour: red\r",
    );
    show(
        "huge unterminated",
        &format!(
            "id: huge\ntitle: \"{}\nnodes: {{n: {{resolve: ok}}}}\n",
            "x".repeat(5_000_000)
        ),
    );
    show(
        "huge key err",
        &format!(
            "id: huge\n{}: 1\ntitle: t\nnodes: {{n: {{resolve: ok}}}}\n",
            "x".repeat(5_000_000)
        ),
    );
    show(
        "tab",
        "id: tabbed\ntitle: T\nnodes:\n\tn:\n\t\tresolve: ok\n",
    );
    show(
        "tab2",
        "id: tabbed\ntitle: T\nnodes:\n  n:\n  \tresolve: ok\n",
    );
    show(
        "key map top",
        "? {a: 1} : b\nid: k\ntitle: T\nnodes: {n: {resolve: ok}}\n",
    );
    show(
        "doc start",
        "---\nid: k\ntitle: T\nnodes: {n: {resolve: ok}}\n...\n",
    );
    show(
        "doc start 2",
        "---\nid: k\ntitle: T\nnodes: {n: {resolve: ok}}\n...\n---\nid: k2\n",
    );
}
