//! `stevedore build` end to end, against the real daemon and a real registry with htpasswd auth.

mod common;

use common::*;
use std::collections::BTreeSet;
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
    format!("stevedore-test-build/{what}-{}", std::process::id())
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, body) in files {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
}

fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), files);
    d
}

fn from_busybox() -> String {
    format!("FROM {}\n", busybox_image())
}

fn run_in(image: &str, cmd: &str) -> String {
    docker(&["run", "--rm", "--network", "none", image, "sh", "-c", cmd])
}

/// `stevedore build --image IMAGE --tag TAG --builder BUILDER .` in `dir`: the exit code and stderr.
fn build_as(dir: &Path, image: &str, tag: &str, builder: &str) -> (i32, String) {
    let args = [
        "build",
        "--image",
        image,
        "--tag",
        tag,
        "--builder",
        builder,
        ".",
    ];
    let (code, _out, err) = stevedore(dir, &args, &[]);
    (code, err)
}

#[test]
fn builds_a_busybox_image_with_a_run_step_on_both_builders() {
    require_docker();
    let dockerfile = format!("{}RUN echo \"built by RUN\" > /built.txt\n", from_busybox());
    let d = context(&[("Dockerfile", &dockerfile)]);
    let r = repo("run");
    let _cleanup = Images(vec![format!("{r}:classic"), format!("{r}:buildkit")]);
    for builder in ["classic", "buildkit"] {
        let (code, err) = build_as(d.path(), &r, builder, builder);
        assert_eq!(code, 0, "{builder}: {err}");
        assert!(err.contains(&format!("{r}:{builder}")), "{err}");
        assert_eq!(
            run_in(&format!("{r}:{builder}"), "cat /built.txt"),
            "built by RUN"
        );
    }
}

#[test]
fn dockerignore_rules_decide_what_reaches_the_image() {
    require_docker();
    let dockerfile = format!("{}COPY . /ctx/\n", from_busybox());
    let ignore = "\
# comment
*.log
!keep.log
/secrets
docs
!docs/README.md
**/*.tmp
a?c
build/../dist
node_modules
Dockerfile
.dockerignore
 #not-a-comment
";
    let d = context(&[
        ("Dockerfile", &dockerfile),
        (".dockerignore", ignore),
        ("app.txt", "app"),
        ("x.log", "excluded by *.log"),
        ("keep.log", "kept by !keep.log"),
        ("sub/y.log", "* does not cross /"),
        ("secrets/key", "excluded, leading / dropped"),
        (
            "docs/README.md",
            "kept by the exception inside an excluded dir",
        ),
        ("docs/other.md", "excluded with its dir"),
        ("deep/er/z.tmp", "excluded by **"),
        ("z.tmp", "excluded by ** with zero dirs"),
        ("abc", "excluded by a?c"),
        ("a/c", "? does not match /"),
        ("dist/out", "excluded by a cleaned pattern"),
        ("node_modules/pkg/index.js", "excluded"),
        ("# comment", "a comment line excludes nothing"),
        (
            "#not-a-comment",
            "excluded: # only starts a comment in column 1",
        ),
    ]);
    std::os::unix::fs::symlink("../outside/target", d.path().join("link")).unwrap();
    let r = repo("ignore");
    let _cleanup = Images(vec![format!("{r}:classic"), format!("{r}:buildkit")]);
    // The Dockerfile and .dockerignore are listed too: they are still sent (the build could not run
    // otherwise). The classic builder's daemon drops them again when .dockerignore lists them, as with
    // `docker build`; BuildKit reading a tar context does not, so with it they reach the image (a
    // documented difference, warned about).
    let expected: BTreeSet<String> = [
        "/ctx/app.txt",
        "/ctx/keep.log",
        "/ctx/sub",
        "/ctx/sub/y.log",
        "/ctx/docs",
        "/ctx/docs/README.md",
        "/ctx/deep",
        "/ctx/deep/er",
        "/ctx/a",
        "/ctx/a/c",
        "/ctx/# comment",
        "/ctx/link",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    for builder in ["classic", "buildkit"] {
        let (code, err) = build_as(d.path(), &r, builder, builder);
        assert_eq!(code, 0, "{builder}: {err}");
        // Both builders leave the listed Dockerfile and .dockerignore out, as `docker build` does
        // (BuildKit gets the context through the session, the Dockerfile on its own).
        assert!(!err.contains("BuildKit does not re-apply"), "{err}");
        let image = format!("{r}:{builder}");
        let listed: BTreeSet<String> = run_in(&image, "find /ctx -mindepth 1")
            .lines()
            .map(String::from)
            .collect();
        assert_eq!(listed, expected, "{builder}");
        assert_eq!(
            run_in(&image, "readlink /ctx/link"),
            "../outside/target",
            "a symlink travels as a link"
        );
    }
}

#[test]
fn build_args_target_labels_and_version_tags_show_in_inspect() {
    require_docker();
    let dockerfile = format!(
        "{}ARG FLAVOUR=plain\nARG FROM_ENV\nENV FLAVOUR=$FLAVOUR FROM_ENV=$FROM_ENV\nLABEL stage=base\n\
         FROM base AS final\nLABEL stage=final\n",
        from_busybox().trim_end().to_string() + " AS base\n"
    );
    let d = context(&[("Dockerfile", &dockerfile)]);
    let r = repo("inspect");
    let tags = ["1.4.2", "1.4", "1", "latest"];
    let _cleanup = Images(tags.iter().map(|t| format!("{r}:{t}")).collect());
    let dir = d.path().display().to_string();
    let (code, out, err) = stevedore(
        d.path(),
        &[
            "build",
            "--image",
            &r.to_uppercase(),
            "--build-arg",
            "FLAVOUR=spicy",
            "--build-arg",
            "FROM_ENV",
            "--label",
            "team=core",
            "--target",
            "base",
            "--builder",
            "classic",
            "--json",
            ".",
        ],
        &[
            ("FROM_ENV", "from-the-environment"),
            ("CI", "true"),
            ("CI_PROJECT_DIR", &dir),
            ("CI_PROJECT_NAME", "app"),
            ("CI_PROJECT_PATH", "acme/app"),
            ("CI_PROJECT_URL", "https://gitlab.example.com/acme/app"),
            ("CI_COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("CI_COMMIT_TAG", "v1.4.2"),
            ("CI_COMMIT_REF_NAME", "v1.4.2"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(json["tags"], serde_json::json!(tags), "{out}");
    assert_eq!(json["repository"], r.as_str(), "lower-cased");
    for t in tags {
        docker(&["image", "inspect", &format!("{r}:{t}")]);
    }
    let cfg: serde_json::Value = serde_json::from_str(&docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config}}",
        &format!("{r}:1.4.2"),
    ]))
    .unwrap();
    let env: Vec<&str> = cfg["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(env.contains(&"FLAVOUR=spicy"), "{env:?}");
    assert!(env.contains(&"FROM_ENV=from-the-environment"), "{env:?}");
    let labels = &cfg["Labels"];
    assert_eq!(labels["stage"], "base", "--target stops at the base stage");
    assert_eq!(labels["team"], "core");
    assert_eq!(labels["org.opencontainers.image.version"], "1.4.2");
    assert_eq!(
        labels["org.opencontainers.image.revision"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://gitlab.example.com/acme/app"
    );
    assert_eq!(
        labels["org.opencontainers.image.url"],
        "https://gitlab.example.com/acme/app"
    );
    assert_eq!(labels["org.opencontainers.image.title"], "app");
    assert_eq!(labels["org.opencontainers.image.ref.name"], "1.4.2");
    assert!(
        labels["org.opencontainers.image.created"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(labels["stevedore.project"], "acme/app");
    let summary = std::fs::read_to_string(d.path().join(stevedore::summary::FILE)).unwrap();
    assert!(
        summary.contains("\"step\": \"build\"") && summary.contains("1.4.2"),
        "{summary}"
    );
}

#[test]
fn a_failing_run_exits_1_with_the_instruction_and_its_output() {
    require_docker();
    let dockerfile = format!(
        "{}RUN echo marker-before-failure && exit 7\n",
        from_busybox()
    );
    let d = context(&[("Dockerfile", &dockerfile)]);
    let r = repo("fail");
    let _cleanup = Images(vec![format!("{r}:x")]);
    for builder in ["classic", "buildkit"] {
        let (code, err) = build_as(d.path(), &r, "x", builder);
        assert_eq!(code, 1, "{builder}: {err}");
        let last = err.rsplit("error:").next().unwrap();
        assert!(
            last.contains("RUN echo marker-before-failure && exit 7"),
            "{builder}: {err}"
        );
        assert!(last.contains("| marker-before-failure"), "{builder}: {err}");
    }
}

fn manifest_digest(reg: &Registry, path: &str, tag: &str) -> String {
    let head = sh(
        "curl",
        &[
            "-sfI",
            "-u",
            &format!("{}:{}", reg.user, reg.password),
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            &format!("http://{}/v2/{path}/manifests/{tag}", reg.host),
        ],
    );
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("docker-content-digest")
                .then(|| v.trim().to_string())
        })
        .expect("the registry sends Docker-Content-Digest")
}

#[test]
fn push_with_good_credentials_hands_the_registry_digest_on() {
    require_docker();
    let reg = Registry::start();
    let dockerfile = format!("{}RUN echo pushed > /p\n", from_busybox());
    let d = context(&[("Dockerfile", &dockerfile)]);
    let image = format!("{}/group/app-{}", reg.host, std::process::id());
    let _cleanup = Images(vec![
        format!("{image}:2.0.0-beta.1"),
        format!("{image}:beta"),
    ]);
    let dotenv = d.path().join("build.env");
    let dir = d.path().display().to_string();
    let (code, _out, err) = stevedore(
        d.path(),
        &["build", "--push", "--dotenv", dotenv.to_str().unwrap(), "."],
        &[
            ("CI", "true"),
            ("CI_PROJECT_DIR", &dir),
            ("CI_REGISTRY", &reg.host),
            ("CI_REGISTRY_IMAGE", &image),
            ("CI_REGISTRY_USER", &reg.user),
            ("CI_REGISTRY_PASSWORD", &reg.password),
            ("CI_COMMIT_TAG", "v2.0.0-beta.1"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains(&reg.password), "the password never shows");
    let env = std::fs::read_to_string(&dotenv).unwrap();
    let get = |k: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("{k} missing in {env}"))
            .to_string()
    };
    assert_eq!(get("IMAGE_TAGS"), "2.0.0-beta.1,beta");
    assert_eq!(get("IMAGE"), format!("{image}:2.0.0-beta.1"));
    let digest_ref = get("IMAGE_DIGEST");
    let (repo_part, digest) = digest_ref.split_once('@').unwrap();
    assert_eq!(repo_part, image);
    let path = format!("group/app-{}", std::process::id());
    for tag in ["2.0.0-beta.1", "beta"] {
        assert_eq!(manifest_digest(&reg, &path, tag), digest, "{tag}");
    }
    assert!(
        !env.contains('"') && !env.contains('\''),
        "no quotes in dotenv"
    );
}

#[test]
fn push_with_docker_auth_config_credentials() {
    require_docker();
    let reg = Registry::start();
    let d = context(&[("Dockerfile", &format!("{}LABEL x=y\n", from_busybox()))]);
    let image = format!("{}/auth-config-{}", reg.host, std::process::id());
    let _cleanup = Images(vec![format!("{image}:v")]);
    let auth = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", reg.user, reg.password))
    };
    let config = format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.host);
    let (code, out, err) = stevedore(
        d.path(),
        &[
            "build", "--image", &image, "--tag", "v", "--push", "--json", ".",
        ],
        &[("DOCKER_AUTH_CONFIG", &config)],
    );
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let digest = json["digest"]
        .as_str()
        .unwrap()
        .split_once('@')
        .unwrap()
        .1
        .to_string();
    let path = format!("auth-config-{}", std::process::id());
    assert_eq!(manifest_digest(&reg, &path, "v"), digest);
}

/// A Dockerfile `FROM` a private registry: the daemon pulls the base with the job's credentials (both
/// builders: X-Registry-Config for the classic one, the BuildKit session's Auth service for BuildKit),
/// as `docker build` does after `docker login`; without them the pull is refused.
#[test]
fn a_private_base_image_is_pulled_with_the_jobs_credentials() {
    require_docker();
    let reg = Registry::start();
    let base = format!("{}/private/base-{}", reg.host, std::process::id());
    let app = repo("private-base");
    let _cleanup = Images(vec![format!("{base}:1"), format!("{app}:c")]);
    let no_config = tempfile::tempdir().unwrap();
    let cfg = no_config.path().to_str().unwrap();
    let creds = [
        ("DOCKER_CONFIG", cfg),
        ("CI_REGISTRY", reg.host.as_str()),
        ("CI_REGISTRY_USER", reg.user.as_str()),
        ("CI_REGISTRY_PASSWORD", reg.password.as_str()),
    ];
    let b = context(&[(
        "Dockerfile",
        &format!("{}RUN echo base > /base\n", from_busybox()),
    )]);
    let push = [
        "build",
        "--image",
        &base,
        "--tag",
        "1",
        "--push",
        "--no-scan-image",
        ".",
    ];
    let (code, _, err) = stevedore(b.path(), &push, &creds);
    assert_eq!(code, 0, "{err}");
    let d = context(&[(
        "Dockerfile",
        &format!("FROM {base}:1\nRUN cat /base > /app\n"),
    )]);
    for builder in ["classic", "buildkit"] {
        let args = [
            "build",
            "--builder",
            builder,
            "--image",
            &app,
            "--tag",
            "c",
            ".",
        ];
        // The daemon must pull: the base is only in the registry.
        let _ = Command::new("docker")
            .args(["rmi", "-f", &format!("{base}:1")])
            .output();
        let (code, _, err) = stevedore(d.path(), &args, &[("DOCKER_CONFIG", cfg)]);
        assert_ne!(
            code, 0,
            "{builder}: an anonymous pull of the private base must fail\n{err}"
        );
        let (code, _, err) = stevedore(d.path(), &args, &creds);
        assert_eq!(code, 0, "{builder}: {err}");
        assert!(!err.contains(&reg.password), "the password never shows");
        assert_eq!(
            run_in(&format!("{app}:c"), "cat /app").trim(),
            "base",
            "{builder}"
        );
    }
}

/// A RUN that writes a credential in two writes: the daemon streams it in two items, and the log must
/// still redact it whole (each half alone would pass redaction).
#[test]
fn a_credential_printed_in_two_writes_is_redacted_whole() {
    require_docker();
    let (a, b) = ("Qx7vL2", "pN9wK4");
    let run = format!(
        "RUN printf 'pw=%s' \"$(echo {} | base64 -d)\"; sleep 1; printf '%s\\n' \"$(echo {} | base64 -d)\"\n",
        base64_of(a),
        base64_of(b)
    );
    let d = context(&[("Dockerfile", &format!("{}{run}", from_busybox()))]);
    let image = repo("split-secret");
    let _cleanup = Images(vec![format!("{image}:s")]);
    let password = format!("{a}{b}");
    let args = [
        "build",
        "--builder",
        "classic",
        "--progress",
        "plain",
        "--image",
        &image,
        "--tag",
        "s",
        "--no-cache",
        ".",
    ];
    let env = [
        ("CI_REGISTRY_PASSWORD", password.as_str()),
        ("CI_REGISTRY_USER", "u"),
        ("CI_REGISTRY", "registry.example.com"),
    ];
    let (code, _, err) = stevedore(d.path(), &args, &env);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("pw="), "the RUN's output is shown: {err}");
    assert!(!err.contains(a) && !err.contains(b), "{err}");
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn a_wrong_password_is_exit_4_with_a_clear_error() {
    require_docker();
    let reg = Registry::start();
    let d = context(&[("Dockerfile", &from_busybox())]);
    let image = format!("{}/group/denied", reg.host);
    let wrong = "definitely-wrong-password-42";
    let start = std::time::Instant::now();
    let (code, _out, err) = stevedore(
        d.path(),
        &["build", "--push", "--image", &image, "--tag", "t", "."],
        &[
            ("CI_REGISTRY", &reg.host),
            ("CI_REGISTRY_USER", &reg.user),
            ("CI_REGISTRY_PASSWORD", wrong),
        ],
    );
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains(&format!("authentication to {} failed", reg.host)),
        "{err}"
    );
    assert!(!err.contains(wrong), "the password is redacted: {err}");
    assert!(start.elapsed().as_secs() < 60, "never a hang");
    // Refused before building: nothing was tagged.
    let out = Command::new("docker")
        .args(["image", "inspect", &format!("{image}:t")])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn no_daemon_is_exit_4_naming_what_was_tried() {
    let d = context(&[("Dockerfile", "FROM scratch\n")]);
    let sock = format!("unix://{}/no-daemon.sock", d.path().display());
    let (code, _out, err) = stevedore(d.path(), &["build", "."], &[("DOCKER_HOST", &sock)]);
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains(&sock) && err.contains("start dockerd"),
        "{err}"
    );
}

#[test]
fn bad_dockerignore_and_missing_dockerfile_are_usage_errors() {
    let d = context(&[("Dockerfile", "FROM scratch\n"), (".dockerignore", "!\n")]);
    let (code, _out, err) = stevedore(d.path(), &["build", "."], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(".dockerignore"), "{err}");
    let e = context(&[("x", "")]);
    let (code, _out, err) = stevedore(e.path(), &["build", "."], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Dockerfile"), "{err}");
}

#[test]
fn a_failing_disk_guard_prune_does_not_stop_the_build() {
    require_docker();
    // min_free 100% always fires the guard; the bad keep pattern makes its prune fail.
    let d = context(&[
        ("Dockerfile", "FROM scratch\nLABEL x=y\n"),
        (
            "stevedore.toml",
            "[build]\nmin_free = \"100%\"\n[prune]\nkeep = [\"(\"]\n",
        ),
    ]);
    let r = repo("guardfail");
    let _cleanup = Images(vec![format!("{r}:g")]);
    let (code, _out, err) = stevedore(d.path(), &["build", "--image", &r, "--tag", "g", "."], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("the disk guard's prune failed, building anyway"),
        "{err}"
    );
    docker(&["image", "inspect", &format!("{r}:g")]);
}

#[test]
fn low_disk_runs_the_prune_policy_first_and_says_so() {
    require_docker();
    let d = context(&[
        ("Dockerfile", "FROM scratch\nLABEL x=y\n"),
        ("stevedore.toml", "[build]\nmin_free = \"100%\"\n"),
    ]);
    let r = repo("guard");
    let _cleanup = Images(vec![format!("{r}:g")]);
    let (code, out, err) = stevedore(
        d.path(),
        &["build", "--image", &r, "--tag", "g", "--json", "."],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("running the prune policy first"), "{err}");
    // The guard's plan and results go to the log: build's stdout stays its own JSON.
    assert!(err.contains("Docker uses"), "{err}");
    let json: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(json["image"], format!("{r}:g"));
    let ok = context(&[
        ("Dockerfile", "FROM scratch\nLABEL x=y\n"),
        ("stevedore.toml", "[build]\nmin_free = \"0%\"\n"),
    ]);
    let (code, _out, err) = stevedore(ok.path(), &["build", "--image", &r, "--tag", "g", "."], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("prune"), "{err}");
}

#[test]
fn a_bad_config_value_names_the_key() {
    let d = context(&[
        ("Dockerfile", "FROM scratch\n"),
        ("stevedore.toml", "[build]\nmin_free = \"lots\"\n"),
    ]);
    let (code, _out, err) = stevedore(d.path(), &["build", "."], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("stevedore.toml:2") && err.contains("min_free"),
        "{err}"
    );
}

#[test]
fn a_dockerfile_in_an_ignored_directory_is_still_sent() {
    require_docker();
    let dockerfile = format!("{}COPY . /ctx/\n", from_busybox());
    let d = context(&[
        ("docker/app.Dockerfile", &dockerfile),
        ("docker/other.txt", "ignored with its directory"),
        (".dockerignore", "docker\n"),
        ("app.txt", "app"),
    ]);
    let r = repo("subdir");
    let _cleanup = Images(vec![format!("{r}:s")]);
    let (code, _out, err) = stevedore(
        d.path(),
        &[
            "build",
            "--image",
            &r,
            "--tag",
            "s",
            "--builder",
            "classic",
            "-f",
            "docker/app.Dockerfile",
            ".",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    // The Dockerfile was sent (the build ran) and then dropped by the daemon because .dockerignore
    // lists it, as with `docker build`; the rest of docker/ was never sent.
    assert_eq!(
        run_in(
            &format!("{r}:s"),
            "ls -A /ctx | tr '\\n' ' '; echo; ls -A /ctx/docker | wc -l"
        ),
        ".dockerignore app.txt docker \n0"
    );
}

#[test]
fn a_failed_push_never_leaves_an_earlier_runs_dotenv() {
    require_docker();
    let reg = Registry::start();
    let d = context(&[(
        "Dockerfile",
        &format!("{}LABEL stale=dotenv\n", from_busybox()),
    )]);
    let image = format!("{}/stale-dotenv-{}", reg.host, std::process::id());
    let _cleanup = Images(vec![format!("{image}:t")]);
    let dotenv = d.path().join("build.env");
    let (host, user) = (reg.host.clone(), reg.user.clone());
    let run = |password: &str| {
        stevedore(
            d.path(),
            &[
                "build",
                "--push",
                "--image",
                &image,
                "--tag",
                "t",
                "--dotenv",
                dotenv.to_str().unwrap(),
                ".",
            ],
            &[
                ("CI_REGISTRY", &host),
                ("CI_REGISTRY_USER", &user),
                ("CI_REGISTRY_PASSWORD", password),
            ],
        )
    };
    let (code, _out, err) = run(&reg.password);
    assert_eq!(code, 0, "{err}");
    assert!(
        std::fs::read_to_string(&dotenv)
            .unwrap()
            .contains("IMAGE_DIGEST=")
    );
    // The registry refuses the credentials: the earlier run's dotenv is gone.
    let (code, _out, err) = run("wrong-password-for-stale-dotenv");
    assert_eq!(code, 4, "{err}");
    assert!(!dotenv.exists(), "a refused push leaves no dotenv");
    // A good run writes it again; then the registry dies and the next run leaves none.
    let (code, _out, err) = run(&reg.password);
    assert_eq!(code, 0, "{err}");
    assert!(dotenv.exists());
    let password = reg.password.clone();
    drop(reg);
    let (code, _out, err) = run(&password);
    assert_eq!(code, 4, "{err}");
    assert!(
        !dotenv.exists(),
        "a push to a dead registry leaves no dotenv"
    );
}

/// The RUN output a flags test reads back: /etc/hosts, the size of /dev/shm, the network interfaces.
fn flags_dockerfile() -> String {
    format!(
        "{}RUN cat /etc/hosts > /hosts; df -k /dev/shm | tail -1 | tr -s ' ' | cut -d' ' -f2 > /shm; \
         cut -d: -f1 /proc/net/dev | tail -n +3 | tr -d ' ' | sort | tr '\\n' ' ' > /ifaces\n",
        from_busybox()
    )
}

fn label_of(image: &str, key: &str) -> Option<String> {
    let out = docker(&[
        "image",
        "inspect",
        "--format",
        "{{json .Config.Labels}}",
        image,
    ]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    v.get(key).and_then(|x| x.as_str()).map(str::to_string)
}

/// What a flags build shows: its /etc/hosts line, /dev/shm size, interfaces and labels.
type FlagsSeen = (String, String, String, Option<String>, Option<String>);

fn flags_reference(img: &str) -> FlagsSeen {
    (
        run_in(img, "grep db.local /hosts"),
        run_in(img, "cat /shm"),
        run_in(img, "cat /ifaces"),
        label_of(img, "empty"),
        label_of(img, "k"),
    )
}

/// `DOCKER_BUILDKIT=0 docker build -q -t IMAGE FLAGS .` in `dir`: the reference result.
fn cli_build(dir: &Path, image: &str, flags: &[&str]) {
    let mut args = vec!["build", "-q", "-t", image];
    args.extend(flags);
    args.push(".");
    let out = Command::new("docker")
        .args(&args)
        .current_dir(dir)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// BuildKit on Engine 20.10 ignores --shm-size: stevedore says so instead of building without it.
fn shm_size_refused_where_buildkit_ignores_it(dir: &Path, r: &str) {
    let (code, _out, err) = stevedore(
        dir,
        &[
            "build",
            "--builder",
            "buildkit",
            "--shm-size",
            "96m",
            "-t",
            &format!("{r}:x"),
            ".",
        ],
        &[],
    );
    if docker(&["version", "--format", "{{.Server.APIVersion}}"]).trim() == "1.41" {
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("--shm-size") && err.contains("--builder classic"),
            "{err}"
        );
    }
}

#[test]
fn docker_build_flags_match_the_docker_cli() {
    require_docker();
    let d = context(&[("Dockerfile", &flags_dockerfile())]);
    let r = repo("flags");
    let cli = format!("{r}-cli:ref");
    let mut made = vec![cli.clone()];
    let flags = [
        "--label",
        "empty",
        "--label",
        "k=v",
        "--add-host",
        "db.local:10.1.2.3",
        "--shm-size",
        "96m",
        "--network",
        "none",
    ];
    cli_build(d.path(), &cli, &flags);
    let want = flags_reference(&cli);
    assert_eq!(want.1.trim(), "98304", "docker's shm");
    shm_size_refused_where_buildkit_ignores_it(d.path(), &r);
    let no_shm: Vec<&str> = flags
        .iter()
        .copied()
        .filter(|f| *f != "--shm-size" && *f != "96m")
        .collect();
    for builder in ["classic", "buildkit"] {
        let one = format!("{r}:{builder}-one");
        let two = format!("{r}:{builder}-two");
        made.extend([one.clone(), two.clone()]);
        let iid = d.path().join(format!("{builder}.iid"));
        let mut args = vec![
            "build",
            "-q",
            "--builder",
            builder,
            "-t",
            &one,
            "-t",
            &two,
            "--iidfile",
            iid.to_str().unwrap(),
        ];
        if builder == "classic" {
            args.extend(flags);
        } else {
            args.extend(&no_shm);
        }
        args.push(".");
        let (code, out, err) = stevedore(d.path(), &args, &[]);
        assert_eq!(code, 0, "{builder}: {err}");
        let id = docker(&["image", "inspect", "--format", "{{.Id}}", &one]);
        assert_eq!(out.trim(), id.trim(), "-q prints the image id");
        assert_eq!(
            std::fs::read_to_string(&iid).unwrap(),
            id.trim(),
            "--iidfile"
        );
        assert_eq!(
            docker(&["image", "inspect", "--format", "{{.Id}}", &two]).trim(),
            id.trim(),
            "both -t references name the image"
        );
        let mut got = flags_reference(&one);
        if builder == "buildkit" {
            got.1 = want.1.clone(); // not asked of BuildKit (above)
        }
        assert_eq!(got, want, "{builder} against the docker CLI");
    }
    let _cleanup = Images(made);
}

#[test]
fn ambiguous_or_conflicting_tags_are_refused_not_rewritten() {
    let d = context(&[("Dockerfile", "FROM scratch\n")]);
    let (code, _out, err) = stevedore(
        d.path(),
        &["build", "--dry-run", "-t", "nc-other", "."],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("ambiguous") && err.contains("nc-other:latest"),
        "{err}"
    );
    let (code, _out, err) = stevedore(
        d.path(),
        &["build", "--dry-run", "--image", "a/b", "-t", "c/d:1", "."],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    let (code, _out, err) = stevedore(
        d.path(),
        &["build", "--dry-run", "-t", "nc-other:1.0", "."],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("would build nc-other:1.0"), "{err}");
    let (code, _out, err) = stevedore(
        d.path(),
        &[
            "build",
            "--dry-run",
            "--image",
            "acme/app",
            "-t",
            "edge",
            ".",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("would build acme/app:edge"), "{err}");
}

#[test]
fn pull_reaches_the_daemon() {
    require_docker();
    // The base image exists only locally and nothing can be pulled here: with --pull the daemon
    // tries, and fails, as `docker build --pull` does.
    let d = context(&[("Dockerfile", &from_busybox())]);
    let r = repo("pull");
    let _cleanup = Images(vec![format!("{r}:p")]);
    let (code, _out, err) = stevedore(
        d.path(),
        &[
            "build",
            "--builder",
            "classic",
            "--image",
            &r,
            "-t",
            "p",
            "--pull",
            ".",
        ],
        &[],
    );
    assert_ne!(code, 0, "{err}");
    let cli = Command::new("docker")
        .args(["build", "--pull", "-t", &format!("{r}:p"), "."])
        .current_dir(d.path())
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(!cli.status.success(), "the docker CLI fails the same way");
    let (code, _out, err) = stevedore(
        d.path(),
        &[
            "build",
            "--builder",
            "classic",
            "--image",
            &r,
            "-t",
            "p",
            ".",
        ],
        &[],
    );
    assert_eq!(code, 0, "without --pull the local base is used: {err}");
}

/// Writes `docker-credential-NAME` into `bin`: answers `get` for `host` with `user`/`secret`, and
/// "credentials not found" for anything else, as the docker CLI's helpers do.
fn credential_helper(bin: &Path, name: &str, host: &str, user: &str, secret: &str) {
    use std::os::unix::fs::PermissionsExt;
    let path = bin.join(format!("docker-credential-{name}"));
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread -r server\n\
             if [ \"$server\" = \"{host}\" ]; then\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{secret}\"}}' \"$server\"\n\
             else echo 'credentials not found in native keychain'; exit 1; fi\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn push_with_credential_helpers_from_docker_config() {
    require_docker();
    let reg = Registry::start();
    let d = context(&[(
        "Dockerfile",
        &format!("{}LABEL helper=yes\n", from_busybox()),
    )]);
    let bin = tempfile::tempdir().unwrap();
    credential_helper(bin.path(), "stevetest", &reg.host, &reg.user, &reg.password);
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let image = format!("{}/helper-{}", reg.host, std::process::id());
    let _cleanup = Images(vec![format!("{image}:store"), format!("{image}:helpers")]);
    let cfg = tempfile::tempdir().unwrap();
    for (tag, config) in [
        ("store", r#"{"credsStore":"stevetest"}"#.to_string()),
        (
            "helpers",
            format!(
                r#"{{"credsStore":"missing-one","credHelpers":{{"{}":"stevetest"}}}}"#,
                reg.host
            ),
        ),
    ] {
        std::fs::write(cfg.path().join("config.json"), config).unwrap();
        let (code, _out, err) = stevedore(
            d.path(),
            &["build", "--image", &image, "-t", tag, "--push", "."],
            &[
                ("DOCKER_CONFIG", cfg.path().to_str().unwrap()),
                ("PATH", &path),
            ],
        );
        assert_eq!(code, 0, "{tag}: {err}");
        assert!(
            !err.contains(&reg.password),
            "the helper's secret never shows"
        );
        manifest_digest(&reg, &format!("helper-{}", std::process::id()), tag);
    }
    // A helper that knows nothing of this registry: the error names the file actually read.
    std::fs::write(
        cfg.path().join("config.json"),
        r#"{"credsStore":"stevetest"}"#,
    )
    .unwrap();
    let other = tempfile::tempdir().unwrap();
    credential_helper(other.path(), "stevetest", "elsewhere:1", "u", "p");
    let path = format!(
        "{}:{}",
        other.path().display(),
        std::env::var("PATH").unwrap()
    );
    let (code, _out, err) = stevedore(
        d.path(),
        &["build", "--image", &image, "-t", "none", "--push", "."],
        &[
            ("DOCKER_CONFIG", cfg.path().to_str().unwrap()),
            ("PATH", &path),
        ],
    );
    assert_eq!(code, 4, "{err}");
    let file = cfg.path().join("config.json").display().to_string();
    assert!(
        err.contains("no credentials were found") && err.contains(&file),
        "{err}"
    );
    assert!(!err.contains("~/.docker/config.json"), "{err}");
}

/// The image configuration of `path:tag` as the registry serves it (manifest, then config blob).
fn image_config(reg: &Registry, path: &str, tag: &str) -> String {
    let auth = format!("{}:{}", reg.user, reg.password);
    let manifest = sh(
        "curl",
        &[
            "-sf",
            "-u",
            &auth,
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            &format!("http://{}/v2/{path}/manifests/{tag}", reg.host),
        ],
    );
    let manifest: serde_json::Value = serde_json::from_str(&manifest).expect("a JSON manifest");
    let digest = manifest["config"]["digest"]
        .as_str()
        .expect("the manifest names its config");
    sh(
        "curl",
        &[
            "-sf",
            "-u",
            &auth,
            &format!("http://{}/v2/{path}/blobs/{digest}", reg.host),
        ],
    )
}

#[test]
fn a_fresh_daemon_pulls_the_previous_release_as_cache() {
    require_docker();
    let reg = Registry::start();
    let dockerfile = format!(
        "{}RUN echo slow-step > /dep\nCOPY app.txt /app.txt\n",
        from_busybox()
    );
    let d = context(&[("Dockerfile", &dockerfile), ("app.txt", "one")]);
    let image = format!("{}/cache-{}", reg.host, std::process::id());
    let tags1 = ["1.0.0", "1.0", "1", "latest"].map(|t| format!("{image}:{t}"));
    let tags2 = ["1.0.1", "1.0", "1", "latest"].map(|t| format!("{image}:{t}"));
    let mut all: Vec<String> = tags1.to_vec();
    all.extend(tags2.iter().cloned());
    let _cleanup = Images(all);
    let dir = d.path().display().to_string();
    let run = |version: &str| {
        stevedore(
            d.path(),
            &[
                "build",
                "--builder",
                "buildkit",
                "--push",
                "--progress",
                "plain",
                ".",
            ],
            &[
                ("CI", "true"),
                ("CI_PROJECT_DIR", &dir),
                ("CI_REGISTRY", &reg.host),
                ("CI_REGISTRY_IMAGE", &image),
                ("CI_REGISTRY_USER", &reg.user),
                ("CI_REGISTRY_PASSWORD", &reg.password),
                ("CI_COMMIT_TAG", version),
            ],
        )
    };
    let (code, _out, err) = run("v1.0.0");
    assert_eq!(code, 0, "{err}");
    // The pushed image carries BuildKit's inline cache metadata by default (BUILDKIT_INLINE_CACHE):
    // what lets the next fresh runner reuse its layers.
    let path = image.split_once('/').unwrap().1;
    let config = image_config(&reg, path, "latest");
    assert!(
        config.contains("\"moby.buildkit.cache.v0\""),
        "no inline cache metadata in the pushed image's config: {config}"
    );
    // A fresh runner: the daemon holds none of the release's images.
    for t in &tags1 {
        let _ = Command::new("docker").args(["rmi", t]).output();
    }
    std::fs::write(d.path().join("app.txt"), "two").unwrap();
    let (code, _out, err) = run("v1.0.1");
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("pulled the cache source {image}:latest")),
        "{err}"
    );
    let run_step = err
        .lines()
        .find(|l| l.contains("RUN echo slow-step"))
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .expect("the RUN step is shown");
    assert!(
        err.contains(&format!("{run_step} CACHED")),
        "the RUN step came from the pulled cache: {err}"
    );
}

/// `stevedore build --dry-run --image a/b -t x FLAGS .` in `dir`: the exit code and stderr (the plan).
fn dry_run_a_b(dir: &Path, flags: &[&str]) -> (i32, String) {
    let mut args = vec!["build", "--dry-run", "--image", "a/b", "-t", "x"];
    args.extend(flags);
    args.push(".");
    let (code, _out, err) = stevedore(dir, &args, &[]);
    (code, err)
}

#[test]
fn cache_flags_take_buildx_syntax_and_refuse_what_the_daemon_cannot_do() {
    let d = context(&[("Dockerfile", "FROM scratch\n")]);
    let (code, err) = dry_run_a_b(
        d.path(),
        &["--cache-from", "type=registry,ref=r.example.com/a/b:c"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("cache from: r.example.com/a/b:c"), "{err}");
    let (code, err) = dry_run_a_b(d.path(), &["--cache-to", "type=registry,ref=r/a:c"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("buildx"), "{err}");
}
