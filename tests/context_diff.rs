//! The build context, held against `docker build` itself: for each generated context (random trees
//! with dotfiles, spaces, unicode, glob metacharacters and non-UTF-8 bytes in names, symlinks in and
//! out of the tree, FIFOs; random `.dockerignore` files mixing every construct; Moby's own
//! patternmatcher cases and the edge cases of issue 21), the image `DOCKER_BUILDKIT=0 docker build`
//! makes from `FROM scratch` + `COPY . /ctx/` is compared with the images stevedore's classic and
//! BuildKit builders make: names, types, contents and link targets, read back with `docker save`.
//! When docker refuses a context (a malformed pattern), stevedore must refuse it too.
//!
//! Seeds are fixed, so a failure names a case that reproduces. `STEVEDORE_DIFF_CASES` raises the
//! number of random cases (default 130, plus the fixed ones).

mod common;

use common::*;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What an image holds under /ctx: path → (type, contents or link target).
type Tree = BTreeMap<Vec<u8>, (u8, Vec<u8>)>;

/// One context to build: entries and the `.dockerignore` bytes.
#[derive(Clone, Debug)]
struct Case {
    name: String,
    files: Vec<(Vec<u8>, Vec<u8>)>,
    links: Vec<(Vec<u8>, Vec<u8>)>,
    fifos: Vec<Vec<u8>>,
    ignore: Option<Vec<u8>>,
}

/// The Dockerfile of case `i`: the `ENV` keeps cases with equal contexts from sharing (and removing)
/// each other's layers while they run in parallel.
fn dockerfile(i: usize) -> String {
    format!("FROM scratch\nENV CASE={i}\nCOPY . /ctx/\n")
}

/// Name pieces: dotfiles, spaces, unicode, glob and regexp metacharacters, non-UTF-8 bytes.
const NAMES: &[&[u8]] = &[
    b"a",
    b"b",
    b"abc",
    b"d",
    b"x",
    b"logs",
    b"node_modules",
    b"src",
    b".env",
    b".hidden",
    b"a.log",
    b"key.pem",
    b"with space",
    "\u{fc}n\u{ef}code".as_bytes(),
    "caf\u{e9}".as_bytes(),
    b"caf\xe9-latin1",
    b"\xff\xfebytes",
    b"q?.txt",
    b"br[ack]et.txt",
    b"star*.txt",
    b"a.b",
    b"!bang",
    b"#hash",
    b"x7y",
    b"back\\slash",
    b"-dash",
    b"amp&&b",
    b"caret^",
    b"dollar$",
    b"{brace}",
    b"(paren)",
    b"plus+",
    b"tilde~",
    b"sp ace ",
];

const LINK_TARGETS: &[&[u8]] = &[
    b"/",
    b"//",
    b"a//b",
    b"/etc/./x",
    b"../outside",
    b"a",
    b"./a",
    b"/abs/path",
    b"d/x",
    b"dangling",
];

/// Pattern pieces mixing every construct docker knows.
const PIECES: &[&str] = &[
    "*",
    "?",
    "**",
    "**/",
    "[a-c]",
    "[^a]",
    "[ab]",
    "\\?",
    "\\*",
    "\\[",
    "\\d",
    "\\w",
    "\\.",
    ".",
    "/",
    "a",
    "b",
    "d",
    "x",
    "logs",
    "*.log",
    "src",
    ".env",
    ".*",
    "caf",
    "[[:alpha:]]",
    "[a&&b]",
    "\\!",
    "\\#",
];

fn rng_name(r: &mut fastrand::Rng) -> Vec<u8> {
    NAMES[r.usize(..NAMES.len())].to_vec()
}

/// A random tree: up to three levels, some files, symlinks and FIFOs.
fn random_tree(r: &mut fastrand::Rng, case: &mut Case) {
    let mut dirs: Vec<Vec<u8>> = vec![Vec::new()];
    for _ in 0..r.usize(3..12) {
        let parent = dirs[r.usize(..dirs.len())].clone();
        let mut path = parent.clone();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend(rng_name(r));
        match r.u8(..10) {
            0..=2 if parent.len() < 40 => dirs.push(path),
            3 => {
                let t = LINK_TARGETS[r.usize(..LINK_TARGETS.len())].to_vec();
                case.links.push((path, t));
            }
            4 if r.bool() => case.fifos.push(path),
            _ => {
                let body = format!("{} {}", case.name, r.u32(..)).into_bytes();
                case.files.push((path, body));
            }
        }
    }
    // Make every directory real by giving it a file.
    for d in dirs.into_iter().filter(|d| !d.is_empty()) {
        let mut f = d.clone();
        f.extend(b"/f");
        case.files.push((f, d));
    }
}

/// A random pattern line.
fn random_line(r: &mut fastrand::Rng, case: &Case) -> Vec<u8> {
    let mut line = Vec::new();
    match r.u8(..12) {
        0 => line.extend(b"!"),
        1 => line.extend(b"# "),
        2 => line.extend(b"/"),
        3 => line.extend(b" ! "),
        4 => line.extend(b"./"),
        _ => {}
    }
    let known: Vec<&Vec<u8>> = case.files.iter().map(|(p, _)| p).collect();
    for _ in 0..r.usize(1..4) {
        if r.bool() && !known.is_empty() {
            let p = known[r.usize(..known.len())];
            let cut = r.usize(1..=p.len());
            line.extend(&p[..cut]);
        } else {
            line.extend(PIECES[r.usize(..PIECES.len())].as_bytes());
        }
    }
    match r.u8(..10) {
        0 => line.extend(b"/"),
        1 => line.extend(b"  "),
        2 => line.extend(b"/**"),
        _ => {}
    }
    line
}

fn random_case(seed: u64) -> Case {
    let mut r = fastrand::Rng::with_seed(seed);
    let mut case = Case {
        name: format!("random-{seed}"),
        files: Vec::new(),
        links: Vec::new(),
        fifos: Vec::new(),
        ignore: None,
    };
    random_tree(&mut r, &mut case);
    let mut ignore = Vec::new();
    if r.u8(..6) == 0 {
        ignore.extend("\u{feff}".as_bytes());
    }
    for _ in 0..r.usize(1..7) {
        ignore.extend(random_line(&mut r, &case));
        ignore.extend(if r.u8(..5) == 0 { &b"\r\n"[..] } else { b"\n" });
    }
    match r.u8(..8) {
        0 => ignore.extend(b"Dockerfile\n"),
        1 => ignore.extend(b".dockerignore\n"),
        _ => {}
    }
    case.ignore = Some(ignore);
    case
}

/// A fixed case: `paths` as files, `ignore` as the `.dockerignore`.
fn fixed(name: &str, ignore: &[u8], paths: &[&str]) -> Case {
    Case {
        name: name.into(),
        files: paths
            .iter()
            .map(|p| (p.as_bytes().to_vec(), p.as_bytes().to_vec()))
            .collect(),
        links: Vec::new(),
        fifos: Vec::new(),
        ignore: Some(ignore.to_vec()),
    }
}

/// Moby's patternmatcher cases (each pattern against its path and some neighbours) and the edge
/// cases issue 21 lists.
fn fixed_cases() -> Vec<Case> {
    let pm: &[(&str, &str)] = &[
        ("**", "file"),
        ("**/", "dir/file"),
        ("**/**", "dir/file"),
        ("dir/**", "dir/dir2/file"),
        ("**/dir", "dir/file"),
        ("**/dir2/*", "dir/dir2/file"),
        ("**/dir2/**", "dir/dir2/dir3/file"),
        ("**file", "dir/dir/file"),
        ("**/file*txt", "dir/dir/file.txt"),
        ("**/**/*.txt2", "dir/dir/file.txt"),
        ("a**/*.txt", "a/dir/dir/file.txt"),
        ("a/*.txt", "a/dir/file.txt"),
        ("a/*.txt**", "a/file.txt"),
        ("a[b-d]e", "ace"),
        ("a[^b-d]e", "aze"),
        (".*", ".foo"),
        ("abc.def", "abcZdef"),
        ("abc?def", "abcZdef"),
        ("abc/**", "abc/def/ghi"),
        ("**/.foo", "bar.foo"),
        ("a(b)c/def", "a(b)c/def"),
        ("a.|)$(}+{bc", "a.|)$(}+{bc"),
        ("a\\\\", "a\\"),
        ("a\\*b", "a*b"),
        ("a?b", "a\u{263a}b"),
        ("a???b", "a\u{263a}b"),
        ("[a-\u{3b6}]*", "\u{3b1}"),
        ("[\\]a]", "]"),
        ("[x\\-]", "-"),
        ("*x", "xxx"),
    ];
    let mut out: Vec<Case> = pm
        .iter()
        .enumerate()
        .map(|(i, (p, path))| {
            fixed(
                &format!("patternmatcher-{i}"),
                format!("{p}\n").as_bytes(),
                &[path, "keep", "dir/other"],
            )
        })
        .collect();
    let edge: &[(&str, &[u8], &[&str])] = &[
        ("parent-d/x-!d", b"d/x\n!d\n", &["d/x", "d/y"]),
        ("parent-log-!logs", b"**/*.log\n!logs\n", &["logs/a.log", "logs/b", "c.log"]),
        ("parent-d-!d/x-d", b"d\n!d/x\nd\n", &["d/x", "d/y"]),
        (
            "escapes",
            b"q\\?.txt\nbr\\[ack\\]et.txt\nstar\\*.txt\na\\*b\na\\.b\n\\!bang\n\\#hash\nx\\dy\n\\w\\s\n",
            &["q?.txt", "qa.txt", "br[ack]et.txt", "star*.txt", "a*b", "a.b", "axb", "!bang", "#hash", "x7y", "xdy", "k "],
        ),
        ("classes", b"[a&&b]\n[a[b]]\n[a--b]\n", &["&", "b", "[]", "a]", "-", "ab"]),
        ("malformed-1", b"[]a]\n", &["a"]),
        ("malformed-2", b"[-]\n", &["a"]),
        ("malformed-3", b"[x-]\n", &["a"]),
        ("malformed-4", b"[-x]\n", &["a"]),
        ("malformed-5", b"[a-b-c]\n", &["a"]),
        ("malformed-6", b"\\caret^\n", &["a"]),
        ("lists-both", b"Dockerfile\n.dockerignore\n", &["a"]),
        ("lists-all", b"*\n", &["a", "b/c"]),
        ("bom-twice", b"\xef\xbb\xbf\xef\xbb\xbfa\nb\n", &["a", "b", "\u{feff}a"]),
        ("bom-comment", b"\xef\xbb\xbf#a\nb\n", &["#a", "b"]),
        ("bytes", b"caf\xe9*\n\xff*\n", &["caf\u{e9}", "x"]),
        ("comment-col1", b"#a\n #b\n", &["#a", " #b", "#b"]),
    ];
    out.extend(edge.iter().map(|(n, i, p)| fixed(n, i, p)));
    let mut links = fixed("links", b"x\n", &["a", "d/x"]);
    for t in LINK_TARGETS {
        let name = format!("l-{}", links.links.len()).into_bytes();
        links.links.push((name, t.to_vec()));
    }
    links.links.push((b"long".to_vec(), vec![b'y'; 150]));
    links.fifos.push(b"pipe".to_vec());
    out.push(links);
    out
}

fn write_case(dir: &Path, i: usize, case: &Case) {
    let p = |b: &[u8]| dir.join(OsStr::from_bytes(b));
    std::fs::write(dir.join("Dockerfile"), dockerfile(i)).unwrap();
    if let Some(i) = &case.ignore {
        std::fs::write(dir.join(".dockerignore"), i).unwrap();
    }
    for (path, body) in &case.files {
        let f = p(path);
        if std::fs::create_dir_all(f.parent().unwrap()).is_ok() && !f.exists() && !f.is_symlink() {
            let _ = std::fs::write(&f, body);
        }
    }
    for (path, target) in &case.links {
        let f = p(path);
        if std::fs::create_dir_all(f.parent().unwrap()).is_ok() && !f.exists() && !f.is_symlink() {
            let _ = std::os::unix::fs::symlink(OsStr::from_bytes(target), &f);
        }
    }
    for path in &case.fifos {
        let f = p(path);
        if std::fs::create_dir_all(f.parent().unwrap()).is_ok() && !f.exists() && !f.is_symlink() {
            let c = std::ffi::CString::new(f.as_os_str().as_bytes()).unwrap();
            // SAFETY: a valid NUL-terminated path.
            unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
        }
    }
}

/// Reads `/ctx` of an image back from `docker save`.
fn image_tree(image: &str) -> Tree {
    let out = Command::new("docker")
        .args(["save", image])
        .output()
        .unwrap();
    assert!(out.status.success(), "docker save {image}");
    let mut layers: Vec<Vec<u8>> = Vec::new();
    let mut archive = tar::Archive::new(&out.stdout[..]);
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        if name.ends_with("layer.tar") || name.starts_with("blobs/") {
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut body).unwrap();
            layers.push(body);
        }
    }
    let mut tree = Tree::new();
    for layer in layers {
        let mut a = tar::Archive::new(&layer[..]);
        let Ok(entries) = a.entries() else { continue };
        for e in entries {
            let Ok(mut e) = e else { break };
            let name = e.path_bytes().into_owned();
            let Some(rel) = name.strip_prefix(b"ctx/") else {
                continue;
            };
            let rel = rel.strip_suffix(b"/").unwrap_or(rel).to_vec();
            if rel.is_empty() {
                continue;
            }
            let kind = e.header().entry_type().as_byte();
            let mut body = Vec::new();
            if let Some(l) = e.link_name_bytes() {
                body = l.into_owned();
            } else if kind == b'0' {
                std::io::Read::read_to_end(&mut e, &mut body).unwrap();
            }
            tree.insert(rel, (kind, body));
        }
    }
    tree
}

/// Builds the context with docker or stevedore; `Err` (the error output) when the build was refused.
/// A build that lost an image to another test pruning the shared daemon is retried.
fn build(dir: &Path, how: &str, image: &str) -> Result<Tree, String> {
    let mut result = build_once(dir, how, image);
    for _ in 0..2 {
        match &result {
            Err(e) if daemon_lost_an_image(e) => result = build_once(dir, how, image),
            _ => break,
        }
    }
    result
}

/// The daemon's errors for an image removed under a running build (not about the context).
fn daemon_lost_an_image(err: &str) -> bool {
    [
        "unable to find image",
        "No such image",
        "failed to get digest",
        "unknown parent image",
    ]
    .iter()
    .any(|m| err.contains(m))
}

fn build_once(dir: &Path, how: &str, image: &str) -> Result<Tree, String> {
    let out = if how == "docker" {
        Command::new("docker")
            .args(["build", "-q", "-t", image, "."])
            .env("DOCKER_BUILDKIT", "0")
            .current_dir(dir)
            .output()
            .unwrap()
    } else {
        let (repo, tag) = image.rsplit_once(':').unwrap();
        let mut c = Command::new(stevedore_bin());
        c.args([
            "build",
            "--image",
            repo,
            "--tag",
            tag,
            "--builder",
            how,
            ".",
        ]);
        // The disk guard would run the prune policy on the shared daemon when its disk is nearly
        // full, removing a concurrent docker build's base image; a config outside the context
        // (which the differential compares) turns it off.
        let config = std::env::temp_dir().join(format!(
            "stevedore-context-diff-{}.toml",
            std::process::id()
        ));
        std::fs::write(&config, "[build]\nmin_free = \"0\"\n").unwrap();
        c.env("STEVEDORE_CONFIG", &config);
        c.current_dir(dir).output().unwrap()
    };
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let tree = image_tree(image);
    let _ = Command::new("docker").args(["rmi", "-f", image]).output();
    Ok(tree)
}

fn show(t: &Result<Tree, String>) -> String {
    match t {
        Err(e) => format!("refused: {}", e.lines().last().unwrap_or_default()),
        Ok(t) => t
            .iter()
            .map(|(k, (kind, body))| {
                format!(
                    "{} {}{}",
                    *kind as char,
                    String::from_utf8_lossy(k),
                    if *kind == b'2' {
                        format!(" -> {}", String::from_utf8_lossy(body))
                    } else {
                        String::new()
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// For BuildKit: true when `ours` differs from docker's only where this daemon (Engine 20.10), not
/// the context sent, decides:
/// - named pipes: stevedore sends them through the session as docker sends them
///   (`tests/build_session.rs` sees them in the build context with `RUN --mount=type=bind`), but the
///   daemon's BuildKit 0.8 skips named pipes when it copies (`COPY .`);
/// - a Dockerfile or `.dockerignore` that `.dockerignore` lists: docker 28's CLI sends them anyway and
///   the 20.10 daemon removes them with its own, older matcher — which keeps them when a pattern is
///   not valid UTF-8 (it cannot compile it) or where it reads a pattern differently (`**file`).
///   stevedore leaves a listed one out, as the CLI's own rule (and BuildKit's) says.
fn buildkit_daemon_gap(reference: &Tree, ours: &Tree) -> bool {
    let mut r = reference.clone();
    r.retain(|k, (kind, _)| {
        *kind != b'6'
            && (ours.contains_key(k) || !matches!(k.as_slice(), b"Dockerfile" | b".dockerignore"))
    });
    r == *ours
}

/// Counts of the outcome, over all cases.
#[derive(Default)]
struct Tally {
    cases: usize,
    classic_agree: usize,
    buildkit_agree: usize,
    buildkit_gap: usize,
    failures: Vec<String>,
}

/// Runs one case on the three builders; returns the disagreements, described.
fn run_case(i: usize, case: &Case, tally: &Mutex<Tally>) {
    let d = tempfile::tempdir().unwrap();
    write_case(d.path(), i, case);
    let tag = |b: &str| format!("stevedore-test-ctxdiff/{b}-{}:c{i}", std::process::id());
    let reference = build(d.path(), "docker", &tag("docker"));
    let mut t = Vec::new();
    for how in ["classic", "buildkit"] {
        let ours = build(d.path(), how, &tag(how));
        let (agree, gap) = match (&reference, &ours) {
            (Err(_), Err(_)) => (true, false),
            (Ok(a), Ok(b)) => (a == b, how == "buildkit" && buildkit_daemon_gap(a, b)),
            _ => (false, false),
        };
        t.push((how, agree, gap));
        if !agree && !gap {
            let msg = format!(
                "{} [{how}] .dockerignore {:?}\n  docker:    {}\n  stevedore: {}",
                case.name,
                String::from_utf8_lossy(case.ignore.as_deref().unwrap_or_default()),
                show(&reference),
                show(&ours)
            );
            tally.lock().unwrap().failures.push(msg);
        }
    }
    let mut tally = tally.lock().unwrap();
    tally.cases += 1;
    for (how, agree, gap) in t {
        match (how, agree, gap) {
            ("classic", true, _) => tally.classic_agree += 1,
            ("buildkit", true, _) => tally.buildkit_agree += 1,
            ("buildkit", false, true) => tally.buildkit_gap += 1,
            _ => {}
        }
    }
}

#[test]
fn build_context_agrees_with_docker_build() {
    require_docker();
    let random: u64 = std::env::var("STEVEDORE_DIFF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(130);
    let mut cases = fixed_cases();
    cases.extend((0..random).map(|s| random_case(0x5eed_0000 + s)));
    let next = AtomicUsize::new(0);
    let tally = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(case) = cases.get(i) else { break };
                    run_case(i, case, &tally);
                }
            });
        }
    });
    let t = tally.into_inner().unwrap();
    eprintln!(
        "{} cases: classic agrees with docker build in {}, BuildKit in {} (+{} differing only by the \
         daemon's BuildKit 0.8 copy of named pipes or its old matcher's removal of a listed Dockerfile \
         or .dockerignore); {} other disagreements",
        t.cases,
        t.classic_agree,
        t.buildkit_agree,
        t.buildkit_gap,
        t.failures.len()
    );
    assert!(t.cases >= 150 || random < 130, "too few cases ran");
    assert!(t.failures.is_empty(), "{}", t.failures.join("\n"));
    assert_eq!(t.classic_agree, t.cases);
}
