//! Registry credentials, found the way the `docker` CLI finds them — shared by `build` (push, cache
//! pulls) and `deploy` (the docker provider's pulls).
//!
//! In order: `CI_REGISTRY_USER`/`CI_REGISTRY_PASSWORD` when the image lives on `CI_REGISTRY`; then the
//! Docker config in `DOCKER_AUTH_CONFIG` (GitLab's variable), then the file `$DOCKER_CONFIG/config.json`
//! (default `~/.docker/config.json`). In a config, as the docker CLI reads it: a `credHelpers` entry for
//! the registry runs `docker-credential-<helper> get`; else a `credsStore` runs its helper; else the
//! `auths` entry (`auth` = base64 of `user:password`, or `username` and `password`). Every credential
//! read is registered with the redaction layer in all its wire forms.

use crate::ci::Context;
use crate::exit::{ExitCode, coded};
use crate::redact;
use base64::Engine;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Credentials for one registry; the password is registered for redaction when read.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token (never printed).
    pub password: String,
    /// Where they came from, for messages (`CI_REGISTRY_USER`, `DOCKER_AUTH_CONFIG`, a file path, a
    /// credential helper).
    pub source: String,
}

impl Credentials {
    fn new(username: &str, password: &str, source: impl Into<String>) -> Credentials {
        redact::register_credential(Some(username), password);
        Credentials {
            username: username.into(),
            password: password.into(),
            source: source.into(),
        }
    }

    /// The form bollard sends to the daemon for `registry`.
    pub fn for_daemon(&self, registry: &str) -> bollard::auth::DockerCredentials {
        bollard::auth::DockerCredentials {
            username: Some(self.username.clone()),
            password: Some(self.password.clone()),
            serveraddress: Some(registry.to_string()),
            ..Default::default()
        }
    }
}

/// Strips scheme and path from a registry address as written in a Docker config (`https://host/v1/`).
fn host_key(s: &str) -> String {
    let s = s.trim();
    let s = s.split_once("://").map(|x| x.1).unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s);
    match s {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".into(),
        other => other.to_lowercase(),
    }
}

/// The Docker config file the docker CLI reads: `$DOCKER_CONFIG/config.json`, else
/// `~/.docker/config.json`.
pub fn config_file() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))
        .map(|d| d.join("config.json"))
}

/// Where credentials are looked for, for error messages ("check …").
pub fn where_to_look() -> String {
    let file = config_file()
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "~/.docker/config.json".into());
    format!("CI_REGISTRY_USER/CI_REGISTRY_PASSWORD, DOCKER_AUTH_CONFIG or {file}")
}

/// The address a credential helper is asked for: Docker Hub's historical key, else the host.
fn helper_server(registry: &str) -> String {
    if host_key(registry) == "docker.io" {
        "https://index.docker.io/v1/".into()
    } else {
        registry.to_string()
    }
}

/// Runs `docker-credential-<helper> get` for `registry`, as the docker CLI does: the server address on
/// stdin, `{"Username": …, "Secret": …}` on stdout. "not found" is no credentials, not an error.
pub fn from_helper(
    helper: &str,
    registry: &str,
    source: &str,
) -> anyhow::Result<Option<Credentials>> {
    let bin = format!("docker-credential-{helper}");
    let fail = |why: String| {
        coded(
            ExitCode::Outside,
            format!(
                "the credential helper {bin} (from {source}) failed for {registry}: {why} — check it is installed and logged in, or remove it from {source}"
            ),
        )
    };
    let mut child = Command::new(&bin)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail(format!("cannot run it ({e})")))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(helper_server(registry).as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| fail(format!("{e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let msg = format!(
            "{}{}",
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        if msg.to_ascii_lowercase().contains("not found") {
            return Ok(None);
        }
        return Err(fail(redact::quote_body(msg.as_bytes())));
    }
    let v: serde_json::Value = serde_json::from_str(&stdout)
        .map_err(|_| fail("its answer is not the JSON docker expects".into()))?;
    let get = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("");
    let (user, secret) = (get("Username"), get("Secret"));
    if secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials::new(
        user,
        secret,
        format!("{bin} (from {source})"),
    )))
}

/// Finds the credentials for `registry` in a Docker config JSON: `credHelpers`, `credsStore`, `auths`.
pub fn from_docker_config(
    json: &str,
    registry: &str,
    source: &str,
) -> anyhow::Result<Option<Credentials>> {
    let v: serde_json::Value = serde_json::from_str(json).map_err(|e| {
        coded(
            ExitCode::Usage,
            format!("{source} is not valid Docker config JSON ({e}) — expected {{\"auths\": {{\"HOST\": {{\"auth\": \"base64(user:password)\"}}}}}}"),
        )
    })?;
    let want = host_key(registry);
    let helper = v
        .get("credHelpers")
        .and_then(|h| h.as_object())
        .and_then(|h| h.iter().find(|(k, _)| host_key(k) == want))
        .and_then(|(_, x)| x.as_str())
        .or_else(|| v.get("credsStore").and_then(|s| s.as_str()))
        .filter(|h| !h.is_empty());
    if let Some(helper) = helper {
        return from_helper(helper, registry, source);
    }
    let Some(auths) = v.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    let Some((k, entry)) = auths.iter().find(|(k, _)| host_key(k) == want) else {
        return Ok(None);
    };
    let user = entry.get("username").and_then(|x| x.as_str());
    let pass = entry.get("password").and_then(|x| x.as_str());
    if let (Some(u), Some(p)) = (user, pass) {
        return Ok(Some(Credentials::new(u, p, source)));
    }
    let Some(auth) = entry.get("auth").and_then(|x| x.as_str()) else {
        return Ok(None);
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(auth.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let Some((u, p)) = raw.as_deref().and_then(|r| r.split_once(':')) else {
        return Err(coded(
            ExitCode::Usage,
            format!(
                "the \"auth\" of {k} in {source} is not base64 of user:password — log in again or fix the entry"
            ),
        ));
    };
    redact::register(auth);
    Ok(Some(Credentials::new(u, p, source)))
}

/// The credentials for `registry`, from the CI variables, `DOCKER_AUTH_CONFIG` or the Docker config
/// file (see the module docs).
pub fn credentials_for(ctx: &Context, registry: &str) -> anyhow::Result<Option<Credentials>> {
    if let (Some(reg), Some(user), Some(pass)) =
        (&ctx.registry, &ctx.registry_user, &ctx.registry_password)
        && host_key(reg) == host_key(registry)
    {
        return Ok(Some(Credentials::new(
            user,
            pass,
            "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD",
        )));
    }
    if let Ok(json) = std::env::var("DOCKER_AUTH_CONFIG")
        && !json.trim().is_empty()
        && let Some(c) = from_docker_config(&json, registry, "DOCKER_AUTH_CONFIG")?
    {
        return Ok(Some(c));
    }
    if let Some(file) = config_file()
        && let Ok(json) = std::fs::read_to_string(&file)
    {
        return from_docker_config(&json, registry, &file.display().to_string());
    }
    Ok(None)
}

/// The registry host of an image reference (`docker.io` when it names none).
pub fn registry_of_image(image: &str) -> String {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first.to_string()
        }
        _ => "docker.io".into(),
    }
}

/// The credentials the daemon should use to pull `image`, found as for a push (for deploy's docker
/// provider and build's cache pulls).
pub fn for_image(
    ctx: &Context,
    image: &str,
) -> anyhow::Result<Option<bollard::auth::DockerCredentials>> {
    let host = registry_of_image(image);
    Ok(credentials_for(ctx, &host)?.map(|c| c.for_daemon(&host)))
}

/// The credentials for the registries of `images` (a build's base images), keyed as the classic
/// builder's `X-Registry-Config` wants them (`https://index.docker.io/v1/` for Docker Hub): the daemon
/// pulls a private base image with them, as with a `docker build` after `docker login`. A registry
/// without credentials is left out (its pulls stay anonymous).
pub fn for_images(
    ctx: &Context,
    images: &[String],
) -> std::collections::HashMap<String, bollard::auth::DockerCredentials> {
    let mut out = std::collections::HashMap::new();
    for image in images {
        let host = registry_of_image(image);
        let key = if host == "docker.io" {
            "https://index.docker.io/v1/".to_string()
        } else {
            host.clone()
        };
        if out.contains_key(&key) {
            continue;
        }
        if let Ok(Some(c)) = credentials_for(ctx, &host) {
            out.insert(key.clone(), c.for_daemon(&key));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_entries() {
        let auth = base64::engine::general_purpose::STANDARD.encode("bob:s3cret-pw");
        let json = format!(
            r#"{{"auths":{{"https://Reg.example.com/v1/":{{"auth":"{auth}"}},"other":{{"username":"u","password":"p"}}}}}}"#
        );
        let c = from_docker_config(&json, "reg.example.com", "x")
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("bob", "s3cret-pw")
        );
        assert!(!redact::redact("pw is s3cret-pw").contains("s3cret-pw"));
        let c = from_docker_config(&json, "other", "x").unwrap().unwrap();
        assert_eq!(c.username, "u");
        assert!(from_docker_config(&json, "nope", "x").unwrap().is_none());
        assert!(from_docker_config("{", "nope", "x").is_err());
    }

    #[test]
    fn a_missing_helper_is_an_error_naming_it() {
        let json = r#"{"credHelpers":{"reg.example.com":"stevedore-surely-missing"}}"#;
        let e = from_docker_config(json, "reg.example.com", "cfg.json").unwrap_err();
        let msg = crate::exit::render(&e);
        assert!(
            msg.contains("docker-credential-stevedore-surely-missing") && msg.contains("cfg.json"),
            "{msg}"
        );
        // Another registry does not use that helper.
        assert!(
            from_docker_config(json, "other.example.com", "x")
                .unwrap()
                .is_none()
        );
        assert_eq!(
            registry_of_image("reg.example.com/a/b:1"),
            "reg.example.com"
        );
        assert_eq!(registry_of_image("nginx"), "docker.io");
    }
}
