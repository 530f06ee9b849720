//! What `notify` reads from the other steps' facts in the run summary. Each reader is tolerant: a missing
//! or oddly shaped field is left out of the message, never an error.
//!
//! The shapes expected (documented in README under `## notify`):
//! - `deploy`: `{"environment": "production", "targets": [{"name", "environment", "status"
//!   ("ok"|"failed"|"timeout"|"skipped"), "duration_ms", "expected", "observed", "url", "error"}]}`
//!   (`clients` is accepted for `targets`);
//! - `build`: `{"image": "registry/group/app", "digest": "sha256:…", "image_digest": "registry/group/app@sha256:…",
//!   "tags": ["1.5.0", …]}`;
//! - `scan`: `{"findings": 3, "by_rule": {"rule-id": 2, …}}` (`findings_per_rule` or `rules` accepted for
//!   `by_rule`, as a map or a list of `{"rule", "count"}`).
//!
//! `digest` may be the bare `sha256:…` or the whole `repo@sha256:…` reference; when no build step ran, the
//! deploy step's `image`/`digest` name the image.

use crate::summary::{RunSummary, Status, StepOutcome};
use serde_json::Value;

/// How one client's deploy ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientStatus {
    /// Deployed and verified.
    Ok,
    /// The deploy or its verification failed.
    Failed,
    /// Verification ran out of time.
    Timeout,
    /// Not deployed (e.g. `--only` another client, or fail-fast).
    Skipped,
    /// Anything else the deploy step reported.
    Other(String),
}

impl ClientStatus {
    fn parse(s: &str) -> ClientStatus {
        match s.to_ascii_lowercase().as_str() {
            "ok" | "success" | "succeeded" | "deployed" => ClientStatus::Ok,
            "failed" | "failure" | "error" | "rolled_back" | "rolled-back" => ClientStatus::Failed,
            "timeout" | "timed_out" | "timed-out" => ClientStatus::Timeout,
            "skipped" => ClientStatus::Skipped,
            other => ClientStatus::Other(other.to_string()),
        }
    }

    /// True when the client did not end up running the new release.
    pub fn is_bad(&self) -> bool {
        matches!(
            self,
            ClientStatus::Failed | ClientStatus::Timeout | ClientStatus::Other(_)
        )
    }

    /// The word shown in the message.
    pub fn word(&self) -> &str {
        match self {
            ClientStatus::Ok => "ok",
            ClientStatus::Failed => "failed",
            ClientStatus::Timeout => "timeout",
            ClientStatus::Skipped => "skipped",
            ClientStatus::Other(s) => s,
        }
    }
}

/// One client's deploy, as the deploy step recorded it.
#[derive(Clone, Debug)]
pub struct Client {
    /// The target's name.
    pub name: String,
    /// Its environment.
    pub environment: Option<String>,
    /// How it ended.
    pub status: ClientStatus,
    /// How long it took.
    pub duration_ms: Option<u64>,
    /// The digest or version it should run.
    pub expected: Option<String>,
    /// What verification saw.
    pub observed: Option<String>,
    /// The client's URL.
    pub url: Option<String>,
    /// A short reason, when it failed.
    pub error: Option<String>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The outcome of a step, if it ran.
pub fn step<'a>(summary: &'a RunSummary, name: &str) -> Option<&'a StepOutcome> {
    summary.steps.iter().find(|s| s.step == name)
}

/// The deploy's clients, in the order the deploy step listed them.
pub fn clients(summary: &RunSummary) -> Vec<Client> {
    let Some(d) = step(summary, "deploy") else {
        return Vec::new();
    };
    let list = d
        .facts
        .get("targets")
        .or_else(|| d.facts.get("clients"))
        .and_then(Value::as_array);
    let Some(list) = list else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|t| {
            let name = text(t, "name").or_else(|| text(t, "client"))?;
            Some(Client {
                name,
                environment: text(t, "environment"),
                status: ClientStatus::parse(&text(t, "status").unwrap_or_else(|| "unknown".into())),
                duration_ms: t.get("duration_ms").and_then(Value::as_u64),
                expected: text(t, "expected"),
                observed: text(t, "observed"),
                url: text(t, "url"),
                error: text(t, "error").or_else(|| text(t, "reason")),
            })
        })
        .collect()
}

/// The environment the deploy step deployed to.
pub fn deploy_environment(summary: &RunSummary) -> Option<String> {
    let d = step(summary, "deploy")?;
    if d.status == Status::Skipped {
        return None;
    }
    text(&d.facts, "environment")
        .or_else(|| clients(summary).into_iter().find_map(|c| c.environment))
}

/// Splits an image reference and a digest as the steps record them: `digest` may be the bare
/// `sha256:…` or the whole `repo@sha256:…` reference. Returns (`repo@sha256:…` or the image, the digest).
fn image_and_digest(
    image: Option<String>,
    digest: Option<String>,
) -> Option<(String, Option<String>)> {
    let bare = |r: &str| r.split_once('@').map(|x| x.1.to_string());
    if let Some(d) = &digest
        && d.contains('@')
    {
        return Some((d.clone(), bare(d)));
    }
    let image = image?;
    if image.contains('@') {
        let d = digest.or_else(|| bare(&image));
        return Some((image, d));
    }
    match digest {
        Some(d) => {
            // Drop a tag before adding the digest: `repo:1.5.0` → `repo@sha256:…` (a registry port stays).
            let slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
            let repo = match image[slash..].rfind(':') {
                Some(c) => &image[..slash + c],
                None => &image[..],
            };
            Some((format!("{repo}@{d}"), Some(d)))
        }
        None => Some((image, None)),
    }
}

/// The image released: the build step's, else the one the deploy step deployed. Returns
/// (`repo@sha256:…`, or the image reference when no digest is known; the digest).
pub fn image(summary: &RunSummary) -> Option<(String, Option<String>)> {
    let from = |name: &str| {
        let s = step(summary, name)?;
        if s.status == Status::Skipped {
            return None;
        }
        let f = &s.facts;
        let digest = text(f, "image_digest").or_else(|| text(f, "digest"));
        let image = text(f, "image").or_else(|| text(f, "repository"));
        image_and_digest(image, digest)
    };
    from("build").or_else(|| from("deploy"))
}

/// The scan's finding counts per rule, largest first, and the total.
pub fn findings(summary: &RunSummary) -> (u64, Vec<(String, u64)>) {
    let Some(s) = step(summary, "scan") else {
        return (0, Vec::new());
    };
    let f = &s.facts;
    let mut rules: Vec<(String, u64)> = Vec::new();
    match f
        .get("by_rule")
        .or_else(|| f.get("findings_per_rule"))
        .or_else(|| f.get("rules"))
    {
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if let Some(n) = v.as_u64() {
                    rules.push((k.clone(), n));
                }
            }
        }
        Some(Value::Array(a)) => {
            for r in a {
                if let (Some(k), Some(n)) = (
                    text(r, "rule").or_else(|| text(r, "id")),
                    r.get("count").and_then(Value::as_u64),
                ) {
                    rules.push((k, n));
                }
            }
        }
        _ => {}
    }
    rules.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let total = f
        .get("findings")
        .and_then(Value::as_u64)
        .unwrap_or_else(|| rules.iter().map(|r| r.1).sum());
    (total, rules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn summary(steps: Vec<(&str, Status, Value)>) -> RunSummary {
        let mut s = RunSummary::default();
        for (n, st, f) in steps {
            s.record(StepOutcome::new(n, st, Duration::from_secs(1), "x").with_facts(f));
        }
        s
    }

    #[test]
    fn reads_each_steps_facts() {
        let s = summary(vec![
            (
                "scan",
                Status::Failed,
                json!({"findings": 3, "by_rule": {"aws-access-token": 1, "generic-api-key": 2}}),
            ),
            (
                "build",
                Status::Success,
                json!({"image": "reg.example.com/acme/app", "digest": "sha256:abc"}),
            ),
            (
                "deploy",
                Status::Failed,
                json!({"environment": "production", "targets": [
                    {"name": "acme", "status": "ok", "duration_ms": 42000, "url": "https://acme.example.com"},
                    {"name": "beta", "status": "timeout", "observed": "v1.4.2", "expected": "v1.5.0"},
                    {"status": "ok"}
                ]}),
            ),
        ]);
        let (total, rules) = findings(&s);
        assert_eq!(total, 3);
        assert_eq!(rules[0], ("generic-api-key".to_string(), 2));
        assert_eq!(
            image(&s).unwrap(),
            (
                "reg.example.com/acme/app@sha256:abc".to_string(),
                Some("sha256:abc".to_string())
            )
        );
        let c = clients(&s);
        assert_eq!(c.len(), 2, "a target without a name is left out");
        assert_eq!(c[1].status, ClientStatus::Timeout);
        assert!(c[1].status.is_bad());
        assert_eq!(deploy_environment(&s).as_deref(), Some("production"));
    }

    #[test]
    fn tolerates_other_shapes() {
        let s = summary(vec![
            (
                "scan",
                Status::Failed,
                json!({"rules": [{"rule": "x", "count": 4}]}),
            ),
            (
                "build",
                Status::Success,
                json!({"image_digest": "r/app@sha256:def"}),
            ),
            (
                "deploy",
                Status::Success,
                json!({"clients": [{"name": "a", "status": "success", "environment": "staging"}]}),
            ),
        ]);
        assert_eq!(findings(&s), (4, vec![("x".to_string(), 4)]));
        assert_eq!(image(&s).unwrap().1.as_deref(), Some("sha256:def"));
        assert_eq!(deploy_environment(&s).as_deref(), Some("staging"));
        assert!(
            clients(&summary(vec![(
                "deploy",
                Status::Success,
                json!({"targets": 3})
            )]))
            .is_empty()
        );
    }

    #[test]
    fn image_references_in_every_shape() {
        let one = |f: Value| image(&summary(vec![("build", Status::Success, f)]));
        // build as it records itself: the tagged image and the full digest reference.
        assert_eq!(
            one(json!({"image": "reg/app:1.5.0", "repository": "reg/app", "digest": "reg/app@sha256:ab"})).unwrap(),
            ("reg/app@sha256:ab".to_string(), Some("sha256:ab".to_string()))
        );
        assert_eq!(
            one(json!({"image": "reg:5000/app:1.5.0", "digest": "sha256:cd"})).unwrap(),
            (
                "reg:5000/app@sha256:cd".to_string(),
                Some("sha256:cd".to_string())
            )
        );
        assert_eq!(
            one(json!({"image": "reg:5000/app", "digest": "sha256:cd"}))
                .unwrap()
                .0,
            "reg:5000/app@sha256:cd"
        );
        assert_eq!(
            one(json!({"image": "reg/app:1.5.0", "digest": null})).unwrap(),
            ("reg/app:1.5.0".to_string(), None)
        );
        // No build step: the deploy's image.
        let s = summary(vec![(
            "deploy",
            Status::Success,
            json!({"image": "reg/app@sha256:ef", "digest": "sha256:ef"}),
        )]);
        assert_eq!(image(&s).unwrap().1.as_deref(), Some("sha256:ef"));
        let s = summary(vec![(
            "scan",
            Status::Failed,
            json!({"findings": 2, "findings_per_rule": {"a": 2}}),
        )]);
        assert_eq!(findings(&s), (2, vec![("a".to_string(), 2)]));
    }
}
