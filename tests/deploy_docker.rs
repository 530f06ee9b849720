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

fn build(tag: &str, version: &str, healthy: bool) {
    let dir = tempfile::tempdir().unwrap();
    let touch = if healthy { "touch /ok; " } else { "" };
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!(
            "FROM {}\nLABEL app.version={version}\nENV APP_VERSION={version}\nVOLUME /cache\n\
             HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD test -f /ok\n\
             CMD [\"/bin/sh\", \"-c\", \"trap 'exit 0' TERM; {touch}while true; do sleep 1; done\"]\n",
            busybox_image()
        ),
    )
    .unwrap();
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
            &["deploy", "--environment", "production"],
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
