//! The command line (clap derive): global flags and one subcommand per step.

use crate::output::ColorChoice;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// stevedore does the release work of a GitLab CI pipeline, in this order: it scans the repository for
/// leaked credentials, prunes the runner's disk, builds and pushes the Docker image, decides the release
/// channel from the tag, deploys the new digest to every client's instance and verifies it, and reports to
/// Zulip. The same binary reproduces a CI run on a laptop (`stevedore run`).
#[derive(Debug, Parser)]
#[command(
    name = "stevedore",
    version,
    after_help = "Examples:\n  stevedore run --dry-run        show every step a release pipeline would take here\n  stevedore scan                 scan the working tree for leaked credentials\n  stevedore context --json       print the CI context stevedore sees\n\nExit codes: 0 ok, 1 the step found a problem, 2 usage or config error, 3 refused by policy,\n4 an outside system (Docker, registry, an API) failed."
)]
pub struct Cli {
    /// Configuration file (default: stevedore.toml in the project dir, when it exists). A gitleaks
    /// .gitleaks.toml is accepted too and configures the scan rules.
    #[arg(long, global = true, value_name = "FILE", env = "STEVEDORE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Show what would be done without changing anything.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// More detail in the log.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Only warnings, errors and results.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to use colours.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// The step to run.
    #[command(subcommand)]
    pub command: Command,
}

/// One subcommand per pipeline step.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scan the working tree and the commits being released for leaked credentials.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Example:\n  stevedore scan --history --report-format gitlab --report-path gl-secret-detection-report.json"
    )]
    Scan(crate::scan::ScanArgs),
    /// Build the Docker image through the daemon's socket, tag it from the version and push it.
    #[command(after_help = "Example:\n  stevedore build --push --dotenv build.env .")]
    Build(crate::build::BuildArgs),
    /// Remove unused images and build cache, least recently used first, until disk usage is under a threshold.
    #[command(after_help = "Example:\n  stevedore prune --threshold 80% --dry-run")]
    Prune(crate::prune::PruneArgs),
    /// Send the pipeline's outcome to a Zulip stream.
    #[command(after_help = "Example:\n  stevedore notify --status auto")]
    Notify(crate::notify::NotifyArgs),
    /// Decide the release channel from a semantic-version tag, and refuse what policy forbids.
    #[command(
        after_help = "Example:\n  stevedore release --tag v1.5.0-beta.2 --dotenv release.env"
    )]
    Release(crate::release::ReleaseArgs),
    /// Deploy the built digest to every client's instance of an environment and verify it runs.
    #[command(after_help = "Example:\n  stevedore deploy --environment staging")]
    Deploy(crate::deploy::DeployArgs),
    /// Run the whole pipeline here, as CI would: scan → prune → build → release → deploy → notify.
    #[command(after_help = "Example:\n  stevedore run --dry-run")]
    Run(crate::run::RunArgs),
    /// Print the CI context stevedore sees (GitLab's variables, or the git checkout's facts), credentials redacted.
    #[command(after_help = "Example:\n  stevedore context --json")]
    Context(ContextArgs),
}

/// Arguments of `stevedore context`.
#[derive(Debug, Clone, clap::Args)]
pub struct ContextArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}
