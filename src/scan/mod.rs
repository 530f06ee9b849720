//! `stevedore scan [PATH]`: find leaked credentials in the working tree, in the commits being released,
//! or in what is staged.
//!
//! The parts: [`walk`] (working tree), [`history`] (commits, read from the object database), [`staged`]
//! (the index); the rules come from [`rules`] or a gitleaks file ([`gitleaks`]) and run in [`detect`];
//! [`suppress`] applies ignore files and the baseline; [`report`] writes the reports. The `[scan]` table is
//! [`settings::ScanConfig`].

pub mod detect;
pub mod fingerprint;
pub mod found;
pub mod gitleaks;
pub mod history;
pub mod image;
pub mod report;
pub mod rule;
pub mod rules;
pub mod settings;
pub mod staged;
pub mod suppress;
pub mod walk;

mod plan;

pub use settings::{ByteSize, ReportFormat, ScanConfig};

use crate::app::App;
use crate::exit::{CodeExt, ExitCode, coded};
use crate::output::{human_bytes, human_duration};
use crate::summary::{Status, StepOutcome};
use detect::Detector;
use found::{Limits, Located, Stats};
use report::Report;
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Instant;

/// Command-line arguments of `stevedore scan`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ScanArgs {
    /// Directory to scan (default: the project dir). History and staged scans use the git repository
    /// holding it.
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
    /// Redact secrets in reports and logs (default true; `--redact=false` is refused in CI).
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub redact: Option<bool>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N", env = "STEVEDORE_SCAN_THREADS")]
    pub threads: Option<usize>,
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
}

/// Runs the step.
pub async fn run(app: &App, args: &ScanArgs) -> anyhow::Result<StepOutcome> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let cfg = &app.config.scan;
    let root = args
        .path
        .clone()
        .unwrap_or_else(|| app.ctx.project_dir.clone());
    if !root.is_dir() {
        return Err(coded(
            ExitCode::Usage,
            format!(
                "{} is not a directory: pass the directory to scan (default: the project dir)",
                root.display()
            ),
        ));
    }
    let redact = args.redact.or(cfg.redact).unwrap_or(true);
    if !redact && app.ctx.ci {
        return Err(coded(
            ExitCode::Usage,
            "--redact=false is refused in CI: job logs and artifacts must never hold a secret (run it on your machine instead)",
        ));
    }
    let plan = plan::Plan::decide(app, args, &root)?;
    let rules = plan::load_rules(app, &root)?;
    for n in &rules.notes {
        app.out.warn(n);
    }
    let detector = Detector::new(rules.rules, rules.global).map_err(|e| {
        coded(
            ExitCode::Usage,
            format!(
                "{}: {e}",
                rules.source.as_deref().unwrap_or("built-in rules")
            ),
        )
    })?;
    let limits = Limits {
        max_file_size: args
            .max_file_size
            .or(cfg.max_file_size)
            .map(|b| b.0)
            .unwrap_or(settings::DEFAULT_MAX_FILE_SIZE),
        exclude: settings::glob_set(&cfg.exclude).code(ExitCode::Usage)?,
        threads: args
            .threads
            .or(cfg.threads)
            .unwrap_or_else(found::default_threads)
            .max(1),
    };
    let mut sup = suppress::Suppressions::default();
    sup.load_ignore_files(&root)?;
    if let Some(b) = args.baseline.as_ref().or(cfg.baseline.as_ref()) {
        let n = sup.load_baseline(b)?;
        app.out
            .detail(format!("baseline {}: {n} known finding(s)", b.display()));
    }

    let mut all: Vec<Located> = Vec::new();
    let mut stats = Stats::default();
    {
        let _s = app
            .out
            .section("scan", &format!("scan: {}", plan.describe()), false);
        let progress = Mutex::new(app.out.progress("scanning", None, true));
        let on_bytes = |n: u64| {
            if let Ok(mut p) = progress.lock() {
                p.inc(n);
            }
        };
        let warn = |m: String| app.out.warn(m);
        if plan.staged {
            let r = staged::scan_staged(&root, &detector, &limits)?;
            stats.add(&r.stats);
            all.extend(r.findings);
        }
        let mut hist: Vec<Located> = Vec::new();
        if let Some(range) = &plan.history {
            let r = history::scan_history(&root, range, &detector, &limits, &on_bytes)?;
            stats.add(&r.stats);
            hist = r.findings;
        }
        if plan.tree {
            let prefix = walk::repo_prefix(&root);
            let r = walk::scan_tree(&root, &prefix, &detector, &limits, &on_bytes, &warn);
            stats.add(&r.stats);
            // A secret also found in history is reported once, with the commit that introduced it.
            let in_history: std::collections::HashSet<&str> =
                hist.iter().map(|f| f.fingerprint.as_str()).collect();
            all.extend(
                r.findings
                    .into_iter()
                    .filter(|f| !in_history.contains(f.fingerprint.as_str())),
            );
        }
        all.extend(hist);
        if let Ok(p) = progress.into_inner() {
            p.finish();
        }
    }
    stats.elapsed = started.elapsed();
    if redact {
        for f in &all {
            crate::redact::register(&f.finding.secret);
        }
    }
    let (findings, ignored, baselined) = sup.apply(all);
    let outcome = Outcome {
        findings,
        stats,
        ignored,
        baselined,
    };

    let report = Report {
        findings: &outcome.findings,
        redact,
        started: started_at,
        ended: chrono::Utc::now(),
        head_sha: app.ctx.commit_sha.clone(),
    };
    let format = args.report_format.or(cfg.report_format).or_else(|| {
        args.report_path
            .as_deref()
            .or(cfg.report_path.as_deref())
            .and_then(ReportFormat::from_path)
    });
    let report_path = args.report_path.clone().or_else(|| cfg.report_path.clone());
    let written = match (format, report_path) {
        (Some(f), p) => {
            let p = p.unwrap_or_else(|| PathBuf::from(f.default_path()));
            report.write(f, &p)?;
            Some(p)
        }
        (None, Some(p)) => {
            return Err(coded(
                ExitCode::Usage,
                format!(
                    "cannot tell the report format from {}: add --report-format gitlab|sarif|json|csv|junit",
                    p.display()
                ),
            ));
        }
        (None, None) => None,
    };

    let report_on_stdout = written.as_deref() == Some(std::path::Path::new("-"));
    if !outcome.findings.is_empty() && !report_on_stdout {
        for line in report::table::lines(&report) {
            app.out.result(line);
        }
    }
    let exit_code = args.exit_code.or(cfg.exit_code).unwrap_or(1);
    let step = outcome_of(&outcome, started, exit_code, written.as_deref());
    summarize(app, &outcome, written.as_deref());
    if let Err(e) = crate::summary::record(&app.ctx.project_dir, &step) {
        app.out.warn(format!(
            "cannot write the run summary in {}: {e}",
            app.ctx.project_dir.display()
        ));
    }
    Ok(step)
}

/// Findings per rule, sorted by rule id.
pub fn per_rule(findings: &[Located]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for f in findings {
        *m.entry(f.finding.rule_id.clone()).or_insert(0) += 1;
    }
    m
}

fn outcome_of(
    o: &Outcome,
    started: Instant,
    exit_code: i32,
    report: Option<&std::path::Path>,
) -> StepOutcome {
    let n = o.findings.len();
    let files: std::collections::HashSet<&str> =
        o.findings.iter().map(|f| f.file.as_str()).collect();
    let (status, headline) = if n == 0 {
        (Status::Success, "no leaks found".to_string())
    } else {
        (
            Status::Failed,
            format!(
                "{n} finding{} in {} file{}",
                if n == 1 { "" } else { "s" },
                files.len(),
                if files.len() == 1 { "" } else { "s" }
            ),
        )
    };
    let s = &o.stats;
    let mut step =
        StepOutcome::new("scan", status, started.elapsed(), headline).with_facts(json!({
            "findings": n,
            "findings_per_rule": per_rule(&o.findings),
            "suppressed_ignore_file": o.ignored,
            "suppressed_baseline": o.baselined,
            "files_scanned": s.files_scanned,
            "blobs_scanned": s.blobs_scanned,
            "commits_scanned": s.commits_scanned,
            "bytes_scanned": s.bytes_scanned,
            "mb_per_s": (s.mb_per_s() * 10.0).round() / 10.0,
            "skipped_binary": s.skipped_binary,
            "skipped_too_large": s.skipped_too_large,
            "skipped_excluded": s.skipped_excluded,
            "report": report.map(|p| p.display().to_string()),
        }));
    if n > 0 {
        step.exit_code = Some(exit_code);
    }
    step
}

fn summarize(app: &App, o: &Outcome, report: Option<&std::path::Path>) {
    let s = &o.stats;
    let mut rows = vec![("findings".to_string(), o.findings.len().to_string())];
    for (rule, n) in per_rule(&o.findings) {
        rows.push((format!("  {rule}"), n.to_string()));
    }
    if o.ignored > 0 {
        rows.push(("suppressed (ignore file)".into(), o.ignored.to_string()));
    }
    if o.baselined > 0 {
        rows.push(("suppressed (baseline)".into(), o.baselined.to_string()));
    }
    rows.push(("files scanned".into(), s.files_scanned.to_string()));
    if s.commits_scanned > 0 || s.blobs_scanned > 0 {
        rows.push(("commits scanned".into(), s.commits_scanned.to_string()));
        rows.push(("blobs scanned".into(), s.blobs_scanned.to_string()));
    }
    rows.push(("bytes scanned".into(), human_bytes(s.bytes_scanned)));
    rows.push((
        "time".into(),
        format!("{} ({:.1} MB/s)", human_duration(s.elapsed), s.mb_per_s()),
    ));
    rows.push(("skipped binary".into(), s.skipped_binary.to_string()));
    rows.push(("skipped too large".into(), s.skipped_too_large.to_string()));
    if s.skipped_excluded > 0 {
        rows.push(("skipped excluded".into(), s.skipped_excluded.to_string()));
    }
    if s.unreadable > 0 {
        rows.push(("unreadable".into(), s.unreadable.to_string()));
    }
    if let Some(p) = report {
        rows.push(("report".into(), p.display().to_string()));
    }
    app.out.summary("scan summary", &rows);
}
