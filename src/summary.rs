//! The run summary: every step's outcome, written to `.stevedore/summary.json` in the project dir so later
//! jobs (and `notify`) can read what happened. It holds counts and names, never a secret value.
//!
//! All of stevedore's own output files live in [`DIR`] (`.stevedore/`, created with a `.gitignore` holding
//! `*`, so they never show in `git status`; scan never scans it). Each entry is stamped with the pipeline
//! (`CI_PIPELINE_ID`), the `stevedore run` and the commit it belongs to ([`Scope`]): a summary holds one
//! scope's entries, and [`RunSummary::load_current`] reads only the current one, so `notify` never mixes in
//! steps of an earlier, unrelated command. [`record`] re-reads and writes the file under a lock, through
//! a temporary file and a rename, so steps running at once in one directory never lose an entry.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::Duration;

/// stevedore's output directory, in the project dir.
pub const DIR: &str = ".stevedore";

/// The run summary's path, relative to the project dir.
pub const FILE: &str = ".stevedore/summary.json";

/// The lock file [`record`] holds while it re-reads and rewrites the summary.
const LOCK: &str = ".stevedore/summary.lock";

/// The output directory in `project_dir`, created (with a `.gitignore` holding `*`) when missing.
pub fn output_dir(project_dir: &Path) -> std::io::Result<PathBuf> {
    let dir = project_dir.join(DIR);
    std::fs::create_dir_all(&dir)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(
            &ignore,
            "# stevedore's own output (run summary, reports): never committed\n*\n",
        )?;
    }
    Ok(dir)
}

/// The run summary's path in a project dir.
pub fn path(project_dir: &Path) -> PathBuf {
    project_dir.join(FILE)
}

/// The summary file of one shard of a step: `.stevedore/summary-STEP-I-of-N.json`.
pub fn shard_file(project_dir: &Path, step: &str, shard: crate::shard::Shard) -> PathBuf {
    project_dir
        .join(DIR)
        .join(format!("summary-{step}{}.json", shard.suffix()))
}

/// The shard summary files in the output directory, sorted by name.
fn shard_files(project_dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(project_dir.join(DIR)) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("summary-") && n.ends_with(".json") && n.contains("-of-")
            })
        })
        .collect();
    v.sort();
    v
}

/// Which pipeline, `stevedore run` and commit an entry belongs to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// `CI_PIPELINE_ID`, in a CI job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<String>,
    /// The `stevedore run` that recorded it, when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The commit (`CI_COMMIT_SHA`, or the checkout's HEAD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

impl Scope {
    /// True when an entry of scope `other` belongs to this one: the same pipeline in CI (and the same
    /// run, inside a `stevedore run`); the same run inside a local `stevedore run`; otherwise an entry of
    /// no pipeline and no run, on the same commit.
    pub fn includes(&self, other: &Scope) -> bool {
        match (&self.pipeline_id, &self.run_id) {
            (Some(p), run) => {
                other.pipeline_id.as_ref() == Some(p) && (run.is_none() || other.run_id == *run)
            }
            (None, Some(r)) => other.run_id.as_ref() == Some(r),
            (None, None) => {
                other.pipeline_id.is_none() && other.run_id.is_none() && other.commit == self.commit
            }
        }
    }
}

static SCOPE: RwLock<Option<Scope>> = RwLock::new(None);

/// Sets this process's scope from the CI context (called once at start-up).
pub fn set_scope(pipeline_id: Option<String>, commit: Option<String>) {
    let mut s = SCOPE.write().unwrap_or_else(|e| e.into_inner());
    let run_id = s.as_ref().and_then(|x| x.run_id.clone());
    *s = Some(Scope {
        pipeline_id,
        run_id,
        commit,
    });
}

/// Starts a `stevedore run`: later entries of this process carry its id. `resume` (`run --from`) keeps
/// the id of the run already in the summary, so the earlier steps' outcomes stay part of it.
pub fn begin_run(project_dir: &Path, resume: bool) -> String {
    let earlier = resume
        .then(|| {
            RunSummary::load(project_dir)
                .steps
                .iter()
                .rev()
                .find_map(|s| s.scope.run_id.clone())
        })
        .flatten();
    let id = earlier.unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        format!("run-{t}-{}", std::process::id())
    });
    let mut s = SCOPE.write().unwrap_or_else(|e| e.into_inner());
    let mut scope = s.clone().unwrap_or_else(scope_from_env);
    scope.run_id = Some(id.clone());
    *s = Some(scope);
    id
}

/// This process's scope: set at start-up, else from `CI_PIPELINE_ID`, `STEVEDORE_RUN_ID` and
/// `CI_COMMIT_SHA`.
pub fn current_scope() -> Scope {
    SCOPE
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or_else(scope_from_env)
}

fn scope_from_env() -> Scope {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    Scope {
        pipeline_id: var("CI_PIPELINE_ID"),
        run_id: var("STEVEDORE_RUN_ID"),
        commit: var("CI_COMMIT_SHA"),
    }
}

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
    /// The pipeline, run and commit that recorded it, filled in by [`record`].
    #[serde(default, flatten)]
    pub scope: Scope,
    /// The shard of the step this entry is (`scan --shard`, `deploy --shard`): such an entry is kept in
    /// its own file ([`shard_file`]) so the shard jobs' artifacts do not overwrite each other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::Shard>,
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
            scope: Scope::default(),
            shard: None,
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
        path(project_dir)
    }

    /// Reads the summary, every entry, with the entries of every shard file next to it
    /// (`summary-STEP-I-of-N.json`, sorted by name); a missing or unreadable file adds nothing.
    pub fn load(project_dir: &Path) -> RunSummary {
        let read = |p: &Path| -> RunSummary {
            std::fs::read(p)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or_default()
        };
        let mut s = read(&RunSummary::path(project_dir));
        s.steps.retain(|e| e.shard.is_none());
        for f in shard_files(project_dir) {
            for e in read(&f).steps.into_iter().filter(|e| e.shard.is_some()) {
                s.record(e);
            }
        }
        s
    }

    /// Reads the entries of the current pipeline or run ([`current_scope`]) only.
    pub fn load_current(project_dir: &Path) -> RunSummary {
        RunSummary::load(project_dir).only(&current_scope())
    }

    /// The entries that belong to `scope`.
    pub fn only(mut self, scope: &Scope) -> RunSummary {
        self.steps.retain(|s| scope.includes(&s.scope));
        self
    }

    /// Adds or replaces a step's outcome (a shard's: that shard's).
    pub fn record(&mut self, outcome: StepOutcome) {
        match self
            .steps
            .iter_mut()
            .find(|s| s.step == outcome.step && s.shard == outcome.shard)
        {
            Some(s) => *s = outcome,
            None => self.steps.push(outcome),
        }
    }

    /// The first failed step, if any.
    pub fn failed_step(&self) -> Option<&StepOutcome> {
        self.steps.iter().find(|s| s.status == Status::Failed)
    }

    /// Writes the summary (string values redacted, so it stays valid JSON) atomically: to a temporary
    /// file of this process, then renamed over the summary.
    pub fn save(&self, project_dir: &Path) -> std::io::Result<()> {
        let mut own = self.clone();
        own.steps.retain(|e| e.shard.is_none());
        own.save_to(&RunSummary::path(project_dir), project_dir)
    }

    /// Writes the summary to `path` (in the output directory of `project_dir`) atomically.
    fn save_to(&self, path: &Path, project_dir: &Path) -> std::io::Result<()> {
        output_dir(project_dir)?;
        let path = path.to_path_buf();
        let json = crate::redact::json_pretty(self).map_err(std::io::Error::other)?;
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}

/// Records one outcome into the project's summary file. Under an exclusive lock (`.stevedore/summary.lock`)
/// it re-reads the file, drops entries of another pipeline, run or commit, replaces this step's entry and
/// writes it atomically — concurrent steps in one directory never lose each other's entries. The entry is
/// stamped with the current [`Scope`] and, in a CI job, the job's name and URL (`CI_JOB_NAME`,
/// `CI_JOB_URL`) so `notify` can link to it.
pub fn record(project_dir: &Path, outcome: &StepOutcome) -> std::io::Result<()> {
    let mut outcome = outcome.clone();
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    if outcome.job_name.is_none() {
        outcome.job_name = var("CI_JOB_NAME");
    }
    if outcome.job_url.is_none() {
        outcome.job_url = var("CI_JOB_URL");
    }
    if outcome.scope == Scope::default() {
        outcome.scope = current_scope();
    }
    output_dir(project_dir)?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(project_dir.join(LOCK))?;
    lock.lock()?;
    if let Some(shard) = outcome.shard {
        // A shard's entry lives alone in its own file: the shard jobs' artifacts never collide.
        let s = RunSummary {
            steps: vec![outcome.clone()],
        };
        let saved = s.save_to(&shard_file(project_dir, &outcome.step, shard), project_dir);
        let _ = lock.unlock();
        return saved;
    }
    let s = RunSummary::load(project_dir);
    let mut s = s.only(&outcome.scope);
    s.record(outcome);
    let saved = s.save(project_dir);
    let _ = lock.unlock();
    saved
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

    #[test]
    fn the_output_dir_is_git_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let a = StepOutcome::new("scan", Status::Success, Duration::from_millis(5), "clean");
        record(dir.path(), &a).unwrap();
        assert!(dir.path().join(FILE).is_file());
        let ignore = std::fs::read_to_string(dir.path().join(DIR).join(".gitignore")).unwrap();
        assert!(ignore.lines().any(|l| l == "*"), "{ignore}");
        assert!(!dir.path().join("stevedore-summary.json").exists());
    }

    #[test]
    fn scopes_keep_pipelines_and_runs_apart() {
        let s = |p: Option<&str>, r: Option<&str>, c: Option<&str>| Scope {
            pipeline_id: p.map(Into::into),
            run_id: r.map(Into::into),
            commit: c.map(Into::into),
        };
        let ci = s(Some("7"), None, Some("abc"));
        assert!(ci.includes(&s(Some("7"), None, Some("abc"))));
        assert!(ci.includes(&s(Some("7"), Some("run-1"), Some("abc"))));
        assert!(!ci.includes(&s(Some("6"), None, Some("abc"))));
        assert!(!ci.includes(&s(None, None, Some("abc"))));
        let run = s(None, Some("run-2"), Some("abc"));
        assert!(run.includes(&s(None, Some("run-2"), Some("abc"))));
        assert!(!run.includes(&s(None, Some("run-1"), Some("abc"))));
        assert!(!run.includes(&s(None, None, Some("abc"))));
        let local = s(None, None, Some("abc"));
        assert!(local.includes(&s(None, None, Some("abc"))));
        assert!(!local.includes(&s(None, None, Some("def"))));
        assert!(!local.includes(&s(None, Some("run-2"), Some("abc"))));
    }

    #[test]
    fn concurrent_records_keep_every_step() {
        let dir = tempfile::tempdir().unwrap();
        let names: Vec<String> = (0..12).map(|i| format!("step{i}")).collect();
        std::thread::scope(|t| {
            for n in &names {
                let d = dir.path();
                t.spawn(move || {
                    for round in 0..5 {
                        let o = StepOutcome::new(
                            n,
                            Status::Success,
                            Duration::ZERO,
                            format!("r{round}"),
                        );
                        record(d, &o).unwrap();
                    }
                });
            }
        });
        let s = RunSummary::load(dir.path());
        assert_eq!(s.steps.len(), names.len(), "{:?}", s.steps);
        assert!(s.steps.iter().all(|o| o.headline == "r4"));
    }

    #[test]
    fn a_registered_boolean_never_breaks_the_json() {
        crate::redact::register("true");
        crate::redact::register("summary-secret-4455");
        let dir = tempfile::tempdir().unwrap();
        let o = StepOutcome::new(
            "scan",
            Status::Success,
            Duration::ZERO,
            "used summary-secret-4455",
        )
        .with_facts(serde_json::json!({"history": true, "count": 3}));
        record(dir.path(), &o).unwrap();
        let s = RunSummary::load(dir.path());
        assert_eq!(s.steps.len(), 1, "the summary reads back");
        assert_eq!(s.steps[0].facts["history"], true);
        assert_eq!(s.steps[0].headline, "used [redacted]");
    }
}
