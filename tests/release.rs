//! `stevedore release` end to end: the channel decision and dotenv, the refusals (exit 3) against a real
//! git repository's tags, protected tags and deployers, and `release next` with `--create` pushing to a
//! real (bare, local) remote.

mod common;

use common::{sh, stevedore};
use std::path::Path;

fn repo(tags: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    sh("git", &["-C", d, "init", "-q", "-b", "main"]);
    sh("git", &["-C", d, "config", "user.email", "dev@example.com"]);
    sh("git", &["-C", d, "config", "user.name", "dev"]);
    sh("git", &["-C", d, "config", "tag.gpgSign", "false"]);
    for (i, t) in tags.iter().enumerate() {
        std::fs::write(dir.path().join("f.txt"), format!("{i}")).unwrap();
        sh("git", &["-C", d, "add", "f.txt"]);
        sh("git", &["-C", d, "commit", "-q", "-m", &format!("c{i}")]);
        sh("git", &["-C", d, "tag", "-a", t, "-m", t]);
    }
    if tags.is_empty() {
        std::fs::write(dir.path().join("f.txt"), "0").unwrap();
        sh("git", &["-C", d, "add", "f.txt"]);
        sh("git", &["-C", d, "commit", "-q", "-m", "c0"]);
    }
    dir
}

/// Runs `stevedore release` as a GitLab tag pipeline would.
fn release(
    dir: &Path,
    tag: &str,
    protected: bool,
    login: &str,
    extra: &[&str],
) -> (i32, String, String) {
    let mut args = vec!["release", "--tag", tag];
    args.extend_from_slice(extra);
    let pd = dir.to_str().unwrap().to_string();
    stevedore(
        dir,
        &args,
        &[
            ("CI", "true"),
            ("CI_PROJECT_DIR", &pd),
            ("CI_COMMIT_TAG", tag),
            (
                "CI_COMMIT_REF_PROTECTED",
                if protected { "true" } else { "false" },
            ),
            ("GITLAB_USER_LOGIN", login),
        ],
    )
}

#[test]
fn decides_channel_and_writes_dotenv() {
    let dir = repo(&["v1.4.0", "v1.5.0", "v1.6.0-beta.1"]);
    let env = dir.path().join("release.env");
    let envs = env.to_str().unwrap();
    let (code, out, err) = release(
        dir.path(),
        "v1.6.0-beta.2",
        false,
        "alice",
        &["--dotenv", envs, "--json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(&env).unwrap(),
        "VERSION=1.6.0-beta.2\nCHANNEL=staging\nENVIRONMENT=staging\nIS_PRERELEASE=true\nPREVIOUS_VERSION=1.6.0-beta.1\n"
    );
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["channel"], "staging");
    assert!(err.contains("goes to staging"), "{err}");

    let (code, out, err) = release(dir.path(), "v1.6.0", true, "alice", &["--dotenv", envs]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(&env).unwrap(),
        "VERSION=1.6.0\nCHANNEL=production\nENVIRONMENT=production\nIS_PRERELEASE=false\nPREVIOUS_VERSION=1.5.0\n"
    );
    // The run summary holds the decision.
    let s = std::fs::read_to_string(dir.path().join(stevedore::summary::FILE)).unwrap();
    assert!(s.contains("\"release\"") && s.contains("production"), "{s}");
}

#[test]
fn tag_table_against_real_repo() {
    // Existing: production 1.4.0, 1.5.0; staging 1.6.0-beta.1.
    let dir = repo(&["v1.4.0", "v1.5.0", "v1.6.0-beta.1", "not-a-version"]);
    let table: &[(&str, i32, &str)] = &[
        ("v1.6.0-beta.2", 0, "staging"),
        ("v1.6.0-rc.1", 0, "staging"),
        ("1.5.1", 0, "production"),
        ("v2.0.0", 0, "production"),
        ("v1.5.0", 0, "production"), // the tag being built itself: a re-run is not a re-release
        ("1.5.0", 3, "no re-release"),
        ("v1.5.0+hotfix", 3, "no re-release"),
        ("v1.4.1", 3, "no downgrade"),
        ("v1.6.0-beta.1", 0, "staging"), // the tag itself is skipped: a re-run of the same pipeline
        ("v1.6.0-beta.0", 3, "no downgrade"),
        ("v1.5.0-beta.9", 3, "no beta of a released version"),
        ("v1.6.0-alpha.1", 3, "not a staging id"),
        ("v1.6", 3, "not a semantic version"),
        ("latest", 3, "not a semantic version"),
    ];
    for (tag, want_code, want) in table {
        let (code, out, err) = release(dir.path(), tag, true, "alice", &[]);
        assert_eq!(code, *want_code, "{tag}: {out}{err}");
        assert!(err.contains(want), "{tag}: want {want}: {err}");
    }
}

#[test]
fn protected_and_deployers_policy() {
    let dir = repo(&["v1.0.0"]);
    // Production from an unprotected tag: refused.
    let (code, _, err) = release(dir.path(), "v1.1.0", false, "alice", &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("not protected"), "{err}");
    // A newline in CI_COMMIT_TAG is printed escaped: one value, one line, no forged log line.
    for tag in ["v1.1.0\nrelease approved by ops", "v1.1.0\n"] {
        let (code, _, err) = release(dir.path(), tag, false, "alice", &[]);
        assert_eq!(code, 3, "{err}");
        assert!(err.contains("v1.1.0\\n"), "escaped: {err}");
        assert!(
            !err.lines()
                .any(|l| l.starts_with("release approved") || l.starts_with(",")),
            "raw newline printed: {err}"
        );
    }
    // Staging from an unprotected tag: fine.
    let (code, _, err) = release(dir.path(), "v1.1.0-beta.1", false, "alice", &[]);
    assert_eq!(code, 0, "{err}");
    // Deployers list.
    std::fs::write(
        dir.path().join("stevedore.toml"),
        "[release]\ndeployers = [\"alice\", \"bob\"]\n",
    )
    .unwrap();
    let (code, _, err) = release(dir.path(), "v1.1.0", true, "mallory", &[]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("`mallory` (GITLAB_USER_LOGIN) is not in [release] deployers"),
        "{err}"
    );
    let (code, _, err) = release(dir.path(), "v1.1.0", true, "bob", &[]);
    assert_eq!(code, 0, "{err}");
    // allow_unprotected opens production to unprotected tags.
    std::fs::write(
        dir.path().join("stevedore.toml"),
        "[release]\nallow_unprotected = true\ntag_prefix = \"release-\"\n",
    )
    .unwrap();
    let (code, _, err) = release(dir.path(), "release-1.1.0", false, "x", &[]);
    assert_eq!(code, 0, "{err}");
    // A bad config value is a usage error naming the key.
    std::fs::write(
        dir.path().join("stevedore.toml"),
        "[release]\nstaging_id = [\"beta\"]\n",
    )
    .unwrap();
    let (code, _, err) = release(dir.path(), "v1.1.0", true, "x", &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("staging_id"), "{err}");
}

#[test]
fn release_next_computes_and_creates() {
    let dir = repo(&["v1.4.0", "v1.5.0", "v1.6.0-beta.1"]);
    let d = dir.path();
    let run = |args: &[&str]| stevedore(d, args, &[]);
    let (code, out, err) = run(&["release", "next", "--feature"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "v1.6.0");
    assert_eq!(run(&["release", "next", "--fix"]).1.trim(), "v1.5.1");
    assert_eq!(run(&["release", "next", "--major"]).1.trim(), "v2.0.0");
    assert_eq!(
        run(&["release", "next", "--feature", "--beta"]).1.trim(),
        "v1.6.0-beta.2"
    );
    assert_eq!(
        run(&["release", "next", "--major", "--beta"]).1.trim(),
        "v2.0.0-beta.1"
    );
    let (code, _, err) = run(&["release", "next"]);
    assert_eq!(code, 2, "one of --feature/--fix/--major is required: {err}");

    // --create makes an annotated tag and pushes it to origin (a bare repo here).
    let origin = tempfile::tempdir().unwrap();
    let o = origin.path().to_str().unwrap();
    sh("git", &["init", "-q", "--bare", o]);
    sh(
        "git",
        &["-C", d.to_str().unwrap(), "remote", "add", "origin", o],
    );
    let (code, out, err) = run(&[
        "--dry-run",
        "release",
        "next",
        "--feature",
        "--beta",
        "--create",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("would run `git tag -a v1.6.0-beta.2"), "{err}");
    assert_eq!(out.trim(), "v1.6.0-beta.2");
    assert_eq!(sh("git", &["-C", o, "tag", "--list"]), "");
    let (code, _, err) = run(&["release", "next", "--feature", "--beta", "--create"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(sh("git", &["-C", o, "tag", "--list"]), "v1.6.0-beta.2");
    assert_eq!(
        sh(
            "git",
            &["-C", d.to_str().unwrap(), "cat-file", "-t", "v1.6.0-beta.2"]
        ),
        "tag",
        "annotated"
    );
    // The next beta counts up from the tag just created.
    assert_eq!(
        run(&["release", "next", "--feature", "--beta"]).1.trim(),
        "v1.6.0-beta.3"
    );
}
