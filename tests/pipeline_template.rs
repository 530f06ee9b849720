//! The template end to end: `ci/test-template` runs it with gitlab-ci-local 4.73.0 (shell executor,
//! offline) in a throwaway project — a prerelease tag takes the staging path, a protected release tag the
//! (manual) production path, an unprotected release tag is refused, 3 scan and 4 deploy shards report in one
//! message (issue 13) — with this build's stevedore, the real
//! Docker daemon and a throwaway registry on loopback to push to.

mod common;

use std::process::Command;

#[test]
fn the_template_takes_each_tag_down_its_path() {
    common::require_docker();
    for tool in ["node", "rsync", "git"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(
            found,
            "{tool} is missing: this test runs the template with gitlab-ci-local (npm, node >= 18, rsync).\n\
             Install them: apt-get install -y nodejs npm rsync git"
        );
    }
    let registry = common::Registry::start();
    let image = format!("{}/stevedore-test-pipelines/app", registry.host);
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/ci/test-template"))
        .env("STEVEDORE_BIN", common::stevedore_bin())
        .env("CI_REGISTRY", &registry.host)
        .env("CI_REGISTRY_IMAGE", &image)
        .env("CI_REGISTRY_USER", &registry.user)
        .env("CI_REGISTRY_PASSWORD", &registry.password)
        .output()
        .expect("run ci/test-template");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "ci/test-template failed:\n{stdout}\n{stderr}"
    );
    for path in ["staging", "production", "unprotected", "not-a-version"] {
        assert!(
            stdout.contains(&format!("test-template: ok   {path}: jobs:")),
            "{path}'s jobs were not checked:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("test-template: ok   own pipeline, protected v1.0.0: jobs:"),
        "our own pipeline was not checked:\n{stdout}"
    );
    assert!(!stdout.contains("test-template: FAIL"), "{stdout}");
    // Once the steps take the template's flags, every pipeline must really run.
    let built = Command::new(common::stevedore_bin())
        .args(["scan", "--help"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim_start().starts_with("--report-format"))
        })
        .unwrap_or(false);
    if built {
        assert!(
            stdout.contains("all pipelines ran as expected (full runs)"),
            "{stdout}"
        );
        assert!(stdout.contains("unprotected: outcomes:"), "{stdout}");
        assert!(stdout.contains("leak: outcomes:"), "{stdout}");
        // Issue 13: 3 scan shards, 4 deploy shards, one notify job gathering them.
        for want in [
            "ok   sharded: scan shards passed: 3",
            "ok   sharded: deploy shards passed: 4",
            "ok   sharded: each client deployed once",
            "ok   sharded: clients in the one message: 10",
            "ok   sharded: one deploy line for the 4 shards",
            "ok   sharded: the message reports success",
        ] {
            assert!(stdout.contains(want), "{want}:\n{stdout}");
        }
    }
}
