//! The minijinja environment for our own templates (`templates/`): the
//! ticket text of an escalation, every web page and the case mails, embedded
//! in the binary so it runs from anywhere. Undefined variables are errors
//! here: a typo in our own template must surface in tests, not render blank.

use std::sync::OnceLock;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/", $name)))),*]
    };
}

/// Every template, by its path under `templates/`. Names ending in
/// `.html.j2` are HTML-escaped on output; the rest (ticket text) are not.
const TEMPLATES: &[(&str, &str)] = templates![
    "escalation.txt.j2",
    "base.html.j2",
    "_macros.html.j2",
    "error.html.j2",
    "signin.html.j2",
    "wizard/list.html.j2",
    "wizard/_session.html.j2",
    "wizard/step.html.j2",
    "wizard/check.html.j2",
    "wizard/end.html.j2",
    "wizard/case.html.j2",
    "wizard/_feedback.html.j2",
    "wizard/status.html.j2",
    "console/home.html.j2",
    "console/step.html.j2",
    "queue/list.html.j2",
    "queue/item.html.j2",
    "author/home.html.j2",
    "author/script.html.j2",
    "admin/users.html.j2",
    "mail/_layout.html.j2",
    "mail/_quote.html.j2",
    "mail/received.txt.j2",
    "mail/received.html.j2",
    "mail/reply.txt.j2",
    "mail/reply.html.j2",
    "mail/resolved.txt.j2",
    "mail/resolved.html.j2",
    "mail/link.txt.j2",
    "mail/link.html.j2",
];

fn env() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        // Everything a page shows came from someone (names, inputs, notes,
        // params): escaped unless a template is plain text.
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html.j2") {
                minijinja::AutoEscape::Html
            } else {
                minijinja::AutoEscape::None
            }
        });
        // `plural("key", n)`: a catalogue entry with plural forms, in the
        // page's chrome language (`chrome.lang`), `{n}` filled in.
        env.add_function("plural", |state: &minijinja::State, key: &str, n: u64| {
            let lang = state
                .lookup("chrome")
                .and_then(|c| c.get_attr("lang").ok())
                .and_then(|l| l.as_str().map(str::to_owned))
                .unwrap_or_else(|| "en".into());
            crate::http::web::i18n::count(&lang, key, n)
        });
        for (name, src) in TEMPLATES {
            env.add_template(name, src)
                .expect("embedded templates compile (checked by tests)");
        }
        env
    })
}

/// Renders one of our templates.
pub(crate) fn render<S: serde::Serialize>(name: &str, ctx: S) -> Result<String, minijinja::Error> {
    env().get_template(name)?.render(ctx)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_embedded_template_compiles() {
        let _ = super::env();
    }
}
