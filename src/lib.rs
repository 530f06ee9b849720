//! stevedore: the release work of a GitLab CI pipeline in one binary.
//!
//! The modules read like the pipeline: [`scan`] → [`build`] → [`prune`] → [`deploy`] → [`notify`], with
//! [`release`] deciding the channel and [`run`] composing the steps. They share the CI context ([`ci`]),
//! the configuration ([`config`]), the output conventions ([`output`], [`redact`]), the exit codes
//! ([`exit`]) and the run summary ([`summary`]). A step never reaches into another's internals: it takes
//! and returns plain data.

// Issue 16: no function longer than 80 lines (clippy.toml) outside the rule tables.
#![warn(clippy::too_many_lines)]

pub mod app;
pub mod build;
pub mod ci;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod docker;
pub mod dotenv;
pub mod error_chain;
pub mod exit;
pub mod notify;
pub mod output;
pub mod prune;
pub mod redact;
pub mod release;
pub mod run;
pub mod scan;
pub mod shard;
pub mod signal;
pub mod summary;
pub mod units;

use app::App;
use clap::Parser;
use cli::{Cli, Command};
use exit::ExitCode;
use std::ffi::OsString;

/// Runs stevedore with the given command line and returns the process exit code.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                ExitCode::Usage.as_i32()
            } else {
                0
            };
            let _ = e.print();
            return code;
        }
    };
    // reqwest and bollard use rustls; pick its crypto provider once for the process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    init_tracing(cli.verbose);
    redact::install_panic_hook();
    let ctx = ci::Context::from_env();
    summary::set_scope(ctx.pipeline_id.clone(), ctx.commit_sha.clone());
    let out = output::Output::new(ctx.ci, cli.quiet, cli.verbose, cli.color);
    let config = match config::Config::load(cli.config.as_deref(), &ctx.project_dir) {
        Ok(c) => c,
        Err(e) => {
            out.error(exit::render(&e));
            return exit::code_of(&e).as_i32();
        }
    };
    let app = App {
        ctx,
        config,
        out,
        dry_run: cli.dry_run,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            app.out
                .error(format!("error: cannot start the async runtime: {e}"));
            return ExitCode::Outside.as_i32();
        }
    };
    let code = rt.block_on(dispatch_interruptible(&app, &cli.command));
    if signal::received().is_some() {
        // Do not wait for work the signal abandoned (a blocking read, a dropped stream).
        rt.shutdown_timeout(std::time::Duration::from_secs(1));
    }
    code
}

/// Runs one subcommand with SIGINT/SIGTERM handled (see [`signal`]): outside a critical section the
/// step is dropped at once; inside one it cleans up first. Returns the exit code: 130/143 after a signal.
async fn dispatch_interruptible(app: &App, cmd: &Command) -> i32 {
    signal::install();
    let result = tokio::select! {
        biased;
        r = dispatch(app, cmd) => Some(r),
        _ = signal::abandoned() => None,
    };
    let returned = result.is_some();
    let code = match result {
        Some(Ok(code)) => code,
        Some(Err(e)) => {
            app.out.error(exit::render(&e));
            exit::code_of(&e).as_i32()
        }
        None => 0,
    };
    match signal::received() {
        Some(sig) => {
            let open = signal::open_critical();
            app.out.error(format!(
                "stevedore: {}",
                signal::stop_message(sig, command_name(cmd), returned, &open)
            ));
            sig.exit_code()
        }
        None => code,
    }
}

/// The subcommand's name, as typed.
fn command_name(cmd: &Command) -> &'static str {
    match cmd {
        Command::Scan(_) => "scan",
        Command::Build(_) => "build",
        Command::Prune(_) => "prune",
        Command::Notify(_) => "notify",
        Command::Release(_) => "release",
        Command::Deploy(_) => "deploy",
        Command::Run(_) => "run",
        Command::Context(_) => "context",
    }
}

/// Runs one subcommand and returns its exit code.
pub async fn dispatch(app: &App, cmd: &Command) -> anyhow::Result<i32> {
    let outcome = match cmd {
        Command::Scan(a) => scan::run(app, a).await?,
        Command::Build(a) => build::run(app, a).await?,
        Command::Prune(a) => prune::run(app, a).await?,
        Command::Notify(a) => notify::run(app, a).await?,
        Command::Release(a) => release::run(app, a).await?,
        Command::Deploy(a) => deploy::run(app, a).await?,
        Command::Run(a) => run::run(app, a).await?,
        Command::Context(a) => {
            print_context(app, a.json)?;
            return Ok(0);
        }
    };
    Ok(outcome.exit_code())
}

fn print_context(app: &App, json: bool) -> anyhow::Result<()> {
    if json {
        app.out.result(serde_json::to_string_pretty(&app.ctx)?);
    } else {
        let rows: Vec<Vec<String>> = app
            .ctx
            .rows()
            .into_iter()
            .map(|(k, v)| vec![k, v])
            .collect();
        for line in output::format_table(&["variable", "value"], &rows) {
            app.out.result(line);
        }
    }
    Ok(())
}

fn init_tracing(verbose: bool) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("STEVEDORE_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(if verbose { "stevedore=debug" } else { "warn" })
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| redact::RedactingWriter::new(std::io::stderr()))
        .with_target(false)
        .try_init();
}
