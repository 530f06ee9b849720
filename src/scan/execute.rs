//! The side effects of a scan, driven by its [`Plan`]: load the rules and the suppressions it names,
//! read every part (working tree or file, history, staged), suppress, write the report.

use super::detect::Detector;
use super::found::{Limits, Located, Stats};
use super::report::Report;
use super::settings::Settings;
use super::suppress::Suppressions;
use super::{Outcome, Plan, history, plan, staged, walk};
use crate::app::App;
use crate::exit::{ExitCode, coded};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

/// Scans what the plan says and returns what remains after suppression.
pub fn execute(app: &App, s: &Settings, plan: &Plan) -> anyhow::Result<Outcome> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let detector = detector(app, plan)?;
    let sup = suppressions(app, plan)?;
    let limits = Limits {
        own: plan.own.clone(),
        ..s.limits.clone()
    };
    let (all, mut stats, image) = match &plan.image {
        Some(src) => {
            let (f, st, sum) = scan_image(app, s, src, &detector, &limits)?;
            (f, st, Some(sum))
        }
        None => {
            let (f, st) = scan_parts(app, s, plan, &detector, &limits)?;
            (f, st, None)
        }
    };
    stats.elapsed = started.elapsed();
    if let Some(e) = Detector::failures().first() {
        return Err(coded(ExitCode::Usage, e.clone()));
    }
    if s.redact.is_on() {
        for f in &all {
            crate::redact::register_found(&f.finding.secret);
        }
    }
    let (findings, ignored, baselined) = sup.apply(all);
    let report = match &plan.report {
        Some((format, path)) => {
            Report {
                findings: &findings,
                redact: s.redact,
                started: started_at,
                ended: chrono::Utc::now(),
                head_sha: app.ctx.commit_sha.clone(),
            }
            .write(*format, path)?;
            Some(path.clone())
        }
        None => None,
    };
    Ok(Outcome {
        findings,
        stats,
        ignored,
        baselined,
        report,
        image,
    })
}

/// Reads an image (daemon or archive) with progress; see [`super::image`].
fn scan_image(
    app: &App,
    s: &Settings,
    src: &super::image::Source,
    detector: &Detector,
    limits: &Limits,
) -> anyhow::Result<(Vec<Located>, Stats, super::image::Summary)> {
    let _s = app
        .out
        .section("scan", &format!("scan: {}", src.describe()), false);
    let progress = Mutex::new(app.out.progress("scanning", None, true));
    let on_bytes = |n: u64| {
        if let Ok(mut p) = progress.lock() {
            p.inc(n);
        }
    };
    let (findings, stats, summary, notes) = tokio::task::block_in_place(|| {
        super::image::scan_source(src, &s.image_skip, detector, limits, &on_bytes)
    })?;
    if let Ok(p) = progress.into_inner() {
        p.finish();
    }
    for n in notes {
        app.out.warn(n);
    }
    Ok((findings, stats, summary))
}

/// The detector of the plan's rules (a gitleaks file or the built-in rules), warnings logged.
fn detector(app: &App, plan: &Plan) -> anyhow::Result<Detector> {
    let rules = plan::load_rules(app, plan.rules_file.as_deref())?;
    for n in &rules.notes {
        app.out.warn(n);
    }
    Detector::new(rules.rules, rules.global).map_err(|e| {
        coded(
            ExitCode::Usage,
            format!(
                "{}: {e}",
                rules.source.as_deref().unwrap_or("built-in rules")
            ),
        )
    })
}

/// The ignore files and the baseline the plan names.
fn suppressions(app: &App, plan: &Plan) -> anyhow::Result<Suppressions> {
    let mut sup = Suppressions::default();
    for p in &plan.ignore_files {
        sup.load_ignore_file(p)?;
    }
    if let Some(b) = &plan.baseline {
        let n = sup.load_baseline(b)?;
        app.out
            .detail(format!("baseline {}: {n} known finding(s)", b.display()));
    }
    Ok(sup)
}

/// The working-tree part of the plan; with a shard, only the shard's files (split by bytes over the
/// files the walk lists, the same in every shard).
fn scan_tree_part(
    s: &Settings,
    plan: &Plan,
    detector: &Detector,
    limits: &Limits,
    on_bytes: &(dyn Fn(u64) + Sync),
    warn: &(dyn Fn(String) + Sync),
) -> super::found::ScanResult {
    let file = plan.file.as_deref();
    let mut limits = limits.clone();
    if let Some(shard) = plan.shard {
        /// What a file costs besides its bytes (open, stat, detector setup), in bytes.
        const OVERHEAD: u64 = 512;
        let files = walk::list_tree(&s.root, file, &plan.prefix, &limits);
        let items: Vec<(&str, u64)> = files
            .iter()
            .map(|(p, n)| {
                let read = if *n > limits.max_file_size { 0 } else { *n };
                (p.as_str(), read + OVERHEAD)
            })
            .collect();
        let split = crate::shard::balance(&items, shard.total);
        let mine: HashSet<String> = files
            .iter()
            .zip(split)
            .filter(|(_, x)| *x as usize == shard.slot())
            .map(|((p, _), _)| p.clone())
            .collect();
        limits.only = Some(std::sync::Arc::new(mine));
    }
    walk::scan_tree(
        &s.root,
        file,
        &plan.prefix,
        detector,
        &limits,
        on_bytes,
        warn,
    )
}

/// Reads every part of the plan, with progress. A secret found both in the working tree and in history
/// is reported once, with the commit that introduced it.
fn scan_parts(
    app: &App,
    s: &Settings,
    plan: &Plan,
    detector: &Detector,
    limits: &Limits,
) -> anyhow::Result<(Vec<Located>, Stats)> {
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
    let mut all: Vec<Located> = Vec::new();
    let mut stats = Stats::default();
    if plan.staged {
        let r = staged::scan_staged(&s.root, detector, limits)?;
        stats.add(&r.stats);
        all.extend(r.findings);
    }
    let mut hist: Vec<Located> = Vec::new();
    let mut listing = None;
    if let Some(range) = &plan.history {
        let h = history::History::list(&s.root, range, limits)?;
        let r = h.scan(detector, limits, plan.shard, &on_bytes)?;
        stats.add(&r.stats);
        hist = r.findings;
        listing = Some(h);
    }
    if plan.tree {
        let r = scan_tree_part(s, plan, detector, limits, &on_bytes, &warn);
        stats.add(&r.stats);
        let in_history: HashSet<String> = match (plan.shard, &listing) {
            // The history findings of this file may sit in another shard: ask the whole history.
            (Some(_), Some(h)) => {
                let files = r.findings.iter().map(|f| f.file.clone()).collect();
                h.fingerprints_in(&files, detector, limits)?
            }
            _ => hist.iter().map(|f| f.fingerprint.clone()).collect(),
        };
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
    Ok((all, stats))
}
