//! The build context through the session's FileSync service (`DiffCopy`), as `docker buildx` sends it
//! — instead of a tar upload, which the daemon's BuildKit unpacks with its own rules (it keeps a
//! `.dockerignore`/Dockerfile the `.dockerignore` lists and drops named pipes).
//!
//! The daemon asks for a directory by name (`dir-name` metadata: `context`, or `dockerfile` for the
//! directory holding the Dockerfile), optionally only some paths (`followpaths`: the `.dockerignore`,
//! the Dockerfile). We answer with fsutil's packets: one `STAT` per entry, in the order a depth-first
//! walk with byte-sorted names gives (each directory before its entries, every parent sent), an empty
//! `STAT` to end the list; for each `REQ` the daemon sends (the entry's index), the file's bytes as
//! `DATA` packets and an empty `DATA`; its `FIN` is answered with `FIN`. What the context holds is
//! decided by our own matcher ([`super::super::dockerignore`], Moby's semantics), not by the patterns
//! the daemon passes along. Owners are sent as 0:0, as the docker CLI does; modes use Go's
//! `os.FileMode` bits, which fsutil expects.
//!
//! The messages are declared here with `bytes` paths (the wire format of protobuf `string` and `bytes`
//! is the same): file names that are not UTF-8 travel as they are.

use super::super::context::{Decision, Stats, decide};
use super::super::dockerignore::{MatchInfo, Matcher};
use std::ffi::OsStr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tonic::codegen::{BoxFuture, Service, StdError, http};
use tonic::{Request, Response, Status, Streaming};

/// fsutil's `Stat`, with bytes for names.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Stat {
    /// The path relative to the directory, `/`-separated.
    #[prost(bytes = "vec", tag = "1")]
    pub path: Vec<u8>,
    /// Go's `os.FileMode`: permission bits and type bits.
    #[prost(uint32, tag = "2")]
    pub mode: u32,
    /// Owner.
    #[prost(uint32, tag = "3")]
    pub uid: u32,
    /// Group.
    #[prost(uint32, tag = "4")]
    pub gid: u32,
    /// Size of a regular file.
    #[prost(int64, tag = "5")]
    pub size: i64,
    /// Modification time, nanoseconds since the epoch.
    #[prost(int64, tag = "6")]
    pub mod_time: i64,
    /// A symlink's target, as written.
    #[prost(bytes = "vec", tag = "7")]
    pub linkname: Vec<u8>,
    /// A device's major number.
    #[prost(int64, tag = "8")]
    pub devmajor: i64,
    /// A device's minor number.
    #[prost(int64, tag = "9")]
    pub devminor: i64,
}

/// fsutil's `Packet`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Packet {
    /// STAT 0, REQ 1, DATA 2, FIN 3, ERR 4.
    #[prost(int32, tag = "1")]
    pub kind: i32,
    /// The entry, in a STAT.
    #[prost(message, optional, tag = "2")]
    pub stat: Option<Stat>,
    /// The entry's index, in REQ and DATA.
    #[prost(uint32, tag = "3")]
    pub id: u32,
    /// File bytes (DATA) or an error message (ERR).
    #[prost(bytes = "vec", tag = "4")]
    pub data: Vec<u8>,
}

const STAT: i32 = 0;
const REQ: i32 = 1;
const DATA: i32 = 2;
const FIN: i32 = 3;
const ERR: i32 = 4;

/// Bytes per DATA packet.
const CHUNK: usize = 32 * 1024;

/// The directories a build may ask for.
pub struct Dirs {
    /// The context directory (`context`).
    pub context: PathBuf,
    /// What the context sends (no forced entries: a listed Dockerfile or `.dockerignore` stays out).
    pub matcher: Matcher,
    /// The directory holding the Dockerfile (`dockerfile`).
    pub dockerfile_dir: PathBuf,
    /// Counters for the outcome (the context only).
    pub stats: Arc<Stats>,
}

/// One entry to send: its stat and, for a regular file, where to read it.
struct Entry {
    stat: Stat,
    source: Option<PathBuf>,
}

/// Go's `os.FileMode` for a unix `st_mode`.
fn go_mode(m: u32) -> u32 {
    let mut mode = m & 0o777;
    for (unix, go) in [(0o4000, 1 << 23), (0o2000, 1 << 22), (0o1000, 1 << 20)] {
        if m & unix != 0 {
            mode |= go;
        }
    }
    mode | match m & 0o170000 {
        0o040000 => 1 << 31,
        0o120000 => 1 << 27,
        0o010000 => 1 << 25,
        0o140000 => 1 << 24,
        0o060000 => 1 << 26,
        0o020000 => (1 << 26) | (1 << 21),
        _ => 0,
    }
}

fn io_named(path: &Path, what: &str, e: std::io::Error) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()))
}

/// The entry for `path` (named `rel`), its metadata `meta`.
fn entry(path: &Path, rel: &[u8], meta: &std::fs::Metadata) -> std::io::Result<Entry> {
    let ft = meta.file_type();
    let linkname = if ft.is_symlink() {
        std::fs::read_link(path)
            .map_err(|e| io_named(path, "read link", e))?
            .into_os_string()
            .into_vec()
    } else {
        Vec::new()
    };
    let device = ft.is_block_device() || ft.is_char_device();
    let rdev = meta.rdev();
    let stat = Stat {
        path: rel.to_vec(),
        mode: go_mode(meta.mode()),
        uid: 0,
        gid: 0,
        size: if ft.is_file() { meta.len() as i64 } else { 0 },
        mod_time: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
        linkname,
        devmajor: if device { libc::major(rdev) as i64 } else { 0 },
        devminor: if device { libc::minor(rdev) as i64 } else { 0 },
    };
    Ok(Entry {
        stat,
        source: ft.is_file().then(|| path.to_path_buf()),
    })
}

fn rel_path(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        name.to_vec()
    } else {
        [dir, b"/", name].concat()
    }
}

/// Walks the context as the docker CLI's archiver decides (see [`decide`]); a directory walked only
/// for an exception is sent just before the first entry under it (the daemon checks that every
/// parent came first).
struct Walk<'a> {
    root: &'a Path,
    matcher: &'a Matcher,
    stats: &'a Stats,
    out: Vec<Entry>,
    pending: Vec<Entry>,
    /// `followpaths`: only these paths and what lies under them are sent (with their parents), as
    /// fsutil includes them; `None` sends the whole context.
    follow: Option<Vec<Vec<u8>>>,
}

impl Walk<'_> {
    /// Whether `rel` is a followed path or under one, and whether it is a parent of one.
    fn followed(&self, rel: &[u8]) -> (bool, bool) {
        let Some(follow) = &self.follow else {
            return (true, false);
        };
        let inside = |outer: &[u8], inner: &[u8]| {
            inner.len() > outer.len() && inner.starts_with(outer) && inner[outer.len()] == b'/'
        };
        let under = follow.iter().any(|f| f == rel || inside(f, rel));
        let above = follow.iter().any(|f| inside(rel, f));
        (under, above)
    }

    fn push(&mut self, e: Entry) {
        self.out.append(&mut self.pending);
        self.stats.entries.fetch_add(1, Ordering::Relaxed);
        self.out.push(e);
    }

    fn dir(&mut self, rel_dir: &[u8], parent: &MatchInfo) -> std::io::Result<()> {
        let dir = self.root.join(OsStr::from_bytes(rel_dir));
        let mut names: Vec<Vec<u8>> = std::fs::read_dir(&dir)
            .map_err(|e| io_named(&dir, "read directory", e))?
            .map(|e| e.map(|e| e.file_name().into_vec()))
            .collect::<std::io::Result<_>>()
            .map_err(|e| io_named(&dir, "read directory", e))?;
        names.sort();
        for name in names {
            let rel = rel_path(rel_dir, &name);
            let (under, above) = self.followed(&rel);
            if !under && !above {
                continue;
            }
            let path = self.root.join(OsStr::from_bytes(&rel));
            let meta = std::fs::symlink_metadata(&path).map_err(|e| io_named(&path, "stat", e))?;
            let ft = meta.file_type();
            if !under && !ft.is_dir() {
                continue;
            }
            let (mut decision, info) = decide(self.matcher, &rel, ft.is_dir(), parent)?;
            if !under && matches!(decision, Decision::Send) {
                // Only a parent of a followed path: sent before the first entry under it.
                decision = Decision::WalkOnly;
            }
            match decision {
                Decision::Skip => {
                    self.stats.ignored.fetch_add(1, Ordering::Relaxed);
                }
                Decision::WalkOnly => {
                    let depth = self.pending.len();
                    self.pending.push(entry(&path, &rel, &meta)?);
                    self.dir(&rel, &info)?;
                    self.pending.truncate(depth);
                }
                Decision::Send if ft.is_socket() => {
                    // The docker CLI skips sockets too.
                    self.stats.ignored.fetch_add(1, Ordering::Relaxed);
                }
                Decision::Send => {
                    self.push(entry(&path, &rel, &meta)?);
                    if ft.is_dir() {
                        self.dir(&rel, &info)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The named paths only (`followpaths`), each with its parent directories, in walk order; a symlink
/// is followed (the file it names is sent under the asked name), a missing path is left out.
fn followed(root: &Path, paths: &[Vec<u8>]) -> std::io::Result<Vec<Entry>> {
    let mut wanted: std::collections::BTreeMap<Vec<u8>, bool> = Default::default();
    for p in paths {
        let p = super::super::dockerignore::clean(p);
        if p.is_empty() || p == b"." || p.starts_with(b"../") {
            continue;
        }
        for (i, b) in p.iter().enumerate() {
            if *b == b'/' {
                wanted.entry(p[..i].to_vec()).or_insert(false);
            }
        }
        wanted.insert(p.clone(), true);
    }
    let mut out = Vec::new();
    // Byte order of whole paths is not walk order ("a/b" vs "a.b"): sort by components.
    let mut keys: Vec<(Vec<u8>, bool)> = wanted.into_iter().collect();
    keys.sort_by(|a, b| a.0.split(|c| *c == b'/').cmp(b.0.split(|c| *c == b'/')));
    for (rel, leaf) in keys {
        let path = root.join(OsStr::from_bytes(&rel));
        let meta = if leaf {
            std::fs::metadata(&path)
        } else {
            std::fs::symlink_metadata(&path)
        };
        match meta {
            Ok(m) if leaf || m.is_dir() => out.push(entry(&path, &rel, &m)?),
            _ => continue,
        }
    }
    // A parent whose leaf is missing is harmless; the daemon only reads what it asked for.
    Ok(out)
}

/// The context's `followpaths` (what the Dockerfile's `COPY`/`ADD` sources and `RUN --mount`s name)
/// as paths relative to the context, each symlink on the way resolved as fsutil does (the target is
/// followed too); `None` when one of them is the whole context.
fn follow_set(root: &Path, paths: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if paths.is_empty() {
        return None;
    }
    let real_root = std::fs::canonicalize(root).ok();
    let mut out = Vec::new();
    for p in paths {
        let c = super::super::dockerignore::clean(p);
        let rel = c.strip_prefix(b"/").unwrap_or(&c).to_vec();
        if rel.is_empty() || rel == b"." {
            return None;
        }
        if rel.starts_with(b"../") {
            continue;
        }
        let resolved = real_root.as_ref().and_then(|r| {
            let real = std::fs::canonicalize(root.join(OsStr::from_bytes(&rel))).ok()?;
            Some(real.strip_prefix(r).ok()?.as_os_str().as_bytes().to_vec())
        });
        match resolved {
            Some(t) if t.is_empty() => return None,
            Some(t) if t != rel => out.push(t),
            _ => {}
        }
        out.push(rel);
    }
    Some(out)
}

/// What a request asks for: the entries, in order.
fn list(dirs: &Dirs, name: &str, follow: &[Vec<u8>]) -> std::io::Result<Vec<Entry>> {
    match name {
        "context" => {
            let mut w = Walk {
                root: &dirs.context,
                matcher: &dirs.matcher,
                stats: &dirs.stats,
                out: Vec::new(),
                pending: Vec::new(),
                follow: follow_set(&dirs.context, follow),
            };
            w.dir(b"", &MatchInfo::default())?;
            Ok(w.out)
        }
        "dockerfile" => followed(&dirs.dockerfile_dir, follow),
        other => Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no directory {other:?} in this session"),
        )),
    }
}

type Sender = tokio::sync::mpsc::Sender<Result<Packet, Status>>;

/// Sends one requested file as DATA packets and an empty DATA.
async fn send_file(tx: &Sender, id: u32, path: &Path, stats: Option<&Stats>) -> Result<(), String> {
    use tokio::io::AsyncReadExt;
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    loop {
        let mut buf = vec![0u8; CHUNK];
        let n = f
            .read(&mut buf)
            .await
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        buf.truncate(n);
        if let Some(s) = stats {
            s.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
        let p = Packet {
            kind: DATA,
            stat: None,
            id,
            data: buf,
        };
        if tx.send(Ok(p)).await.is_err() || n == 0 {
            return Ok(());
        }
    }
}

/// One DiffCopy: the STATs, then the files the daemon requests, until its FIN.
async fn diff_copy(
    dirs: Arc<Dirs>,
    req: Request<Streaming<Packet>>,
) -> Result<Response<super::Streamed<Packet>>, Status> {
    let md = req.metadata();
    let name = md
        .get("dir-name")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("context")
        .to_string();
    let follow: Vec<Vec<u8>> = md
        .get_all("followpaths")
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect();
    let d = dirs.clone();
    let (n, f) = (name.clone(), follow.clone());
    let entries = tokio::task::spawn_blocking(move || list(&d, &n, &f))
        .await
        .map_err(|e| Status::internal(e.to_string()))?
        .map_err(|e| {
            record(&dirs, &e.to_string());
            Status::internal(e.to_string())
        })?;
    let files: Vec<Option<PathBuf>> = entries.iter().map(|e| e.source.clone()).collect();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Packet, Status>>(32);
    let stats_tx = tx.clone();
    tokio::spawn(async move {
        for e in entries {
            let p = Packet {
                kind: STAT,
                stat: Some(e.stat),
                id: 0,
                data: Vec::new(),
            };
            if stats_tx.send(Ok(p)).await.is_err() {
                return;
            }
        }
        let _ = stats_tx
            .send(Ok(Packet {
                kind: STAT,
                ..Default::default()
            }))
            .await;
    });
    let mut requests = read_promptly(req.into_inner());
    let counted = (name == "context").then(|| dirs.stats.clone());
    tokio::spawn(async move {
        while let Some(p) = requests.recv().await {
            match p.kind {
                REQ => {
                    let Some(Some(path)) = files.get(p.id as usize) else {
                        let _ = tx
                            .send(Err(Status::invalid_argument(format!("no file {}", p.id))))
                            .await;
                        return;
                    };
                    if let Err(e) = send_file(&tx, p.id, path, counted.as_deref()).await {
                        record(&dirs, &e);
                        let _ = tx.send(Err(Status::internal(e))).await;
                        return;
                    }
                }
                FIN => {
                    let _ = tx
                        .send(Ok(Packet {
                            kind: FIN,
                            ..Default::default()
                        }))
                        .await;
                    return;
                }
                _ => return,
            }
        }
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|p| (p, rx)) });
    Ok(Response::new(Box::pin(stream)))
}

/// The daemon's REQ/FIN/ERR packets, read as they arrive and queued: the daemon asks for many files
/// ahead (one small HTTP/2 DATA frame each), and frames left unread while a file is being sent count
/// against h2's budget for small frames — past it the connection is dropped ("too_many_data_frames",
/// and the build fails with "context canceled"). A REQ is a few bytes; the queue holds at most one per
/// file.
fn read_promptly(mut incoming: Streaming<Packet>) -> tokio::sync::mpsc::UnboundedReceiver<Packet> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(p)) = incoming.message().await {
            let last = p.kind != REQ;
            if !matches!(p.kind, REQ | FIN | ERR) {
                continue;
            }
            if tx.send(p).is_err() || last {
                return;
            }
        }
    });
    rx
}

/// Keeps the first error for the build's message ("cannot send the build context: …").
fn record(dirs: &Dirs, msg: &str) {
    if let Ok(mut slot) = dirs.stats.error.lock()
        && slot.is_none()
    {
        *slot = Some(msg.to_string());
    }
}

/// The FileSync service (`DiffCopy` only), with our message types.
#[derive(Clone)]
pub struct FileSync(pub Arc<Dirs>);

impl tonic::server::NamedService for FileSync {
    const NAME: &'static str = "moby.filesync.v1.FileSync";
}

struct DiffCopy(Arc<Dirs>);

impl tonic::server::StreamingService<Packet> for DiffCopy {
    type Response = Packet;
    type ResponseStream = super::Streamed<Packet>;
    type Future = BoxFuture<Response<Self::ResponseStream>, Status>;
    fn call(&mut self, request: Request<Streaming<Packet>>) -> Self::Future {
        Box::pin(diff_copy(self.0.clone(), request))
    }
}

impl<B> Service<http::Request<B>> for FileSync
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let dirs = self.0.clone();
        Box::pin(async move {
            if req.uri().path() != "/moby.filesync.v1.FileSync/DiffCopy" {
                let status = Status::unimplemented(req.uri().path().to_string());
                return Ok(status.into_http());
            }
            let codec = tonic_prost::ProstCodec::<Packet, Packet>::default();
            let mut grpc = tonic::server::Grpc::new(codec);
            Ok(grpc.streaming(DiffCopy(dirs), req).await)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modes() {
        assert_eq!(go_mode(0o100644), 0o644);
        assert_eq!(go_mode(0o040755), (1 << 31) | 0o755);
        assert_eq!(go_mode(0o120777), (1 << 27) | 0o777);
        assert_eq!(go_mode(0o010644), (1 << 25) | 0o644);
        assert_eq!(go_mode(0o104755), (1 << 23) | 0o755);
        assert_eq!(go_mode(0o020666), (1 << 26) | (1 << 21) | 0o666);
    }

    #[test]
    fn walk_order_sends_parents_of_exceptions_first() {
        let d = tempfile::tempdir().unwrap();
        for f in ["a.b", "a/b", "a/c/keep", "a/c/drop", "z"] {
            let p = d.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, f).unwrap();
        }
        let m =
            Matcher::new(&[(Some(1), b"a".to_vec()), (Some(2), b"!a/c/keep".to_vec())]).unwrap();
        let dirs = Dirs {
            context: d.path().into(),
            matcher: m,
            dockerfile_dir: d.path().into(),
            stats: Arc::default(),
        };
        let names = |v: Vec<Entry>| -> Vec<String> {
            v.iter()
                .map(|e| String::from_utf8_lossy(&e.stat.path).into_owned())
                .collect()
        };
        assert_eq!(
            names(list(&dirs, "context", &[]).unwrap()),
            ["a", "a/c", "a/c/keep", "a.b", "z"]
        );
        let follow = vec![b"a/c/keep".to_vec(), b"/a.b".to_vec(), b"missing".to_vec()];
        assert_eq!(
            names(list(&dirs, "context", &follow).unwrap()),
            ["a", "a/c", "a/c/keep", "a.b"]
        );
        // A followed directory sends what lies under it, less what .dockerignore leaves out (a
        // `COPY src/` or a `RUN --mount` of a directory).
        assert_eq!(
            names(list(&dirs, "context", &[b"/a".to_vec()]).unwrap()),
            ["a", "a/c", "a/c/keep"]
        );
        assert_eq!(
            names(list(&dirs, "context", &[b"/".to_vec()]).unwrap()),
            ["a", "a/c", "a/c/keep", "a.b", "z"]
        );
    }
}
