//! `prune`'s settings: flags over the `[prune]` table over the defaults, resolved once.

use super::policy::Policy;
use super::size::{Age, Threshold};
use super::{
    DEFAULT_BUILD_CACHE_BUDGET, DEFAULT_KEEP_LABEL, DEFAULT_KEEP_RECENT, DEFAULT_MIN_AGE,
    PruneArgs, PruneConfig,
};
use crate::exit::{ExitCode, coded};

/// The settings after flag > environment > file > default.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The image policy.
    pub policy: Policy,
    /// The threshold.
    pub threshold: Threshold,
    /// True when the threshold was given (flag, environment or file) rather than defaulted.
    pub threshold_given: bool,
    /// Prune the build cache too.
    pub build_cache: bool,
    /// Build cache kept.
    pub build_cache_budget: u64,
}

impl Settings {
    /// Resolves flags over the `[prune]` table over the defaults; a bad pattern or label is a usage error.
    pub fn resolve(args: &PruneArgs, cfg: &PruneConfig) -> anyhow::Result<Settings> {
        let keep_src = if args.keep.is_empty() {
            &cfg.keep
        } else {
            &args.keep
        };
        let mut keep = Vec::new();
        for k in keep_src {
            keep.push(regex::Regex::new(k).map_err(|e| {
                coded(
                    ExitCode::Usage,
                    format!("--keep {k}: not a regular expression ({e}) — fix the pattern"),
                )
            })?);
        }
        // The default protection always holds; `--keep-label` (or the file's list) adds to it.
        let mut labels = vec![DEFAULT_KEEP_LABEL.to_string()];
        if !args.keep_label.is_empty() {
            labels.extend(args.keep_label.iter().cloned());
        } else if let Some(l) = &cfg.keep_label {
            labels.extend(l.iter().cloned());
        }
        let mut keep_labels = labels
            .iter()
            .map(|l| label(l, "--keep-label"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        keep_labels.dedup();
        let scope = match args.scope_label.as_ref().or(cfg.scope_label.as_ref()) {
            Some(s) => Some(label(s, "--scope-label")?),
            None => None,
        };
        let min_age = args.min_age.or(cfg.min_age).unwrap_or(Age(DEFAULT_MIN_AGE));
        Ok(Settings {
            policy: Policy {
                min_age_secs: min_age.secs() as i64,
                keep,
                keep_labels,
                keep_recent: args
                    .keep_recent
                    .or(cfg.keep_recent)
                    .unwrap_or(DEFAULT_KEEP_RECENT),
                all: args.all,
                scope,
            },
            threshold: args
                .threshold
                .or(cfg.threshold)
                .unwrap_or(Threshold::DEFAULT),
            threshold_given: args.threshold.or(cfg.threshold).is_some(),
            build_cache: args.build_cache || cfg.build_cache,
            build_cache_budget: args
                .build_cache_budget
                .or(cfg.build_cache_budget)
                .map_or(DEFAULT_BUILD_CACHE_BUDGET, |b| b.0),
        })
    }
}

/// Parses `key=value`.
fn label(s: &str, flag: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(coded(
            ExitCode::Usage,
            format!("{flag} {s}: write a label as KEY=VALUE, e.g. stevedore.keep=true"),
        )),
    }
}
