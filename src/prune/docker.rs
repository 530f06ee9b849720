//! The Docker calls `prune` makes: connect (through the shared [`crate::docker`] connection), remove one
//! image safely, prune the build cache.

use crate::docker::{Raw, Target};
use crate::exit::{CodeExt, ExitCode, coded};
use anyhow::Context;
use bollard::Docker;
use bollard::query_parameters::RemoveImageOptionsBuilder;
use std::time::Duration;

/// A connection to the daemon: bollard for the typed calls, a raw client for the engine-shaped ones.
#[derive(Clone)]
pub struct Conn {
    /// bollard's client, version negotiated.
    pub docker: Docker,
    /// The raw client for `/system/df`, `/info`, `/images/json` and `/build/prune`.
    pub raw: Raw,
    /// Where the daemon is, for messages.
    pub target: Target,
}

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Connects to the daemon named by `DOCKER_HOST` (default the local socket; TLS with
/// `DOCKER_TLS_VERIFY`), negotiates the API version and checks that it answers. No daemon → exit code 4
/// with a message saying what to do.
pub async fn connect() -> anyhow::Result<Conn> {
    let c = crate::docker::connect_to(
        &Target::from_env(),
        REQUEST_TIMEOUT,
        crate::docker::PING_TIMEOUT,
    )
    .await?;
    Ok(Conn {
        raw: c.raw()?,
        docker: c.docker,
        target: c.target,
    })
}

/// What removing one image did.
#[derive(Clone, Debug, Default)]
pub struct Removed {
    /// Layers (image IDs) the daemon deleted.
    pub deleted: usize,
    /// References it untagged.
    pub untagged: usize,
    /// The image was gone before this removal: another prune (or a person) removed it first.
    pub already_gone: bool,
}

/// True when the daemon removes `tags` and `digests` with the ID in one call: at most one tag, and every
/// reference in one repository (the engine's rule; otherwise it answers 409 "referenced in multiple
/// repositories" without force).
pub fn single_reference(tags: &[String], digests: &[String]) -> bool {
    let mut repos: Vec<&str> = tags
        .iter()
        .map(|t| super::policy::repository(t))
        .chain(digests.iter().map(|d| d.split('@').next().unwrap_or(d)))
        .collect();
    repos.sort();
    repos.dedup();
    tags.len() <= 1 && repos.len() <= 1
}

/// Removes one image without force: the daemon refuses (and we report) when a container uses it, when it
/// has children, or when it was retagged meanwhile. An image with several references (tags in one
/// repository, or in several) is untagged reference by reference — each only while it still names this
/// image, so a tag a build moved meanwhile stays — then removed by ID. An image already gone (404: another
/// prune was first) is not a failure.
pub async fn remove_image(
    conn: &Conn,
    id: &str,
    tags: &[String],
    digests: &[String],
) -> anyhow::Result<Removed> {
    let mut removed = Removed::default();
    if !single_reference(tags, digests) {
        // Untag all but the last reference; the last one goes with the ID below.
        let refs: Vec<&String> = tags.iter().chain(digests.iter()).collect();
        for r in &refs[..refs.len() - 1] {
            match conn.docker.inspect_image(r).await {
                Ok(im) if im.id.as_deref() == Some(id) => {}
                // Moved to another image, or gone: not ours to untag.
                Ok(_) => continue,
                Err(e) if status(&e) == Some(404) => continue,
                Err(e) => return Err(message(e)).with_context(|| format!("inspecting {r}")),
            }
            match conn.docker.remove_image(r, no_force(), None).await {
                Ok(items) => count(&items, &mut removed),
                Err(e) if status(&e) == Some(404) || gone(conn, id).await => {}
                Err(e) => return Err(message(e)).with_context(|| format!("untagging {r}")),
            }
        }
    }
    match conn.docker.remove_image(id, no_force(), None).await {
        Ok(items) => count(&items, &mut removed),
        // 404, or another error while a concurrent removal deletes it (engine 20.10 answers 500
        // "unrecognized image ID" then): gone is gone.
        Err(e) if status(&e) == Some(404) || gone(conn, id).await => {
            removed.already_gone = removed.deleted == 0 && removed.untagged == 0;
        }
        Err(e) => return Err(message(e)).with_context(|| format!("removing {id}")),
    }
    Ok(removed)
}

/// True when the daemon says the image does not exist (any other answer: it may).
async fn gone(conn: &Conn, id: &str) -> bool {
    matches!(conn.docker.inspect_image(id).await, Err(e) if status(&e) == Some(404))
}

fn no_force() -> Option<bollard::query_parameters::RemoveImageOptions> {
    Some(
        RemoveImageOptionsBuilder::default()
            .force(false)
            .noprune(false)
            .build(),
    )
}

fn count(items: &[bollard::models::ImageDeleteResponseItem], r: &mut Removed) {
    for it in items {
        if it.deleted.is_some() {
            r.deleted += 1;
        }
        if it.untagged.is_some() {
            r.untagged += 1;
        }
    }
}

fn status(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// The daemon's own message for a refused removal (e.g. "image is being used by stopped container …").
fn message(e: bollard::errors::Error) -> anyhow::Error {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => anyhow::anyhow!("the daemon refused ({status_code}): {message}"),
        other => anyhow::Error::new(other),
    }
}

/// The answer of `POST /build/prune`.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BuildPruned {
    /// IDs of the cache records deleted.
    pub caches_deleted: Option<Vec<String>>,
    /// Bytes freed.
    pub space_reclaimed: i64,
}

/// Prunes build cache records unused for `min_age_secs`, keeping at most `budget` bytes. Engine 20.10
/// accepts one value per filter, so `until` is sent alone.
pub async fn prune_build_cache(
    conn: &Conn,
    min_age_secs: u64,
    budget: u64,
) -> anyhow::Result<BuildPruned> {
    let mut path = format!("/build/prune?all=1&keep-storage={budget}");
    if min_age_secs > 0 {
        let filters = serde_json::json!({ "until": [format!("{min_age_secs}s")] }).to_string();
        path.push_str("&filters=");
        path.push_str(&percent_encode(&filters));
    }
    let (status, body) = conn
        .raw
        .request("POST", &path)
        .await
        .context("cannot prune the build cache (POST /build/prune)")
        .code(ExitCode::Outside)?;
    if status != 200 {
        return Err(coded(
            ExitCode::Outside,
            format!(
                "the daemon refused to prune the build cache ({status}): {}",
                String::from_utf8_lossy(&body).trim()
            ),
        ));
    }
    serde_json::from_slice(&body)
        .context("the daemon's answer to POST /build/prune is not the JSON expected")
        .code(ExitCode::Outside)
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn single_reference_is_the_engines_rule() {
        let v = |x: &[&str]| x.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(super::single_reference(&v(&["r:a"]), &v(&["r@sha256:1"])));
        assert!(super::single_reference(
            &[],
            &v(&["r@sha256:1", "r@sha256:2"])
        ));
        assert!(!super::single_reference(&v(&["r:a", "r:b"]), &[]));
        assert!(!super::single_reference(&v(&["r:a"]), &v(&["q@sha256:1"])));
        assert!(!super::single_reference(&v(&["r:a", "q:a"]), &[]));
    }

    #[test]
    fn encodes_filters() {
        assert_eq!(
            super::percent_encode(r#"{"until":["3600s"]}"#),
            "%7B%22until%22%3A%5B%223600s%22%5D%7D"
        );
    }
}
