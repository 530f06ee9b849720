//! The end of a scan: the findings table (with `-v`, each finding's redacted context line), the
//! closing summary, and the step's record in the run summary — from one place.

use super::report::{Report, table};
use super::settings::Settings;
use super::{Outcome, Plan, per_rule};
use crate::app::App;
use crate::output::{human_bytes, human_duration};
use crate::summary::{Status, StepOutcome};
use serde_json::json;
use std::path::Path;
use std::time::Instant;

/// Prints the findings and the summary, records the step and returns its outcome.
pub fn finish(app: &App, s: &Settings, o: &Outcome, started: Instant) -> StepOutcome {
    let report = Report {
        findings: &o.findings,
        redact: s.redact,
        started: chrono::Utc::now(),
        ended: chrono::Utc::now(),
        head_sha: None,
    };
    let report_on_stdout = o.report.as_deref() == Some(Path::new("-"));
    if !o.findings.is_empty() && !report_on_stdout {
        for line in table::lines(&report) {
            app.out.result(line);
        }
        if s.verbose {
            for line in table::context_lines(&report) {
                app.out.result(line);
            }
        }
        for f in &o.findings {
            if let Some(w) = f.image.as_deref() {
                app.out.result(format!("{}: {}", f.place(), w.fix()));
            }
        }
    }
    let mut step = outcome_of(o, started, s.exit_code);
    step.shard = s.shard;
    summarize(app, o);
    if let Err(e) = crate::summary::record(&s.project_dir, &step) {
        app.out.warn(format!(
            "cannot write the run summary in {}: {e}",
            s.project_dir.display()
        ));
    }
    step
}

/// `--dry-run`: prints the plan and scans nothing.
pub fn dry_run(app: &App, plan: &Plan, started: Instant) -> StepOutcome {
    app.out
        .info("scan plan (--dry-run: nothing is read or written):");
    for l in plan.lines() {
        app.out.result(format!("  {l}"));
    }
    StepOutcome::new(
        "scan",
        Status::Skipped,
        started.elapsed(),
        format!("dry run: would scan the {}", plan.describe()),
    )
    .with_facts(json!({ "dry_run": true, "plan": plan.lines() }))
}

/// The step's record: status, headline and facts.
fn outcome_of(o: &Outcome, started: Instant, exit_code: i32) -> StepOutcome {
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
        StepOutcome::new(step_name(o), status, started.elapsed(), headline).with_facts(json!({
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
            "report": o.report.as_ref().map(|p| p.display().to_string()),
        }));
    if let Some(i) = &o.image {
        i.add_facts(&mut step.facts);
    }
    if n > 0 {
        step.exit_code = Some(exit_code);
    }
    step
}

/// `scan`, or `image-scan` for an image, so a run's summary keeps both.
fn step_name(o: &Outcome) -> &'static str {
    if o.image.is_some() {
        "image-scan"
    } else {
        "scan"
    }
}

/// The closing summary table.
fn summarize(app: &App, o: &Outcome) {
    let s = &o.stats;
    let mut rows = o.image.as_ref().map(|i| i.rows()).unwrap_or_default();
    rows.push(("findings".to_string(), o.findings.len().to_string()));
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
    if let Some(p) = &o.report {
        rows.push(("report".into(), p.display().to_string()));
    }
    app.out.summary("scan summary", &rows);
}
