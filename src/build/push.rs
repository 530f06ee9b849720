//! Pushing the built tags through the daemon, with retries, and checking the registry holds what was
//! pushed.
//!
//! Each tag is pushed with the registry's credentials; the digest the daemon reports is compared with
//! the `Docker-Content-Digest` the registry serves for that tag. Authentication failures are final (exit
//! 4, "authentication to REGISTRY failed"); other failures are retried with backoff. The whole push is
//! bounded by the build's `--timeout`, so it never hangs.

use super::registry::{Credentials, Registry};
use crate::app::App;
use crate::exit::{ExitCode, coded};
use bollard::Docker;
use bollard::query_parameters::PushImageOptionsBuilder;
use futures_util::StreamExt;
use std::time::Duration;

/// Attempts per tag before giving up on a transient failure.
const ATTEMPTS: u32 = 4;

/// True when an error message from the daemon means the registry refused the credentials.
pub fn is_auth_error(msg: &str) -> bool {
    let m = msg.to_ascii_lowercase();
    [
        "unauthorized",
        "authentication required",
        "no basic auth credentials",
        "denied",
        "forbidden",
    ]
    .iter()
    .any(|k| m.contains(k))
}

/// Pulls `sha256:…` out of the daemon's final push status (`TAG: digest: sha256:… size: N`).
pub fn digest_in_status(status: &str) -> Option<String> {
    let i = status.find("digest: sha256:")?;
    let d: String = status[i + 8..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
        .collect();
    (d.len() == 71).then_some(d)
}

/// Pushes `repo:tag` once; returns the digest the daemon reports.
async fn push_once(
    app: &App,
    docker: &Docker,
    repo: &str,
    tag: &str,
    creds: Option<&Credentials>,
    registry: &str,
) -> Result<String, String> {
    let dc = creds.map(|c| c.for_daemon(registry));
    let opts = PushImageOptionsBuilder::default().tag(tag).build();
    let mut stream = docker.push_image(repo, Some(opts), dc);
    let mut digest = None;
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(s) = &info.status {
                    if let Some(d) = digest_in_status(s) {
                        digest = Some(d);
                    }
                    if info.progress_detail.is_none() || digest.is_some() {
                        app.out.detail(s);
                    }
                }
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    digest.ok_or_else(|| format!("the daemon reported no digest for {repo}:{tag}"))
}

/// The registry's digest for `path:tag`, retrying transient failures with backoff (an authentication
/// failure is final).
async fn manifest_with_retry(
    app: &App,
    registry: &Registry,
    path: &str,
    tag: &str,
) -> anyhow::Result<String> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match registry.manifest_digest(path, tag).await {
            Ok(d) => return Ok(d),
            Err(e)
                if attempt < ATTEMPTS && !crate::exit::render(&e).contains("authentication to") =>
            {
                let wait = Duration::from_secs(2u64.pow(attempt));
                app.out.warn(format!(
                    "reading the manifest of {path}:{tag} failed ({}); retrying in {}s",
                    crate::exit::render(&e).trim_start_matches("error: "),
                    wait.as_secs()
                ));
                tokio::time::sleep(wait).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Where a push goes: the registry, its host, the repository's path in it, and the credentials.
pub struct Destination<'a> {
    /// The registry's API client.
    pub registry: &'a Registry,
    /// The registry host (`127.0.0.1:5000`, `registry.gitlab.com`).
    pub host: &'a str,
    /// The repository's path inside the registry.
    pub path: &'a str,
    /// The credentials, when any were found.
    pub creds: Option<&'a Credentials>,
}

/// Pushes every tag of `repo`, retrying transient failures, and checks the registry's manifest digest
/// for each; returns the digest (`sha256:…`).
pub async fn push_all(
    app: &App,
    docker: &Docker,
    repo: &str,
    tags: &[String],
    dest: &Destination<'_>,
) -> anyhow::Result<String> {
    let (creds, registry, registry_host, path) = (dest.creds, dest.registry, dest.host, dest.path);
    let mut digest: Option<String> = None;
    for tag in tags {
        let mut attempt = 0;
        let pushed = loop {
            attempt += 1;
            match push_once(app, docker, repo, tag, creds, registry_host).await {
                Ok(d) => break d,
                Err(e) if is_auth_error(&e) => {
                    return Err(coded(
                        ExitCode::Outside,
                        format!(
                            "authentication to {registry_host} failed while pushing {repo}:{tag}: {e} — check {}",
                            crate::docker::credentials::where_to_look()
                        ),
                    ));
                }
                Err(e) if attempt < ATTEMPTS => {
                    let wait = Duration::from_secs(2u64.pow(attempt));
                    app.out.warn(format!(
                        "pushing {repo}:{tag} failed ({e}); retrying in {}s (attempt {}/{ATTEMPTS})",
                        wait.as_secs(),
                        attempt + 1
                    ));
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    return Err(coded(
                        ExitCode::Outside,
                        format!(
                            "pushing {repo}:{tag} to {registry_host} failed after {ATTEMPTS} attempts: {e} — check the registry is up and reachable from the Docker daemon"
                        ),
                    ));
                }
            }
        };
        let served = manifest_with_retry(app, registry, path, tag).await?;
        if served != pushed {
            return Err(coded(
                ExitCode::Outside,
                format!(
                    "the registry {registry_host} serves {served} for {repo}:{tag} but the daemon pushed {pushed} — another push raced this one; run the job again"
                ),
            ));
        }
        app.out.info(format!(
            "pushed {repo}:{tag} ({pushed}, checked against the registry)"
        ));
        if let Some(d) = &digest
            && *d != pushed
        {
            return Err(coded(
                ExitCode::Outside,
                format!(
                    "tags of one build got different digests ({d} and {pushed}) — run the job again"
                ),
            ));
        }
        digest = Some(pushed);
    }
    digest.ok_or_else(|| coded(ExitCode::Usage, "no tag to push"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_and_auth_errors() {
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            digest_in_status(&format!("1.0: digest: {d} size: 527")),
            Some(d)
        );
        assert_eq!(digest_in_status("Pushed"), None);
        assert!(is_auth_error("unauthorized: authentication required"));
        assert!(is_auth_error("no basic auth credentials"));
        assert!(is_auth_error("unknown: HTTP Basic: Access denied"));
        assert!(!is_auth_error("connection refused"));
        assert!(!is_auth_error("blob upload unknown: sha256:4031a"));
    }
}
