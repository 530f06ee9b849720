//! `stevedore deploy`: deploy the built digest (`IMAGE_DIGEST`, never a mutable tag) to every
//! `[[deploy.targets]]` of an environment, verify each runs it, and report per target.
//!
//! Targets run in parallel (`--parallel`, default 4); one failure does not stop the others unless
//! `--fail-fast`. Each target ends ok, failed, timeout or skipped — in a table, in `deploy-report.json`
//! and in the run summary. Providers: [`http`] (a hosting provider's API) and [`docker`] (a container on a
//! Docker host). A deploy window ([`window`]) waits for the agreed time.

pub mod docker;
pub mod duration;
pub mod http;
pub mod report;
pub mod target;
pub mod template;
pub mod verify;
pub mod window;

use crate::app::App;
use crate::exit::{ExitCode, coded};
use crate::release::version;
use crate::summary::{self, Status, StepOutcome};
use duration::Dur;
use futures_util::StreamExt;
use regex::Regex;
use report::{Report, TargetResult, TargetStatus};
use serde::Deserialize;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use target::{Provider, TargetConfig};
use template::Vars;
use window::{At, Offset, Window};

/// The `[deploy]` table of `stevedore.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeployConfig {
    /// The clients' instances: `[[deploy.targets]]` with `name`, `environment`, `provider` and the
    /// provider's fields.
    pub targets: Vec<TargetConfig>,
    /// How many targets deploy at once (default 4).
    pub parallel: usize,
    /// How long to wait for a target to report the new image and healthy (default `10m`).
    pub verify_timeout: Dur,
    /// Time between status polls (default `5s`).
    pub poll_interval: Dur,
    /// Timeout of one HTTP request (default `30s`).
    pub request_timeout: Dur,
    /// Stop starting targets after the first failure (default false).
    pub fail_fast: bool,
    /// Deploy only inside this daily window, `HH:MM-HH:MM` (may wrap midnight); wait for it otherwise.
    pub window: Option<Window>,
    /// The offset the window and `--at` are in (default `UTC`; e.g. `+01:00`).
    pub utc_offset: Offset,
}

impl Default for DeployConfig {
    fn default() -> Self {
        DeployConfig {
            targets: Vec::new(),
            parallel: 4,
            verify_timeout: Dur(Duration::from_secs(600)),
            poll_interval: Dur(Duration::from_secs(5)),
            request_timeout: Dur(Duration::from_secs(30)),
            fail_fast: false,
            window: None,
            utc_offset: Offset::default(),
        }
    }
}

/// Command-line arguments of `stevedore deploy`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct DeployArgs {
    /// The environment to deploy (default: ENVIRONMENT or CHANNEL from release's dotenv, else the
    /// channel of the tag).
    #[arg(long, value_name = "ENV")]
    pub environment: Option<String>,
    /// The image to deploy, `repository@sha256:…` (default IMAGE_DIGEST from build's dotenv).
    #[arg(long, value_name = "REF", env = "IMAGE_DIGEST")]
    pub image: Option<String>,
    /// The version being deployed, for targets that verify it (default VERSION from release's dotenv,
    /// else the version of the tag).
    #[arg(long = "release-version", value_name = "X.Y.Z", env = "VERSION")]
    pub release_version: Option<String>,
    /// Deploy only this target (redeploy one client).
    #[arg(long, value_name = "NAME")]
    pub only: Option<String>,
    /// How many targets deploy at once (default [deploy] parallel, 4).
    #[arg(long, value_name = "N")]
    pub parallel: Option<usize>,
    /// Stop starting targets after the first failure.
    #[arg(long)]
    pub fail_fast: bool,
    /// How long each target has to report the new image and healthy (default [deploy] verify_timeout, 10m).
    #[arg(long, value_name = "DURATION")]
    pub verify_timeout: Option<Dur>,
    /// Wait until this time of day (HH:MM, in [deploy] utc_offset) before deploying.
    #[arg(long, value_name = "HH:MM")]
    pub at: Option<At>,
    /// Print the deploy report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Timing settings shared by the providers.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Deadline of a target's verification.
    pub verify_timeout: Duration,
    /// Time between polls.
    pub poll_interval: Duration,
    /// Timeout of one HTTP request.
    pub request_timeout: Duration,
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
                "`{s}` is not an immutable image reference: deploy needs repository@sha256:<64 hex> (IMAGE_DIGEST from build's dotenv), never a mutable tag"
            ),
        )),
    }
}

/// The environment to deploy: the flag, else ENVIRONMENT, else CHANNEL (mapped by `[release]`), else the
/// channel of the tag, computed as `release` does.
pub fn resolve_environment(app: &App, flag: Option<&str>) -> anyhow::Result<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    if let Some(e) = flag.map(str::to_string).or_else(|| var("ENVIRONMENT")) {
        return Ok(e);
    }
    let rc = &app.config.release;
    if let Some(c) = var("CHANNEL") {
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
/// env fallback), else the tag's version; empty when none is known.
fn resolve_version(app: &App, flag: Option<&str>) -> String {
    if let Some(v) = flag
        .map(str::to_string)
        .or_else(|| std::env::var("VERSION").ok())
        .filter(|v| !v.trim().is_empty())
    {
        return v.trim().to_string();
    }
    app.ctx
        .commit_tag
        .as_deref()
        .and_then(|t| version::parse_tag(t, &app.config.release.tag_prefix).ok())
        .map(|v| v.to_string())
        .unwrap_or_default()
}

/// Waits for the deploy window or `--at` time, printing what it waits for (a dry run only prints).
async fn wait_window(app: &App, args: &DeployArgs) {
    let cfg = &app.config.deploy;
    // STEVEDORE_NOW (RFC 3339) stands in for the clock, so a window can be tested end to end.
    let utc_now = std::env::var("STEVEDORE_NOW")
        .ok()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s.trim()).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(chrono::Utc::now);
    let now = utc_now.with_timezone(&cfg.utc_offset.0);
    let (wait, what) = match (args.at, cfg.window) {
        (Some(At(t)), _) => (
            window::until(now, t),
            format!("--at {} {}", t.format("%H:%M"), cfg.utc_offset),
        ),
        (None, Some(w)) => (
            w.wait_from(now),
            format!("the deploy window {w} {}", cfg.utc_offset),
        ),
        (None, None) => return,
    };
    if wait.is_zero() {
        app.out
            .info(format!("{what}: open now ({})", now.format("%H:%M")));
        return;
    }
    let until = now + chrono::Duration::from_std(wait).unwrap_or_default();
    if app.dry_run {
        app.out.info(format!(
            "dry run: would wait {} for {what} (until {})",
            window::human_wait(wait),
            until.format("%Y-%m-%d %H:%M")
        ));
        return;
    }
    app.out.info(format!(
        "waiting {} for {what} (until {}); cancel the job to stop",
        window::human_wait(wait),
        until.format("%Y-%m-%d %H:%M")
    ));
    tokio::time::sleep(wait).await;
}

fn docker_creds(app: &App, repo: &str) -> Option<bollard::auth::DockerCredentials> {
    let reg = app.ctx.registry.as_deref()?;
    if !repo.starts_with(&format!("{reg}/")) {
        return None;
    }
    Some(bollard::auth::DockerCredentials {
        username: app.ctx.registry_user.clone(),
        password: app.ctx.registry_password.clone(),
        serveraddress: Some(reg.to_string()),
        ..Default::default()
    })
}

/// Runs the step.
pub async fn run(app: &App, args: &DeployArgs) -> anyhow::Result<StepOutcome> {
    let started = Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let cfg = &app.config.deploy;
    let _section = app
        .out
        .section("deploy", "deploy: rolling out the digest", false);
    if cfg.targets.is_empty() {
        app.out.warn(
            "no [[deploy.targets]] in stevedore.toml: nothing to deploy (see the release and deploy section of README.md)",
        );
        let o = StepOutcome::new(
            "deploy",
            Status::Skipped,
            started.elapsed(),
            "no targets configured",
        );
        let _ = summary::record(&app.ctx.project_dir, &o);
        return Ok(o);
    }
    // Arguments built in code (e.g. by `run`) have no clap env fallback: read IMAGE_DIGEST here too.
    let image = args
        .image
        .clone()
        .or_else(|| std::env::var("IMAGE_DIGEST").ok())
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
        coded(
            ExitCode::Usage,
            "no image to deploy: set IMAGE_DIGEST (build's dotenv, repository@sha256:…) or pass --image",
        )
    })?;
    let (repository, digest) = parse_image(&image)?;
    let environment = resolve_environment(app, args.environment.as_deref())?;
    let version = resolve_version(app, args.release_version.as_deref());
    let mut names = std::collections::HashSet::new();
    for t in &cfg.targets {
        if !names.insert(t.name.as_str()) {
            return Err(coded(
                ExitCode::Usage,
                format!(
                    "[[deploy.targets]] name `{}` is used twice: give each target its own name",
                    t.name
                ),
            ));
        }
    }
    let in_env: Vec<&TargetConfig> = cfg
        .targets
        .iter()
        .filter(|t| t.environment == environment)
        .collect();
    if in_env.is_empty() {
        let envs: std::collections::BTreeSet<&str> =
            cfg.targets.iter().map(|t| t.environment.as_str()).collect();
        return Err(coded(
            ExitCode::Usage,
            format!(
                "no [[deploy.targets]] with environment = \"{environment}\" (configured: {}): add one, or pass --environment",
                envs.into_iter().collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    if let Some(only) = &args.only
        && !in_env.iter().any(|t| &t.name == only)
    {
        return Err(coded(
            ExitCode::Usage,
            format!(
                "--only {only}: no such target in environment {environment} (targets: {})",
                in_env
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let selected: Vec<&TargetConfig> = in_env
        .iter()
        .copied()
        .filter(|t| args.only.as_ref().is_none_or(|o| &t.name == o))
        .collect();
    for t in &selected {
        t.validate().map_err(|e| coded(ExitCode::Usage, e))?;
    }
    let mut creds = Vec::new();
    for t in &selected {
        creds.push(match t.provider {
            Provider::Http => http::creds(t, app.dry_run).map_err(|e| coded(ExitCode::Usage, e))?,
            Provider::Docker => http::Creds::default(),
        });
    }
    let settings = Settings {
        verify_timeout: args.verify_timeout.unwrap_or(cfg.verify_timeout).0,
        poll_interval: cfg.poll_interval.0,
        request_timeout: cfg.request_timeout.0,
    };
    let parallel = args.parallel.unwrap_or(cfg.parallel).max(1);
    let fail_fast = args.fail_fast || cfg.fail_fast;
    let vars_of = |t: &TargetConfig| Vars {
        image: image.clone(),
        digest: digest.clone(),
        version: version.clone(),
        client: t.client().to_string(),
        name: t.name.clone(),
        environment: environment.clone(),
        repository: repository.clone(),
    };
    for t in &selected {
        if t.provider == Provider::Http
            && t.verify.expect == target::Expect::Version
            && version.is_empty()
        {
            return Err(coded(
                ExitCode::Usage,
                format!(
                    "[[deploy.targets]] `{}` verifies the version, but no version is known: pass --release-version, set VERSION (release's dotenv), or run in a tag pipeline",
                    t.name
                ),
            ));
        }
    }
    app.out.info(format!(
        "deploying {image} (version {}) to {} target{} of {environment}, {parallel} at a time",
        if version.is_empty() {
            "unknown"
        } else {
            &version
        },
        selected.len(),
        if selected.len() == 1 { "" } else { "s" }
    ));
    wait_window(app, args).await;

    let mut results: Vec<TargetResult> = Vec::new();
    if app.dry_run {
        for t in &selected {
            let vars = vars_of(t);
            match t.provider {
                Provider::Http => {
                    for line in http::describe(t, &vars, &http::expected(t, &vars), &settings) {
                        app.out.info(format!("dry run: {}: {line}", t.name));
                    }
                }
                Provider::Docker => app.out.info(format!(
                    "dry run: {}: would replace container {} on {} by one from {image}, wait up to {} for its HEALTHCHECK, and roll back if it fails",
                    t.name,
                    t.container.as_deref().unwrap_or_default(),
                    docker::target(t.docker_host.as_deref()).describe(),
                    crate::output::human_duration(settings.verify_timeout),
                )),
            }
            results.push(
                TargetResult::new(t, TargetStatus::Skipped, &digest)
                    .err(TargetStatus::Skipped, "dry run"),
            );
        }
    } else {
        let http_client = http::client(settings.request_timeout)?;
        let stop = AtomicBool::new(false);
        let jobs = selected.iter().zip(creds.iter()).map(|(t, c)| {
            let vars = vars_of(t);
            let http_client = &http_client;
            let stop = &stop;
            let repo = repository.clone();
            async move {
                let t0 = Instant::now();
                if stop.load(Ordering::SeqCst) {
                    return TargetResult::new(t, TargetStatus::Skipped, &vars.digest).err(
                        TargetStatus::Skipped,
                        "not started: an earlier target failed (--fail-fast)",
                    );
                }
                let mut r = match t.provider {
                    Provider::Http => {
                        http::deploy(http_client, t, &vars, c, &settings, &app.out).await
                    }
                    Provider::Docker => {
                        docker::deploy(t, &vars, docker_creds(app, &repo), &settings, &app.out)
                            .await
                    }
                };
                r.duration_ms = t0.elapsed().as_millis() as u64;
                if r.status.is_failure() {
                    app.out.error(format!(
                        "error: {}: {} — {}",
                        t.name,
                        r.status.as_str(),
                        r.error.clone().unwrap_or_default()
                    ));
                    if fail_fast {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
                r
            }
        });
        results = futures_util::stream::iter(jobs)
            .buffer_unordered(parallel)
            .collect()
            .await;
    }
    // Targets of the environment not selected by --only are listed as skipped.
    for t in &in_env {
        if !selected.iter().any(|s| s.name == t.name) {
            results.push(TargetResult::new(t, TargetStatus::Skipped, &digest).err(
                TargetStatus::Skipped,
                format!(
                    "not selected (--only {})",
                    args.only.clone().unwrap_or_default()
                ),
            ));
        }
    }
    let order = |n: &str| {
        cfg.targets
            .iter()
            .position(|t| t.name == n)
            .unwrap_or(usize::MAX)
    };
    results.sort_by_key(|r| order(&r.name));
    let rep = Report {
        environment: environment.clone(),
        image: image.clone(),
        digest: digest.clone(),
        version: version.clone(),
        dry_run: app.dry_run,
        started_at,
        targets: results,
    };
    rep.table(&app.out);
    if !app.dry_run {
        let path = rep.write(&app.ctx.project_dir).map_err(|e| {
            coded(
                ExitCode::Outside,
                format!(
                    "cannot write {} in {}: {e}",
                    report::FILE,
                    app.ctx.project_dir.display()
                ),
            )
        })?;
        app.out.detail(format!("wrote {}", path.display()));
    }
    if args.json {
        app.out
            .result(crate::redact::redact(&serde_json::to_string_pretty(&rep)?));
    }
    let (ok, failed, timeout, skipped) = rep.counts();
    let failures: Vec<&TargetResult> = rep
        .targets
        .iter()
        .filter(|t| t.status.is_failure())
        .collect();
    let status = if !failures.is_empty() {
        Status::Failed
    } else if app.dry_run {
        Status::Skipped
    } else {
        Status::Success
    };
    let headline = if app.dry_run {
        format!(
            "dry run: {} target{} of {environment}",
            selected.len(),
            if selected.len() == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "{environment}: {ok} ok, {failed} failed, {timeout} timeout, {skipped} skipped — {}",
            report::short(&image)
        )
    };
    let mut o = StepOutcome::new("deploy", status, started.elapsed(), headline.clone()).with_facts(
        serde_json::json!({
            "environment": environment,
            "image": image,
            "digest": digest,
            "version": version,
            "ok": ok, "failed": failed, "timeout": timeout, "skipped": skipped,
            "targets": rep.targets,
        }),
    );
    if !failures.is_empty() && failures.iter().all(|f| f.unreachable) {
        o.exit_code = Some(ExitCode::Outside.as_i32());
    }
    let _ = summary::record(&app.ctx.project_dir, &o);
    app.out.summary(
        "deploy",
        &[
            ("environment".into(), environment),
            ("image".into(), image),
            (
                "version".into(),
                if version.is_empty() {
                    "-".into()
                } else {
                    version
                },
            ),
            ("result".into(), headline),
        ],
    );
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_refs() {
        let d = format!("sha256:{}", "a".repeat(64));
        let (r, dg) = parse_image(&format!("registry.example.com:5000/acme/app@{d}")).unwrap();
        assert_eq!(r, "registry.example.com:5000/acme/app");
        assert_eq!(dg, d);
        for bad in [
            "acme/app:latest",
            "acme/app:1.5.0",
            "acme/app@sha256:abc",
            "sha256:abc",
            "",
        ] {
            let e = parse_image(bad).unwrap_err();
            assert_eq!(crate::exit::code_of(&e), ExitCode::Usage, "{bad}");
        }
    }

    #[test]
    fn config_parses_with_lines() {
        let text = r#"
[deploy]
parallel = 2
verify_timeout = "2m"
window = "22:00-02:00"

[[deploy.targets]]
name = "acme"
environment = "production"
provider = "http"
url = "https://api.example.com/services/{client}"
auth = "basic"
user_env = "MEDSTACK_KEY"
password_env = "MEDSTACK_SECRET"
body = { image = "{image}", version = "{version}" }
[deploy.targets.verify]
pointer = "/image"

[[deploy.targets]]
name = "beta"
environment = "staging"
provider = "docker"
container = "app"
"#;
        let c = crate::config::Config::parse(text, std::path::Path::new("stevedore.toml")).unwrap();
        assert_eq!(c.deploy.targets.len(), 2);
        assert_eq!(c.deploy.verify_timeout.0, Duration::from_secs(120));
        assert!(c.deploy.targets.iter().all(|t| t.validate().is_ok()));
        let bad = "[deploy]\nverify_timeout = \"ten minutes\"\n";
        let e =
            crate::config::Config::parse(bad, std::path::Path::new("stevedore.toml")).unwrap_err();
        let m = crate::exit::render(&e);
        assert!(
            m.contains("stevedore.toml:2") && m.contains("not a duration"),
            "{m}"
        );
        let bad =
            "[[deploy.targets]]\nname = \"x\"\nenvironment = \"staging\"\nprovider = \"ftp\"\n";
        let e =
            crate::config::Config::parse(bad, std::path::Path::new("stevedore.toml")).unwrap_err();
        assert!(
            crate::exit::render(&e).contains("stevedore.toml:4"),
            "{}",
            crate::exit::render(&e)
        );
    }
}
