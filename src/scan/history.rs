//! The git-history scan. It reads the object database directly (gix), never `git log -p`:
//!
//! 1. the commits of the range (`REV..TIP`, or everything reachable from TIP) are put in topological order,
//!    parents first;
//! 2. each commit's tree is walked, skipping every tree already seen, so each unique tree is parsed once and
//!    each unique blob is met once — the first commit that reaches a blob is the one that introduced it, and
//!    the path it is met at is its path (trees of commits just outside the range are marked seen first, so a
//!    range scans only what the range introduced);
//! 3. the unique blobs are read and scanned in parallel, one gix handle per worker;
//! 4. a secret found in several blobs (the file changed elsewhere later) is reported once, at the oldest
//!    commit; a secret the file already held before the range is not reported for the range.

use super::detect::Detector;
use super::found::{CommitInfo, Limits, Located, ScanResult, Stats, is_binary, locate};
use crate::exit::{CodeExt, ExitCode};
use anyhow::Context;
use gix::ObjectId;
use gix::objs::FindExt;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Which commits to scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Range {
    /// The newest commit (a revision: `HEAD`, a SHA, a tag).
    pub tip: String,
    /// Commits reachable from this revision are not scanned (`REV..TIP`); `None`: the whole history.
    pub since: Option<String>,
}

impl Range {
    /// Every commit reachable from HEAD.
    pub fn all() -> Range {
        Range {
            tip: "HEAD".into(),
            since: None,
        }
    }
}

/// One blob to scan: its id, the path it was first met at, the commit that introduced it.
struct Job {
    id: ObjectId,
    path: String,
    commit: usize,
}

/// A commit of the range, in scan order.
struct CommitEntry {
    info: Arc<CommitInfo>,
    /// The tree of the first parent when that parent is outside the range.
    outside_parent_tree: Option<ObjectId>,
}

/// Opens the repository holding `dir` (exit 2 when there is none).
pub fn open(dir: &Path) -> anyhow::Result<gix::Repository> {
    let mut repo = gix::discover(dir)
        .with_context(|| {
            format!(
                "{} is not inside a git repository: history and staged scans need a git checkout (drop --history/--since/--staged, or run in the clone)",
                dir.display()
            )
        })
        .code(ExitCode::Usage)?;
    repo.object_cache_size_if_unset(16 * 1024 * 1024);
    Ok(repo)
}

/// Resolves a revision to a commit id (exit 2 naming it when it does not exist).
pub fn resolve(repo: &gix::Repository, rev: &str) -> anyhow::Result<ObjectId> {
    let spec = format!("{rev}^{{commit}}");
    repo.rev_parse_single(spec.as_str())
        .map(|id| id.detach())
        .with_context(|| {
            format!(
                "revision {rev:?} is not a commit of this repository: check the name (a shallow clone may need `git fetch --unshallow`, or GIT_DEPTH: 0 in CI)"
            )
        })
        .code(ExitCode::Usage)
}

/// Scans the commits of `range` in the repository holding `dir`.
pub fn scan_history(
    dir: &Path,
    range: &Range,
    detector: &Detector,
    limits: &Limits,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<ScanResult> {
    let started = Instant::now();
    let repo = open(dir)?;
    if range.tip == "HEAD" && repo.head_id().is_err() {
        // A repository without commits has no history.
        return Ok(ScanResult::default());
    }
    let order = commits_of(&repo, range)?;
    let in_range: gix::hashtable::HashSet = order.iter().map(|(id, _)| *id).collect();

    let mut seen_trees: gix::hashtable::HashSet = Default::default();
    let mut seen_blobs: gix::hashtable::HashSet = Default::default();
    let mut commits: Vec<CommitEntry> = Vec::with_capacity(order.len());
    let mut jobs: Vec<Job> = Vec::new();
    let mut excluded = 0u64;
    let mut buf = Vec::new();
    let mut marked_outside: gix::hashtable::HashSet = Default::default();
    for (id, parents) in &order {
        let (tree, info) = read_commit(&repo, *id, &mut buf)?;
        let mut outside_parent_tree = None;
        for (i, p) in parents.iter().enumerate() {
            if in_range.contains(p) {
                continue;
            }
            let ptree = repo
                .find_commit(*p)
                .ok()
                .and_then(|c| c.tree_id().ok())
                .map(|t| t.detach());
            if let Some(ptree) = ptree {
                if i == 0 {
                    outside_parent_tree = Some(ptree);
                }
                if marked_outside.insert(*p) {
                    walk_tree(
                        &repo,
                        ptree,
                        &mut seen_trees,
                        &mut seen_blobs,
                        &mut |_, _| {},
                    )?;
                }
            }
        }
        let idx = commits.len();
        commits.push(CommitEntry {
            info: Arc::new(info),
            outside_parent_tree,
        });
        walk_tree(
            &repo,
            tree,
            &mut seen_trees,
            &mut seen_blobs,
            &mut |bid, path| {
                if limits.own.contains(&path) {
                } else if limits.excluded(&path) {
                    excluded += 1;
                } else {
                    jobs.push(Job {
                        id: bid,
                        path,
                        commit: idx,
                    });
                }
            },
        )?;
    }
    drop(seen_trees);
    drop(seen_blobs);

    let (found, mut stats) = scan_jobs(&repo, &jobs, &commits, detector, limits, on_bytes)?;
    stats.commits_scanned = commits.len() as u64;
    stats.skipped_excluded = excluded;

    let kept = first_occurrences(&repo, &commits, found);
    stats.elapsed = started.elapsed();
    Ok(ScanResult {
        findings: kept,
        stats,
    })
}

/// One report per occurrence of a secret in a file, at the oldest commit holding it; a secret the range's
/// outside parent already held is not reported.
fn first_occurrences(
    repo: &gix::Repository,
    commits: &[CommitEntry],
    mut found: Vec<(usize, Located)>,
) -> Vec<Located> {
    // Oldest commit first, then one report per occurrence of a secret in a file.
    found.sort_by(|a, b| {
        (
            a.0,
            &a.1.file,
            a.1.finding.start_line,
            a.1.finding.start_column,
        )
            .cmp(&(
                b.0,
                &b.1.file,
                b.1.finding.start_line,
                b.1.finding.start_column,
            ))
    });
    let mut kept: Vec<Located> = Vec::new();
    let mut seen_fp: HashMap<(String, usize), ()> = HashMap::new();
    let mut nth: HashMap<(usize, String, String), usize> = HashMap::new();
    for (cidx, f) in found {
        let k = nth
            .entry((cidx, f.file.clone(), f.fingerprint.clone()))
            .or_insert(0);
        let key = (f.fingerprint.clone(), *k);
        *k += 1;
        if seen_fp.contains_key(&key) {
            continue;
        }
        seen_fp.insert(key, ());
        if let Some(ptree) = commits[cidx].outside_parent_tree
            && blob_contains(repo, ptree, &f.file, f.finding.secret.as_bytes())
        {
            continue;
        }
        kept.push(f);
    }
    kept
}

/// The commits of `range`, parents before children, with their parents.
fn commits_of(
    repo: &gix::Repository,
    range: &Range,
) -> anyhow::Result<Vec<(ObjectId, Vec<ObjectId>)>> {
    let tip = resolve(repo, &range.tip)?;
    let hidden: Vec<ObjectId> = match &range.since {
        Some(r) => vec![resolve(repo, r)?],
        None => Vec::new(),
    };
    topo_order(repo, tip, &hidden)
}

/// The commits reachable from `tip` and not from `hidden`, parents before children, with their parents.
fn topo_order(
    repo: &gix::Repository,
    tip: ObjectId,
    hidden: &[ObjectId],
) -> anyhow::Result<Vec<(ObjectId, Vec<ObjectId>)>> {
    let walk = repo
        .rev_walk([tip])
        .with_hidden(hidden.iter().copied())
        .all()
        .context("cannot walk the commit graph")?;
    let mut parents: gix::hashtable::HashMap<ObjectId, Vec<ObjectId>> = Default::default();
    for info in walk {
        let info = info.context("cannot read a commit while walking history")?;
        parents.insert(info.id, info.parent_ids.iter().copied().collect());
    }
    // Depth-first post-order from the tip: a commit is emitted after all its in-range parents.
    let mut out = Vec::with_capacity(parents.len());
    let mut done: gix::hashtable::HashSet = Default::default();
    // Every commit of the range is reachable from the tip through commits of the range.
    let mut stack: Vec<(ObjectId, bool)> = vec![(tip, false)];
    while let Some((id, expanded)) = stack.pop() {
        if expanded {
            let ps = parents.get(&id).cloned().unwrap_or_default();
            out.push((id, ps));
            continue;
        }
        if !parents.contains_key(&id) || !done.insert(id) {
            continue;
        }
        stack.push((id, true));
        for p in parents[&id].iter().rev() {
            if parents.contains_key(p) && !done.contains(p) {
                stack.push((*p, false));
            }
        }
    }
    Ok(out)
}

/// Reads a commit: its tree and the facts a finding reports.
fn read_commit(
    repo: &gix::Repository,
    id: ObjectId,
    buf: &mut Vec<u8>,
) -> anyhow::Result<(ObjectId, CommitInfo)> {
    let c = repo
        .objects
        .find_commit(&id, buf)
        .with_context(|| format!("cannot read commit {id}"))?;
    let (author, email, date) = match c.author() {
        Ok(sig) => {
            let secs = sig.seconds();
            let date = chrono::DateTime::from_timestamp(secs, 0)
                .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default();
            (
                sig.name.to_string().trim().to_string(),
                sig.email.to_string().trim().to_string(),
                date,
            )
        }
        Err(_) => Default::default(),
    };
    Ok((
        c.tree(),
        CommitInfo {
            sha: id.to_string(),
            author,
            email,
            date,
            message: c.message.to_string().trim_end().to_string(),
        },
    ))
}

/// Walks a tree depth-first, skipping trees in `seen_trees`, calling `on_blob(id, path)` for every file
/// blob not in `seen_blobs` (both sets are updated). Symlinks and submodules are not followed.
fn walk_tree(
    repo: &gix::Repository,
    root: ObjectId,
    seen_trees: &mut gix::hashtable::HashSet,
    seen_blobs: &mut gix::hashtable::HashSet,
    on_blob: &mut dyn FnMut(ObjectId, String),
) -> anyhow::Result<()> {
    let mut stack = vec![(root, String::new())];
    let mut buf = Vec::new();
    while let Some((tid, prefix)) = stack.pop() {
        if !seen_trees.insert(tid) {
            continue;
        }
        let tree = repo
            .objects
            .find_tree_iter(&tid, &mut buf)
            .with_context(|| format!("cannot read tree {tid}"))?;
        for entry in tree {
            let e = entry.with_context(|| format!("corrupt tree {tid}"))?;
            let name = String::from_utf8_lossy(e.filename);
            if e.mode.is_tree() {
                stack.push((e.oid.to_owned(), format!("{prefix}{name}/")));
            } else if e.mode.is_blob() && seen_blobs.insert(e.oid.to_owned()) {
                on_blob(e.oid.to_owned(), format!("{prefix}{name}"));
            }
        }
    }
    Ok(())
}

/// Reads and scans the blobs in parallel. Returns each finding with the index of its commit.
fn scan_jobs(
    repo: &gix::Repository,
    jobs: &[Job],
    commits: &[CommitEntry],
    detector: &Detector,
    limits: &Limits,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<(Vec<(usize, Located)>, Stats)> {
    let next = AtomicUsize::new(0);
    let scanned = AtomicU64::new(0);
    let bytes = AtomicU64::new(0);
    let binary = AtomicU64::new(0);
    let large = AtomicU64::new(0);
    let found: Mutex<Vec<(usize, Located)>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
    let sync = repo.clone().into_sync();
    let threads = limits.threads.max(1).min(jobs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut r = sync.to_thread_local();
                r.object_cache_size(Some(4 * 1024 * 1024));
                let mut buf = Vec::new();
                let mut local = Vec::new();
                loop {
                    let i = next.fetch_add(1, Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    if let Ok(h) = r.find_header(job.id)
                        && h.size() > limits.max_file_size
                    {
                        large.fetch_add(1, Relaxed);
                        continue;
                    }
                    let data = match r.objects.find_blob(&job.id, &mut buf) {
                        Ok(b) => b.data,
                        Err(e) => {
                            let mut f = failure.lock().unwrap_or_else(|e| e.into_inner());
                            f.get_or_insert(anyhow::anyhow!(
                                "cannot read blob {} ({}): {e}",
                                job.id,
                                job.path
                            ));
                            break;
                        }
                    };
                    if data.len() as u64 > limits.max_file_size {
                        large.fetch_add(1, Relaxed);
                        continue;
                    }
                    if is_binary(data) {
                        binary.fetch_add(1, Relaxed);
                        continue;
                    }
                    scanned.fetch_add(1, Relaxed);
                    bytes.fetch_add(data.len() as u64, Relaxed);
                    on_bytes(data.len() as u64);
                    let info = &commits[job.commit].info;
                    let hits = detector.scan(&job.path, Some(&info.sha), data);
                    for l in locate(data, hits, &job.path, Some(info)) {
                        local.push((job.commit, l));
                    }
                }
                found
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .extend(local);
            });
        }
    });
    if let Some(e) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e.context("the repository's object database is damaged or incomplete"))
            .code(ExitCode::Outside);
    }
    Ok((
        found.into_inner().unwrap_or_else(|e| e.into_inner()),
        Stats {
            blobs_scanned: scanned.into_inner(),
            bytes_scanned: bytes.into_inner(),
            skipped_binary: binary.into_inner(),
            skipped_too_large: large.into_inner(),
            ..Stats::default()
        },
    ))
}

/// The blob at `path` in tree `root`, if any.
pub fn blob_at(repo: &gix::Repository, root: ObjectId, path: &str) -> Option<ObjectId> {
    let mut buf = Vec::new();
    let mut current = root;
    let mut parts = path.split('/').peekable();
    while let Some(part) = parts.next() {
        let tree = repo.objects.find_tree_iter(&current, &mut buf).ok()?;
        let mut next = None;
        for e in tree.flatten() {
            if e.filename == part.as_bytes() {
                next = Some((e.oid.to_owned(), e.mode));
                break;
            }
        }
        let (id, mode) = next?;
        if parts.peek().is_none() {
            return mode.is_blob().then_some(id);
        }
        if !mode.is_tree() {
            return None;
        }
        current = id;
    }
    None
}

/// True when the blob at `path` in tree `root` contains `needle`.
pub fn blob_contains(repo: &gix::Repository, root: ObjectId, path: &str, needle: &[u8]) -> bool {
    if needle.is_empty() {
        return false;
    }
    let Some(id) = blob_at(repo, root, path) else {
        return false;
    };
    let mut buf = Vec::new();
    match repo.objects.find_blob(&id, &mut buf) {
        Ok(b) => b.data.windows(needle.len()).any(|w| w == needle),
        Err(_) => false,
    }
}
