//! `stevedore prune`: keep the runner's disk under a threshold. Least recently used images go first (dangling
//! ones before them), an image in use — by a container or by a running build — never; optionally old build
//! cache beyond a budget.
//!
//! [`run`] reads as the pipeline step: **settings** ([`Settings`]: flags over `[prune]` over defaults) →
//! **observe** ([`observe`]: `/system/df`, lineage, the record, build leases, the limit) → **plan**
//! ([`plan::Planned`], pure: every image, remove or keep and why; `--dry-run` prints it) → **execute**
//! ([`execute`]: removals checked against leases, re-plan rounds, the record, the build cache) →
//! **outcome** ([`outcome`]: lines, closing table, summary record, exit code).
//!
//! The decisions are pure ([`policy`]); usage comes from the daemon's `/system/df` in the engine's own
//! shape ([`usage`]); stevedore remembers what it built and used ([`record`], [`record_use`]); a running
//! build's base images are leased ([`lease`]); thresholds, sizes and ages parse in [`size`]; the Docker
//! calls are in [`docker`].
//!
//! Threshold semantics: the threshold applies to Docker's whole usage (image layers counted once,
//! containers' writable layers, volumes, build cache — what `docker system df` adds up). A percentage is a
//! share of the size of the filesystem holding Docker's data root. With `--scope-label`, only images
//! carrying that label are candidates, but the usage compared is still Docker's whole usage: a project on a
//! shared runner frees what it may until the disk is under the threshold, and never touches other images.

pub mod docker;
pub mod execute;
pub mod lease;
pub mod observe;
pub mod outcome;
pub mod plan;
pub mod policy;
pub mod record;
pub mod settings;
pub mod size;
pub mod usage;

pub use execute::{Tally, apply};
pub use observe::{images_of, lineage};
pub use outcome::exit_of;
pub use plan::plan_rows;
pub use record::record_use;
pub use settings::Settings;

use crate::app::App;
use crate::summary::StepOutcome;
use serde::Deserialize;
use size::{Age, ByteSize, Threshold};
use std::time::{Duration, Instant};

/// Runs the step: settings → observe → plan → execute → outcome.
pub async fn run(app: &App, args: &PruneArgs) -> anyhow::Result<StepOutcome> {
    let started = Instant::now();
    let s = Settings::resolve(args, &app.config.prune)?;
    let conn = docker::connect().await?;
    let seen = observe::observe(app, &conn, &s).await?;
    if let Some(why) = &seen.unmeasured {
        return Ok(outcome::skipped(app, why, started));
    }
    let planned = plan::Planned::new(&s, &seen);
    outcome::announce(app, &planned);
    if app.dry_run {
        let cache = seen.df.build_cache_bytes();
        return Ok(outcome::dry_run(app, &s, &planned, cache, started));
    }
    outcome::show_plan(app, &planned);
    let done = execute::execute(app, &s, &conn, &planned, &seen).await?;
    Ok(outcome::real_run(app, &planned, &done, started))
}

/// Default `--min-age`: another job may be about to use a younger image.
pub const DEFAULT_MIN_AGE: Duration = Duration::from_secs(3600);
/// Default `--keep-label`.
pub const DEFAULT_KEEP_LABEL: &str = "stevedore.keep=true";
/// Default `--keep-recent`: newest tags kept per repository.
pub const DEFAULT_KEEP_RECENT: usize = 2;
/// Default `--build-cache-budget`.
pub const DEFAULT_BUILD_CACHE_BUDGET: u64 = 5_000_000_000;

/// The `[prune]` table of `stevedore.toml`. Every key is optional; a flag or its environment variable wins.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PruneConfig {
    /// `min_age = "1h"`: images created or used more recently than this stay.
    pub min_age: Option<Age>,
    /// `keep = ["^registry.example.com/base:"]`: images with a `repo:tag` matching one of these stay.
    pub keep: Vec<String>,
    /// `keep_label = ["team=php"]`: images carrying one of these labels stay, besides `stevedore.keep=true`.
    pub keep_label: Option<Vec<String>>,
    /// `keep_recent = 2`: the newest tags of each repository that stay.
    pub keep_recent: Option<usize>,
    /// `threshold = "80%"` or `"20GB"`: Docker's usage must end under this.
    pub threshold: Option<Threshold>,
    /// `build_cache = true`: also prune the build cache.
    pub build_cache: bool,
    /// `build_cache_budget = "5GB"`: build cache kept.
    pub build_cache_budget: Option<ByteSize>,
    /// `scope_label = "stevedore.project=shop"`: only images with this label are considered.
    pub scope_label: Option<String>,
}

/// Command-line arguments of `stevedore prune`. `Default` is the documented policy (what `build` runs as its
/// disk guard).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct PruneArgs {
    /// Keep images created or used more recently than this, e.g. 30m, 2h, 1d [default: 1h]
    #[arg(long, value_name = "DURATION", env = "STEVEDORE_PRUNE_MIN_AGE")]
    pub min_age: Option<Age>,
    /// Keep images with a repo:tag matching this regular expression (repeatable)
    #[arg(long, value_name = "REGEX")]
    pub keep: Vec<String>,
    /// Also keep images carrying this label (repeatable); stevedore.keep=true is always kept
    #[arg(long, value_name = "KEY=VALUE")]
    pub keep_label: Vec<String>,
    /// Keep the N newest tags of each repository [default: 2]
    #[arg(long, value_name = "N", env = "STEVEDORE_PRUNE_KEEP_RECENT")]
    pub keep_recent: Option<usize>,
    /// Remove until Docker's usage is under this: a size (20GB) or a share of the filesystem holding
    /// Docker's data root (80%) [default: 80%]
    #[arg(long, value_name = "SIZE|PERCENT", env = "STEVEDORE_PRUNE_THRESHOLD")]
    pub threshold: Option<Threshold>,
    /// Remove every image the policy allows, whatever the usage
    #[arg(long)]
    pub all: bool,
    /// Also prune build cache unused for --min-age, beyond --build-cache-budget
    #[arg(long)]
    pub build_cache: bool,
    /// Build cache to keep with --build-cache [default: 5GB]
    #[arg(long, value_name = "SIZE", env = "STEVEDORE_PRUNE_BUILD_CACHE_BUDGET")]
    pub build_cache_budget: Option<ByteSize>,
    /// Only consider images carrying this label (for runners others share)
    #[arg(long, value_name = "KEY=VALUE", env = "STEVEDORE_PRUNE_SCOPE_LABEL")]
    pub scope_label: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::ExitCode;
    use std::collections::HashMap;

    #[test]
    fn defaults_are_the_documented_policy() {
        let s = Settings::resolve(&PruneArgs::default(), &PruneConfig::default()).unwrap();
        assert_eq!(s.policy.min_age_secs, 3600);
        assert_eq!(s.policy.keep_recent, 2);
        assert_eq!(
            s.policy.keep_labels,
            vec![("stevedore.keep".to_string(), "true".to_string())]
        );
        assert_eq!(s.threshold, Threshold::Percent(80.0));
        assert!(
            !s.threshold_given,
            "the default threshold may be skipped when unmeasurable"
        );
        assert!(!s.policy.all && !s.build_cache && s.policy.scope.is_none());
        assert!(s.policy.keep.is_empty());
    }

    #[test]
    fn flags_win_over_the_file() {
        let cfg: crate::config::Config = toml::from_str(
            "[prune]\nmin_age = \"2h\"\nkeep_recent = 5\nthreshold = \"20GB\"\nkeep = [\"^base:\"]\nscope_label = \"team=a\"\n",
        )
        .unwrap();
        let s = Settings::resolve(&PruneArgs::default(), &cfg.prune).unwrap();
        assert_eq!(s.policy.min_age_secs, 7200);
        assert_eq!(s.policy.keep_recent, 5);
        assert_eq!(s.threshold, Threshold::Bytes(20_000_000_000));
        assert!(s.threshold_given);
        assert_eq!(s.policy.scope, Some(("team".into(), "a".into())));
        let args = PruneArgs {
            keep_recent: Some(1),
            threshold: Some(Threshold::Percent(50.0)),
            ..Default::default()
        };
        let s = Settings::resolve(&args, &cfg.prune).unwrap();
        assert_eq!(s.policy.keep_recent, 1);
        assert_eq!(s.threshold, Threshold::Percent(50.0));
        let bad = toml::from_str::<crate::config::Config>("[prune]\nthreshold = \"lots\"\n")
            .unwrap_err()
            .to_string();
        assert!(bad.contains("threshold"), "{bad}");
    }

    #[test]
    fn parents_skip_hidden_intermediates_unless_a_container_uses_them() {
        let df: usage::DiskUsage = serde_json::from_str(
            r#"{"LayersSize":0,"Images":[
              {"Id":"sha256:t","ParentId":"sha256:i1","RepoTags":["t:1"],"Created":5,"Size":30,"SharedSize":0,"Containers":0},
              {"Id":"sha256:b","ParentId":"","RepoTags":["b:1"],"Created":1,"Size":10,"SharedSize":10,"Containers":0},
              {"Id":"sha256:u","ParentId":"sha256:i3","RepoTags":["u:1"],"Created":5,"Size":30,"SharedSize":0,"Containers":-1}],
             "Containers":[{"Id":"c","ImageID":"sha256:i3","Created":9},{"Id":"d","ImageID":"sha256:u","Created":7}]}"#,
        )
        .unwrap();
        let lineage: HashMap<String, String> = [
            ("sha256:t", "sha256:i1"),
            ("sha256:i1", "sha256:i2"),
            ("sha256:i2", "sha256:b"),
            ("sha256:u", "sha256:i3"),
            ("sha256:i3", "sha256:b"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let mut rec = record::Record::default();
        rec.note("t:1", 8);
        let imgs = images_of(&df, &lineage, &rec);
        let get = |id: &str| imgs.iter().find(|i| i.id == id).unwrap();
        assert_eq!(get("sha256:t").parent_id.as_deref(), Some("sha256:b"));
        assert_eq!(get("sha256:t").recorded_use, Some(8));
        // i3 is hidden but used by a container: listed, so u's parent is i3 and i3 keeps b.
        assert_eq!(get("sha256:u").parent_id.as_deref(), Some("sha256:i3"));
        assert!(get("sha256:i3").hidden && get("sha256:i3").containers == 1);
        assert_eq!(get("sha256:i3").parent_id.as_deref(), Some("sha256:b"));
        // The engine did not count u's containers (-1): counted from the list.
        assert_eq!(get("sha256:u").containers, 1);
        assert!(
            imgs.iter()
                .all(|i| i.id != "sha256:i1" && i.id != "sha256:i2")
        );
    }

    #[test]
    fn keep_labels_add_to_the_default() {
        let args = PruneArgs {
            keep_label: vec!["team=php".into()],
            ..Default::default()
        };
        let cfg: crate::config::Config =
            toml::from_str("[prune]\nkeep_label = [\"tier=db\"]\n").unwrap();
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        let s = Settings::resolve(&args, &PruneConfig::default()).unwrap();
        assert_eq!(
            s.policy.keep_labels,
            vec![pair("stevedore.keep", "true"), pair("team", "php")]
        );
        // The file's list adds too; a flag replaces the file's list, never the default.
        let s = Settings::resolve(&PruneArgs::default(), &cfg.prune).unwrap();
        assert_eq!(
            s.policy.keep_labels,
            vec![pair("stevedore.keep", "true"), pair("tier", "db")]
        );
        let s = Settings::resolve(&args, &cfg.prune).unwrap();
        assert_eq!(
            s.policy.keep_labels,
            vec![pair("stevedore.keep", "true"), pair("team", "php")]
        );
    }

    #[test]
    fn removal_failures_set_the_exit_code() {
        assert_eq!(exit_of(3, 0), None);
        assert_eq!(exit_of(0, 0), None);
        assert_eq!(exit_of(0, 2), Some(4), "the daemon refused every removal");
        assert_eq!(exit_of(2, 1), Some(1), "some went, some did not");
    }

    #[test]
    fn bad_patterns_and_labels_are_usage_errors() {
        let args = PruneArgs {
            keep: vec!["(".into()],
            ..Default::default()
        };
        let e = Settings::resolve(&args, &PruneConfig::default()).unwrap_err();
        assert_eq!(crate::exit::code_of(&e), ExitCode::Usage);
        let args = PruneArgs {
            scope_label: Some("novalue".into()),
            ..Default::default()
        };
        let e = Settings::resolve(&args, &PruneConfig::default()).unwrap_err();
        assert_eq!(crate::exit::code_of(&e), ExitCode::Usage);
        assert!(crate::exit::render(&e).contains("KEY=VALUE"));
    }
}
