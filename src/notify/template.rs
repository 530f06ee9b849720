//! The `[notify] template`: message text with named placeholders (`{title}`, `{clients}`, …).
//!
//! `{{` and `}}` write literal braces. An unknown placeholder or an unclosed brace is a configuration
//! error naming it, reported by the TOML parser with the file and line of the template.

use serde::{Deserialize, Deserializer};
use std::str::FromStr;

/// Every placeholder a template may use, with what it stands for (README lists the same).
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("title", "the title, e.g. `v1.5.0 deployed to production`"),
    ("status", "`success`, `failed` or `canceled`"),
    ("emoji", "the status emoji"),
    ("project", "the project's name"),
    ("project_path", "`group/project`"),
    ("tag", "the tag being released (empty when none)"),
    ("ref", "the branch or tag name"),
    ("version", "the tag, else the ref, else the short sha"),
    (
        "environment",
        "the environment deployed to (empty when none)",
    ),
    ("pipeline_url", "the pipeline's page"),
    (
        "job_url",
        "the failing job's page (the current job's on success)",
    ),
    ("failed_step", "the step that failed (empty on success)"),
    ("commit_title", "the first line of the commit message"),
    ("short_sha", "the commit's short sha"),
    ("commit_url", "the commit's page"),
    ("user", "who started the pipeline"),
    ("duration", "how long the pipeline (or the steps) took"),
    ("steps", "one line per step: status, name, headline, time"),
    (
        "clients",
        "one line per deployed client (summarised when long)",
    ),
    ("findings", "finding counts per scan rule"),
    ("image", "the image built, with its digest when known"),
    ("digest", "the image digest (`sha256:…`)"),
    ("details", "the whole default message below its title line"),
];

/// True when `name` is a known placeholder.
pub fn is_placeholder(name: &str) -> bool {
    PLACEHOLDERS.iter().any(|(n, _)| *n == name)
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

/// A parsed message template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Fills the placeholders with `value(name)`.
    pub fn render(&self, value: &dyn Fn(&str) -> String) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => out.push_str(&value(v)),
            }
        }
        out
    }

    /// True when the template uses the placeholder `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, Part::Var(v) if v == name))
    }
}

impl FromStr for Template {
    type Err = String;

    fn from_str(s: &str) -> Result<Template, String> {
        let known = || {
            PLACEHOLDERS
                .iter()
                .map(|(n, _)| format!("{{{n}}}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = s.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|x| x.1) == Some('{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().map(|x| x.1) == Some('}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let rest = &s[i + 1..];
                    let Some(end) = rest.find('}') else {
                        return Err(format!(
                            "unclosed {{ in the notify template at character {i}: write {{{{ for a literal brace"
                        ));
                    };
                    let name = rest[..end].trim();
                    if !is_placeholder(name) {
                        return Err(format!(
                            "unknown placeholder {{{name}}} in the notify template; known placeholders: {}",
                            known()
                        ));
                    }
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Var(name.to_string()));
                    // Skip the name and the closing brace.
                    for _ in 0..rest[..=end].chars().count() {
                        chars.next();
                    }
                }
                '}' => {
                    return Err(format!(
                        "stray }} in the notify template at character {i}: write }}}} for a literal brace"
                    ));
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template { parts })
    }
}

impl<'de> Deserialize<'de> for Template {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Template, D::Error> {
        let s = String::deserialize(d)?;
        Template::from_str(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_placeholders_and_escapes() {
        let t: Template = "{emoji} {title} {{literal}} — {clients}".parse().unwrap();
        let r = t.render(&|n| format!("<{n}>"));
        assert_eq!(r, "<emoji> <title> {literal} — <clients>");
        assert!(t.uses("clients"));
        assert!(!t.uses("steps"));
    }

    #[test]
    fn unknown_placeholder_is_named() {
        let e = "{title} {colour}".parse::<Template>().unwrap_err();
        assert!(e.contains("{colour}"), "{e}");
        assert!(e.contains("{title}"), "lists the known ones: {e}");
        assert!(
            "{title"
                .parse::<Template>()
                .unwrap_err()
                .contains("unclosed")
        );
        assert!("x } y".parse::<Template>().unwrap_err().contains("stray"));
    }

    #[test]
    fn config_error_names_file_line_and_placeholder() {
        let text = "[notify]\nstream = \"deploys\"\ntemplate = \"{title} {nope}\"\n";
        let e =
            crate::config::Config::parse(text, std::path::Path::new("stevedore.toml")).unwrap_err();
        let msg = crate::exit::render(&e);
        assert!(msg.contains("stevedore.toml:3"), "{msg}");
        assert!(msg.contains("{nope}"), "{msg}");
        assert_eq!(crate::exit::code_of(&e), crate::exit::ExitCode::Usage);
    }
}
