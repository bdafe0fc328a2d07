//! The minijinja environment for our own templates (`templates/`), embedded
//! in the binary so it runs from anywhere. Undefined variables are errors
//! here: a typo in our own template must surface in tests, not render blank.

use std::sync::OnceLock;

const TEMPLATES: &[(&str, &str)] = &[(
    "escalation.txt.j2",
    include_str!("../../templates/escalation.txt.j2"),
)];

fn env() -> &'static minijinja::Environment<'static> {
    static ENV: OnceLock<minijinja::Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        for (name, src) in TEMPLATES {
            env.add_template(name, src)
                .expect("embedded templates compile (checked by tests)");
        }
        env
    })
}

/// Renders one of our templates.
pub fn render<S: serde::Serialize>(name: &str, ctx: S) -> Result<String, minijinja::Error> {
    env().get_template(name)?.render(ctx)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_embedded_template_compiles() {
        let _ = super::env();
    }
}
