//! The staged scan (`--staged`, for a pre-commit hook): the blobs in git's index that differ from HEAD,
//! i.e. what `git commit` is about to record. A secret the HEAD version of the file already held is not
//! reported again (the hook is about what this commit adds).

use super::detect::Detector;
use super::found::{Limits, ScanResult, Stats, is_binary, locate};
use super::history::{blob_contains, open};
use anyhow::Context;
use gix::ObjectId;
use gix::objs::FindExt;
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

/// Scans what is staged in the repository holding `dir`.
pub fn scan_staged(dir: &Path, detector: &Detector, limits: &Limits) -> anyhow::Result<ScanResult> {
    let started = Instant::now();
    let repo = open(dir)?;
    let head_tree: Option<ObjectId> = repo
        .head_commit()
        .ok()
        .and_then(|c| c.tree_id().ok())
        .map(|t| t.detach());
    let head_files = match head_tree {
        Some(t) => files_of(&repo, t)?,
        None => HashMap::new(),
    };
    let index = repo
        .index_or_empty()
        .context("cannot read git's index (.git/index)")?;
    let mut stats = Stats::default();
    let mut findings = Vec::new();
    let mut buf = Vec::new();
    for entry in index.entries() {
        if entry.stage() != gix::index::entry::Stage::Unconflicted
            || !(entry.mode == gix::index::entry::Mode::FILE
                || entry.mode == gix::index::entry::Mode::FILE_EXECUTABLE)
        {
            continue;
        }
        let path = entry.path(&index).to_string();
        if head_files.get(&path) == Some(&entry.id) {
            continue;
        }
        if limits.own.contains(&path) {
            continue;
        }
        if limits.excluded(&path) {
            stats.skipped_excluded += 1;
            continue;
        }
        if let Ok(h) = repo.find_header(entry.id)
            && h.size() > limits.max_file_size
        {
            stats.skipped_too_large += 1;
            continue;
        }
        let blob = repo
            .objects
            .find_blob(&entry.id, &mut buf)
            .with_context(|| format!("cannot read the staged content of {path}"))?;
        let data = blob.data;
        if data.len() as u64 > limits.max_file_size {
            stats.skipped_too_large += 1;
            continue;
        }
        if is_binary(data) {
            stats.skipped_binary += 1;
            continue;
        }
        stats.blobs_scanned += 1;
        stats.bytes_scanned += data.len() as u64;
        let hits = detector.scan(&path, None, data);
        for mut f in locate(data, hits, &path, None) {
            let already = head_tree.is_some_and(|t| {
                head_files.contains_key(&path)
                    && blob_contains(&repo, t, &path, f.finding.secret.as_bytes())
            });
            if !already {
                f.staged = true;
                findings.push(f);
            }
        }
    }
    stats.elapsed = started.elapsed();
    Ok(ScanResult { findings, stats })
}

/// Every file blob of a tree, by path.
fn files_of(repo: &gix::Repository, root: ObjectId) -> anyhow::Result<HashMap<String, ObjectId>> {
    let mut out = HashMap::new();
    let mut stack = vec![(root, String::new())];
    let mut buf = Vec::new();
    while let Some((tid, prefix)) = stack.pop() {
        let tree = repo
            .objects
            .find_tree_iter(&tid, &mut buf)
            .with_context(|| format!("cannot read tree {tid}"))?;
        for e in tree {
            let e = e.with_context(|| format!("corrupt tree {tid}"))?;
            let name = String::from_utf8_lossy(e.filename);
            if e.mode.is_tree() {
                stack.push((e.oid.to_owned(), format!("{prefix}{name}/")));
            } else if e.mode.is_blob() {
                out.insert(format!("{prefix}{name}"), e.oid.to_owned());
            }
        }
    }
    Ok(out)
}
