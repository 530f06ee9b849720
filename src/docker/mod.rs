//! The connection to the Docker daemon, shared by every step that talks to it (`build`, `prune`,
//! `deploy`, and `run --dry-run`'s probe).
//!
//! [`connect`] reads `DOCKER_HOST` the way the `docker` CLI does — `unix://PATH` (default
//! `unix:///var/run/docker.sock`), `tcp://HOST:PORT`, and `tcp://` with TLS when `DOCKER_TLS_VERIFY` is
//! set, the client certificate, key and CA read from `DOCKER_CERT_PATH` (default `~/.docker`) as
//! `cert.pem`, `key.pem`, `ca.pem` (what GitLab's `docker:dind` service sets up with `DOCKER_TLS_CERTDIR`)
//! — then pings the daemon and negotiates the API version. Engines older than 20.10 (API 1.41) are
//! refused. Every failure is exit 4 and names what was tried and how to fix it (an unsupported address
//! is exit 2).
//!
//! [`Raw`] makes the few requests bollard 0.21 reads wrongly on engine 20.10 (`/system/df`), over the
//! same transports, TLS included. Step-specific Docker logic (deploy's container replacement, prune's
//! removals) stays in the step's own module.

pub mod credentials;
mod disk;
mod raw;
mod target;

pub use disk::filesystem_space;
pub use raw::Raw;
pub use target::{Address, DEFAULT_HOST, TLS_FILES, Target, TlsFiles};

use crate::error_chain::error_chain;
use crate::exit::{CodeExt, ExitCode, coded};
use anyhow::Context;
use bollard::{API_DEFAULT_VERSION, Docker};
use std::time::Duration;

/// The oldest Docker Engine API stevedore supports (Engine 20.10).
pub const MIN_API: (usize, usize) = (1, 41);

/// How long to wait for the daemon's first answer.
pub const PING_TIMEOUT: Duration = Duration::from_secs(15);

/// What to do when the daemon cannot be reached.
pub const FIX: &str = "start dockerd, or point DOCKER_HOST at a running daemon (unix:///path/docker.sock, tcp://host:2375, or tcp://host:2376 with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)";

/// A daemon that answered: bollard's client with the API version negotiated, and where it is.
#[derive(Clone)]
pub struct Connection {
    /// bollard's client, version negotiated.
    pub docker: Docker,
    /// Where the daemon is.
    pub target: Target,
}

impl Connection {
    /// A raw client for the same daemon, speaking the negotiated API version, with the same request
    /// timeout.
    pub fn raw(&self) -> anyhow::Result<Raw> {
        Raw::new(
            &self.target,
            &self.docker.client_version().to_string(),
            self.docker.timeout(),
        )
    }
}

/// Connects to the daemon named by the environment (see the module docs), pings it and negotiates the
/// API version. `timeout` bounds each request (a build upload included); use a generous one for builds.
pub async fn connect(timeout: Duration) -> anyhow::Result<Docker> {
    Ok(connect_to(&Target::from_env(), timeout, PING_TIMEOUT)
        .await?
        .docker)
}

/// Connects to `target`, waiting at most `ping_timeout` for the version negotiation (its first answer);
/// `timeout` bounds every later request. See [`connect`].
pub async fn connect_to(
    target: &Target,
    timeout: Duration,
    ping_timeout: Duration,
) -> anyhow::Result<Connection> {
    let docker = client(target, timeout)?;
    let docker = match tokio::time::timeout(ping_timeout, docker.negotiate_version()).await {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            return Err(coded(
                ExitCode::Outside,
                format!(
                    "cannot reach the Docker daemon at {}: {} — {FIX}",
                    target.describe(),
                    error_chain(&e)
                ),
            ));
        }
        Err(_) => {
            return Err(coded(
                ExitCode::Outside,
                format!(
                    "the Docker daemon at {} did not answer within {}s — {FIX}",
                    target.describe(),
                    ping_timeout.as_secs().max(1)
                ),
            ));
        }
    };
    check_version(target, &docker)?;
    Ok(Connection {
        docker,
        target: target.clone(),
    })
}

/// bollard's client for `target`, not yet asked anything (the API version not negotiated): for callers
/// that ping on their own terms. `timeout` bounds every request. An unsupported address is exit 2,
/// missing TLS files or socket exit 4 (the error's root cause says why, e.g. "Socket not found").
pub fn client(target: &Target, timeout: Duration) -> anyhow::Result<Docker> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let secs = timeout.as_secs().max(1);
    let docker = match target.address()? {
        Address::Unix(path) => {
            Docker::connect_with_unix(&path.to_string_lossy(), secs, API_DEFAULT_VERSION)
        }
        Address::Tcp(authority) => match target.tls_files()? {
            Some(f) => Docker::connect_with_ssl(
                &format!("tcp://{authority}"),
                &f.key,
                &f.cert,
                &f.ca,
                secs,
                API_DEFAULT_VERSION,
            ),
            None => {
                Docker::connect_with_http(&format!("tcp://{authority}"), secs, API_DEFAULT_VERSION)
            }
        },
    };
    // The daemon's own reason (e.g. "Socket not found: …") stays the error's root cause.
    docker
        .with_context(|| {
            format!(
                "cannot reach the Docker daemon at {} — {FIX}",
                target.describe()
            )
        })
        .code(ExitCode::Outside)
}

/// Refuses a daemon whose API is older than [`MIN_API`].
fn check_version(target: &Target, docker: &Docker) -> anyhow::Result<()> {
    let v = docker.client_version();
    if (v.major_version, v.minor_version) < MIN_API {
        return Err(too_old(target, v.major_version, v.minor_version));
    }
    Ok(())
}

fn too_old(target: &Target, major: usize, minor: usize) -> anyhow::Error {
    coded(
        ExitCode::Outside,
        format!(
            "the Docker daemon at {} speaks API {major}.{minor}; stevedore needs {}.{} (Docker Engine 20.10) or newer — upgrade the engine",
            target.describe(),
            MIN_API.0,
            MIN_API.1
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::{code_of, render};

    #[tokio::test]
    async fn nothing_listening_is_exit_4_naming_the_socket_and_the_fix() {
        let d = tempfile::tempdir().unwrap();
        let sock = format!("unix://{}/none.sock", d.path().display());
        let t = Target::from_vars(Some(sock.clone()), false, None);
        let e = connect_to(&t, Duration::from_secs(5), PING_TIMEOUT)
            .await
            .err()
            .unwrap();
        assert_eq!(code_of(&e), ExitCode::Outside);
        let msg = render(&e);
        assert!(
            msg.contains(&sock) && msg.contains("DOCKER_HOST") && msg.contains("start dockerd"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn a_silent_daemon_times_out_with_exit_4() {
        // A TCP listener that accepts and never answers.
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let _keep = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        });
        let t = Target::from_vars(Some(format!("tcp://{addr}")), false, None);
        let e = connect_to(&t, Duration::from_secs(5), Duration::from_millis(300))
            .await
            .err()
            .unwrap();
        assert_eq!(code_of(&e), ExitCode::Outside);
        let msg = render(&e);
        assert!(
            msg.contains(&format!("tcp://{addr}")) && msg.contains("did not answer within 1s"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn missing_tls_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        let t = Target::from_vars(
            Some("tcp://127.0.0.1:1".into()),
            true,
            Some(d.path().display().to_string()),
        );
        let e = connect_to(&t, Duration::from_secs(5), PING_TIMEOUT)
            .await
            .err()
            .unwrap();
        assert_eq!(code_of(&e), ExitCode::Outside);
        assert!(render(&e).contains("ca.pem"));
    }

    #[tokio::test]
    async fn ssh_hosts_are_a_usage_error() {
        let t = Target::from_vars(Some("ssh://user@host".into()), false, None);
        let e = connect_to(&t, Duration::from_secs(5), PING_TIMEOUT)
            .await
            .err()
            .unwrap();
        assert_eq!(code_of(&e), ExitCode::Usage);
    }

    #[test]
    fn old_engines_are_refused_naming_the_minimum() {
        let t = Target::from_vars(None, false, None);
        let e = too_old(&t, 1, 40);
        assert_eq!(code_of(&e), ExitCode::Outside);
        let msg = render(&e);
        assert!(
            msg.contains("API 1.40") && msg.contains("1.41") && msg.contains(DEFAULT_HOST),
            "{msg}"
        );
    }
}
