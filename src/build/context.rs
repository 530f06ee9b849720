//! The build context as a tar stream, made on the fly and sent as it is made.
//!
//! A thread walks the context directory in lexical order, skips what `.dockerignore` excludes, and writes
//! tar entries into a bounded channel of 64 KiB chunks: memory stays flat whatever the context's size.
//! Symlinks travel as links (their targets are never read), so nothing outside the context is read. An
//! unreadable file or directory stops the stream with an error naming it. Owners are set to 0:0, as
//! `docker build` sends them.

use super::dockerignore::Matcher;
use bytes::Bytes;
use futures_util::Stream;
use std::fs;
use std::io::{self, Write};
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
pub fn stream(
    root: PathBuf,
    matcher: Matcher,
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
        if let Err(e) = write_tar(&root, &matcher, writer, &st) {
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

/// Writes the whole context as a tar archive into `w`.
pub fn write_tar<W: Write>(root: &Path, matcher: &Matcher, w: W, stats: &Stats) -> io::Result<()> {
    let mut tar = tar::Builder::new(w);
    tar.mode(tar::HeaderMode::Complete);
    tar.follow_symlinks(false);
    walk(root, "", matcher, &mut tar, stats)?;
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

fn walk<W: Write>(
    root: &Path,
    rel_dir: &str,
    matcher: &Matcher,
    tar: &mut tar::Builder<W>,
    stats: &Stats,
) -> io::Result<()> {
    let dir = if rel_dir.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel_dir)
    };
    let mut names: Vec<std::ffi::OsString> = fs::read_dir(&dir)
        .map_err(|e| named(&dir, "read directory", e))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .map_err(|e| named(&dir, "read directory", e))?;
    names.sort();
    for name in names {
        let Some(name) = name.to_str().map(str::to_string) else {
            return Err(io::Error::other(format!(
                "{}: a file name that is not UTF-8 cannot be matched against .dockerignore — rename it or ignore its directory",
                dir.join(&name).display()
            )));
        };
        let rel = if rel_dir.is_empty() {
            name.clone()
        } else {
            format!("{rel_dir}/{name}")
        };
        let path = root.join(&rel);
        let meta = fs::symlink_metadata(&path).map_err(|e| named(&path, "stat", e))?;
        let ft = meta.file_type();
        if matcher.excludes(&rel) {
            if ft.is_dir() && matcher.must_walk(&rel) {
                walk(root, &rel, matcher, tar, stats)?;
            } else {
                stats.ignored.fetch_add(1, Ordering::Relaxed);
            }
            continue;
        }
        let mut header = tar::Header::new_gnu();
        header.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        header.set_uid(0);
        header.set_gid(0);
        let _ = header.set_username("");
        let _ = header.set_groupname("");
        if ft.is_dir() {
            header.set_size(0);
            tar.append_data(&mut header, format!("{rel}/"), io::empty())?;
            stats.entries.fetch_add(1, Ordering::Relaxed);
            walk(root, &rel, matcher, tar, stats)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).map_err(|e| named(&path, "read link", e))?;
            header.set_size(0);
            tar.append_link(&mut header, &rel, &target)?;
            stats.entries.fetch_add(1, Ordering::Relaxed);
        } else if ft.is_file() {
            let file = fs::File::open(&path).map_err(|e| named(&path, "read", e))?;
            header.set_size(meta.len());
            // A file that changes size while being sent would corrupt the archive: read exactly its size.
            let mut limited = io::Read::take(file, meta.len());
            let mut counted = ReadExact {
                inner: &mut limited,
                left: meta.len(),
                path: &path,
            };
            tar.append_data(&mut header, &rel, &mut counted)?;
            stats.entries.fetch_add(1, Ordering::Relaxed);
        } else {
            // Sockets, FIFOs and devices have no place in an image build context.
            stats.ignored.fetch_add(1, Ordering::Relaxed);
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
        let m = Matcher::for_context(ignore, "Dockerfile").unwrap();
        let mut buf = Vec::new();
        write_tar(root, &m, &mut buf, &Stats::default()).unwrap();
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
        let err =
            write_tar(d.path(), &Matcher::default(), Vec::new(), &Stats::default()).unwrap_err();
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
        let err = write_tar(&gone, &m, Vec::new(), &Stats::default()).unwrap_err();
        assert!(err.to_string().contains("gone"), "{err}");
    }
}
