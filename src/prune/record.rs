//! stevedore's own record of the images it built and used, so `prune` knows an image was used recently
//! even when no container made from it is left.
//!
//! A small JSON file, `record.json`, in the first of:
//! 1. `$STEVEDORE_STATE_DIR`
//! 2. `$XDG_STATE_HOME/stevedore`
//! 3. `$HOME/.local/state/stevedore`
//! 4. `/var/lib/stevedore`
//!
//! On a CI runner whose jobs run in throwaway containers, point `STEVEDORE_STATE_DIR` at a directory that
//! outlives the job (a mounted volume or the runner's cache). The file maps an image ID or a normalized
//! reference (`repo:tag`) to the last time (Unix seconds) it was used. Writers take a lock on a sidecar
//! `record.json.lock` and replace the file atomically; entries unused for 180 days are dropped.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The record's file name inside the state directory.
pub const FILE: &str = "record.json";

/// Entries older than this are forgotten when the file is written.
const FORGET_AFTER_SECS: i64 = 180 * 86_400;

/// The state directory holding the record (see the module documentation for the order of lookup).
pub fn state_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env("STEVEDORE_STATE_DIR") {
        return d;
    }
    if let Some(d) = env("XDG_STATE_HOME") {
        return d.join("stevedore");
    }
    if let Some(h) = env("HOME") {
        return h.join(".local/state/stevedore");
    }
    PathBuf::from("/var/lib/stevedore")
}

/// The record file's path.
pub fn default_path() -> PathBuf {
    state_dir().join(FILE)
}

/// One remembered use.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// When it was last used, Unix seconds.
    pub last_used: i64,
}

/// The whole record.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Record {
    /// Format version (1).
    #[serde(default = "one")]
    pub version: u32,
    /// Image ID (`sha256:…`) or normalized reference (`repo:tag`) → last use.
    #[serde(default)]
    pub images: BTreeMap<String, Entry>,
}

fn one() -> u32 {
    1
}

impl Record {
    /// Reads the record at `path`; a missing file is an empty record, an unreadable one is an error.
    pub fn load(path: &Path) -> anyhow::Result<Record> {
        match std::fs::read(path) {
            Ok(b) if b.iter().all(|c| c.is_ascii_whitespace()) => Ok(Record::default()),
            Ok(b) => serde_json::from_slice(&b).with_context(|| {
                format!(
                    "stevedore's usage record {} is not valid JSON — delete it (it only remembers when images \
                     were last used) or fix it",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Record::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// Notes a use of `key` (an image ID or a reference) at `when`, keeping the later time.
    pub fn note(&mut self, key: &str, when: i64) {
        let key = normalize(key);
        let e = self.images.entry(key).or_insert(Entry { last_used: when });
        e.last_used = e.last_used.max(when);
    }

    /// The last recorded use of an image known by its ID and references.
    pub fn last_use(&self, id: &str, refs: &[String]) -> Option<i64> {
        let mut best: Option<i64> = None;
        let mut take = |t: i64| best = Some(best.map_or(t, |b: i64| b.max(t)));
        if let Some(e) = self.images.get(id) {
            take(e.last_used);
        }
        for r in refs {
            if let Some(e) = self.images.get(&normalize(r)) {
                take(e.last_used);
            }
        }
        best
    }

    /// Drops the entries of removed images and those not used for 180 days.
    pub fn forget(&mut self, removed_ids: &[String], now: i64) {
        for id in removed_ids {
            self.images.remove(id);
        }
        self.images
            .retain(|_, e| now - e.last_used < FORGET_AFTER_SECS);
    }

    /// Reads the record at `path` under its lock, lets `f` change it, and writes it back atomically.
    pub fn update(path: &Path, f: impl FnOnce(&mut Record)) -> anyhow::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "cannot create stevedore's state directory {} — set STEVEDORE_STATE_DIR to a writable directory",
                dir.display()
            )
        })?;
        let lock_path = path.with_extension("json.lock");
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        lock.lock()
            .with_context(|| format!("cannot lock {}", lock_path.display()))?;
        let mut rec = Record::load(path).unwrap_or_default();
        f(&mut rec);
        rec.version = 1;
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let json = serde_json::to_vec_pretty(&rec)?;
        std::fs::write(&tmp, json).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        drop(lock);
        Ok(())
    }
}

/// Normalizes an image reference the way the daemon names it: `docker.io/library/x` → `x:latest`,
/// `x` → `x:latest`; IDs (`sha256:…`) and digest references are kept as they are.
pub fn normalize(r: &str) -> String {
    let r = r.trim();
    if r.starts_with("sha256:") {
        return r.to_string();
    }
    let r = r
        .strip_prefix("docker.io/library/")
        .or_else(|| r.strip_prefix("index.docker.io/library/"))
        .or_else(|| r.strip_prefix("docker.io/"))
        .unwrap_or(r);
    if r.contains('@') {
        return r.to_string();
    }
    let last = r.rsplit('/').next().unwrap_or(r);
    if last.contains(':') {
        r.to_string()
    } else {
        format!("{r}:latest")
    }
}

/// Records that an image (ID or reference) was used now, in the default record file.
pub fn record_use(image_id_or_ref: &str) -> anyhow::Result<()> {
    record_use_at(
        &default_path(),
        image_id_or_ref,
        crate::output::unix_now() as i64,
    )
}

/// Records a use of an image at `when` in the record file at `path`.
pub fn record_use_at(path: &Path, image_id_or_ref: &str, when: i64) -> anyhow::Result<()> {
    Record::update(path, |r| r.note(image_id_or_ref, when))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_the_daemon() {
        assert_eq!(normalize("busybox"), "busybox:latest");
        assert_eq!(normalize("docker.io/library/busybox:1"), "busybox:1");
        assert_eq!(normalize("registry:5000/a/b"), "registry:5000/a/b:latest");
        assert_eq!(normalize("registry:5000/a/b:2"), "registry:5000/a/b:2");
        assert_eq!(normalize("sha256:abc"), "sha256:abc");
    }

    #[test]
    fn records_and_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/record.json");
        record_use_at(&p, "app", 100).unwrap();
        record_use_at(&p, "sha256:beef", 50).unwrap();
        record_use_at(&p, "app:latest", 80).unwrap();
        let r = Record::load(&p).unwrap();
        assert_eq!(r.last_use("sha256:x", &["app:latest".into()]), Some(100));
        assert_eq!(r.last_use("sha256:beef", &["app:latest".into()]), Some(100));
        assert_eq!(r.last_use("sha256:beef", &[]), Some(50));
        assert_eq!(r.last_use("sha256:none", &["other:1".into()]), None);
        Record::update(&p, |r| {
            r.forget(&["sha256:beef".into()], 100 + FORGET_AFTER_SECS - 1)
        })
        .unwrap();
        let r = Record::load(&p).unwrap();
        assert_eq!(r.images.len(), 1);
        Record::update(&p, |r| r.forget(&[], 100 + FORGET_AFTER_SECS)).unwrap();
        assert!(Record::load(&p).unwrap().images.is_empty());
        std::fs::write(&p, "{not json").unwrap();
        assert!(
            Record::load(&p)
                .unwrap_err()
                .to_string()
                .contains("record.json")
        );
    }
}
