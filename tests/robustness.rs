use fixpath::compiler::compile_texts;

const GOOD: &str = "id: good-id\ntitle: Good script\nnodes:\n  power:\n    ask: Is the power light on?\n    answers:\n      - Yes: done\n      - No: replug\n  replug:\n    say: Plug it back in.\n    next: done\n  done:\n    resolve: Fixed\n";

fn show(name: &str, text: &str) {
    let t = std::time::Instant::now();
    let comp = compile_texts([
        ("good.yaml", GOOD.to_string()),
        ("bad.yaml", text.to_string()),
    ]);
    println!(
        "=== {name} ({:?}) good={}",
        t.elapsed(),
        comp.program.get("good-id").is_some()
    );
    for d in comp.diagnostics.iter().take(6) {
        let m: String = d.message.chars().take(200).collect();
        println!(
            "  {} {} {}:{} {} | hints {:?}",
            comp.sources.path(d.file),
            d.code.as_str(),
            d.span.start.line,
            d.span.start.column,
            m,
            d.hints
                .iter()
                .map(|h| h.chars().take(100).collect::<String>())
                .collect::<Vec<_>>()
        );
    }
    println!("  total {}", comp.diagnostics.len());
}

#[test]
fn explore() {
    show("good alone", "");
    let mut s = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let p = i - 1;
        s.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    show("bomb lists", &s);
    let mut s = String::from("a0: &a0 {a: lol, b: lol, c: lol, d: lol}\n");
    for i in 1..14 {
        let p = i - 1;
        s.push_str(&format!(
            "a{i}: &a{i} {{a: *a{p}, b: *a{p}, c: *a{p}, d: *a{p}}}\n"
        ));
    }
    show("bomb maps", &s);
    let mut s = String::from("a0: &a0 {x: [lol, lol]}\n");
    for i in 1..20 {
        let p = i - 1;
        s.push_str(&format!(
            "a{i}: &a{i} {{ *a{p} : *a{p}, [*a{p}]: *a{p} }}\n"
        ));
    }
    show("bomb keys", &s);
    show("deep [", &"[".repeat(50_000));
    show("deep {a:", &"{a: ".repeat(50_000));
    show("deep - ", &"- ".repeat(50_000));
    let mut s = String::new();
    for i in 0..2000 {
        s.push_str(&" ".repeat(i));
        s.push_str("a:\n");
    }
    show("deep block map", &s);
    show("empty", "");
    show("ws", "  \n\n\t\n   ");
    show("comment", "# just a comment\n# another\n");
    show("list", "- id: x\n- title: y\n");
    show("scalar", "hello world\n");
    show("int", "42\n");
    show(
        "multi doc",
        "id: a\ntitle: A\nnodes: {n: {resolve: ok}}\n---\nid: b\n",
    );
    show(
        "tab",
        "id: tabbed\ntitle: T\nnodes:\n\tn:\n\t\tresolve: ok\n",
    );
    show(
        "bom",
        "\u{feff}id: bom-id\ntitle: T\nnodes:\n  n:\n    resolve: ok\n",
    );
    show(
        "crlf",
        "id: crlf-id\r\ntitle: T\r\nnodes:\r\n  n:\r\n    resolve: ok\r\n    colour: red\r\n",
    );
    show(
        "key map top",
        "? {a: 1} : b\nid: k\ntitle: T\nnodes: {n: {resolve: ok}}\n",
    );
    show(
        "key map node",
        "id: k\ntitle: T\nnodes:\n  ? {a: 1}\n  : {resolve: ok}\n",
    );
    show(
        "key seq top",
        "[a, b]: c\nid: k\ntitle: T\nnodes: {n: {resolve: ok}}\n",
    );
    show(
        "huge",
        &format!(
            "id: huge\ntitle: \"{}\"\nnodes: {{n: {{resolve: ok}}}}\n",
            "x".repeat(5_000_000)
        ),
    );
    show(
        "huge plain",
        &format!(
            "id: huge\ntitle: {}\nnodes: {{n: {{resolve: ok}}}}\nbad: 1\n",
            "x".repeat(5_000_000)
        ),
    );
    show(
        "garbage",
        &String::from_utf8_lossy(&[0u8, 1, 2, 0xff, 0xfe, b':', b'[', 0, 0x80]),
    );
    show("nul", "id: a\0b\ntitle: x\n");
    show("anchor unknown", "a: *nope\n");
    show("wrong types", "id: [1]\ntitle: {x: [1]}\nnodes: 5\n");
}
