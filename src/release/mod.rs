//! `stevedore release`: (being built; see its issue).

use crate::app::App;
use crate::summary::{Status, StepOutcome};
use serde::Deserialize;

/// The `[release]` table of `stevedore.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReleaseConfig {}

/// Command-line arguments of `stevedore release`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ReleaseArgs {}

/// Runs the step.
pub async fn run(_app: &App, _args: &ReleaseArgs) -> anyhow::Result<StepOutcome> {
    Ok(StepOutcome::new(
        "release",
        Status::Skipped,
        std::time::Duration::ZERO,
        "not built yet",
    ))
}
