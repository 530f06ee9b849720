//! How `stevedore scan --image/--archive` and the build's push gate call the image scan: the source,
//! what the summary shows, and the gate.

use super::{ImageScan, Scanner, SkipList};
use crate::app::App;
use crate::exit::{ExitCode, coded};
use crate::scan::detect::Detector;
use crate::scan::found::{Limits, Located, Stats};
use crate::summary::StepOutcome;
use serde_json::json;
use std::path::PathBuf;

/// The gate's report, written by `build --push` in stevedore's output directory (`.stevedore/`) for
/// the job's artifacts (GitLab secret-detection format; GitLab merges it with the repository scan's).
pub const GATE_REPORT: &str = "gl-secret-detection-image-report.json";

/// What an image scan reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// An image in the Docker daemon (`--image REF`).
    Daemon(String),
    /// A `docker save` tar or an OCI layout, directory or tar (`--archive FILE`).
    Archive(PathBuf),
}

impl Source {
    /// One line for the log.
    pub fn describe(&self) -> String {
        match self {
            Source::Daemon(r) => format!("image {r} (Docker daemon)"),
            Source::Archive(p) => format!("image archive {}", p.display()),
        }
    }
}

/// The image facts the summary shows.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// What was scanned.
    pub image: String,
    /// Number of layers.
    pub layers: usize,
    /// Files left out per skip pattern.
    pub skipped: Vec<(String, u64)>,
}

impl Summary {
    /// Rows for the closing summary.
    pub fn rows(&self) -> Vec<(String, String)> {
        let mut rows = vec![
            ("image".to_string(), self.image.clone()),
            ("layers".to_string(), self.layers.to_string()),
        ];
        for (p, n) in &self.skipped {
            rows.push((format!("skipped by {p}"), n.to_string()));
        }
        rows
    }

    /// Adds the image facts to a step's facts.
    pub fn add_facts(&self, facts: &mut serde_json::Value) {
        let skipped: serde_json::Map<String, serde_json::Value> = self
            .skipped
            .iter()
            .map(|(p, n)| (p.clone(), json!(n)))
            .collect();
        facts["image"] = json!(self.image);
        facts["layers"] = json!(self.layers);
        facts["skipped_per_pattern"] = serde_json::Value::Object(skipped);
    }
}

/// Scans `source` (for the daemon, connecting through `DOCKER_HOST` and the rest of the Docker
/// environment). Call it outside async code or inside `tokio::task::block_in_place`.
pub fn scan_source(
    source: &Source,
    skip: &SkipList,
    detector: &Detector,
    limits: &Limits,
    on_bytes: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<(Vec<Located>, Stats, Summary, Vec<String>)> {
    let s = Scanner {
        detector,
        limits,
        skip,
        on_bytes,
    };
    let r: ImageScan = match source {
        Source::Archive(p) => s.archive(p)?,
        Source::Daemon(reference) => {
            let h = tokio::runtime::Handle::current();
            let docker =
                h.block_on(crate::docker::connect(std::time::Duration::from_secs(3600)))?;
            s.daemon(&h, &docker, reference)?
        }
    };
    let summary = Summary {
        image: r.image.clone(),
        layers: r.layers,
        skipped: r.skipped,
    };
    Ok((r.findings, r.stats, summary, r.notes))
}

/// The push gate: scans the built image `reference` with the project's rules and suppressions and
/// writes [`GATE_REPORT`]. A finding is an error (exit 1) saying the push was refused.
pub async fn gate(app: &App, reference: &str) -> anyhow::Result<StepOutcome> {
    let dir = crate::summary::output_dir(&app.ctx.project_dir).map_err(|e| {
        coded(
            ExitCode::Usage,
            format!(
                "cannot create {} in {} for the image scan report: {e}",
                crate::summary::DIR,
                app.ctx.project_dir.display()
            ),
        )
    })?;
    let args = crate::scan::ScanArgs {
        image: Some(reference.to_string()),
        report_format: Some(crate::scan::ReportFormat::Gitlab),
        report_path: Some(dir.join(GATE_REPORT)),
        ..Default::default()
    };
    let step = crate::scan::run(app, &args).await?;
    if step.status == crate::summary::Status::Failed {
        return Err(coded(
            ExitCode::Problem,
            format!(
                "image {reference} holds secrets ({}): push refused, no tag pushed — the findings are above and in {}/{GATE_REPORT}; fix the Dockerfile as each finding says and rotate the credentials (`--no-scan-image` skips this check)",
                step.headline,
                crate::summary::DIR
            ),
        ));
    }
    Ok(step)
}
