//! The git-history scan. It reads the object database directly (gix), never `git log -p`:
//!
//! 1. the commits of the range (`REV..TIP`, or everything reachable from TIP) are put in topological order,
//!    parents first;
//! 2. each commit's tree is walked, skipping every tree already seen, so each unique tree is parsed once and
//!    each unique blob is met once — the first commit that reaches a blob is the one that introduced it, and
//!    the path it is met at is its path (trees of commits just outside the range are marked seen first, so a
//!    range scans only what the range introduced);
//! 3. the unique blobs are decoded and scanned in parallel: the packs holding most of them are traversed
//!    once each, every delta base inflated once, over every worker ([`super::packs`]); the rest (loose
//!    objects, a few blobs of a big pack, as a shard or a short range has) are read by id, one gix handle
//!    per worker;
//! 4. a secret found in several blobs (the file changed elsewhere later) is reported once, at the oldest
//!    commit; a secret the file already held before the range is not reported for the range.

use super::detect::Detector;
use super::found::{CommitInfo, Limits, Located, ScanResult, Stats, is_binary, locate};
use super::packs;
pub use super::packs::Decode;
use trees::Trees;

mod trees;
use crate::exit::{CodeExt, ExitCode};
use crate::shard::Shard;
use anyhow::Context;
use gix::ObjectId;
use gix::objs::FindExt;
use std::collections::{HashMap, HashSet};
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

/// The commits of a range listed, with the unique blobs they introduce: what every shard of a history
/// scan computes the same way before scanning its part.
pub struct History {
    repo: gix::Repository,
    commits: Vec<CommitEntry>,
    jobs: Vec<Job>,
    excluded: u64,
    decode: Decode,
}

/// A finding with the index of the job (blob) it was found in.
type Found = (usize, Located);

impl History {
    /// Lists the commits of `range` in the repository holding `dir` and the unique blobs they introduce
    /// (stevedore's own files left out, excluded paths counted).
    pub fn list(dir: &Path, range: &Range, limits: &Limits) -> anyhow::Result<History> {
        let repo = open(dir)?;
        let mut h = History {
            repo,
            commits: Vec::new(),
            jobs: Vec::new(),
            excluded: 0,
            decode: Decode::from_env()?,
        };
        if range.tip == "HEAD" && h.repo.head_id().is_err() {
            // A repository without commits has no history.
            return Ok(h);
        }
        let order = commits_of(&h.repo, range)?;
        h.walk(&order, limits)
            .context("the repository's object database is damaged or incomplete")
            .code(ExitCode::Outside)?;
        Ok(h)
    }

    /// Reads the commits of `order` and walks their trees, listing every blob they introduce.
    fn walk(&mut self, order: &[(ObjectId, Vec<ObjectId>)], limits: &Limits) -> anyhow::Result<()> {
        let in_range: gix::hashtable::HashSet = order.iter().map(|(id, _)| *id).collect();
        let mut buf = Vec::new();
        let commits = order
            .iter()
            .map(|(id, _)| read_commit(&self.repo, *id, &mut buf))
            .collect::<anyhow::Result<Vec<_>>>()?;
        // The trees of the parents outside the range are walked too (to mark them seen): read
        // them ahead with the range's own, each shared subtree once.
        let outside = order
            .iter()
            .flat_map(|(_, parents)| parents.iter().filter(|p| !in_range.contains(*p)))
            .filter_map(|p| self.repo.find_commit(*p).ok()?.tree_id().ok())
            .map(|t| t.detach());
        let roots: Vec<ObjectId> = commits
            .iter()
            .map(|(tree, _)| *tree)
            .chain(outside)
            .collect();
        let mut seen = Seen {
            ahead: Trees::read_ahead(&self.repo, &roots, limits.threads, trees::BUDGET)?,
            ..Seen::default()
        };
        for ((_, parents), (tree, info)) in order.iter().zip(commits) {
            let outside_parent_tree = self.mark_outside(parents, &in_range, &mut seen)?;
            let idx = self.commits.len();
            self.commits.push(CommitEntry {
                info: Arc::new(info),
                outside_parent_tree,
            });
            let (jobs, excluded) = (&mut self.jobs, &mut self.excluded);
            walk_tree(&self.repo, tree, &mut seen, &mut |bid, path| {
                if limits.own.contains(&path) {
                } else if limits.excluded(&path) {
                    *excluded += 1;
                } else {
                    jobs.push(Job {
                        id: bid,
                        path,
                        commit: idx,
                    });
                }
            })?;
        }
        Ok(())
    }

    /// Marks the trees of a commit's parents outside the range as seen (their blobs are not the range's);
    /// returns the first parent's tree when that parent is outside.
    fn mark_outside(
        &self,
        parents: &[ObjectId],
        in_range: &gix::hashtable::HashSet,
        seen: &mut Seen,
    ) -> anyhow::Result<Option<ObjectId>> {
        let mut first = None;
        for (i, p) in parents.iter().enumerate() {
            if in_range.contains(p) {
                continue;
            }
            let ptree = self
                .repo
                .find_commit(*p)
                .ok()
                .and_then(|c| c.tree_id().ok())
                .map(|t| t.detach());
            let Some(ptree) = ptree else { continue };
            if i == 0 {
                first = Some(ptree);
            }
            if seen.outside.insert(*p) {
                walk_tree(&self.repo, ptree, seen, &mut |_, _| {})?;
            }
        }
        Ok(first)
    }

    /// How many unique blobs the range introduces.
    pub fn blob_count(&self) -> usize {
        self.jobs.len()
    }

    /// Scans the blobs of `shard` (all of them without one). A shard reports exactly the findings the
    /// unsharded scan reports in its blobs: a secret also found in an older blob of the same file in
    /// another shard is left to that shard (those older blobs are read again, only for the files where this
    /// shard found something).
    pub fn scan(
        &self,
        detector: &Detector,
        limits: &Limits,
        shard: Option<Shard>,
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<ScanResult> {
        let started = Instant::now();
        let mine: Vec<bool> = match shard {
            None => vec![true; self.jobs.len()],
            Some(s) => self
                .split(limits, s.total)?
                .into_iter()
                .map(|x| x as usize == s.slot())
                .collect(),
        };
        let todo: Vec<usize> = (0..self.jobs.len()).filter(|&j| mine[j]).collect();
        let (mut found, mut stats) = self.scan_jobs(&todo, detector, limits, on_bytes)?;
        stats.commits_scanned = self.commits.len() as u64;
        stats.skipped_excluded = self.excluded;
        if shard.is_some() && !found.is_empty() {
            let older = self.older_on_same_paths(&found, &mine);
            let (more, _) = self.scan_jobs(&older, detector, limits, &|_| {})?;
            found.extend(more);
        }
        let mut kept = self.first_occurrences(found);
        kept.retain(|(j, _)| mine[*j]);
        stats.elapsed = started.elapsed();
        Ok(ScanResult {
            findings: kept.into_iter().map(|(_, f)| f).collect(),
            stats,
        })
    }

    /// The 0-based shard of every blob, balancing bytes to read over `total` shards (a blob over the size
    /// limit costs what reading its header does). Sizes come from the object headers, read in parallel.
    pub fn split(&self, limits: &Limits, total: u32) -> anyhow::Result<Vec<u32>> {
        /// What a blob costs besides its bytes (lookup, detector setup), in bytes.
        const OVERHEAD: u64 = 512;
        let sizes = self.sizes(limits.threads)?;
        let items: Vec<(ObjectId, u64)> = self
            .jobs
            .iter()
            .zip(sizes)
            .map(|(j, n)| {
                let read = if n > limits.max_file_size { 0 } else { n };
                (j.id, read + OVERHEAD)
            })
            .collect();
        Ok(crate::shard::balance(&items, total))
    }

    /// The size of every blob, from its header.
    fn sizes(&self, threads: usize) -> anyhow::Result<Vec<u64>> {
        let sync = self.repo.clone().into_sync();
        let chunk = self.jobs.len().div_ceil(threads.max(1)).max(1);
        let parts: Vec<anyhow::Result<Vec<u64>>> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .jobs
                .chunks(chunk)
                .map(|part| {
                    let sync = &sync;
                    s.spawn(move || {
                        let r = sync.to_thread_local();
                        part.iter()
                            .map(|j| {
                                r.find_header(j.id).map(|h| h.size()).with_context(|| {
                                    format!("cannot read blob {} ({})", j.id, j.path)
                                })
                            })
                            .collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker panicked")))
                })
                .collect()
        });
        let mut out = Vec::with_capacity(self.jobs.len());
        for p in parts {
            out.extend(p.code(ExitCode::Outside)?);
        }
        Ok(out)
    }

    /// The blobs of other shards on the paths of `found`, introduced no later than the newest commit of a
    /// finding there: the only blobs that can hold an earlier occurrence of the same secret in the same
    /// file (a fingerprint names the file).
    fn older_on_same_paths(&self, found: &[Found], mine: &[bool]) -> Vec<usize> {
        let mut newest: HashMap<&str, usize> = HashMap::new();
        for (j, f) in found {
            let c = self.jobs[*j].commit;
            let e = newest.entry(f.file.as_str()).or_insert(c);
            *e = (*e).max(c);
        }
        (0..self.jobs.len())
            .filter(|&j| !mine[j])
            .filter(|&j| {
                newest
                    .get(self.jobs[j].path.as_str())
                    .is_some_and(|&c| self.jobs[j].commit <= c)
            })
            .collect()
    }

    /// The fingerprints the whole (unsharded) history scan reports in the files `paths`: what a sharded
    /// working-tree scan needs to leave out findings history already reports.
    pub fn fingerprints_in(
        &self,
        paths: &HashSet<String>,
        detector: &Detector,
        limits: &Limits,
    ) -> anyhow::Result<HashSet<String>> {
        if paths.is_empty() {
            return Ok(HashSet::new());
        }
        let todo: Vec<usize> = (0..self.jobs.len())
            .filter(|&j| paths.contains(&self.jobs[j].path))
            .collect();
        let (found, _) = self.scan_jobs(&todo, detector, limits, &|_| {})?;
        Ok(self
            .first_occurrences(found)
            .into_iter()
            .map(|(_, f)| f.fingerprint)
            .collect())
    }

    /// One report per occurrence of a secret in a file, at the oldest commit holding it; a secret the
    /// range's outside parent already held is not reported.
    fn first_occurrences(&self, mut found: Vec<Found>) -> Vec<Found> {
        let commit = |j: usize| self.jobs[j].commit;
        // Oldest commit first, then one report per occurrence of a secret in a file.
        found.sort_by(|a, b| {
            (
                commit(a.0),
                &a.1.file,
                a.1.finding.start_line,
                a.1.finding.start_column,
            )
                .cmp(&(
                    commit(b.0),
                    &b.1.file,
                    b.1.finding.start_line,
                    b.1.finding.start_column,
                ))
        });
        let mut kept: Vec<Found> = Vec::new();
        let mut seen_fp: HashSet<(String, usize)> = HashSet::new();
        let mut nth: HashMap<(usize, String, String), usize> = HashMap::new();
        for (j, f) in found {
            let cidx = commit(j);
            let k = nth
                .entry((cidx, f.file.clone(), f.fingerprint.clone()))
                .or_insert(0);
            let key = (f.fingerprint.clone(), *k);
            *k += 1;
            if !seen_fp.insert(key) {
                continue;
            }
            if let Some(ptree) = self.commits[cidx].outside_parent_tree
                && blob_contains(&self.repo, ptree, &f.file, f.finding.secret.as_bytes())
            {
                continue;
            }
            kept.push((j, f));
        }
        kept
    }
}

/// Trees, blobs and outside commits already walked while listing.
#[derive(Default)]
struct Seen {
    trees: gix::hashtable::HashSet,
    blobs: gix::hashtable::HashSet,
    outside: gix::hashtable::HashSet,
    /// The range's trees, read ahead over every worker.
    ahead: Trees,
}

/// Scans the commits of `range` in the repository holding `dir` (every blob; see [`History::scan`] for
/// one shard).
pub fn scan_history(
    dir: &Path,
    range: &Range,
    detector: &Detector,
    limits: &Limits,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<ScanResult> {
    let started = Instant::now();
    let mut r = History::list(dir, range, limits)?.scan(detector, limits, None, on_bytes)?;
    r.stats.elapsed = started.elapsed();
    Ok(r)
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

/// Walks a tree depth-first, skipping trees in `seen.trees`, calling `on_blob(id, path)` for every file
/// blob not in `seen.blobs` (both sets are updated). Symlinks and submodules are not followed.
fn walk_tree(
    repo: &gix::Repository,
    root: ObjectId,
    seen: &mut Seen,
    on_blob: &mut dyn FnMut(ObjectId, String),
) -> anyhow::Result<()> {
    let mut stack = vec![(root, String::new())];
    let mut buf = Vec::new();
    while let Some((tid, prefix)) = stack.pop() {
        if !seen.trees.insert(tid) {
            continue;
        }
        let tree = seen.ahead.get(repo, &tid, &mut buf)?;
        for entry in tree {
            let e = entry.with_context(|| format!("corrupt tree {tid}"))?;
            let name = || String::from_utf8_lossy(e.filename);
            if e.mode.is_tree() {
                // Most subtrees of a commit were walked with its parent: skip them before
                // building their path.
                if !seen.trees.contains(e.oid) {
                    stack.push((e.oid.to_owned(), format!("{prefix}{}/", name())));
                }
            } else if e.mode.is_blob() && seen.blobs.insert(e.oid.to_owned()) {
                on_blob(e.oid.to_owned(), format!("{prefix}{}", name()));
            }
        }
    }
    Ok(())
}

impl History {
    /// Chooses how blobs are read (default [`Decode::Auto`]).
    pub fn set_decode(&mut self, decode: Decode) {
        self.decode = decode;
    }

    /// Reads and scans the blobs `todo` (job indexes): first those of the packs worth traversing (decoded
    /// over every worker, each delta base once), then the rest by id, in parallel. Returns each finding
    /// with its job.
    fn scan_jobs(
        &self,
        todo: &[usize],
        detector: &Detector,
        limits: &Limits,
        on_bytes: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<(Vec<Found>, Stats)> {
        let c = Counts::default();
        let found: Mutex<Vec<Found>> = Mutex::new(Vec::new());
        let w = Worker {
            jobs: &self.jobs,
            commits: &self.commits,
            detector,
            limits,
            c: &c,
            on_bytes,
        };
        let keep = |j: usize, hits: Vec<Located>| {
            if !hits.is_empty() {
                let mut f = found.lock().unwrap_or_else(|e| e.into_inner());
                f.extend(hits.into_iter().map(|l| (j, l)));
            }
        };
        let ids: Vec<ObjectId> = self.jobs.iter().map(|j| j.id).collect();
        let rest = packs::decode_blobs(
            &self.repo,
            &ids,
            todo,
            limits.threads,
            self.decode,
            &|j, data| keep(j, w.scan_data(j, data)),
        )
        .context("the repository's object database is damaged or incomplete")
        .code(ExitCode::Outside)?;
        self.read_by_id(&rest, &w, &keep)?;
        Ok((
            found.into_inner().unwrap_or_else(|e| e.into_inner()),
            Stats {
                blobs_scanned: c.scanned.into_inner(),
                bytes_scanned: c.bytes.into_inner(),
                skipped_binary: c.binary.into_inner(),
                skipped_too_large: c.large.into_inner(),
                ..Stats::default()
            },
        ))
    }

    /// Reads the blobs `todo` by id and scans them, one gix handle per worker.
    fn read_by_id(
        &self,
        todo: &[usize],
        w: &Worker,
        keep: &(dyn Fn(usize, Vec<Located>) + Sync),
    ) -> anyhow::Result<()> {
        let next = AtomicUsize::new(0);
        let failure: Mutex<Option<anyhow::Error>> = Mutex::new(None);
        let sync = self.repo.clone().into_sync();
        let threads = w.limits.threads.max(1).min(todo.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut r = sync.to_thread_local();
                    r.object_cache_size(Some(4 * 1024 * 1024));
                    let mut buf = Vec::new();
                    while let Some(&j) = todo.get(next.fetch_add(1, Relaxed)) {
                        match w.scan_one(&r, j, &mut buf) {
                            Ok(hits) => keep(j, hits),
                            Err(e) => {
                                let mut f = failure.lock().unwrap_or_else(|e| e.into_inner());
                                f.get_or_insert(e);
                                break;
                            }
                        }
                    }
                });
            }
        });
        if let Some(e) = failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e.context("the repository's object database is damaged or incomplete"))
                .code(ExitCode::Outside);
        }
        Ok(())
    }
}

/// What a blob worker reads and counts with.
struct Worker<'a> {
    jobs: &'a [Job],
    commits: &'a [CommitEntry],
    detector: &'a Detector,
    limits: &'a Limits,
    c: &'a Counts,
    on_bytes: &'a (dyn Fn(u64) + Sync),
}

impl Worker<'_> {
    /// Reads and scans one blob, counting what it skips.
    fn scan_one(
        &self,
        r: &gix::Repository,
        j: usize,
        buf: &mut Vec<u8>,
    ) -> anyhow::Result<Vec<Located>> {
        let (job, c, limits) = (&self.jobs[j], self.c, self.limits);
        if let Ok(h) = r.find_header(job.id)
            && h.size() > limits.max_file_size
        {
            c.large.fetch_add(1, Relaxed);
            return Ok(Vec::new());
        }
        let data = match r.objects.find_blob(&job.id, buf) {
            Ok(b) => b.data,
            Err(e) => anyhow::bail!("cannot read blob {} ({}): {e}", job.id, job.path),
        };
        Ok(self.scan_data(j, data))
    }

    /// Scans the content of blob `j`, counting what it skips (too large, binary).
    fn scan_data(&self, j: usize, data: &[u8]) -> Vec<Located> {
        let (job, c, limits) = (&self.jobs[j], self.c, self.limits);
        if data.len() as u64 > limits.max_file_size {
            c.large.fetch_add(1, Relaxed);
            return Vec::new();
        }
        if is_binary(data) {
            c.binary.fetch_add(1, Relaxed);
            return Vec::new();
        }
        c.scanned.fetch_add(1, Relaxed);
        c.bytes.fetch_add(data.len() as u64, Relaxed);
        (self.on_bytes)(data.len() as u64);
        let info = &self.commits[job.commit].info;
        let hits = self.detector.scan(&job.path, Some(&info.sha), data);
        locate(data, hits, &job.path, Some(info))
    }
}

/// Counters shared by the blob workers.
#[derive(Default)]
struct Counts {
    scanned: AtomicU64,
    bytes: AtomicU64,
    binary: AtomicU64,
    large: AtomicU64,
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
