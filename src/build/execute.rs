//! The side effects of a build, driven by the plan: the registry login (checked before a long build),
//! the disk guard, what the daemon holds, the build, the extra tags, the push and the dotenv file.

use super::builder::{self, Built};
use super::plan::{Observed, Plan};
use super::registry::{self, Credentials, Registry};
use super::settings::Settings;
use super::{disk, push, tags};
use crate::app::App;
use crate::exit::{ExitCode, coded};
use crate::output::human_bytes;
use bollard::Docker;
use std::path::Path;

/// The registry login for `--push`: the credentials found and a client that checked them.
pub struct Login {
    /// The credentials, when any were found.
    pub creds: Option<Credentials>,
    /// The registry's API client.
    pub registry: Registry,
}

/// What the build did.
#[derive(Debug, Clone)]
pub struct Done {
    /// The build's result.
    pub built: Built,
    /// The pushed digest (`sha256:…`), with `--push`.
    pub digest: Option<String>,
}

/// Removes the `--dotenv` and `--iidfile` files an earlier run left, so a failure of this run never
/// leaves one that describes another build (they are written again only on success).
pub fn clear_outputs(settings: &Settings) -> anyhow::Result<()> {
    for (path, flag) in [
        (&settings.dotenv, "--dotenv"),
        (&settings.iidfile, "--iidfile"),
    ] {
        let Some(path) = path else { continue };
        match std::fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(coded(
                    ExitCode::Usage,
                    format!(
                        "cannot remove the old {flag} file {} ({e}) — it would describe an earlier build; pass a writable path to {flag}",
                        path.display()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Writes `--iidfile`: the image ID, without a newline, as `docker build --iidfile` does.
fn write_iidfile(settings: &Settings, image_id: &str) -> anyhow::Result<()> {
    let Some(path) = &settings.iidfile else {
        return Ok(());
    };
    let tmp = path.with_extension(format!("tmp-stevedore.{}", std::process::id()));
    std::fs::write(&tmp, image_id)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            coded(
                ExitCode::Usage,
                format!(
                    "cannot write the --iidfile {}: {e} — pass a writable path",
                    path.display()
                ),
            )
        })
}

/// With `--push`, finds the registry credentials and checks them — failing fast, before a long build.
pub async fn login(app: &App, settings: &Settings) -> anyhow::Result<Option<Login>> {
    if !settings.push {
        return Ok(None);
    }
    let host = tags::registry_of(&settings.repo);
    let creds = registry::credentials_for(&app.ctx, &host)?;
    let registry = Registry::new(&host, creds.clone())?;
    registry
        .check_login(&tags::path_in_registry(&settings.repo))
        .await?;
    Ok(Some(Login { creds, registry }))
}

/// Checks free space under the daemon's data root and runs the prune policy first when it is short.
pub async fn disk_guard(app: &App, docker: &Docker) -> anyhow::Result<()> {
    let min = app.config.build.min_free;
    let Ok(info) = docker.info().await else {
        app.out
            .detail("disk guard: the daemon's info is unavailable; not checked");
        return Ok(());
    };
    let Some(root) = info.docker_root_dir else {
        return Ok(());
    };
    let Some((free, total)) = disk::space(Path::new(&root)) else {
        app.out.detail(format!(
            "disk guard: {root} is not on this machine (remote daemon); not checked"
        ));
        return Ok(());
    };
    if !min.is_short(free, total) {
        app.out.detail(format!(
            "disk guard: {} free of {} under {root}",
            human_bytes(free),
            human_bytes(total)
        ));
        return Ok(());
    }
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
    Ok(())
}

/// A cache source the daemon lacks, to be pulled with its registry's credentials.
pub struct CachePull {
    /// The image reference (`repo:tag`).
    pub reference: String,
    creds: Option<registry::Credentials>,
    /// `repo@sha256:…`, once read from the registry (for a pull alongside a BuildKit build).
    digest_ref: Option<String>,
}

/// On a fresh runner (GitLab's `docker:dind` starts empty) the cache sources are in the registry, not
/// the daemon: the ones the daemon lacks, each with the registry's credentials. The defaults (the
/// previous release's moving tags) are pulled only for an image in a named registry.
pub async fn cache_to_pull(app: &App, docker: &Docker, settings: &Settings) -> Vec<CachePull> {
    if settings.no_cache {
        return Vec::new();
    }
    let candidates = if !settings.cache_from.is_empty() {
        settings.cache_from.clone()
    } else if tags::registry_of(&settings.repo) != "docker.io" {
        super::plan::default_cache_refs(&settings.repo, &settings.tags)
    } else {
        return Vec::new();
    };
    let mut pulls = Vec::new();
    for reference in candidates {
        if docker.inspect_image(&reference).await.is_ok() {
            continue;
        }
        let host = tags::registry_of(&reference);
        let creds = registry::credentials_for(&app.ctx, &host).ok().flatten();
        pulls.push(CachePull {
            reference,
            creds,
            digest_ref: None,
        });
    }
    pulls
}

/// What the daemon already holds, and the cache sources it lacks: pulled now for the classic builder
/// (it reads cache only from the daemon); for BuildKit they are pulled alongside the build
/// ([`execute`]), BuildKit reading their inline cache from the registry meanwhile.
pub async fn observe_and_pull(
    app: &App,
    docker: &Docker,
    settings: &Settings,
) -> (Observed, Vec<CachePull>) {
    let mut observed = observe(app, docker, settings).await;
    let pulls = cache_to_pull(app, docker, settings).await;
    let builder = super::plan::choose_builder(settings.builder, Some(&observed)).0;
    if builder == super::plan::Builder::BuildKit {
        let pulls = in_registry(app, pulls).await;
        observed.pulling = pulls.iter().map(|p| p.reference.clone()).collect();
        return (observed, pulls);
    }
    for p in &pulls {
        if pull_one(app, docker, p, &p.reference).await {
            observed.present.push(p.reference.clone());
        }
    }
    (observed, Vec::new())
}

/// Pulls `from` (the cache source `p`, or its digest) into the daemon; a failed pull is a warning:
/// the build goes on without that cache. True when it was pulled.
async fn pull_one(app: &App, docker: &Docker, p: &CachePull, from: &str) -> bool {
    let r = &p.reference;
    let creds = p
        .creds
        .as_ref()
        .map(|c| c.for_daemon(&tags::registry_of(r)));
    let opts = bollard::query_parameters::CreateImageOptions {
        from_image: Some(from.to_string()),
        ..Default::default()
    };
    let pull = async {
        let mut s = std::pin::pin!(docker.create_image(Some(opts), None, creds));
        while let Some(item) = futures_util::StreamExt::next(&mut s).await {
            item?;
        }
        Ok::<(), bollard::errors::Error>(())
    };
    let how = if from == r.as_str() {
        String::new()
    } else {
        format!(
            " ({}) alongside the build",
            from.rsplit('@').next().unwrap_or(from)
        )
    };
    match tokio::time::timeout(std::time::Duration::from_secs(120), pull).await {
        Ok(Ok(())) => {
            app.out.info(format!("pulled the cache source {r}{how}"));
            return true;
        }
        Ok(Err(e)) => app.out.warn(format!(
            "cannot pull the cache source {r} ({}); building without it",
            crate::redact::redact(&e.to_string())
        )),
        Err(_) => app.out.warn(format!(
            "pulling the cache source {r} took over 120s; building without it"
        )),
    }
    false
}

/// The cache sources their registry holds, each with its digest: BuildKit fails a build whose cache
/// source does not exist (the first release has no `latest`), so only these are named to it.
async fn in_registry(app: &App, pulls: Vec<CachePull>) -> Vec<CachePull> {
    let mut found = Vec::new();
    for mut p in pulls {
        match digest_reference(&p).await {
            Ok(Some(d)) => {
                p.digest_ref = Some(d);
                found.push(p);
            }
            Ok(None) => app.out.warn(format!(
                "the cache source {} is not in its registry (a first release?); building without it",
                p.reference
            )),
            Err(e) => app.out.warn(format!(
                "cannot read the cache source {} from its registry ({}); building without it",
                p.reference,
                crate::exit::render(&e).trim_start_matches("error: ")
            )),
        }
    }
    found
}

/// Pulls each cache source by its digest, for a BuildKit build running meanwhile: BuildKit reads the
/// inline cache from the registry and takes the layers this pull brings (the daemon downloads each
/// layer once, whoever asks). By digest, so no local tag changes under the build's own tags.
async fn pull_by_digest(app: &App, docker: &Docker, pulls: &[CachePull]) {
    for p in pulls {
        if let Some(from) = &p.digest_ref {
            pull_one(app, docker, p, from).await;
        }
    }
}

/// `repo@sha256:…` for the cache source's tag, as its registry serves it now (`None`: no such tag).
async fn digest_reference(p: &CachePull) -> anyhow::Result<Option<String>> {
    let (repo, tag) = split_reference(&p.reference);
    let Some(tag) = tag else {
        return Ok(Some(p.reference.clone()));
    };
    let host = tags::registry_of(repo);
    let client = Registry::new(&host, p.creds.clone())?;
    let digest = client
        .find_manifest(&tags::path_in_registry(repo), tag)
        .await?;
    Ok(digest.map(|d| format!("{repo}@{d}")))
}

/// Splits `repo:tag` into the repository and the tag (`latest` when none); a `repo@sha256:…`
/// reference has no tag to resolve.
fn split_reference(reference: &str) -> (&str, Option<&str>) {
    if reference.contains('@') {
        return (reference, None);
    }
    match reference.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
        _ => (reference, Some("latest")),
    }
}

/// Runs `main`, with `side` (the cache pulls) alongside it until `main` ends: a pull still running then
/// is stopped — the build no longer needs it.
async fn alongside<T>(
    app: &App,
    main: impl std::future::Future<Output = T>,
    side: impl std::future::Future<Output = ()>,
) -> T {
    let (mut main, mut side) = (std::pin::pin!(main), std::pin::pin!(side));
    let mut side_done = false;
    loop {
        tokio::select! {
            out = &mut main => {
                if !side_done {
                    app.out.detail("the cache pull was still running when the build ended; stopped it");
                }
                return out;
            }
            () = &mut side, if !side_done => side_done = true,
        }
    }
}

/// What the plan needs to know of the daemon: its OS and API version, and which default cache
/// candidates it holds.
pub async fn observe(app: &App, docker: &Docker, settings: &Settings) -> Observed {
    let mut observed = Observed::default();
    match docker.version().await {
        Ok(v) => {
            observed.os = v.os;
            observed.api_version = v.api_version;
        }
        Err(e) => app.out.detail(format!(
            "cannot read the daemon's version ({e}); using the classic builder"
        )),
    }
    if settings.cache_from.is_empty() {
        for r in super::plan::default_cache_refs(&settings.repo, &settings.tags) {
            if docker.inspect_image(&r).await.is_ok() {
                observed.present.push(r);
            }
        }
    }
    observed
}

/// Builds, tags and (with `--push`) pushes as planned, then writes the dotenv file; `pulls` (the
/// cache sources a BuildKit build reads from the registry) are pulled by digest alongside.
pub async fn execute(
    app: &App,
    docker: &Docker,
    plan: &Plan,
    login: Option<&Login>,
    pulls: &[CachePull],
) -> anyhow::Result<Done> {
    if pulls.is_empty() {
        return build_and_push(app, docker, plan, login).await;
    }
    let main = build_and_push(app, docker, plan, login);
    alongside(app, main, pull_by_digest(app, docker, pulls)).await
}

/// Builds, tags and (with `--push`) pushes as planned, then writes the dotenv file.
async fn build_and_push(
    app: &App,
    docker: &Docker,
    plan: &Plan,
    login: Option<&Login>,
) -> anyhow::Result<Done> {
    for w in &plan.warnings {
        app.out.warn(w);
    }
    app.out.info(format!(
        "builder: {}{}",
        if plan.builder == super::plan::Builder::BuildKit {
            "BuildKit"
        } else {
            "classic"
        },
        if plan.cache_from.is_empty() {
            String::new()
        } else {
            format!(", cache from {}", plan.cache_from.join(", "))
        }
    ));
    let built = builder::build(app, docker, plan).await?;
    app.out.info(format!(
        "sent {} in {} entries ({} ignored); built {}",
        human_bytes(built.context_bytes),
        built.context_entries,
        built.ignored,
        built.image_id
    ));
    write_iidfile(&plan.settings, &built.image_id)?;
    tag(docker, plan).await?;
    if plan.push.is_some() {
        scan_gate(app, plan).await?;
    }
    let digest = match (&plan.push, login) {
        (Some(to), Some(login)) => Some(push_tags(app, docker, plan, to, login).await?),
        _ => None,
    };
    let done = Done { built, digest };
    write_dotenv(plan, &done)?;
    Ok(done)
}

/// The push gate: the built image is scanned for secrets before any tag leaves the runner (see
/// [`crate::scan::image::gate`]); turned off, it says so.
async fn scan_gate(app: &App, plan: &Plan) -> anyhow::Result<()> {
    if !plan.settings.scan_image {
        app.out.warn(
            "image scan before push is off ([build] scan_image = false or --no-scan-image): pushing without checking the image for secrets",
        );
        return Ok(());
    }
    crate::scan::image::gate(app, plan.image()).await?;
    Ok(())
}

/// Adds the plan's other tags to the built image.
async fn tag(docker: &Docker, plan: &Plan) -> anyhow::Result<()> {
    let repo = &plan.settings.repo;
    for tag in &plan.settings.tags[1..] {
        let opts = bollard::query_parameters::TagImageOptions {
            repo: Some(repo.clone()),
            tag: Some(tag.clone()),
        };
        docker
            .tag_image(plan.image(), Some(opts))
            .await
            .map_err(|e| {
                coded(
                    ExitCode::Outside,
                    format!("cannot tag {} as {repo}:{tag}: {e}", plan.image()),
                )
            })?;
    }
    Ok(())
}

/// Pushes every tag and returns the digest the registry serves.
async fn push_tags(
    app: &App,
    docker: &Docker,
    plan: &Plan,
    to: &super::plan::PushTo,
    login: &Login,
) -> anyhow::Result<String> {
    let dest = push::Destination {
        registry: &login.registry,
        host: &to.host,
        path: &to.path,
        creds: login.creds.as_ref(),
    };
    // The daemon retries a broken layer upload on its own for about a minute per attempt: bound the
    // whole push (every tag, every attempt) by --timeout.
    let limit = plan.settings.timeout;
    let push = push::push_all(app, docker, &plan.settings.repo, &plan.settings.tags, &dest);
    match tokio::time::timeout(limit, push).await {
        Ok(r) => r,
        Err(_) => Err(coded(
            ExitCode::Outside,
            format!(
                "pushing {} to {} did not finish within {:.0?} (--timeout) — check the registry is up and reachable from the Docker daemon, or raise --timeout",
                plan.settings.repo, to.host, limit
            ),
        )),
    }
}

/// The repository with the pushed digest (`repo@sha256:…`).
pub fn image_digest(plan: &Plan, done: &Done) -> Option<String> {
    done.digest
        .as_ref()
        .map(|d| format!("{}@{d}", plan.settings.repo))
}

/// Writes `--dotenv` (IMAGE, IMAGE_DIGEST, IMAGE_TAGS, IMAGE_ID), only after everything succeeded.
fn write_dotenv(plan: &Plan, done: &Done) -> anyhow::Result<()> {
    let Some(path) = &plan.settings.dotenv else {
        return Ok(());
    };
    let mut pairs: Vec<(&str, String)> = vec![("IMAGE", plan.image().to_string())];
    if let Some(d) = image_digest(plan, done) {
        pairs.push(("IMAGE_DIGEST", d));
    }
    pairs.push(("IMAGE_TAGS", plan.settings.tags.join(",")));
    pairs.push(("IMAGE_ID", done.built.image_id.clone()));
    crate::dotenv::write(path, &pairs)
}

#[cfg(test)]
mod tests {
    use super::split_reference;

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(
            split_reference("127.0.0.1:5000/a/b:latest"),
            ("127.0.0.1:5000/a/b", Some("latest"))
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/a/b"),
            ("127.0.0.1:5000/a/b", Some("latest"))
        );
        assert_eq!(split_reference("a/b:1.0"), ("a/b", Some("1.0")));
        let pinned = format!("r.example.com/a@sha256:{}", "0".repeat(64));
        assert_eq!(split_reference(&pinned), (pinned.as_str(), None));
    }
}
