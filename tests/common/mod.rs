//! The test bed shared by the integration tests: a real Docker daemon, a throwaway registry with htpasswd
//! auth on a free loopback port, and base images made without pulling (`FROM scratch` plus the static
//! busybox from Debian's `busybox-static`).
//!
//! A test that needs Docker fails, with a message saying how to start it, when no daemon answers — it is
//! never silently skipped.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The base image every Docker test builds on: scratch + static busybox, with a shell at /bin/sh.
pub const BUSYBOX_IMAGE: &str = "stevedore-test/busybox:latest";

/// Where the static busybox comes from.
pub const BUSYBOX_BIN: &str = "/bin/busybox";

/// Runs a command and returns stdout, panicking with its stderr on failure.
pub fn sh(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs `docker` with the given arguments and returns stdout (panics on failure).
pub fn docker(args: &[&str]) -> String {
    sh("docker", args)
}

/// Panics with instructions unless a Docker daemon answers.
pub fn require_docker() {
    static OK: OnceLock<Result<(), String>> = OnceLock::new();
    let r = OK.get_or_init(|| {
        let out = Command::new("docker")
            .args(["version", "--format", "{{.Server.Version}}"])
            .output();
        match out {
            Ok(o) if o.status.success() => Ok(()),
            Ok(o) => Err(String::from_utf8_lossy(&o.stderr).into_owned()),
            Err(e) => Err(e.to_string()),
        }
    });
    if let Err(e) = r {
        panic!(
            "this test needs a Docker daemon and none answers ({}).\n\
             Start one: `bash .ci/run` installs and starts everything, or by hand:\n  \
             apt-get install -y docker.io && (dockerd >/tmp/dockerd.log 2>&1 &)",
            e.trim()
        );
    }
}

/// Builds (once per test process, reused across processes) the busybox base image and returns its name.
pub fn busybox_image() -> &'static str {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        require_docker();
        assert!(
            Path::new(BUSYBOX_BIN).exists(),
            "{BUSYBOX_BIN} missing: apt-get install -y busybox-static"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(BUSYBOX_BIN, dir.path().join("busybox")).unwrap();
        std::fs::write(
            dir.path().join("Dockerfile"),
            "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
             ENV PATH=/bin\nCMD [\"/bin/sh\"]\n",
        )
        .unwrap();
        let out = Command::new("docker")
            .args(["build", "-q", "-t", BUSYBOX_IMAGE])
            .arg(dir.path())
            .env("DOCKER_BUILDKIT", "0")
            .output()
            .expect("docker build");
        assert!(out.status.success(), "building the busybox base failed: {}", String::from_utf8_lossy(&out.stderr));
    });
    BUSYBOX_IMAGE
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A throwaway `docker-registry` with htpasswd (bcrypt) auth, storage in a temp dir, on 127.0.0.1.
/// Stopped when dropped.
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// The user the htpasswd file accepts.
    pub user: String,
    /// Its password.
    pub password: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts a registry and waits until it answers.
    pub fn start() -> Registry {
        let bin = ["/usr/bin/docker-registry", "/usr/sbin/docker-registry"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("docker-registry missing: apt-get install -y docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let user = "stevedore".to_string();
        let password = format!("pw-{}", std::process::id());
        let htpasswd = sh("htpasswd", &["-Bbn", &user, &password]);
        std::fs::write(dir.path().join("htpasswd"), format!("{htpasswd}\n")).unwrap();
        // A port can be taken between choosing and binding; try a few.
        for _ in 0..5 {
            let port = free_port();
            let cfg = format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: stevedore-test\n    path: {ht}\n",
                root = dir.path().join("data").display(),
                ht = dir.path().join("htpasswd").display()
            );
            let cfg_path = dir.path().join("config.yml");
            std::fs::write(&cfg_path, cfg).unwrap();
            let mut child = Command::new(bin)
                .arg("serve")
                .arg(&cfg_path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start docker-registry");
            let host = format!("127.0.0.1:{port}");
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if std::net::TcpStream::connect(&host).is_ok() {
                    return Registry {
                        host,
                        user,
                        password,
                        child,
                        _dir: dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("docker-registry did not start on loopback");
    }
}

impl Registry {
    /// Kills the registry process now (a registry dying under a push); dropping it later is harmless.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The registry's storage root (`docker/registry/v2/…` appears under it as blobs arrive).
    pub fn data_dir(&self) -> PathBuf {
        self._dir.path().join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serialises tests that must not overlap on the shared daemon (e.g. prune tests that measure usage).
pub fn daemon_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Path of the built stevedore binary (for end-to-end tests of the CLI).
pub fn stevedore_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_stevedore"))
}

/// Runs the stevedore binary in `dir` with `args` and extra environment; returns (exit code, stdout, stderr).
pub fn stevedore(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(stevedore_bin());
    cmd.args(args).current_dir(dir);
    // Never inherit a CI job's variables into a test's run.
    for (k, _) in std::env::vars() {
        if k == "CI" || k.starts_with("CI_") || k.starts_with("GITLAB_") || k.starts_with("ZULIP_")
        {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run stevedore");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Reads one HTTP/1.1 request from `s`: its head (request line and headers, without the blank line) and
/// its body (by Content-Length); `None` when the peer closed. For the tests' small local servers.
pub fn read_http_request(s: &mut std::net::TcpStream) -> Option<(String, Vec<u8>)> {
    use std::io::{BufRead, Read};
    let mut r = std::io::BufReader::new(s.try_clone().ok()?);
    let mut head = String::new();
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).ok()?;
    Some((head, body))
}
