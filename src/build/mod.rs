//! `stevedore build`: (being built; see its issue).

use crate::app::App;
use crate::summary::{Status, StepOutcome};
use serde::Deserialize;

/// The `[build]` table of `stevedore.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuildConfig {}

/// Command-line arguments of `stevedore build`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct BuildArgs {}

/// Runs the step.
pub async fn run(_app: &App, _args: &BuildArgs) -> anyhow::Result<StepOutcome> {
    Ok(StepOutcome::new(
        "build",
        Status::Skipped,
        std::time::Duration::ZERO,
        "not built yet",
    ))
}
