//! Faults from outside, against the real daemon and registry (issue 15): the registry killed in the
//! middle of a push, a registry answering 500 to everything or accepting connections and never
//! answering, a hosting provider answering 200 with a body that is not JSON, the Docker daemon (a
//! private one) killed during a build. Each asserts the exit
//! code, the message, and that nothing is left half-done: no dotenv, no success line, no `ok` target.
//! (A provider that never answers and a Zulip server that hangs are in `deploy_http.rs` and
//! `notify.rs`; prune racing a build or another prune in `prune.rs`.)

mod common;

use common::{Registry, busybox_image, read_http_request, require_docker, stevedore};
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Removes the images a test built, whatever happens.
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        for i in &self.0 {
            let _ = Command::new("docker").args(["rmi", "-f", i]).output();
        }
    }
}

/// How a fake registry or provider on loopback behaves.
#[derive(Clone, Copy)]
enum Fake {
    /// Every request gets a 500 with a JSON error.
    Error500,
    /// Connections are accepted and held; nothing is ever answered.
    Hang,
    /// Every request gets 200 with an HTML page (a proxy's login page).
    Html,
}

/// Starts a fake server on 127.0.0.1; returns its port. The listener lives as long as the process.
fn fake(kind: Fake) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || match kind {
                Fake::Hang => std::thread::sleep(Duration::from_secs(600)),
                Fake::Error500 | Fake::Html => {
                    while read_http_request(&mut s).is_some() {
                        let (status, ctype, body) = match kind {
                            Fake::Error500 => (
                                "500 Internal Server Error",
                                "application/json",
                                r#"{"errors":[{"code":"UNKNOWN","message":"internal"}]}"#,
                            ),
                            _ => (
                                "200 OK",
                                "text/html",
                                "<html><body><form>Sign in to continue</form></body></html>",
                            ),
                        };
                        let _ = write!(
                            s,
                            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                    }
                }
            });
        }
    });
    port
}

/// A build context; `min_free = "0"` keeps the disk guard from pruning the shared daemon.
fn context(dockerfile: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(
        d.path().join("stevedore.toml"),
        "[build]\nmin_free = \"0\"\n",
    )
    .unwrap();
    d
}

/// `build --push` of `image:t` with registry credentials, the dotenv in `.stevedore/build.env`.
fn push_args(image: &str, timeout: &str) -> Vec<String> {
    [
        "-v",
        "build",
        "--push",
        "--image",
        image,
        "--tag",
        "t",
        "--timeout",
        timeout,
        "--dotenv",
        ".stevedore/build.env",
        ".",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn creds(host: &str) -> Vec<(&'static str, String)> {
    vec![
        ("CI_REGISTRY", host.to_string()),
        ("CI_REGISTRY_USER", "stevedore".to_string()),
        (
            "CI_REGISTRY_PASSWORD",
            format!("pw-faults-{}", std::process::id()),
        ),
    ]
}

/// Asserts the push left nothing a later job could take for a success.
fn assert_nothing_half_done(dir: &Path, out: &str, err: &str) {
    assert!(
        !dir.join(".stevedore/build.env").exists(),
        "a failed push left a dotenv\n{err}"
    );
    assert!(
        !out.contains("IMAGE_DIGEST") && !err.contains("IMAGE_DIGEST="),
        "{out}\n{err}"
    );
    assert!(
        !format!("{out}{err}").contains("checked against the registry"),
        "a success line:\n{out}\n{err}"
    );
}

fn run_push(dir: &Path, image: &str, host: &str, timeout: &str) -> (i32, String, String, Duration) {
    let args = push_args(image, timeout);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = creds(host);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let started = Instant::now();
    let (code, out, err) = stevedore(dir, &args, &env);
    let took = started.elapsed();
    eprintln!("{image}: exit {code} after {took:?}\n{err}");
    (code, out, err, took)
}

#[test]
fn a_registry_answering_500_is_exit_4_at_once_and_leaves_no_dotenv() {
    require_docker();
    let host = format!("127.0.0.1:{}", fake(Fake::Error500));
    let image = format!("{host}/faults/e500-{}", std::process::id());
    let _cleanup = Images(vec![format!("{image}:t")]);
    let d = context(&format!("FROM {}\nLABEL fault=e500\n", busybox_image()));
    let (code, out, err, took) = run_push(d.path(), &image, &host, "60s");
    assert_eq!(code, 4, "{out}\n{err}");
    assert!(
        err.contains("500") || err.contains("Internal Server Error"),
        "{err}"
    );
    assert!(
        err.contains("check the registry"),
        "the error says what to do: {err}"
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
    assert_nothing_half_done(d.path(), &out, &err);
}

#[test]
fn a_registry_that_never_answers_is_bounded_by_the_timeout() {
    require_docker();
    let host = format!("127.0.0.1:{}", fake(Fake::Hang));
    let image = format!("{host}/faults/hang-{}", std::process::id());
    let _cleanup = Images(vec![format!("{image}:t")]);
    let d = context(&format!("FROM {}\nLABEL fault=hang\n", busybox_image()));
    let (code, out, err, took) = run_push(d.path(), &image, &host, "15s");
    assert_eq!(code, 4, "{out}\n{err}");
    assert!(
        took < Duration::from_secs(45),
        "a hanging registry held the push for {took:?}"
    );
    assert!(
        err.to_lowercase().contains("timeout") || err.contains("timed out"),
        "{err}"
    );
    assert_nothing_half_done(d.path(), &out, &err);
}

#[test]
fn the_registry_killed_in_the_middle_of_a_push_is_exit_4_with_no_dotenv_and_no_success_line() {
    require_docker();
    let mut reg = Registry::start();
    let image = format!("{}/faults/killed-{}", reg.host, std::process::id());
    let _cleanup = Images(vec![format!("{image}:t")]);
    // 48 MB of random bytes: the upload lasts long enough to be cut.
    let d = context(&format!(
        "FROM {}\nRUN head -c 50331648 /dev/urandom > /blob\n",
        busybox_image()
    ));
    let args = push_args(&image, "20s");
    let mut child = Command::new(common::stevedore_bin())
        .args(&args)
        .current_dir(d.path())
        .env("CI_REGISTRY", &reg.host)
        .env("CI_REGISTRY_USER", &reg.user)
        .env("CI_REGISTRY_PASSWORD", &reg.password)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the registry once an upload has started (a blob upload directory appears in its storage).
    let started = Instant::now();
    let mut cut = false;
    while started.elapsed() < Duration::from_secs(120) && !cut {
        if uploading(&reg.data_dir()) {
            reg.kill();
            cut = true;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let cut_at = started.elapsed();
    let out = child.wait_with_output().unwrap();
    eprintln!(
        "registry killed after {cut_at:?}; stevedore ended after {:?}",
        started.elapsed()
    );
    eprintln!(
        "{}",
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !l.contains("Pushing") && !l.contains("Waiting"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(cut, "the push ended before an upload started:\n{stderr}");
    assert_eq!(out.status.code(), Some(4), "{stdout}\n{stderr}");
    assert!(stderr.contains("check the registry is up"), "{stderr}");
    assert!(
        cut_at + Duration::from_secs(40) > started.elapsed(),
        "--timeout 20s did not bound the push"
    );
    assert_nothing_half_done(d.path(), &stdout, &stderr);
}

/// True once the registry holds a blob upload in progress.
fn uploading(root: &Path) -> bool {
    fn walk(p: &Path) -> bool {
        let Ok(rd) = std::fs::read_dir(p) else {
            return false;
        };
        rd.flatten().any(|e| {
            let p = e.path();
            (p.file_name().is_some_and(|n| n == "_uploads")
                && std::fs::read_dir(&p).is_ok_and(|mut r| r.next().is_some()))
                || (p.is_dir() && walk(&p))
        })
    }
    walk(root)
}

fn deploy_project(base: &str) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let cfg = format!(
        r#"[deploy]
poll_interval = "200ms"
request_timeout = "2s"
verify_timeout = "3s"

[[deploy.targets]]
name = "acme"
environment = "production"
provider = "http"
url = "{base}/v1/services/{{client}}"
auth = "basic"
user_env = "PROVIDER_KEY"
password_env = "PROVIDER_SECRET"
body = {{ service = "{{client}}", image = "{{image}}" }}
[deploy.targets.verify]
pointer = "/service/image"
"#
    );
    std::fs::write(d.path().join("stevedore.toml"), cfg).unwrap();
    d
}

#[test]
fn a_provider_answering_200_with_html_never_counts_as_deployed() {
    let base = format!("http://127.0.0.1:{}", fake(Fake::Html));
    let d = deploy_project(&base);
    let digest = format!("sha256:{}", "ab".repeat(32));
    let image = format!("registry.example.com/acme/app@{digest}");
    let (code, out, err) = stevedore(
        d.path(),
        &["-v", "deploy", "--environment", "production", "--force"],
        &[
            ("IMAGE_DIGEST", image.as_str()),
            ("VERSION", "1.6.0"),
            ("PROVIDER_KEY", "provider-key-id"),
            ("PROVIDER_SECRET", "provider-secret-value-123"),
        ],
    );
    assert_eq!(code, 1, "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(d.path().join(stevedore::deploy::report::FILE)).unwrap(),
    )
    .unwrap();
    let t = &report["targets"][0];
    assert_ne!(t["status"], "ok", "{t}");
    assert!(
        err.contains("JSON") || err.contains("json"),
        "the error says the answer is not JSON: {err}"
    );
}

/// A private, empty dockerd of this test's own (never the shared one): its own data root, exec root,
/// pidfile and unix socket under a temp dir, in a network namespace of its own with no bridge. Killed,
/// its children and leftover mounts cleaned, and its dirs removed when dropped.
struct PrivateDaemon {
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl PrivateDaemon {
    fn start() -> PrivateDaemon {
        let dir = tempfile::Builder::new()
            .prefix("stevedore-faults-dockerd.")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        let ns = format!("stevedore-faults-{}", std::process::id());
        let child = Command::new("unshare")
            .args(["-n", "--", "dockerd"])
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("docker.pid"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("docker.sock").display()))
            .args(["--containerd-namespace", &ns])
            .args(["--containerd-plugins-namespace", &format!("{ns}-plugins")])
            .args(["--bridge=none", "--iptables=false", "--ip-masq=false"])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("run dockerd under unshare -n (root, util-linux)");
        let daemon = PrivateDaemon { dir, child };
        let started = Instant::now();
        while !daemon.docker(&["version"]).status.success() {
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "the private dockerd did not start:\n{}",
                std::fs::read_to_string(daemon.dir.path().join("dockerd.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        daemon
    }

    fn host(&self) -> String {
        format!("unix://{}", self.dir.path().join("docker.sock").display())
    }

    fn docker(&self, args: &[&str]) -> std::process::Output {
        Command::new("docker")
            .args(args)
            .env("DOCKER_HOST", self.host())
            .output()
            .unwrap()
    }

    /// Copies an image from the shared daemon (nothing can be pulled).
    fn load(&self, image: &str) {
        let mut save = Command::new("docker")
            .args(["save", image])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let ok = Command::new("docker")
            .args(["load", "-q"])
            .env("DOCKER_HOST", self.host())
            .stdin(save.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(
            save.wait().unwrap().success() && ok.status.success(),
            "{ok:?}"
        );
    }

    /// kill -9, as a crash or an OOM kill would.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pids whose command line contains `needle` (other than this process).
fn pids_with(needle: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&p| p != me)
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

impl Drop for PrivateDaemon {
    fn drop(&mut self) {
        self.kill();
        let d = self.dir.path().to_string_lossy().into_owned();
        // Its containerd, shims and build processes outlive a killed dockerd: end them by pid.
        for p in pids_with(&d) {
            let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
        }
        std::thread::sleep(Duration::from_millis(200));
        // A killed dockerd leaves its data root's mounts behind: lazily unmount them, deepest first.
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let mut under: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(1))
            .filter(|m| m.starts_with(&format!("{d}/")))
            .collect();
        under.sort_by(|a, b| b.cmp(a));
        for m in under {
            let _ = Command::new("umount").args(["-l", m]).status();
        }
    }
}

/// Waits up to `limit` for `child`; kills it (and returns None) if it still runs.
fn wait_within(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn the_docker_daemon_killed_during_a_build_is_exit_4_with_no_dotenv_and_no_success_line() {
    require_docker();
    let base = busybox_image();
    let mut daemon = PrivateDaemon::start();
    daemon.load(base);
    // The marker names this build's RUN among every process on the machine.
    let marker = format!("faults-dockerd-{}", std::process::id());
    let d = context(&format!("FROM {base}\nRUN sleep 30; echo {marker}\n"));
    let image = format!("stevedore-faults/dockerd-{}", std::process::id());
    let out_path = d.path().join("stevedore.out");
    let err_path = d.path().join("stevedore.err");
    let state = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(common::stevedore_bin());
    for (k, _) in std::env::vars() {
        if k == "CI" || k.starts_with("CI_") || k.starts_with("GITLAB_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd
        .args([
            "-v",
            "build",
            "--image",
            &image,
            "--tag",
            "t",
            "--timeout",
            "120s",
        ])
        // The private daemon has no bridge.
        .args(["--network", "none"])
        .args(["--dotenv", ".stevedore/build.env", "."])
        .current_dir(d.path())
        .env("DOCKER_HOST", daemon.host())
        .env("STEVEDORE_STATE_DIR", state.path())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    // Kill the daemon once the RUN step is running.
    let started = Instant::now();
    let mut cut = false;
    while started.elapsed() < Duration::from_secs(90) {
        if !pids_with(&marker).is_empty() {
            daemon.kill();
            cut = true;
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let cut_at = Instant::now();
    let status = wait_within(&mut child, Duration::from_secs(60));
    let ended = cut_at.elapsed();
    // The RUN's container outlives its daemon (its shell is the init of its pid namespace).
    for p in pids_with(&marker) {
        let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
    }
    drop(daemon);
    let out = std::fs::read_to_string(&out_path).unwrap();
    let err = std::fs::read_to_string(&err_path).unwrap();
    eprintln!(
        "dockerd killed after {:?}; stevedore ended {ended:?} later\n{err}",
        cut_at - started
    );
    assert!(cut, "the build ended before its RUN started:\n{out}\n{err}");
    let status =
        status.unwrap_or_else(|| panic!("stevedore still ran 60s after the daemon died:\n{err}"));
    assert_eq!(status.code(), Some(4), "{out}\n{err}");
    let lower = err.to_lowercase();
    assert!(
        lower.contains("docker") && (lower.contains("daemon") || lower.contains("connection")),
        "the error names the Docker daemon or the connection: {err}"
    );
    assert_nothing_half_done(d.path(), &out, &err);
    let leases: Vec<_> = std::fs::read_dir(state.path().join("leases"))
        .map(|r| {
            r.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        leases.is_empty(),
        "the build's lease outlived it: {leases:?}"
    );
    assert!(
        !format!("{out}{err}").contains("built "),
        "a success line:\n{out}\n{err}"
    );
}
