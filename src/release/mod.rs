//! `stevedore release`: decide the channel (staging or production) of a semantic-version tag, refuse what
//! policy forbids (exit 3), and hand the decision to later jobs as a dotenv file. `stevedore release next`
//! computes the next version from the existing tags and, with `--create`, tags and pushes it.
//!
//! The pure rules live in [`version`] so `deploy` can compute the same channel from a tag.

pub mod git;
pub mod next;
pub mod version;

use crate::app::App;
use crate::exit::{ExitCode, coded};
use crate::summary::{self, Status, StepOutcome};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Instant;
use version::{Channel, Existing};

/// The `[release]` table of `stevedore.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReleaseConfig {
    /// The tag prefix before the version (default `v`: `v1.5.0`); optional on a tag.
    pub tag_prefix: String,
    /// Prerelease identifiers that go to staging (default `beta`, `rc`); other prereleases are refused.
    pub staging_ids: Vec<String>,
    /// Allow production releases from tags that are not protected (default false).
    pub allow_unprotected: bool,
    /// When set, only these GitLab logins (`GITLAB_USER_LOGIN`) may release.
    pub deployers: Option<Vec<String>>,
    /// The deploy environment of the staging channel (default `staging`).
    pub staging_environment: String,
    /// The deploy environment of the production channel (default `production`).
    pub production_environment: String,
    /// Fetch the remote's tags before comparing versions (a CI clone may hold only its own tag).
    pub fetch_tags: bool,
    /// The remote to fetch tags from and push new tags to (default `origin`).
    pub remote: String,
}

impl Default for ReleaseConfig {
    fn default() -> Self {
        ReleaseConfig {
            tag_prefix: "v".into(),
            staging_ids: vec!["beta".into(), "rc".into()],
            allow_unprotected: false,
            deployers: None,
            staging_environment: "staging".into(),
            production_environment: "production".into(),
            fetch_tags: false,
            remote: "origin".into(),
        }
    }
}

impl ReleaseConfig {
    /// The deploy environment a channel maps to.
    pub fn environment_of(&self, ch: Channel) -> &str {
        match ch {
            Channel::Staging => &self.staging_environment,
            Channel::Production => &self.production_environment,
        }
    }
}

/// Command-line arguments of `stevedore release`.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReleaseArgs {
    /// `next`: compute (and with `--create` tag and push) the next version.
    #[command(subcommand)]
    pub command: Option<ReleaseCommand>,
    /// The tag to release (default `CI_COMMIT_TAG`; locally the version tag at HEAD).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Write VERSION, CHANNEL, ENVIRONMENT, IS_PRERELEASE, PREVIOUS_VERSION to this dotenv file
    /// (GitLab `artifacts:reports:dotenv`).
    #[arg(long, value_name = "FILE")]
    pub dotenv: Option<PathBuf>,
    /// Print the decision as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Subcommands of `stevedore release`.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum ReleaseCommand {
    /// The next version from the existing tags: --feature bumps the minor, --fix the patch, --major the
    /// major; --beta counts up -beta.N. With --create, tag it (annotated) and push the tag.
    #[command(after_help = "Example:\n  stevedore release next --feature --beta --create")]
    Next(next::NextArgs),
}

/// What `release` decided about a tag.
#[derive(Clone, Debug, Serialize)]
pub struct Decision {
    /// The tag released.
    pub tag: String,
    /// Its version, without prefix.
    pub version: String,
    /// `staging` or `production`.
    pub channel: Channel,
    /// The deploy environment of the channel.
    pub environment: String,
    /// True for a prerelease.
    pub is_prerelease: bool,
    /// The highest version already on the channel (empty when none).
    pub previous_version: String,
}

impl Decision {
    /// The dotenv pairs: VERSION, CHANNEL, ENVIRONMENT, IS_PRERELEASE, PREVIOUS_VERSION.
    pub fn dotenv(&self) -> Vec<(&'static str, String)> {
        vec![
            ("VERSION", self.version.clone()),
            ("CHANNEL", self.channel.to_string()),
            ("ENVIRONMENT", self.environment.clone()),
            ("IS_PRERELEASE", self.is_prerelease.to_string()),
            ("PREVIOUS_VERSION", self.previous_version.clone()),
        ]
    }
}

/// The policy checks that need no repository: channel, protected tag, deployers. Returns the version,
/// its channel, and every reason to refuse.
pub fn check_policy(
    tag: &str,
    cfg: &ReleaseConfig,
    protected: bool,
    login: Option<&str>,
) -> Result<(semver::Version, Channel, Vec<String>), String> {
    let v = version::parse_tag(tag, &cfg.tag_prefix)?;
    let ch = version::channel_of(&v, &cfg.staging_ids)?;
    let mut reasons = Vec::new();
    if ch == Channel::Production && !protected && !cfg.allow_unprotected {
        reasons.push(format!(
            "production release from tag {tag}, which is not protected (CI_COMMIT_REF_PROTECTED is not `true`): protect the tag pattern in GitLab (Settings > Repository > Protected tags), or set [release] allow_unprotected = true"
        ));
    }
    if let Some(list) = &cfg.deployers {
        match login {
            Some(l) if list.iter().any(|d| d == l) => {}
            Some(l) => reasons.push(format!(
                "`{l}` (GITLAB_USER_LOGIN) is not in [release] deployers ({}): ask one of them to create the tag, or add `{l}` to the list",
                list.join(", ")
            )),
            None => reasons.push(
                "[release] deployers is set but GITLAB_USER_LOGIN is empty: run in a GitLab pipeline started by a deployer".to_string(),
            ),
        }
    }
    Ok((v, ch, reasons))
}

/// Runs the step.
pub async fn run(app: &App, args: &ReleaseArgs) -> anyhow::Result<StepOutcome> {
    if let Some(ReleaseCommand::Next(n)) = &args.command {
        return next::run(app, n).await;
    }
    let started = Instant::now();
    let cfg = &app.config.release;
    let _section = app
        .out
        .section("release", "release: deciding the channel", false);
    let tag = args
        .tag
        .clone()
        .or_else(|| app.ctx.commit_tag.clone())
        .ok_or_else(|| {
            coded(
                ExitCode::Usage,
                "no tag to release: pass --tag TAG, or run in a tag pipeline (CI_COMMIT_TAG)",
            )
        })?;
    let refuse = |reasons: Vec<String>, version: Option<String>| -> anyhow::Result<StepOutcome> {
        for r in &reasons {
            app.out.error(format!("error: release refused: {r}"));
        }
        if args.json {
            app.out
                .result(serde_json::to_string_pretty(&serde_json::json!({
                    "tag": tag, "version": version, "refused": true, "reasons": reasons,
                }))?);
        }
        let mut o = StepOutcome::new(
            "release",
            Status::Failed,
            started.elapsed(),
            format!("release of {tag} refused: {}", reasons.join("; ")),
        )
        .with_facts(serde_json::json!({"tag": tag, "refused": true, "reasons": reasons}));
        o.exit_code = Some(ExitCode::Refused.as_i32());
        let _ = summary::record(&app.ctx.project_dir, &o);
        app.out
            .summary("release", &[("refused".into(), tag.clone())]);
        Ok(o)
    };
    let (v, ch, mut reasons) = match check_policy(
        &tag,
        cfg,
        app.ctx.commit_ref_protected,
        app.ctx.user_login.as_deref(),
    ) {
        Ok(x) => x,
        Err(e) => return refuse(vec![e], None),
    };
    if cfg.fetch_tags {
        git::fetch_tags(&app.ctx.project_dir, &cfg.remote)?;
    }
    let all = git::tags(&app.ctx.project_dir)?;
    let existing = Existing::from_tags(
        all.iter().map(String::as_str),
        &cfg.tag_prefix,
        &cfg.staging_ids,
        Some(&tag),
    );
    if let Some(r) = existing.ordering_refusal(&v, ch) {
        reasons.push(r);
    }
    if !reasons.is_empty() {
        return refuse(reasons, Some(v.to_string()));
    }
    let d = Decision {
        tag: tag.clone(),
        version: v.to_string(),
        channel: ch,
        environment: cfg.environment_of(ch).to_string(),
        is_prerelease: !v.pre.is_empty(),
        previous_version: existing
            .highest(ch)
            .map(|p| p.to_string())
            .unwrap_or_default(),
    };
    app.out.info(format!(
        "{tag}: version {} goes to {} (environment {}){}",
        d.version,
        d.channel,
        d.environment,
        if d.previous_version.is_empty() {
            String::new()
        } else {
            format!(", after {}", d.previous_version)
        }
    ));
    if let Some(path) = &args.dotenv {
        crate::dotenv::write(path, &d.dotenv())?;
        app.out.detail(format!("wrote {}", path.display()));
    }
    if args.json {
        app.out.result(serde_json::to_string_pretty(&d)?);
    }
    let o = StepOutcome::new(
        "release",
        Status::Success,
        started.elapsed(),
        format!("{} → {}", d.version, d.channel),
    )
    .with_facts(serde_json::to_value(&d)?);
    let _ = summary::record(&app.ctx.project_dir, &o);
    app.out.summary(
        "release",
        &[
            ("tag".into(), d.tag.clone()),
            ("version".into(), d.version.clone()),
            ("channel".into(), d.channel.to_string()),
            ("environment".into(), d.environment.clone()),
            ("previous".into(), d.previous_version.clone()),
        ],
    );
    Ok(o)
}
