//! Decoding a history's blobs pack by pack (issue 14.2): instead of reading each blob by id — which
//! walks its delta chain again for every blob, base after base — each pack that holds enough of the
//! wanted blobs is traversed once with gix-pack's delta-tree traversal: every base is inflated once, its
//! deltas are applied from it, and the work is spread over `threads` workers. The wanted blobs are
//! handed to `on_blob` as they come out, each exactly once (a blob stored in two packs is claimed by
//! the first). Blobs not met in a traversed pack — loose objects, packs holding few wanted blobs, an
//! alternate object store — are left for the caller to read by id.
//!
//! Memory stays bounded: the pack is memory-mapped (pages the kernel can drop, never copied), the
//! traversal keeps a node of ~100 bytes per object of the pack plus the decoded bases of the chains
//! being resolved (one chain per worker), and blobs are scanned where they are decoded: no queue.

use anyhow::Context;
use gix::ObjectId;
use gix::odb::pack;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// How the history scan reads its blobs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Decode {
    /// Traverse the packs that hold enough of the wanted blobs, read the rest by id.
    #[default]
    Auto,
    /// Read every blob by id (what a shard or a short range does when few blobs of a pack are wanted).
    ById,
    /// Traverse every pack holding a wanted blob, however few (tests compare it with [`Decode::ById`]).
    Packs,
}

impl Decode {
    /// `STEVEDORE_HISTORY_DECODE` (`auto`, `by-id` or `packs`; for measuring one path against the
    /// other), else [`Decode::Auto`]. An unknown value is a usage error naming the variable.
    pub fn from_env() -> anyhow::Result<Decode> {
        match std::env::var("STEVEDORE_HISTORY_DECODE").ok().as_deref() {
            None | Some("" | "auto") => Ok(Decode::Auto),
            Some("by-id") => Ok(Decode::ById),
            Some("packs") => Ok(Decode::Packs),
            Some(v) => Err(crate::exit::coded(
                crate::exit::ExitCode::Usage,
                format!(
                    "STEVEDORE_HISTORY_DECODE={v:?} is not a decoding: use auto, by-id or packs"
                ),
            )),
        }
    }
}

/// A pack is traversed when the wanted blobs are at least this share of its objects (1/N): below it,
/// decoding the whole pack costs more than resolving the few wanted blobs' chains one by one.
const MIN_SHARE: u64 = 3;

/// The pack index files of the repository's own object store (`objects/pack/*.idx`), sorted.
fn pack_indexes(objects: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(objects.join("pack"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "idx"))
                .filter(|p| p.with_extension("pack").is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Decodes the blobs `todo` (indexes into `ids`) from the packs of `repo` as [`Decode`] says, calling
/// `on_blob(index, data)` once for each blob met; returns the indexes not met, to be read by id.
pub(super) fn decode_blobs(
    repo: &gix::Repository,
    ids: &[ObjectId],
    todo: &[usize],
    threads: usize,
    mode: Decode,
    on_blob: &(dyn Fn(usize, &[u8]) + Sync),
) -> anyhow::Result<Vec<usize>> {
    if mode == Decode::ById || todo.is_empty() {
        return Ok(todo.to_vec());
    }
    let want: gix::hashtable::HashMap<ObjectId, usize> =
        todo.iter().map(|&j| (ids[j], j)).collect();
    let done: Vec<AtomicBool> = ids.iter().map(|_| AtomicBool::new(false)).collect();
    for idx_path in pack_indexes(&repo.common_dir().join("objects")) {
        // A pack that cannot be opened (removed by a concurrent `git gc`, say) is left to reading by id,
        // which finds its objects wherever they are now or fails naming the blob.
        let Ok(index) = pack::index::File::at(&idx_path, repo.object_hash()) else {
            continue;
        };
        let hits = index
            .iter()
            .filter(|e| want.get(&e.oid).is_some_and(|&j| !done[j].load(Relaxed)))
            .count() as u64;
        let worth = match mode {
            Decode::Packs => hits > 0,
            _ => hits > 0 && hits * MIN_SHARE >= u64::from(index.num_objects()),
        };
        if !worth {
            continue;
        }
        let Ok(data) = pack::data::File::at(idx_path.with_extension("pack"), index.object_hash())
        else {
            continue;
        };
        traverse(&index, &data, threads, &|oid, bytes| {
            if let Some(&j) = want.get(oid)
                && !done[j].swap(true, Relaxed)
            {
                on_blob(j, bytes);
            }
        })?;
    }
    Ok(todo
        .iter()
        .copied()
        .filter(|&j| !done[j].load(Relaxed))
        .collect())
}

/// Decodes every object of one pack over `threads` workers, each base once, calling `on_blob(id, data)`
/// for each blob.
fn traverse(
    index: &pack::index::File,
    data: &pack::data::File,
    threads: usize,
    on_blob: &(dyn Fn(&ObjectId, &[u8]) + Sync),
) -> anyhow::Result<()> {
    let interrupt = AtomicBool::new(false);
    index
        .traverse_with_index(
            data,
            |kind, bytes, entry, _progress| {
                if kind == gix::object::Kind::Blob {
                    on_blob(&entry.oid, bytes);
                }
                Ok(())
            },
            &mut gix::progress::Discard,
            &interrupt,
            pack::index::traverse::with_index::Options {
                thread_limit: Some(threads.max(1)),
                // Objects are found by the ids the trees name; a damaged object fails to inflate or
                // to apply its delta, which fails the traversal (as reading by id would).
                check: pack::index::traverse::SafetyCheck::SkipFileAndObjectChecksumVerification,
                alloc_limit_bytes: None,
            },
        )
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot decode pack {}", data.path().display()))?;
    Ok(())
}
