//! `stevedore release next`: the next version from the existing tags, and with `--create` the annotated
//! tag, pushed.

use super::git;
use super::version::{self, Bump, Existing};
use crate::app::App;
use crate::summary::{Status, StepOutcome};
use std::time::Instant;

/// Arguments of `stevedore release next`.
#[derive(Clone, Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("bump").required(true).args(["feature", "fix", "major"])))]
pub struct NextArgs {
    /// A feature: bump the minor.
    #[arg(long)]
    pub feature: bool,
    /// A fix: bump the patch.
    #[arg(long)]
    pub fix: bool,
    /// A breaking change: bump the major.
    #[arg(long)]
    pub major: bool,
    /// A beta for staging: the next -beta.N of that version.
    #[arg(long)]
    pub beta: bool,
    /// Create the annotated tag on HEAD and push it to the remote (with --dry-run only print).
    #[arg(long)]
    pub create: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `release next`.
pub async fn run(app: &App, args: &NextArgs) -> anyhow::Result<StepOutcome> {
    let started = Instant::now();
    let cfg = &app.config.release;
    let dir = &app.ctx.project_dir;
    if cfg.fetch_tags {
        git::fetch_tags(dir, &cfg.remote)?;
    }
    let tags = git::tags(dir)?;
    let existing = Existing::from_tags(
        tags.iter().map(String::as_str),
        &cfg.tag_prefix,
        &cfg.staging_ids,
        None,
    );
    let bump = if args.major {
        Bump::Major
    } else if args.feature {
        Bump::Feature
    } else {
        Bump::Fix
    };
    let beta_id = cfg
        .staging_ids
        .first()
        .map(String::as_str)
        .unwrap_or("beta");
    let v = version::next_version(&existing, bump, args.beta, beta_id);
    let tag = format!("{}{v}", cfg.tag_prefix);
    app.out.info(format!(
        "next version: {v} (tag {tag}; highest production {}, highest staging {})",
        existing
            .production
            .last()
            .map(|x| x.to_string())
            .unwrap_or_else(|| "none".into()),
        existing
            .staging
            .last()
            .map(|x| x.to_string())
            .unwrap_or_else(|| "none".into()),
    ));
    let mut created = false;
    if args.create {
        let msg = format!("Release {v}");
        if app.dry_run {
            app.out.info(format!(
                "dry run: would run `git tag -a {tag} -m \"{msg}\"` and `git push {} refs/tags/{tag}`",
                cfg.remote
            ));
        } else {
            git::create_tag(dir, &tag, &msg)?;
            git::push_tag(dir, &cfg.remote, &tag)?;
            app.out
                .info(format!("created tag {tag} and pushed it to {}", cfg.remote));
            created = true;
        }
    }
    if args.json {
        app.out
            .result(serde_json::to_string_pretty(&serde_json::json!({
                "version": v.to_string(), "tag": tag, "created": created,
            }))?);
    } else {
        app.out.result(&tag);
    }
    Ok(StepOutcome::new(
        "release",
        Status::Success,
        started.elapsed(),
        format!("next {tag}{}", if created { " (created)" } else { "" }),
    )
    .with_facts(serde_json::json!({"next": v.to_string(), "tag": tag, "created": created})))
}
