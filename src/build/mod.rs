//! `stevedore build [CONTEXT]`: build the image through the Docker socket, tag it from the release
//! version, push it, and hand `IMAGE`, `IMAGE_DIGEST` and `IMAGE_TAGS` to later jobs.
//!
//! The pieces, one job each: [`docker`] (the connection, reusable by other steps), [`dockerignore`]
//! (Moby's pattern rules), [`context`] (the tar stream), [`plan`] (flags, config and CI context resolved),
//! [`tags`], [`builder`] (the build call), [`progress`] (the build output), [`registry`] (credentials and
//! the registry API), [`push`], [`disk`] (the free-space guard), [`dotenv`].

pub mod builder;
pub mod context;
pub mod disk;
pub mod dockerignore;
pub mod plan;
pub mod progress;
pub mod push;
pub mod registry;
pub mod tags;

use crate::app::App;
use crate::exit::{ExitCode, coded};
use crate::output::{human_bytes, human_duration};
use crate::prune::lease;
use crate::summary::{self, Status, StepOutcome};
use plan::{BuilderChoice, Plan, Timeout};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

/// The `[build]` table of `stevedore.toml`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BuildConfig {
    /// `image`: the repository to build (default `$CI_REGISTRY_IMAGE`, locally the project's name).
    pub image: Option<String>,
    /// `file`: the Dockerfile (default `Dockerfile` at the context's root).
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
    /// The Dockerfile (relative to the working directory or the context; must be inside the context).
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
    /// An image to use as build cache (repeatable; default: the previous release's moving tag when it
    /// is present locally).
    #[arg(long = "cache-from", value_name = "IMAGE")]
    pub cache_from: Vec<String>,
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
    /// A tag, replacing the ones made from the version (repeatable).
    #[arg(long, short = 't', value_name = "TAG")]
    pub tag: Vec<String>,
    /// Push every tag and check the registry's digest.
    #[arg(long)]
    pub push: bool,
    /// Write IMAGE, IMAGE_DIGEST, IMAGE_TAGS (GitLab dotenv) to this file.
    #[arg(long, value_name = "FILE")]
    pub dotenv: Option<PathBuf>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// The builder: auto (BuildKit when the daemon has it), buildkit, classic.
    #[arg(long, value_enum, value_name = "BUILDER", env = "STEVEDORE_BUILDER")]
    pub builder: Option<BuilderChoice>,
}

/// Runs the step, records its outcome in the run summary and returns it.
pub async fn run(app: &App, args: &BuildArgs) -> anyhow::Result<StepOutcome> {
    let started = Instant::now();
    match run_inner(app, args, started).await {
        Ok(outcome) => {
            let _ = summary::record(&app.ctx.project_dir, &outcome);
            Ok(outcome)
        }
        Err(e) => {
            let first = crate::exit::render(&e);
            let headline = first
                .lines()
                .next()
                .unwrap_or("build failed")
                .trim_start_matches("error: ")
                .to_string();
            let mut outcome =
                StepOutcome::new("build", Status::Failed, started.elapsed(), headline);
            outcome.exit_code = Some(crate::exit::code_of(&e).as_i32());
            let _ = summary::record(&app.ctx.project_dir, &outcome);
            Err(e)
        }
    }
}

/// Checks free space under the daemon's data root and runs the prune policy first when it is short.
async fn disk_guard(app: &App, docker: &bollard::Docker) -> anyhow::Result<()> {
    let min = app.config.build.min_free;
    let Ok(info) = docker.info().await else {
        app.out
            .detail("disk guard: the daemon's info is unavailable; not checked");
        return Ok(());
    };
    let Some(root) = info.docker_root_dir else {
        return Ok(());
    };
    let Some((free, total)) = disk::space(std::path::Path::new(&root)) else {
        app.out.detail(format!(
            "disk guard: {root} is not on this machine (remote daemon); not checked"
        ));
        return Ok(());
    };
    if min.is_short(free, total) {
        app.out.warn(format!(
            "only {} free of {} under Docker's data root {root} (below [build] min_free = {min}): running the prune policy first",
            human_bytes(free),
            human_bytes(total)
        ));
        // Nested: prune's result lines go to the log, so build's stdout (--json) stays its own.
        // The guard is best effort: a prune that fails is reported, and the build goes on (the
        // daemon itself says so if the disk really is full).
        match crate::prune::run(&app.nested(), &crate::prune::PruneArgs::default()).await {
            Ok(pruned) => app.out.info(format!("prune: {}", pruned.headline)),
            Err(e) => app.out.warn(format!(
                "the disk guard's prune failed, building anyway: {}",
                crate::exit::render(&e).trim_start_matches("error: ")
            )),
        }
    } else {
        app.out.detail(format!(
            "disk guard: {} free of {} under {root}",
            human_bytes(free),
            human_bytes(total)
        ));
    }
    Ok(())
}

/// Decides BuildKit or classic for this daemon.
async fn use_buildkit(app: &App, docker: &bollard::Docker, choice: BuilderChoice) -> bool {
    match choice {
        BuilderChoice::Classic => false,
        BuilderChoice::Buildkit => true,
        BuilderChoice::Auto => match docker.version().await {
            Ok(v) => {
                let linux =
                    v.os.as_deref()
                        .is_none_or(|o| o.eq_ignore_ascii_case("linux"));
                let api_ok = v
                    .api_version
                    .as_deref()
                    .and_then(|a| a.split_once('.'))
                    .and_then(|(m, n)| Some((m.parse::<u32>().ok()?, n.parse::<u32>().ok()?)))
                    .is_some_and(|v| v >= (1, 39));
                linux && api_ok
            }
            Err(e) => {
                app.out.detail(format!(
                    "cannot read the daemon's version ({e}); using the classic builder"
                ));
                false
            }
        },
    }
}

/// The cache images: given ones, else the previous release's moving tags present locally.
async fn cache_refs(docker: &bollard::Docker, plan: &Plan) -> Vec<String> {
    if !plan.cache_from.is_empty() {
        return plan.cache_from.clone();
    }
    let mut out = Vec::new();
    for r in plan::default_cache_refs(&plan.repo, &plan.tags) {
        if docker.inspect_image(&r).await.is_ok() {
            out.push(r);
        }
    }
    out
}

async fn run_inner(app: &App, args: &BuildArgs, started: Instant) -> anyhow::Result<StepOutcome> {
    let plan = plan::resolve(&app.ctx, &app.config.build, args)?;
    let refs: Vec<String> = plan
        .tags
        .iter()
        .map(|t| format!("{}:{t}", plan.repo))
        .collect();
    let _section = app.out.section(
        "build",
        &format!(
            "Building {} from {}",
            refs.join(", "),
            plan.context.display()
        ),
        false,
    );
    if app.dry_run {
        app.out.info(format!(
            "dry run: would build {} (Dockerfile {}, builder {:?}){}",
            refs.join(", "),
            plan.dockerfile,
            plan.builder,
            if args.push { " and push it" } else { "" }
        ));
        return Ok(StepOutcome::new(
            "build",
            Status::Skipped,
            started.elapsed(),
            format!("dry run: would build {}", refs[0]),
        )
        .with_facts(serde_json::json!({ "image": plan.repo, "tags": plan.tags })));
    }

    let docker = crate::docker::connect(plan.timeout).await?;

    // Fail fast on credentials, before a long build.
    let registry_host = tags::registry_of(&plan.repo);
    let path = tags::path_in_registry(&plan.repo);
    let push_ctx = if args.push {
        let creds = registry::credentials_for(&app.ctx, &registry_host)?;
        let reg = registry::Registry::new(&registry_host, creds.clone())?;
        reg.check_login(&path).await?;
        Some((creds, reg))
    } else {
        None
    };

    // Lease base images and cache sources: no prune (nor the disk guard) removes them mid-build.
    let (file, bargs) = (plan.context.join(&plan.dockerfile), &plan.build_args);
    let mut cache = plan::default_cache_refs(&plan.repo, &plan.tags);
    cache.extend(plan.cache_from.iter().cloned());
    let _lease = lease::for_build(app, &docker, &file, bargs, &cache, plan.timeout).await;
    disk_guard(app, &docker).await?;

    let buildkit = use_buildkit(app, &docker, plan.builder).await;
    if buildkit && !plan.matcher.forced().is_empty() {
        app.out.warn(format!(
            ".dockerignore lists {}, which must still be sent; BuildKit does not re-apply .dockerignore to a sent context, so a `COPY .` will include them — use --builder classic to leave them out as `docker build` does",
            plan.matcher.forced().join(" and ")
        ));
    }
    let cache_from = cache_refs(&docker, &plan).await;
    app.out.info(format!(
        "builder: {}{}",
        if buildkit { "BuildKit" } else { "classic" },
        if cache_from.is_empty() {
            String::new()
        } else {
            format!(", cache from {}", cache_from.join(", "))
        }
    ));
    let built = builder::build(app, &docker, &plan, buildkit, &cache_from).await?;
    app.out.info(format!(
        "sent {} in {} entries ({} ignored); built {}",
        human_bytes(built.context_bytes),
        built.context_entries,
        built.ignored,
        built.image_id
    ));

    for tag in &plan.tags[1..] {
        let opts = bollard::query_parameters::TagImageOptions {
            repo: Some(plan.repo.clone()),
            tag: Some(tag.clone()),
        };
        docker.tag_image(&refs[0], Some(opts)).await.map_err(|e| {
            coded(
                ExitCode::Outside,
                format!("cannot tag {} as {}:{tag}: {e}", refs[0], plan.repo),
            )
        })?;
    }

    let digest = match &push_ctx {
        Some((creds, reg)) => Some(
            push::push_all(
                app,
                &docker,
                &plan.repo,
                &plan.tags,
                &push::Destination {
                    registry: reg,
                    host: &registry_host,
                    path: &path,
                    creds: creds.as_ref(),
                },
            )
            .await?,
        ),
        None => None,
    };

    let image = refs[0].clone();
    let image_digest = digest.as_ref().map(|d| format!("{}@{d}", plan.repo));
    let duration = started.elapsed();
    if let Some(path) = &args.dotenv {
        let mut pairs: Vec<(&str, String)> = vec![("IMAGE", image.clone())];
        if let Some(d) = &image_digest {
            pairs.push(("IMAGE_DIGEST", d.clone()));
        }
        pairs.push(("IMAGE_TAGS", plan.tags.join(",")));
        pairs.push(("IMAGE_ID", built.image_id.clone()));
        crate::dotenv::write(path, &pairs)?;
    }
    let facts = serde_json::json!({
        "image": image,
        "repository": plan.repo,
        "digest": image_digest,
        "tags": plan.tags,
        "image_id": built.image_id,
        "pushed": digest.is_some(),
        "builder": if buildkit { "buildkit" } else { "classic" },
        "context_bytes": built.context_bytes,
        "context_entries": built.context_entries,
        "duration_ms": duration.as_millis() as u64,
    });
    if args.json {
        app.out.result(serde_json::to_string_pretty(&facts)?);
    }
    let mut rows = vec![
        ("image".to_string(), image.clone()),
        ("tags".to_string(), plan.tags.join(", ")),
        ("image id".to_string(), built.image_id.clone()),
    ];
    if let Some(d) = &image_digest {
        rows.push(("digest".into(), d.clone()));
    }
    rows.push(("context".into(), human_bytes(built.context_bytes)));
    rows.push(("duration".into(), human_duration(duration)));
    app.out.summary("build", &rows);
    let headline = match &image_digest {
        Some(d) => format!("pushed {d}"),
        None => format!("built {image}"),
    };
    Ok(StepOutcome::new("build", Status::Success, duration, headline).with_facts(facts))
}
