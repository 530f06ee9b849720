//! `stevedore scan`: (being built; see its issue).

pub mod detect;
pub mod rule;
pub mod rules;

use crate::app::App;
use crate::summary::{Status, StepOutcome};
use serde::Deserialize;

/// The `[scan]` table of `stevedore.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfig {}

/// Command-line arguments of `stevedore scan`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ScanArgs {}

/// Runs the step.
pub async fn run(_app: &App, _args: &ScanArgs) -> anyhow::Result<StepOutcome> {
    Ok(StepOutcome::new(
        "scan",
        Status::Skipped,
        std::time::Duration::ZERO,
        "not built yet",
    ))
}
