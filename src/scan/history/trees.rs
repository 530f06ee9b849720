//! Trees read ahead of the listing walk. The walk meets every unique tree of the history once, in
//! commit order, so it runs on one thread; reading a tree (inflating it, resolving its delta chain) is
//! most of its cost and needs no order. So the trees are read first, breadth-first a level at a time,
//! over every worker, and the walk then only parses them.
//!
//! Memory stays bounded: reading ahead stops once [`BUDGET`] bytes of trees are held (the kernel
//! corpus of issue 14.2 holds 45 MB in 21,306 trees); the walk reads any tree not read ahead itself,
//! as it did before.

use anyhow::Context;
use gix::ObjectId;
use gix::objs::TreeRefIter;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Bytes of raw trees read ahead at most (plus one batch).
pub(super) const BUDGET: usize = 256 << 20;

/// Trees read per parallel batch.
const BATCH: usize = 4096;

/// Raw tree objects by id.
#[derive(Default)]
pub(super) struct Trees {
    raw: gix::hashtable::HashMap<ObjectId, Vec<u8>>,
}

impl Trees {
    /// Reads the trees under `roots` (each once) over `threads` workers, breadth-first, until `budget`
    /// bytes are held.
    pub(super) fn read_ahead(
        repo: &gix::Repository,
        roots: &[ObjectId],
        threads: usize,
        budget: usize,
    ) -> anyhow::Result<Trees> {
        let mut trees = Trees::default();
        let mut held = 0;
        let mut queued: gix::hashtable::HashSet = roots.iter().copied().collect();
        let mut level: Vec<ObjectId> = queued.iter().copied().collect();
        let sync = repo.clone().into_sync();
        while !level.is_empty() {
            let mut next = Vec::new();
            for batch in level.chunks(BATCH) {
                if held > budget {
                    return Ok(trees);
                }
                for (id, raw) in batch.iter().zip(read_level(&sync, batch, threads)?) {
                    for entry in TreeRefIter::from_bytes(&raw, repo.object_hash()) {
                        let e = entry.with_context(|| format!("corrupt tree {id}"))?;
                        if e.mode.is_tree() && queued.insert(e.oid.to_owned()) {
                            next.push(e.oid.to_owned());
                        }
                    }
                    held += raw.len();
                    trees.raw.insert(*id, raw);
                }
            }
            level = next;
        }
        Ok(trees)
    }

    /// The entries of tree `id`: read ahead, or else read now from `repo` into `buf`.
    pub(super) fn get<'a>(
        &'a self,
        repo: &gix::Repository,
        id: &ObjectId,
        buf: &'a mut Vec<u8>,
    ) -> anyhow::Result<TreeRefIter<'a>> {
        if let Some(raw) = self.raw.get(id) {
            return Ok(TreeRefIter::from_bytes(raw, repo.object_hash()));
        }
        use gix::objs::FindExt;
        repo.objects
            .find_tree_iter(id, buf)
            .with_context(|| format!("cannot read tree {id}"))
    }
}

/// The raw trees `ids`, in that order, read over `threads` workers (one gix handle each).
fn read_level(
    sync: &gix::ThreadSafeRepository,
    ids: &[ObjectId],
    threads: usize,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let next = AtomicUsize::new(0);
    let threads = threads.clamp(1, ids.len().max(1));
    let parts: Vec<Vec<(usize, anyhow::Result<Vec<u8>>)>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let repo = sync.to_thread_local();
                    let mut buf = Vec::new();
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Relaxed);
                        let Some(id) = ids.get(i) else { break };
                        out.push((i, read_tree(&repo, id, &mut buf)));
                    }
                    out
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_default())
            .collect()
    });
    let mut out: Vec<Option<Vec<u8>>> = vec![None; ids.len()];
    for (i, raw) in parts.into_iter().flatten() {
        out[i] = Some(raw?);
    }
    out.into_iter()
        .zip(ids)
        .map(|(raw, id)| raw.with_context(|| format!("cannot read tree {id}")))
        .collect()
}

/// The raw bytes of tree `id`.
fn read_tree(repo: &gix::Repository, id: &ObjectId, buf: &mut Vec<u8>) -> anyhow::Result<Vec<u8>> {
    use gix::objs::Find;
    let data = repo
        .objects
        .try_find(id, buf)
        .with_context(|| format!("cannot read tree {id}"))?
        .with_context(|| format!("cannot read tree {id}: it is not in the object database"))?;
    anyhow::ensure!(
        data.kind == gix::object::Kind::Tree,
        "cannot read tree {id}: it is a {}",
        data.kind
    );
    Ok(data.data.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &std::path::Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    /// Every tree's entries, as `get` serves them.
    fn entries(t: &Trees, repo: &gix::Repository, id: &ObjectId) -> Vec<String> {
        let mut buf = Vec::new();
        t.get(repo, id, &mut buf)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                format!("{:?} {} {}", e.mode, e.filename, e.oid)
            })
            .collect()
    }

    #[test]
    fn the_budget_bounds_what_is_read_ahead_and_the_rest_is_read_when_asked() {
        let d = tempfile::tempdir().unwrap();
        git(d.path(), &["init", "-q"]);
        for i in 0..30 {
            let dir = d.path().join(format!("a{i}/b/c"));
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("f.txt"), format!("{i}\n")).unwrap();
        }
        git(d.path(), &["add", "."]);
        git(d.path(), &["commit", "-qm", "one"]);
        let repo = gix::open(d.path()).unwrap();
        let ids: Vec<ObjectId> = git(d.path(), &["rev-list", "--all", "--objects"])
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(id, _)| id).or(Some(l)))
            .map(|id| ObjectId::from_hex(id.as_bytes()).unwrap())
            .filter(|id| repo.find_object(*id).unwrap().kind == gix::object::Kind::Tree)
            .collect();
        let root: ObjectId = git(d.path(), &["rev-parse", "HEAD^{tree}"])
            .trim()
            .parse()
            .unwrap();
        let all = Trees::read_ahead(&repo, &[root], 2, BUDGET).unwrap();
        assert_eq!(all.raw.len(), ids.len(), "every tree read ahead");
        let some = Trees::read_ahead(&repo, &[root], 2, 1).unwrap();
        assert!(some.raw.len() < ids.len() && !some.raw.is_empty());
        for id in &ids {
            assert_eq!(entries(&some, &repo, id), entries(&all, &repo, id));
        }
    }
}
