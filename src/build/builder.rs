//! Running one build on the daemon: the context streamed as the request body, BuildKit (with a session)
//! or the classic builder, the output streamed live, any error item failing the build.

use super::context;
use super::plan::{Builder, Plan};
use super::progress::Tracker;
use super::settings::ProgressMode;
use crate::app::App;
use crate::exit::{ExitCode, coded};
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{BuildImageOptions, BuilderVersion};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::HashMap;

/// What a finished build gives.
#[derive(Debug, Clone)]
pub struct Built {
    /// The image ID (`sha256:…`).
    pub image_id: String,
    /// Bytes of context sent.
    pub context_bytes: u64,
    /// Entries of context sent.
    pub context_entries: u64,
    /// Entries left out by `.dockerignore`.
    pub ignored: u64,
}

/// Wraps the context stream so each chunk advances the progress display, which closes when the
/// stream ends.
fn with_progress(
    app_progress: crate::output::Progress,
    inner: impl Stream<Item = std::io::Result<Bytes>> + Send + 'static,
) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
    let inner = Box::pin(inner);
    futures_util::stream::unfold(
        (inner, Some(app_progress)),
        |(mut inner, mut progress)| async move {
            match inner.next().await {
                Some(item) => {
                    if let (Ok(b), Some(p)) = (&item, progress.as_mut()) {
                        p.inc(b.len() as u64);
                    }
                    Some((item, (inner, progress)))
                }
                None => {
                    if let Some(p) = progress.take() {
                        p.finish();
                    }
                    None
                }
            }
        },
    )
}

/// Where the build output goes, by `--progress`: every line in the log (`plain`), a live status line
/// that keeps each step's name (`tty`), or nowhere (`quiet`; a failure still quotes the step's output).
struct Shown<'a> {
    app: &'a App,
    mode: ProgressMode,
    bar: Option<indicatif::ProgressBar>,
}

impl<'a> Shown<'a> {
    fn new(app: &'a App, mode: ProgressMode) -> Shown<'a> {
        use std::io::IsTerminal;
        let terminal = std::io::stderr().is_terminal() && !app.out.is_ci();
        let mode = match mode {
            ProgressMode::Auto if terminal => ProgressMode::Tty,
            ProgressMode::Auto => ProgressMode::Plain,
            ProgressMode::Tty if !terminal => {
                app.out
                    .detail("--progress tty: stderr is not a terminal; showing plain output");
                ProgressMode::Plain
            }
            m => m,
        };
        let bar = (mode == ProgressMode::Tty && !app.out.is_quiet()).then(|| {
            let pb = indicatif::ProgressBar::new_spinner();
            pb.enable_steady_tick(std::time::Duration::from_millis(120));
            pb
        });
        Shown { app, mode, bar }
    }

    fn line(&mut self, line: String) {
        match (&self.bar, self.mode) {
            (_, ProgressMode::Quiet) => {}
            (Some(pb), _) => {
                let step = line.starts_with("Step ")
                    || (line.starts_with('#') && !line.contains(" DONE ") && line.contains(" ["));
                if step {
                    pb.println(&line);
                }
                pb.set_message(line);
            }
            _ => self.app.out.info(line),
        }
    }

    fn finish(&mut self) {
        if let Some(pb) = self.bar.take() {
            pb.finish_and_clear();
        }
    }
}

/// The build request's options for the plan.
fn options(plan: &Plan) -> BuildImageOptions {
    let s = &plan.settings;
    let buildkit = plan.builder == Builder::BuildKit;
    let mut build_args: HashMap<String, String> = s.build_args.clone().into_iter().collect();
    if buildkit {
        // Keep cache metadata in the image, so the pushed image can serve as --cache-from later.
        build_args
            .entry("BUILDKIT_INLINE_CACHE".into())
            .or_insert_with(|| "1".into());
    }
    BuildImageOptions {
        dockerfile: s.dockerfile.clone(),
        t: Some(plan.image().to_string()),
        nocache: s.no_cache,
        cachefrom: (!plan.cache_from.is_empty()).then(|| plan.cache_from.clone()),
        rm: true,
        forcerm: true,
        buildargs: Some(build_args),
        labels: Some(s.labels.clone().into_iter().collect()),
        platform: s.platform.clone().unwrap_or_default(),
        target: s.target.clone().unwrap_or_default(),
        version: if buildkit {
            BuilderVersion::BuilderBuildKit
        } else {
            BuilderVersion::BuilderV1
        },
        // BuildKit's session is ours (see `super::buildkit`), named when the build starts.
        session: None,
        pull: s.pull.then(|| "1".to_string()),
        networkmode: s.network.clone(),
        extrahosts: (!s.extra_hosts.is_empty()).then(|| s.extra_hosts.join(",")),
        shmsize: s.shm_size.map(|b| b as i32),
        ..Default::default()
    }
}

/// The daemon's build output, with the counters of the context being sent.
type Started<'a> = (
    futures_util::stream::BoxStream<'a, Result<bollard::models::BuildInfo, DockerError>>,
    std::sync::Arc<context::Stats>,
);

/// Starts the build: BuildKit through our session (the context served by FileSync), the classic
/// builder with the context as a tar upload.
async fn start<'a>(app: &App, docker: &'a Docker, plan: &Plan) -> anyhow::Result<Started<'a>> {
    let s = &plan.settings;
    if plan.builder == Builder::BuildKit {
        let stats = std::sync::Arc::new(context::Stats::default());
        let lookup = registry_lookup(&app.ctx);
        let stream =
            super::buildkit::build(docker, s, options(plan), stats.clone(), lookup).await?;
        return Ok((stream, stats));
    }
    // A Dockerfile from outside the context (or stdin) travels in the tar under its generated name.
    let extra = match &s.dockerfile_outside {
        Some(p) => Some((
            s.dockerfile.clone(),
            std::fs::read(p).map_err(|e| {
                coded(
                    ExitCode::Usage,
                    format!("cannot read the Dockerfile {}: {e}", p.display()),
                )
            })?,
        )),
        None => None,
    };
    let (body, stats) = context::stream(s.context.clone(), s.matcher.clone(), extra);
    let progress = app.out.progress("sending context", None, true);
    let body = bollard::body_try_stream(with_progress(progress, body));
    let dockerfile = std::fs::read_to_string(s.dockerfile_path()).unwrap_or_default();
    let bases = crate::prune::lease::base_images(&dockerfile, &s.build_args);
    let auths = crate::docker::credentials::for_images(&app.ctx, &bases);
    let auths = (!auths.is_empty()).then_some(auths);
    Ok((
        docker.build_image(options(plan), auths, Some(body)).boxed(),
        stats,
    ))
}

/// The job's registry credentials by host (CI variables, `DOCKER_AUTH_CONFIG`, the Docker config and
/// its helpers), for the BuildKit session to answer the daemon's pulls of private base images.
fn registry_lookup(ctx: &crate::ci::Context) -> super::session::CredentialLookup {
    let ctx = ctx.clone();
    std::sync::Arc::new(move |host: &str| {
        crate::docker::credentials::credentials_for(&ctx, host)
            .ok()
            .flatten()
            .map(|c| (c.username, c.password))
    })
}

/// Builds the plan's image on the daemon as `repo:tags[0]`, with the planned builder and cache.
pub async fn build(app: &App, docker: &Docker, plan: &Plan) -> anyhow::Result<Built> {
    let s = &plan.settings;
    let (mut stream, stats) = match tokio::time::timeout(s.timeout, start(app, docker, plan)).await
    {
        Ok(started) => started.map_err(session_failure)?,
        Err(_) => {
            return Err(coded(
                ExitCode::Outside,
                format!(
                    "the Docker daemon did not start the build within {}s",
                    s.timeout.as_secs()
                ),
            ));
        }
    };
    let mut tracker = Tracker::default();
    let mut shown = Shown::new(app, s.progress);
    let consume = async {
        while let Some(item) = stream.next().await {
            for line in tracker.item(&item?) {
                shown.line(line);
            }
        }
        Ok::<(), DockerError>(())
    };
    let result = tokio::time::timeout(s.timeout, consume).await;
    for line in tracker.finish() {
        shown.line(line);
    }
    s.remove_stdin_copy();
    shown.finish();
    let walk_error = stats.error();
    failure(result, walk_error, &tracker, s.timeout.as_secs())?;
    let inspect = docker.inspect_image(plan.image()).await.map_err(|e| {
        coded(
            ExitCode::Outside,
            format!(
                "the build ended but {} cannot be inspected: {e}",
                plan.image()
            ),
        )
    })?;
    let image_id = inspect.id.or(tracker.image_id.clone()).unwrap_or_default();
    let load = std::sync::atomic::Ordering::Relaxed;
    Ok(Built {
        image_id,
        context_bytes: stats.bytes.load(load),
        context_entries: stats.entries.load(load),
        ignored: stats.ignored.load(load),
    })
}

/// A BuildKit session or build request that could not start: exit 4 unless it is already coded (a
/// secret that cannot be read is exit 2).
fn session_failure(e: anyhow::Error) -> anyhow::Error {
    if crate::exit::code_of(&e) != ExitCode::Problem {
        return e;
    }
    coded(
        ExitCode::Outside,
        format!(
            "cannot start the BuildKit build: {e:#} — check the daemon, or use --builder classic if it has no BuildKit"
        ),
    )
}

/// Turns the build stream's end into an error naming the cause and the fix, when it failed.
fn failure(
    result: Result<Result<(), DockerError>, tokio::time::error::Elapsed>,
    walk_error: Option<String>,
    tracker: &Tracker,
    timeout_secs: u64,
) -> anyhow::Result<()> {
    let err = |code, msg: String| Err(coded(code, msg));
    match result {
        Err(_) => err(
            ExitCode::Outside,
            format!(
                "the build did not finish within {timeout_secs}s — raise --timeout (or [build] timeout) or look at the daemon"
            ),
        ),
        Ok(_) if walk_error.is_some() => err(
            ExitCode::Problem,
            format!(
                "cannot send the build context: {}",
                walk_error.unwrap_or_default()
            ),
        ),
        Ok(Err(DockerError::DockerStreamError { error })) => {
            err(ExitCode::Problem, tracker.failure(&error))
        }
        Ok(Err(DockerError::DockerResponseServerError {
            status_code,
            message,
        })) if status_code < 500 => err(
            ExitCode::Problem,
            format!("the daemon refused the build ({status_code}): {message}"),
        ),
        Ok(Err(DockerError::RequestTimeoutError)) => err(
            ExitCode::Outside,
            format!(
                "the Docker daemon did not answer the build request within {timeout_secs}s — raise --timeout"
            ),
        ),
        Ok(Err(e)) => err(
            ExitCode::Outside,
            format!("the build failed talking to the Docker daemon: {e} — check the daemon's log"),
        ),
        Ok(Ok(())) => Ok(()),
    }
}
