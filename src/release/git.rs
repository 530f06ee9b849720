//! The git side of a release: read the repository's tags, create an annotated tag and push it (git CLI).

use crate::exit::{CodeExt, ExitCode, coded};
use anyhow::Context;
use std::path::Path;
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .with_context(|| format!("cannot run `git {}`: is git installed?", args.join(" ")))
        .code(ExitCode::Outside)?;
    if !out.status.success() {
        return Err(coded(
            ExitCode::Outside,
            format!(
                "`git {}` failed in {}: {}",
                args.join(" "),
                dir.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Fetches the tags of `remote` (a CI clone often holds only the tag being built).
pub fn fetch_tags(dir: &Path, remote: &str) -> anyhow::Result<()> {
    git(dir, &["fetch", "--tags", "--quiet", remote]).map(|_| ())
}

/// Every tag name of the repository at `dir`.
pub fn tags(dir: &Path) -> anyhow::Result<Vec<String>> {
    let s = git(dir, &["tag", "--list"]).context(
        "cannot list the repository's tags: run stevedore in the git checkout (or set CI_PROJECT_DIR)",
    )?;
    Ok(s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// Creates the annotated tag `tag` on HEAD with `message`.
pub fn create_tag(dir: &Path, tag: &str, message: &str) -> anyhow::Result<()> {
    git(dir, &["tag", "-a", tag, "-m", message]).map(|_| ())
}

/// Pushes the tag `tag` to `remote`.
pub fn push_tag(dir: &Path, remote: &str, tag: &str) -> anyhow::Result<()> {
    git(dir, &["push", "--quiet", remote, &format!("refs/tags/{tag}")])
        .with_context(|| {
            format!(
                "tag {tag} was created locally but pushing it to {remote} failed: check the remote and your rights, then `git push {remote} {tag}`"
            )
        })
        .map(|_| ())
}
