//! The working-tree scan: every file under a directory that git would track or show as untracked
//! (`.gitignore`, `.git/info/exclude` and the global excludes are honoured; hidden files are scanned), walked
//! in parallel by the `ignore` crate, each file read once.

use super::detect::Detector;
use super::found::{Limits, Located, ScanResult, Stats, is_binary};
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

/// Scans the working tree under `root`. Paths are reported as `prefix` + the path under `root` (the prefix
/// makes them relative to the repository when `root` is a subdirectory of one, so tree and history
/// findings agree). `on_bytes` is called with the bytes of each file scanned (for progress); `on_error`
/// with a message for each file that could not be read.
pub fn scan_tree(
    root: &Path,
    prefix: &str,
    detector: &Detector,
    limits: &Limits,
    on_bytes: &(dyn Fn(u64) + Sync),
    on_error: &(dyn Fn(String) + Sync),
) -> ScanResult {
    let started = Instant::now();
    let counters = Counters::default();
    let found: Mutex<Vec<Located>> = Mutex::new(Vec::new());
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .parents(true)
        .git_ignore(true)
        .git_global(true)
        .git_exclude(true)
        .require_git(false)
        .ignore(false)
        .follow_links(false)
        .threads(limits.threads.max(1))
        .filter_entry(|e| e.file_name() != ".git")
        .build_parallel();
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
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return ignore::WalkState::Continue;
            }
            let rel = format!("{prefix}{}", relative(root, entry.path()));
            if limits.excluded(&rel) {
                counters.excluded.fetch_add(1, Relaxed);
                return ignore::WalkState::Continue;
            }
            if let Ok(md) = entry.metadata()
                && md.len() > limits.max_file_size
            {
                counters.large.fetch_add(1, Relaxed);
                return ignore::WalkState::Continue;
            }
            let data = match std::fs::read(entry.path()) {
                Ok(d) => d,
                Err(e) => {
                    on_error(format!("cannot read {rel}: {e}"));
                    counters.unreadable.fetch_add(1, Relaxed);
                    return ignore::WalkState::Continue;
                }
            };
            if data.len() as u64 > limits.max_file_size {
                counters.large.fetch_add(1, Relaxed);
                return ignore::WalkState::Continue;
            }
            if is_binary(&data) {
                counters.binary.fetch_add(1, Relaxed);
                return ignore::WalkState::Continue;
            }
            counters.files.fetch_add(1, Relaxed);
            counters.bytes.fetch_add(data.len() as u64, Relaxed);
            on_bytes(data.len() as u64);
            let hits = detector.scan(&rel, None, &data);
            if !hits.is_empty() {
                let mut f = found.lock().unwrap_or_else(|e| e.into_inner());
                f.extend(hits.into_iter().map(|h| Located::new(h, rel.clone(), None)));
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
