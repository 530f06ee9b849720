//! `stevedore scan [PATH]`: find leaked credentials in the working tree, in the commits being released,
//! or in what is staged.
//!
//! The parts: [`walk`] (working tree), [`history`] (commits, read from the object database), [`staged`]
//! (the index); the rules come from [`rules`] or a gitleaks file ([`gitleaks`]) and run in [`detect`];
//! [`suppress`] applies ignore files and the baseline; [`report`] writes the reports. The `[scan]` table is
//! [`settings::ScanConfig`].
//!
//! [`run`] reads as the pipeline does: [`Settings::resolve`] (flags, environment, `[scan]`) →
//! [`Plan::decide`] (pure: what is scanned, with which rules and suppressions, reported where; printed
//! by `--dry-run`) → [`execute::execute`] (reading and detecting) → [`outcome::finish`] (table, summary,
//! the step's record).

pub mod detect;
pub mod fingerprint;
pub mod found;
pub mod gitleaks;
pub mod history;
pub mod image;
pub mod merge;
pub mod packs;
pub mod report;
pub mod rule;
pub mod rules;
pub mod settings;
pub mod staged;
pub mod suppress;
pub mod walk;

pub mod execute;
pub mod outcome;
pub mod plan;

pub use plan::Plan;
pub use settings::{ByteSize, Redact, ReportFormat, ScanConfig, Settings};

use crate::app::App;
use crate::summary::StepOutcome;
use found::{Located, Stats};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// Command-line arguments of `stevedore scan`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ScanArgs {
    /// Directory or file to scan (default: the project dir). History and staged scans use the git
    /// repository holding it.
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// Also scan every commit reachable from HEAD (each unique blob once).
    #[arg(long)]
    pub history: bool,
    /// Also scan the commits in REV..HEAD (e.g. the previous release tag).
    #[arg(long, value_name = "REV", conflicts_with = "history")]
    pub since: Option<String>,
    /// Do not scan the working tree (only history).
    #[arg(long)]
    pub no_tree: bool,
    /// Scan only what is staged for the next commit (for a pre-commit hook).
    #[arg(long, conflicts_with_all = ["history", "since", "no_tree"])]
    pub staged: bool,
    /// Report format: gitlab, sarif, json, csv or junit (default: from --report-path's extension).
    #[arg(
        long,
        value_enum,
        value_name = "FORMAT",
        env = "STEVEDORE_SCAN_REPORT_FORMAT"
    )]
    pub report_format: Option<ReportFormat>,
    /// Where to write the report (default by format, e.g. gl-secret-detection-report.json for gitlab;
    /// `-` for stdout, instead of the table).
    #[arg(long, value_name = "FILE", env = "STEVEDORE_SCAN_REPORT_PATH")]
    pub report_path: Option<PathBuf>,
    /// A previous report (json, gitlab or sarif; gitleaks json too): only findings absent from it fail
    /// the job.
    #[arg(long, value_name = "REPORT", env = "STEVEDORE_SCAN_BASELINE")]
    pub baseline: Option<PathBuf>,
    /// Exit code when findings remain after suppression (default 1).
    #[arg(long, value_name = "N")]
    pub exit_code: Option<i32>,
    /// Skip files and blobs larger than this (default 10MB; e.g. 500kB, 20MB, 1MiB).
    #[arg(long, value_name = "SIZE", env = "STEVEDORE_SCAN_MAX_FILE_SIZE")]
    pub max_file_size: Option<ByteSize>,
    /// Redact secrets in reports and logs: true (default; bare `--redact`), false, or the percentage of
    /// each secret to hide, as gitleaks' `--redact=N`. Anything under 100 is refused in CI.
    #[arg(long, value_name = "BOOL|N", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub redact: Option<Redact>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", env = "STEVEDORE_SCAN_THREADS")]
    pub threads: Option<usize>,
    /// Scan an image in the Docker daemon instead of the repository: every layer (deleted files
    /// too), its Env, Labels, Cmd, Entrypoint and history.
    #[arg(long, value_name = "REF", conflicts_with_all = ["history", "since", "no_tree", "staged", "archive"])]
    pub image: Option<String>,
    /// Scan an image archive: a `docker save` tar, or an OCI image layout (directory or tar).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["history", "since", "no_tree", "staged"])]
    pub archive: Option<PathBuf>,
    /// Scan shard I of N (1-based): a deterministic 1/N of the history's unique blobs and of the working
    /// tree's files, split by bytes; each shard reports and fails on its own findings (default: from
    /// CI_NODE_INDEX and CI_NODE_TOTAL in a job with `parallel:`).
    #[arg(long, value_name = "I/N", conflicts_with_all = ["staged", "image", "archive"])]
    pub shard: Option<crate::shard::Shard>,
    /// `scan merge`.
    #[command(subcommand)]
    pub command: Option<ScanCommand>,
}

/// Subcommands of `stevedore scan`.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum ScanCommand {
    /// Merge the reports of a sharded scan (`scan --shard I/N`) into one, in their format (gitlab,
    /// sarif, json, csv or junit): every finding once.
    #[command(
        after_help = "Example:\n  stevedore scan merge -o .stevedore/gl-secret-detection-report.json .stevedore/gl-secret-detection-report-*-of-3.json"
    )]
    Merge(merge::MergeArgs),
}

/// What the scan found and counted, after suppression.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Findings that remain.
    pub findings: Vec<Located>,
    /// Counters of every part.
    pub stats: Stats,
    /// Findings suppressed by an ignore file.
    pub ignored: usize,
    /// Findings suppressed by the baseline.
    pub baselined: usize,
    /// The report written, if any (`-`: stdout).
    pub report: Option<PathBuf>,
    /// For an image scan: the image, its layers and what the skip list left out.
    pub image: Option<image::Summary>,
}

/// Runs the step: settings → plan → execute → outcome.
pub async fn run(app: &App, args: &ScanArgs) -> anyhow::Result<StepOutcome> {
    let started = Instant::now();
    if let Some(ScanCommand::Merge(m)) = &args.command {
        merge::run(app, m)?;
        return Ok(StepOutcome::new(
            "scan-merge",
            crate::summary::Status::Success,
            started.elapsed(),
            "reports merged",
        ));
    }
    let settings = Settings::resolve(app, args)?;
    let seen = plan::observe(app, &settings);
    let plan = Plan::decide(&settings, &seen)?;
    if app.dry_run {
        return Ok(outcome::dry_run(app, &plan, started));
    }
    let outcome = execute::execute(app, &settings, &plan)?;
    Ok(outcome::finish(app, &settings, &outcome, started))
}

/// Findings per rule, sorted by rule id.
pub fn per_rule(findings: &[Located]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for f in findings {
        *m.entry(f.finding.rule_id.clone()).or_insert(0) += 1;
    }
    m
}
