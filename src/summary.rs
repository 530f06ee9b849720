//! The run summary: every step's outcome, written to `stevedore-summary.json` in the project dir so later
//! jobs (and `notify`) can read what happened. It holds counts and names, never a secret value.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file name of the run summary, in the project dir.
pub const FILE: &str = "stevedore-summary.json";

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The step did its job.
    Success,
    /// The step ran and found a problem, or failed.
    Failed,
    /// The step had nothing to do, or was not asked to run.
    Skipped,
}

impl Status {
    /// Lower-case name, as in the summary file.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }
}

/// The outcome of one step: what `run` composes and `notify` reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StepOutcome {
    /// The step's name: `scan`, `build`, `prune`, `deploy`, `release`, `notify`.
    pub step: String,
    /// How it ended.
    pub status: Status,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// One line for people: "3 findings in 2 files", "pushed registry/app@sha256:…".
    pub headline: String,
    /// The facts that matter, step-specific (finding counts per rule, image and digest, bytes freed,
    /// deploy result per client). Never a secret value.
    #[serde(default)]
    pub facts: serde_json::Value,
    /// When set, the process exit code for this outcome instead of the default (0 ok, 1 failed).
    #[serde(skip)]
    pub exit_code: Option<i32>,
    /// The CI job that ran the step (`CI_JOB_NAME`), filled in by [`record`]; `notify` links to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    /// That job's page (`CI_JOB_URL`), filled in by [`record`]; `notify` links the failing job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_url: Option<String>,
}

impl StepOutcome {
    /// A new outcome with empty facts.
    pub fn new(
        step: &str,
        status: Status,
        duration: Duration,
        headline: impl Into<String>,
    ) -> StepOutcome {
        StepOutcome {
            step: step.to_string(),
            status,
            duration_ms: duration.as_millis() as u64,
            headline: headline.into(),
            facts: serde_json::Value::Object(Default::default()),
            exit_code: None,
            job_name: None,
            job_url: None,
        }
    }

    /// Sets the facts.
    pub fn with_facts(mut self, facts: serde_json::Value) -> StepOutcome {
        self.facts = facts;
        self
    }

    /// The process exit code this outcome calls for.
    pub fn exit_code(&self) -> i32 {
        self.exit_code.unwrap_or(match self.status {
            Status::Failed => 1,
            _ => 0,
        })
    }
}

/// All the steps' outcomes so far.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunSummary {
    /// Outcomes in the order the steps ran; a step that runs again replaces its entry.
    pub steps: Vec<StepOutcome>,
}

impl RunSummary {
    /// The summary file's path in a project dir.
    pub fn path(project_dir: &Path) -> PathBuf {
        project_dir.join(FILE)
    }

    /// Reads the summary; a missing or unreadable file is an empty summary.
    pub fn load(project_dir: &Path) -> RunSummary {
        std::fs::read(RunSummary::path(project_dir))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Adds or replaces a step's outcome.
    pub fn record(&mut self, outcome: StepOutcome) {
        match self.steps.iter_mut().find(|s| s.step == outcome.step) {
            Some(s) => *s = outcome,
            None => self.steps.push(outcome),
        }
    }

    /// The first failed step, if any.
    pub fn failed_step(&self) -> Option<&StepOutcome> {
        self.steps.iter().find(|s| s.status == Status::Failed)
    }

    /// Writes the summary (redacted) atomically.
    pub fn save(&self, project_dir: &Path) -> std::io::Result<()> {
        let path = RunSummary::path(project_dir);
        let json = crate::redact::json_pretty(self).unwrap_or_default();
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, json)?;
        std::fs::rename(tmp, path)
    }
}

/// Records one outcome into the project's summary file (read, replace, write). In a CI job the job's name
/// and URL (`CI_JOB_NAME`, `CI_JOB_URL`) are added when the outcome has none, so `notify` can link to it.
pub fn record(project_dir: &Path, outcome: &StepOutcome) -> std::io::Result<()> {
    let mut s = RunSummary::load(project_dir);
    let mut outcome = outcome.clone();
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    if outcome.job_name.is_none() {
        outcome.job_name = var("CI_JOB_NAME");
    }
    if outcome.job_url.is_none() {
        outcome.job_url = var("CI_JOB_URL");
    }
    s.record(outcome);
    s.save(project_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_replaces_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let a = StepOutcome::new("scan", Status::Success, Duration::from_millis(5), "clean");
        record(dir.path(), &a).unwrap();
        let b = StepOutcome::new(
            "scan",
            Status::Failed,
            Duration::from_millis(7),
            "2 findings",
        );
        record(dir.path(), &b).unwrap();
        let s = RunSummary::load(dir.path());
        assert_eq!(s.steps.len(), 1);
        assert_eq!(s.failed_step().unwrap().headline, "2 findings");
        assert_eq!(b.exit_code(), 1);
    }
}
