//! What every step is handed: the CI context, the configuration, the output and the global flags.

use crate::ci::Context;
use crate::config::Config;
use crate::output::Output;

/// The shared, read-only state of one stevedore process.
pub struct App {
    /// GitLab's predefined variables (or the checkout's facts, locally).
    pub ctx: Context,
    /// The loaded `stevedore.toml` (or defaults).
    pub config: Config,
    /// Logging, sections, progress and tables.
    pub out: Output,
    /// `--dry-run`: show what would be done, change nothing.
    pub dry_run: bool,
}

impl App {
    /// A copy of this app for a step run inside another step: same context, configuration and flags,
    /// with result lines sent to the log (see [`Output::nested`]).
    pub fn nested(&self) -> App {
        App {
            ctx: self.ctx.clone(),
            config: self.config.clone(),
            out: self.out.nested(),
            dry_run: self.dry_run,
        }
    }

    /// An app for tests and library use: given context and config, plain output.
    pub fn new(ctx: Context, config: Config) -> App {
        App {
            ctx,
            config,
            out: Output::plain(),
            dry_run: false,
        }
    }
}
