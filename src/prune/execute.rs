//! `prune`'s side effects, driven by the plan: remove images (children first, a few at a time, each
//! checked against the running builds' leases at the moment it goes), measure again and re-plan while the
//! estimate fell short, update stevedore's record, prune the build cache.

use super::docker::{self, Conn};
use super::observe::{Observed, images_of, lineage, mark_leased};
use super::plan::Planned;
use super::policy::{self, Image, Plan};
use super::{Settings, lease, record, usage};
use crate::app::App;
use crate::output::{human_bytes, unix_now};
use futures_util::StreamExt;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Removals sent to the daemon at once (children always before parents).
const CONCURRENCY: usize = 4;
/// Re-measure and re-plan at most this many times when the estimate was short.
const MAX_ROUNDS: usize = 4;

/// What the removals did so far in a run.
#[derive(Debug, Default)]
pub struct Tally {
    /// `{image, id, bytes}` per removed image.
    pub removed: Vec<serde_json::Value>,
    /// IDs removed.
    pub removed_ids: Vec<String>,
    /// IDs whose removal failed (they stay in later rounds).
    pub failed_ids: HashSet<String>,
    /// `{image, id, error}` per failure.
    pub failures: Vec<serde_json::Value>,
    /// Bytes freed (each image's estimate).
    pub freed: u64,
    /// IDs found already removed (by another prune): neither freed nor failed.
    pub already_gone: Vec<String>,
    /// `{image, id, why}` per image kept at its turn because a running build holds it.
    pub held: Vec<serde_json::Value>,
}

/// What the execution did.
#[derive(Debug, Default)]
pub struct Done {
    /// The removals.
    pub tally: Tally,
    /// Docker's usage at the end.
    pub usage_after: u64,
    /// Bytes the build-cache prune freed, when it ran and succeeded.
    pub cache_freed: Option<u64>,
}

/// What happened to one planned removal.
#[derive(Debug)]
pub enum Removal {
    /// The daemon removed it (or it was already gone).
    Done(docker::Removed),
    /// Kept at its turn: a running build holds it, or an image made from it (who, why).
    Held(String),
}

/// Runs the plan: removal rounds, the record, the build cache.
pub async fn execute(
    app: &App,
    s: &Settings,
    conn: &Conn,
    planned: &Planned,
    seen: &Observed,
) -> anyhow::Result<Done> {
    let mut done = Done {
        usage_after: planned.usage_before,
        ..Default::default()
    };
    let limit = planned.limit;
    let mut again: Option<(Plan, Vec<Image>)> = None;
    for round in 0..MAX_ROUNDS {
        let (plan, images) = again
            .as_ref()
            .map_or((&planned.plan, planned.images.as_slice()), |(p, i)| {
                (p, i.as_slice())
            });
        if plan.removals().count() == 0 {
            break;
        }
        apply(app, conn, plan, images, &mut done.tally).await;
        let df = usage::read(&conn.raw).await?;
        done.usage_after = df.total();
        if s.policy.all || done.usage_after < limit || round + 1 == MAX_ROUNDS {
            break;
        }
        again = Some(replan(app, s, conn, &seen.record, df, limit, &done.tally).await?);
    }
    remember(app, conn, seen, &done.tally).await;
    if s.build_cache {
        done.cache_freed = prune_cache(app, s, conn, &mut done.tally).await;
    }
    Ok(done)
}

/// Plans again from a new measurement, the removals that failed staying.
async fn replan(
    app: &App,
    s: &Settings,
    conn: &Conn,
    rec: &record::Record,
    df: usage::DiskUsage,
    limit: u64,
    tally: &Tally,
) -> anyhow::Result<(Plan, Vec<Image>)> {
    let now = unix_now() as i64;
    let mut images = images_of(&df, &lineage(conn).await?, rec);
    mark_leased(&mut images, &lease::held(&lease::dir(), now));
    let usage = df.total();
    let plan = policy::plan(&images, &s.policy, now, usage, limit, &tally.failed_ids);
    if plan.removals().count() > 0 {
        app.out.info(format!(
            "Docker still uses {} (estimate fell short): removing {} more",
            human_bytes(usage),
            plan.removals().count()
        ));
    }
    Ok((plan, images))
}

/// Notes in the record what containers use now, and forgets what is gone.
async fn remember(app: &App, conn: &Conn, seen: &Observed, tally: &Tally) {
    let df = if tally.removed_ids.is_empty() {
        seen.df.clone()
    } else {
        usage::read(&conn.raw)
            .await
            .unwrap_or_else(|_| seen.df.clone())
    };
    let now = unix_now() as i64;
    if let Err(e) = record::Record::update(&record::default_path(), |r| {
        for c in df.containers.iter().flatten() {
            r.note(&c.image_id, c.created);
        }
        r.forget(&tally.removed_ids, now);
        r.forget(&tally.already_gone, now);
    }) {
        app.out.warn(format!("{e:#}"));
    }
}

/// Prunes the build cache; a refusal is a failure in the tally.
async fn prune_cache(app: &App, s: &Settings, conn: &Conn, tally: &mut Tally) -> Option<u64> {
    match docker::prune_build_cache(conn, s.policy.min_age_secs as u64, s.build_cache_budget).await
    {
        Ok(r) => {
            let b = r.space_reclaimed.max(0) as u64;
            app.out.result(format!(
                "build cache: removed {} records, freed {}",
                r.caches_deleted.map_or(0, |c| c.len()),
                human_bytes(b)
            ));
            Some(b)
        }
        Err(e) => {
            app.out.warn(format!("{e:#} — build cache left as it is"));
            tally.failures.push(serde_json::json!({
                "image": "build cache", "error": crate::redact::redact(&format!("{e:#}"))
            }));
            None
        }
    }
}

/// Removes a plan's images and reports each on stdout: what it freed, that it was already gone, that a
/// running build holds it, or why the daemon refused (reported and skipped).
pub async fn apply(app: &App, conn: &Conn, plan: &Plan, images: &[Image], tally: &mut Tally) {
    for (idx, estimate, res) in remove_all(conn, plan, images, &lease::dir()).await {
        let im = &images[idx];
        let (name, short) = (im.name(), policy::short_id(&im.id));
        match res {
            Ok(Removal::Done(r)) if r.already_gone => {
                tally.already_gone.push(im.id.clone());
                app.out.info(format!(
                    "{name} ({short}) was already removed (by another prune?): nothing to do"
                ));
            }
            Ok(Removal::Done(_)) => {
                tally.freed += estimate;
                tally.removed_ids.push(im.id.clone());
                app.out.result(format!(
                    "removed {name} ({short}): freed {}",
                    human_bytes(estimate)
                ));
                tally.removed.push(serde_json::json!({
                    "image": name, "id": im.id, "bytes": estimate
                }));
            }
            Ok(Removal::Held(why)) => {
                app.out.info(format!("kept {name} ({short}): {why}"));
                tally
                    .held
                    .push(serde_json::json!({"image": name, "id": im.id, "why": why}));
            }
            Err(e) => {
                tally.failed_ids.insert(im.id.clone());
                let msg = format!("{e:#}");
                app.out.warn(format!(
                    "could not remove {name} ({short}): {msg} — skipped"
                ));
                tally.failures.push(serde_json::json!({
                    "image": name, "id": im.id, "error": crate::redact::redact(&msg)
                }));
            }
        }
    }
}

/// One removal's result: (image index, estimated bytes, what happened).
type Result1 = (usize, u64, anyhow::Result<Removal>);

/// Removes the plan's images, a few at a time, children before parents; results in plan order. A parent
/// whose child could not be removed (or is held) is not attempted.
async fn remove_all(conn: &Conn, plan: &Plan, images: &[Image], leases: &Path) -> Vec<Result1> {
    let order: Vec<(usize, u64)> = plan.removals().map(|d| (d.index, d.estimate)).collect();
    let wave = waves(&order, images);
    let mut results: Vec<Option<anyhow::Result<Removal>>> =
        (0..order.len()).map(|_| None).collect();
    for w in 0..=wave.iter().copied().max().unwrap_or(0) {
        let mut todo = Vec::new();
        for p in (0..order.len()).filter(|&p| wave[p] == w) {
            match blocked(p, &order, images, &results) {
                Some(r) => results[p] = Some(r),
                None => todo.push(p),
            }
        }
        let done: Vec<(usize, anyhow::Result<Removal>)> =
            futures_util::stream::iter(todo.into_iter().map(|p| {
                let im = &images[order[p].0];
                async move { (p, remove_one(conn, im, leases).await) }
            }))
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for (p, r) in done {
            results[p] = Some(r);
        }
    }
    order
        .iter()
        .zip(results)
        .map(|(&(i, e), r)| {
            let r = r.unwrap_or_else(|| Err(anyhow::anyhow!("not attempted")));
            (i, e, r)
        })
        .collect()
}

/// The wave of each removal: 0 without planned children, else one more than its latest child.
fn waves(order: &[(usize, u64)], images: &[Image]) -> Vec<usize> {
    let planned: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(pos, (i, _))| (images[*i].id.as_str(), pos))
        .collect();
    let mut wave = vec![0usize; order.len()];
    for (pos, (i, _)) in order.iter().enumerate() {
        if let Some(&ppos) = images[*i].parent_id.as_deref().and_then(|p| planned.get(p)) {
            // Children precede parents in the plan, so the child's wave is final here.
            wave[ppos] = wave[ppos].max(wave[pos] + 1);
        }
    }
    wave
}

/// Why the removal at `p` must not be attempted: a child made from it failed, or is held.
fn blocked(
    p: usize,
    order: &[(usize, u64)],
    images: &[Image],
    results: &[Option<anyhow::Result<Removal>>],
) -> Option<anyhow::Result<Removal>> {
    let id = images[order[p].0].id.as_str();
    order.iter().enumerate().find_map(|(cp, (ci, _))| {
        if images[*ci].parent_id.as_deref() != Some(id) {
            return None;
        }
        let child = images[*ci].name();
        match &results[cp] {
            Some(Err(_)) => Some(Err(anyhow::anyhow!(
                "{child} made from it could not be removed"
            ))),
            Some(Ok(Removal::Held(why))) => Some(Ok(Removal::Held(format!(
                "{child} made from it stays: {why}"
            )))),
            _ => None,
        }
    })
}

/// Removes one image unless a running build holds it: the leases are checked and the image removed
/// under the leases' shared lock, so no build can take a lease on it in between.
async fn remove_one(conn: &Conn, im: &Image, leases: &Path) -> anyhow::Result<Removal> {
    // Without a writable state directory there is no lock; the leases are still read.
    let _lock = lease::lock(leases, false).ok();
    let refs: Vec<String> = im.tags.iter().chain(im.digests.iter()).cloned().collect();
    if let Some(who) = lease::held(leases, unix_now() as i64).holder(&im.id, &refs) {
        return Ok(Removal::Held(format!("a running build uses it ({who})")));
    }
    docker::remove_image(conn, &im.id, &im.tags, &im.digests)
        .await
        .map(Removal::Done)
}
