//! The deploy result: one line per target (ok, failed, timeout or skipped, with its duration, the expected
//! and observed image or version), as a table, as `.stevedore/deploy-report.json` in the project dir, and as the run
//! summary's facts.

use crate::output::{Output, human_duration};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The deploy report's path, relative to the project dir (in stevedore's output directory).
pub const FILE: &str = ".stevedore/deploy-report.json";

/// Where the deploy report of a project lives.
pub fn path(project_dir: &Path) -> PathBuf {
    project_dir.join(FILE)
}

/// The deploy report of a shard, relative to the project dir: `.stevedore/deploy-report-I-of-N.json`
/// ([`FILE`] without one).
pub fn name(shard: Option<crate::shard::Shard>) -> String {
    match shard {
        Some(s) => format!("{}/deploy-report{}.json", crate::summary::DIR, s.suffix()),
        None => FILE.to_string(),
    }
}

/// How one target ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetStatus {
    /// Deployed and verified.
    Ok,
    /// The provider refused, the rollout went wrong, or the new container was unhealthy (rolled back).
    Failed,
    /// No answer, or no verified rollout, before the deadline.
    Timeout,
    /// Not deployed: not selected, a dry run, or stopped by `--fail-fast`.
    Skipped,
}

impl TargetStatus {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetStatus::Ok => "ok",
            TargetStatus::Failed => "failed",
            TargetStatus::Timeout => "timeout",
            TargetStatus::Skipped => "skipped",
        }
    }

    /// True for failed and timeout.
    pub fn is_failure(self) -> bool {
        matches!(self, TargetStatus::Failed | TargetStatus::Timeout)
    }
}

/// The result of one target.
#[derive(Clone, Debug, Serialize)]
pub struct TargetResult {
    /// The target's name.
    pub name: String,
    /// Its environment.
    pub environment: String,
    /// `http` or `docker`.
    pub provider: String,
    /// How it ended.
    pub status: TargetStatus,
    /// Wall time of this target, in milliseconds.
    pub duration_ms: u64,
    /// What it should run: the digest, the version, or (docker) the image ID.
    pub expected: String,
    /// What it was last seen running, when known.
    pub observed: Option<String>,
    /// The deploy URL (http) or Docker host (docker).
    pub url: Option<String>,
    /// Why it did not end ok.
    pub error: Option<String>,
    /// True when the failure was an outside system that could not be reached at all.
    #[serde(skip)]
    pub unreachable: bool,
}

impl TargetResult {
    /// A result with the given status and no observation.
    pub fn new(
        t: &super::target::TargetConfig,
        status: TargetStatus,
        expected: impl Into<String>,
    ) -> TargetResult {
        TargetResult {
            name: t.name.clone(),
            environment: t.environment.clone(),
            provider: t.provider.as_str().to_string(),
            status,
            duration_ms: 0,
            expected: expected.into(),
            observed: None,
            url: None,
            error: None,
            unreachable: false,
        }
    }

    /// Sets the error.
    pub fn err(mut self, status: TargetStatus, e: impl Into<String>) -> TargetResult {
        self.status = status;
        self.error = Some(crate::redact::redact(&e.into()));
        self
    }
}

/// The whole deploy report (`deploy-report.json`).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The shard of the environment's targets this report covers (`deploy --shard`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::shard::Shard>,
    /// The environment deployed.
    pub environment: String,
    /// The image reference (`repository@sha256:…`).
    pub image: String,
    /// The digest.
    pub digest: String,
    /// The release version, when known.
    pub version: String,
    /// True for `--dry-run`.
    pub dry_run: bool,
    /// When the deploy started (RFC 3339, UTC).
    pub started_at: String,
    /// One entry per target.
    pub targets: Vec<TargetResult>,
}

impl Report {
    /// Counts per status: (ok, failed, timeout, skipped).
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let c = |s| self.targets.iter().filter(|t| t.status == s).count();
        (
            c(TargetStatus::Ok),
            c(TargetStatus::Failed),
            c(TargetStatus::Timeout),
            c(TargetStatus::Skipped),
        )
    }

    /// Writes the report (string values redacted, the JSON kept valid) to [`path`] in the project dir,
    /// through a temporary file and a rename so a reader never sees half a report; returns its path.
    pub fn write(&self, project_dir: &Path) -> std::io::Result<PathBuf> {
        let path = project_dir.join(name(self.shard));
        let json = crate::redact::json_pretty(self)?;
        crate::summary::output_dir(project_dir)?;
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, &path)?;
        Ok(path)
    }

    /// Prints the per-target table.
    pub fn table(&self, out: &Output) {
        let rows: Vec<Vec<String>> = self
            .targets
            .iter()
            .map(|t| {
                vec![
                    t.name.clone(),
                    t.provider.clone(),
                    t.status.as_str().to_string(),
                    human_duration(Duration::from_millis(t.duration_ms)),
                    short(&t.expected),
                    t.observed
                        .as_deref()
                        .map(short)
                        .unwrap_or_else(|| "-".into()),
                    t.error.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out.table(
            &[
                "target", "provider", "status", "duration", "expected", "observed", "detail",
            ],
            &rows,
        );
    }
}

/// Shortens a digest or image ID for a table (`sha256:0123456789ab`).
pub fn short(s: &str) -> String {
    match s.find("sha256:") {
        Some(i) if s.len() > i + 19 => format!("{}{}", &s[..i], &s[i..i + 19]),
        _ => s.to_string(),
    }
}
