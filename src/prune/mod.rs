//! `stevedore prune`: (being built; see its issue).

use crate::app::App;
use crate::summary::{Status, StepOutcome};
use serde::Deserialize;

/// The `[prune]` table of `stevedore.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PruneConfig {}

/// Command-line arguments of `stevedore prune`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct PruneArgs {}

/// Runs the step.
pub async fn run(_app: &App, _args: &PruneArgs) -> anyhow::Result<StepOutcome> {
    Ok(StepOutcome::new(
        "prune",
        Status::Skipped,
        std::time::Duration::ZERO,
        "not built yet",
    ))
}
