//! `stevedore build` against a `tcp://` DOCKER_HOST with TLS: a second dockerd with certificates made
//! here by openssl, on 127.0.0.1:2376 inside its own network namespace.
//!
//! The namespace keeps the main daemon undisturbed: a dockerd started with `--bridge=none` deletes the
//! host's `docker0` bridge, so it must never run in the host's network namespace. The second daemon has
//! its own data root, exec root and pidfile, and stevedore is run inside the same namespace (`nsenter`).
//! `prune --dry-run` then reads the same daemon's disk usage through the raw client, over TLS too.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PORT: u16 = 2376;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl missing: apt-get install -y openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate (`ca.pem`, `cert.pem`, `key.pem`
/// — the names DOCKER_CERT_PATH expects).
fn make_certs(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=stevedore-test-ca",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server-key.pem",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            "server-cert.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "client.csr",
            "-subj",
            "/CN=stevedore-client",
        ],
    );
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "client.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca-key.pem",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-extfile",
            "client.ext",
        ],
    );
}

/// The second daemon; stopped (by its own pid) and its files removed when dropped.
struct TlsDaemon {
    child: Child,
    dir: tempfile::TempDir,
}

impl TlsDaemon {
    fn start() -> TlsDaemon {
        let dir = tempfile::tempdir().unwrap();
        make_certs(dir.path());
        let d = dir.path().display().to_string();
        let script = format!(
            "ip link set lo up && exec dockerd --data-root {d}/data --exec-root {d}/exec --pidfile {d}/docker.pid \
             -H tcp://127.0.0.1:{PORT} --tlsverify --tlscacert {d}/ca.pem --tlscert {d}/server-cert.pem \
             --tlskey {d}/server-key.pem --bridge=none --iptables=false --ip-masq=false"
        );
        let log = std::fs::File::create(dir.path().join("dockerd.log")).unwrap();
        let child = Command::new("unshare")
            .args(["-n", "--", "sh", "-c", &script])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("unshare (util-linux) is needed to isolate the second dockerd");
        let mut daemon = TlsDaemon { child, dir };
        let start = Instant::now();
        loop {
            let ok = daemon
                .command("docker")
                .args(["version", "--format", "{{.Server.Version}}"])
                .output()
                .map(|o| o.status.success())
                .unwrap_or(false);
            if ok {
                return daemon;
            }
            if start.elapsed() > Duration::from_secs(60)
                || matches!(daemon.child.try_wait(), Ok(Some(_)))
            {
                let log = std::fs::read_to_string(daemon.dir.path().join("dockerd.log"))
                    .unwrap_or_default();
                panic!("the TLS dockerd did not start; its log:\n{log}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn certs(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// A command run inside the daemon's network namespace, pointed at it with TLS.
    fn command(&self, program: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/proc/{}/ns/net", self.child.id()))
            .arg(program)
            .env("DOCKER_HOST", format!("tcp://127.0.0.1:{PORT}"))
            .env("DOCKER_TLS_VERIFY", "1")
            .env("DOCKER_CERT_PATH", self.certs());
        for (k, _) in std::env::vars() {
            if k == "CI" || k.starts_with("CI_") || k.starts_with("GITLAB_") {
                c.env_remove(k);
            }
        }
        c
    }
}

impl Drop for TlsDaemon {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").arg(&pid).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn builds_through_a_tls_docker_host() {
    common::require_docker();
    let daemon = TlsDaemon::start();
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy(common::BUSYBOX_BIN, ctx.path().join("busybox")).unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo tls-ok > /ok\"]\n",
    )
    .unwrap();
    let out = daemon
        .command(common::stevedore_bin().to_str().unwrap())
        .args([
            "build",
            "--builder",
            "classic",
            "--image",
            "stevedore-test-build/tls",
            "--tag",
            "t",
            ".",
        ])
        .current_dir(ctx.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let ran = daemon
        .command("docker")
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "stevedore-test-build/tls:t",
            "/bin/busybox",
            "cat",
            "/ok",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        "tls-ok",
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );

    // prune reads /system/df, /images/json and /info through the shared raw client: over TLS too.
    let state = tempfile::tempdir().unwrap();
    let out = daemon
        .command(common::stevedore_bin().to_str().unwrap())
        .env("STEVEDORE_STATE_DIR", state.path())
        .args(["--dry-run", "prune", "--threshold", "1B"])
        .current_dir(ctx.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("stevedore-test-build/tls:t") && text.contains("Docker uses"),
        "the image built over TLS is not in prune's plan:\n{text}"
    );
    // The default share threshold reads the data root from /info over TLS too.
    let out = daemon
        .command(common::stevedore_bin().to_str().unwrap())
        .env("STEVEDORE_STATE_DIR", state.path())
        .args(["--dry-run", "prune"])
        .current_dir(ctx.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    let data_root = daemon.certs().join("data");
    assert!(
        text.contains(&format!("filesystem holding {}", data_root.display())),
        "the TLS daemon's data root (GET /info) is not in prune's plan:\n{text}"
    );

    // Without DOCKER_TLS_VERIFY the same address is refused, and the error says what was tried.
    let out = daemon
        .command(common::stevedore_bin().to_str().unwrap())
        .env_remove("DOCKER_TLS_VERIFY")
        .args([
            "build",
            "--image",
            "stevedore-test-build/tls",
            "--tag",
            "u",
            ".",
        ])
        .current_dir(ctx.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains(&format!("tcp://127.0.0.1:{PORT}")), "{err}");
}
