//! Templates for the provider requests: `{image}`, `{digest}`, `{version}`, `{client}`, `{name}`,
//! `{environment}`, `{repository}` are replaced in URLs, header values and every string of a JSON body.

use serde::Serialize;
use std::collections::BTreeMap;

/// The placeholders a template may use.
pub const PLACEHOLDERS: &[&str] = &[
    "image",
    "digest",
    "version",
    "client",
    "name",
    "environment",
    "repository",
];

/// The values of the placeholders for one target.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Vars {
    /// `{image}`: the full `repository@sha256:…` reference.
    pub image: String,
    /// `{digest}`: `sha256:…`.
    pub digest: String,
    /// `{version}`: the release version (may be empty).
    pub version: String,
    /// `{client}`: the target's client (default its name).
    pub client: String,
    /// `{name}`: the target's name.
    pub name: String,
    /// `{environment}`: staging or production.
    pub environment: String,
    /// `{repository}`: the image reference before `@`.
    pub repository: String,
}

impl Vars {
    fn get(&self, k: &str) -> Option<&str> {
        Some(match k {
            "image" => &self.image,
            "digest" => &self.digest,
            "version" => &self.version,
            "client" => &self.client,
            "name" => &self.name,
            "environment" => &self.environment,
            "repository" => &self.repository,
            _ => return None,
        })
    }
}

/// The `{word}` placeholders of a template, in order.
fn placeholders(t: &str) -> Vec<(usize, usize, &str)> {
    let mut v = Vec::new();
    let b = t.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'{' {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_lowercase() || b[j] == b'_') {
                j += 1;
            }
            if j < b.len() && b[j] == b'}' && j > i + 1 {
                v.push((i, j + 1, &t[i + 1..j]));
                i = j + 1;
                continue;
            }
        }
        i += 1;
    }
    v
}

/// Checks that a template uses only known placeholders.
pub fn check(t: &str) -> Result<(), String> {
    for (_, _, name) in placeholders(t) {
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}} in `{t}`: use one of {}",
                PLACEHOLDERS
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    Ok(())
}

/// Whether template `t` uses the placeholder `{name}`.
pub fn uses(t: &str, name: &str) -> bool {
    placeholders(t).iter().any(|(_, _, n)| *n == name)
}

/// Whether any string (key or value) of a JSON body template uses the placeholder `{name}`.
pub fn uses_json(v: &serde_json::Value, name: &str) -> bool {
    match v {
        serde_json::Value::String(s) => uses(s, name),
        serde_json::Value::Array(a) => a.iter().any(|x| uses_json(x, name)),
        serde_json::Value::Object(o) => o.iter().any(|(k, v)| uses(k, name) || uses_json(v, name)),
        _ => false,
    }
}

/// Replaces the placeholders of `t`.
pub fn render(t: &str, vars: &Vars) -> String {
    let mut out = String::with_capacity(t.len());
    let mut last = 0;
    for (a, b, name) in placeholders(t) {
        out.push_str(&t[last..a]);
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => out.push_str(&t[a..b]),
        }
        last = b;
    }
    out.push_str(&t[last..]);
    out
}

/// Checks every string of a JSON body template.
pub fn check_json(v: &serde_json::Value) -> Result<(), String> {
    match v {
        serde_json::Value::String(s) => check(s),
        serde_json::Value::Array(a) => a.iter().try_for_each(check_json),
        serde_json::Value::Object(o) => o.iter().try_for_each(|(k, v)| {
            check(k)?;
            check_json(v)
        }),
        _ => Ok(()),
    }
}

/// Renders every string (keys too) of a JSON body template; numbers and booleans stay as they are.
pub fn render_json(v: &serde_json::Value, vars: &Vars) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) => serde_json::Value::String(render(s, vars)),
        serde_json::Value::Array(a) => a.iter().map(|x| render_json(x, vars)).collect(),
        serde_json::Value::Object(o) => o
            .iter()
            .map(|(k, v)| (render(k, vars), render_json(v, vars)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        other => other.clone(),
    }
}

/// Renders a map of header templates.
pub fn render_map(m: &BTreeMap<String, String>, vars: &Vars) -> Vec<(String, String)> {
    m.iter()
        .map(|(k, v)| (k.clone(), render(v, vars)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_checks() {
        let vars = Vars {
            image: "r/app@sha256:ab".into(),
            digest: "sha256:ab".into(),
            version: "1.2.0".into(),
            client: "acme".into(),
            ..Vars::default()
        };
        assert_eq!(
            render("https://x/{client}/svc?v={version}", &vars),
            "https://x/acme/svc?v=1.2.0"
        );
        assert!(check("{client}{oops}").unwrap_err().contains("{oops}"));
        assert!(check("literal {A} and { x }").is_ok());
        assert!(uses("https://x/{client}?v={version}", "version"));
        assert!(!uses("https://x/{client}", "version"));
        assert!(uses_json(
            &serde_json::json!({"a": ["{version}"]}),
            "version"
        ));
        assert!(!uses_json(
            &serde_json::json!({"a": 1, "b": "{image}"}),
            "version"
        ));
        let body = serde_json::json!({"image": "{image}", "replicas": 2, "tags": ["{version}"]});
        assert_eq!(
            render_json(&body, &vars),
            serde_json::json!({"image": "r/app@sha256:ab", "replicas": 2, "tags": ["1.2.0"]})
        );
    }
}
