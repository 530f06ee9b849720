//! The image's layout from the archive's metadata: which layers, in which order, with which digests, and
//! the image config. Reads `docker save`'s `manifest.json` (Docker 20.10 writes `<id>/layer.tar` entries
//! and the config as `<hex>.json`) or an OCI layout's `index.json` → manifest → config and layer blobs.

use crate::exit::{ExitCode, coded};
use serde::Deserialize;
use std::collections::HashMap;

/// The image as the metadata describes it.
#[derive(Debug, Default)]
pub struct Layout {
    /// Layer names in the archive (`<id>/layer.tar`, `blobs/sha256/<hex>`), base first.
    pub layers: Vec<String>,
    /// Each layer's digest, same order.
    pub digests: Vec<String>,
    /// The image config, parsed.
    pub config: Config,
    /// The first tag the archive names, if any.
    pub tag: Option<String>,
    /// Notes for the log (e.g. an archive holding several images).
    pub notes: Vec<String>,
}

/// The parts of the image config a scan reads.
#[derive(Debug, Default, Deserialize)]
pub struct Config {
    /// The container config.
    #[serde(default)]
    pub config: ContainerConfig,
    /// One entry per Dockerfile step.
    #[serde(default)]
    pub history: Vec<History>,
    /// The layers' diff ids.
    #[serde(default)]
    pub rootfs: RootFs,
}

/// `config` of the image config.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// `KEY=value` lines.
    #[serde(default)]
    pub env: Option<Vec<String>>,
    /// Labels.
    #[serde(default)]
    pub labels: Option<std::collections::BTreeMap<String, String>>,
    /// Default command.
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    /// Entrypoint.
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
}

/// One history entry.
#[derive(Debug, Default, Deserialize)]
pub struct History {
    /// The step that made it (`RUN` lines show the build arguments they used).
    #[serde(default)]
    pub created_by: Option<String>,
}

/// `rootfs` of the image config.
#[derive(Debug, Default, Deserialize)]
pub struct RootFs {
    /// The uncompressed layers' digests, base first.
    #[serde(default)]
    pub diff_ids: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SaveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    digest: String,
    #[serde(default)]
    media_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OciManifest {
    #[serde(default)]
    media_type: String,
    #[serde(default)]
    manifests: Vec<Descriptor>,
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

fn bad(what: &str) -> anyhow::Error {
    coded(
        ExitCode::Usage,
        format!(
            "{what}: pass a `docker save` tar or an OCI image layout (directory or tar), or scan the image in the daemon with --image"
        ),
    )
}

/// Reads the layout from the archive's metadata files.
pub fn from_meta(meta: &HashMap<String, Vec<u8>>) -> anyhow::Result<Layout> {
    if let Some(m) = meta.get("manifest.json") {
        return from_save(meta, m);
    }
    if let Some(i) = meta.get("index.json") {
        return from_oci(meta, i);
    }
    Err(bad("the archive has neither manifest.json nor index.json"))
}

fn from_save(meta: &HashMap<String, Vec<u8>>, m: &[u8]) -> anyhow::Result<Layout> {
    let list: Vec<SaveEntry> = serde_json::from_slice(m)
        .map_err(|e| bad(&format!("manifest.json does not parse ({e})")))?;
    let Some(first) = list.first() else {
        return Err(bad("manifest.json lists no image"));
    };
    let mut notes = Vec::new();
    if list.len() > 1 {
        notes.push(format!(
            "the archive holds {} images: scanning the first ({})",
            list.len(),
            first.config
        ));
    }
    let config = parse_config(meta.get(&first.config), &first.config)?;
    let digests = (0..first.layers.len())
        .map(|i| {
            config
                .rootfs
                .diff_ids
                .get(i)
                .cloned()
                .unwrap_or_else(|| name_digest(&first.layers[i]))
        })
        .collect();
    Ok(Layout {
        layers: first.layers.clone(),
        digests,
        config,
        tag: first.repo_tags.as_ref().and_then(|t| t.first().cloned()),
        notes,
    })
}

fn from_oci(meta: &HashMap<String, Vec<u8>>, index: &[u8]) -> anyhow::Result<Layout> {
    let mut doc: OciManifest = serde_json::from_slice(index)
        .map_err(|e| bad(&format!("index.json does not parse ({e})")))?;
    let mut notes = Vec::new();
    // Follow indexes down to an image manifest (an index may point at another index).
    for _ in 0..4 {
        if doc.config.is_some() {
            break;
        }
        let images: Vec<&Descriptor> = doc
            .manifests
            .iter()
            .filter(|d| !d.media_type.contains("attestation"))
            .collect();
        let Some(d) = images.first() else {
            return Err(bad("index.json points at no image manifest"));
        };
        if images.len() > 1 && doc.media_type.contains("index") {
            notes.push(format!(
                "the index lists {} manifests: scanning the first ({})",
                images.len(),
                d.digest
            ));
        }
        let key = blob_key(&d.digest);
        let Some(b) = meta.get(&key) else {
            return Err(bad(&format!("the archive misses manifest blob {key}")));
        };
        doc = serde_json::from_slice(b)
            .map_err(|e| bad(&format!("manifest {key} does not parse ({e})")))?;
    }
    let Some(cfg) = &doc.config else {
        return Err(bad("no image manifest found under index.json"));
    };
    let key = blob_key(&cfg.digest);
    let config = parse_config(meta.get(&key), &key)?;
    Ok(Layout {
        layers: doc.layers.iter().map(|l| blob_key(&l.digest)).collect(),
        digests: doc.layers.iter().map(|l| l.digest.clone()).collect(),
        config,
        tag: None,
        notes,
    })
}

fn parse_config(raw: Option<&Vec<u8>>, name: &str) -> anyhow::Result<Config> {
    let Some(raw) = raw else {
        return Err(bad(&format!("the archive misses the image config {name}")));
    };
    serde_json::from_slice(raw)
        .map_err(|e| bad(&format!("image config {name} does not parse ({e})")))
}

/// `sha256:<hex>` → `blobs/sha256/<hex>`.
fn blob_key(digest: &str) -> String {
    let (algo, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    format!("blobs/{algo}/{hex}")
}

/// A digest from a layer's archive name, when the config gives none.
fn name_digest(name: &str) -> String {
    if let Some(rest) = name.strip_prefix("blobs/")
        && let Some((algo, hex)) = rest.split_once('/')
    {
        return format!("{algo}:{hex}");
    }
    format!("sha256:{}", name.split('/').next().unwrap_or(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oci_index_to_layers() {
        let mut meta = HashMap::new();
        meta.insert(
            "index.json".to_string(),
            br#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:aa","size":1}]}"#.to_vec(),
        );
        meta.insert(
            "blobs/sha256/aa".to_string(),
            br#"{"schemaVersion":2,"config":{"digest":"sha256:cc"},"layers":[{"digest":"sha256:l1"},{"digest":"sha256:l2"}]}"#.to_vec(),
        );
        meta.insert(
            "blobs/sha256/cc".to_string(),
            br#"{"config":{"Env":["A=b"]},"history":[{"created_by":"x"}],"rootfs":{"diff_ids":[]}}"#.to_vec(),
        );
        let l = from_meta(&meta).unwrap();
        assert_eq!(l.layers, ["blobs/sha256/l1", "blobs/sha256/l2"]);
        assert_eq!(l.digests, ["sha256:l1", "sha256:l2"]);
        assert_eq!(
            l.config.config.env.as_deref(),
            Some(&["A=b".to_string()][..])
        );
        let e = from_meta(&HashMap::new()).unwrap_err();
        assert_eq!(crate::exit::code_of(&e), ExitCode::Usage);
    }
}
