//! Docker's disk usage, read from the daemon's `/system/df` in the engine's own JSON shape.
//!
//! bollard 0.21 models `/system/df` after the newest API, and on engine 20.10 its `df()` comes back with
//! every field `None`. So this module talks HTTP/1.1 to the daemon itself (unix socket or plain TCP, from
//! `DOCKER_HOST`) and deserializes the 20.10 document: `LayersSize`, `Images`, `Containers`, `Volumes`,
//! `BuildCache`, `BuilderSize`. Every field is optional so a newer engine's extra fields do no harm.

use crate::exit::{CodeExt, ExitCode, coded};
use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Where the daemon listens, from `DOCKER_HOST` (default `unix:///var/run/docker.sock`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket path.
    Unix(PathBuf),
    /// `host:port` of a plain-HTTP TCP endpoint.
    Tcp(String),
}

impl Endpoint {
    /// Reads `DOCKER_HOST`.
    pub fn from_env() -> anyhow::Result<Endpoint> {
        let host = std::env::var("DOCKER_HOST").unwrap_or_default();
        Endpoint::parse(&host)
    }

    /// Parses a `DOCKER_HOST` value; empty means the default socket.
    pub fn parse(host: &str) -> anyhow::Result<Endpoint> {
        let host = host.trim();
        if host.is_empty() {
            return Ok(Endpoint::Unix(PathBuf::from("/var/run/docker.sock")));
        }
        if let Some(p) = host.strip_prefix("unix://") {
            return Ok(Endpoint::Unix(PathBuf::from(p)));
        }
        let tls = std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0");
        for scheme in ["tcp://", "http://"] {
            if let Some(rest) = host.strip_prefix(scheme) {
                if tls {
                    break;
                }
                return Ok(Endpoint::Tcp(rest.trim_end_matches('/').to_string()));
            }
        }
        Err(coded(
            ExitCode::Usage,
            format!(
                "DOCKER_HOST={host}: stevedore prune reads disk usage over a unix socket or plain tcp:// only \
                 — point DOCKER_HOST at unix:///var/run/docker.sock or a tcp:// endpoint without TLS"
            ),
        ))
    }

    /// Shown in messages.
    pub fn describe(&self) -> String {
        match self {
            Endpoint::Unix(p) => format!("unix://{}", p.display()),
            Endpoint::Tcp(h) => format!("tcp://{h}"),
        }
    }
}

/// A minimal HTTP/1.1 client for the few requests bollard cannot make for us on engine 20.10.
#[derive(Clone, Debug)]
pub struct RawClient {
    endpoint: Endpoint,
    /// API version prefix such as `1.41` (negotiated by bollard).
    version: String,
}

impl RawClient {
    /// A client for `endpoint` speaking API `version` (e.g. `1.41`).
    pub fn new(endpoint: Endpoint, version: impl Into<String>) -> RawClient {
        RawClient {
            endpoint,
            version: version.into(),
        }
    }

    /// Sends a request with an empty body and returns the status and body.
    pub async fn request(&self, method: &str, path: &str) -> anyhow::Result<(u16, Bytes)> {
        let uri = format!("/v{}{}", self.version, path);
        let req = hyper::Request::builder()
            .method(method)
            .uri(&uri)
            .header("Host", "docker")
            .header(
                "User-Agent",
                concat!("stevedore/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::<Bytes>::new())?;
        let resp = match &self.endpoint {
            Endpoint::Unix(p) => {
                let s = tokio::net::UnixStream::connect(p).await.with_context(|| {
                    format!("cannot connect to the Docker socket {}", p.display())
                })?;
                send(TokioIo::new(s), req).await?
            }
            Endpoint::Tcp(h) => {
                let s = tokio::net::TcpStream::connect(h.as_str())
                    .await
                    .with_context(|| format!("cannot connect to the Docker daemon at tcp://{h}"))?;
                send(TokioIo::new(s), req).await?
            }
        };
        Ok(resp)
    }

    /// GETs `path` and deserializes the JSON answer.
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

/// The `/system/df` document of engine 20.10 (API 1.41).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DiskUsage {
    /// Bytes of all image layers, each counted once.
    pub layers_size: i64,
    /// Every image.
    pub images: Option<Vec<DfImage>>,
    /// Every container, running or not.
    pub containers: Option<Vec<DfContainer>>,
    /// Every volume.
    pub volumes: Option<Vec<DfVolume>>,
    /// Build cache records (BuildKit).
    pub build_cache: Option<Vec<DfBuildCache>>,
    /// Bytes of build cache.
    pub builder_size: Option<i64>,
}

/// One image in `/system/df`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DfImage {
    /// `sha256:…`
    pub id: String,
    /// The parent image's ID (classic builder), empty when none.
    pub parent_id: String,
    /// `repo:tag` references; `None` or `<none>:<none>` when dangling.
    pub repo_tags: Option<Vec<String>>,
    /// `repo@sha256:…` references.
    pub repo_digests: Option<Vec<String>>,
    /// Creation time, Unix seconds (from the image config's `created`).
    pub created: i64,
    /// Bytes of all the image's layers.
    pub size: i64,
    /// Bytes of its layers that other images share.
    pub shared_size: i64,
    /// Number of containers made from it (running or stopped).
    pub containers: i64,
    /// Labels.
    pub labels: Option<HashMap<String, String>>,
}

/// One container in `/system/df`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DfContainer {
    /// Container ID.
    pub id: String,
    /// The ID of the image it was made from.
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Bytes in its writable layer.
    pub size_rw: Option<i64>,
}

/// One volume in `/system/df`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DfVolume {
    /// Name.
    pub name: String,
    /// Its size (`-1` when unknown).
    pub usage_data: Option<DfVolumeUsage>,
}

/// Size of a volume.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DfVolumeUsage {
    /// Bytes, `-1` when not computed.
    pub size: i64,
}

/// One build cache record.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct DfBuildCache {
    /// Record ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Bytes.
    #[serde(rename = "Size")]
    pub size: i64,
    /// Held by a running build.
    #[serde(rename = "InUse")]
    pub in_use: bool,
    /// Shared with other records.
    #[serde(rename = "Shared")]
    pub shared: bool,
}

impl DiskUsage {
    /// Docker's usage in bytes: image layers (each once) + containers' writable layers + volumes + build
    /// cache — what `docker system df` adds up.
    pub fn total(&self) -> u64 {
        let pos = |v: i64| v.max(0) as u64;
        let containers: u64 = self
            .containers
            .iter()
            .flatten()
            .map(|c| pos(c.size_rw.unwrap_or(0)))
            .sum();
        let volumes: u64 = self
            .volumes
            .iter()
            .flatten()
            .map(|v| pos(v.usage_data.as_ref().map_or(0, |u| u.size)))
            .sum();
        pos(self.layers_size) + containers + volumes + self.build_cache_bytes()
    }

    /// Bytes of build cache.
    pub fn build_cache_bytes(&self) -> u64 {
        match self.builder_size {
            Some(b) => b.max(0) as u64,
            None => self
                .build_cache
                .iter()
                .flatten()
                .filter(|r| !r.shared)
                .map(|r| r.size.max(0) as u64)
                .sum(),
        }
    }
}

/// Reads `/system/df`.
pub async fn read(client: &RawClient) -> anyhow::Result<DiskUsage> {
    client
        .get_json::<DiskUsage>("/system/df")
        .await
        .context("cannot read Docker's disk usage (GET /system/df)")
        .code(ExitCode::Outside)
}

/// Reads Docker's data root (`DockerRootDir` of `/info`).
pub async fn data_root(client: &RawClient) -> anyhow::Result<PathBuf> {
    #[derive(Deserialize)]
    struct Info {
        #[serde(rename = "DockerRootDir", default)]
        docker_root_dir: String,
    }
    let info: Info = client
        .get_json("/info")
        .await
        .context("cannot read Docker's data root (GET /info)")
        .code(ExitCode::Outside)?;
    if info.docker_root_dir.is_empty() {
        return Err(coded(
            ExitCode::Outside,
            "the Docker daemon did not say where its data root is (DockerRootDir of /info): give a byte \
             threshold instead, e.g. --threshold 20GB",
        ));
    }
    Ok(PathBuf::from(info.docker_root_dir))
}

/// The total size in bytes of the filesystem holding `path`.
pub fn filesystem_size(path: &Path) -> anyhow::Result<u64> {
    let st = rustix::fs::statvfs(path)
        .with_context(|| {
            format!(
                "cannot measure the filesystem holding Docker's data root {} — run stevedore on the Docker host \
                 (or mount the data root at the same path), or give a byte threshold, e.g. --threshold 20GB",
                path.display()
            )
        })
        .code(ExitCode::Outside)?;
    Ok(st.f_blocks.saturating_mul(st.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        assert_eq!(
            Endpoint::parse("").unwrap(),
            Endpoint::Unix("/var/run/docker.sock".into())
        );
        assert_eq!(
            Endpoint::parse("unix:///run/d.sock").unwrap(),
            Endpoint::Unix("/run/d.sock".into())
        );
        assert_eq!(
            Endpoint::parse("tcp://127.0.0.1:2375").unwrap(),
            Endpoint::Tcp("127.0.0.1:2375".into())
        );
        assert!(Endpoint::parse("ssh://me@host").is_err());
    }

    #[test]
    fn engine_20_10_document() {
        // The shape engine 20.10.24 answers (trimmed).
        let doc = r#"{"LayersSize":1000,"Images":[{"Containers":1,"Created":1795816515,
            "Id":"sha256:aa","Labels":null,"ParentId":"","RepoDigests":null,"RepoTags":["a:1"],
            "SharedSize":0,"Size":600,"VirtualSize":600}],
            "Containers":[{"Id":"c1","ImageID":"sha256:aa","Created":1795816600,"SizeRw":20,"Names":["/x"]}],
            "Volumes":[{"Name":"v","UsageData":{"RefCount":1,"Size":30}},{"Name":"w","UsageData":{"RefCount":0,"Size":-1}}],
            "BuildCache":null,"BuilderSize":5}"#;
        let d: DiskUsage = serde_json::from_str(doc).unwrap();
        assert_eq!(d.total(), 1000 + 20 + 30 + 5);
        let img = &d.images.as_ref().unwrap()[0];
        assert_eq!(img.containers, 1);
        assert_eq!(d.containers.as_ref().unwrap()[0].image_id, "sha256:aa");
    }
}
