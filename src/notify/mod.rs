//! `stevedore notify`: (being built; see its issue).

use crate::app::App;
use crate::summary::{Status, StepOutcome};
use serde::Deserialize;

/// The `[notify]` table of `stevedore.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {}

/// Command-line arguments of `stevedore notify`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct NotifyArgs {}

/// Runs the step.
pub async fn run(_app: &App, _args: &NotifyArgs) -> anyhow::Result<StepOutcome> {
    Ok(StepOutcome::new(
        "notify",
        Status::Skipped,
        std::time::Duration::ZERO,
        "not built yet",
    ))
}
