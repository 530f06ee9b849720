//! Running one build on the daemon: the context streamed as the request body, BuildKit (with a session)
//! or the classic builder, the output streamed live, any error item failing the build.

use super::context;
use super::plan::Plan;
use super::progress::Tracker;
use crate::app::App;
use crate::exit::{ExitCode, coded};
use bollard::Docker;
use bollard::errors::Error as DockerError;
use bollard::query_parameters::{BuildImageOptions, BuilderVersion};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::collections::HashMap;
use std::sync::Arc;

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

/// A session ID for BuildKit, unique enough for one daemon.
fn session_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("stevedore-{}-{nanos:x}", std::process::id())
}

/// Builds `plan` on the daemon as `repo:tags[0]`; `buildkit` picks the builder; `cache_from` are the
/// cache images to use.
pub async fn build(
    app: &App,
    docker: &Docker,
    plan: &Plan,
    buildkit: bool,
    cache_from: &[String],
) -> anyhow::Result<Built> {
    let main_ref = format!("{}:{}", plan.repo, plan.tags[0]);
    let mut build_args: HashMap<String, String> = plan.build_args.clone().into_iter().collect();
    if buildkit {
        // Keep cache metadata in the image, so the pushed image can serve as --cache-from later.
        build_args
            .entry("BUILDKIT_INLINE_CACHE".into())
            .or_insert_with(|| "1".into());
    }
    let options = BuildImageOptions {
        dockerfile: plan.dockerfile.clone(),
        t: Some(main_ref.clone()),
        nocache: plan.no_cache,
        cachefrom: (!cache_from.is_empty()).then(|| cache_from.to_vec()),
        rm: true,
        forcerm: true,
        buildargs: Some(build_args),
        labels: Some(plan.labels.clone().into_iter().collect()),
        platform: plan.platform.clone().unwrap_or_default(),
        target: plan.target.clone().unwrap_or_default(),
        version: if buildkit {
            BuilderVersion::BuilderBuildKit
        } else {
            BuilderVersion::BuilderV1
        },
        session: buildkit.then(session_id),
        ..Default::default()
    };
    let (body, stats) = context::stream(plan.context.clone(), plan.matcher.clone());
    let progress = app.out.progress("sending context", None, true);
    let body = bollard::body_try_stream(with_progress(progress, body));

    let mut tracker = Tracker::default();
    let stream = docker.build_image(options, None, Some(body));
    let consume = async {
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(info) => {
                    for line in tracker.item(&info) {
                        app.out.info(line);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    };
    let result = tokio::time::timeout(plan.timeout, consume).await;
    let walk_error = stats.error();
    let stats = Arc::clone(&stats);
    match result {
        Err(_) => {
            return Err(coded(
                ExitCode::Outside,
                format!(
                    "the build did not finish within {}s — raise --timeout (or [build] timeout) or look at the daemon",
                    plan.timeout.as_secs()
                ),
            ));
        }
        Ok(Err(_)) if walk_error.is_some() => {
            return Err(coded(
                ExitCode::Problem,
                format!(
                    "cannot send the build context: {}",
                    walk_error.unwrap_or_default()
                ),
            ));
        }
        Ok(Err(DockerError::DockerStreamError { error })) => {
            return Err(coded(ExitCode::Problem, tracker.failure(&error)));
        }
        Ok(Err(DockerError::DockerResponseServerError {
            status_code,
            message,
        })) if status_code < 500 => {
            return Err(coded(
                ExitCode::Problem,
                format!("the daemon refused the build ({status_code}): {message}"),
            ));
        }
        Ok(Err(DockerError::RequestTimeoutError)) => {
            return Err(coded(
                ExitCode::Outside,
                format!(
                    "the Docker daemon did not answer the build request within {}s — raise --timeout",
                    plan.timeout.as_secs()
                ),
            ));
        }
        Ok(Err(e)) => {
            return Err(coded(
                ExitCode::Outside,
                format!(
                    "the build failed talking to the Docker daemon: {e} — check the daemon's log"
                ),
            ));
        }
        Ok(Ok(())) => {}
    }
    if let Some(e) = walk_error {
        return Err(coded(
            ExitCode::Problem,
            format!("cannot send the build context: {e}"),
        ));
    }
    let inspect = docker.inspect_image(&main_ref).await.map_err(|e| {
        coded(
            ExitCode::Outside,
            format!("the build ended but {main_ref} cannot be inspected: {e}"),
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
