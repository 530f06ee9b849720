//! Registry credentials and the registry's own HTTP API (Docker Registry v2), used to check a login
//! before a long build and to read the pushed manifest's digest.
//!
//! Credentials are found by [`crate::docker::credentials`] (shared with deploy). Authentication follows the registry's `WWW-Authenticate` answer: HTTP basic, or the
//! bearer-token flow (`realm`, `service`, `scope`). Registries on loopback are spoken to over plain
//! HTTP (as the daemon does by default); others over HTTPS.

pub use crate::docker::credentials::{Credentials, credentials_for, from_docker_config};
use crate::exit::{ExitCode, coded};
use crate::redact;
use std::time::Duration;

/// True for a registry the daemon talks to over plain HTTP by default (loopback).
pub fn is_loopback(registry: &str) -> bool {
    let host = registry.rsplit_once(':').map(|x| x.0).unwrap_or(registry);
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

/// How requests to the registry are authorised.
#[derive(Clone, Debug)]
enum Auth {
    None,
    Basic,
    Bearer(String),
}

/// A client for one registry's v2 API.
pub struct Registry {
    host: String,
    base: String,
    creds: Option<Credentials>,
    http: reqwest::Client,
}

/// The manifest media types a registry may hold for an image.
const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

impl Registry {
    /// A client for `host` (e.g. `registry.example.com`, `127.0.0.1:5000`).
    pub fn new(host: &str, creds: Option<Credentials>) -> anyhow::Result<Registry> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let api = if host == "docker.io" {
            "registry-1.docker.io"
        } else {
            host
        };
        let scheme = if is_loopback(host) { "http" } else { "https" };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| {
                coded(
                    ExitCode::Outside,
                    format!("cannot set up an HTTP client: {e}"),
                )
            })?;
        Ok(Registry {
            host: host.to_string(),
            base: format!("{scheme}://{api}"),
            creds,
            http,
        })
    }

    fn auth_failed(&self, detail: &str) -> anyhow::Error {
        let how = match &self.creds {
            Some(c) => format!("the credentials from {} were refused", c.source),
            None => "no credentials were found".to_string(),
        };
        coded(
            ExitCode::Outside,
            format!(
                "authentication to {} failed: {how} ({detail}) — check {}",
                self.host,
                crate::docker::credentials::where_to_look()
            ),
        )
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> anyhow::Error {
        coded(
            ExitCode::Outside,
            format!(
                "cannot reach the registry {} at {}: {e} — check the registry address and the network",
                self.host, self.base
            ),
        )
    }

    /// Finds out how to authorise requests for `scope` (`repository:PATH:pull,push`), logging in.
    async fn authorise(&self, scope: &str) -> anyhow::Result<Auth> {
        let resp = self
            .http
            .get(format!("{}/v2/", self.base))
            .send()
            .await
            .map_err(|e| self.unreachable(crate::error_chain::error_chain(&e)))?;
        if resp.status().is_success() {
            return Ok(Auth::None);
        }
        if resp.status() != reqwest::StatusCode::UNAUTHORIZED {
            return Err(self.unreachable(format!("GET /v2/ answered {}", resp.status())));
        }
        let challenge = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let Some(creds) = &self.creds else {
            return Err(self.auth_failed("the registry asks for a login"));
        };
        if challenge.to_ascii_lowercase().starts_with("bearer") {
            let params = parse_challenge(&challenge);
            let realm = params
                .iter()
                .find(|(k, _)| k == "realm")
                .map(|x| x.1.clone())
                .ok_or_else(|| self.unreachable("a bearer challenge without a realm"))?;
            let mut query: Vec<(String, String)> = Vec::new();
            if let Some((_, s)) = params.iter().find(|(k, _)| k == "service") {
                query.push(("service".into(), s.clone()));
            }
            query.push(("scope".into(), scope.into()));
            let resp = self
                .http
                .get(&realm)
                .query(&query)
                .basic_auth(&creds.username, Some(&creds.password))
                .send()
                .await
                .map_err(|e| self.unreachable(crate::error_chain::error_chain(&e)))?;
            if resp.status() == reqwest::StatusCode::UNAUTHORIZED
                || resp.status() == reqwest::StatusCode::FORBIDDEN
            {
                return Err(self.auth_failed(&format!("token endpoint answered {}", resp.status())));
            }
            if !resp.status().is_success() {
                return Err(self.unreachable(format!("token endpoint answered {}", resp.status())));
            }
            let v: serde_json::Value = resp
                .json()
                .await
                .map_err(|e| self.unreachable(crate::error_chain::error_chain(&e)))?;
            let token = v
                .get("token")
                .or_else(|| v.get("access_token"))
                .and_then(|t| t.as_str())
                .ok_or_else(|| self.unreachable("the token endpoint returned no token"))?
                .to_string();
            redact::register(&token);
            return Ok(Auth::Bearer(token));
        }
        // Basic: check the credentials now.
        let resp = self
            .http
            .get(format!("{}/v2/", self.base))
            .basic_auth(&creds.username, Some(&creds.password))
            .send()
            .await
            .map_err(|e| self.unreachable(crate::error_chain::error_chain(&e)))?;
        if resp.status().is_success() {
            Ok(Auth::Basic)
        } else if resp.status() == reqwest::StatusCode::UNAUTHORIZED
            || resp.status() == reqwest::StatusCode::FORBIDDEN
        {
            Err(self.auth_failed(&format!("GET /v2/ answered {}", resp.status())))
        } else {
            Err(self.unreachable(format!("GET /v2/ answered {}", resp.status())))
        }
    }

    /// Checks that the credentials may push to `path` (fails fast, before a long build).
    pub async fn check_login(&self, path: &str) -> anyhow::Result<()> {
        self.authorise(&format!("repository:{path}:pull,push"))
            .await
            .map(|_| ())
    }

    /// The digest (`sha256:…`) of the manifest `path:reference` as the registry serves it.
    pub async fn manifest_digest(&self, path: &str, reference: &str) -> anyhow::Result<String> {
        self.find_manifest(path, reference).await?.ok_or_else(|| {
            coded(
                ExitCode::Outside,
                format!(
                    "the registry {} has no manifest {path}:{reference} (HEAD answered 404 Not Found) — the push did not land",
                    self.host
                ),
            )
        })
    }

    /// The digest (`sha256:…`) of the manifest `path:reference` as the registry serves it, `None` when
    /// the registry has no such manifest.
    pub async fn find_manifest(
        &self,
        path: &str,
        reference: &str,
    ) -> anyhow::Result<Option<String>> {
        let auth = self.authorise(&format!("repository:{path}:pull")).await?;
        let url = format!("{}/v2/{path}/manifests/{reference}", self.base);
        let mut req = self
            .http
            .head(&url)
            .header(reqwest::header::ACCEPT, MANIFEST_ACCEPT);
        req = match (&auth, &self.creds) {
            (Auth::Bearer(t), _) => req.bearer_auth(t),
            (Auth::Basic, Some(c)) => req.basic_auth(&c.username, Some(&c.password)),
            _ => req,
        };
        let resp = req
            .send()
            .await
            .map_err(|e| self.unreachable(crate::error_chain::error_chain(&e)))?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(coded(
                ExitCode::Outside,
                format!(
                    "the registry {} answered {} for the manifest {path}:{reference}",
                    self.host,
                    resp.status()
                ),
            ));
        }
        resp.headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(|d| Some(d.to_string()))
            .ok_or_else(|| {
                coded(
                    ExitCode::Outside,
                    format!(
                        "the registry {} sent no Docker-Content-Digest for {path}:{reference}",
                        self.host
                    ),
                )
            })
    }
}

/// Parses `Bearer realm="…",service="…",scope="…"` into pairs.
fn parse_challenge(h: &str) -> Vec<(String, String)> {
    let rest = h.split_once(' ').map(|x| x.1).unwrap_or("");
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while matches!(chars.peek(), Some(' ') | Some(',')) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            for c in chars.by_ref() {
                if c == '"' {
                    break;
                }
                val.push(c);
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                val.push(*c);
                chars.next();
            }
        }
        out.push((key.trim().to_lowercase(), val));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let p = parse_challenge(
            r#"Bearer realm="https://gitlab.example.com/jwt/auth",service="container_registry",scope="repository:a/b:pull""#,
        );
        assert_eq!(
            p[0],
            ("realm".into(), "https://gitlab.example.com/jwt/auth".into())
        );
        assert_eq!(p[1], ("service".into(), "container_registry".into()));
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn loopback_registries() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost:5000"));
        assert!(!is_loopback("registry.gitlab.com"));
    }
}
