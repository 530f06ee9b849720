//! Test images for `stevedore prune`, made without pulling: a docker-archive (the `docker save` format) is
//! crafted here — config JSON with an old `created`, labels, layers tarred by the `tar` crate, optional
//! parent links — and given to `docker load`. Everything a test makes carries its own unique scope label
//! and repository prefix, and is removed by the [`Fixture`]'s drop — nothing else is ever touched.

#![allow(dead_code)]

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::process::Command;

/// One image to make.
#[derive(Clone, Debug, Default)]
pub struct Spec {
    /// `repo:tag` (with the fixture's prefix added), or `None` for a dangling image.
    pub tag: Option<String>,
    /// Creation time, seconds before now.
    pub age_secs: i64,
    /// Bytes of its own layer (random, so nothing is shared by accident).
    pub size: usize,
    /// Extra labels (the scope label is added unless `unscoped`).
    pub labels: Vec<(String, String)>,
    /// Index of the parent spec (must come earlier): this image's layers extend the parent's.
    pub parent: Option<usize>,
    /// Leave the scope label off.
    pub unscoped: bool,
}

/// A spec's result.
#[derive(Clone, Debug)]
pub struct Made {
    /// `sha256:…` image ID.
    pub id: String,
    /// Full `repo:tag`, if tagged.
    pub tag: Option<String>,
}

/// Images and containers a test made; removed on drop.
pub struct Fixture {
    /// Unique per test run.
    pub run: String,
    /// `stevedore-test-prune-<run>`.
    pub prefix: String,
    /// `stevedore.test.prune=<run>`.
    pub scope: String,
    /// What was made, in spec order.
    pub made: Vec<Made>,
    /// Container names created.
    pub containers: Vec<String>,
}

/// Days in seconds.
pub const DAY: i64 = 86_400;
/// A megabyte (decimal, like Docker).
pub const MB: usize = 1_000_000;

/// Per loaded spec: layer paths, diff IDs, history, config digest.
type Chain = (Vec<String>, Vec<String>, Vec<serde_json::Value>, String);

fn sha256_hex(b: &[u8]) -> String {
    let d = Sha256::digest(b);
    d.iter().map(|x| format!("{x:02x}")).collect()
}

fn layer_tar(name: &str, size: usize, rng: &mut fastrand::Rng) -> Vec<u8> {
    let mut data = vec![0u8; size];
    rng.fill(&mut data);
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(size as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    b.append_data(&mut h, format!("data/{name}"), data.as_slice())
        .unwrap();
    b.into_inner().unwrap()
}

impl Fixture {
    /// A new fixture with a random run id.
    pub fn new(what: &str) -> Fixture {
        let run = format!("{what}{}", fastrand::u32(..));
        Fixture {
            prefix: format!("stevedore-test-prune-{run}"),
            scope: format!("stevedore.test.prune={run}"),
            run,
            made: Vec::new(),
            containers: Vec::new(),
        }
    }

    /// The full reference for a short tag (`app:1` → `stevedore-test-prune-<run>/app:1`).
    pub fn r(&self, short: &str) -> String {
        format!("{}/{short}", self.prefix)
    }

    /// Makes the images with one `docker load`.
    pub fn load(&mut self, specs: &[Spec]) {
        let now = chrono::Utc::now();
        let mut rng = fastrand::Rng::with_seed(fastrand::u64(..));
        let dir = tempfile::tempdir().unwrap();
        let tar_path = dir.path().join("images.tar");
        let mut ar = tar::Builder::new(std::fs::File::create(&tar_path).unwrap());
        let put = |ar: &mut tar::Builder<std::fs::File>, path: &str, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_cksum();
            ar.append_data(&mut h, path, data).unwrap();
        };
        // Per spec: (layer paths, diff ids, history, config id).
        let mut chains: Vec<Chain> = Vec::new();
        let mut manifest = Vec::new();
        for (i, s) in specs.iter().enumerate() {
            let created = (now - chrono::Duration::seconds(s.age_secs))
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let layer = layer_tar(&format!("{}-{i}", self.run), s.size, &mut rng);
            let diff = format!("sha256:{}", sha256_hex(&layer));
            let lpath = format!("{}/layer.tar", sha256_hex(&layer));
            put(&mut ar, &lpath, &layer);
            let (mut paths, mut diffs, mut hist) = match s.parent {
                Some(p) => (
                    chains[p].0.clone(),
                    chains[p].1.clone(),
                    chains[p].2.clone(),
                ),
                None => (vec![], vec![], vec![]),
            };
            paths.push(lpath);
            diffs.push(diff);
            hist.push(serde_json::json!({"created": created, "created_by": format!("stevedore prune test layer {i}")}));
            let mut labels: BTreeMap<String, String> = s.labels.iter().cloned().collect();
            if !s.unscoped {
                let (k, v) = self.scope.split_once('=').unwrap();
                labels.insert(k.into(), v.into());
            }
            let config = serde_json::json!({
                "architecture": "amd64",
                "os": "linux",
                "created": created,
                "config": {"Labels": labels, "Cmd": ["/nothing"]},
                "rootfs": {"type": "layers", "diff_ids": diffs},
                "history": hist,
            });
            let cbytes = serde_json::to_vec(&config).unwrap();
            let cid = sha256_hex(&cbytes);
            put(&mut ar, &format!("{cid}.json"), &cbytes);
            let tag = s.tag.as_ref().map(|t| self.r(t));
            let mut entry = serde_json::json!({
                "Config": format!("{cid}.json"),
                "RepoTags": tag.iter().collect::<Vec<_>>(),
                "Layers": paths,
            });
            if let Some(p) = s.parent {
                entry["Parent"] = serde_json::json!(format!("sha256:{}", chains[p].3));
            }
            manifest.push(entry);
            self.made.push(Made {
                id: format!("sha256:{cid}"),
                tag,
            });
            chains.push((paths, diffs, hist, cid));
        }
        put(
            &mut ar,
            "manifest.json",
            &serde_json::to_vec(&manifest).unwrap(),
        );
        ar.into_inner().unwrap();
        let out = Command::new("docker")
            .args(["load", "-q", "-i"])
            .arg(&tar_path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker load failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Creates (does not start) a container from spec `i`.
    pub fn container(&mut self, i: usize) {
        let name = format!(
            "{}-c{}",
            self.prefix.replace('/', "-"),
            self.containers.len()
        );
        let (k, v) = self.scope.split_once('=').unwrap();
        let out = Command::new("docker")
            .args(["create", "--name", &name, "--label", &format!("{k}={v}")])
            .arg(&self.made[i].id)
            .arg("/nothing")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.containers.push(name);
    }

    /// Whether spec `i`'s image still exists.
    pub fn exists(&self, i: usize) -> bool {
        Command::new("docker")
            .args(["image", "inspect", "-f", "{{.Id}}", &self.made[i].id])
            .output()
            .unwrap()
            .status
            .success()
    }

    /// Indices of the specs whose images still exist.
    pub fn existing(&self) -> Vec<usize> {
        let out = Command::new("docker")
            .args(["images", "-a", "-q", "--no-trunc"])
            .output()
            .unwrap();
        let ids = String::from_utf8_lossy(&out.stdout).to_string();
        let ids: std::collections::HashSet<&str> = ids.lines().map(|l| l.trim()).collect();
        (0..self.made.len())
            .filter(|&i| ids.contains(self.made[i].id.as_str()))
            .collect()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        for c in &self.containers {
            let _ = Command::new("docker").args(["rm", "-f", c]).output();
        }
        // Children first, then the rest; only the IDs this fixture made.
        for m in self.made.iter().rev() {
            let _ = Command::new("docker").args(["rmi", "-f", &m.id]).output();
        }
    }
}

/// Docker's usage, measured independently of stevedore: `/system/df` over the socket with curl, summed
/// like `docker system df` (layers once + containers' writable layers + volumes + build cache).
pub fn docker_usage() -> u64 {
    let out = Command::new("curl")
        .args([
            "-s",
            "--unix-socket",
            "/var/run/docker.sock",
            "http://localhost/v1.41/system/df",
        ])
        .output()
        .expect("curl");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("df json");
    let n = |x: &serde_json::Value| x.as_i64().unwrap_or(0).max(0) as u64;
    let mut total = n(&v["LayersSize"]) + n(&v["BuilderSize"]);
    for c in v["Containers"].as_array().into_iter().flatten() {
        total += n(&c["SizeRw"]);
    }
    for vol in v["Volumes"].as_array().into_iter().flatten() {
        total += n(&vol["UsageData"]["Size"]);
    }
    total
}
