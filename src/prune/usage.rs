//! Docker's disk usage, read from the daemon's `/system/df` in the engine's own JSON shape.
//!
//! bollard 0.21 models `/system/df` after the newest API, and on engine 20.10 its `df()` comes back with
//! every field `None`. So this module reads it through the shared raw client ([`crate::docker::Raw`]: unix
//! socket, plain TCP or TLS, from `DOCKER_HOST`) and deserializes the 20.10 document: `LayersSize`,
//! `Images`, `Containers`, `Volumes`, `BuildCache`, `BuilderSize`. Every field is optional so a newer
//! engine's extra fields do no harm.

use crate::docker::Raw;
use crate::exit::{CodeExt, ExitCode, coded};
use anyhow::Context;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// How long to wait, at most, for another client's `/system/df` to finish (the daemon runs one at a time).
const DF_BUSY_WAIT: Duration = Duration::from_secs(60);

/// Reads `/system/df`. The daemon answers 500 "a disk usage operation is already running" while another
/// client (a concurrent job on a shared runner) reads it; that is retried for up to a minute.
pub async fn read(client: &Raw) -> anyhow::Result<DiskUsage> {
    let started = std::time::Instant::now();
    let mut wait = Duration::from_millis(250);
    loop {
        match client.get_json::<DiskUsage>("/system/df").await {
            Err(e) if busy(&e) && started.elapsed() + wait < DF_BUSY_WAIT => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            r => {
                return r
                    .context("cannot read Docker's disk usage (GET /system/df)")
                    .code(ExitCode::Outside);
            }
        }
    }
}

/// True for the daemon's answer to a `/system/df` while another one runs.
fn busy(e: &anyhow::Error) -> bool {
    format!("{e:#}").contains("disk usage operation is already running")
}

/// Reads Docker's data root (`DockerRootDir` of `/info`).
pub async fn data_root(client: &Raw) -> anyhow::Result<PathBuf> {
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
    let (_, total) = crate::docker::filesystem_space(path)
        .with_context(|| {
            format!(
                "cannot measure the filesystem holding Docker's data root {} — run stevedore on the Docker host \
                 (or mount the data root at the same path), or give a byte threshold, e.g. --threshold 20GB",
                path.display()
            )
        })
        .code(ExitCode::Outside)?;
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_concurrent_df_is_recognised() {
        let e = anyhow::anyhow!(
            "GET /system/df answered 500: {{\"message\":\"a disk usage operation is already running\"}}"
        )
        .context("outer");
        assert!(busy(&e));
        assert!(!busy(&anyhow::anyhow!("GET /system/df answered 500: boom")));
    }
}
