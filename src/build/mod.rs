//! `stevedore build [CONTEXT]`: build the image through the Docker socket, tag it from the release
//! version, push it, and hand `IMAGE`, `IMAGE_DIGEST` and `IMAGE_TAGS` to later jobs.
//!
//! [`run`] reads as the pipeline does: [`settings`] (flags, environment and `[build]` resolved once) →
//! [`plan`] (a pure value: the references, the builder, the cache sources, the push — what `--dry-run`
//! prints) → [`execute`] (the daemon and registry calls) → [`outcome`] (the summary record, `--json`
//! and the closing table).
//!
//! The other pieces, one job each: [`dockerignore`] (Moby's pattern rules), [`context`] (the tar
//! stream), [`tags`], [`builder`] (the build call), [`progress`] (the build output), [`registry`]
//! (credentials and the registry API), [`push`], [`disk`] (the free-space guard).

pub mod builder;
pub mod buildkit;
pub mod context;
pub mod disk;
pub mod dockerignore;
pub mod execute;
pub mod outcome;
pub mod plan;
pub mod progress;
pub mod push;
pub mod registry;
pub mod session;
pub mod settings;
pub mod tags;

use crate::app::App;
use crate::prune::lease;
use crate::summary::StepOutcome;
use serde::Deserialize;
use settings::{BuilderChoice, Timeout};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// The `[build]` table of `stevedore.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuildConfig {
    /// `image`: the repository to build (default `$CI_REGISTRY_IMAGE`, locally the project's name).
    pub image: Option<String>,
    /// `file`: the Dockerfile, relative to the context (default `Dockerfile`); `-f` is relative to the
    /// working directory, as with `docker build`.
    pub file: Option<String>,
    /// `builder`: `auto` (BuildKit when the daemon has it), `buildkit` or `classic`.
    pub builder: Option<BuilderChoice>,
    /// `timeout`: how long the build may take, e.g. `"45m"` (default `1h`).
    pub timeout: Option<Timeout>,
    /// `latest`: whether a stable release also gets the `latest` tag (default true).
    pub latest: Option<bool>,
    /// `min_free`: free space needed under Docker's data root before building, `"10%"` (default) or
    /// an amount like `"20GB"`; below it the prune policy runs first.
    pub min_free: disk::MinFree,
    /// `target`: the Dockerfile stage to build.
    pub target: Option<String>,
    /// `platform`: e.g. `linux/amd64`.
    pub platform: Option<String>,
    /// `cache_from`: images to use as build cache (default: the previous release's moving tag).
    pub cache_from: Vec<String>,
    /// `labels`: extra image labels.
    pub labels: BTreeMap<String, String>,
    /// `build_args`: build arguments (flags override them).
    pub build_args: BTreeMap<String, String>,
    /// `scan_image`: scan the built image for secrets before `--push` (default true); a finding
    /// refuses the push.
    pub scan_image: Option<bool>,
    /// `secrets`: build secrets in `--secret` syntax, `["id=npm,env=NPM_TOKEN"]` (BuildKit only).
    pub secrets: Vec<String>,
}

/// Command-line arguments of `stevedore build`: the options, boxed so the CLI's command enum stays
/// small; fields are reached through `Deref` (`args.push`).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct BuildArgs {
    /// The options.
    #[command(flatten)]
    pub options: Box<BuildOptions>,
}

impl std::ops::Deref for BuildArgs {
    type Target = BuildOptions;
    fn deref(&self) -> &BuildOptions {
        &self.options
    }
}

impl std::ops::DerefMut for BuildArgs {
    fn deref_mut(&mut self) -> &mut BuildOptions {
        &mut self.options
    }
}

/// The options of `stevedore build`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct BuildOptions {
    /// The build context directory.
    #[arg(value_name = "CONTEXT")]
    pub context: Option<PathBuf>,
    /// The Dockerfile, relative to the working directory as with `docker build -f` [default: CONTEXT/Dockerfile].
    #[arg(long, short = 'f', value_name = "FILE")]
    pub file: Option<String>,
    /// The Dockerfile stage to build.
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// A build argument, `K=V`, or `K` to take its value from the environment (repeatable).
    #[arg(long = "build-arg", value_name = "K=V")]
    pub build_arg: Vec<String>,
    /// An image label, `K=V` (repeatable); OCI labels from the CI context are added anyway.
    #[arg(long, value_name = "K=V")]
    pub label: Vec<String>,
    /// An image to use as build cache, `IMAGE` or buildx's `type=registry,ref=IMAGE` (repeatable;
    /// default: the previous release's moving tags). Pulled first when the daemon lacks it.
    #[arg(long = "cache-from", value_name = "IMAGE")]
    pub cache_from: Vec<String>,
    /// Where to export the build cache: `type=inline` (the default with BuildKit: cache metadata in
    /// the image, so a pushed image serves as --cache-from).
    #[arg(long = "cache-to", value_name = "type=inline")]
    pub cache_to: Vec<String>,
    /// Build without any cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Target platform, e.g. linux/amd64.
    #[arg(long, value_name = "PLATFORM", env = "DOCKER_DEFAULT_PLATFORM")]
    pub platform: Option<String>,
    /// How long the build (upload included) may take: 90s, 30m, 2h [default: 1h].
    #[arg(long, value_name = "DURATION", env = "STEVEDORE_BUILD_TIMEOUT")]
    pub timeout: Option<Timeout>,
    /// The image repository [default: $CI_REGISTRY_IMAGE, locally the project's name].
    #[arg(long, value_name = "REPOSITORY", env = "STEVEDORE_IMAGE")]
    pub image: Option<String>,
    /// `NAME:TAG` (a full reference, as with `docker build -t`: sets the image and the tag) or a bare
    /// `TAG` of the image given by --image / [build] image / $CI_REGISTRY_IMAGE; replaces the tags made
    /// from the version (repeatable).
    #[arg(long, short = 't', value_name = "NAME[:TAG]")]
    pub tag: Vec<String>,
    /// Push every tag and check the registry's digest.
    #[arg(long)]
    pub push: bool,
    /// Write IMAGE, IMAGE_DIGEST, IMAGE_TAGS and IMAGE_ID (GitLab dotenv) to this file.
    #[arg(long, value_name = "FILE")]
    pub dotenv: Option<PathBuf>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// The builder: auto (BuildKit when the daemon has it), buildkit, classic.
    #[arg(long, value_enum, value_name = "BUILDER", env = "STEVEDORE_BUILDER")]
    pub builder: Option<BuilderChoice>,
    /// Push without scanning the built image for secrets (the scan before `--push` is on by default).
    #[arg(long)]
    pub no_scan_image: bool,
    /// Always pull a newer version of the base images.
    #[arg(long)]
    pub pull: bool,
    /// The network RUN instructions use: default, none, host (BuildKit), or a network name (classic).
    #[arg(long, value_name = "NETWORK")]
    pub network: Option<String>,
    /// A `HOST:IP` line for /etc/hosts during RUN (repeatable; `HOST=IP` accepted too).
    #[arg(long = "add-host", value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// Size of /dev/shm during RUN, e.g. 64m, 1g.
    #[arg(long = "shm-size", value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// Write the image ID to this file.
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// How to show the build output: auto (tty on a terminal, else plain), plain, tty, quiet.
    #[arg(long, value_enum, value_name = "TYPE", default_value_t = settings::ProgressMode::Auto)]
    pub progress: settings::ProgressMode,
    /// SSH for `RUN --mount=type=ssh`: `default` ($SSH_AUTH_SOCK), `ID=SOCKET` (an agent) or
    /// `ID=KEY[,KEY…]` (key files, loaded into a private agent for the build); repeatable; BuildKit only.
    #[arg(long, value_name = "default|ID[=SOCKET|KEY[,KEY…]]")]
    pub ssh: Vec<String>,
    /// A build secret for `RUN --mount=type=secret,id=NAME`: `id=NAME[,env=VAR|,src=FILE]`, as with
    /// `docker buildx build --secret` (repeatable; BuildKit only). Never written to a layer or the log.
    #[arg(long, value_name = "id=NAME[,env=VAR|,src=FILE]")]
    pub secret: Vec<String>,
}

/// Runs the step, records its outcome in the run summary and returns it.
pub async fn run(app: &App, args: &BuildArgs) -> anyhow::Result<StepOutcome> {
    let started = Instant::now();
    let result = steps(app, args, started).await;
    outcome::record(app, result, started)
}

/// Settings → plan → execute → outcome.
async fn steps(app: &App, args: &BuildArgs, started: Instant) -> anyhow::Result<StepOutcome> {
    let settings = settings::resolve(&app.ctx, &app.config.build, args)?;
    let _section = outcome::section(app, &settings);
    // What no daemon can change (a secret with --builder classic) is refused before any work.
    plan::plan(settings.clone(), None).check()?;
    if app.dry_run {
        return Ok(outcome::dry_run(app, &plan::plan(settings, None), started));
    }
    // A dotenv or iidfile left by an earlier run must not outlive a failure of this one.
    execute::clear_outputs(&settings)?;
    let docker = crate::docker::connect(settings.timeout).await?;
    let login = execute::login(app, &settings).await?;
    // Lease base images and cache sources: no prune (nor the disk guard) removes them mid-build.
    let file = settings.dockerfile_path();
    let mut cache = plan::default_cache_refs(&settings.repo, &settings.tags);
    cache.extend(settings.cache_from.iter().cloned());
    let (bargs, ttl) = (&settings.build_args, settings.timeout);
    let _lease = lease::for_build(app, &docker, &file, bargs, &cache, ttl).await;
    execute::disk_guard(app, &docker).await?;
    execute::pull_cache(app, &docker, &settings).await;
    let observed = execute::observe(app, &docker, &settings).await;
    let plan = plan::plan(settings, Some(&observed));
    plan.check()?;
    let done = execute::execute(app, &docker, &plan, login.as_ref()).await?;
    outcome::success(app, &plan, &done, started)
}
