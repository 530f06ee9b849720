//! Stage 1 of `deploy`: flags, environment and `[deploy]` config resolved once into [`Settings`], a plain
//! value the plan is computed from. Errors name the flag or variable and the fix (exit 2).

use super::window::{At, Offset, Window};
use super::{DeployArgs, DeployConfig};
use crate::app::App;
use crate::exit::{ExitCode, coded};
use crate::release::version::{self, shown};
use regex::Regex;
use std::sync::LazyLock;
use std::time::Duration;

/// Timing settings shared by the providers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Deadline of a target's verification.
    pub verify_timeout: Duration,
    /// Time between polls.
    pub poll_interval: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
}

/// Where the deploy runs from, for the production policy: a CI pipeline (with its tag and whether it is
/// protected) or a laptop.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    /// In a CI job (`CI=true`).
    pub ci: bool,
    /// The pipeline's tag (`CI_COMMIT_TAG`), if any.
    pub tag: Option<String>,
    /// `CI_COMMIT_REF_PROTECTED` is `true`.
    pub protected: bool,
    /// `GITLAB_USER_LOGIN`, for `[release] deployers`.
    pub login: Option<String>,
}

/// Everything `deploy` was asked to do, resolved once.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The image reference, `repository@sha256:…`.
    pub image: String,
    /// Its repository.
    pub repository: String,
    /// Its digest, `sha256:…`.
    pub digest: String,
    /// The environment to deploy.
    pub environment: String,
    /// The release version, when one is known.
    pub version: Option<String>,
    /// `--only NAME`.
    pub only: Option<String>,
    /// How many targets deploy at once (at least 1).
    pub parallel: usize,
    /// Stop starting targets after the first failure.
    pub fail_fast: bool,
    /// Timeouts and poll interval.
    pub timing: Timing,
    /// `--at HH:MM`.
    pub at: Option<At>,
    /// `[deploy] window`.
    pub window: Option<Window>,
    /// `[deploy] utc_offset`.
    pub utc_offset: Offset,
    /// `--force`: production outside CI.
    pub force: bool,
    /// Where this runs from.
    pub origin: Origin,
    /// `--json`.
    pub json: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// The shard of the targets this run deploys (`--shard`, or CI_NODE_INDEX/CI_NODE_TOTAL).
    pub shard: Option<crate::shard::Shard>,
}

impl Settings {
    /// Resolves the flags against the environment and the `[deploy]` config.
    pub fn resolve(app: &App, args: &DeployArgs) -> anyhow::Result<Settings> {
        let cfg: &DeployConfig = &app.config.deploy;
        // Arguments built in code (e.g. by `run`) have no clap env fallback: read IMAGE_DIGEST here too.
        let image = args
            .image
            .clone()
            .or_else(|| env("IMAGE_DIGEST"))
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                coded(
                    ExitCode::Usage,
                    "no image to deploy: set IMAGE_DIGEST (build's dotenv, repository@sha256:…) or pass --image",
                )
            })?;
        let (repository, digest) = parse_image(&image)?;
        let ctx = &app.ctx;
        Ok(Settings {
            image: image.trim().to_string(),
            repository,
            digest,
            environment: resolve_environment(app, args.environment.as_deref())?,
            version: resolve_version(app, args.release_version.as_deref()),
            only: args.only.clone(),
            parallel: args.parallel.unwrap_or(cfg.parallel).max(1),
            fail_fast: args.fail_fast || cfg.fail_fast,
            timing: Timing {
                verify_timeout: args.verify_timeout.unwrap_or(cfg.verify_timeout).0,
                poll_interval: cfg.poll_interval.0,
                request_timeout: cfg.request_timeout.0,
            },
            at: args.at,
            window: cfg.window,
            utc_offset: cfg.utc_offset,
            force: args.force,
            origin: Origin {
                ci: ctx.ci,
                tag: ctx.commit_tag.clone(),
                protected: ctx.commit_ref_protected,
                login: ctx.user_login.clone(),
            },
            json: args.json,
            dry_run: app.dry_run,
            // `--only` redeploys one client: a parallel job's CI_NODE_* variables do not split it.
            shard: match args.only {
                Some(_) => None,
                None => crate::shard::Shard::resolve(args.shard)?,
            },
        })
    }
}

/// A non-empty environment variable.
fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

static IMAGE_REF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<repo>[a-z0-9][A-Za-z0-9._/:\-]*)@(?P<digest>sha256:[0-9a-f]{64})$")
        .expect("valid regex")
});

/// Splits `repository@sha256:…` into repository and digest; a mutable tag or anything else is a usage
/// error (exit 2).
pub fn parse_image(s: &str) -> anyhow::Result<(String, String)> {
    let s = s.trim();
    match IMAGE_REF.captures(s) {
        Some(c) => Ok((c["repo"].to_string(), c["digest"].to_string())),
        None => Err(coded(
            ExitCode::Usage,
            format!(
                "`{}` is not an immutable image reference: deploy needs repository@sha256:<64 hex> (IMAGE_DIGEST from build's dotenv), never a mutable tag",
                shown(s)
            ),
        )),
    }
}

/// The environment to deploy: the flag, else ENVIRONMENT, else CHANNEL (mapped by `[release]`), else the
/// channel of the tag, computed as `release` does.
pub fn resolve_environment(app: &App, flag: Option<&str>) -> anyhow::Result<String> {
    if let Some(e) = flag.map(str::to_string).or_else(|| env("ENVIRONMENT")) {
        return Ok(e);
    }
    let rc = &app.config.release;
    if let Some(c) = env("CHANNEL") {
        return Ok(match c.as_str() {
            "staging" => rc.environment_of(version::Channel::Staging).to_string(),
            "production" => rc.environment_of(version::Channel::Production).to_string(),
            other => other.to_string(),
        });
    }
    if let Some(tag) = &app.ctx.commit_tag {
        let v = version::parse_tag(tag, &rc.tag_prefix).map_err(|e| coded(ExitCode::Usage, e))?;
        let ch = version::channel_of(&v, &rc.staging_ids).map_err(|e| coded(ExitCode::Usage, e))?;
        return Ok(rc.environment_of(ch).to_string());
    }
    Err(coded(
        ExitCode::Usage,
        "no environment to deploy: pass --environment staging|production, or run after `stevedore release --dotenv` (ENVIRONMENT), or in a tag pipeline",
    ))
}

/// The version being deployed: `--release-version`, else VERSION (arguments built in code have no clap
/// env fallback), else the tag's version; none when none is known.
fn resolve_version(app: &App, flag: Option<&str>) -> Option<String> {
    if let Some(v) = flag
        .map(str::to_string)
        .or_else(|| env("VERSION"))
        .filter(|v| !v.trim().is_empty())
    {
        return Some(v.trim().to_string());
    }
    app.ctx
        .commit_tag
        .as_deref()
        .and_then(|t| version::parse_tag(t, &app.config.release.tag_prefix).ok())
        .map(|v| v.to_string())
}
