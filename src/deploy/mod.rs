//! `stevedore deploy`: (being built; see its issue).

use crate::app::App;
use crate::summary::{Status, StepOutcome};
use serde::Deserialize;

/// The `[deploy]` table of `stevedore.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeployConfig {}

/// Command-line arguments of `stevedore deploy`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct DeployArgs {}

/// Runs the step.
pub async fn run(_app: &App, _args: &DeployArgs) -> anyhow::Result<StepOutcome> {
    Ok(StepOutcome::new(
        "deploy",
        Status::Skipped,
        std::time::Duration::ZERO,
        "not built yet",
    ))
}
