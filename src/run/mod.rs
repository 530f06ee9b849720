//! `stevedore run`: the steps of a release pipeline in the CI template's order — scan, prune, build (and
//! push when a registry is configured), release, deploy, notify — in one process, on a laptop or in one
//! CI job, with the same configuration and context rules as the template's jobs.
//!
//! The control flow (sections, the run summary, stop on failure, notify always) is in [`execute`]; which
//! steps run in [`steps`]; the dry-run plan in [`plan`]; what build and release hand to the later steps
//! (as plain data, given as flags) in [`handed`]. This file only wires the real steps in.

pub mod args;
pub mod execute;
pub mod handed;
pub mod plan;
pub mod steps;

use crate::app::App;
use crate::output::human_duration;
use crate::summary::{self, RunSummary, Status, StepOutcome};
use crate::{build, deploy, notify, prune, release, scan};
use args::{Flag, step_args};
use execute::{StepRunner, execute};
use handed::Handed;
use plan::{Facts, plan, probe_daemon};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
pub use steps::{Route, Step};

/// Command-line arguments of `stevedore run`.
///
/// The steps run in the order scan, prune, build, release, deploy, notify. A failed step stops the run;
/// notify still runs and reports which step failed. Release and deploy run on semantic-version tags only
/// (vX.Y.Z-beta.N / -rc.N: staging; vX.Y.Z: production, from a protected tag).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct RunArgs {
    /// Start at this step (order: scan, prune, build, release, deploy, notify). The outcomes of earlier
    /// steps already in .stevedore/summary.json are kept (resume after fixing a failure).
    #[arg(long, value_enum, value_name = "STEP", conflicts_with = "only")]
    pub from: Option<Step>,
    /// Stop after this step.
    #[arg(long, value_enum, value_name = "STEP", conflicts_with = "only")]
    pub until: Option<Step>,
    /// Run only these steps (repeatable, or comma-separated), in pipeline order.
    #[arg(long, value_enum, value_name = "STEP", value_delimiter = ',')]
    pub only: Vec<Step>,
}

/// Runs the pipeline: the selected steps, or with `--dry-run` the plan of them.
pub async fn run(app: &App, args: &RunArgs) -> anyhow::Result<StepOutcome> {
    let selected = steps::select(args.from, args.until, &args.only)?;
    let facts = facts(app);
    let work = work_dir(&app.ctx.project_dir);
    if app.dry_run {
        return show_plan(app, &selected, &facts).await;
    }
    let started = Instant::now();
    // A run from the start begins a new run id (a fresh summary); --from/--only keep the id of the run
    // already recorded, so the earlier steps' outcomes stay part of this one.
    summary::begin_run(&app.ctx.project_dir, selected.first() != Some(&Step::Scan));
    app.out.info(format!(
        "stevedore run: {} on {} — {}",
        selected
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(" → "),
        app.ctx.label(),
        facts.route.explain()
    ));
    if selected.contains(&Step::Deploy)
        && facts.route.deploys()
        && let Err(why) = plan::deploy_decision(&facts)
    {
        app.out.warn(format!("deploy will be skipped: {why}"));
    }
    let _ = summary::output_dir(&app.ctx.project_dir);
    let mut real = Real {
        app,
        facts: &facts,
        work: work.clone(),
        handed: Handed::default(),
    };
    let report = execute(&app.out, &app.ctx.project_dir, &selected, &mut real).await;

    app.out
        .table(&["step", "status", "duration", "headline"], &report.rows());
    let (status, headline) = match &report.failed {
        Some((step, code)) => (Status::Failed, format!("failed at {step} (exit {code})")),
        None => {
            let ok = report
                .outcomes
                .iter()
                .filter(|o| o.status == Status::Success)
                .count();
            (
                Status::Success,
                format!(
                    "done: {ok} succeeded, {} skipped",
                    report.outcomes.len() - ok
                ),
            )
        }
    };
    app.out.summary(
        "stevedore run",
        &[
            ("result".into(), headline.clone()),
            ("duration".into(), human_duration(started.elapsed())),
            (
                "run summary".into(),
                RunSummary::path(&app.ctx.project_dir).display().to_string(),
            ),
        ],
    );
    let mut outcome = StepOutcome::new("run", status, started.elapsed(), headline).with_facts(
        serde_json::json!({ "steps": report.outcomes, "not_run": report.not_run.iter().map(|s| s.name()).collect::<Vec<_>>() }),
    );
    outcome.exit_code = Some(report.exit_code());
    Ok(outcome)
}

/// What decides the run, from the context and the environment.
fn facts(app: &App) -> Facts {
    Facts {
        registry_image: app.ctx.registry_image.clone(),
        route: Route::of(app.ctx.commit_tag.as_deref()),
        protected: app.ctx.commit_ref_protected,
        zulip: ["ZULIP_SITE", "ZULIP_CONFIG"]
            .into_iter()
            .find(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty())),
        ci: app.ctx.ci,
        targets: app
            .config
            .deploy
            .targets
            .iter()
            .map(|t| (t.name.clone(), t.environment.clone()))
            .collect(),
        environments: (
            app.config.release.staging_environment.clone(),
            app.config.release.production_environment.clone(),
        ),
    }
}

/// Where build and release write their dotenv files, as their template jobs do: stevedore's output
/// directory (`.stevedore/build.env`, `.stevedore/release.env`, kept after the run, as the plan says).
/// The values reach later steps through the steps' outcomes ([`handed`]), not through these files.
fn work_dir(project_dir: &Path) -> PathBuf {
    project_dir.join(summary::DIR)
}

/// The secret-detection report scan writes in CI, as the template's `secret-scan` job does.
pub const GITLAB_REPORT: &str = ".stevedore/gl-secret-detection-report.json";

/// The flags `run` gives a step — the same the template's job gives it.
pub fn flags_for(step: Step, facts: &Facts, work: &Path, notify_status: &str) -> Vec<Flag> {
    match step {
        Step::Build => {
            let mut f = Vec::new();
            if facts.registry_image.is_some() {
                f.push(Flag::switch("push"));
            }
            f.push(Flag::value(
                "dotenv",
                work.join("build.env").display().to_string(),
            ));
            f
        }
        Step::Release => vec![Flag::value(
            "dotenv",
            work.join("release.env").display().to_string(),
        )],
        Step::Notify => vec![Flag::value("status", notify_status)],
        Step::Scan if facts.ci => vec![
            Flag::value("report-format", "gitlab"),
            Flag::value("report-path", GITLAB_REPORT),
        ],
        Step::Deploy => match &facts.route {
            Route::Staging(_) => vec![Flag::value("environment", "staging")],
            Route::Production(_) => vec![Flag::value("environment", "production")],
            Route::NoTag | Route::NotARelease(_) => Vec::new(),
        },
        Step::Scan | Step::Prune => Vec::new(),
    }
}

async fn show_plan(app: &App, selected: &[Step], facts: &Facts) -> anyhow::Result<StepOutcome> {
    let started = Instant::now();
    let daemon = probe_daemon(Duration::from_secs(2)).await;
    // The dotenv files as the run writes them, relative to the project dir.
    let rows = plan(selected, facts, &daemon, |s| {
        flags_for(s, facts, Path::new(summary::DIR), "success|failed")
    });
    app.out.info(format!(
        "stevedore run --dry-run: the plan for {} ({})",
        app.ctx.label(),
        facts.route.explain()
    ));
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.step.name().to_string(),
                r.action.to_string(),
                r.command.clone(),
                r.note.clone(),
            ]
        })
        .collect();
    app.out.table(&["step", "action", "command", "why"], &table);
    let runs = rows.iter().filter(|r| r.action == "run").count();
    app.out.summary(
        "stevedore run --dry-run",
        &[
            (
                "plan".into(),
                format!("{runs} steps would run, {} skipped", rows.len() - runs),
            ),
            ("changed".into(), "nothing (dry run)".into()),
        ],
    );
    Ok(StepOutcome::new(
        "run",
        Status::Success,
        started.elapsed(),
        format!("dry run: {runs} steps would run"),
    )
    .with_facts(serde_json::json!({
        "plan": rows.iter().map(|r| serde_json::json!({
            "step": r.step.name(), "action": r.action, "command": r.command, "why": r.note,
        })).collect::<Vec<_>>()
    })))
}

/// The real steps.
struct Real<'a> {
    app: &'a App,
    facts: &'a Facts,
    work: PathBuf,
    /// What build and release handed on so far.
    handed: Handed,
}

impl Real<'_> {
    /// A step's arguments from its flags, saying which flags it does not take.
    fn args<T: clap::Args + clap::FromArgMatches>(
        &self,
        step: Step,
        failed: Option<&StepOutcome>,
    ) -> anyhow::Result<T> {
        let status = if failed.is_some() {
            "failed"
        } else {
            "success"
        };
        let mut flags = flags_for(step, self.facts, &self.work, status);
        flags.extend(self.handed.flags(step));
        let (args, dropped) = step_args::<T>(step.name(), &flags)?;
        for f in dropped {
            self.app.out.info(format!(
                "{step} takes no {} in this build of stevedore; left out",
                f.shell()
            ));
        }
        Ok(args)
    }
}

fn skipped(step: Step, why: String) -> StepOutcome {
    StepOutcome::new(step.name(), Status::Skipped, Duration::ZERO, why)
}

impl StepRunner for Real<'_> {
    async fn run_step(
        &mut self,
        step: Step,
        failed: Option<&StepOutcome>,
    ) -> anyhow::Result<StepOutcome> {
        let app = self.app;
        match step {
            Step::Scan => scan::run(app, &self.args::<scan::ScanArgs>(step, failed)?).await,
            Step::Prune => prune::run(app, &self.args::<prune::PruneArgs>(step, failed)?).await,
            Step::Build => {
                let r = build::run(app, &self.args::<build::BuildArgs>(step, failed)?).await;
                if let Ok(o) = &r {
                    self.handed.take(o);
                }
                r
            }
            Step::Release if !self.facts.route.deploys() => {
                Ok(skipped(step, self.facts.route.explain()))
            }
            Step::Release => {
                let r = release::run(app, &self.args::<release::ReleaseArgs>(step, failed)?).await;
                if let Ok(o) = &r {
                    self.handed.take(o);
                }
                r
            }
            Step::Deploy => match plan::deploy_decision(self.facts) {
                Err(why) => Ok(skipped(step, why)),
                Ok(_) => deploy::run(app, &self.args::<deploy::DeployArgs>(step, failed)?).await,
            },
            Step::Notify => notify::run(app, &self.args::<notify::NotifyArgs>(step, failed)?).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(registry: bool, tag: Option<&str>) -> Facts {
        Facts {
            registry_image: registry.then(|| "registry.example.com/acme/app".to_string()),
            route: Route::of(tag),
            protected: false,
            zulip: None,
            ci: false,
            targets: Vec::new(),
            environments: ("staging".into(), "production".into()),
        }
    }

    #[test]
    fn build_pushes_only_to_a_configured_registry_and_hands_on_its_dotenv() {
        let w = Path::new("/w");
        let local = flags_for(Step::Build, &facts(false, None), w, "success");
        assert_eq!(local, [Flag::value("dotenv", "/w/build.env")]);
        let ci = flags_for(Step::Build, &facts(true, None), w, "success");
        assert_eq!(
            ci,
            [Flag::switch("push"), Flag::value("dotenv", "/w/build.env")]
        );
        assert_eq!(
            flags_for(Step::Release, &facts(true, Some("v1.0.0")), w, "success"),
            [Flag::value("dotenv", "/w/release.env")]
        );
    }

    #[test]
    fn notify_is_told_how_the_run_went() {
        let w = Path::new("/w");
        assert_eq!(
            flags_for(Step::Notify, &facts(false, None), w, "failed"),
            [Flag::value("status", "failed")]
        );
        for s in [Step::Scan, Step::Prune] {
            assert!(flags_for(s, &facts(true, Some("v1.0.0")), w, "success").is_empty());
        }
    }

    #[test]
    fn deploy_and_scan_get_what_the_template_gives_them() {
        let w = Path::new("/w");
        assert_eq!(
            flags_for(
                Step::Deploy,
                &facts(true, Some("v1.0.0-rc.1")),
                w,
                "success"
            ),
            [Flag::value("environment", "staging")]
        );
        assert_eq!(
            flags_for(Step::Deploy, &facts(true, Some("v1.0.0")), w, "success"),
            [Flag::value("environment", "production")]
        );
        assert!(flags_for(Step::Deploy, &facts(true, None), w, "success").is_empty());
        let mut ci = facts(true, None);
        ci.ci = true;
        assert_eq!(
            flags_for(Step::Scan, &ci, w, "success"),
            [
                Flag::value("report-format", "gitlab"),
                Flag::value("report-path", GITLAB_REPORT)
            ]
        );
    }

    #[test]
    fn run_args_parse_step_lists() {
        use clap::Parser;
        let cli =
            crate::cli::Cli::try_parse_from(["stevedore", "run", "--only", "notify,scan"]).unwrap();
        let crate::cli::Command::Run(a) = cli.command else {
            panic!("not run")
        };
        assert_eq!(a.only, [Step::Notify, Step::Scan]);
        let e = crate::cli::Cli::try_parse_from([
            "stevedore",
            "run",
            "--only",
            "scan",
            "--until",
            "build",
        ])
        .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::ArgumentConflict);
    }
}
