//! `prune`'s outcome, from one place: the lines and closing table people read, and the summary record
//! later steps read — for a real run, a dry run and a skipped run.

use super::Settings;
use super::execute::Done;
use super::plan::{self, Planned};
use super::size::Age;
use crate::app::App;
use crate::exit::ExitCode;
use crate::output::{format_table, human_bytes};
use crate::summary::{self, Status, StepOutcome};
use std::time::{Duration, Instant};

/// Says what the plan is about: Docker's usage, the limit, the scope.
pub fn announce(app: &App, p: &Planned) {
    app.out.info(format!(
        "Docker uses {} of at most {}; considering {} ({} images, {} outside the scope)",
        human_bytes(p.usage_before),
        p.limit_text,
        p.scope_text,
        p.considered(),
        p.plan.out_of_scope,
    ));
}

/// Shows the plan before a real run, in a (collapsed in CI) section.
pub fn show_plan(app: &App, p: &Planned) {
    let _sec = app.out.section("prune_plan", "prune plan", true);
    app.out.table(plan::HEADERS, &p.rows());
}

/// The default share cannot be measured where only the socket is visible (a job container with the
/// socket mounted): say so and leave the disk alone rather than fail the pipeline.
pub fn skipped(app: &App, why: &str, started: Instant) -> StepOutcome {
    app.out.warn(format!(
        "{why}; skipping the prune — set a byte threshold (--threshold 20GB or [prune] threshold) to prune \
         from here"
    ));
    let outcome = StepOutcome::new(
        "prune",
        Status::Skipped,
        started.elapsed(),
        "skipped: Docker's data root is not visible here, so 80% of it cannot be measured",
    );
    let _ = summary::record(&app.ctx.project_dir, &outcome);
    outcome
}

/// Prints the plan and what it would do; records the dry run.
pub fn dry_run(
    app: &App,
    s: &Settings,
    p: &Planned,
    build_cache_bytes: u64,
    started: Instant,
) -> StepOutcome {
    for line in format_table(plan::HEADERS, &p.rows()) {
        app.out.result(line);
    }
    let n = p.plan.removals().count();
    app.out.result(format!(
        "would remove {n} image{} and free {}: Docker would use {} (threshold {})",
        plural(n),
        human_bytes(p.plan.to_free),
        human_bytes(p.plan.projected()),
        human_bytes(p.limit)
    ));
    if s.build_cache {
        app.out.result(format!(
            "would prune build cache unused for {} beyond {} (it holds {} now)",
            Age(Duration::from_secs(s.policy.min_age_secs as u64)),
            human_bytes(s.build_cache_budget),
            human_bytes(build_cache_bytes)
        ));
    }
    let would: Vec<serde_json::Value> = p
        .plan
        .removals()
        .map(|d| {
            let im = &p.images[d.index];
            serde_json::json!({"image": im.name(), "id": im.id, "bytes": d.estimate})
        })
        .collect();
    let headline = format!(
        "dry run: would free {} ({n} images)",
        human_bytes(p.plan.to_free)
    );
    let outcome = StepOutcome::new("prune", Status::Success, started.elapsed(), headline)
        .with_facts(serde_json::json!({
            "dry_run": true,
            "would_remove": would,
            "would_free_bytes": p.plan.to_free,
            "usage_before": p.plan.usage,
            "limit": p.limit,
        }));
    app.out.summary(
        "prune (dry run)",
        &[
            ("would remove".to_string(), n.to_string()),
            ("would free".to_string(), human_bytes(p.plan.to_free)),
            ("usage".to_string(), human_bytes(p.plan.usage)),
            ("threshold".to_string(), human_bytes(p.limit)),
        ],
    );
    record_summary(app, &outcome);
    outcome
}

/// Prints what the run did and records it. A failed removal fails the step (see [`exit_of`]).
pub fn real_run(app: &App, p: &Planned, done: &Done, started: Instant) -> StepOutcome {
    let t = &done.tally;
    let n = t.removed.len();
    let over = done.usage_after >= p.limit;
    let total_freed = t.freed + done.cache_freed.unwrap_or(0);
    app.out.result(format!(
        "freed {} in total ({n} image{}); Docker uses {} (threshold {})",
        human_bytes(total_freed),
        plural(n),
        human_bytes(done.usage_after),
        human_bytes(p.limit)
    ));
    if over {
        app.out.warn(format!(
            "Docker still uses {} — over the threshold of {}: everything else is kept by the policy",
            human_bytes(done.usage_after),
            human_bytes(p.limit)
        ));
    }
    app.out
        .summary("prune", &closing_rows(p, done, total_freed));
    let mut outcome = StepOutcome::new(
        "prune",
        status_of(t.failures.len()),
        started.elapsed(),
        headline(p, done, total_freed),
    )
    .with_facts(serde_json::json!({
        "dry_run": false,
        "removed": t.removed,
        "failed": t.failures,
        "held_by_builds": t.held,
        "already_removed": t.already_gone,
        "freed_bytes": total_freed,
        "images_freed_bytes": t.freed,
        "build_cache_freed_bytes": done.cache_freed,
        "usage_before": p.usage_before,
        "usage_after": done.usage_after,
        "limit": p.limit,
        "over_threshold": over,
    }));
    outcome.exit_code = exit_of(n, t.failures.len());
    record_summary(app, &outcome);
    outcome
}

/// The one-line headline: `freed 45.0 MB (7 images, 1 failed); Docker uses 2.1 GB`.
fn headline(p: &Planned, done: &Done, total_freed: u64) -> String {
    let t = &done.tally;
    let n = t.removed.len();
    let failed = match t.failures.len() {
        0 => String::new(),
        f => format!(", {f} failed"),
    };
    let over = if done.usage_after >= p.limit {
        format!(", still over {}", human_bytes(p.limit))
    } else {
        String::new()
    };
    format!(
        "freed {} ({n} image{}{failed}); Docker uses {}{over}",
        human_bytes(total_freed),
        plural(n),
        human_bytes(done.usage_after),
    )
}

/// The closing table's rows.
fn closing_rows(p: &Planned, done: &Done, total_freed: u64) -> Vec<(String, String)> {
    let t = &done.tally;
    let mut rows = vec![
        ("images removed".to_string(), t.removed.len().to_string()),
        ("freed".to_string(), human_bytes(total_freed)),
        ("usage before".to_string(), human_bytes(p.usage_before)),
        ("usage after".to_string(), human_bytes(done.usage_after)),
        ("threshold".to_string(), p.limit_text.clone()),
    ];
    if !t.failures.is_empty() {
        rows.push(("failed (skipped)".to_string(), t.failures.len().to_string()));
    }
    if !t.held.is_empty() {
        rows.push((
            "kept for running builds".to_string(),
            t.held.len().to_string(),
        ));
    }
    if !t.already_gone.is_empty() {
        rows.push((
            "already removed".to_string(),
            t.already_gone.len().to_string(),
        ));
    }
    if let Some(b) = done.cache_freed {
        rows.push(("build cache freed".to_string(), human_bytes(b)));
    }
    rows
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A prune with a failed removal (or build-cache prune) failed: it did not do what it was asked.
pub fn status_of(failures: usize) -> Status {
    if failures == 0 {
        Status::Success
    } else {
        Status::Failed
    }
}

/// The exit code of a prune that removed `removed` images and failed `failed` times: 0 without failures,
/// 4 when the daemon refused every removal, 1 when some went and some did not.
pub fn exit_of(removed: usize, failed: usize) -> Option<i32> {
    match (removed, failed) {
        (_, 0) => None,
        (0, _) => Some(ExitCode::Outside.as_i32()),
        _ => Some(ExitCode::Problem.as_i32()),
    }
}

/// Records the outcome in the run summary, warning when the file cannot be written.
fn record_summary(app: &App, outcome: &StepOutcome) {
    if let Err(e) = summary::record(&app.ctx.project_dir, outcome) {
        app.out.warn(format!(
            "cannot write the run summary in {}: {e}",
            app.ctx.project_dir.display()
        ));
    }
}
