//! SVG, drawn without any external program. (Being replaced by a layered
//! layout; this first version stacks nodes in file order.)

use super::Model;

pub fn render(m: &Model) -> String {
    let h = 40 + m.nodes.len() * 50;
    let mut o =
        format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"600\" height=\"{h}\">\n");
    for (i, n) in m.nodes.iter().enumerate() {
        o.push_str(&format!(
            "<text x=\"10\" y=\"{}\">{}</text>\n",
            30 + i * 50,
            n.title.replace('&', "&amp;").replace('<', "&lt;")
        ));
    }
    o.push_str("</svg>\n");
    o
}
