//! What `prune` looks at before deciding: Docker's usage (`/system/df`), every image's parent, stevedore's
//! record of use, the running builds' leases, and the limit the threshold comes to. [`observe`] reads them
//! once; the plan is then a pure function of [`Settings`] and this [`Observed`] value.

use super::docker::Conn;
use super::lease::{self, Held};
use super::policy::Image;
use super::size::Threshold;
use super::{Settings, record, usage};
use crate::app::App;
use crate::exit::ExitCode;
use crate::output::unix_now;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

/// The limit Docker's usage must end under.
#[derive(Clone, Debug, PartialEq)]
pub struct Limit {
    /// Bytes.
    pub bytes: u64,
    /// For a share: Docker's data root and the size of its filesystem.
    pub fs: Option<(PathBuf, u64)>,
}

/// Everything observed, at one moment.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// `/system/df`.
    pub df: usage::DiskUsage,
    /// Image ID → parent ID, from `/images/json?all=1`.
    pub lineage: HashMap<String, String>,
    /// stevedore's record of use.
    pub record: record::Record,
    /// The leases of running builds.
    pub held: Held,
    /// The limit; `None` when the default share cannot be measured here (the step is skipped).
    pub limit: Option<Limit>,
    /// Why the limit could not be measured, when it could not.
    pub unmeasured: Option<String>,
    /// When, Unix seconds.
    pub now: i64,
}

/// Reads what the plan needs. A record that cannot be read is a warning (the plan goes on without it).
pub async fn observe(app: &App, conn: &Conn, s: &Settings) -> anyhow::Result<Observed> {
    let df = usage::read(&conn.raw).await?;
    let (limit, unmeasured) = match measure_limit(conn, s).await {
        Ok(l) => (l, None),
        Err(e) if !s.threshold_given => (
            None,
            Some(
                crate::exit::render(&e)
                    .trim_start_matches("error: ")
                    .to_string(),
            ),
        ),
        Err(e) => return Err(e),
    };
    let record = record::Record::load(&record::default_path()).unwrap_or_else(|e| {
        app.out.warn(format!("{e:#}; going on without it"));
        record::Record::default()
    });
    let now = unix_now() as i64;
    Ok(Observed {
        lineage: lineage(conn).await?,
        held: lease::held(&lease::dir(), now),
        df,
        record,
        limit,
        unmeasured,
        now,
    })
}

/// The threshold as bytes. A share needs the size of the filesystem holding Docker's data root: `--all`
/// needs no limit when it cannot be measured (`Some` of 0 bytes); the default share unmeasurable is an
/// error the caller turns into a skip; a threshold the user asked for stays an error.
async fn measure_limit(conn: &Conn, s: &Settings) -> anyhow::Result<Option<Limit>> {
    match s.threshold {
        Threshold::Bytes(b) => Ok(Some(Limit { bytes: b, fs: None })),
        t @ Threshold::Percent(_) => {
            let measured = match usage::data_root(&conn.raw).await {
                Ok(root) => usage::filesystem_size(&root).map(|size| (root, size)),
                Err(e) => Err(e),
            };
            match measured {
                Ok((root, size)) => Ok(Some(Limit {
                    bytes: t.limit(size),
                    fs: Some((root, size)),
                })),
                Err(_) if s.policy.all => Ok(Some(Limit { bytes: 0, fs: None })),
                Err(e) => Err(e),
            }
        }
    }
}

/// Marks the images a running build holds (its lease names their ID or one of their references).
pub fn mark_leased(images: &mut [Image], held: &Held) {
    for im in images.iter_mut() {
        let refs: Vec<String> = im.tags.iter().chain(im.digests.iter()).cloned().collect();
        im.leased = held.holder(&im.id, &refs).cloned();
    }
}

/// Every image's parent, from `/images/json?all=1` (which, unlike `/system/df`, lists the untagged
/// intermediate images of classic builds): ID → parent ID.
pub async fn lineage(conn: &Conn) -> anyhow::Result<HashMap<String, String>> {
    #[derive(Deserialize)]
    struct Entry {
        #[serde(rename = "Id", default)]
        id: String,
        #[serde(rename = "ParentId", default)]
        parent_id: String,
    }
    let all: Vec<Entry> = conn.raw.get_json("/images/json?all=1").await.map_err(|e| {
        crate::exit::coded(
            ExitCode::Outside,
            format!("cannot list images (GET /images/json?all=1): {e:#}"),
        )
    })?;
    Ok(all
        .into_iter()
        .filter(|e| !e.parent_id.is_empty())
        .map(|e| (e.id, e.parent_id))
        .collect())
}

/// Turns `/system/df`, the image lineage and the record into the policy's view of every image.
///
/// A parent is the nearest ancestor that is listed, walking through the hidden intermediate images of
/// classic builds (they go with the image made from them). A hidden intermediate that a container uses is
/// listed too, as `hidden`, so its ancestors stay.
pub fn images_of(
    df: &usage::DiskUsage,
    lineage: &HashMap<String, String>,
    rec: &record::Record,
) -> Vec<Image> {
    let mut newest: HashMap<&str, i64> = HashMap::new();
    let mut used: HashMap<&str, u64> = HashMap::new();
    for c in df.containers.iter().flatten() {
        let e = newest.entry(c.image_id.as_str()).or_insert(c.created);
        *e = (*e).max(c.created);
        *used.entry(c.image_id.as_str()).or_default() += 1;
    }
    let visible: HashSet<&str> = df.images.iter().flatten().map(|i| i.id.as_str()).collect();
    let hidden: Vec<&str> = used
        .keys()
        .copied()
        .filter(|id| !visible.contains(id) && lineage.contains_key(*id))
        .collect();
    let listed: HashSet<&str> = visible.iter().chain(hidden.iter()).copied().collect();
    let parent_of = |id: &str, own: &str| -> Option<String> {
        let mut p = lineage
            .get(id)
            .map(|s| s.as_str())
            .unwrap_or(own)
            .to_string();
        for _ in 0..10_000 {
            if p.is_empty() {
                return None;
            }
            if listed.contains(p.as_str()) {
                return Some(p);
            }
            p = lineage.get(&p).cloned().unwrap_or_default();
        }
        None
    };
    let mut out: Vec<Image> = df
        .images
        .iter()
        .flatten()
        .map(|im| {
            let mut image = image_of(im, rec);
            image.parent_id = parent_of(&im.id, &im.parent_id);
            // `Containers` is -1 when the engine did not count; count from the container list then.
            image.containers = image
                .containers
                .max(used.get(im.id.as_str()).copied().unwrap_or(0));
            image.last_container = newest.get(im.id.as_str()).copied();
            image
        })
        .collect();
    for id in hidden {
        out.push(Image {
            id: id.to_string(),
            parent_id: parent_of(id, ""),
            containers: used.get(id).copied().unwrap_or(0),
            last_container: newest.get(id).copied(),
            hidden: true,
            ..Default::default()
        });
    }
    out
}

/// One `/system/df` image as the policy sees it (parent and containers' use are filled in by the caller).
fn image_of(im: &usage::DfImage, rec: &record::Record) -> Image {
    let tags: Vec<String> = im
        .repo_tags
        .iter()
        .flatten()
        .filter(|t| t.as_str() != "<none>:<none>")
        .cloned()
        .collect();
    let digests: Vec<String> = im
        .repo_digests
        .iter()
        .flatten()
        .filter(|t| t.as_str() != "<none>@<none>")
        .cloned()
        .collect();
    let refs: Vec<String> = tags.iter().chain(digests.iter()).cloned().collect();
    Image {
        id: im.id.clone(),
        recorded_use: rec.last_use(&im.id, &refs),
        tags,
        digests,
        created: im.created,
        size: im.size.max(0) as u64,
        shared_size: im.shared_size.max(0) as u64,
        containers: im.containers.max(0) as u64,
        labels: im
            .labels
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>(),
        ..Default::default()
    }
}
