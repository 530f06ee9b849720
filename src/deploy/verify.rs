//! Reading a status response: what image or version it reports, and whether it says healthy. Pure, so the
//! rules are tested without a server.

use super::target::{Expect, VerifyConfig};
use regex::Regex;
use std::sync::LazyLock;

static DIGEST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"sha256:[0-9a-f]{64}").expect("valid regex"));

/// What one status response said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    /// The HTTP status.
    pub status: u16,
    /// The reported image or version, when found.
    pub observed: Option<String>,
    /// True when it reports the expected value.
    pub matches: bool,
    /// True when it says healthy.
    pub healthy: bool,
}

impl Observation {
    /// Deployed and healthy.
    pub fn done(&self) -> bool {
        self.matches && self.healthy
    }
}

fn as_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Reads a status response against the expected digest or version.
pub fn observe(cfg: &VerifyConfig, status: u16, body: &str, expected: &str) -> Observation {
    let ok_status = (200..300).contains(&status);
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let observed = match &cfg.pointer {
        Some(p) => json.as_ref().and_then(|j| j.pointer(p)).map(as_text),
        None => match cfg.expect {
            Expect::Digest => DIGEST.find(body).map(|m| m.as_str().to_string()),
            Expect::Version => {
                if body.contains(expected) {
                    Some(expected.to_string())
                } else {
                    let t = body.trim();
                    (!t.is_empty() && t.len() <= 64 && !t.contains('\n')).then(|| t.to_string())
                }
            }
        },
    };
    let matches = ok_status
        && !expected.is_empty()
        && match (&observed, cfg.expect) {
            (Some(o), Expect::Digest) => o.contains(expected),
            (Some(o), Expect::Version) => {
                let o = o.trim();
                o == expected || o.strip_prefix('v') == Some(expected)
            }
            (None, _) => false,
        };
    let healthy = ok_status
        && if let Some(p) = &cfg.health_pointer {
            json.as_ref()
                .and_then(|j| j.pointer(p))
                .map(as_text)
                .map(|h| {
                    cfg.healthy_values
                        .iter()
                        .any(|v| v.eq_ignore_ascii_case(h.trim()))
                })
                .unwrap_or(false)
        } else if let Some(c) = &cfg.health_contains {
            body.contains(c.as_str())
        } else {
            true
        };
    Observation {
        status,
        observed,
        matches,
        healthy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    #[test]
    fn pointer_and_health() {
        let cfg = VerifyConfig {
            pointer: Some("/service/image".into()),
            health_pointer: Some("/service/state".into()),
            ..VerifyConfig::default()
        };
        let body = format!(r#"{{"service":{{"image":"reg/app@{D1}","state":"Running"}}}}"#);
        let o = observe(&cfg, 200, &body, D1);
        assert!(o.done(), "{o:?}");
        let o = observe(&cfg, 200, &body, D2);
        assert!(!o.matches && o.healthy);
        assert_eq!(
            o.observed.as_deref(),
            Some(format!("reg/app@{D1}").as_str())
        );
        let body = format!(r#"{{"service":{{"image":"reg/app@{D1}","state":"starting"}}}}"#);
        assert!(!observe(&cfg, 200, &body, D1).healthy);
        assert!(!observe(&cfg, 503, "{}", D1).healthy);
    }

    #[test]
    fn body_search_and_version() {
        let cfg = VerifyConfig::default();
        let o = observe(&cfg, 200, &format!("running {D2} since 5m"), D1);
        assert_eq!(o.observed.as_deref(), Some(D2));
        assert!(!o.matches);
        let cfg = VerifyConfig {
            expect: Expect::Version,
            pointer: Some("/version".into()),
            health_contains: Some("\"db\":\"ok\"".into()),
            ..VerifyConfig::default()
        };
        let o = observe(&cfg, 200, r#"{"version":"v1.6.0","db":"ok"}"#, "1.6.0");
        assert!(o.done(), "{o:?}");
        let o = observe(
            &cfg,
            200,
            r#"{"version":"1.6.0-beta.1","db":"down"}"#,
            "1.6.0",
        );
        assert!(!o.matches && !o.healthy);
    }
}
