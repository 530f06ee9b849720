//! The pipeline's control flow, independent of what the steps do: each step in its own output section, its
//! outcome recorded in the run summary, a failure stopping the run — except `notify`, which always runs and
//! is told which step failed. The steps come from a [`StepRunner`], so tests drive it with fake steps.

use super::steps::Step;
use crate::exit;
use crate::output::{Output, human_duration};
use crate::redact::redact;
use crate::summary::{self, Status, StepOutcome};
use std::future::Future;
use std::path::Path;
use std::time::{Duration, Instant};

/// Runs one step. `failed` is the outcome of the step that failed earlier in this run, if any (only
/// `notify` is run after a failure).
pub trait StepRunner {
    /// Runs `step` and returns its outcome, or the error that stopped it.
    fn run_step(
        &mut self,
        step: Step,
        failed: Option<&StepOutcome>,
    ) -> impl Future<Output = anyhow::Result<StepOutcome>>;
}

/// What a run did.
#[derive(Clone, Debug, Default)]
pub struct RunReport {
    /// The outcome of every step that ran, in order (an error became a failed outcome).
    pub outcomes: Vec<StepOutcome>,
    /// The steps that were selected but not run because an earlier one failed.
    pub not_run: Vec<Step>,
    /// The first step that failed, with the exit code it calls for.
    pub failed: Option<(String, i32)>,
    /// Wall time of the whole run.
    pub duration: Duration,
}

impl RunReport {
    /// The process exit code: the failed step's, else 0.
    pub fn exit_code(&self) -> i32 {
        self.failed.as_ref().map(|(_, c)| *c).unwrap_or(0)
    }

    /// Table rows: step, status, duration, headline; the steps not run say why.
    pub fn rows(&self) -> Vec<Vec<String>> {
        let mut rows: Vec<Vec<String>> = self
            .outcomes
            .iter()
            .map(|o| {
                vec![
                    o.step.clone(),
                    o.status.as_str().to_string(),
                    human_duration(Duration::from_millis(o.duration_ms)),
                    o.headline.clone(),
                ]
            })
            .collect();
        let why = match &self.failed {
            Some((step, _)) => format!("{step} failed"),
            None => String::new(),
        };
        for s in &self.not_run {
            rows.push(vec![
                s.name().to_string(),
                "not run".into(),
                "-".into(),
                why.clone(),
            ]);
        }
        rows
    }
}

/// Takes `steps` in order through `runner`. Each outcome (and each error, as a failed outcome carrying the
/// error's exit code) is recorded in the run summary under `project_dir` before the next step starts, so
/// `notify` reads every step's outcome. After a failure only `notify` still runs.
pub async fn execute<R: StepRunner>(
    out: &Output,
    project_dir: &Path,
    steps: &[Step],
    runner: &mut R,
) -> RunReport {
    let started = Instant::now();
    let mut report = RunReport::default();
    let mut failed: Option<StepOutcome> = None;
    for &step in steps {
        if failed.is_some() && step != Step::Notify {
            report.not_run.push(step);
            continue;
        }
        let section = out.section(
            &format!("stevedore_run_{}", step.name()),
            &format!("stevedore run: {step}"),
            false,
        );
        let t0 = Instant::now();
        let result = runner.run_step(step, failed.as_ref()).await;
        let elapsed = t0.elapsed();
        let mut outcome = match result {
            Ok(o) => o,
            Err(e) => {
                out.error(exit::render(&e));
                let mut o = StepOutcome::new(step.name(), Status::Failed, elapsed, headline_of(&e));
                o.exit_code = Some(exit::code_of(&e).as_i32());
                o
            }
        };
        if outcome.step.is_empty() {
            outcome.step = step.name().to_string();
        }
        if outcome.duration_ms == 0 {
            outcome.duration_ms = elapsed.as_millis() as u64;
        }
        drop(section);
        if let Err(e) = summary::record(project_dir, &outcome) {
            out.warn(format!(
                "cannot write {} in {}: {e} — later steps will not see {step}'s outcome",
                summary::FILE,
                project_dir.display()
            ));
        }
        if outcome.status == Status::Failed && report.failed.is_none() {
            let code = match outcome.exit_code() {
                0 => 1,
                c => c,
            };
            report.failed = Some((outcome.step.clone(), code));
            failed = Some(outcome.clone());
        }
        report.outcomes.push(outcome);
    }
    report.duration = started.elapsed();
    report
}

/// The first line of an error, redacted, without the `error: ` prefix — a headline.
fn headline_of(e: &anyhow::Error) -> String {
    let r = redact(&exit::render(e));
    let first = r.lines().next().unwrap_or("failed");
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::{ExitCode, coded};
    use crate::summary::RunSummary;

    /// A fake step: what it returns.
    #[derive(Clone)]
    enum Fake {
        Ok,
        Fail(Option<i32>),
        Error(ExitCode),
    }

    struct Fakes {
        script: Vec<(Step, Fake)>,
        calls: Vec<(Step, Option<String>)>,
    }

    impl Fakes {
        fn new(script: &[(Step, Fake)]) -> Fakes {
            Fakes {
                script: script.to_vec(),
                calls: Vec::new(),
            }
        }
        fn called(&self) -> Vec<Step> {
            self.calls.iter().map(|c| c.0).collect()
        }
    }

    impl StepRunner for Fakes {
        async fn run_step(
            &mut self,
            step: Step,
            failed: Option<&StepOutcome>,
        ) -> anyhow::Result<StepOutcome> {
            self.calls.push((step, failed.map(|f| f.step.clone())));
            let fake = self
                .script
                .iter()
                .find(|(s, _)| *s == step)
                .map(|(_, f)| f.clone())
                .unwrap_or(Fake::Ok);
            let d = Duration::from_millis(3);
            match fake {
                Fake::Ok => Ok(StepOutcome::new(step.name(), Status::Success, d, "fine")),
                Fake::Fail(code) => {
                    let mut o = StepOutcome::new(step.name(), Status::Failed, d, "broke");
                    o.exit_code = code;
                    Ok(o)
                }
                Fake::Error(code) => Err(coded(code, format!("{step} could not start"))),
            }
        }
    }

    fn run(steps: &[Step], fakes: &mut Fakes) -> (RunReport, RunSummary) {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let report = rt.block_on(execute(&Output::plain(), dir.path(), steps, fakes));
        (report, RunSummary::load(dir.path()))
    }

    #[test]
    fn every_step_runs_in_order_and_is_recorded() {
        let mut f = Fakes::new(&[]);
        let (r, s) = run(&Step::ALL, &mut f);
        assert_eq!(f.called(), Step::ALL.to_vec());
        assert_eq!(r.exit_code(), 0);
        assert!(r.not_run.is_empty());
        let names: Vec<&str> = s.steps.iter().map(|o| o.step.as_str()).collect();
        assert_eq!(
            names,
            ["scan", "prune", "build", "release", "deploy", "notify"]
        );
        assert!(s.steps.iter().all(|o| o.status == Status::Success));
        assert!(f.calls.iter().all(|c| c.1.is_none()));
    }

    #[test]
    fn a_failed_outcome_stops_the_run_but_notify_runs_and_knows() {
        let mut f = Fakes::new(&[(Step::Build, Fake::Fail(None))]);
        let (r, s) = run(&Step::ALL, &mut f);
        assert_eq!(
            f.called(),
            [Step::Scan, Step::Prune, Step::Build, Step::Notify]
        );
        assert_eq!(f.calls.last().unwrap().1.as_deref(), Some("build"));
        assert_eq!(r.not_run, [Step::Release, Step::Deploy]);
        assert_eq!(r.failed, Some(("build".to_string(), 1)));
        assert_eq!(r.exit_code(), 1);
        // The summary notify reads holds every step that ran, the failure included, before notify ran.
        assert_eq!(s.failed_step().unwrap().step, "build");
        assert_eq!(s.steps.len(), 4);
        let rows = r.rows();
        assert_eq!(rows[4], ["release", "not run", "-", "build failed"]);
    }

    #[test]
    fn an_error_fails_with_its_exit_code_and_headline() {
        let mut f = Fakes::new(&[(Step::Release, Fake::Error(ExitCode::Refused))]);
        let (r, s) = run(&Step::ALL, &mut f);
        assert_eq!(r.exit_code(), 3);
        assert_eq!(r.not_run, [Step::Deploy]);
        let rel = s.steps.iter().find(|o| o.step == "release").unwrap();
        assert_eq!(rel.status, Status::Failed);
        assert_eq!(rel.headline, "release could not start");
        assert_eq!(f.called().last(), Some(&Step::Notify));
    }

    #[test]
    fn the_failed_step_sets_the_exit_code_not_a_later_one() {
        let mut f = Fakes::new(&[
            (Step::Scan, Fake::Fail(Some(1))),
            (Step::Notify, Fake::Error(ExitCode::Outside)),
        ]);
        let (r, _) = run(&Step::ALL, &mut f);
        assert_eq!(f.called(), [Step::Scan, Step::Notify]);
        assert_eq!(r.exit_code(), 1);
        let mut f = Fakes::new(&[(Step::Deploy, Fake::Fail(Some(4)))]);
        let (r, _) = run(&Step::ALL, &mut f);
        assert_eq!(r.exit_code(), 4);
    }

    #[test]
    fn notify_failing_alone_fails_the_run() {
        let mut f = Fakes::new(&[(Step::Notify, Fake::Fail(Some(4)))]);
        let (r, _) = run(&Step::ALL, &mut f);
        assert_eq!(f.called(), Step::ALL.to_vec());
        assert_eq!(r.exit_code(), 4);
    }

    #[test]
    fn only_the_selected_steps_run() {
        let mut f = Fakes::new(&[(Step::Scan, Fake::Fail(None))]);
        let (r, _) = run(&[Step::Build, Step::Deploy], &mut f);
        assert_eq!(f.called(), [Step::Build, Step::Deploy]);
        assert_eq!(r.exit_code(), 0);
        // A failure without notify selected: nothing after it runs.
        let mut f = Fakes::new(&[(Step::Scan, Fake::Fail(None))]);
        let (r, _) = run(&[Step::Scan, Step::Prune, Step::Build], &mut f);
        assert_eq!(f.called(), [Step::Scan]);
        assert_eq!(r.not_run, [Step::Prune, Step::Build]);
    }
}
