//! `stevedore run`: the steps of a release pipeline composed in the template's order (being built).

use crate::app::App;
use crate::summary::{Status, StepOutcome};

/// Command-line arguments of `stevedore run`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct RunArgs {}

/// Runs the pipeline.
pub async fn run(_app: &App, _args: &RunArgs) -> anyhow::Result<StepOutcome> {
    Ok(StepOutcome::new(
        "run",
        Status::Skipped,
        std::time::Duration::ZERO,
        "not built yet",
    ))
}
