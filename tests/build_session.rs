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

/// `stevedore build --builder buildkit --image REPO --tag 1 EXTRA… .` in `dir`.
fn buildkit_build(
    dir: &std::path::Path,
    repo: &str,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (i32, String, String) {
    let mut args = vec![
        "build",
        "--builder",
        "buildkit",
        "--image",
        repo,
        "--tag",
        "1",
    ];
    args.extend_from_slice(extra);
    args.push(".");
    stevedore(dir, &args, env)
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
    let (code, out, err) = buildkit_build(
        d.path(),
        &r,
        &[
            "-v",
            "--progress",
            "plain",
            "--secret",
            "id=tok,env=STEVEDORE_T_TOK",
            "--secret",
            &src,
            // BuildKit keys its cache without the secrets' values: an earlier run's layer would do.
            "--no-cache",
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

#[test]
fn dry_run_names_secrets_and_ssh_without_their_values() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Dockerfile"), "FROM scratch\n").unwrap();
    let (env_value, file_value) = (secret_value("dry-env"), secret_value("dry-file"));
    std::fs::write(d.path().join("tok.txt"), &file_value).unwrap();
    std::fs::write(d.path().join("deploy_key"), "not a real key\n").unwrap();
    let (code, out, err) = stevedore(
        d.path(),
        &[
            "build",
            "--dry-run",
            "--secret",
            "id=envtok,env=STEVEDORE_T_DRY",
            "--secret",
            "id=filetok,src=tok.txt",
            "--ssh",
            "deploy=deploy_key",
            ".",
        ],
        &[
            ("STEVEDORE_T_DRY", &env_value),
            ("DOCKER_HOST", "unix:///nonexistent/docker.sock"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    for says in [
        "secret envtok: env STEVEDORE_T_DRY",
        "secret filetok: file tok.txt",
        "ssh deploy: 1 key file(s) into a private agent (deploy_key)",
    ] {
        assert!(err.contains(says), "{says:?} in {err}");
    }
    for value in [&env_value, &file_value] {
        assert!(
            !out.contains(value.as_str()) && !err.contains(value.as_str()),
            "a value shown: {out}{err}"
        );
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
/// Writes a Dockerfile in `dir` that installs ssh-add and lists the default agent's keys into
/// /default.txt, then runs `more`.
fn ssh_dockerfile(dir: &Path, more: &str) {
    let dockerfile = format!(
        "FROM {}\n{}RUN --mount=type=ssh /usr/bin/ssh-add -l > /default.txt\n{more}",
        busybox_image(),
        ssh_add_into(dir)
    );
    std::fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
}

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
    ssh_dockerfile(
        d.path(),
        "RUN --mount=type=ssh,id=git /usr/bin/ssh-add -l > /git.txt && ls -l $SSH_AUTH_SOCK > /sock.txt\n",
    );
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

/// A new ed25519 key (`-N PASSPHRASE`, empty for none) in `dir`, mode 0644 as a CI file variable may
/// leave it; returns its path.
fn new_key(dir: &Path, name: &str, passphrase: &str) -> std::path::PathBuf {
    let key = dir.join(name);
    let k = key.to_str().unwrap();
    sh(
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", k],
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    key
}

/// The processes whose command line mentions `path` (a private agent's socket lies under it).
fn processes_under(path: &Path) -> Vec<String> {
    let needle = path.to_str().unwrap().as_bytes();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        if cmdline.windows(needle.len()).any(|w| w == needle) {
            out.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
        }
    }
    out
}

/// Nothing of a private agent is left under `tmp`: no process, no socket, no directory.
fn no_agent_left(tmp: &Path, what: &str) {
    assert_eq!(processes_under(tmp), Vec::<String>::new(), "{what}");
    let left: Vec<_> = std::fs::read_dir(tmp).unwrap().flatten().collect();
    assert!(left.is_empty(), "{what}: left {left:?}");
}

#[test]
fn ssh_key_files_load_into_a_private_agent() {
    require_docker();
    let keys = tempfile::tempdir().unwrap();
    let key = new_key(keys.path(), "stevedore-key-file", "");
    // `ssh-keygen -lf` prints "256 SHA256:… COMMENT (ED25519)", as `ssh-add -l` lists an agent's key
    // (the agent knows the comment the key file carries).
    let fingerprint = sh("ssh-keygen", &["-lf", key.to_str().unwrap()]);
    let key_text = std::fs::read_to_string(&key).unwrap();
    let key_line = key_text.lines().nth(1).unwrap().to_string();
    let d = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    ssh_dockerfile(d.path(), "");
    let r = repo("sshkey");
    let image = format!("{r}:1");
    let _cleanup = Images(vec![image.clone()]);
    let ssh = format!("default={}", key.display());
    let (code, out, err) = buildkit_build(
        d.path(),
        &r,
        &["--ssh", &ssh, "--no-cache", "-v"],
        &[
            ("TMPDIR", tmp.path().to_str().unwrap()),
            ("SSH_AUTH_SOCK", ""),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(run_in(&image, "cat /default.txt"), fingerprint);
    assert!(
        !out.contains(&key_line) && !err.contains(&key_line),
        "key printed"
    );
    assert!(!saved_image_holds(&image, &key_line), "key in the image");
    no_agent_left(tmp.path(), "after the build");
}

#[test]
fn ssh_key_agent_ends_with_the_build_and_bad_keys_are_named() {
    require_docker();
    let keys = tempfile::tempdir().unwrap();
    let key = new_key(keys.path(), "good", "");
    let locked = new_key(keys.path(), "locked", "a passphrase");
    let d = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let tmp_env = ("TMPDIR", tmp.path().to_str().unwrap());
    let build = |dockerfile: &str, ssh: &Path, env: &[(&str, &str)]| {
        std::fs::write(d.path().join("Dockerfile"), dockerfile).unwrap();
        let ssh = format!("default={}", ssh.display());
        let args = [
            "build",
            "--builder",
            "buildkit",
            "--ssh",
            &ssh,
            "--no-cache",
            ".",
        ];
        stevedore(d.path(), &args, env)
    };
    let failing = format!("FROM {}\nRUN --mount=type=ssh exit 3\n", busybox_image());
    // A passphrase-protected key: named, with the fix, and nothing asked.
    let (code, _, err) = build(&failing, &locked, &[tmp_env]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(locked.to_str().unwrap()) && err.contains("passphrase"),
        "{err}"
    );
    no_agent_left(tmp.path(), "after a passphrase-protected key");
    // A failing RUN: the agent goes with the build.
    let (code, _, err) = build(&failing, &key, &[tmp_env]);
    assert_ne!(code, 0, "{err}");
    no_agent_left(tmp.path(), "after a failed build");
    // No ssh-agent on PATH: said, with the package.
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = build(
        &failing,
        &key,
        &[tmp_env, ("PATH", empty.path().to_str().unwrap())],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("ssh-agent") && err.contains("openssh-client"),
        "{err}"
    );
    no_agent_left(tmp.path(), "without ssh-agent");
    // SIGTERM while a RUN runs: the agent is killed before stevedore exits.
    std::fs::write(
        d.path().join("Dockerfile"),
        format!("FROM {}\nRUN --mount=type=ssh sleep 60\n", busybox_image()),
    )
    .unwrap();
    let ssh = format!("default={}", key.display());
    let mut child = Command::new(stevedore_bin())
        .args([
            "build",
            "--builder",
            "buildkit",
            "--ssh",
            &ssh,
            "--no-cache",
            ".",
        ])
        .current_dir(d.path())
        .env("TMPDIR", tmp.path())
        .env_remove("CI")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while processes_under(tmp.path()).is_empty() {
        assert!(started.elapsed().as_secs() < 60, "no agent started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    sh("kill", &["-TERM", &child.id().to_string()]);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "{status}");
    no_agent_left(tmp.path(), "after SIGTERM");
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

/// What `find` lists under /ctx in `image`, one `TYPE PATH` a line, sorted (`p` a named pipe).
fn listing(image: &str) -> Vec<String> {
    let out = run_in(
        image,
        "cd /ctx && find . -mindepth 1 | while read f; do if [ -p \"$f\" ]; then echo \"p $f\"; elif [ -L \"$f\" ]; then echo \"l $f\"; elif [ -d \"$f\" ]; then echo \"d $f\"; else echo \"f $f\"; fi; done",
    );
    let mut v: Vec<String> = out.lines().map(String::from).collect();
    v.sort();
    v
}

/// Builds `dir` with `DOCKER_BUILDKIT=0 docker build` (the CLI applies the ignore file: the reference).
fn docker_build(dir: &Path, image: &str, file: &str) {
    let out = Command::new("docker")
        .args(["build", "-q", "-f", file, "-t", image, "."])
        .env("DOCKER_BUILDKIT", "0")
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker build: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write_all(dir: &Path, files: &[(&str, &str)]) {
    for (name, body) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
}

#[test]
fn a_dockerfile_dockerignore_replaces_dockerignore_with_buildkit() {
    require_docker();
    let copy = format!("FROM {}\nCOPY . /ctx/\n", busybox_image());
    for (file, own) in [
        ("Dockerfile", "Dockerfile.dockerignore"),
        ("app.Dockerfile", "app.Dockerfile.dockerignore"),
    ] {
        let files = [
            ("a.txt", "a"),
            ("b.txt", "b"),
            ("sub/c.txt", "c"),
            ("sub/d.log", "d"),
        ];
        let ours = tempfile::tempdir().unwrap();
        write_all(ours.path(), &files);
        write_all(
            ours.path(),
            &[
                (file, &copy),
                (".dockerignore", "a.txt\n"),
                (own, "b.txt\nsub/*.log\n"),
            ],
        );
        // The reference: the same context, its .dockerignore holding the Dockerfile's own patterns.
        let reference = tempfile::tempdir().unwrap();
        write_all(reference.path(), &files);
        write_all(
            reference.path(),
            &[
                (file, &copy),
                (".dockerignore", "b.txt\nsub/*.log\n"),
                (own, "b.txt\nsub/*.log\n"),
            ],
        );
        let r = repo("ownignore");
        let (mine, theirs) = (format!("{r}:ours"), format!("{r}:docker"));
        let _cleanup = Images(vec![mine.clone(), theirs.clone()]);
        docker_build(reference.path(), &theirs, file);
        let (code, _, err) = stevedore(
            ours.path(),
            &[
                "build",
                "--builder",
                "buildkit",
                "-f",
                file,
                "--image",
                &r,
                "--tag",
                "ours",
                ".",
            ],
            &[],
        );
        assert_eq!(code, 0, "{err}");
        let (l_ours, l_docker) = (listing(&mine), listing(&theirs));
        assert_eq!(l_ours, l_docker, "{file}");
        assert!(l_ours.contains(&"f ./a.txt".to_string()), "{l_ours:?}");
        assert!(
            !l_ours
                .iter()
                .any(|l| l.contains("b.txt") || l.contains("d.log")),
            "{l_ours:?}"
        );
    }
}

#[test]
fn a_named_pipe_reaches_the_buildkit_context_as_docker_sends_it() {
    require_docker();
    let d = tempfile::tempdir().unwrap();
    write_all(d.path(), &[("f.txt", "f"), ("sub/g.txt", "g")]);
    sh("mkfifo", &[d.path().join("pipe").to_str().unwrap()]);
    sh("mkfifo", &[d.path().join("sub/pipe2").to_str().unwrap()]);
    // The context as the build sees it (a bind mount of it), next to docker's reference image.
    let dockerfile = format!(
        "FROM {}\nRUN --mount=type=bind,target=/c mkdir /ctx && cp -a /c/. /ctx/\n",
        busybox_image()
    );
    std::fs::write(d.path().join("Dockerfile"), dockerfile).unwrap();
    let r = repo("fifo");
    let (mine, theirs) = (format!("{r}:ours"), format!("{r}:docker"));
    let _cleanup = Images(vec![mine.clone(), theirs.clone()]);
    let (code, _, err) = stevedore(
        d.path(),
        &[
            "build",
            "--builder",
            "buildkit",
            "--no-cache",
            "--image",
            &r,
            "--tag",
            "ours",
            ".",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let reference = tempfile::tempdir().unwrap();
    write_all(reference.path(), &[("f.txt", "f"), ("sub/g.txt", "g")]);
    sh("mkfifo", &[reference.path().join("pipe").to_str().unwrap()]);
    sh(
        "mkfifo",
        &[reference.path().join("sub/pipe2").to_str().unwrap()],
    );
    std::fs::write(
        reference.path().join("Dockerfile"),
        format!("FROM {}\nCOPY . /ctx/\n", busybox_image()),
    )
    .unwrap();
    docker_build(reference.path(), &theirs, "Dockerfile");
    let l_ours = listing(&mine);
    assert!(
        l_ours.contains(&"p ./pipe".to_string()) && l_ours.contains(&"p ./sub/pipe2".to_string()),
        "{l_ours:?}"
    );
    assert_eq!(l_ours, listing(&theirs));
}

/// Runs `cmd` with `stdin` written to its standard input; returns its output.
fn with_stdin(cmd: &mut Command, stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs stevedore in `dir` with `stdin` piped in; returns (exit code, stderr).
fn stevedore_stdin(dir: &Path, args: &[&str], stdin: &str) -> (i32, String) {
    let out = with_stdin(
        Command::new(stevedore_bin()).args(args).current_dir(dir),
        stdin,
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `docker build -f - .` with `stdin`, the classic builder (the reference).
fn docker_build_stdin(dir: &Path, image: &str, stdin: &str) {
    let out = with_stdin(
        Command::new("docker")
            .args(["build", "-q", "-f", "-", "-t", image, "."])
            .env("DOCKER_BUILDKIT", "0")
            .current_dir(dir),
        stdin,
    );
    assert!(
        out.status.success(),
        "docker build -f -: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_dockerfile_outside_the_context_or_on_stdin_builds_as_with_docker() {
    require_docker();
    let copy = format!("FROM {}\nCOPY . /ctx/\n", busybox_image());
    for ignore in [None, Some("a.txt\n")] {
        let d = tempfile::tempdir().unwrap();
        let ctx = d.path().join("ctx");
        write_all(&ctx, &[("a.txt", "a"), ("sub/b.txt", "b")]);
        if let Some(i) = ignore {
            write_all(&ctx, &[(".dockerignore", i)]);
        }
        write_all(d.path(), &[("df/Outside.Dockerfile", &copy)]);
        let outside = d.path().join("df/Outside.Dockerfile");
        let outside = outside.to_str().unwrap();
        let r = repo("outside");
        let tags = [
            "ref",
            "refstdin",
            "classic",
            "classicstdin",
            "buildkit",
            "buildkitstdin",
        ];
        let _cleanup = Images(tags.iter().map(|t| format!("{r}:{t}")).collect());
        let out = Command::new("docker")
            .args(["build", "-q", "-f", outside, "-t", &format!("{r}:ref"), "."])
            .env("DOCKER_BUILDKIT", "0")
            .current_dir(&ctx)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        docker_build_stdin(&ctx, &format!("{r}:refstdin"), &copy);
        let reference = listing(&format!("{r}:ref"));
        assert_eq!(listing(&format!("{r}:refstdin")), reference);
        for builder in ["classic", "buildkit"] {
            let base = ["build", "--builder", builder, "--image", &r, "--tag"];
            let mut a = base.to_vec();
            a.extend([builder, "-f", outside, "."]);
            let (code, _, err) = stevedore(&ctx, &a, &[]);
            assert_eq!(code, 0, "{builder} -f {outside}: {err}");
            let stdin_tag = format!("{builder}stdin");
            let mut a = base.to_vec();
            a.extend([stdin_tag.as_str(), "-f", "-", "."]);
            let (code, err) = stevedore_stdin(&ctx, &a, &copy);
            assert_eq!(code, 0, "{builder} -f -: {err}");
            let expected = reference.clone();
            assert_eq!(
                listing(&format!("{r}:{builder}")),
                expected,
                "{builder} -f outside"
            );
            assert_eq!(
                listing(&format!("{r}:{stdin_tag}")),
                expected,
                "{builder} -f -"
            );
        }
    }
}

/// BuildKit asks for the paths the Dockerfile names (`followpaths`): a `COPY dir/` and a
/// `RUN --mount` of a directory get the whole directory, less what `.dockerignore` leaves out — as the
/// docker CLI sends it. Hundreds of files, so the daemon asks for many files ahead of what is sent.
#[test]
fn copied_and_mounted_directories_arrive_whole() {
    require_docker();
    let ours = tempfile::tempdir().unwrap();
    let reference = tempfile::tempdir().unwrap();
    let mut files: Vec<(String, String)> = (0..600)
        .map(|i| (format!("src/m{}/f{i}.txt", i % 7), format!("file {i}")))
        .collect();
    files.push(("src/skip.log".into(), "ignored".into()));
    files.push(("vendor/pkg/a.txt".into(), "vendored".into()));
    files.push(("other.txt".into(), "not named".into()));
    files.push((".dockerignore".into(), "src/*.log\n".into()));
    let files: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    write_all(ours.path(), &files);
    write_all(reference.path(), &files);
    let base = busybox_image();
    let mount = format!(
        "FROM {base}\nCOPY src/ /ctx/src/\nRUN --mount=type=bind,source=vendor,target=/v cp -r /v /ctx/vendor\n"
    );
    write_all(ours.path(), &[("Dockerfile", &mount)]);
    let copy = format!("FROM {base}\nCOPY src/ /ctx/src/\nCOPY vendor /ctx/vendor\n");
    write_all(reference.path(), &[("Dockerfile", &copy)]);
    let r = repo("followpaths");
    let (mine, theirs) = (format!("{r}:ours"), format!("{r}:docker"));
    let _cleanup = Images(vec![mine.clone(), theirs.clone()]);
    docker_build(reference.path(), &theirs, "Dockerfile");
    let args = [
        "build",
        "--builder",
        "buildkit",
        "--image",
        &r,
        "--tag",
        "ours",
        ".",
    ];
    let (code, _, err) = stevedore(ours.path(), &args, &[]);
    assert_eq!(code, 0, "{err}");
    let (l_ours, l_docker) = (listing(&mine), listing(&theirs));
    assert_eq!(l_ours, l_docker);
    assert_eq!(l_ours.len(), 1 + 7 + 600 + 3, "{l_ours:?}");
    assert_eq!(run_in(&mine, "cat /ctx/src/m4/f599.txt"), "file 599");
}
