//! The outcome of a build: the run-summary record, `--json` and the closing table, from one place.

use super::execute::{self, Done};
use super::plan::Plan;
use super::settings::Settings;
use crate::app::App;
use crate::output::{Section, human_bytes, human_duration};
use crate::summary::{self, Status, StepOutcome};
use std::time::Instant;

/// Opens the step's log section ("Building REFS from CONTEXT").
pub fn section<'a>(app: &'a App, settings: &Settings) -> Section<'a> {
    let refs: Vec<String> = settings
        .tags
        .iter()
        .map(|t| format!("{}:{t}", settings.repo))
        .collect();
    app.out.section(
        "build",
        &format!(
            "Building {} from {}",
            refs.join(", "),
            settings.context.display()
        ),
        false,
    )
}

/// Records the step's outcome (success or failure) in the run summary and passes the result on.
pub fn record(
    app: &App,
    result: anyhow::Result<StepOutcome>,
    started: Instant,
) -> anyhow::Result<StepOutcome> {
    match result {
        Ok(outcome) => {
            let _ = summary::record(&app.ctx.project_dir, &outcome);
            Ok(outcome)
        }
        Err(e) => {
            let first = crate::exit::render(&e);
            let headline = first
                .lines()
                .next()
                .unwrap_or("build failed")
                .trim_start_matches("error: ")
                .to_string();
            let mut outcome =
                StepOutcome::new("build", Status::Failed, started.elapsed(), headline);
            outcome.exit_code = Some(crate::exit::code_of(&e).as_i32());
            let _ = summary::record(&app.ctx.project_dir, &outcome);
            Err(e)
        }
    }
}

/// Prints the plan of a dry run and returns its (skipped) outcome.
pub fn dry_run(app: &App, plan: &Plan, started: Instant) -> StepOutcome {
    let mut lines = plan.describe().into_iter();
    if let Some(first) = lines.next() {
        let push = if plan.push.is_some() {
            " and push it"
        } else {
            ""
        };
        app.out.info(format!("dry run: {first}{push}"));
    }
    for l in lines {
        app.out.info(l);
    }
    StepOutcome::new(
        "build",
        Status::Skipped,
        started.elapsed(),
        format!("dry run: would build {}", plan.image()),
    )
    .with_facts(serde_json::json!({ "image": plan.settings.repo, "tags": plan.settings.tags }))
}

/// The facts of a finished build, as `--json` prints them and the summary keeps them.
pub fn facts(plan: &Plan, done: &Done, started: Instant) -> serde_json::Value {
    serde_json::json!({
        "image": plan.image(),
        "repository": plan.settings.repo,
        "digest": execute::image_digest(plan, done),
        "tags": plan.settings.tags,
        "image_id": done.built.image_id,
        "pushed": done.digest.is_some(),
        "builder": plan.builder.name(),
        "context_bytes": done.built.context_bytes,
        "context_entries": done.built.context_entries,
        "duration_ms": started.elapsed().as_millis() as u64,
    })
}

/// Prints `--json` and the closing table, and returns the success outcome.
pub fn success(
    app: &App,
    plan: &Plan,
    done: &Done,
    started: Instant,
) -> anyhow::Result<StepOutcome> {
    let duration = started.elapsed();
    let facts = facts(plan, done, started);
    if plan.settings.json {
        app.out.result(serde_json::to_string_pretty(&facts)?);
    } else if app.out.is_quiet() {
        // `docker build -q` prints the image ID.
        app.out.result(&done.built.image_id);
    }
    let digest = execute::image_digest(plan, done);
    let mut rows = vec![
        ("image".to_string(), plan.image().to_string()),
        ("tags".to_string(), plan.settings.tags.join(", ")),
        ("image id".to_string(), done.built.image_id.clone()),
    ];
    if let Some(d) = &digest {
        rows.push(("digest".into(), d.clone()));
    }
    rows.push(("context".into(), human_bytes(done.built.context_bytes)));
    rows.push(("duration".into(), human_duration(duration)));
    app.out.summary("build", &rows);
    let headline = match &digest {
        Some(d) => format!("pushed {d}"),
        None => format!("built {}", plan.image()),
    };
    Ok(StepOutcome::new("build", Status::Success, duration, headline).with_facts(facts))
}
