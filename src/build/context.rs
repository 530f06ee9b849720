//! The build context as a tar stream, made on the fly and sent as it is made.
//!
//! A thread walks the context directory in lexical order, skips what `.dockerignore` excludes, and writes
//! tar entries into a bounded channel of 64 KiB chunks: memory stays flat whatever the context's size.
//! Symlinks travel as links (their targets are never read), so nothing outside the context is read. An
//! unreadable file or directory stops the stream with an error naming it. Owners are set to 0:0, as
//! `docker build` sends them.

use super::dockerignore::{MatchInfo, Matcher};
use bytes::Bytes;
use futures_util::Stream;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Size of one chunk sent to the daemon.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight between the walker and the socket: at most `CHUNK * DEPTH` bytes buffered.
const DEPTH: usize = 8;

/// What the walker counted, shared with the caller while the stream runs.
#[derive(Debug, Default)]
pub struct Stats {
    /// Tar bytes produced so far.
    pub bytes: AtomicU64,
    /// Files, links and directories sent.
    pub entries: AtomicU64,
    /// Entries left out by `.dockerignore`.
    pub ignored: AtomicU64,
    /// The first error, naming the file, when the walk failed.
    pub error: Mutex<Option<String>>,
    /// Set when the daemon stopped reading (it answered early, e.g. a Dockerfile error): not a walk error.
    pub receiver_gone: std::sync::atomic::AtomicBool,
}

impl Stats {
    /// The walk's error, if it failed.
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }
}

/// Writes into the channel in fixed-size chunks, blocking when the daemon reads slower than we walk.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
    stats: Arc<Stats>,
}

impl ChannelWriter {
    fn send_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.stats
            .bytes
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        self.tx.blocking_send(Ok(Bytes::from(chunk))).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the daemon stopped reading the context",
            )
        })
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(data.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send_buf()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buf()
    }
}

/// Starts streaming the context at `root` (excluding what `matcher` excludes); returns the byte stream
/// for the request body and the shared counters.
/// `extra` is a file added after the walk as `(name, bytes)`: a Dockerfile from outside the context
/// or stdin, under a generated name, as the docker CLI adds it.
pub fn stream(
    root: PathBuf,
    matcher: Matcher,
    extra: Option<(String, Vec<u8>)>,
) -> (
    impl Stream<Item = io::Result<Bytes>> + Send + 'static,
    Arc<Stats>,
) {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(DEPTH);
    let stats = Arc::new(Stats::default());
    let st = stats.clone();
    std::thread::spawn(move || {
        let err_tx = tx.clone();
        let writer = ChannelWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
            stats: st.clone(),
        };
        if let Err(e) = write_tar(&root, &matcher, extra, writer, &st) {
            if st.receiver_gone.load(Ordering::Relaxed) {
                return;
            }
            let msg = e.to_string();
            if let Ok(mut slot) = st.error.lock()
                && slot.is_none()
            {
                *slot = Some(msg.clone());
            }
            let _ = err_tx.blocking_send(Err(io::Error::other(msg)));
        }
    });
    let s = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    (s, stats)
}

/// Writes the whole context as a tar archive into `w`, then `extra` (see [`stream`]).
pub fn write_tar<W: Write>(
    root: &Path,
    matcher: &Matcher,
    extra: Option<(String, Vec<u8>)>,
    w: W,
    stats: &Stats,
) -> io::Result<()> {
    let mut tar = tar::Builder::new(w);
    tar.mode(tar::HeaderMode::Complete);
    tar.follow_symlinks(false);
    let w = Walk {
        root,
        matcher,
        stats,
        added: extra.as_ref().map(|(n, _)| n.as_str()),
    };
    walk(&w, b"", &MatchInfo::default(), &mut tar)?;
    if let Some((name, bytes)) = extra {
        if !root.join(".dockerignore").is_file() {
            append_dockerignore(&mut tar, None, &name)?;
        }
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o600);
        header.set_size(bytes.len() as u64);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, &name, &bytes[..])?;
        stats.entries.fetch_add(1, Ordering::Relaxed);
    }
    let mut w = tar.into_inner()?;
    w.flush()
}

fn named(path: &Path, what: &str, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!(
            "cannot {what} {}: {e} — fix its permissions or add it to .dockerignore",
            path.display()
        ),
    )
}

/// Where the walk is: the context root, the matcher, and each open directory's match results.
struct Walk<'a> {
    root: &'a Path,
    matcher: &'a Matcher,
    stats: &'a Stats,
    /// The generated name of a Dockerfile added after the walk, which `.dockerignore` gets a line for.
    added: Option<&'a str>,
}

fn rel_path(rel_dir: &[u8], name: &[u8]) -> Vec<u8> {
    if rel_dir.is_empty() {
        name.to_vec()
    } else {
        [rel_dir, b"/", name].concat()
    }
}

/// The sorted names in a directory, as bytes (Go's `WalkDir` order).
fn sorted_names(dir: &Path) -> io::Result<Vec<Vec<u8>>> {
    let mut names: Vec<Vec<u8>> = fs::read_dir(dir)
        .map_err(|e| named(dir, "read directory", e))?
        .map(|e| e.map(|e| e.file_name().into_vec()))
        .collect::<io::Result<_>>()
        .map_err(|e| named(dir, "read directory", e))?;
    names.sort();
    Ok(names)
}

/// What the walk does with one entry, decided the way the docker CLI's archiver decides.
#[derive(Debug, PartialEq)]
pub enum Decision {
    /// Sent (and, for a directory, walked).
    Send,
    /// Excluded, but a directory an exception reaches into: walked, its own entry not sent.
    WalkOnly,
    /// Excluded.
    Skip,
}

/// Decides one entry: `parent` is its directory's match results; returns the entry's own.
pub fn decide(
    matcher: &Matcher,
    rel: &[u8],
    is_dir: bool,
    parent: &MatchInfo,
) -> io::Result<(Decision, MatchInfo)> {
    let (skip, info) = matcher
        .matches_using_parent_results(rel, parent)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e.to_string()))?;
    let d = match (skip, is_dir) {
        (false, _) => Decision::Send,
        (true, false) => Decision::Skip,
        (true, true) if matcher.exclusions() && matcher.must_walk(rel) => Decision::WalkOnly,
        (true, true) => Decision::Skip,
    };
    Ok((d, info))
}

fn walk<W: Write>(
    w: &Walk<'_>,
    rel_dir: &[u8],
    parent: &MatchInfo,
    tar: &mut tar::Builder<W>,
) -> io::Result<()> {
    let dir = w.root.join(OsStr::from_bytes(rel_dir));
    for name in sorted_names(&dir)? {
        let rel = rel_path(rel_dir, &name);
        let path = w.root.join(OsStr::from_bytes(&rel));
        let meta = fs::symlink_metadata(&path).map_err(|e| named(&path, "stat", e))?;
        let ft = meta.file_type();
        let (decision, info) = decide(w.matcher, &rel, ft.is_dir(), parent)?;
        match decision {
            Decision::Skip => {
                w.stats.ignored.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Decision::WalkOnly => {
                walk(w, &rel, &info, tar)?;
                continue;
            }
            Decision::Send => {}
        }
        if ft.is_socket() {
            // The docker CLI skips sockets too.
            w.stats.ignored.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        match w.added {
            Some(name) if rel == b".dockerignore" && ft.is_file() => {
                append_dockerignore(tar, Some(&path), name)?
            }
            _ => append_entry(tar, &path, &rel, &meta)?,
        }
        w.stats.entries.fetch_add(1, Ordering::Relaxed);
        if ft.is_dir() {
            walk(w, &rel, &info, tar)?;
        }
    }
    Ok(())
}

/// `.dockerignore` with a line naming the Dockerfile added under `name` (created, listing itself, when
/// the context has none), as the docker CLI rewrites it: the daemon then removes them from the context.
fn append_dockerignore<W: Write>(
    tar: &mut tar::Builder<W>,
    path: Option<&Path>,
    name: &str,
) -> io::Result<()> {
    let (mut header, mut bytes) = match path {
        Some(p) => {
            let meta = fs::metadata(p).map_err(|e| named(p, "stat", e))?;
            (
                header_for(&meta),
                fs::read(p).map_err(|e| named(p, "read", e))?,
            )
        }
        None => {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o600);
            h.set_entry_type(tar::EntryType::Regular);
            // Created, it lists itself too, so the daemon leaves it out of the context.
            (h, b".dockerignore".to_vec())
        }
    };
    bytes.extend_from_slice(format!("\n{name}\n").as_bytes());
    header.set_size(bytes.len() as u64);
    tar.append_data(&mut header, ".dockerignore", &bytes[..])
}

/// A tar header for `meta`, owned by 0:0 as `docker build` sends it.
fn header_for(meta: &fs::Metadata) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_metadata_in_mode(meta, tar::HeaderMode::Complete);
    header.set_uid(0);
    header.set_gid(0);
    let _ = header.set_username("");
    let _ = header.set_groupname("");
    header
}

/// Appends one entry: a directory, a file, a symlink with its target exactly as written, a FIFO or a
/// device node.
fn append_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    path: &Path,
    rel: &[u8],
    meta: &fs::Metadata,
) -> io::Result<()> {
    let ft = meta.file_type();
    let mut header = header_for(meta);
    let name = Path::new(OsStr::from_bytes(rel));
    if ft.is_dir() {
        header.set_size(0);
        let dir = [rel, b"/"].concat();
        tar.append_data(&mut header, Path::new(OsStr::from_bytes(&dir)), io::empty())
    } else if ft.is_symlink() {
        let target = fs::read_link(path).map_err(|e| named(path, "read link", e))?;
        header.set_size(0);
        append_symlink(tar, &mut header, name, target.as_os_str().as_bytes())
    } else if ft.is_file() {
        let file = fs::File::open(path).map_err(|e| named(path, "read", e))?;
        header.set_size(meta.len());
        // A file that changes size while being sent would corrupt the archive: read exactly its size.
        let mut limited = io::Read::take(file, meta.len());
        let mut counted = ReadExact {
            inner: &mut limited,
            left: meta.len(),
            path,
        };
        tar.append_data(&mut header, name, &mut counted)
    } else {
        // FIFOs and device nodes travel as entries of their type, as the docker CLI sends them.
        header.set_size(0);
        tar.append_data(&mut header, name, io::empty())
    }
}

/// Appends a symlink whose target is written byte for byte (a long target goes in a GNU long-link
/// entry first).
fn append_symlink<W: Write>(
    tar: &mut tar::Builder<W>,
    header: &mut tar::Header,
    name: &Path,
    target: &[u8],
) -> io::Result<()> {
    header.set_entry_type(tar::EntryType::Symlink);
    if target.len() >= 100 {
        let mut long = tar::Header::new_gnu();
        long.set_path("././@LongLink")?;
        long.set_entry_type(tar::EntryType::GNULongLink);
        long.set_mode(0o644);
        long.set_size(target.len() as u64 + 1);
        long.set_cksum();
        let data = [target, b"\0"].concat();
        tar.append(&long, &data[..])?;
        header.set_link_name_literal(&target[..99])?;
    } else {
        header.set_link_name_literal(target)?;
    }
    tar.append_data(header, name, io::empty())
}

/// Checks a context before anything is sent, as the docker CLI does before it sends one: a pattern
/// that fails when evaluated fails the build (docker: "syntax error in pattern"), and a Dockerfile that
/// `.dockerignore` keeps out cannot be located. `dockerfile` is relative to the context.
pub fn check(root: &Path, matcher: &Matcher, dockerfile: &str) -> Result<(), String> {
    if matcher.has_bad_patterns() {
        validate_walk(root, matcher, b"")?;
        let w = Walk {
            root,
            matcher,
            stats: &Stats::default(),
            added: None,
        };
        dry_walk(&w, b"", &MatchInfo::default())?;
    }
    if !is_sent(matcher, dockerfile.as_bytes()).map_err(|e| e.to_string())? {
        return Err(format!(
            "cannot locate the Dockerfile {dockerfile}: .dockerignore keeps it out of the context, as docker build would — add `!{dockerfile}` to .dockerignore or move the Dockerfile"
        ));
    }
    Ok(())
}

/// True when the walk sends `rel` (its parents walked, itself not excluded).
fn is_sent(matcher: &Matcher, rel: &[u8]) -> io::Result<bool> {
    let mut info = MatchInfo::default();
    for (i, _) in rel.iter().enumerate().filter(|(_, b)| **b == b'/') {
        let (d, next) = decide(matcher, &rel[..i], true, &info)?;
        if d == Decision::Skip {
            return Ok(false);
        }
        info = next;
    }
    Ok(decide(matcher, rel, false, &info)?.0 == Decision::Send)
}

/// The docker CLI's `ValidateContextDirectory` walk: every pattern against every path and its
/// parents, excluded directories skipped.
fn validate_walk(root: &Path, matcher: &Matcher, rel_dir: &[u8]) -> Result<(), String> {
    let dir = root.join(OsStr::from_bytes(rel_dir));
    for name in sorted_names(&dir).map_err(|e| e.to_string())? {
        let rel = rel_path(rel_dir, &name);
        let skip = matcher
            .matches_or_parent_matches(&rel)
            .map_err(|e| e.to_string())?;
        let is_dir = fs::symlink_metadata(root.join(OsStr::from_bytes(&rel)))
            .map(|m| m.is_dir())
            .unwrap_or(false);
        if !skip && is_dir {
            validate_walk(root, matcher, &rel)?;
        }
    }
    Ok(())
}

/// The archiver's walk without reading or sending anything, for its pattern errors.
fn dry_walk(w: &Walk<'_>, rel_dir: &[u8], parent: &MatchInfo) -> Result<(), String> {
    let dir = w.root.join(OsStr::from_bytes(rel_dir));
    for name in sorted_names(&dir).map_err(|e| e.to_string())? {
        let rel = rel_path(rel_dir, &name);
        let is_dir = fs::symlink_metadata(w.root.join(OsStr::from_bytes(&rel)))
            .map(|m| m.is_dir())
            .unwrap_or(false);
        let (d, info) = decide(w.matcher, &rel, is_dir, parent).map_err(|e| e.to_string())?;
        if is_dir && d != Decision::Skip {
            dry_walk(w, &rel, &info)?;
        }
    }
    Ok(())
}

/// Reads exactly `left` bytes, failing with the file's name when it shrank or could not be read.
struct ReadExact<'a, R> {
    inner: R,
    left: u64,
    path: &'a Path,
}

impl<R: io::Read> io::Read for ReadExact<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let n = self
            .inner
            .read(buf)
            .map_err(|e| named(self.path, "read", e))?;
        if n == 0 {
            return Err(io::Error::other(format!(
                "{} shrank while it was being sent — do not change the context during a build",
                self.path.display()
            )));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn entries(root: &Path, ignore: &str) -> BTreeMap<String, (tar::EntryType, String)> {
        let m = Matcher::for_context(ignore, "Dockerfile", &[]).unwrap();
        let mut buf = Vec::new();
        write_tar(root, &m, None, &mut buf, &Stats::default()).unwrap();
        let mut a = tar::Archive::new(&buf[..]);
        let mut out = BTreeMap::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let kind = e.header().entry_type();
            assert_eq!(e.header().uid().unwrap(), 0);
            let mut body = String::new();
            if kind.is_symlink() {
                body = e
                    .link_name()
                    .unwrap()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
            } else {
                io::Read::read_to_string(&mut e, &mut body).unwrap();
            }
            out.insert(name, (kind, body));
        }
        out
    }

    #[test]
    fn tar_has_files_dirs_and_links_and_skips_ignored() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        fs::write(r.join("Dockerfile"), "FROM scratch\n").unwrap();
        fs::create_dir_all(r.join("src/deep")).unwrap();
        fs::write(r.join("src/deep/a.txt"), "A").unwrap();
        fs::create_dir_all(r.join("node_modules/x")).unwrap();
        fs::write(r.join("node_modules/x/i.js"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", r.join("link")).unwrap();
        let long = "d".repeat(120);
        fs::create_dir_all(r.join(&long)).unwrap();
        fs::write(r.join(&long).join("f".repeat(120)), "long").unwrap();
        let e = entries(r, "node_modules\n");
        assert_eq!(e["src/deep/a.txt"].1, "A");
        assert!(e.contains_key("src/"));
        assert!(!e.keys().any(|k| k.starts_with("node_modules")));
        let (k, target) = &e["link"];
        assert!(k.is_symlink());
        assert_eq!(
            target, "/etc/passwd",
            "a link travels as a link, its target unread"
        );
        assert_eq!(e[&format!("{long}/{}", "f".repeat(120))].1, "long");
    }

    #[test]
    fn unreadable_file_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("secret.key");
        fs::write(&f, "x").unwrap();
        fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
        if fs::File::open(&f).is_ok() {
            // Privileged (root) reads any mode; the read-error path is covered by the test below.
            return;
        }
        let err = write_tar(
            d.path(),
            &Matcher::default(),
            None,
            Vec::new(),
            &Stats::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("secret.key"), "{err}");
    }

    #[test]
    fn read_errors_and_shrinking_files_name_the_file() {
        struct Failing;
        impl io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::from(io::ErrorKind::PermissionDenied))
            }
        }
        let p = Path::new("ctx/app.db");
        let mut r = ReadExact {
            inner: Failing,
            left: 3,
            path: p,
        };
        let e = io::Read::read(&mut r, &mut [0u8; 8]).unwrap_err();
        assert!(e.to_string().contains("ctx/app.db"), "{e}");
        let mut r = ReadExact {
            inner: io::empty(),
            left: 3,
            path: p,
        };
        let e = io::Read::read(&mut r, &mut [0u8; 8]).unwrap_err();
        assert!(e.to_string().contains("shrank"), "{e}");
    }

    #[test]
    fn unreadable_dir_entry_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let gone = d.path().join("gone");
        let m = Matcher::default();
        let err = write_tar(&gone, &m, None, Vec::new(), &Stats::default()).unwrap_err();
        assert!(err.to_string().contains("gone"), "{err}");
    }
}
