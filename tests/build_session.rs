//! `stevedore build`'s own BuildKit session against the real daemon: build secrets (`--secret`,
//! `[build] secrets`) readable in `RUN --mount=type=secret` and absent from every layer, the history
//! and the log; SSH agents forwarded to `RUN --mount=type=ssh`.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

/// Removes the images a test created (and only those) when dropped.
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        for i in &self.0 {
            let _ = Command::new("docker").args(["rmi", "-f", i]).output();
        }
    }
}

fn repo(what: &str) -> String {
    format!("stevedore-test-session/{what}-{}", std::process::id())
}

fn run_in(image: &str, cmd: &str) -> String {
    docker(&["run", "--rm", "--network", "none", image, "sh", "-c", cmd])
}

/// A value no image, history or log may hold, made at run time (never a literal in the repository).
fn secret_value(tag: &str) -> String {
    format!("sv-{tag}-{}-{:x}", std::process::id(), fastrand::u64(..))
}

/// The md5 of `value` as busybox prints it.
fn md5_of(value: &str) -> String {
    let mut child = Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout)[..32].to_string()
}

/// True when the `docker save` archive of `image` holds `value` anywhere (every layer tar, the
/// config, the manifest — the archive read whole, layers are uncompressed tars).
fn saved_image_holds(image: &str, value: &str) -> bool {
    let out = Command::new("docker")
        .args(["save", image])
        .output()
        .unwrap();
    assert!(out.status.success(), "docker save {image} failed");
    out.stdout
        .windows(value.len())
        .any(|w| w == value.as_bytes())
}

fn secrets_dockerfile() -> String {
    format!(
        "FROM {}\n\
         RUN --mount=type=secret,id=tok --mount=type=secret,id=filetok --mount=type=secret,id=cfgtok \
         md5sum /run/secrets/tok | cut -c1-32 > /tok.md5 && \
         md5sum /run/secrets/filetok | cut -c1-32 > /filetok.md5 && \
         md5sum /run/secrets/cfgtok | cut -c1-32 > /cfgtok.md5 && \
         echo \"in the log: $(cat /run/secrets/tok)\"\n",
        busybox_image()
    )
}

#[test]
fn secrets_reach_the_run_and_nothing_else() {
    require_docker();
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Dockerfile"), secrets_dockerfile()).unwrap();
    let (env_v, file_v, cfg_v) = (
        secret_value("env"),
        secret_value("file"),
        secret_value("cfg"),
    );
    let outside = tempfile::tempdir().unwrap();
    let file = outside.path().join("file token");
    std::fs::write(&file, &file_v).unwrap();
    std::fs::write(
        d.path().join("stevedore.toml"),
        "[build]\nsecrets = [\"id=cfgtok,env=STEVEDORE_T_CFG\"]\n",
    )
    .unwrap();
    let r = repo("secrets");
    let image = format!("{r}:1");
    let _cleanup = Images(vec![image.clone()]);
    let src = format!("id=filetok,\"src={}\"", file.display());
    let (code, out, err) = stevedore(
        d.path(),
        &[
            "-v",
            "build",
            "--builder",
            "buildkit",
            "--progress",
            "plain",
            "--image",
            &r,
            "--tag",
            "1",
            "--secret",
            "id=tok,env=STEVEDORE_T_TOK",
            "--secret",
            &src,
            // BuildKit keys its cache without the secrets' values: an earlier run's layer would do.
            "--no-cache",
            ".",
        ],
        &[("STEVEDORE_T_TOK", &env_v), ("STEVEDORE_T_CFG", &cfg_v)],
    );
    assert_eq!(code, 0, "{err}");
    // The RUN read each secret: the hashes it stored are the values' hashes.
    assert_eq!(run_in(&image, "cat /tok.md5"), md5_of(&env_v));
    assert_eq!(run_in(&image, "cat /filetok.md5"), md5_of(&file_v));
    assert_eq!(run_in(&image, "cat /cfgtok.md5"), md5_of(&cfg_v));
    // The RUN's echo reached the log, redacted.
    assert!(
        err.contains("in the log: "),
        "the RUN's output is not in the log: {err}"
    );
    let history = docker(&["history", "--no-trunc", &image]);
    let inspect = docker(&["image", "inspect", &image]);
    for v in [&env_v, &file_v, &cfg_v] {
        assert!(
            !saved_image_holds(&image, v),
            "a layer or the config holds a secret"
        );
        assert!(
            !history.contains(v.as_str()),
            "the history holds a secret: {history}"
        );
        assert!(
            !inspect.contains(v.as_str()),
            "the image config holds a secret"
        );
        assert!(
            !out.contains(v.as_str()) && !err.contains(v.as_str()),
            "the log shows a secret: {err}"
        );
    }
}

#[test]
fn secrets_are_refused_with_the_classic_builder_and_bad_sources_named() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let v = secret_value("classic");
    let (code, _, err) = stevedore(
        d.path(),
        &[
            "build",
            "--builder",
            "classic",
            "--secret",
            "id=tok,env=STEVEDORE_T_TOK",
            ".",
        ],
        &[
            ("STEVEDORE_T_TOK", &v),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--builder buildkit") && err.contains("--secret id=tok"),
        "{err}"
    );
    for (args, says) in [
        (
            vec!["--secret", "id=tok,env=STEVEDORE_T_UNSET_VAR"],
            "STEVEDORE_T_UNSET_VAR is not set",
        ),
        (vec!["--secret", "id=tok,src=missing-file"], "missing-file"),
        (vec!["--secret", "id=tok,kind=x"], "unexpected key"),
    ] {
        let mut a = vec!["build", "--builder", "buildkit"];
        a.extend(args);
        a.push(".");
        let (code, _, err) = stevedore(d.path(), &a, &[]);
        assert_eq!(code, 2, "{a:?}: {err}");
        assert!(err.contains(says), "{a:?}: {err}");
    }
}

/// A real `ssh-agent` on a socket of its own, holding one fresh ed25519 key; killed when dropped.
struct Agent {
    child: std::process::Child,
    socket: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Agent {
    fn start() -> Agent {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("agent.sock");
        let child = Command::new("ssh-agent")
            .args(["-D", "-a"])
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("ssh-agent (apt-get install -y openssh-client)");
        let agent = Agent {
            child,
            socket,
            _dir: dir,
        };
        for _ in 0..100 {
            if agent.socket.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let key = agent._dir.path().join("id_ed25519");
        sh(
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                "stevedore-test",
                "-f",
                key.to_str().unwrap(),
            ],
        );
        let out = Command::new("ssh-add")
            .arg(&key)
            .env("SSH_AUTH_SOCK", &agent.socket)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ssh-add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        agent
    }

    /// What `ssh-add -l` prints for this agent.
    fn listing(&self) -> String {
        let out = Command::new("ssh-add")
            .arg("-l")
            .env("SSH_AUTH_SOCK", &self.socket)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies the host's `ssh-add` and the shared libraries it loads into `dir`, with COPY lines that put
/// them where the loader looks (busybox has no agent client of its own).
fn ssh_add_into(dir: &Path) -> String {
    let ldd = sh("ldd", &["/usr/bin/ssh-add"]);
    let mut copies = String::new();
    let mut files: Vec<String> = ldd
        .lines()
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with('/'))
                .map(String::from)
        })
        .collect();
    files.push("/usr/bin/ssh-add".into());
    for (i, f) in files.iter().enumerate() {
        let name = format!("bin{i}");
        std::fs::copy(f, dir.join(&name)).unwrap();
        copies.push_str(&format!("COPY {name} {f}\n"));
    }
    copies
}

#[test]
fn ssh_agents_are_forwarded_and_answer() {
    require_docker();
    let agent = Agent::start();
    let listing = agent.listing();
    assert!(listing.contains("stevedore-test"), "{listing}");
    let d = tempfile::tempdir().unwrap();
    let dockerfile = format!(
        "FROM {}\n{}RUN --mount=type=ssh /usr/bin/ssh-add -l > /default.txt\n\
         RUN --mount=type=ssh,id=git /usr/bin/ssh-add -l > /git.txt && ls -l $SSH_AUTH_SOCK > /sock.txt\n",
        busybox_image(),
        ssh_add_into(d.path())
    );
    std::fs::write(d.path().join("Dockerfile"), dockerfile).unwrap();
    let r = repo("ssh");
    let image = format!("{r}:1");
    let _cleanup = Images(vec![image.clone()]);
    let sock = agent.socket.display().to_string();
    let git = format!("git={sock}");
    let (code, _, err) = stevedore(
        d.path(),
        &[
            "build",
            "--builder",
            "buildkit",
            "--image",
            &r,
            "--tag",
            "1",
            "--ssh",
            "default",
            "--ssh",
            &git,
            "--no-cache",
            ".",
        ],
        &[("SSH_AUTH_SOCK", &sock)],
    );
    assert_eq!(code, 0, "{err}");
    // The agent answered REQUEST_IDENTITIES inside the RUN, through the session, for both IDs.
    assert_eq!(run_in(&image, "cat /default.txt"), listing);
    assert_eq!(run_in(&image, "cat /git.txt"), listing);
    assert!(
        run_in(&image, "cat /sock.txt").starts_with('s'),
        "not a socket"
    );
}

#[test]
fn ssh_needs_buildkit_and_an_agent() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let agent = Agent::start();
    let sock = agent.socket.display().to_string();
    let (code, _, err) = stevedore(
        d.path(),
        &["build", "--builder", "classic", "--ssh", "default", "."],
        &[
            ("SSH_AUTH_SOCK", &sock),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--builder buildkit") && err.contains("--ssh default"),
        "{err}"
    );
    let (code, _, err) = stevedore(
        d.path(),
        &["build", "--ssh", "default", "."],
        &[("SSH_AUTH_SOCK", "")],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("SSH_AUTH_SOCK is not set"), "{err}");
}
