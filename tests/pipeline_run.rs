//! `stevedore run` from the command line: step names validated (exit 2 listing them), the dry run's plan
//! without Docker, and a real run recording every step's outcome for notify.

mod common;

use std::path::Path;

fn checkout() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q", "-b", "main"]);
    std::fs::write(dir.path().join("main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        "FROM scratch\nCOPY main.rs /main.rs\n",
    )
    .unwrap();
    git(&["add", "-A"]);
    git(&[
        "-c",
        "user.email=dev@example.com",
        "-c",
        "user.name=dev",
        "commit",
        "-qm",
        "init",
    ]);
    dir
}

const NAMES: &str = "scan, prune, build, release, deploy, notify";

#[test]
fn a_bad_step_name_is_a_usage_error_listing_the_steps() {
    let dir = checkout();
    for flag in ["--from", "--until", "--only"] {
        let (code, _, err) = common::stevedore(dir.path(), &["run", flag, "push"], &[]);
        assert_eq!(code, 2, "{flag}: {err}");
        assert!(err.contains("invalid value 'push'"), "{err}");
        assert!(err.contains(NAMES), "{flag} does not list the steps: {err}");
    }
}

#[test]
fn from_after_until_and_only_with_from_are_usage_errors() {
    let dir = checkout();
    let (code, _, err) = common::stevedore(
        dir.path(),
        &["run", "--from", "deploy", "--until", "build"],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--from deploy comes after --until build"),
        "{err}"
    );
    assert!(err.contains(NAMES), "{err}");
    let (code, _, err) = common::stevedore(
        dir.path(),
        &["run", "--only", "scan", "--from", "scan"],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(!summary_exists(dir.path()));
}

fn summary_exists(dir: &Path) -> bool {
    dir.join(stevedore::summary::FILE).exists()
}

#[test]
fn the_dry_run_plans_every_step_without_docker() {
    let dir = checkout();
    let (code, out, err) = common::stevedore(
        dir.path(),
        &["run", "--dry-run"],
        &[("DOCKER_HOST", "unix:///nonexistent/stevedore-test.sock")],
    );
    let all = format!("{out}{err}");
    assert_eq!(code, 0, "{all}");
    for step in [
        "stevedore scan",
        "stevedore prune",
        "stevedore build",
        "stevedore release",
        "stevedore deploy",
        "stevedore notify",
    ] {
        assert!(all.contains(step), "the plan lacks {step}: {all}");
    }
    assert!(
        all.contains(
            "needs a Docker daemon, and none answers at unix:///nonexistent/stevedore-test.sock"
        ),
        "{all}"
    );
    assert!(all.contains("no push"), "{all}");
    assert!(all.contains("no tag: release and deploy run on semantic-version tags only"));
    assert!(all.contains("4 steps would run, 2 skipped"), "{all}");
    assert!(!summary_exists(dir.path()), "a dry run wrote the summary");
}

#[test]
fn the_dry_run_follows_the_ci_context() {
    let dir = checkout();
    let (code, out, err) = common::stevedore(
        dir.path(),
        &["run", "--dry-run", "--from", "build"],
        &[
            ("CI", "true"),
            ("CI_PROJECT_DIR", dir.path().to_str().unwrap()),
            ("CI_COMMIT_TAG", "v1.2.3"),
            ("CI_COMMIT_REF_PROTECTED", "false"),
            ("CI_REGISTRY", "registry.example.com"),
            ("CI_REGISTRY_IMAGE", "registry.example.com/acme/app"),
        ],
    );
    let all = format!("{out}{err}");
    assert_eq!(code, 0, "{all}");
    assert!(
        all.contains("pushes to registry.example.com/acme/app"),
        "{all}"
    );
    assert!(all.contains("release refuses production (exit 3)"), "{all}");
    assert!(
        !all.contains("stevedore scan "),
        "--from build planned scan: {all}"
    );
}

#[test]
fn a_real_run_records_each_step_and_ends_with_the_table() {
    let dir = checkout();
    // Scan, release, deploy and notify touch no Docker state: safe on a shared daemon.
    let (code, out, err) = common::stevedore(
        dir.path(),
        &["run", "--only", "scan,release,deploy,notify"],
        &[],
    );
    let all = format!("{out}{err}");
    assert_eq!(code, 0, "{all}");
    for section in ["==> stevedore run: scan", "==> stevedore run: notify"] {
        assert!(all.contains(section), "{all}");
    }
    assert!(all.contains("step     status"), "no summary table: {all}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(stevedore::summary::FILE)).unwrap())
            .unwrap();
    let steps: Vec<&str> = summary["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["scan", "release", "deploy", "notify"]);
    let deploy = &summary["steps"][2];
    assert_eq!(deploy["status"], "skipped");
    assert_eq!(
        deploy["headline"],
        "no tag: release and deploy run on semantic-version tags only"
    );
}

#[test]
fn release_hands_its_environment_to_the_later_steps_without_the_process_environment() {
    // A staging tag; `[release]` names the staging environment, so only release knows "stage-eu".
    let dir = checkout();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}");
    };
    git(&[
        "-c",
        "user.email=dev@example.com",
        "-c",
        "user.name=dev",
        "tag",
        "-a",
        "v1.2.3-rc.1",
        "-m",
        "rc",
    ]);
    std::fs::write(
        dir.path().join("stevedore.toml"),
        "[release]\nstaging_environment = \"stage-eu\"\n",
    )
    .unwrap();
    let pd = dir.path().to_str().unwrap().to_string();
    let (code, out, err) = common::stevedore(
        dir.path(),
        &["run", "--only", "release,deploy,notify"],
        &[
            ("CI", "true"),
            ("CI_PROJECT_DIR", &pd),
            ("CI_PROJECT_NAME", "shop"),
            ("CI_COMMIT_TAG", "v1.2.3-rc.1"),
            ("CI_COMMIT_REF_PROTECTED", "false"),
            ("GITLAB_USER_LOGIN", "alice"),
        ],
    );
    let all = format!("{out}{err}");
    assert_eq!(code, 0, "{all}");
    // notify's topic is `{project} / {environment}`: the environment came from release's outcome.
    assert!(
        err.lines()
            .any(|l| l.starts_with("topic") && l.ends_with("shop / stage-eu")),
        "{all}"
    );
    assert!(out.contains("release — 1.2.3-rc.1 → staging"), "{all}");
}

#[test]
fn concurrent_steps_in_one_directory_keep_every_outcome() {
    // scan, release and build started at once in one project dir, as parallel CI jobs sharing a
    // workspace do: every round, the summary holds all three steps (20.3).
    common::require_docker();
    let dir = checkout();
    let image = format!("stevedore-test/summary-lock-{}", std::process::id());
    let env = [
        ("CI", "true"),
        ("CI_PIPELINE_ID", "5150"),
        ("CI_PROJECT_DIR", dir.path().to_str().unwrap()),
        ("CI_COMMIT_TAG", "v1.0.0-rc.1"),
        ("CI_COMMIT_REF_NAME", "v1.0.0-rc.1"),
    ];
    for round in 0..3 {
        let _ = std::fs::remove_file(dir.path().join(stevedore::summary::FILE));
        let children: Vec<_> = [
            vec!["scan"],
            vec!["release"],
            vec!["build", "--image", image.as_str()],
        ]
        .into_iter()
        .map(|args| {
            let args: Vec<String> = args.into_iter().map(String::from).collect();
            let d = dir.path().to_path_buf();
            let env: Vec<(String, String)> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            std::thread::spawn(move || {
                let env: Vec<(&str, &str)> =
                    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                common::stevedore(&d, &args, &env)
            })
        })
        .collect();
        for c in children {
            let (_, _, err) = c.join().unwrap();
            assert!(!err.contains("cannot write"), "{err}");
        }
        let s = stevedore::summary::RunSummary::load(dir.path());
        let names: Vec<&str> = s.steps.iter().map(|o| o.step.as_str()).collect();
        // (build also records the prune it runs as its disk guard)
        for want in ["build", "release", "scan"] {
            assert!(
                names.contains(&want),
                "round {round}: {want} lost: {:?}",
                s.steps
            );
        }
        assert!(
            s.steps
                .iter()
                .all(|o| o.scope.pipeline_id.as_deref() == Some("5150"))
        );
    }
    let ids = common::docker(&["images", "-q", "--filter", &format!("reference={image}")]);
    let mut ids: Vec<&str> = ids.lines().collect();
    ids.dedup();
    for id in ids {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f", id])
            .output();
    }
}

#[test]
fn without_a_registry_run_says_first_that_deploy_is_skipped_and_writes_the_dotenv_it_shows() {
    // A staging tag and a staging target, no registry: the plan and the run both skip deploy because it
    // needs a pushed digest — never "no image to deploy … pass --image", which a run user cannot do (17.3).
    common::require_docker();
    let dir = checkout();
    std::fs::write(
        dir.path().join("stevedore.toml"),
        "[[deploy.targets]]\nname = \"clinic-a\"\nenvironment = \"staging\"\nprovider = \"http\"\n\
         url = \"http://127.0.0.1:9/v1/services/{client}\"\nauth = \"none\"\n",
    )
    .unwrap();
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args(args)
            .current_dir(dir.path())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["add", "-A"]);
    git(&[
        "-c",
        "user.email=d@example.com",
        "-c",
        "user.name=d",
        "commit",
        "-qm",
        "cfg",
    ]);
    git(&["tag", "v1.1.0-beta.1"]);
    let image = format!("stevedore-test/run-no-registry-{}", std::process::id());
    let env = [
        ("CI_COMMIT_TAG", "v1.1.0-beta.1"),
        ("STEVEDORE_IMAGE", image.as_str()),
    ];
    let (code, out, err) = common::stevedore(dir.path(), &["run", "--dry-run"], &env);
    let plan = format!("{out}{err}");
    assert_eq!(code, 0, "{plan}");
    assert!(!plan.contains("none configured"), "{plan}");
    let deploy_line = plan
        .lines()
        .find(|l| l.starts_with("deploy "))
        .unwrap_or_else(|| panic!("{plan}"));
    assert!(deploy_line.contains("skip"), "{deploy_line}");
    assert!(
        deploy_line.contains("deploy needs a pushed digest"),
        "{deploy_line}"
    );
    assert!(plan.contains("--dotenv .stevedore/build.env"), "{plan}");

    let (code, out, err) = common::stevedore(dir.path(), &["run", "--from", "build"], &env);
    let all = format!("{out}{err}");
    let ids = common::docker(&["images", "-q", "--filter", &format!("reference={image}")]);
    for id in ids.lines() {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f", id])
            .output();
    }
    assert_eq!(code, 0, "{all}");
    let warned = err.find("deploy will be skipped: deploy needs a pushed digest");
    let built = err.find("==> stevedore run: build");
    assert!(
        warned.is_some() && warned < built,
        "said before starting: {all}"
    );
    assert!(!all.contains("no image to deploy"), "{all}");
    let summary = stevedore::summary::RunSummary::load(dir.path());
    let deploy = summary.steps.iter().find(|s| s.step == "deploy").unwrap();
    assert_eq!(deploy.status, stevedore::summary::Status::Skipped);
    assert!(
        deploy.headline.contains("deploy needs a pushed digest"),
        "{}",
        deploy.headline
    );
    let dotenv = std::fs::read_to_string(dir.path().join(".stevedore/build.env"))
        .expect("the dotenv the plan shows is written");
    assert!(dotenv.contains("IMAGE_ID="), "{dotenv}");
}

/// The README section `## NAME` (up to the next `## `).
fn readme_section(readme: &str, heading: &str) -> String {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README has no {heading}"));
    let rest = &readme[start + 1..];
    // A `##` section runs to the next `##`; a `###` one to the next heading of either level.
    let end = if heading.starts_with("###") {
        rest[3..].find("\n##").map(|i| i + 3)
    } else {
        rest[3..].find("\n## ").map(|i| i + 3)
    };
    rest[..end.unwrap_or(rest.len())].to_string()
}

/// The long flags (`--name`) in the first cell of the section's table rows.
fn table_flags(section: &str) -> Vec<String> {
    let re = regex::Regex::new(r"--[a-z][a-z0-9-]+").unwrap();
    let mut flags: Vec<String> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('|').nth(1))
        .flat_map(|cell| {
            re.find_iter(cell)
                .map(|m| m.as_str().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    flags.sort();
    flags.dedup();
    flags
}

#[test]
fn help_matches_the_readme_flag_tables() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let re = regex::Regex::new(r"(?m)^\s+(?:-\w, )?(--[a-z][a-z0-9-]+)").unwrap();
    for (cmd, heading) in [
        ("scan", "## scan"),
        ("build", "## build"),
        ("prune", "## prune"),
        ("notify", "## notify"),
        ("release", "### release"),
        ("deploy", "### deploy"),
        ("run", "### On a laptop, or in one job: `stevedore run`"),
    ] {
        let (code, help, err) = common::stevedore(dir.path(), &[cmd, "--help"], &[]);
        assert_eq!(code, 0, "{err}");
        let section = readme_section(&readme, heading);
        let documented = table_flags(&section);
        assert!(!documented.is_empty(), "no flag table for {cmd}");
        for f in &documented {
            assert!(
                help.contains(f.as_str()),
                "README's {cmd} table has {f}, `{cmd} --help` does not:\n{help}"
            );
        }
        // Every flag the command takes is in its README section.
        for c in re.captures_iter(&help) {
            let f = &c[1];
            if [
                "--help",
                "--config",
                "--dry-run",
                "--verbose",
                "--quiet",
                "--color",
            ]
            .contains(&f)
            {
                continue;
            }
            assert!(
                section.contains(f),
                "`{cmd} --help` has {f}, README's {heading} does not"
            );
        }
        // Enums print as typed.
        for typed in ["[default: Auto]", "Auto,", "[possible values: Auto"] {
            assert!(
                !help.contains(typed),
                "{cmd} --help prints an enum as Rust spells it: {help}"
            );
        }
    }
    let (_, top, _) = common::stevedore(dir.path(), &["--help"], &[]);
    assert!(
        top.contains("scan → prune → build → release → deploy → notify"),
        "{top}"
    );
    let (_, build, _) = common::stevedore(dir.path(), &["build", "--help"], &[]);
    for key in ["IMAGE", "IMAGE_DIGEST", "IMAGE_TAGS", "IMAGE_ID"] {
        assert!(
            build.contains(key),
            "build --help does not list the dotenv key {key}"
        );
    }
}
