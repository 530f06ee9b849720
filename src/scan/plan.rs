//! What one `stevedore scan` run scans (tree, history range, staged) and with which rules.

use super::history::{self, Range};
use super::rule::{Allowlist, Rule};
use super::{ScanArgs, gitleaks, rules};
use crate::app::App;
use crate::exit::{ExitCode, coded};
use std::path::{Path, PathBuf};

/// The parts of one scan.
#[derive(Debug, PartialEq, Eq)]
pub struct Plan {
    /// Scan the working tree.
    pub tree: bool,
    /// Scan these commits.
    pub history: Option<Range>,
    /// Scan the index (and nothing else).
    pub staged: bool,
}

impl Plan {
    /// Decides from the flags, the `[scan]` table and, in CI, the pipeline: on a tag the working tree plus
    /// the commits since the previous release tag (the whole history when there is none); on a branch the
    /// working tree plus `CI_COMMIT_BEFORE_SHA..CI_COMMIT_SHA` (the tree alone when GitLab gives no
    /// before-SHA, e.g. a new branch).
    pub fn decide(app: &App, args: &ScanArgs, root: &Path) -> anyhow::Result<Plan> {
        if args.staged {
            return Ok(Plan {
                tree: false,
                history: None,
                staged: true,
            });
        }
        let tree = !args.no_tree;
        let history = if args.history {
            Some(Range::all())
        } else if let Some(rev) = &args.since {
            Some(Range {
                tip: "HEAD".into(),
                since: Some(rev.clone()),
            })
        } else if app.config.scan.history {
            Some(Range::all())
        } else if app.ctx.ci {
            ci_range(app, root)
        } else {
            None
        };
        if !tree && history.is_none() {
            return Err(coded(
                ExitCode::Usage,
                "--no-tree leaves nothing to scan: add --history or --since REV",
            ));
        }
        Ok(Plan {
            tree,
            history,
            staged: false,
        })
    }

    /// One line for the log.
    pub fn describe(&self) -> String {
        if self.staged {
            return "staged changes".into();
        }
        let h = match &self.history {
            None => None,
            Some(Range { since: None, tip }) => Some(format!("history of {tip}")),
            Some(Range {
                since: Some(s),
                tip,
            }) => Some(format!("commits {s}..{tip}")),
        };
        match (self.tree, h) {
            (true, Some(h)) => format!("working tree and {h}"),
            (true, None) => "working tree".into(),
            (false, Some(h)) => h,
            (false, None) => "nothing".into(),
        }
    }
}

/// The default history range in CI.
fn ci_range(app: &App, root: &Path) -> Option<Range> {
    let tip = app.ctx.commit_sha.clone().unwrap_or_else(|| "HEAD".into());
    let repo = match history::open(root) {
        Ok(r) => r,
        Err(_) => {
            app.out
                .warn("not a git checkout: scanning the working tree only");
            return None;
        }
    };
    if history::resolve(&repo, &tip).is_err() {
        app.out.warn(format!(
            "commit {tip} is not in this clone: scanning the working tree only"
        ));
        return None;
    }
    if let Some(tag) = &app.ctx.commit_tag {
        let mut since = previous_release_tag(&repo, tag);
        if let Some(prev) = &since
            && history::resolve(&repo, prev).is_err()
        {
            app.out.warn(format!(
                "previous release tag {prev} is not in this clone (shallow clone? set GIT_DEPTH: 0): scanning the history the clone holds"
            ));
            since = None;
        }
        return Some(Range { tip, since });
    }
    let before = app.ctx.commit_before_sha.clone()?;
    if history::resolve(&repo, &before).is_err() {
        app.out.warn(format!(
            "CI_COMMIT_BEFORE_SHA {before} is not in this clone (shallow clone? set GIT_DEPTH: 0): scanning the working tree only"
        ));
        return None;
    }
    Some(Range {
        tip,
        since: Some(before),
    })
}

/// The highest semantic-version tag lower than `current` (a leading `v` allowed), as a revision.
pub fn previous_release_tag(repo: &gix::Repository, current: &str) -> Option<String> {
    let parse = |s: &str| semver::Version::parse(s.trim_start_matches('v')).ok();
    let cur = parse(current)?;
    let refs = repo.references().ok()?;
    let mut best: Option<(semver::Version, String)> = None;
    for r in refs.tags().ok()?.flatten() {
        let name = r.name().shorten().to_string();
        let Some(v) = parse(&name) else { continue };
        if v >= cur {
            continue;
        }
        if best.as_ref().is_none_or(|(b, _)| v > *b) {
            best = Some((v, name));
        }
    }
    best.map(|(_, n)| format!("refs/tags/{n}"))
}

/// The rule set of a run and where it came from.
pub struct RuleSet {
    /// The rules.
    pub rules: Vec<Rule>,
    /// Global allowlists.
    pub global: Vec<Allowlist>,
    /// Warnings for the log.
    pub notes: Vec<String>,
    /// The gitleaks file the rules came from, if any.
    pub source: Option<String>,
}

/// Loads the rules: a gitleaks file (`--config` pointing at one, `GITLEAKS_CONFIG`, `[scan]
/// gitleaks_config`, or `.gitleaks.toml` in the scanned directory, in that order), else the built-in
/// rules; then `[scan] disabled_rules` and `[[scan.allowlists]]`.
pub fn load_rules(app: &App, root: &Path) -> anyhow::Result<RuleSet> {
    let cfg = &app.config.scan;
    let base_dir = app
        .config
        .source
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| app.ctx.project_dir.clone());
    let candidates: Vec<PathBuf> = [
        app.config.gitleaks_file.clone(),
        std::env::var_os("GITLEAKS_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        cfg.gitleaks_config.as_ref().map(|p| base_dir.join(p)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let file = candidates.into_iter().next().or_else(|| {
        let p = root.join(".gitleaks.toml");
        p.is_file().then_some(p)
    });
    let mut set = match &file {
        Some(p) => {
            let l = gitleaks::load(p)?;
            app.out.detail(format!(
                "rules from gitleaks config {} ({} rules)",
                p.display(),
                l.rules.len()
            ));
            RuleSet {
                rules: l.rules,
                global: l.global,
                notes: l.notes,
                source: Some(p.display().to_string()),
            }
        }
        None => RuleSet {
            rules: rules::builtin_rules(),
            global: Vec::new(),
            notes: Vec::new(),
            source: None,
        },
    };
    for d in &cfg.disabled_rules {
        if !set.rules.iter().any(|r| &r.id == d) {
            set.notes.push(format!(
                "[scan] disabled_rules: no rule {d:?} (check the id in a report or the rule list)"
            ));
        }
    }
    set.rules.retain(|r| !cfg.disabled_rules.contains(&r.id));
    set.global
        .extend(cfg.allowlists.iter().map(|a| a.to_allowlist()));
    Ok(set)
}
