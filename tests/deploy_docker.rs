//! `stevedore deploy` with provider `docker` against the real daemon: two client containers from a v1
//! image (busybox base with a HEALTHCHECK), a deploy of v2 that replaces both and keeps their config (env,
//! labels, restart policy, mounts, ports, networks), then a broken v3 whose health check fails and is rolled
//! back (the containers run v2 again). Images are pushed to a throwaway registry so the deploy gets a real
//! `repository@sha256:…` digest, as build hands it over.

mod common;

use common::{Registry, busybox_image, docker, require_docker, stevedore};
use std::process::Command;
use std::time::{Duration, Instant};

/// Removes what the test created, even when it fails.
struct Cleanup {
    containers: Vec<String>,
    images: Vec<String>,
    networks: Vec<String>,
    volumes: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in &self.containers {
            for n in [c.clone(), format!("{c}-stevedore-previous")] {
                let _ = Command::new("docker").args(["rm", "-f", "-v", &n]).output();
            }
        }
        for n in &self.networks {
            let _ = Command::new("docker").args(["network", "rm", n]).output();
        }
        for v in &self.volumes {
            let _ = Command::new("docker")
                .args(["volume", "rm", "-f", v])
                .output();
        }
        for i in &self.images {
            let _ = Command::new("docker").args(["rmi", "-f", i]).output();
        }
    }
}

/// Builds `dockerfile` (in an empty context) as `tag` with the classic builder.
fn docker_build(tag: &str, dockerfile: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Dockerfile"), dockerfile).unwrap();
    let out = Command::new("docker")
        .args(["build", "-q", "-t", tag])
        .arg(dir.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "build {tag}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn build(tag: &str, version: &str, healthy: bool) {
    let touch = if healthy { "touch /ok; " } else { "" };
    docker_build(
        tag,
        &format!(
            "FROM {}\nLABEL app.version={version}\nENV APP_VERSION={version}\nVOLUME /cache\n\
             HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD test -f /ok\n\
             CMD [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM; {touch}while true; do sleep 1; done\"]\n",
            busybox_image()
        ),
    );
}

fn inspect(name: &str, fmt: &str) -> String {
    docker(&["inspect", "--format", fmt, name])
}

fn wait_health(name: &str, want: &str) {
    let start = Instant::now();
    loop {
        let h = inspect(name, "{{.State.Health.Status}}");
        if h == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{name} stays {h}, want {want}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn replaces_containers_keeping_config_and_rolls_back_a_broken_image() {
    require_docker();
    let reg = Registry::start();
    let id = format!("stevedore-test-deploy-{}", std::process::id());
    let repo = format!("{}/{id}", reg.host);
    let (v1, v2, v3) = (
        format!("{repo}:v1"),
        format!("{repo}:v2"),
        format!("{repo}:v3"),
    );
    let (a, b) = (format!("{id}-a"), format!("{id}-b"));
    let net = format!("{id}-net");
    let vol = format!("{id}-vol");
    let mut cleanup = Cleanup {
        containers: vec![a.clone(), b.clone()],
        images: vec![v1.clone(), v2.clone(), v3.clone()],
        networks: vec![net.clone()],
        volumes: vec![vol.clone()],
    };
    build(&v1, "v1", true);
    build(&v2, "v2", true);
    build(&v3, "v3", false);
    // Push v2 and v3 to get their registry digests (a docker config of our own, not the shared one).
    let cfg = tempfile::tempdir().unwrap();
    let c = cfg.path().to_str().unwrap();
    let login = Command::new("docker")
        .args([
            "--config",
            c,
            "login",
            "-u",
            &reg.user,
            "--password-stdin",
            &reg.host,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .and_then(|mut ch| {
            use std::io::Write;
            ch.stdin
                .take()
                .unwrap()
                .write_all(reg.password.as_bytes())?;
            ch.wait()
        })
        .unwrap();
    assert!(login.success(), "docker login to the test registry");
    for t in [&v2, &v3] {
        docker(&["--config", c, "push", "-q", t]);
    }
    let digest_of = |t: &str| inspect(t, "{{index .RepoDigests 0}}");
    let (d2, d3) = (digest_of(&v2), digest_of(&v3));
    let (id2, id3) = (inspect(&v2, "{{.Id}}"), inspect(&v3, "{{.Id}}"));
    cleanup.images.extend([d2.clone(), d3.clone()]);
    assert!(
        d2.contains("@sha256:") && d3.contains("@sha256:"),
        "{d2} {d3}"
    );
    // v2 leaves the host: the deploy pulls it by digest, with the CI registry credentials.
    docker(&["rmi", &v2]);

    // Two clients on v1, each with its own config.
    let data = tempfile::tempdir().unwrap();
    let data_s = data.path().to_str().unwrap().to_string();
    docker(&["network", "create", &net]);
    docker(&[
        "run",
        "-d",
        "--name",
        &a,
        "-e",
        "CLIENT=a",
        "-e",
        "FEATURE_X=on",
        "-l",
        "client=a",
        "--restart",
        "unless-stopped",
        "-v",
        &format!("{data_s}:/data"),
        "-p",
        "127.0.0.1::8080",
        &v1,
    ]);
    docker(&[
        "run",
        "-d",
        "--name",
        &b,
        "-e",
        "CLIENT=b",
        "-l",
        "client=b",
        "--restart",
        "on-failure:3",
        "--network",
        &net,
        "--network-alias",
        "b-alias",
        "--mount",
        &format!("type=volume,src={vol},dst=/vol"),
        &v1,
    ]);
    wait_health(&a, "healthy");
    wait_health(&b, "healthy");
    // Data in the image's anonymous volume must survive the replacement (and the volumes are ours to remove).
    for c in [&a, &b] {
        cleanup.volumes.push(inspect(
            c,
            "{{range .Mounts}}{{if eq .Destination \"/cache\"}}{{.Name}}{{end}}{{end}}",
        ));
    }
    docker(&["exec", &a, "sh", "-c", "echo kept > /cache/f"]);
    let port_a = inspect(&a, "{{json .HostConfig.PortBindings}}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stevedore.toml"),
        format!(
            "[deploy]\nverify_timeout = \"60s\"\n\n\
             [[deploy.targets]]\nname = \"client-a\"\nenvironment = \"production\"\nprovider = \"docker\"\ncontainer = \"{a}\"\n\n\
             [[deploy.targets]]\nname = \"client-b\"\nenvironment = \"production\"\nprovider = \"docker\"\ncontainer = \"{b}\"\n"
        ),
    )
    .unwrap();
    let run = |image: &str| {
        stevedore(
            dir.path(),
            &["deploy", "--environment", "production", "--force"],
            &[
                ("IMAGE_DIGEST", image),
                ("VERSION", "2.0.0"),
                ("CI_REGISTRY", &reg.host),
                ("CI_REGISTRY_USER", &reg.user),
                ("CI_REGISTRY_PASSWORD", &reg.password),
            ],
        )
    };

    // v2: both replaced, config kept.
    let (code, out, err) = run(&d2);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("pulling"), "{err}");
    assert!(!err.contains(&reg.password), "{err}");
    for (name, client) in [(&a, "a"), (&b, "b")] {
        assert_eq!(inspect(name, "{{.Image}}"), id2, "{name} runs v2");
        assert_eq!(inspect(name, "{{.State.Running}}"), "true");
        let env = inspect(name, "{{json .Config.Env}}");
        assert!(env.contains(&format!("CLIENT={client}")), "{env}");
        assert!(
            env.contains("APP_VERSION=v2") && !env.contains("APP_VERSION=v1"),
            "image env is the new image's: {env}"
        );
        assert_eq!(inspect(name, "{{index .Config.Labels \"client\"}}"), client);
        assert_eq!(
            inspect(name, "{{index .Config.Labels \"app.version\"}}"),
            "v2"
        );
        assert_eq!(inspect(name, "{{.State.Health.Status}}"), "healthy");
        assert!(
            Command::new("docker")
                .args(["inspect", &format!("{name}-stevedore-previous")])
                .output()
                .map(|o| !o.status.success())
                .unwrap(),
            "the previous container is removed"
        );
    }
    assert!(inspect(&a, "{{json .Config.Env}}").contains("FEATURE_X=on"));
    assert_eq!(
        docker(&["exec", &a, "cat", "/cache/f"]),
        "kept",
        "anonymous volume kept"
    );
    assert_eq!(
        inspect(&a, "{{.HostConfig.RestartPolicy.Name}}"),
        "unless-stopped"
    );
    assert_eq!(
        inspect(&b, "{{.HostConfig.RestartPolicy.Name}}"),
        "on-failure"
    );
    assert_eq!(
        inspect(&b, "{{.HostConfig.RestartPolicy.MaximumRetryCount}}"),
        "3"
    );
    let mounts_a = inspect(&a, "{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}");
    assert!(mounts_a.contains(&format!("{data_s}:/data")), "{mounts_a}");
    let mounts_b = inspect(&b, "{{range .Mounts}}{{.Name}}:{{.Destination}} {{end}}");
    assert!(mounts_b.contains(&format!("{vol}:/vol")), "{mounts_b}");
    assert_eq!(inspect(&a, "{{json .HostConfig.PortBindings}}"), port_a);
    let nets_b = inspect(
        &b,
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{join $v.Aliases \",\"}} {{end}}",
    );
    assert!(
        nets_b.contains(&format!("{net}=")) && nets_b.contains("b-alias"),
        "{nets_b}"
    );
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(stevedore::deploy::report::FILE)).unwrap(),
    )
    .unwrap();
    for t in r["targets"].as_array().unwrap() {
        assert_eq!(t["status"], "ok", "{t}");
        assert_eq!(t["provider"], "docker");
        assert_eq!(t["expected"], id2.as_str());
        assert_eq!(t["observed"], id2.as_str());
    }

    // v3: its health check fails; both are rolled back to v2.
    let (code, out, err) = run(&d3);
    eprintln!("{err}");
    assert_eq!(code, 1, "{out}{err}");
    let r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(stevedore::deploy::report::FILE)).unwrap(),
    )
    .unwrap();
    for t in r["targets"].as_array().unwrap() {
        assert_eq!(t["status"], "failed", "{t}");
        assert_eq!(t["expected"], id3.as_str());
        assert_eq!(t["observed"], id2.as_str(), "observed after rollback: {t}");
        let e = t["error"].as_str().unwrap();
        assert!(
            e.contains("HEALTHCHECK") && e.contains("rolled back"),
            "{e}"
        );
    }
    for (name, client) in [(&a, "a"), (&b, "b")] {
        assert_eq!(inspect(name, "{{.Image}}"), id2, "{name} runs v2 again");
        assert_eq!(inspect(name, "{{.State.Running}}"), "true");
        assert!(inspect(name, "{{json .Config.Env}}").contains(&format!("CLIENT={client}")));
        assert!(
            Command::new("docker")
                .args(["inspect", &format!("{name}-stevedore-previous")])
                .output()
                .map(|o| !o.status.success())
                .unwrap()
        );
    }
    wait_health(&a, "healthy");
}

#[test]
fn no_daemon_is_an_outside_failure() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stevedore.toml"),
        "[[deploy.targets]]\nname = \"x\"\nenvironment = \"staging\"\nprovider = \"docker\"\ncontainer = \"x\"\ndocker_host = \"unix:///nonexistent/docker.sock\"\n",
    )
    .unwrap();
    let digest = format!("r.example.com/app@sha256:{}", "e".repeat(64));
    let (code, _, err) = stevedore(
        dir.path(),
        &["deploy", "--environment", "staging"],
        &[("IMAGE_DIGEST", &digest)],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("cannot reach the Docker daemon at unix:///nonexistent/docker.sock"),
        "{err}"
    );
}

/// Builds an image whose HEALTHCHECK (`interval`, first check after it) passes when `healthy`.
fn build_health(tag: &str, version: &str, healthy: bool, interval: &str) {
    let touch = if healthy { "touch /ok; " } else { "" };
    docker_build(
        tag,
        &format!(
            "FROM {}\nLABEL app.version={version}\n\
             HEALTHCHECK --interval={interval} --timeout=2s --retries=2 CMD test -f /ok\n\
             CMD [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM; {touch}while true; do sleep 1; done\"]\n",
            busybox_image()
        ),
    );
}

/// Pushes the tags to the throwaway registry (with a docker config of our own) and returns their digests.
fn push(reg: &Registry, tags: &[&str]) -> Vec<String> {
    let cfg = tempfile::tempdir().unwrap();
    let c = cfg.path().to_str().unwrap();
    let mut login = Command::new("docker")
        .args([
            "--config",
            c,
            "login",
            "-u",
            &reg.user,
            "--password-stdin",
            &reg.host,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        login
            .stdin
            .take()
            .unwrap()
            .write_all(reg.password.as_bytes())
            .unwrap();
    }
    assert!(
        login.wait().unwrap().success(),
        "docker login to the test registry"
    );
    tags.iter()
        .map(|t| {
            docker(&["--config", c, "push", "-q", t]);
            inspect(t, "{{index .RepoDigests 0}}")
        })
        .collect()
}

fn exists(name: &str) -> bool {
    Command::new("docker")
        .args(["inspect", name])
        .output()
        .map(|o| o.status.success())
        .unwrap()
}

/// The state an interrupted deploy used to leave: the last good container stopped as
/// `NAME-stevedore-previous`, an unverified one from `unverified` under the name.
fn leave_interrupted(name: &str, unverified: &str) {
    let prev = format!("{name}-stevedore-previous");
    docker(&["stop", "-t", "5", name]);
    docker(&["rename", name, &prev]);
    docker(&["run", "-d", "--name", name, unverified]);
}

#[test]
fn sigterm_during_the_health_wait_rolls_back_and_a_leftover_previous_is_the_last_good_one() {
    require_docker();
    let reg = Registry::start();
    let id = format!("stevedore-test-deploy-sig-{}", std::process::id());
    let repo = format!("{}/{id}", reg.host);
    let tags: Vec<String> = ["v1", "v2", "slow", "broken"]
        .iter()
        .map(|t| format!("{repo}:{t}"))
        .collect();
    let name = format!("{id}-app");
    let mut cleanup = Cleanup {
        containers: vec![name.clone()],
        images: tags.clone(),
        networks: vec![],
        volumes: vec![],
    };
    build_health(&tags[0], "v1", true, "1s");
    build_health(&tags[1], "v2", true, "1s");
    // "slow" stays `starting` for a minute: the deploy is still waiting when the job is cancelled.
    build_health(&tags[2], "slow", true, "60s");
    build_health(&tags[3], "broken", false, "1s");
    let digests = push(&reg, &[&tags[1], &tags[2], &tags[3]]);
    cleanup.images.extend(digests.iter().cloned());
    let (d2, dslow, dbroken) = (&digests[0], &digests[1], &digests[2]);
    let id1 = inspect(&tags[0], "{{.Id}}");
    let id2 = inspect(&tags[1], "{{.Id}}");
    let idslow = inspect(&tags[2], "{{.Id}}");
    docker(&["run", "-d", "--name", &name, "-e", "CLIENT=acme", &tags[0]]);
    wait_health(&name, "healthy");
    let good = inspect(&name, "{{.Id}}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("stevedore.toml"),
        format!(
            "[[deploy.targets]]\nname = \"acme\"\nenvironment = \"staging\"\nprovider = \"docker\"\ncontainer = \"{name}\"\n"
        ),
    )
    .unwrap();
    let args = [
        "deploy",
        "--environment",
        "staging",
        "--verify-timeout",
        "5m",
    ];

    // SIGTERM (GitLab cancelling the job) while deploy waits for the new container's health check.
    let mut cmd = Command::new(common::stevedore_bin());
    cmd.args(args)
        .current_dir(dir.path())
        .env("IMAGE_DIGEST", dslow);
    for (k, _) in std::env::vars().filter(|(k, _)| k == "CI" || k.starts_with("CI_")) {
        cmd.env_remove(k);
    }
    let child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let prev = format!("{name}-stevedore-previous");
    let start = Instant::now();
    while !(exists(&prev) && inspect(&name, "{{.Image}}") == idslow) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "deploy never started the new container"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let signalled = Instant::now();
    common::sh("kill", &["-TERM", &child.id().to_string()]);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(143),
        "exit 143 after SIGTERM: {err}"
    );
    assert!(
        signalled.elapsed() < Duration::from_secs(30),
        "stopped promptly: {err}"
    );
    assert!(
        err.contains("rolled back") && err.contains("SIGTERM"),
        "says what it did: {err}"
    );
    assert_eq!(
        inspect(&name, "{{.Id}}"),
        good,
        "the last good container is back under its name"
    );
    assert_eq!(inspect(&name, "{{.State.Running}}"), "true");
    assert!(!exists(&prev), "no container left aside");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(stevedore::deploy::report::FILE)).unwrap(),
    )
    .unwrap();
    let t = &report["targets"][0];
    assert_eq!(t["status"], "failed", "{t}");
    assert!(t["error"].as_str().unwrap().contains("SIGTERM"), "{t}");
    assert_eq!(t["observed"], id1.as_str(), "{t}");
    wait_health(&name, "healthy");

    // What an interrupted deploy used to leave (or a SIGKILL still leaves): the next deploy keeps the
    // -previous container as the last good one and rolls back to it, never to the unverified one.
    leave_interrupted(&name, &tags[2]);
    let env = [("IMAGE_DIGEST", dbroken.as_str())];
    let (code, out, err) = stevedore(dir.path(), &args, &env);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        err.contains("left by an interrupted deploy"),
        "says so: {err}"
    );
    assert_eq!(
        inspect(&name, "{{.Id}}"),
        good,
        "rolled back to the last good container: {err}"
    );
    assert_eq!(inspect(&name, "{{.State.Running}}"), "true");
    assert!(!exists(&prev));
    // And a good image replaces both: the last good one is removed only once the new one is verified.
    leave_interrupted(&name, &tags[2]);
    let env = [("IMAGE_DIGEST", d2.as_str())];
    let (code, out, err) = stevedore(dir.path(), &args, &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("left by an interrupted deploy"), "{err}");
    assert_eq!(inspect(&name, "{{.Image}}"), id2);
    assert!(
        inspect(&name, "{{json .Config.Env}}").contains("CLIENT=acme"),
        "config of the last good one"
    );
    assert!(
        !exists(&prev) && !exists(&good),
        "the old container is gone once v2 is verified"
    );
}
