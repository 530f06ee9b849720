//! Where the Docker daemon is and how to reach it, read from the environment the way the `docker` CLI
//! reads it: `DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`.

use crate::exit::{ExitCode, coded};
use std::path::{Path, PathBuf};

/// The socket used when `DOCKER_HOST` is unset.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The certificate files `DOCKER_CERT_PATH` must hold when TLS is on.
pub const TLS_FILES: [&str; 3] = ["ca.pem", "cert.pem", "key.pem"];

/// Where and how to reach the daemon, as read from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The address as given (`unix:///…`, `tcp://…`).
    pub host: String,
    /// Where the address came from: `DOCKER_HOST`, the default, or a caller's override.
    pub source: &'static str,
    /// The certificate directory when TLS is on.
    pub tls_dir: Option<PathBuf>,
}

/// A parsed daemon address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// A unix socket path.
    Unix(PathBuf),
    /// `host:port` of a TCP endpoint (plain HTTP, or TLS when the target has a certificate directory).
    Tcp(String),
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

    /// The same target at another address (e.g. a deploy target's own `docker_host`), keeping the TLS
    /// settings; `None` keeps this one.
    pub fn with_host(mut self, host: Option<&str>, source: &'static str) -> Target {
        if let Some(h) = host.map(str::trim).filter(|h| !h.is_empty()) {
            self.host = h.to_string();
            self.source = source;
        }
        self
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

    /// Parses the address: `unix://PATH`, or `tcp://`, `http://`, `https://` `HOST:PORT`. Anything else
    /// (ssh://, npipe://, a bare path) is a usage error (exit 2) saying what is supported.
    pub fn address(&self) -> anyhow::Result<Address> {
        let h = self.host.as_str();
        if let Some(path) = h.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(unsupported(h));
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        for scheme in ["tcp://", "http://", "https://"] {
            if let Some(rest) = h.strip_prefix(scheme) {
                let rest = rest.trim_end_matches('/');
                if rest.is_empty() || rest.contains('/') {
                    return Err(unsupported(h));
                }
                return Ok(Address::Tcp(rest.to_string()));
            }
        }
        Err(unsupported(h))
    }

    /// The certificate directory's `ca.pem`, `cert.pem`, `key.pem`, checked to exist. A missing file is
    /// exit 4 naming it and the fix. `None` when TLS is off.
    pub fn tls_files(&self) -> anyhow::Result<Option<TlsFiles>> {
        let Some(dir) = &self.tls_dir else {
            return Ok(None);
        };
        for f in TLS_FILES {
            if !dir.join(f).is_file() {
                return Err(coded(
                    ExitCode::Outside,
                    format!(
                        "cannot connect to the Docker daemon at {}: {} is missing — set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem, or unset DOCKER_TLS_VERIFY for a plain TCP daemon",
                        self.describe(),
                        dir.join(f).display()
                    ),
                ));
            }
        }
        Ok(Some(TlsFiles::in_dir(dir)))
    }
}

/// The three PEM files of a TLS connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA that signed the daemon's certificate.
    pub ca: PathBuf,
    /// The client certificate.
    pub cert: PathBuf,
    /// The client certificate's private key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// `ca.pem`, `cert.pem` and `key.pem` in `dir`.
    pub fn in_dir(dir: &Path) -> TlsFiles {
        TlsFiles {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        }
    }
}

fn unsupported(host: &str) -> anyhow::Error {
    coded(
        ExitCode::Usage,
        format!(
            "DOCKER_HOST={host} is not supported: use unix:///path/to/docker.sock or tcp://host:port (with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH for TLS)"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::code_of;

    fn target(host: &str) -> Target {
        Target::from_vars(Some(host.into()), false, None)
    }

    #[test]
    fn default_is_the_local_socket() {
        let t = Target::from_vars(None, false, None);
        assert_eq!(t.host, DEFAULT_HOST);
        assert_eq!(t.source, "default");
        assert!(t.tls_dir.is_none());
        assert_eq!(
            t.address().unwrap(),
            Address::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(t.describe(), "unix:///var/run/docker.sock (default)");
    }

    #[test]
    fn parses_unix_and_tcp_addresses() {
        assert_eq!(
            target(" unix:///run/d.sock ").address().unwrap(),
            Address::Unix("/run/d.sock".into())
        );
        for h in [
            "tcp://127.0.0.1:2375",
            "http://127.0.0.1:2375",
            "tcp://127.0.0.1:2375/",
        ] {
            assert_eq!(
                target(h).address().unwrap(),
                Address::Tcp("127.0.0.1:2375".into()),
                "{h}"
            );
        }
        assert_eq!(
            target("https://docker:2376").address().unwrap(),
            Address::Tcp("docker:2376".into())
        );
    }

    #[test]
    fn unsupported_addresses_are_usage_errors_naming_the_value() {
        for h in [
            "ssh://me@host",
            "npipe:////./pipe/docker_engine",
            "/var/run/docker.sock",
            "tcp://",
            "unix://",
            "tcp://host:2375/path",
        ] {
            let e = target(h).address().unwrap_err();
            assert_eq!(code_of(&e), ExitCode::Usage, "{h}");
            let msg = crate::exit::render(&e);
            assert!(msg.contains(h) && msg.contains("tcp://host:port"), "{msg}");
        }
    }

    #[test]
    fn tls_settings() {
        let t = Target::from_vars(
            Some("tcp://docker:2376".into()),
            true,
            Some("/certs/client".into()),
        );
        assert_eq!(t.tls_dir.as_deref(), Some(Path::new("/certs/client")));
        assert_eq!(t.describe(), "tcp://docker:2376 with TLS (DOCKER_HOST)");
        let none = Target::from_vars(Some("tcp://docker:2375".into()), false, Some("/x".into()));
        assert!(none.tls_dir.is_none());
        assert!(none.tls_files().unwrap().is_none());
    }

    #[test]
    fn missing_tls_files_are_exit_4_naming_the_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("ca.pem"), "x").unwrap();
        let t = Target::from_vars(
            Some("tcp://127.0.0.1:1".into()),
            true,
            Some(d.path().display().to_string()),
        );
        let e = t.tls_files().unwrap_err();
        assert_eq!(code_of(&e), ExitCode::Outside);
        let msg = crate::exit::render(&e);
        assert!(
            msg.contains("cert.pem") && msg.contains("DOCKER_CERT_PATH"),
            "{msg}"
        );
        std::fs::write(d.path().join("cert.pem"), "x").unwrap();
        std::fs::write(d.path().join("key.pem"), "x").unwrap();
        assert_eq!(t.tls_files().unwrap(), Some(TlsFiles::in_dir(d.path())));
    }

    #[test]
    fn a_override_replaces_the_address_and_keeps_tls() {
        let t = Target::from_vars(None, true, Some("/c".into()));
        let o = t
            .clone()
            .with_host(Some("tcp://10.0.0.5:2376"), "docker_host");
        assert_eq!(o.host, "tcp://10.0.0.5:2376");
        assert_eq!(o.source, "docker_host");
        assert_eq!(o.tls_dir, t.tls_dir);
        assert_eq!(t.clone().with_host(None, "docker_host"), t);
        assert_eq!(t.clone().with_host(Some(" "), "docker_host"), t);
    }
}
