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
use version::{Channel, Existing, shown};

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
            "production release from tag {}, which is not protected (CI_COMMIT_REF_PROTECTED is not `true`): protect the tag pattern in GitLab (Settings > Repository > Protected tags), or set [release] allow_unprotected = true",
            shown(tag)
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

/// Stage 1 of `release`: the flags and CI context resolved once.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The tag to release.
    pub tag: String,
    /// `CI_COMMIT_REF_PROTECTED` is `true`.
    pub protected: bool,
    /// `GITLAB_USER_LOGIN`.
    pub login: Option<String>,
    /// `--dotenv FILE`.
    pub dotenv: Option<PathBuf>,
    /// `--json`.
    pub json: bool,
}

impl Settings {
    /// Resolves the flags against the CI context; no tag is a usage error (exit 2).
    pub fn resolve(app: &App, args: &ReleaseArgs) -> anyhow::Result<Settings> {
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
        Ok(Settings {
            tag,
            protected: app.ctx.commit_ref_protected,
            login: app.ctx.user_login.clone(),
            dotenv: args.dotenv.clone(),
            json: args.json,
        })
    }
}

/// Stage 2 of `release`: what the rules decide about the tag — released to a channel, or refused.
#[derive(Clone, Debug)]
pub enum Plan {
    /// Released: the decision handed to later jobs.
    Release(Decision),
    /// Refused (exit 3): the version when the tag parsed, and every reason.
    Refuse {
        /// The tag's version, when it is one.
        version: Option<String>,
        /// Why, and what to do.
        reasons: Vec<String>,
    },
}

/// Decides, without I/O, from the settings and the tags that already exist.
pub fn plan(s: &Settings, cfg: &ReleaseConfig, tags: &[String]) -> Plan {
    let (v, ch, mut reasons) = match check_policy(&s.tag, cfg, s.protected, s.login.as_deref()) {
        Ok(x) => x,
        Err(e) => {
            return Plan::Refuse {
                version: None,
                reasons: vec![e],
            };
        }
    };
    let existing = Existing::from_tags(
        tags.iter().map(String::as_str),
        &cfg.tag_prefix,
        &cfg.staging_ids,
        Some(&s.tag),
    );
    reasons.extend(existing.ordering_refusal(&v, ch));
    if !reasons.is_empty() {
        return Plan::Refuse {
            version: Some(v.to_string()),
            reasons,
        };
    }
    Plan::Release(Decision {
        tag: s.tag.clone(),
        version: v.to_string(),
        channel: ch,
        environment: cfg.environment_of(ch).to_string(),
        is_prerelease: !v.pre.is_empty(),
        previous_version: existing
            .highest(ch)
            .map(|p| p.to_string())
            .unwrap_or_default(),
    })
}

/// The existing tags the ordering rules compare against (fetched first with `[release] fetch_tags`);
/// none are read for a tag that is not a version (it is refused whatever exists).
fn observe_tags(app: &App, s: &Settings) -> anyhow::Result<Vec<String>> {
    let cfg = &app.config.release;
    if version::parse_tag(&s.tag, &cfg.tag_prefix).is_err() {
        return Ok(Vec::new());
    }
    if cfg.fetch_tags {
        git::fetch_tags(&app.ctx.project_dir, &cfg.remote)?;
    }
    git::tags(&app.ctx.project_dir)
}

/// Runs the step: settings → plan → execute (the dotenv) → outcome.
pub async fn run(app: &App, args: &ReleaseArgs) -> anyhow::Result<StepOutcome> {
    if let Some(ReleaseCommand::Next(n)) = &args.command {
        return next::run(app, n).await;
    }
    let started = Instant::now();
    let _section = app
        .out
        .section("release", "release: deciding the channel", false);
    let s = Settings::resolve(app, args)?;
    let tags = observe_tags(app, &s)?;
    let d = match plan(&s, &app.config.release, &tags) {
        Plan::Refuse { version, reasons } => return refused(app, &s, version, reasons, started),
        Plan::Release(d) => d,
    };
    if let Some(path) = &s.dotenv {
        crate::dotenv::write(path, &d.dotenv())?;
        app.out.detail(format!("wrote {}", path.display()));
    }
    released(app, &s, &d, started)
}

/// The outcome of a refusal: each reason on stderr, the summary record, exit 3.
fn refused(
    app: &App,
    s: &Settings,
    version: Option<String>,
    reasons: Vec<String>,
    started: Instant,
) -> anyhow::Result<StepOutcome> {
    let tag = &s.tag;
    for r in &reasons {
        app.out.error(format!("error: release refused: {r}"));
    }
    if s.json {
        app.out
            .result(serde_json::to_string_pretty(&serde_json::json!({
                "tag": tag, "version": version, "refused": true, "reasons": reasons,
            }))?);
    }
    let mut o = StepOutcome::new(
        "release",
        Status::Failed,
        started.elapsed(),
        format!("release of {} refused: {}", shown(tag), reasons.join("; ")),
    )
    .with_facts(serde_json::json!({"tag": tag, "refused": true, "reasons": reasons}));
    o.exit_code = Some(ExitCode::Refused.as_i32());
    let _ = summary::record(&app.ctx.project_dir, &o);
    app.out
        .summary("release", &[("refused".into(), shown(tag))]);
    Ok(o)
}

/// The outcome of a release: the decision on stderr (and `--json`), the summary record and table.
fn released(
    app: &App,
    s: &Settings,
    d: &Decision,
    started: Instant,
) -> anyhow::Result<StepOutcome> {
    app.out.info(format!(
        "{}: version {} goes to {} (environment {}){}",
        shown(&d.tag),
        d.version,
        d.channel,
        d.environment,
        if d.previous_version.is_empty() {
            String::new()
        } else {
            format!(", after {}", d.previous_version)
        }
    ));
    if s.json {
        app.out.result(serde_json::to_string_pretty(d)?);
    }
    let o = StepOutcome::new(
        "release",
        Status::Success,
        started.elapsed(),
        format!("{} → {}", d.version, d.channel),
    )
    .with_facts(serde_json::to_value(d)?);
    let _ = summary::record(&app.ctx.project_dir, &o);
    app.out.summary(
        "release",
        &[
            ("tag".into(), shown(&d.tag)),
            ("version".into(), d.version.clone()),
            ("channel".into(), d.channel.to_string()),
            ("environment".into(), d.environment.clone()),
            ("previous".into(), d.previous_version.clone()),
        ],
    );
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(tag: &str, protected: bool) -> Settings {
        Settings {
            tag: tag.into(),
            protected,
            login: Some("alice".into()),
            dotenv: None,
            json: false,
        }
    }

    #[test]
    fn plans_channel_previous_version_and_refusals_without_a_repository() {
        let cfg = ReleaseConfig::default();
        let tags: Vec<String> = ["v1.4.0", "v1.5.0-beta.1", "v1.5.0"]
            .map(String::from)
            .to_vec();
        match plan(&settings("v1.6.0-beta.1", false), &cfg, &tags) {
            Plan::Release(d) => {
                assert_eq!(
                    (d.channel, d.environment.as_str()),
                    (Channel::Staging, "staging")
                );
                assert_eq!(d.previous_version, "1.5.0-beta.1");
                assert!(d.is_prerelease);
            }
            p => panic!("{p:?}"),
        }
        match plan(&settings("v1.6.0", true), &cfg, &tags) {
            Plan::Release(d) => assert_eq!(d.previous_version, "1.5.0"),
            p => panic!("{p:?}"),
        }
        // Unprotected production and a downgrade: every reason is given.
        match plan(&settings("v1.4.1", false), &cfg, &tags) {
            Plan::Refuse { version, reasons } => {
                assert_eq!(version.as_deref(), Some("1.4.1"));
                assert_eq!(reasons.len(), 2, "{reasons:?}");
            }
            p => panic!("{p:?}"),
        }
        match plan(&settings("v1.7.0\n", false), &cfg, &tags) {
            Plan::Refuse { reasons, .. } => {
                assert!(reasons[0].contains("tag v1.7.0\\n,"), "{reasons:?}")
            }
            p => panic!("{p:?}"),
        }
        match plan(&settings("v1.6\nx", true), &cfg, &tags) {
            Plan::Refuse {
                version: None,
                reasons,
            } => {
                assert!(
                    !reasons[0].contains('\n') && reasons[0].contains("v1.6\\nx"),
                    "{reasons:?}"
                );
            }
            p => panic!("{p:?}"),
        }
    }
}
