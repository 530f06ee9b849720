//! One `[[deploy.targets]]` entry: a client's instance in an environment, and how to reach it.

use super::template;
use serde::Deserialize;
use std::collections::BTreeMap;

/// How a target is deployed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// A hosting provider's HTTP API (e.g. Medstack): one request, then a status poll.
    Http,
    /// A container on a Docker host, replaced in place.
    Docker,
}

impl Provider {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Http => "http",
            Provider::Docker => "docker",
        }
    }
}

/// How the HTTP provider authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthKind {
    /// No credentials.
    #[default]
    None,
    /// HTTP basic auth: `user_env` and `password_env` (Medstack: token key and token value).
    Basic,
    /// `Authorization: Bearer` with the token in `token_env`.
    Bearer,
}

/// What the status request must report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    /// The image digest (`sha256:…`) — the default.
    #[default]
    Digest,
    /// The release version.
    Version,
}

/// `[deploy.targets.verify]`: the status request polled after the deploy request.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifyConfig {
    /// URL template of the status request (default: the deploy `url`): the provider's service endpoint,
    /// or the client's own version or health URL.
    pub url: Option<String>,
    /// Its method (default `GET`).
    pub method: String,
    /// Send the target's credentials with it (default true; false for a client's public URL).
    pub auth: bool,
    /// What must be reported: `digest` (default) or `version`.
    pub expect: Expect,
    /// JSON pointer (RFC 6901, e.g. `/service/image`) to the reported image or version; without it the
    /// whole body is searched for the expected value.
    pub pointer: Option<String>,
    /// JSON pointer to a health field; healthy when its value is one of `healthy_values`.
    pub health_pointer: Option<String>,
    /// Values of the health field that count as healthy (case-insensitive; default healthy, running, ok, up).
    pub healthy_values: Vec<String>,
    /// Healthy when the body contains this text (instead of a pointer).
    pub health_contains: Option<String>,
    /// Time between polls (default `[deploy] poll_interval`).
    pub interval: Option<super::duration::Dur>,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            url: None,
            method: "GET".into(),
            auth: true,
            expect: Expect::Digest,
            pointer: None,
            health_pointer: None,
            healthy_values: ["healthy", "running", "ok", "up"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            health_contains: None,
            interval: None,
        }
    }
}

/// One `[[deploy.targets]]` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Unique name (`--only NAME`).
    pub name: String,
    /// The environment it belongs to (`staging`, `production`).
    pub environment: String,
    /// `http` or `docker`.
    pub provider: Provider,
    /// `{client}` in templates (default: the name).
    #[serde(default)]
    pub client: Option<String>,
    /// http: method of the deploy request (default `PUT`).
    #[serde(default)]
    pub method: Option<String>,
    /// http: URL template of the deploy request.
    #[serde(default)]
    pub url: Option<String>,
    /// http: extra headers (templates).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// http: headers whose values come from environment variables: header name → variable name.
    #[serde(default)]
    pub secret_headers: BTreeMap<String, String>,
    /// http: `none` (default), `basic` or `bearer`.
    #[serde(default)]
    pub auth: AuthKind,
    /// http: the variable holding the basic-auth user (Medstack: the token key).
    #[serde(default)]
    pub user_env: Option<String>,
    /// http: the variable holding the basic-auth password (Medstack: the token value).
    #[serde(default)]
    pub password_env: Option<String>,
    /// http: the variable holding the bearer token.
    #[serde(default)]
    pub token_env: Option<String>,
    /// http: JSON body template (a TOML table; every string is a template).
    #[serde(default)]
    pub body: Option<serde_json::Value>,
    /// http: the status request that verifies the rollout.
    #[serde(default)]
    pub verify: VerifyConfig,
    /// docker: the name of the container to replace.
    #[serde(default)]
    pub container: Option<String>,
    /// docker: the Docker host (default `DOCKER_HOST`, else the local socket).
    #[serde(default)]
    pub docker_host: Option<String>,
}

/// Standard HTTP methods accepted for requests.
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

impl TargetConfig {
    /// `{client}`: the client, or the name.
    pub fn client(&self) -> &str {
        self.client.as_deref().unwrap_or(&self.name)
    }

    /// The deploy request's method.
    pub fn method(&self) -> String {
        self.method
            .clone()
            .unwrap_or_else(|| "PUT".into())
            .to_uppercase()
    }

    /// Checks what TOML cannot: the fields the provider needs, templates, methods, environment variables
    /// named for credentials. The error names the target and the fix.
    pub fn validate(&self) -> Result<(), String> {
        let t = &self.name;
        let ctx = |e: String| format!("[[deploy.targets]] `{t}`: {e}");
        match self.provider {
            Provider::Http => {
                let url = self.url.as_deref().ok_or_else(|| {
                    ctx("provider http needs `url` (the deploy request's URL template)".into())
                })?;
                template::check(url).map_err(ctx)?;
                for m in [Some(self.method()), Some(self.verify.method.to_uppercase())]
                    .into_iter()
                    .flatten()
                {
                    if !METHODS.contains(&m.as_str()) {
                        return Err(ctx(format!(
                            "method `{m}` is not one of {}",
                            METHODS.join(", ")
                        )));
                    }
                }
                if let Some(u) = &self.verify.url {
                    template::check(u).map_err(ctx)?;
                }
                for v in self.headers.values() {
                    template::check(v).map_err(ctx)?;
                }
                if let Some(b) = &self.body {
                    template::check_json(b).map_err(ctx)?;
                }
                for p in [&self.verify.pointer, &self.verify.health_pointer]
                    .into_iter()
                    .flatten()
                {
                    if !p.is_empty() && !p.starts_with('/') {
                        return Err(ctx(format!(
                            "`{p}` is not a JSON pointer: start it with `/`, e.g. /service/image"
                        )));
                    }
                }
                match self.auth {
                    AuthKind::None => {}
                    AuthKind::Basic => {
                        if self.user_env.is_none() || self.password_env.is_none() {
                            return Err(ctx("auth = \"basic\" needs `user_env` and `password_env` (names of environment variables holding the credentials)".into()));
                        }
                    }
                    AuthKind::Bearer => {
                        if self.token_env.is_none() {
                            return Err(ctx("auth = \"bearer\" needs `token_env` (the name of the environment variable holding the token)".into()));
                        }
                    }
                }
                if self.container.is_some() || self.docker_host.is_some() {
                    return Err(ctx(
                        "`container` and `docker_host` are for provider docker".into()
                    ));
                }
            }
            Provider::Docker => {
                if self.container.as_deref().unwrap_or("").is_empty() {
                    return Err(ctx(
                        "provider docker needs `container` (the name of the container to replace)"
                            .into(),
                    ));
                }
                if self.url.is_some() || self.body.is_some() || self.auth != AuthKind::None {
                    return Err(ctx("`url`, `body` and `auth` are for provider http".into()));
                }
            }
        }
        Ok(())
    }

    /// The environment variables this target reads credentials from (http: `user_env`, `password_env`,
    /// `token_env` as its `auth` needs, and every `secret_headers` variable); docker targets read none.
    pub fn credential_vars(&self) -> Vec<&str> {
        if self.provider != Provider::Http {
            return Vec::new();
        }
        let mut v: Vec<&str> = match self.auth {
            AuthKind::None => Vec::new(),
            AuthKind::Basic => [&self.user_env, &self.password_env]
                .into_iter()
                .flatten()
                .map(String::as_str)
                .collect(),
            AuthKind::Bearer => self.token_env.iter().map(String::as_str).collect(),
        };
        v.extend(self.secret_headers.values().map(String::as_str));
        v
    }

    /// Whether a request of this target (url, headers, body, status url) or its verification needs the
    /// release version.
    pub fn needs_version(&self) -> bool {
        if self.provider != Provider::Http {
            return false;
        }
        let uses = |t: &Option<String>| t.as_deref().is_some_and(|t| template::uses(t, "version"));
        self.verify.expect == Expect::Version
            || uses(&self.url)
            || uses(&self.verify.url)
            || self.headers.values().any(|h| template::uses(h, "version"))
            || self
                .body
                .as_ref()
                .is_some_and(|b| template::uses_json(b, "version"))
    }

    /// The credentials this target reads from the environment, as (variable, value); a missing or empty
    /// variable is an error naming it. Every value is registered for redaction.
    pub fn read_env(&self, name: &str) -> Result<String, String> {
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => {
                crate::redact::register(&v);
                Ok(v)
            }
            _ => Err(format!(
                "[[deploy.targets]] `{}`: environment variable {name} is not set: define it as a masked CI/CD variable (credentials are never read from stevedore.toml)",
                self.name
            )),
        }
    }
}
