//! `stevedore deploy`: deploy the built digest (`IMAGE_DIGEST`, never a mutable tag) to every
//! `[[deploy.targets]]` of an environment, verify each runs it, and report per target.
//!
//! [`run`] reads as the four stages: [`settings`] (flags, environment and `[deploy]` resolved once) →
//! [`plan`] (pure: which targets, their request values, the credential variables they read, the
//! production [`policy`]; `--dry-run` prints it) → [`execute`] (wait for the [`window`], deploy through
//! the providers [`http`] and [`docker`]) → outcome (the table, [`report`], the run summary).
//! Targets run in parallel (`--parallel`, default 4); one failure does not stop the others unless
//! `--fail-fast`. Each target ends ok, failed, timeout or skipped. SIGINT/SIGTERM stop waits at once; a
//! docker target being verified is rolled back, and the report says how each target was left.

pub mod docker;
pub mod duration;
pub mod execute;
pub mod http;
pub mod plan;
pub mod policy;
pub mod report;
pub mod settings;
pub mod target;
pub mod template;
pub mod verify;
pub mod window;

use crate::app::App;
use crate::exit::{ExitCode, coded};
use crate::summary::{self, Status, StepOutcome};
use duration::Dur;
use plan::Plan;
use policy::Verdict;
use report::{Report, TargetResult, TargetStatus};
use serde::Deserialize;
use settings::Settings;
use std::time::{Duration, Instant};
use target::TargetConfig;
use window::{At, Offset, Window};

pub use settings::{parse_image, resolve_environment};

/// Runs the step: settings → plan → execute → outcome.
pub async fn run(app: &App, args: &DeployArgs) -> anyhow::Result<StepOutcome> {
    let started = (Instant::now(), now_rfc3339());
    let _section = app
        .out
        .section("deploy", "deploy: rolling out the digest", false);
    if app.config.deploy.targets.is_empty() {
        return Ok(no_targets(app, started.0));
    }
    let s = Settings::resolve(app, args)?;
    let plan = plan::plan(&s, &app.config.deploy, &app.config.release)?;
    let creds = read_credentials(&plan)?;
    if let Some(refused) = enforce_policy(app, &plan, started.0) {
        return Ok(refused);
    }
    app.out.info(plan.headline());
    // From here a signal lets deploy finish: roll back what it was verifying and write the report.
    let _critical = (!s.dry_run).then(|| signal_guard(&plan));
    let results = execute::execute(app, &s, &plan, &creds).await?;
    outcome(app, &s, &plan, results, started)
}

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
    /// Deploy to production from outside CI, where the protected-tag check cannot be made (prints a
    /// warning). Has no effect in CI: there production needs a protected release tag.
    #[arg(long)]
    pub force: bool,
    /// Print the deploy report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Deploy shard I of N (1-based): a stable 1/N of the environment's targets (sorted by name, every
    /// N-th), reported in .stevedore/deploy-report-I-of-N.json (default: from CI_NODE_INDEX and
    /// CI_NODE_TOTAL in a job with `parallel:`).
    #[arg(long, value_name = "I/N", conflicts_with = "only")]
    pub shard: Option<crate::shard::Shard>,
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// No `[[deploy.targets]]`: the step is skipped, with a warning that says where to configure them.
fn no_targets(app: &App, started: Instant) -> StepOutcome {
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
    o
}

/// Reads every credential variable the plan names — in a dry run too, so an unset one fails it as it
/// would fail the deploy (exit 2, naming each variable).
fn read_credentials(plan: &Plan) -> anyhow::Result<Vec<http::Creds>> {
    plan.targets
        .iter()
        .map(|tp| http::creds(&tp.target).map_err(|e| coded(ExitCode::Usage, e)))
        .collect()
}

/// Applies the production policy: a refusal is recorded and returned (exit 3); `--force` outside CI
/// warns.
fn enforce_policy(app: &App, plan: &Plan, started: Instant) -> Option<StepOutcome> {
    match &plan.policy {
        Verdict::Allowed => None,
        Verdict::Forced(warning) => {
            app.out.warn(warning);
            None
        }
        Verdict::Refused(why) => {
            app.out.error(format!("error: deploy refused: {why}"));
            let mut o = StepOutcome::new(
                "deploy",
                Status::Failed,
                started.elapsed(),
                format!("deploy to {} refused: {why}", plan.environment),
            )
            .with_facts(serde_json::json!({
                "environment": plan.environment, "image": plan.image, "refused": true, "reason": why,
            }));
            o.exit_code = Some(ExitCode::Refused.as_i32());
            o.shard = plan.shard;
            let _ = summary::record(&app.ctx.project_dir, &o);
            Some(o)
        }
    }
}

/// Holds the process on a signal until deploy has rolled back and reported (see [`crate::signal`]).
fn signal_guard(plan: &Plan) -> crate::signal::Critical {
    crate::signal::critical(format!(
        "deploy to {}: targets may be half-replaced",
        plan.environment
    ))
}

/// Stage 4: the report (table, `deploy-report.json`, `--json`), the run summary and the exit status.
fn outcome(
    app: &App,
    s: &Settings,
    plan: &Plan,
    mut results: Vec<TargetResult>,
    started: (Instant, String),
) -> anyhow::Result<StepOutcome> {
    for (t, why) in &plan.not_selected {
        results.push(
            TargetResult::new(t, TargetStatus::Skipped, &plan.digest)
                .err(TargetStatus::Skipped, why),
        );
    }
    let order = |n: &str| app.config.deploy.targets.iter().position(|t| t.name == n);
    results.sort_by_key(|r| order(&r.name).unwrap_or(usize::MAX));
    let rep = Report {
        shard: plan.shard,
        environment: plan.environment.clone(),
        image: plan.image.clone(),
        digest: plan.digest.clone(),
        version: plan.version.clone().unwrap_or_default(),
        dry_run: s.dry_run,
        started_at: started.1,
        targets: results,
    };
    rep.table(&app.out);
    if !s.dry_run {
        let path = rep.write(&app.ctx.project_dir).map_err(|e| {
            coded(
                ExitCode::Outside,
                format!(
                    "cannot write {} in {}: {e}",
                    report::name(plan.shard),
                    app.ctx.project_dir.display()
                ),
            )
        })?;
        app.out.detail(format!("wrote {}", path.display()));
    }
    if s.json {
        app.out.result(crate::redact::json_pretty(&rep)?);
    }
    let o = step_outcome(s, plan, &rep, started.0.elapsed());
    let _ = summary::record(&app.ctx.project_dir, &o);
    let version = plan.version.clone().unwrap_or_else(|| "-".into());
    app.out.summary(
        "deploy",
        &[
            ("environment".into(), plan.environment.clone()),
            ("image".into(), plan.image.clone()),
            ("version".into(), version),
            ("result".into(), o.headline.clone()),
        ],
    );
    Ok(o)
}

/// The summary record of a finished deploy: failed when a target failed (exit 4 when every failure was
/// an unreachable provider), skipped for a dry run.
fn step_outcome(s: &Settings, plan: &Plan, rep: &Report, took: Duration) -> StepOutcome {
    let (ok, failed, timeout, skipped) = rep.counts();
    let failures: Vec<&TargetResult> = rep
        .targets
        .iter()
        .filter(|t| t.status.is_failure())
        .collect();
    let status = match (failures.is_empty(), s.dry_run) {
        (false, _) => Status::Failed,
        (true, true) => Status::Skipped,
        (true, false) => Status::Success,
    };
    let env = &plan.environment;
    let headline = if s.dry_run {
        let n = plan.targets.len();
        format!(
            "dry run: {n} target{} of {env}",
            if n == 1 { "" } else { "s" }
        )
    } else {
        format!(
            "{env}: {ok} ok, {failed} failed, {timeout} timeout, {skipped} skipped — {}",
            report::short(&plan.image)
        )
    };
    let mut o = StepOutcome::new("deploy", status, took, headline);
    o.shard = plan.shard;
    let mut o = o.with_facts(serde_json::json!({
        "environment": env,
        "image": plan.image,
        "digest": plan.digest,
        "version": plan.version.clone().unwrap_or_default(),
        "ok": ok, "failed": failed, "timeout": timeout, "skipped": skipped,
        "targets": rep.targets,
    }));
    if !failures.is_empty() && failures.iter().all(|f| f.unreachable) {
        o.exit_code = Some(ExitCode::Outside.as_i32());
    }
    o
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
