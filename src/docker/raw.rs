//! A minimal HTTP/1.1 client for the few daemon requests bollard 0.21 cannot make for us on engine 20.10
//! (it models `/system/df` after the newest API and reads every field of 20.10's answer as `None`).
//!
//! It speaks to the same address as [`super::connect`]: a unix socket, plain TCP, or TCP with TLS (the
//! client certificate, key and CA of `DOCKER_CERT_PATH`, the daemon's certificate checked against that
//! CA and the address's host name or IP, as the `docker` CLI does).

use super::target::{Address, Target};
use crate::exit::{CodeExt, ExitCode, coded};
use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::de::DeserializeOwned;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A byte stream to the daemon: a unix socket, TCP, or TLS over TCP.
pub trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

const USER_AGENT: &str = concat!("stevedore/", env!("CARGO_PKG_VERSION"));

/// A raw client: one request per connection. [`Raw::request`] sends an empty body and reads the whole
/// answer into memory; [`Raw::open`] streams both ways and can upgrade the connection (BuildKit's
/// `/session`).
#[derive(Clone)]
pub struct Raw {
    address: Address,
    tls: Option<Arc<rustls::ClientConfig>>,
    /// API version prefix such as `1.41` (negotiated by bollard).
    version: String,
    /// For messages.
    describe: String,
    /// How long one request (connect, answer and body) may take.
    timeout: Duration,
}

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Raw")
            .field("address", &self.address)
            .field("tls", &self.tls.is_some())
            .field("version", &self.version)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Raw {
    /// A client for `target` speaking API `version` (e.g. `1.41`), each request bounded by `timeout`.
    /// Reads the TLS files when TLS is on; a missing or unreadable one is exit 4 naming it.
    pub fn new(target: &Target, version: &str, timeout: Duration) -> anyhow::Result<Raw> {
        let address = target.address()?;
        let tls = match (&address, target.tls_files()?) {
            (Address::Tcp(_), Some(f)) => Some(Arc::new(
                tls_config(&f.ca, &f.cert, &f.key)
                    .with_context(|| {
                        format!(
                            "cannot use the TLS certificates in DOCKER_CERT_PATH for {} — give the directory holding the ca.pem, cert.pem and key.pem the daemon trusts",
                            target.describe()
                        )
                    })
                    .code(ExitCode::Outside)?,
            )),
            _ => None,
        };
        Ok(Raw {
            address,
            tls,
            version: version.to_string(),
            describe: target.describe(),
            timeout,
        })
    }

    /// Sends `method path` (path under the API version, e.g. `/system/df`) with an empty body and returns
    /// the status and body; no complete answer within the timeout is an error saying so.
    pub async fn request(&self, method: &str, path: &str) -> anyhow::Result<(u16, Bytes)> {
        tokio::time::timeout(self.timeout, self.exchange(method, path))
            .await
            .unwrap_or_else(|_| {
                Err(anyhow::anyhow!(
                    "the Docker daemon at {} did not answer {method} {path} within {}s",
                    self.describe,
                    self.timeout.as_secs_f64().ceil()
                ))
            })
    }

    async fn exchange(&self, method: &str, path: &str) -> anyhow::Result<(u16, Bytes)> {
        let req = hyper::Request::builder()
            .method(method)
            .uri(self.uri(path))
            .header("Host", "docker")
            .header("User-Agent", USER_AGENT)
            .body(Empty::<Bytes>::new())?;
        send(self.connect().await?, req).await
    }

    /// The request URI of `path` (path and query under the API version, e.g. `/build?t=x`).
    pub fn uri(&self, path: &str) -> String {
        format!("/v{}{}", self.version, path)
    }

    /// A request builder for `method path` with the headers every request carries.
    pub fn builder(&self, method: &str, path: &str) -> hyper::http::request::Builder {
        hyper::Request::builder()
            .method(method)
            .uri(self.uri(path))
            .header("Host", "docker")
            .header("User-Agent", USER_AGENT)
    }

    /// Opens a new connection to the daemon (unix socket, TCP or TLS), ready for HTTP/1.1.
    pub async fn connect(&self) -> anyhow::Result<TokioIo<Box<dyn Io>>> {
        let cannot = || format!("cannot connect to the Docker daemon at {}", self.describe);
        let io: Box<dyn Io> = match &self.address {
            Address::Unix(p) => Box::new(
                tokio::net::UnixStream::connect(p)
                    .await
                    .with_context(cannot)?,
            ),
            Address::Tcp(h) => {
                let s = tokio::net::TcpStream::connect(h.as_str())
                    .await
                    .with_context(cannot)?;
                match &self.tls {
                    None => Box::new(s),
                    Some(config) => Box::new(
                        tokio_rustls::TlsConnector::from(config.clone())
                            .connect(server_name(h)?, s)
                            .await
                            .with_context(|| {
                                format!(
                                    "TLS handshake with the Docker daemon at {} failed",
                                    self.describe
                                )
                            })?,
                    ),
                }
            }
        };
        Ok(TokioIo::new(io))
    }

    /// Sends `req` on a new connection and returns the answer with its body still streaming (a build's
    /// output), or — for a `101 Switching Protocols` — ready for [`hyper::upgrade::on`]. No timeout:
    /// the caller bounds the exchange.
    pub async fn open<B>(&self, req: hyper::Request<B>) -> anyhow::Result<hyper::Response<Incoming>>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let io = self.connect().await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .context("HTTP handshake with the Docker daemon failed")?;
        tokio::spawn(conn.with_upgrades());
        sender
            .send_request(req)
            .await
            .context("request to the Docker daemon failed")
    }

    /// GETs `path` and deserializes the JSON answer; a status other than 200 is an error with the
    /// daemon's message.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let (status, body) = self.request("GET", path).await?;
        if status != 200 {
            anyhow::bail!(
                "GET {path} answered {status}: {}",
                String::from_utf8_lossy(&body).trim()
            );
        }
        serde_json::from_slice(&body)
            .with_context(|| format!("the daemon's answer to GET {path} is not the JSON expected"))
    }
}

/// The server name to check the daemon's certificate against: the host of `host:port` (an IP or a DNS
/// name; `[::1]:2376` style IPv6 too).
fn server_name(authority: &str) -> anyhow::Result<ServerName<'static>> {
    let host = match authority.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|e| {
        coded(
            ExitCode::Usage,
            format!("DOCKER_HOST names {host}, which is not a host name or IP address ({e})"),
        )
    })
}

/// A rustls client configuration trusting only `ca` and presenting `cert` with `key`.
fn tls_config(ca: &Path, cert: &Path, key: &Path) -> anyhow::Result<rustls::ClientConfig> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut roots = rustls::RootCertStore::empty();
    let cas = CertificateDer::pem_file_iter(ca)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read the CA certificate {}", ca.display()))?;
    let (added, _) = roots.add_parsable_certificates(cas);
    if added == 0 {
        anyhow::bail!("{} holds no CA certificate", ca.display());
    }
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read the client certificate {}", cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read the client key {}", key.display()))?;
    rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .context("the client certificate and key do not match")
}

async fn send<I>(io: I, req: hyper::Request<Empty<Bytes>>) -> anyhow::Result<(u16, Bytes)>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .context("HTTP handshake with the Docker daemon failed")?;
    let driver = tokio::spawn(conn);
    let resp = sender
        .send_request(req)
        .await
        .context("request to the Docker daemon failed")?;
    let status = resp.status().as_u16();
    let body = resp
        .into_body()
        .collect()
        .await
        .context("reading the Docker daemon's answer failed")?
        .to_bytes();
    driver.abort();
    Ok((status, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::code_of;

    #[test]
    fn server_names() {
        assert_eq!(
            server_name("127.0.0.1:2376").unwrap(),
            ServerName::try_from("127.0.0.1").unwrap()
        );
        assert_eq!(
            server_name("docker:2376").unwrap(),
            ServerName::try_from("docker").unwrap()
        );
        assert_eq!(
            server_name("[::1]:2376").unwrap(),
            ServerName::try_from("::1").unwrap()
        );
        assert_eq!(
            code_of(&server_name("bad host:1").unwrap_err()),
            ExitCode::Usage
        );
    }

    #[test]
    fn unreadable_certificates_are_exit_4_naming_the_directory() {
        let d = tempfile::tempdir().unwrap();
        for f in super::super::TLS_FILES {
            std::fs::write(d.path().join(f), "not a pem").unwrap();
        }
        let t = Target::from_vars(
            Some("tcp://127.0.0.1:2376".into()),
            true,
            Some(d.path().display().to_string()),
        );
        let e = Raw::new(&t, "1.41", Duration::from_secs(5)).unwrap_err();
        assert_eq!(code_of(&e), ExitCode::Outside);
        let msg = crate::exit::render(&e);
        assert!(
            msg.contains("DOCKER_CERT_PATH") && msg.contains("ca.pem"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn plain_requests_over_a_unix_socket() {
        // A one-shot HTTP server on a unix socket: checks the request line, answers JSON.
        let d = tempfile::tempdir().unwrap();
        let sock = d.path().join("d.sock");
        let l = tokio::net::UnixListener::bind(&sock).unwrap();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap();
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let body = r#"{"DockerRootDir":"/var/lib/docker"}"#;
            s.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )
            .await
            .unwrap();
            head
        });
        let t = Target::from_vars(Some(format!("unix://{}", sock.display())), false, None);
        let raw = Raw::new(&t, "1.41", Duration::from_secs(5)).unwrap();
        let v: serde_json::Value = raw.get_json("/info").await.unwrap();
        assert_eq!(v["DockerRootDir"], "/var/lib/docker");
        let head = server.await.unwrap();
        assert!(head.starts_with("GET /v1.41/info HTTP/1.1\r\n"), "{head}");
    }

    #[tokio::test]
    async fn a_daemon_that_never_answers_times_out() {
        let d = tempfile::tempdir().unwrap();
        let sock = d.path().join("d.sock");
        let l = tokio::net::UnixListener::bind(&sock).unwrap();
        let _held = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((s, _)) = l.accept().await {
                held.push(s);
            }
        });
        let t = Target::from_vars(Some(format!("unix://{}", sock.display())), false, None);
        let raw = Raw::new(&t, "1.41", Duration::from_millis(300)).unwrap();
        let e = raw.request("GET", "/system/df").await.unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.contains("did not answer GET /system/df within 1s") && msg.contains("d.sock"),
            "{msg}"
        );
    }
}
