//! `stevedore scan --image REF` / `--archive FILE`: secrets in a container image.
//!
//! A clean repository does not make a clean image: a `.env` that `COPY . .` put in a layer (a later
//! `RUN rm` removes nothing from the layer below), a build argument used by a `RUN` (it stays in the
//! history), an `ENV` password. This module reads every file of every layer — deleted and overwritten
//! ones included — and the config's `Env`, `Labels`, `Cmd`, `Entrypoint` and each history `created_by`,
//! with the repository scan's rules.
//!
//! The parts: [`reader`] streams the archive and its layers to detector threads; [`layout`] reads the
//! layer order and config from the metadata; [`skip`] is the base-image skip list; [`place`] says where a
//! finding is and what to do. Sources: the daemon's export (`GET /images/{name}/get`, through bollard,
//! streamed), a `docker save` tar, an OCI layout directory or tar.

pub mod cli;
pub mod layout;
pub mod place;
pub mod reader;
pub mod skip;

pub use cli::{GATE_REPORT, Source, Summary, gate, scan_source};
pub use place::{Gone, Part, Where};
pub use skip::SkipList;

use crate::exit::{CodeExt, ExitCode, coded};
use crate::scan::detect::Detector;
use crate::scan::found::{Limits, Located, Stats};
use anyhow::Context;
use reader::{Collected, Ctx, Reading};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// What an image scan needs: rules, limits, skip list, progress callback.
pub struct Scanner<'a> {
    /// The rules.
    pub detector: &'a Detector,
    /// Size limit and threads (the repository's `exclude` patterns do not apply to images).
    pub limits: &'a Limits,
    /// Base-image paths not read.
    pub skip: &'a SkipList,
    /// Called with the bytes of each file scanned.
    pub on_bytes: &'a (dyn Fn(u64) + Sync),
}

/// The result of scanning one image, before suppression.
#[derive(Debug, Default)]
pub struct ImageScan {
    /// What was scanned, as named on the command line.
    pub image: String,
    /// Findings, one per (rule, path, secret), located in the layer that introduced them.
    pub findings: Vec<Located>,
    /// Counters (`skipped_excluded` is the total the skip list left out).
    pub stats: Stats,
    /// Number of layers.
    pub layers: usize,
    /// Files left out by each skip pattern that left out any.
    pub skipped: Vec<(String, u64)>,
    /// Notes for the log.
    pub notes: Vec<String>,
}

impl Scanner<'_> {
    /// Scans a `docker save` tar, an OCI layout tar or an OCI layout directory.
    pub fn archive(&self, path: &Path) -> anyhow::Result<ImageScan> {
        let name = path.display().to_string();
        if path.is_dir() {
            return self.collected(&name, |r| read_dir(r, path));
        }
        let f = std::fs::File::open(path)
            .with_context(|| {
                format!("cannot open the image archive {name}: check the path (make one with `docker save IMAGE -o FILE`)")
            })
            .code(ExitCode::Usage)?;
        self.collected(&name, |r| {
            reader::read_tar(r, std::io::BufReader::with_capacity(1 << 20, f))
        })
    }

    /// Scans a tar stream (`docker save` format or OCI layout).
    pub fn stream(&self, name: &str, s: impl std::io::Read) -> anyhow::Result<ImageScan> {
        self.collected(name, |r| reader::read_tar(r, s))
    }

    /// Scans an image in the Docker daemon, read through its export endpoint (`GET
    /// /images/{name}/get`) and streamed. Blocks: call it outside async code or inside
    /// `tokio::task::block_in_place`; `rt` runs the HTTP side.
    pub fn daemon(
        &self,
        rt: &tokio::runtime::Handle,
        docker: &bollard::Docker,
        reference: &str,
    ) -> anyhow::Result<ImageScan> {
        use futures_util::StreamExt;
        if let Err(e) = rt.block_on(docker.inspect_image(reference)) {
            let code = match &e {
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                } => ExitCode::Usage,
                _ => ExitCode::Outside,
            };
            return Err(coded(
                code,
                format!(
                    "cannot find image {reference} in the Docker daemon ({}): build it first or check the name (`docker images`)",
                    crate::error_chain::error_chain(&e)
                ),
            ));
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(64);
        let d = docker.clone();
        let r = reference.to_string();
        let pump = rt.spawn(async move {
            let mut s = d.export_image(&r);
            while let Some(c) = s.next().await {
                let c = c.map_err(std::io::Error::other);
                if tx.send(c).await.is_err() {
                    break;
                }
            }
        });
        let rd = ChannelReader {
            rx,
            cur: bytes::Bytes::new(),
        };
        let out = self.stream(reference, rd);
        pump.abort();
        out.map_err(|e| e.context(format!("reading image {reference} from the Docker daemon")))
    }

    fn collected(
        &self,
        name: &str,
        feed: impl FnOnce(&mut Reading) -> anyhow::Result<()>,
    ) -> anyhow::Result<ImageScan> {
        let started = Instant::now();
        let ctx = Ctx {
            detector: self.detector,
            limits: self.limits,
            skip: self.skip,
            on_bytes: self.on_bytes,
        };
        let got = reader::collect(&ctx, feed)?;
        let mut scan = finish(name, got, self.detector, self.skip)?;
        scan.stats.elapsed = started.elapsed();
        Ok(scan)
    }
}

/// Turns what was read into located findings: layer order, what later layers hid, the config.
fn finish(name: &str, got: Collected, d: &Detector, skip: &SkipList) -> anyhow::Result<ImageScan> {
    let lay = layout::from_meta(&got.meta)?;
    let by_name: HashMap<&str, usize> = got
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name.as_str(), i))
        .collect();
    let mut order = Vec::with_capacity(lay.layers.len());
    for l in &lay.layers {
        let Some(&i) = by_name.get(l.as_str()) else {
            return Err(coded(
                ExitCode::Usage,
                format!(
                    "the archive misses layer {l} that its manifest lists: the archive is incomplete (save it again)"
                ),
            ));
        };
        order.push(i);
    }
    let mut findings = layer_findings(name, &got, &order, &lay.digests);
    findings.extend(config_findings(name, &lay.config, d));
    let c = &got.counts;
    let skipped: Vec<(String, u64)> = skip
        .patterns()
        .iter()
        .zip(&c.per_skip)
        .filter(|(_, n)| **n > 0)
        .map(|(p, n)| (p.clone(), *n))
        .collect();
    Ok(ImageScan {
        image: name.to_string(),
        findings,
        stats: Stats {
            files_scanned: c.files,
            bytes_scanned: c.bytes,
            skipped_binary: c.binary,
            skipped_too_large: c.large,
            skipped_excluded: c.per_skip.iter().sum(),
            ..Stats::default()
        },
        layers: order.len(),
        skipped,
        notes: lay.notes,
    })
}

/// Findings in layer files, each (rule, path, secret) once: at the lowest layer that holds it, marked
/// hidden only when every layer holding it was hidden by a later one.
fn layer_findings(
    name: &str,
    got: &Collected,
    order: &[usize],
    digests: &[String],
) -> Vec<Located> {
    // slot (order of appearance) → position in the image (first use).
    let mut pos: HashMap<usize, usize> = HashMap::new();
    for (p, &slot) in order.iter().enumerate() {
        pos.entry(slot).or_insert(p);
    }
    let mut raw: Vec<(usize, &String, &crate::scan::rule::Finding)> = got
        .found
        .iter()
        .filter_map(|(slot, path, f)| pos.get(slot).map(|&p| (p, path, f)))
        .collect();
    raw.sort_by(|a, b| {
        (a.0, a.1, a.2.start_line, a.2.start_column).cmp(&(
            b.0,
            b.1,
            b.2.start_line,
            b.2.start_column,
        ))
    });
    let mut out: Vec<Located> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for (p, path, f) in raw {
        let gone = gone_after(got, order, p, path);
        let mut loc = Located::new(f.clone(), path.clone(), None);
        match at.get(&loc.fingerprint) {
            Some(&k) => {
                // Found again in a later layer: it is visible if this copy is.
                if gone.is_none()
                    && let Some(w) = out[k].image.as_mut()
                    && let Part::Layer { gone: g, .. } = &mut Arc::make_mut(w).part
                {
                    *g = None;
                }
            }
            None => {
                loc.image = Some(Arc::new(Where {
                    image: name.to_string(),
                    part: Part::Layer {
                        index: p + 1,
                        digest: digests.get(p).cloned().unwrap_or_default(),
                        gone,
                    },
                }));
                at.insert(loc.fingerprint.clone(), out.len());
                out.push(loc);
            }
        }
    }
    out
}

/// The first layer after position `p` that deletes or replaces `path`.
fn gone_after(got: &Collected, order: &[usize], p: usize, path: &str) -> Option<Gone> {
    let h = reader::path_hash(path);
    let under = |dir: &str| {
        path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
    };
    for (j, &slot) in order.iter().enumerate().skip(p + 1) {
        let l = &got.layers[slot];
        if l.paths.contains(&h) {
            return Some(Gone {
                layer: j + 1,
                deleted: false,
            });
        }
        if l.whiteouts.iter().any(|w| w == path || under(w)) || l.opaque.iter().any(|d| under(d)) {
            return Some(Gone {
                layer: j + 1,
                deleted: true,
            });
        }
    }
    None
}

/// Findings in the image config: `Env`, `Labels`, `Cmd`, `Entrypoint`, each history `created_by`.
fn config_findings(name: &str, cfg: &layout::Config, d: &Detector) -> Vec<Located> {
    let c = &cfg.config;
    let mut parts: Vec<(Part, String, String)> = Vec::new();
    if let Some(env) = &c.env {
        parts.push((Part::Config("Env"), "config:Env".into(), env.join("\n")));
    }
    if let Some(l) = &c.labels {
        let text: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parts.push((
            Part::Config("Labels"),
            "config:Labels".into(),
            text.join("\n"),
        ));
    }
    if let Some(cmd) = &c.cmd {
        parts.push((Part::Config("Cmd"), "config:Cmd".into(), cmd.join(" ")));
    }
    if let Some(ep) = &c.entrypoint {
        parts.push((
            Part::Config("Entrypoint"),
            "config:Entrypoint".into(),
            ep.join(" "),
        ));
    }
    for (i, h) in cfg.history.iter().enumerate() {
        if let Some(by) = &h.created_by {
            parts.push((Part::History(i + 1), "config:history".into(), by.clone()));
        }
    }
    let mut out: Vec<Located> = Vec::new();
    for (part, file, text) in parts {
        for f in d.scan(&file, None, text.as_bytes()) {
            // A secret already reported (an ENV step's history line repeats Env) is reported once.
            if out
                .iter()
                .any(|o| o.finding.rule_id == f.rule_id && o.finding.secret == f.secret)
            {
                continue;
            }
            let mut loc = Located::new(f, file.clone(), None);
            loc.image = Some(Arc::new(Where {
                image: name.to_string(),
                part: part.clone(),
            }));
            out.push(loc);
        }
    }
    out
}

/// Reads an OCI layout directory: `index.json`, `oci-layout` and every blob.
fn read_dir(r: &mut Reading, dir: &Path) -> anyhow::Result<()> {
    let open = |p: &Path| {
        std::fs::File::open(p)
            .with_context(|| format!("cannot read {} of the OCI layout", p.display()))
            .code(ExitCode::Usage)
    };
    for top in ["index.json", "manifest.json"] {
        let p = dir.join(top);
        if p.is_file() {
            let f = open(&p)?;
            r.entry(top, f.metadata()?.len(), f)?;
        }
    }
    let blobs = dir.join("blobs");
    if !blobs.is_dir() {
        return Err(coded(
            ExitCode::Usage,
            format!(
                "{} is a directory without blobs/: pass an OCI image layout directory (or a `docker save` tar)",
                dir.display()
            ),
        ));
    }
    for algo in std::fs::read_dir(&blobs)? {
        let algo = algo?;
        for b in std::fs::read_dir(algo.path())? {
            let b = b?;
            let name = format!(
                "blobs/{}/{}",
                algo.file_name().to_string_lossy(),
                b.file_name().to_string_lossy()
            );
            let f = open(&b.path())?;
            r.entry(&name, f.metadata()?.len(), f)?;
        }
    }
    Ok(())
}

/// A blocking reader over the chunks an async task sends.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>,
    cur: bytes::Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur[..n]);
        let _ = self.cur.split_to(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
