//! What one `stevedore scan` run will do, decided before anything is read: which parts (working tree or
//! one file, a history range, what is staged), with which rules, suppressed by which files, reported
//! where, and which of stevedore's own files are never scanned. [`observe`] looks at the checkout;
//! [`Plan::decide`] is a pure function of the settings and what was observed; `--dry-run` prints
//! [`Plan::lines`].

use super::history::{self, Range};
use super::rule::{Allowlist, Rule};
use super::settings::{ReportFormat, Settings};
use super::suppress::{self, OwnFiles};
use super::{gitleaks, rules, walk};
use crate::app::App;
use crate::exit::{ExitCode, coded};
use std::path::{Path, PathBuf};

/// What was found in the checkout before planning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    /// The history range CI implies (tag: since the previous release tag; branch: the push), when the
    /// flags leave it to CI.
    pub ci_range: Option<Range>,
    /// The gitleaks configuration to take the rules from, if any.
    pub rules_file: Option<PathBuf>,
    /// Ignore files present (scanned directory, project directory, top of the repository).
    pub ignore_files: Vec<PathBuf>,
    /// Where the scanned directory sits in its repository (`""` at the top or outside one).
    pub prefix: String,
    /// The configured baseline and report as findings name files (relative to the repository).
    pub own_paths: Vec<String>,
}

/// The plan of one scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Scan the working tree (or the one file).
    pub tree: bool,
    /// Only this file of the scanned directory.
    pub file: Option<String>,
    /// Scan these commits.
    pub history: Option<Range>,
    /// Scan the index (and nothing else).
    pub staged: bool,
    /// The gitleaks configuration the rules come from; `None`: the built-in rules.
    pub rules_file: Option<PathBuf>,
    /// Ignore files applied.
    pub ignore_files: Vec<PathBuf>,
    /// The baseline applied.
    pub baseline: Option<PathBuf>,
    /// The report written.
    pub report: Option<(ReportFormat, PathBuf)>,
    /// stevedore's own files, never scanned.
    pub own: OwnFiles,
    /// Paths reported as this prefix + the path under the scanned directory.
    pub prefix: String,
    /// Scan this image instead of the repository.
    pub image: Option<super::image::Source>,
    /// Scan only this shard of the working tree and the history.
    pub shard: Option<crate::shard::Shard>,
}

impl Plan {
    /// Decides from the settings and what was observed: `--staged` alone; else the working tree (unless
    /// `--no-tree`) plus `--history`, `--since REV`, `[scan] history`, or in CI the observed range.
    pub fn decide(s: &Settings, seen: &Observed) -> anyhow::Result<Plan> {
        let history = if s.staged || s.file.is_some() {
            None
        } else if s.history {
            Some(Range::all())
        } else if let Some(rev) = &s.since {
            Some(Range {
                tip: "HEAD".into(),
                since: Some(rev.clone()),
            })
        } else {
            seen.ci_range.clone()
        };
        let history = history.filter(|_| s.image.is_none());
        let tree = !s.staged && !s.no_tree && s.image.is_none();
        if !s.staged && !tree && history.is_none() && s.image.is_none() {
            return Err(coded(
                ExitCode::Usage,
                "--no-tree leaves nothing to scan: add --history or --since REV",
            ));
        }
        Ok(Plan {
            tree,
            file: s.file.clone(),
            history,
            staged: s.staged,
            rules_file: seen.rules_file.clone(),
            ignore_files: seen.ignore_files.clone(),
            baseline: s.baseline.clone(),
            report: s.report.clone(),
            own: OwnFiles {
                paths: seen.own_paths.iter().cloned().collect(),
            },
            prefix: seen.prefix.clone(),
            image: s.image.clone(),
            shard: s.shard,
        })
    }

    /// One line for the log.
    pub fn describe(&self) -> String {
        if self.staged {
            return "staged changes".into();
        }
        if let Some(i) = &self.image {
            return i.describe();
        }
        let h = match &self.history {
            None => None,
            Some(Range { since: None, tip }) => Some(format!("history of {tip}")),
            Some(Range {
                since: Some(s),
                tip,
            }) => Some(format!("commits {s}..{tip}")),
        };
        let tree = match &self.file {
            Some(f) => format!("file {}{f}", self.prefix),
            None => "working tree".into(),
        };
        let what = match (self.tree, h) {
            (true, Some(h)) => format!("{tree} and {h}"),
            (true, None) => tree,
            (false, Some(h)) => h,
            (false, None) => "nothing".into(),
        };
        match self.shard {
            Some(s) => format!("{what}, shard {s}"),
            None => what,
        }
    }

    /// The plan as `--dry-run` prints it.
    pub fn lines(&self) -> Vec<String> {
        let list = |v: &[PathBuf]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let mut own: Vec<String> = vec![format!("{}/", suppress::OWN_DIR)];
        own.extend(suppress::IGNORE_FILES.iter().map(|s| s.to_string()));
        own.push("stevedore's reports and summary".into());
        let mut extra: Vec<&String> = self.own.paths.iter().collect();
        extra.sort();
        own.extend(extra.into_iter().cloned());
        vec![
            format!("scan: {}", self.describe()),
            format!(
                "rules: {}",
                self.rules_file
                    .as_ref()
                    .map(|p| format!("gitleaks config {}", p.display()))
                    .unwrap_or_else(|| "built-in".into())
            ),
            format!("ignore files: {}", list(&self.ignore_files)),
            format!(
                "baseline: {}",
                self.baseline
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "none".into())
            ),
            format!(
                "report: {}",
                self.report
                    .as_ref()
                    .map(|(f, p)| format!("{} to {}", f.name(), p.display()))
                    .unwrap_or_else(|| "none (table on stdout)".into())
            ),
            format!("never scanned: {}", own.join(", ")),
        ]
    }
}

/// Looks at the checkout: the CI history range (when the flags leave it to CI), the rules file, the
/// ignore files present, and where the configured baseline and report sit in the repository.
pub fn observe(app: &App, s: &Settings) -> Observed {
    let ci_range = if app.ctx.ci
        && !s.staged
        && !s.history
        && s.since.is_none()
        && s.file.is_none()
        && s.image.is_none()
    {
        ci_range(app, &s.root)
    } else {
        None
    };
    let top = gix::discover(&s.root)
        .ok()
        .and_then(|r| r.workdir().map(Path::to_path_buf));
    let mut dirs = vec![s.root.clone(), s.project_dir.clone()];
    dirs.extend(top.clone());
    let mut ignore_files: Vec<PathBuf> = Vec::new();
    let mut seen_canon: Vec<PathBuf> = Vec::new();
    for f in dirs.iter().flat_map(|d| suppress::ignore_files_in(d)) {
        let c = f.canonicalize().unwrap_or_else(|_| f.clone());
        if !seen_canon.contains(&c) {
            seen_canon.push(c);
            ignore_files.push(f);
        }
    }
    let base = top.unwrap_or_else(|| s.root.clone());
    let own_paths = [
        s.baseline.clone(),
        s.report.as_ref().map(|(_, p)| p.clone()),
    ]
    .into_iter()
    .flatten()
    .filter(|p| p != Path::new("-"))
    .filter_map(|p| relative_to(&base, &p))
    .collect();
    Observed {
        ci_range,
        rules_file: rules_file(app, &s.root),
        ignore_files,
        prefix: walk::repo_prefix(&s.root),
        own_paths,
    }
}

/// `p` (relative to the working directory) as findings name it: relative to `base`, `/`-separated.
fn relative_to(base: &Path, p: &Path) -> Option<String> {
    let abs = std::path::absolute(p).ok()?;
    let abs = abs.canonicalize().unwrap_or(abs);
    let base = base.canonicalize().ok()?;
    let rel = abs.strip_prefix(&base).ok()?;
    Some(walk::relative(Path::new(""), rel))
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

/// The gitleaks file to take the rules from: `--config` pointing at one, `GITLEAKS_CONFIG`, `[scan]
/// gitleaks_config`, or `.gitleaks.toml` in the scanned directory, in that order.
pub fn rules_file(app: &App, root: &Path) -> Option<PathBuf> {
    let cfg = &app.config.scan;
    let base_dir = app
        .config
        .source
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| app.ctx.project_dir.clone());
    [
        app.config.gitleaks_file.clone(),
        std::env::var_os("GITLEAKS_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from),
        cfg.gitleaks_config.as_ref().map(|p| base_dir.join(p)),
    ]
    .into_iter()
    .flatten()
    .next()
    .or_else(|| {
        let p = root.join(".gitleaks.toml");
        p.is_file().then_some(p)
    })
}

/// Loads the rules: the gitleaks file, else the built-in rules; then `[scan] disabled_rules` and
/// `[[scan.allowlists]]`.
pub fn load_rules(app: &App, file: Option<&Path>) -> anyhow::Result<RuleSet> {
    let cfg = &app.config.scan;
    let mut set = match file {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::Redact;
    use crate::scan::found::Limits;

    fn settings() -> Settings {
        Settings {
            root: PathBuf::from("/repo"),
            file: None,
            project_dir: PathBuf::from("/repo"),
            ci: false,
            history: false,
            since: None,
            no_tree: false,
            staged: false,
            redact: Redact::default(),
            verbose: false,
            report: None,
            baseline: None,
            exit_code: 1,
            limits: Limits::default(),
            image: None,
            image_skip: Default::default(),
            shard: None,
        }
    }

    fn ci_range() -> Observed {
        Observed {
            ci_range: Some(Range {
                tip: "abc".into(),
                since: Some("refs/tags/v1.0.0".into()),
            }),
            ..Observed::default()
        }
    }

    #[test]
    fn locally_the_working_tree_alone() {
        let p = Plan::decide(&settings(), &Observed::default()).unwrap();
        assert!(p.tree && !p.staged && p.history.is_none());
        assert_eq!(p.describe(), "working tree");
        assert!(p.lines().iter().any(|l| l == "rules: built-in"));
    }

    #[test]
    fn ci_adds_the_observed_range_and_flags_override_it() {
        let p = Plan::decide(&settings(), &ci_range()).unwrap();
        assert_eq!(
            p.describe(),
            "working tree and commits refs/tags/v1.0.0..abc"
        );
        let s = Settings {
            history: true,
            ..settings()
        };
        let p = Plan::decide(&s, &ci_range()).unwrap();
        assert_eq!(p.history, Some(Range::all()));
        let s = Settings {
            since: Some("v0.9".into()),
            no_tree: true,
            ..settings()
        };
        let p = Plan::decide(&s, &ci_range()).unwrap();
        assert!(!p.tree);
        assert_eq!(p.describe(), "commits v0.9..HEAD");
    }

    #[test]
    fn staged_scans_the_index_only() {
        let s = Settings {
            staged: true,
            ..settings()
        };
        let p = Plan::decide(&s, &ci_range()).unwrap();
        assert!(p.staged && !p.tree && p.history.is_none());
        assert_eq!(p.describe(), "staged changes");
    }

    #[test]
    fn a_single_file_has_no_history() {
        let s = Settings {
            file: Some("services.php".into()),
            ..settings()
        };
        let seen = Observed {
            prefix: "config/".into(),
            ..ci_range()
        };
        let p = Plan::decide(&s, &seen).unwrap();
        assert!(p.history.is_none());
        assert_eq!(p.describe(), "file config/services.php");
    }

    #[test]
    fn no_tree_without_history_is_a_usage_error() {
        let s = Settings {
            no_tree: true,
            ..settings()
        };
        let e = Plan::decide(&s, &Observed::default()).unwrap_err();
        assert_eq!(crate::exit::code_of(&e), ExitCode::Usage);
        assert!(crate::exit::render(&e).contains("--history"));
    }

    #[test]
    fn the_plan_names_suppressions_report_and_own_files() {
        let s = Settings {
            baseline: Some("ci/secrets-baseline.json".into()),
            report: Some((ReportFormat::Gitlab, "gl.json".into())),
            ..settings()
        };
        let seen = Observed {
            rules_file: Some(".gitleaks.toml".into()),
            ignore_files: vec![".gitleaksignore".into()],
            own_paths: vec!["ci/secrets-baseline.json".into()],
            ..Observed::default()
        };
        let p = Plan::decide(&s, &seen).unwrap();
        assert!(p.own.contains("ci/secrets-baseline.json"));
        assert!(p.own.contains(".stevedore/summary.json"));
        assert!(p.own.contains("sub/.gitleaksignore"));
        assert!(!p.own.contains("config/services.php"));
        let text = p.lines().join("\n");
        for want in [
            "rules: gitleaks config .gitleaks.toml",
            "ignore files: .gitleaksignore",
            "baseline: ci/secrets-baseline.json",
            "report: gitlab to gl.json",
            "never scanned: .stevedore/",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
    }

    #[test]
    fn an_image_scan_reads_neither_tree_nor_history() {
        let s = Settings {
            image: Some(crate::scan::image::Source::Daemon("app:1".into())),
            ..settings()
        };
        let p = Plan::decide(&s, &ci_range()).unwrap();
        assert!(!p.tree && p.history.is_none() && !p.staged);
        assert_eq!(p.describe(), "image app:1 (Docker daemon)");
    }
}
