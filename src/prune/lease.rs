//! Build leases: a running `build` tells `prune` which images it uses, so a prune never removes the base
//! image or cache source of a build in flight (BuildKit holds no container on them, so the daemon would
//! not refuse).
//!
//! A lease is one small JSON file in `leases/` under the state directory ([`super::record::state_dir`]):
//! who holds it (pid, the process's start time, host name), until when, and the images — each reference
//! as written and the image ID it resolved to when the lease was taken. `build` takes one before it starts
//! ([`for_build`]: the `FROM` and `COPY --from` images of its Dockerfile and its cache sources) and drops
//! it at the end ([`Lease`] removes its file when dropped).
//!
//! A lease holds while its process runs: on the same host, while the pid exists with the same start time
//! (a killed build's lease is void at once); from another host (a job container sharing the state
//! directory), until it expires (the build's timeout plus a margin). Expired and dead leases are ignored
//! and deleted by the next prune.
//!
//! Taking a lease and a prune's check-then-remove are serialized by `leases/.lock`: a build resolves and
//! writes its lease under the exclusive lock, a prune checks the leases and removes one image under the
//! shared lock. So either the prune removed the image before the build looked (the build then sees it
//! missing, as if it never was there), or the prune sees the lease and keeps it.

use crate::app::App;
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The leases' directory name inside the state directory.
pub const DIR: &str = "leases";
/// The lock file inside the leases' directory.
const LOCK: &str = ".lock";
/// Added to a lease's time to live: a build's timeout does not count its setup.
const MARGIN: Duration = Duration::from_secs(600);

/// The leases' directory.
pub fn dir() -> PathBuf {
    super::record::state_dir().join(DIR)
}

/// One leased image.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Leased {
    /// The reference as the build names it (`FROM` line, cache source), normalized.
    pub reference: String,
    /// The image ID it resolved to when the lease was taken (none when the image was not there).
    pub id: Option<String>,
}

/// A lease file's content.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LeaseFile {
    /// Format version (1).
    pub version: u32,
    /// What holds it, for people: `build of registry.example.com/shop`.
    pub purpose: String,
    /// The holder's process ID.
    pub pid: u32,
    /// The holder's start time (field 22 of `/proc/PID/stat`), to tell a reused pid apart.
    pub pid_start: Option<u64>,
    /// The holder's host name.
    pub host: String,
    /// When it was taken, Unix seconds.
    pub taken: i64,
    /// When it expires for other hosts, Unix seconds.
    pub expires: i64,
    /// The images.
    pub images: Vec<Leased>,
}

impl LeaseFile {
    /// True while the lease holds (see the module documentation).
    pub fn holds(&self, now: i64) -> bool {
        if self.host == host_name() {
            return self.pid_start.is_some() && process_start(self.pid) == self.pid_start;
        }
        now < self.expires
    }

    /// Who holds it, for the plan: `base image of a running build (build of shop, pid 42, 3m ago)`.
    pub fn who(&self, now: i64) -> String {
        format!(
            "{}, pid {}, {} ago",
            self.purpose,
            self.pid,
            super::size::short_duration(now - self.taken)
        )
    }
}

/// A lease this process holds; its file is removed when dropped.
#[derive(Debug)]
pub struct Lease {
    path: PathBuf,
}

impl Drop for Lease {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Lease {
    /// The lease file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Takes a lease in `dir` on `refs` for `ttl`, resolving each reference to its image ID with `resolve`
/// under the exclusive lock (so a prune cannot remove it between the look-up and the lease).
pub async fn take<F, Fut>(
    dir: &Path,
    purpose: &str,
    refs: &[String],
    ttl: Duration,
    resolve: F,
) -> anyhow::Result<Lease>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let lock = lock(dir, true)?;
    let mut images: Vec<Leased> = Vec::new();
    for r in refs {
        let reference = super::record::normalize(r);
        if images.iter().any(|l| l.reference == reference) {
            continue;
        }
        let id = resolve(r.clone()).await;
        images.push(Leased { reference, id });
    }
    let now = crate::output::unix_now() as i64;
    let pid = std::process::id();
    let file = LeaseFile {
        version: 1,
        purpose: purpose.to_string(),
        pid,
        pid_start: process_start(pid),
        host: host_name(),
        taken: now,
        expires: now + (ttl + MARGIN).as_secs() as i64,
        images,
    };
    static TAKEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = TAKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = dir.join(format!("{pid}-{now}-{n}.json"));
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&file)?)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| format!("cannot write the build lease {}", path.display()))?;
    drop(lock);
    Ok(Lease { path })
}

/// Takes `build`'s lease on the images its Dockerfile starts from (`FROM`, `COPY --from`, with `ARG`
/// defaults and `build_args` substituted) and its cache sources, until dropped. A lease that cannot be
/// taken is a warning (the build goes on, unprotected from a concurrent prune), never an error.
pub async fn for_build(
    app: &App,
    docker: &bollard::Docker,
    dockerfile: &Path,
    build_args: &BTreeMap<String, String>,
    cache: &[String],
    timeout: Duration,
) -> Option<Lease> {
    let text = std::fs::read_to_string(dockerfile).unwrap_or_default();
    let mut refs = base_images(&text, build_args);
    refs.extend(cache.iter().cloned());
    let purpose = format!("build of {}", dockerfile.display());
    let resolve = |r: String| async move { docker.inspect_image(&r).await.ok().and_then(|i| i.id) };
    match take(&dir(), &purpose, &refs, timeout, resolve).await {
        Ok(l) => {
            app.out.detail(format!(
                "lease on {} taken for prune ({})",
                refs.join(", "),
                l.path.display()
            ));
            Some(l)
        }
        Err(e) => {
            app.out.warn(format!(
                "{e:#} — a prune running meanwhile could remove the base image; set STEVEDORE_STATE_DIR to \
                 a writable directory"
            ));
            None
        }
    }
}

/// The leases that hold now, by leased image ID and by normalized reference: who holds it.
#[derive(Clone, Debug, Default)]
pub struct Held {
    /// Image ID → who.
    pub ids: HashMap<String, String>,
    /// Normalized reference → who.
    pub refs: HashMap<String, String>,
}

impl Held {
    /// Who holds an image known by its ID and references, if anyone.
    pub fn holder(&self, id: &str, refs: &[String]) -> Option<&String> {
        self.ids.get(id).or_else(|| {
            refs.iter()
                .find_map(|r| self.refs.get(&super::record::normalize(r)))
        })
    }
}

/// Reads the leases in `dir` that hold at `now`; deletes the files of those that no longer do. A missing
/// directory holds nothing; an unreadable lease file is skipped.
pub fn held(dir: &Path, now: i64) -> Held {
    let mut out = Held::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let Some(lease) = std::fs::read(&p)
            .ok()
            .and_then(|b| serde_json::from_slice::<LeaseFile>(&b).ok())
        else {
            continue;
        };
        if !lease.holds(now) {
            let _ = std::fs::remove_file(&p);
            continue;
        }
        let who = lease.who(now);
        for l in &lease.images {
            if let Some(id) = &l.id {
                out.ids.insert(id.clone(), who.clone());
            }
            out.refs.insert(l.reference.clone(), who.clone());
        }
    }
    out
}

/// Locks the leases' directory: exclusively to take a lease, shared to check-and-remove. Blocks until
/// granted; released when the returned file is dropped.
pub fn lock(dir: &Path, exclusive: bool) -> anyhow::Result<File> {
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create the leases' directory {} — set STEVEDORE_STATE_DIR to a writable directory",
            dir.display()
        )
    })?;
    let path = dir.join(LOCK);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    if exclusive { f.lock() } else { f.lock_shared() }
        .with_context(|| format!("cannot lock {}", path.display()))?;
    Ok(f)
}

/// This machine's host name (`/proc/sys/kernel/hostname`, else `$HOSTNAME`).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A process's start time in clock ticks since boot (`/proc/PID/stat` field 22), `None` when it is gone.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from its closing one.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// The images a Dockerfile starts from: each `FROM` image (not `scratch`, not an earlier stage) and each
/// `COPY --from=` image, with `ARG` defaults before the first `FROM` and `build_args` substituted.
pub fn base_images(dockerfile: &str, build_args: &BTreeMap<String, String>) -> Vec<String> {
    let mut args: HashMap<String, String> = HashMap::new();
    let mut stages: Vec<String> = Vec::new();
    let mut out: Vec<String> = Vec::new();
    for line in instructions(dockerfile) {
        let mut words = line.split_whitespace();
        let Some(op) = words.next() else { continue };
        let words: Vec<&str> = words.collect();
        match op.to_ascii_uppercase().as_str() {
            "ARG" if stages.is_empty() => {
                for w in words {
                    let (k, v) = w.split_once('=').unwrap_or((w, ""));
                    let v = build_args.get(k).cloned().unwrap_or_else(|| unquote(v));
                    args.insert(k.to_string(), v);
                }
            }
            "FROM" => {
                let mut rest = words.iter().filter(|w| !w.starts_with("--"));
                let image = rest
                    .next()
                    .map(|w| substitute(w, &args))
                    .unwrap_or_default();
                let name = match (rest.next(), rest.next()) {
                    (Some(a), Some(n)) if a.eq_ignore_ascii_case("as") => n.to_ascii_lowercase(),
                    _ => String::new(),
                };
                push_image(&image, &stages, &mut out);
                stages.push(name);
            }
            "COPY" | "ADD" => {
                for w in words.iter().take_while(|w| w.starts_with("--")) {
                    if let Some(from) = w.strip_prefix("--from=") {
                        push_image(&substitute(from, &args), &stages, &mut out);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn push_image(image: &str, stages: &[String], out: &mut Vec<String>) {
    let lower = image.to_ascii_lowercase();
    let is_stage = stages.iter().any(|s| !s.is_empty() && *s == lower)
        || lower.parse::<usize>().is_ok_and(|n| n < stages.len());
    if image.is_empty() || lower == "scratch" || is_stage || out.iter().any(|o| o == image) {
        return;
    }
    out.push(image.to_string());
}

/// The Dockerfile's instructions, one per entry: comments dropped, continuation lines joined.
fn instructions(text: &str) -> Vec<String> {
    let escape = text
        .lines()
        .take_while(|l| l.trim_start().starts_with('#'))
        .find_map(|l| {
            let d = l.trim_start().trim_start_matches('#').trim();
            let (k, v) = d.split_once('=')?;
            (k.trim().eq_ignore_ascii_case("escape")).then(|| v.trim().chars().next())?
        })
        .unwrap_or('\\');
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        match t.strip_suffix(escape) {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(t);
                if !cur.trim().is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                cur.clear();
            }
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur);
    }
    out
}

fn unquote(v: &str) -> String {
    v.trim_matches(|c| c == '"' || c == '\'').to_string()
}

/// Substitutes `$NAME`, `${NAME}`, `${NAME:-word}` and `${NAME-word}` from `args` (unknown names: empty).
fn substitute(s: &str, args: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(body) = rest.strip_prefix('{') {
            let Some(end) = body.find('}') else {
                out.push('$');
                continue;
            };
            let expr = &body[..end];
            let (name, default) = match expr.split_once(":-").or_else(|| expr.split_once('-')) {
                Some((n, d)) => (n, Some(d)),
                None => (expr, None),
            };
            let v = args.get(name).filter(|v| !v.is_empty());
            out.push_str(v.map_or(default.unwrap_or(""), |v| v.as_str()));
            rest = &body[end + 1..];
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            out.push_str(args.get(&rest[..end]).map_or("", |v| v.as_str()));
            rest = &rest[end..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bases(text: &str, args: &[(&str, &str)]) -> Vec<String> {
        let args = args
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        base_images(text, &args)
    }

    #[test]
    fn base_images_of_a_multi_stage_dockerfile() {
        let df = "# syntax=docker/dockerfile:1\nARG PHP=8.3\nARG REG=registry.example.com\n\
                  FROM --platform=$BUILDPLATFORM composer:2 AS deps\nRUN install \\\n  things\n\
                  FROM ${REG}/php:${PHP}-fpm as app\nCOPY --from=deps /app /app\n\
                  COPY --chown=1:1 --from=busybox:1 /bin/sh /bin/sh\nCOPY --from=0 /x /x\n\
                  FROM app\nFROM scratch\n";
        assert_eq!(
            bases(df, &[]),
            [
                "composer:2",
                "registry.example.com/php:8.3-fpm",
                "busybox:1"
            ]
        );
        // A build arg overrides the default.
        assert_eq!(
            bases(df, &[("PHP", "8.4")])[1],
            "registry.example.com/php:8.4-fpm"
        );
        assert_eq!(bases("FROM ${BASE:-alpine:3}\n", &[]), ["alpine:3"]);
        assert_eq!(
            bases("# escape=`\nFROM `\n  img:1\n", &[]),
            ["img:1"],
            "escape directive"
        );
    }

    #[test]
    fn a_lease_holds_while_its_process_runs() {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let lease = rt
            .block_on(take(
                dir.path(),
                "build of test",
                &["base:1".into(), "docker.io/library/cache".into()],
                Duration::from_secs(60),
                |r| async move { (r == "base:1").then(|| "sha256:b".to_string()) },
            ))
            .unwrap();
        let now = crate::output::unix_now() as i64;
        let h = held(dir.path(), now);
        assert!(h.holder("sha256:b", &[]).unwrap().contains("build of test"));
        assert!(h.holder("sha256:x", &["cache:latest".into()]).is_some());
        assert!(h.holder("sha256:x", &["other:1".into()]).is_none());
        // Released: nothing held.
        drop(lease);
        assert!(held(dir.path(), now).ids.is_empty());
        // A lease whose process is gone holds nothing and is deleted.
        let mut dead = LeaseFile {
            version: 1,
            purpose: "build".into(),
            pid: u32::MAX - 1,
            pid_start: Some(1),
            host: host_name(),
            taken: now,
            expires: now + 3600,
            images: vec![Leased {
                reference: "base:1".into(),
                id: Some("sha256:b".into()),
            }],
        };
        let p = dir.path().join("dead.json");
        std::fs::write(&p, serde_json::to_vec(&dead).unwrap()).unwrap();
        assert!(held(dir.path(), now).ids.is_empty());
        assert!(!p.exists(), "a dead lease is deleted");
        // From another host: holds until it expires.
        dead.host = "elsewhere".into();
        assert!(dead.holds(now) && !dead.holds(now + 3600));
    }
}
