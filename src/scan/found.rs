//! What a scan produces: findings located in a file (and, for history, in a commit), and the counters
//! the summary shows.

use super::fingerprint;
use super::rule::Finding;
use std::sync::Arc;
use std::time::Duration;

/// The commit a history finding was introduced in.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommitInfo {
    /// Full hex SHA.
    pub sha: String,
    /// Author name.
    pub author: String,
    /// Author email.
    pub email: String,
    /// Author date, RFC 3339 in UTC (`2024-05-01T12:00:00Z`).
    pub date: String,
    /// The full commit message.
    pub message: String,
}

/// A finding with where it was found.
#[derive(Clone, Debug)]
pub struct Located {
    /// What the detector found.
    pub finding: Finding,
    /// Path relative to the scanned directory (tree) or the repository (history, staged), `/`-separated.
    pub file: String,
    /// The commit that introduced it (history scans only).
    pub commit: Option<Arc<CommitInfo>>,
    /// The stable fingerprint (see [`fingerprint::stable`]).
    pub fingerprint: String,
    /// Where in a container image it was found (image scans only).
    pub image: Option<Arc<super::image::Where>>,
    /// The line the match starts on, bounded to [`CONTEXT_MAX`] bytes around the match (not redacted:
    /// show it through the report's redaction).
    pub line: String,
    /// Found in what is staged for the next commit (`--staged`).
    pub staged: bool,
}

/// The most bytes of a finding's line kept as context.
pub const CONTEXT_MAX: usize = 240;

impl Located {
    /// Locates a finding, computing its stable fingerprint.
    pub fn new(finding: Finding, file: String, commit: Option<Arc<CommitInfo>>) -> Located {
        let fingerprint = fingerprint::stable(&finding.rule_id, &file, &finding.secret);
        Located {
            finding,
            file,
            commit,
            fingerprint,
            image: None,
            line: String::new(),
            staged: false,
        }
    }

    /// Where the finding is, for people: the file, or for an image finding the image, layer and path
    /// (and whether a later layer deleted it).
    pub fn place(&self) -> String {
        match &self.image {
            Some(w) => w.describe(&self.file),
            None => self.file.clone(),
        }
    }

    /// gitleaks' line-based fingerprint (`[commit:]file:rule-id:line`), accepted in ignore files and
    /// baselines for compatibility.
    pub fn line_fingerprint(&self) -> String {
        fingerprint::line_based(
            self.commit.as_deref().map(|c| c.sha.as_str()),
            &self.file,
            &self.finding.rule_id,
            self.finding.start_line,
        )
    }

    /// The commit SHA, empty for working-tree findings.
    pub fn commit_sha(&self) -> &str {
        self.commit.as_deref().map(|c| c.sha.as_str()).unwrap_or("")
    }
}

/// Locates the detector's findings in `data` (the content of `file`): each gets its context line, and a
/// finding whose secret is part of a stevedore fingerprint (`file:rule-id:h<16 hex>`, as ignore files,
/// baselines and reports hold them) is dropped — a fingerprint is a hash, never a secret.
pub fn locate(
    data: &[u8],
    hits: Vec<Finding>,
    file: &str,
    commit: Option<&Arc<CommitInfo>>,
) -> Vec<Located> {
    hits.into_iter()
        .filter_map(|h| {
            let line = line_at(data, h.start_line);
            if fingerprint::inside_own(&String::from_utf8_lossy(line), &h.secret) {
                return None;
            }
            let context = context_of(line, h.start_column);
            let mut l = Located::new(h, file.to_string(), commit.cloned());
            l.line = context;
            Some(l)
        })
        .collect()
}

/// The bytes of 1-based line `n` of `data`, without its line ending.
fn line_at(data: &[u8], n: usize) -> &[u8] {
    let start = if n <= 1 {
        0
    } else {
        match memchr::memchr_iter(b'\n', data).nth(n - 2) {
            Some(i) => i + 1,
            None => return &[],
        }
    };
    let rest = &data[start..];
    let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
    let l = &rest[..end];
    l.strip_suffix(b"\r").unwrap_or(l)
}

/// A line cut to at most [`CONTEXT_MAX`] bytes around 1-based byte column `col`, marked `…` where cut.
fn context_of(line: &[u8], col: usize) -> String {
    let text = String::from_utf8_lossy(line);
    if text.len() <= CONTEXT_MAX {
        return text.into_owned();
    }
    let at = col.saturating_sub(1).min(text.len());
    let mut start = at.saturating_sub(CONTEXT_MAX / 4);
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (start + CONTEXT_MAX).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut s = String::new();
    if start > 0 {
        s.push('…');
    }
    s.push_str(&text[start..end]);
    if end < text.len() {
        s.push('…');
    }
    s
}

/// Counters of one scan (or of one part of it: tree, history, staged), summed with [`Stats::add`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stats {
    /// Working-tree files read and scanned.
    pub files_scanned: u64,
    /// Unique git blobs read and scanned (history and staged).
    pub blobs_scanned: u64,
    /// Commits walked (history).
    pub commits_scanned: u64,
    /// Bytes scanned.
    pub bytes_scanned: u64,
    /// Files or blobs skipped because they hold binary data (a NUL byte in the first 8 kB).
    pub skipped_binary: u64,
    /// Files or blobs skipped because they are larger than the size limit.
    pub skipped_too_large: u64,
    /// Files or blobs skipped because they match an `exclude` pattern.
    pub skipped_excluded: u64,
    /// Files that could not be read (permissions, vanished), each also warned about.
    pub unreadable: u64,
    /// Wall time spent.
    pub elapsed: Duration,
}

impl Stats {
    /// Adds another part's counters to these.
    pub fn add(&mut self, o: &Stats) {
        self.files_scanned += o.files_scanned;
        self.blobs_scanned += o.blobs_scanned;
        self.commits_scanned += o.commits_scanned;
        self.bytes_scanned += o.bytes_scanned;
        self.skipped_binary += o.skipped_binary;
        self.skipped_too_large += o.skipped_too_large;
        self.skipped_excluded += o.skipped_excluded;
        self.unreadable += o.unreadable;
        self.elapsed += o.elapsed;
    }

    /// Throughput in MB/s (10^6 bytes) over `elapsed`.
    pub fn mb_per_s(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s <= 0.0 {
            0.0
        } else {
            self.bytes_scanned as f64 / 1e6 / s
        }
    }
}

/// The result of one part of a scan.
#[derive(Clone, Debug, Default)]
pub struct ScanResult {
    /// The findings, before suppression by ignore file and baseline.
    pub findings: Vec<Located>,
    /// The counters.
    pub stats: Stats,
}

/// Limits and filters shared by every part of a scan.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Files and blobs larger than this many bytes are skipped and counted.
    pub max_file_size: u64,
    /// Paths (relative, `/`-separated) matching this set are not scanned.
    pub exclude: globset::GlobSet,
    /// Worker threads.
    pub threads: usize,
    /// stevedore's own files (reports, summary, ignore files, baseline): never scanned.
    pub own: super::suppress::OwnFiles,
    /// A shard's part of the working tree (paths as findings name them): only these files are read;
    /// `None` reads every file.
    pub only: Option<std::sync::Arc<std::collections::HashSet<String>>>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file_size: super::settings::DEFAULT_MAX_FILE_SIZE,
            exclude: globset::GlobSet::empty(),
            threads: default_threads(),
            own: super::suppress::OwnFiles::default(),
            only: None,
        }
    }
}

impl Limits {
    /// True when `path` matches an exclude pattern.
    pub fn excluded(&self, path: &str) -> bool {
        !self.exclude.is_empty() && self.exclude.is_match(path)
    }
}

/// One worker per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
}

/// True when the content of a blob of `size` bytes must not be read: over the limit.
pub fn too_large(size: u64, limits: &Limits) -> bool {
    size > limits.max_file_size
}

/// True when content looks binary: a NUL byte in its first 8000 bytes (git's own heuristic).
pub fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(8000)].contains(&0)
}
