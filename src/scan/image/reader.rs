//! Reading an image archive as a stream: the outer tar (`docker save` or an OCI layout), each layer
//! (gzip, zstd or plain tar, told apart by their first bytes) and each layer's files, without writing
//! anything to disk. Files go to a pool of detector threads through a bounded channel, so memory holds at
//! most a few files at a time whatever the image size.
//!
//! The layer order is only known at the end (`docker save` writes `manifest.json` last), so each layer
//! is read under its name in the archive and keeps what deciding "deleted by a later layer" needs: a
//! hash of every path it holds, its whiteouts and its opaque directories.

use super::skip::SkipList;
use crate::scan::detect::Detector;
use crate::scan::found::{Limits, is_binary};
use crate::scan::rule::Finding;
use anyhow::Context;
use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufRead, BufReader, Read};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Metadata files (manifest, index, config) larger than this are not read.
const META_MAX: u64 = 64 * 1024 * 1024;

/// What one layer held, for deciding what later layers hid.
#[derive(Debug, Default)]
pub struct LayerSeen {
    /// The layer's name in the archive (`<id>/layer.tar`, `blobs/sha256/<hex>`).
    pub name: String,
    /// Hashes of every path the layer writes (files, directories, links).
    pub paths: HashSet<u64>,
    /// Paths the layer deletes (`.wh.<name>` entries).
    pub whiteouts: Vec<String>,
    /// Directories whose lower contents the layer hides (`.wh..wh..opq`).
    pub opaque: Vec<String>,
}

/// Counters of the reading thread.
#[derive(Debug, Default)]
pub struct Counts {
    /// Files read and handed to the detector.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files skipped as binary.
    pub binary: u64,
    /// Files skipped as too large.
    pub large: u64,
    /// Files skipped by each skip pattern (same order as the list).
    pub per_skip: Vec<u64>,
}

/// Everything read from an archive.
#[derive(Debug, Default)]
pub struct Collected {
    /// Small JSON files by name (manifest.json, index.json, configs, OCI manifests).
    pub meta: HashMap<String, Vec<u8>>,
    /// The layers in the order they were met.
    pub layers: Vec<LayerSeen>,
    /// Raw findings: (index into `layers`, path in the image, finding).
    pub found: Vec<(usize, String, Finding)>,
    /// Counters.
    pub counts: Counts,
}

/// A file for the detector threads.
struct Job {
    slot: usize,
    path: String,
    data: Vec<u8>,
}

/// What the reading thread needs.
pub struct Ctx<'a> {
    /// The rules.
    pub detector: &'a Detector,
    /// Size limit and threads.
    pub limits: &'a Limits,
    /// Paths not read.
    pub skip: &'a SkipList,
    /// Called with the bytes of each file scanned.
    pub on_bytes: &'a (dyn Fn(u64) + Sync),
}

/// The state of one read: what was collected and the channel to the detector threads.
pub struct Reading<'a, 'c> {
    ctx: &'a Ctx<'c>,
    tx: SyncSender<Job>,
    /// What was read so far.
    pub got: Collected,
}

/// Runs `feed` (which hands the archive's entries to [`Reading::entry`]) with a pool of detector
/// threads, and returns everything collected.
pub fn collect(
    ctx: &Ctx,
    feed: impl FnOnce(&mut Reading) -> anyhow::Result<()>,
) -> anyhow::Result<Collected> {
    let threads = ctx.limits.threads.max(1);
    let found: Mutex<Vec<(usize, String, Finding)>> = Mutex::new(Vec::new());
    let (tx, rx) = sync_channel::<Job>(threads * 2);
    let rx = Mutex::new(rx);
    let got = std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| worker(&rx, &found, ctx.detector));
        }
        let mut reading = Reading {
            ctx,
            tx,
            got: Collected {
                counts: Counts {
                    per_skip: vec![0; ctx.skip.patterns().len()],
                    ..Counts::default()
                },
                ..Collected::default()
            },
        };
        let r = feed(&mut reading);
        let Reading { got, tx, .. } = reading;
        drop(tx);
        r.map(|_| got)
    })?;
    let mut got = got;
    got.found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(got)
}

fn worker(rx: &Mutex<Receiver<Job>>, found: &Mutex<Vec<(usize, String, Finding)>>, d: &Detector) {
    loop {
        let job = match rx.lock() {
            Ok(r) => r.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        let hits = d.scan(&job.path, None, &job.data);
        if !hits.is_empty() {
            let mut f = found.lock().unwrap_or_else(|e| e.into_inner());
            f.extend(hits.into_iter().map(|h| (job.slot, job.path.clone(), h)));
        }
    }
}

/// Reads a tar archive (a `docker save` tar or an OCI layout tar) entry by entry.
pub fn read_tar(r: &mut Reading, archive: impl Read) -> anyhow::Result<()> {
    let mut ar = tar::Archive::new(archive);
    for e in ar
        .entries()
        .context("the archive is not a tar file (expected `docker save` output or an OCI layout)")?
    {
        let e = e.context("cannot read the archive: truncated or not a tar file")?;
        if !e.header().entry_type().is_file() {
            continue;
        }
        let name = e
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let size = e.size();
        r.entry(&name, size, e)?;
    }
    Ok(())
}

impl Reading<'_, '_> {
    /// Handles one file of the archive: metadata is kept, layers are read, the rest ignored.
    pub fn entry(&mut self, name: &str, size: u64, data: impl Read) -> anyhow::Result<()> {
        if is_meta(name) {
            if size <= META_MAX {
                let mut v = Vec::with_capacity(size as usize);
                BufReader::new(data).read_to_end(&mut v)?;
                self.got.meta.insert(name.to_string(), v);
            }
            return Ok(());
        }
        if !(name.ends_with("/layer.tar") || name.starts_with("blobs/")) {
            return Ok(());
        }
        let mut br = BufReader::with_capacity(256 * 1024, data);
        let head = br.fill_buf()?;
        if head.first() == Some(&b'{') {
            // An OCI blob that is JSON: a config or a manifest.
            if size <= META_MAX {
                let mut v = Vec::with_capacity(size as usize);
                br.read_to_end(&mut v)?;
                self.got.meta.insert(name.to_string(), v);
            }
            return Ok(());
        }
        let seen = self
            .layer(br)
            .with_context(|| format!("cannot read layer {name} of the image"))?;
        self.got.layers.push(LayerSeen {
            name: name.to_string(),
            ..seen
        });
        Ok(())
    }

    /// Reads one layer (gzip, zstd or plain tar).
    fn layer(&mut self, mut br: impl BufRead) -> anyhow::Result<LayerSeen> {
        let head = br.fill_buf()?;
        let dec: Box<dyn Read + '_> = if head.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::bufread::MultiGzDecoder::new(br))
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Box::new(zstd::stream::read::Decoder::with_buffer(br)?)
        } else {
            Box::new(br)
        };
        let slot = self.got.layers.len();
        let mut seen = LayerSeen::default();
        let mut ar = tar::Archive::new(dec);
        for e in ar.entries()? {
            let e = e.context("the layer is not a tar stream (or is truncated)")?;
            let path = image_path(&e.path()?.to_string_lossy());
            let (dir, base) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
            if base == ".wh..wh..opq" {
                seen.opaque.push(dir.to_string());
                continue;
            }
            if let Some(target) = base.strip_prefix(".wh.") {
                seen.whiteouts.push(format!("{dir}/{target}"));
                continue;
            }
            seen.paths.insert(path_hash(&path));
            if e.header().entry_type().is_file() {
                self.file(slot, path, e)?;
            }
        }
        Ok(seen)
    }

    /// Reads one regular file of a layer and hands it to the detector unless skipped.
    fn file(
        &mut self,
        slot: usize,
        path: String,
        mut e: impl Read + TarSize,
    ) -> anyhow::Result<()> {
        let c = &mut self.got.counts;
        if let Some(i) = self.ctx.skip.matching(&path) {
            c.per_skip[i] += 1;
            return Ok(());
        }
        let size = e.tar_size();
        if size > self.ctx.limits.max_file_size {
            c.large += 1;
            return Ok(());
        }
        let mut data = Vec::with_capacity(size as usize);
        (&mut e).take(8000).read_to_end(&mut data)?;
        if is_binary(&data) {
            c.binary += 1;
            return Ok(());
        }
        e.read_to_end(&mut data)?;
        c.files += 1;
        c.bytes += data.len() as u64;
        (self.ctx.on_bytes)(data.len() as u64);
        self.tx
            .send(Job { slot, path, data })
            .map_err(|_| anyhow::anyhow!("the detector threads stopped"))
    }
}

/// The size a tar entry declares.
pub trait TarSize {
    /// Its size in bytes.
    fn tar_size(&self) -> u64;
}

impl<R: Read> TarSize for tar::Entry<'_, R> {
    fn tar_size(&self) -> u64 {
        self.size()
    }
}

/// True for the archive's metadata files (`manifest.json`, `index.json`, the config `<hex>.json`).
fn is_meta(name: &str) -> bool {
    !name.contains('/')
        && (name.ends_with(".json") || name == "oci-layout" || name == "repositories")
}

/// A layer entry's path as an absolute path in the image (`./app/.env` → `/app/.env`).
pub fn image_path(raw: &str) -> String {
    let t = raw.trim_start_matches("./").trim_start_matches('/');
    format!("/{}", t.trim_end_matches('/'))
}

/// The hash a layer keeps of each path.
pub fn path_hash(path: &str) -> u64 {
    let mut h = DefaultHasher::new();
    path.hash(&mut h);
    h.finish()
}
