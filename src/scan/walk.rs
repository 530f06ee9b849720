//! The working-tree scan: every file under a directory that git would track or show as untracked
//! (`.gitignore`, `.git/info/exclude` and the global excludes are honoured; hidden files are scanned), walked
//! in parallel by the `ignore` crate, each file read once.

use super::detect::Detector;
use super::found::{Limits, Located, ScanResult, Stats, is_binary, locate};
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

/// Per-run counters shared by the walker threads.
#[derive(Default)]
struct Counters {
    files: AtomicU64,
    bytes: AtomicU64,
    binary: AtomicU64,
    large: AtomicU64,
    excluded: AtomicU64,
    unreadable: AtomicU64,
}

/// What reading one file gave.
enum Read {
    /// The content, to scan.
    Text(Vec<u8>),
    /// Over the size limit (checked before reading; the file is never read).
    TooLarge,
    /// Binary: a NUL byte in the first block, or holes (a sparse file reads as NULs).
    Binary,
}

/// The size of the block sniffed for binary content before a file is read whole.
const SNIFF: usize = 8000;

/// Reads a file for scanning without ever holding more than the size limit: the size is checked on the
/// open file, the first block is sniffed for binary content, and a sparse file (holes read as NUL bytes)
/// is binary without being read.
fn read_checked(path: &Path, limits: &Limits) -> std::io::Result<Read> {
    use std::io::Read as _;
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    if len > limits.max_file_size {
        return Ok(Read::TooLarge);
    }
    if has_hole(&f, len) {
        return Ok(Read::Binary);
    }
    let mut data = Vec::with_capacity(len.min(SNIFF as u64) as usize);
    (&mut f).take(SNIFF as u64).read_to_end(&mut data)?;
    if is_binary(&data) {
        return Ok(Read::Binary);
    }
    if data.len() == SNIFF {
        data.reserve(len.saturating_sub(SNIFF as u64) as usize);
        // A file growing while it is read is cut one byte past the limit, then refused.
        f.take(limits.max_file_size + 1 - SNIFF as u64)
            .read_to_end(&mut data)?;
    }
    if data.len() as u64 > limits.max_file_size {
        return Ok(Read::TooLarge);
    }
    Ok(Read::Text(data))
}

/// True when the file has a hole before its end (`SEEK_HOLE`; filesystems without holes say none).
fn has_hole(f: &std::fs::File, len: u64) -> bool {
    #[cfg(target_os = "linux")]
    {
        if len == 0 {
            return false;
        }
        let hole = rustix::fs::seek(f, rustix::fs::SeekFrom::Hole(0));
        // Leave the position where reading starts.
        let _ = rustix::fs::seek(f, rustix::fs::SeekFrom::Start(0));
        matches!(hole, Ok(h) if h < len)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (f, len);
        false
    }
}

/// Scans the working tree under `root` (or, with `file`, that one file in `root`). Paths are reported as
/// `prefix` + the path under `root` (the prefix makes them relative to the repository when `root` is a
/// subdirectory of one, so tree and history findings agree). `on_bytes` is called with the bytes of each
/// file scanned (for progress); `on_error` with a message for each file that could not be read.
/// stevedore's own directory (`.stevedore/`) and files ([`Limits::own`]) are skipped.
pub fn scan_tree(
    root: &Path,
    file: Option<&str>,
    prefix: &str,
    detector: &Detector,
    limits: &Limits,
    on_bytes: &(dyn Fn(u64) + Sync),
    on_error: &(dyn Fn(String) + Sync),
) -> ScanResult {
    let started = Instant::now();
    let counters = Counters::default();
    let found: Mutex<Vec<Located>> = Mutex::new(Vec::new());
    let start = match file {
        Some(f) => root.join(f),
        None => root.to_path_buf(),
    };
    let walker = walker(&start, limits.threads);
    walker.run(|| {
        let counters = &counters;
        let found = &found;
        Box::new(move |entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    on_error(format!("cannot walk: {e}"));
                    counters.unreadable.fetch_add(1, Relaxed);
                    return ignore::WalkState::Continue;
                }
            };
            if entry.file_type().is_some_and(|t| t.is_file()) {
                let rel = format!("{prefix}{}", relative(root, entry.path()));
                let hits = scan_file(
                    entry.path(),
                    &rel,
                    detector,
                    limits,
                    counters,
                    on_bytes,
                    on_error,
                );
                if !hits.is_empty() {
                    found.lock().unwrap_or_else(|e| e.into_inner()).extend(hits);
                }
            }
            ignore::WalkState::Continue
        })
    });
    let mut findings = found.into_inner().unwrap_or_else(|e| e.into_inner());
    findings.sort_by(|a, b| {
        (&a.file, a.finding.start_line, a.finding.start_column).cmp(&(
            &b.file,
            b.finding.start_line,
            b.finding.start_column,
        ))
    });
    ScanResult {
        findings,
        stats: Stats {
            files_scanned: counters.files.into_inner(),
            bytes_scanned: counters.bytes.into_inner(),
            skipped_binary: counters.binary.into_inner(),
            skipped_too_large: counters.large.into_inner(),
            skipped_excluded: counters.excluded.into_inner(),
            unreadable: counters.unreadable.into_inner(),
            elapsed: started.elapsed(),
            ..Stats::default()
        },
    }
}

/// The parallel walk of `start`: what git would track or show as untracked, hidden files included,
/// without `.git/` and stevedore's own directory.
fn walker(start: &Path, threads: usize) -> ignore::WalkParallel {
    ignore::WalkBuilder::new(start)
        .hidden(false)
        .parents(true)
        .git_ignore(true)
        .git_global(true)
        .git_exclude(true)
        .require_git(false)
        .ignore(false)
        .follow_links(false)
        .threads(threads.max(1))
        .filter_entry(|e| e.file_name() != ".git" && e.file_name() != super::suppress::OWN_DIR)
        .build_parallel()
}

/// The files a working-tree scan of `root` (or of `file` in it) would read, as findings name them
/// (`prefix` + path), with their sizes, sorted by path: what a sharded scan splits. stevedore's own and
/// excluded files are left out.
pub fn list_tree(
    root: &Path,
    file: Option<&str>,
    prefix: &str,
    limits: &Limits,
) -> Vec<(String, u64)> {
    let start = match file {
        Some(f) => root.join(f),
        None => root.to_path_buf(),
    };
    let listed: Mutex<Vec<(String, u64)>> = Mutex::new(Vec::new());
    walker(&start, limits.threads).run(|| {
        let listed = &listed;
        Box::new(move |entry| {
            if let Ok(e) = entry
                && e.file_type().is_some_and(|t| t.is_file())
            {
                let rel = format!("{prefix}{}", relative(root, e.path()));
                if !limits.own.contains(&rel) && !limits.excluded(&rel) {
                    let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                    listed
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((rel, len));
                }
            }
            ignore::WalkState::Continue
        })
    });
    let mut out = listed.into_inner().unwrap_or_else(|e| e.into_inner());
    out.sort();
    out
}

/// Scans one file of the walk, counting what it skips.
fn scan_file(
    path: &Path,
    rel: &str,
    detector: &Detector,
    limits: &Limits,
    counters: &Counters,
    on_bytes: &(dyn Fn(u64) + Sync),
    on_error: &(dyn Fn(String) + Sync),
) -> Vec<Located> {
    if limits.own.contains(rel) || limits.only.as_ref().is_some_and(|o| !o.contains(rel)) {
        return Vec::new();
    }
    if limits.excluded(rel) {
        counters.excluded.fetch_add(1, Relaxed);
        return Vec::new();
    }
    let data = match read_checked(path, limits) {
        Ok(Read::Text(d)) => d,
        Ok(Read::TooLarge) => {
            counters.large.fetch_add(1, Relaxed);
            return Vec::new();
        }
        Ok(Read::Binary) => {
            counters.binary.fetch_add(1, Relaxed);
            return Vec::new();
        }
        Err(e) => {
            on_error(format!("cannot read {rel}: {e}"));
            counters.unreadable.fetch_add(1, Relaxed);
            return Vec::new();
        }
    };
    counters.files.fetch_add(1, Relaxed);
    counters.bytes.fetch_add(data.len() as u64, Relaxed);
    on_bytes(data.len() as u64);
    let hits = detector.scan(rel, None, &data);
    locate(&data, hits, rel, None)
}

/// `path` relative to `root`, `/`-separated.
pub fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let s = rel.to_string_lossy();
    let s = s.trim_start_matches("./");
    if std::path::MAIN_SEPARATOR == '/' {
        s.to_string()
    } else {
        s.replace(std::path::MAIN_SEPARATOR, "/")
    }
}

/// Where `root` sits inside its git working tree, as a `/`-terminated prefix (`""` at the top or outside
/// any repository).
pub fn repo_prefix(root: &Path) -> String {
    let Ok(repo) = gix::discover(root) else {
        return String::new();
    };
    let (Some(top), Ok(here)) = (
        repo.workdir().and_then(|w| w.canonicalize().ok()),
        root.canonicalize(),
    ) else {
        return String::new();
    };
    match here.strip_prefix(&top) {
        Ok(rel) if !rel.as_os_str().is_empty() => format!("{}/", relative(Path::new(""), rel)),
        _ => String::new(),
    }
}
