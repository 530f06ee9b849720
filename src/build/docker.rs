//! The connection to the Docker daemon, shared by every step that talks to it.
//!
//! [`connect`] reads `DOCKER_HOST` the way the `docker` CLI does — `unix://PATH` (default
//! `unix:///var/run/docker.sock`), `tcp://HOST:PORT`, and `tcp://` with TLS when `DOCKER_TLS_VERIFY` is
//! set, the client certificate, key and CA read from `DOCKER_CERT_PATH` (default `~/.docker`) as
//! `cert.pem`, `key.pem`, `ca.pem` (what GitLab's `docker:dind` service sets up with `DOCKER_TLS_CERTDIR`)
//! — then pings the daemon and negotiates the API version. Engines older than 20.10 (API 1.41) are
//! refused. Every failure is exit 4 and names what was tried and how to fix it.

use crate::exit::{CodeExt, ExitCode, coded};
use bollard::{API_DEFAULT_VERSION, Docker};
use std::path::PathBuf;
use std::time::Duration;

/// The oldest Docker Engine API stevedore supports (Engine 20.10).
pub const MIN_API: (usize, usize) = (1, 41);

/// The socket used when `DOCKER_HOST` is unset.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// How long to wait for the daemon's first answer.
const PING_TIMEOUT: Duration = Duration::from_secs(15);

/// Where and how to reach the daemon, as read from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The address as given (`unix:///…`, `tcp://…`).
    pub host: String,
    /// Where the address came from: `DOCKER_HOST` or the default.
    pub source: &'static str,
    /// The certificate directory when TLS is on.
    pub tls_dir: Option<PathBuf>,
}

impl Target {
    /// Reads `DOCKER_HOST`, `DOCKER_TLS_VERIFY` and `DOCKER_CERT_PATH` from the process environment.
    pub fn from_env() -> Target {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Target::from_vars(
            get("DOCKER_HOST"),
            get("DOCKER_TLS_VERIFY").is_some(),
            get("DOCKER_CERT_PATH"),
        )
    }

    /// Builds a target from the three variables (`tls_verify`: `DOCKER_TLS_VERIFY` is set and not empty).
    pub fn from_vars(host: Option<String>, tls_verify: bool, cert_path: Option<String>) -> Target {
        let (host, source) = match host {
            Some(h) => (h.trim().to_string(), "DOCKER_HOST"),
            None => (DEFAULT_HOST.to_string(), "default"),
        };
        let tls_dir = tls_verify.then(|| {
            cert_path.map(PathBuf::from).unwrap_or_else(|| {
                std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .unwrap_or_default()
                    .join(".docker")
            })
        });
        Target {
            host,
            source,
            tls_dir,
        }
    }

    /// How to describe this target in messages.
    pub fn describe(&self) -> String {
        let tls = if self.tls_dir.is_some() {
            " with TLS"
        } else {
            ""
        };
        format!("{}{tls} ({})", self.host, self.source)
    }
}

/// Connects to the daemon named by the environment (see the module docs), pings it and negotiates the
/// API version. `timeout` bounds each request (a build upload included); use a generous one for builds.
pub async fn connect(timeout: Duration) -> anyhow::Result<Docker> {
    connect_to(&Target::from_env(), timeout).await
}

/// Connects to `target`; see [`connect`].
pub async fn connect_to(target: &Target, timeout: Duration) -> anyhow::Result<Docker> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let secs = timeout.as_secs().max(1);
    let fix = "start dockerd, or point DOCKER_HOST at a running daemon (unix:///path/docker.sock, tcp://host:2375, or tcp://host:2376 with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH)";
    let docker = if let Some(path) = target.host.strip_prefix("unix://") {
        Docker::connect_with_unix(path, secs, API_DEFAULT_VERSION)
    } else if target.host.starts_with("tcp://")
        || target.host.starts_with("http://")
        || target.host.starts_with("https://")
    {
        match &target.tls_dir {
            Some(dir) => {
                for f in ["ca.pem", "cert.pem", "key.pem"] {
                    if !dir.join(f).is_file() {
                        return Err(coded(
                            ExitCode::Outside,
                            format!(
                                "cannot connect to the Docker daemon at {}: {} is missing — set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem, or unset DOCKER_TLS_VERIFY for a plain TCP daemon",
                                target.describe(),
                                dir.join(f).display()
                            ),
                        ));
                    }
                }
                let host = target.host.replacen("https://", "tcp://", 1);
                Docker::connect_with_ssl(
                    &host,
                    &dir.join("key.pem"),
                    &dir.join("cert.pem"),
                    &dir.join("ca.pem"),
                    secs,
                    API_DEFAULT_VERSION,
                )
            }
            None => Docker::connect_with_http(&target.host, secs, API_DEFAULT_VERSION),
        }
    } else {
        return Err(coded(
            ExitCode::Usage,
            format!(
                "DOCKER_HOST={} is not supported: use unix:///path/to/docker.sock or tcp://host:port",
                target.host
            ),
        ));
    };
    let docker = docker.code(ExitCode::Outside).map_err(|e| {
        e.context(format!(
            "cannot set up a connection to the Docker daemon at {} — {fix}",
            target.describe()
        ))
    })?;
    let negotiated = tokio::time::timeout(PING_TIMEOUT, docker.negotiate_version()).await;
    let docker = match negotiated {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            return Err(coded(
                ExitCode::Outside,
                format!(
                    "cannot reach the Docker daemon at {}: {} — {fix}",
                    target.describe(),
                    e.to_string().trim()
                ),
            ));
        }
        Err(_) => {
            return Err(coded(
                ExitCode::Outside,
                format!(
                    "the Docker daemon at {} did not answer within {}s — {fix}",
                    target.describe(),
                    PING_TIMEOUT.as_secs()
                ),
            ));
        }
    };
    let v = docker.client_version();
    if (v.major_version, v.minor_version) < MIN_API {
        return Err(coded(
            ExitCode::Outside,
            format!(
                "the Docker daemon at {} speaks API {}.{}; stevedore needs {}.{} (Docker Engine 20.10) or newer — upgrade the engine",
                target.describe(),
                v.major_version,
                v.minor_version,
                MIN_API.0,
                MIN_API.1
            ),
        ));
    }
    Ok(docker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_from_vars() {
        let t = Target::from_vars(None, false, None);
        assert_eq!(t.host, DEFAULT_HOST);
        assert_eq!(t.source, "default");
        assert!(t.tls_dir.is_none());
        let t = Target::from_vars(
            Some("tcp://docker:2376".into()),
            true,
            Some("/certs/client".into()),
        );
        assert_eq!(
            t.tls_dir.as_deref(),
            Some(std::path::Path::new("/certs/client"))
        );
        assert!(t.describe().contains("with TLS"));
    }

    #[tokio::test]
    async fn nothing_listening_is_exit_4_naming_the_socket() {
        let d = tempfile::tempdir().unwrap();
        let sock = format!("unix://{}/none.sock", d.path().display());
        let t = Target::from_vars(Some(sock.clone()), false, None);
        let e = connect_to(&t, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(crate::exit::code_of(&e), ExitCode::Outside);
        let msg = crate::exit::render(&e);
        assert!(msg.contains(&sock) && msg.contains("DOCKER_HOST"), "{msg}");
    }

    #[tokio::test]
    async fn missing_tls_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        let t = Target::from_vars(
            Some("tcp://127.0.0.1:1".into()),
            true,
            Some(d.path().display().to_string()),
        );
        let e = connect_to(&t, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(crate::exit::code_of(&e), ExitCode::Outside);
        assert!(crate::exit::render(&e).contains("ca.pem"));
    }

    #[tokio::test]
    async fn ssh_hosts_are_a_usage_error() {
        let t = Target::from_vars(Some("ssh://user@host".into()), false, None);
        let e = connect_to(&t, Duration::from_secs(5)).await.unwrap_err();
        assert_eq!(crate::exit::code_of(&e), ExitCode::Usage);
    }
}
