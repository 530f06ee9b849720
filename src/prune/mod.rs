//! `stevedore prune`: keep the runner's disk under a threshold. Least recently used images go first (dangling
//! ones before them), an image in use never; optionally old build cache beyond a budget.
//!
//! The decisions are pure ([`policy`]); usage comes from the daemon's `/system/df` in the engine's own
//! shape ([`usage`]); stevedore remembers what it built and used ([`record`], [`record_use`]); thresholds,
//! sizes and ages parse in [`size`]; the Docker calls are in [`docker`].
//!
//! Threshold semantics: the threshold applies to Docker's whole usage (image layers counted once,
//! containers' writable layers, volumes, build cache — what `docker system df` adds up). A percentage is a
//! share of the size of the filesystem holding Docker's data root. With `--scope-label`, only images
//! carrying that label are candidates, but the usage compared is still Docker's whole usage: a project on a
//! shared runner frees what it may until the disk is under the threshold, and never touches other images.

pub mod docker;
pub mod policy;
pub mod record;
pub mod size;
pub mod usage;

pub use record::record_use;

use crate::app::App;
use crate::exit::{ExitCode, coded};
use crate::output::{format_table, human_bytes, unix_now};
use crate::summary::{self, Status, StepOutcome};
use futures_util::StreamExt;
use policy::{Image, Plan, Policy, Verdict};
use serde::Deserialize;
use size::{Age, ByteSize, Threshold};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

/// Default `--min-age`: another job may be about to use a younger image.
pub const DEFAULT_MIN_AGE: Duration = Duration::from_secs(3600);
/// Default `--keep-label`.
pub const DEFAULT_KEEP_LABEL: &str = "stevedore.keep=true";
/// Default `--keep-recent`: newest tags kept per repository.
pub const DEFAULT_KEEP_RECENT: usize = 2;
/// Default `--build-cache-budget`.
pub const DEFAULT_BUILD_CACHE_BUDGET: u64 = 5_000_000_000;
/// Removals sent to the daemon at once (children always before parents).
const CONCURRENCY: usize = 4;
/// Re-measure and re-plan at most this many times when the estimate was short.
const MAX_ROUNDS: usize = 4;

/// The `[prune]` table of `stevedore.toml`. Every key is optional; a flag or its environment variable wins.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PruneConfig {
    /// `min_age = "1h"`: images created or used more recently than this stay.
    pub min_age: Option<Age>,
    /// `keep = ["^registry.example.com/base:"]`: images with a `repo:tag` matching one of these stay.
    pub keep: Vec<String>,
    /// `keep_label = ["team=php"]`: images carrying one of these labels stay, besides `stevedore.keep=true`.
    pub keep_label: Option<Vec<String>>,
    /// `keep_recent = 2`: the newest tags of each repository that stay.
    pub keep_recent: Option<usize>,
    /// `threshold = "80%"` or `"20GB"`: Docker's usage must end under this.
    pub threshold: Option<Threshold>,
    /// `build_cache = true`: also prune the build cache.
    pub build_cache: bool,
    /// `build_cache_budget = "5GB"`: build cache kept.
    pub build_cache_budget: Option<ByteSize>,
    /// `scope_label = "stevedore.project=shop"`: only images with this label are considered.
    pub scope_label: Option<String>,
}

/// Command-line arguments of `stevedore prune`. `Default` is the documented policy (what `build` runs as its
/// disk guard).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct PruneArgs {
    /// Keep images created or used more recently than this, e.g. 30m, 2h, 1d [default: 1h]
    #[arg(long, value_name = "DURATION", env = "STEVEDORE_PRUNE_MIN_AGE")]
    pub min_age: Option<Age>,
    /// Keep images with a repo:tag matching this regular expression (repeatable)
    #[arg(long, value_name = "REGEX")]
    pub keep: Vec<String>,
    /// Also keep images carrying this label (repeatable); stevedore.keep=true is always kept
    #[arg(long, value_name = "KEY=VALUE")]
    pub keep_label: Vec<String>,
    /// Keep the N newest tags of each repository [default: 2]
    #[arg(long, value_name = "N", env = "STEVEDORE_PRUNE_KEEP_RECENT")]
    pub keep_recent: Option<usize>,
    /// Remove until Docker's usage is under this: a size (20GB) or a share of the filesystem holding
    /// Docker's data root (80%) [default: 80%]
    #[arg(long, value_name = "SIZE|PERCENT", env = "STEVEDORE_PRUNE_THRESHOLD")]
    pub threshold: Option<Threshold>,
    /// Remove every image the policy allows, whatever the usage
    #[arg(long)]
    pub all: bool,
    /// Also prune build cache unused for --min-age, beyond --build-cache-budget
    #[arg(long)]
    pub build_cache: bool,
    /// Build cache to keep with --build-cache [default: 5GB]
    #[arg(long, value_name = "SIZE", env = "STEVEDORE_PRUNE_BUILD_CACHE_BUDGET")]
    pub build_cache_budget: Option<ByteSize>,
    /// Only consider images carrying this label (for runners others share)
    #[arg(long, value_name = "KEY=VALUE", env = "STEVEDORE_PRUNE_SCOPE_LABEL")]
    pub scope_label: Option<String>,
}

/// The settings after flag > environment > file > default.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The image policy.
    pub policy: Policy,
    /// The threshold.
    pub threshold: Threshold,
    /// True when the threshold was given (flag, environment or file) rather than defaulted.
    pub threshold_given: bool,
    /// Prune the build cache too.
    pub build_cache: bool,
    /// Build cache kept.
    pub build_cache_budget: u64,
}

impl Settings {
    /// Resolves flags over the `[prune]` table over the defaults; a bad pattern or label is a usage error.
    pub fn resolve(args: &PruneArgs, cfg: &PruneConfig) -> anyhow::Result<Settings> {
        let keep_src = if args.keep.is_empty() {
            &cfg.keep
        } else {
            &args.keep
        };
        let mut keep = Vec::new();
        for k in keep_src {
            keep.push(regex::Regex::new(k).map_err(|e| {
                coded(
                    ExitCode::Usage,
                    format!("--keep {k}: not a regular expression ({e}) — fix the pattern"),
                )
            })?);
        }
        // The default protection always holds; `--keep-label` (or the file's list) adds to it.
        let mut labels = vec![DEFAULT_KEEP_LABEL.to_string()];
        if !args.keep_label.is_empty() {
            labels.extend(args.keep_label.iter().cloned());
        } else if let Some(l) = &cfg.keep_label {
            labels.extend(l.iter().cloned());
        }
        let mut keep_labels = labels
            .iter()
            .map(|l| label(l, "--keep-label"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        keep_labels.dedup();
        let scope = match args.scope_label.as_ref().or(cfg.scope_label.as_ref()) {
            Some(s) => Some(label(s, "--scope-label")?),
            None => None,
        };
        let min_age = args.min_age.or(cfg.min_age).unwrap_or(Age(DEFAULT_MIN_AGE));
        Ok(Settings {
            policy: Policy {
                min_age_secs: min_age.secs() as i64,
                keep,
                keep_labels,
                keep_recent: args
                    .keep_recent
                    .or(cfg.keep_recent)
                    .unwrap_or(DEFAULT_KEEP_RECENT),
                all: args.all,
                scope,
            },
            threshold: args
                .threshold
                .or(cfg.threshold)
                .unwrap_or(Threshold::DEFAULT),
            threshold_given: args.threshold.or(cfg.threshold).is_some(),
            build_cache: args.build_cache || cfg.build_cache,
            build_cache_budget: args
                .build_cache_budget
                .or(cfg.build_cache_budget)
                .map_or(DEFAULT_BUILD_CACHE_BUDGET, |b| b.0),
        })
    }
}

/// Parses `key=value`.
fn label(s: &str, flag: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.trim().to_string())),
        _ => Err(coded(
            ExitCode::Usage,
            format!("{flag} {s}: write a label as KEY=VALUE, e.g. stevedore.keep=true"),
        )),
    }
}

/// Every image's parent, from `/images/json?all=1` (which, unlike `/system/df`, lists the untagged
/// intermediate images of classic builds): ID → parent ID.
pub async fn lineage(conn: &docker::Conn) -> anyhow::Result<HashMap<String, String>> {
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
                parent_id: parent_of(&im.id, &im.parent_id),
                recorded_use: rec.last_use(&im.id, &refs),
                tags,
                digests,
                created: im.created,
                size: im.size.max(0) as u64,
                shared_size: im.shared_size.max(0) as u64,
                // `Containers` is -1 when the engine did not count; count from the container list then.
                containers: (im.containers.max(0) as u64)
                    .max(used.get(im.id.as_str()).copied().unwrap_or(0)),
                labels: im
                    .labels
                    .iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<BTreeMap<_, _>>(),
                last_container: newest.get(im.id.as_str()).copied(),
                hidden: false,
            }
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

/// The plan as table rows: image, id, size, age, last use, decision, why.
pub fn plan_rows(plan: &Plan, images: &[Image], now: i64) -> Vec<Vec<String>> {
    let ago = |t: i64| size::short_duration(now - t);
    let mut n = 0;
    plan.decisions
        .iter()
        .map(|d| {
            let im = &images[d.index];
            let (last, src) = im.last_use();
            let (decision, why) = match &d.verdict {
                Verdict::Remove(w) => {
                    n += 1;
                    (format!("remove #{n}"), w.to_string())
                }
                Verdict::Keep(w) => ("keep".to_string(), w.to_string()),
            };
            vec![
                im.name(),
                policy::short_id(&im.id),
                human_bytes(im.size),
                ago(im.created),
                format!("{} ago ({src})", ago(last)),
                decision,
                why,
            ]
        })
        .collect()
}

const PLAN_HEADERS: &[&str] = &["image", "id", "size", "age", "last use", "decision", "why"];

/// Runs the step.
pub async fn run(app: &App, args: &PruneArgs) -> anyhow::Result<StepOutcome> {
    let started = Instant::now();
    let s = Settings::resolve(args, &app.config.prune)?;
    let conn = docker::connect().await?;
    let df = usage::read(&conn.raw).await?;
    let (limit, fs) = match s.threshold {
        Threshold::Bytes(b) => (b, None),
        t @ Threshold::Percent(_) => {
            let measured = match usage::data_root(&conn.raw).await {
                Ok(root) => usage::filesystem_size(&root).map(|size| (root, size)),
                Err(e) => Err(e),
            };
            match measured {
                Ok((root, size)) => (t.limit(size), Some((root, size))),
                // `--all` needs no limit: it removes everything the policy allows.
                Err(_) if s.policy.all => (0, None),
                // The default share cannot be measured where only the socket is visible (a job
                // container with the socket mounted): say so and leave the disk alone rather than fail
                // the pipeline. A threshold the user asked for stays an error.
                Err(e) if !s.threshold_given => {
                    app.out.warn(format!(
                        "{}; skipping the prune — set a byte threshold (--threshold 20GB or [prune] threshold) \
                         to prune from here",
                        crate::exit::render(&e).trim_start_matches("error: ")
                    ));
                    let outcome = StepOutcome::new(
                        "prune",
                        Status::Skipped,
                        started.elapsed(),
                        "skipped: Docker's data root is not visible here, so 80% of it cannot be measured",
                    );
                    let _ = summary::record(&app.ctx.project_dir, &outcome);
                    return Ok(outcome);
                }
                Err(e) => return Err(e),
            }
        }
    };
    let record_path = record::default_path();
    let rec = record::Record::load(&record_path).unwrap_or_else(|e| {
        app.out.warn(format!("{e:#}; going on without it"));
        record::Record::default()
    });
    let now = unix_now() as i64;
    let lin = lineage(&conn).await?;
    let images = images_of(&df, &lin, &rec);
    let usage_before = df.total();
    let plan = policy::plan(
        &images,
        &s.policy,
        now,
        usage_before,
        limit,
        &HashSet::new(),
    );

    let scope = s
        .policy
        .scope
        .as_ref()
        .map_or("all images".to_string(), |(k, v)| {
            format!("images labelled {k}={v}")
        });
    let limit_text = match &fs {
        Some((root, size)) => format!(
            "{} ({} of the {} filesystem holding {})",
            human_bytes(limit),
            match s.threshold {
                Threshold::Percent(p) => format!("{p}%"),
                t => t.to_string(),
            },
            human_bytes(*size),
            root.display()
        ),
        None => human_bytes(limit),
    };
    app.out.info(format!(
        "Docker uses {} of at most {limit_text}; considering {scope} ({} images, {} outside the scope)",
        human_bytes(usage_before),
        images.len() - plan.out_of_scope,
        plan.out_of_scope,
    ));

    if app.dry_run {
        return dry_run(app, &s, &conn, &df, &plan, &images, now, started, limit).await;
    }

    {
        let _sec = app.out.section("prune_plan", "prune plan", true);
        app.out.table(PLAN_HEADERS, &plan_rows(&plan, &images, now));
    }

    // Remove, re-measure, and re-plan while the estimate fell short.
    let mut tally = Tally::default();
    let mut usage_after = usage_before;
    let mut current = (plan, images);
    for round in 0..MAX_ROUNDS {
        let (plan, images) = &current;
        if plan.removals().count() == 0 {
            break;
        }
        apply(app, &conn, plan, images, &mut tally).await;
        let df2 = usage::read(&conn.raw).await?;
        usage_after = df2.total();
        if s.policy.all || usage_after < limit || round + 1 == MAX_ROUNDS {
            break;
        }
        let lineage2 = lineage(&conn).await?;
        let images2 = images_of(&df2, &lineage2, &rec);
        let now2 = unix_now() as i64;
        let plan2 = policy::plan(
            &images2,
            &s.policy,
            now2,
            usage_after,
            limit,
            &tally.failed_ids,
        );
        if plan2.removals().count() > 0 {
            app.out.info(format!(
                "Docker still uses {} (estimate fell short): removing {} more",
                human_bytes(usage_after),
                plan2.removals().count()
            ));
        }
        current = (plan2, images2);
    }
    let Tally {
        removed,
        removed_ids,
        failed_ids: _,
        mut failures,
        freed,
        already_gone,
    } = tally;

    // Remember what containers used, forget what is gone.
    let df_now = if removed_ids.is_empty() {
        df
    } else {
        usage::read(&conn.raw).await.unwrap_or(df)
    };
    if let Err(e) = record::Record::update(&record_path, |r| {
        for c in df_now.containers.iter().flatten() {
            r.note(&c.image_id, c.created);
        }
        r.forget(&removed_ids, now);
        r.forget(&already_gone, now);
    }) {
        app.out.warn(format!("{e:#}"));
    }

    let mut cache_freed = None;
    if s.build_cache {
        match docker::prune_build_cache(&conn, s.policy.min_age_secs as u64, s.build_cache_budget)
            .await
        {
            Ok(r) => {
                let b = r.space_reclaimed.max(0) as u64;
                app.out.result(format!(
                    "build cache: removed {} records, freed {}",
                    r.caches_deleted.map_or(0, |c| c.len()),
                    human_bytes(b)
                ));
                cache_freed = Some(b);
            }
            Err(e) => {
                app.out.warn(format!("{e:#} — build cache left as it is"));
                failures.push(serde_json::json!({"image": "build cache", "error": crate::redact::redact(&format!("{e:#}"))}));
            }
        }
    }

    let over = usage_after >= limit;
    let total_freed = freed + cache_freed.unwrap_or(0);
    app.out.result(format!(
        "freed {} in total ({} image{}); Docker uses {} (threshold {})",
        human_bytes(total_freed),
        removed.len(),
        if removed.len() == 1 { "" } else { "s" },
        human_bytes(usage_after),
        human_bytes(limit)
    ));
    let headline = format!(
        "freed {} ({} image{}{}); Docker uses {}{}",
        human_bytes(total_freed),
        removed.len(),
        if removed.len() == 1 { "" } else { "s" },
        if failures.is_empty() {
            String::new()
        } else {
            format!(", {} failed", failures.len())
        },
        human_bytes(usage_after),
        if over {
            format!(", still over {}", human_bytes(limit))
        } else {
            String::new()
        }
    );
    if over {
        app.out.warn(format!(
            "Docker still uses {} — over the threshold of {}: everything else is kept by the policy",
            human_bytes(usage_after),
            human_bytes(limit)
        ));
    }
    let mut rows = vec![
        ("images removed".to_string(), removed.len().to_string()),
        ("freed".to_string(), human_bytes(total_freed)),
        ("usage before".to_string(), human_bytes(usage_before)),
        ("usage after".to_string(), human_bytes(usage_after)),
        ("threshold".to_string(), limit_text.clone()),
    ];
    if !failures.is_empty() {
        rows.push(("failed (skipped)".to_string(), failures.len().to_string()));
    }
    if let Some(b) = cache_freed {
        rows.push(("build cache freed".to_string(), human_bytes(b)));
    }
    app.out.summary("prune", &rows);
    let mut outcome = StepOutcome::new("prune", status_of(&failures), started.elapsed(), headline)
        .with_facts(serde_json::json!({
            "dry_run": false,
            "removed": removed,
            "failed": failures,
            "freed_bytes": total_freed,
            "images_freed_bytes": freed,
            "build_cache_freed_bytes": cache_freed,
            "usage_before": usage_before,
            "usage_after": usage_after,
            "limit": limit,
            "over_threshold": over,
            "already_removed": already_gone,
        }));
    outcome.exit_code = exit_of(removed.len(), failures.len());
    record_summary(app, &outcome);
    Ok(outcome)
}

/// A prune with a failed removal (or build-cache prune) failed: it did not do what it was asked.
fn status_of(failures: &[serde_json::Value]) -> Status {
    if failures.is_empty() {
        Status::Success
    } else {
        Status::Failed
    }
}

/// The exit code of a prune that removed `removed` images and failed `failed` times: 0 without failures,
/// 4 when the daemon refused every removal, 1 when some went and some did not.
pub fn exit_of(removed: usize, failed: usize) -> Option<i32> {
    match (removed, failed) {
        (_, 0) => None,
        (0, _) => Some(ExitCode::Outside.as_i32()),
        _ => Some(ExitCode::Problem.as_i32()),
    }
}

#[allow(clippy::too_many_arguments)]
async fn dry_run(
    app: &App,
    s: &Settings,
    conn: &docker::Conn,
    df: &usage::DiskUsage,
    plan: &Plan,
    images: &[Image],
    now: i64,
    started: Instant,
    limit: u64,
) -> anyhow::Result<StepOutcome> {
    let _ = conn;
    for line in format_table(PLAN_HEADERS, &plan_rows(plan, images, now)) {
        app.out.result(line);
    }
    let n = plan.removals().count();
    app.out.result(format!(
        "would remove {n} image{} and free {}: Docker would use {} (threshold {})",
        if n == 1 { "" } else { "s" },
        human_bytes(plan.to_free),
        human_bytes(plan.projected()),
        human_bytes(limit)
    ));
    if s.build_cache {
        app.out.result(format!(
            "would prune build cache unused for {} beyond {} (it holds {} now)",
            Age(Duration::from_secs(s.policy.min_age_secs as u64)),
            human_bytes(s.build_cache_budget),
            human_bytes(df.build_cache_bytes())
        ));
    }
    let would: Vec<serde_json::Value> = plan
        .removals()
        .map(|d| {
            let im = &images[d.index];
            serde_json::json!({"image": im.name(), "id": im.id, "bytes": d.estimate})
        })
        .collect();
    let outcome = StepOutcome::new(
        "prune",
        Status::Success,
        started.elapsed(),
        format!(
            "dry run: would free {} ({n} images)",
            human_bytes(plan.to_free)
        ),
    )
    .with_facts(serde_json::json!({
        "dry_run": true,
        "would_remove": would,
        "would_free_bytes": plan.to_free,
        "usage_before": plan.usage,
        "limit": limit,
    }));
    app.out.summary(
        "prune (dry run)",
        &[
            ("would remove".to_string(), n.to_string()),
            ("would free".to_string(), human_bytes(plan.to_free)),
            ("usage".to_string(), human_bytes(plan.usage)),
            ("threshold".to_string(), human_bytes(limit)),
        ],
    );
    record_summary(app, &outcome);
    Ok(outcome)
}

/// Records the outcome in the run summary, warning when the file cannot be written.
fn record_summary(app: &App, outcome: &StepOutcome) {
    if let Err(e) = summary::record(&app.ctx.project_dir, outcome) {
        app.out.warn(format!(
            "cannot write the run summary in {}: {e}",
            app.ctx.project_dir.display()
        ));
    }
}

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
}

/// Removes a plan's images and reports each on stdout: what it freed, or why the daemon refused
/// (reported and skipped, never fatal).
pub async fn apply(
    app: &App,
    conn: &docker::Conn,
    plan: &Plan,
    images: &[Image],
    tally: &mut Tally,
) {
    for (idx, estimate, res) in execute(conn, plan, images).await {
        let im = &images[idx];
        match res {
            Ok(r) if r.already_gone => {
                tally.already_gone.push(im.id.clone());
                app.out.info(format!(
                    "{} ({}) was already removed (by another prune?): nothing to do",
                    im.name(),
                    policy::short_id(&im.id)
                ));
            }
            Ok(_) => {
                tally.freed += estimate;
                tally.removed_ids.push(im.id.clone());
                app.out.result(format!(
                    "removed {} ({}): freed {}",
                    im.name(),
                    policy::short_id(&im.id),
                    human_bytes(estimate)
                ));
                tally.removed.push(serde_json::json!({
                    "image": im.name(), "id": im.id, "bytes": estimate
                }));
            }
            Err(e) => {
                tally.failed_ids.insert(im.id.clone());
                let msg = format!("{e:#}");
                app.out.warn(format!(
                    "could not remove {} ({}): {msg} — skipped",
                    im.name(),
                    policy::short_id(&im.id)
                ));
                tally.failures.push(serde_json::json!({
                    "image": im.name(), "id": im.id, "error": crate::redact::redact(&msg)
                }));
            }
        }
    }
}

/// Removes the plan's images, a few at a time, children before parents; results in plan order as
/// (image index, estimated bytes, result). A parent whose child could not be removed is skipped.
async fn execute(
    conn: &docker::Conn,
    plan: &Plan,
    images: &[Image],
) -> Vec<(usize, u64, anyhow::Result<docker::Removed>)> {
    let order: Vec<(usize, u64)> = plan.removals().map(|d| (d.index, d.estimate)).collect();
    let planned: HashMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(pos, (i, _))| (images[*i].id.as_str(), pos))
        .collect();
    // Wave of each removal: 0 without planned children, else one more than its latest child.
    let mut wave = vec![0usize; order.len()];
    for (pos, (i, _)) in order.iter().enumerate() {
        if let Some(&ppos) = images[*i].parent_id.as_deref().and_then(|p| planned.get(p)) {
            // Children precede parents in the plan, so the child's wave is final here.
            wave[ppos] = wave[ppos].max(wave[pos] + 1);
        }
    }
    let mut results: Vec<Option<anyhow::Result<docker::Removed>>> =
        (0..order.len()).map(|_| None).collect();
    let max_wave = wave.iter().copied().max().unwrap_or(0);
    for w in 0..=max_wave {
        let batch: Vec<usize> = (0..order.len()).filter(|&p| wave[p] == w).collect();
        let mut todo = Vec::new();
        for p in batch {
            let im = &images[order[p].0];
            let failed_child = order.iter().enumerate().find(|(cp, (ci, _))| {
                images[*ci].parent_id.as_deref() == Some(im.id.as_str())
                    && matches!(results[*cp], Some(Err(_)))
            });
            if let Some((_, (ci, _))) = failed_child {
                results[p] = Some(Err(anyhow::anyhow!(
                    "{} made from it could not be removed",
                    images[*ci].name()
                )));
            } else {
                todo.push(p);
            }
        }
        let done: Vec<(usize, anyhow::Result<docker::Removed>)> =
            futures_util::stream::iter(todo.into_iter().map(|p| {
                let im = &images[order[p].0];
                async move {
                    (
                        p,
                        docker::remove_image(conn, &im.id, &im.tags, &im.digests).await,
                    )
                }
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
        .map(|((i, e), r)| {
            (
                *i,
                *e,
                r.unwrap_or_else(|| Err(anyhow::anyhow!("not attempted"))),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_policy() {
        let s = Settings::resolve(&PruneArgs::default(), &PruneConfig::default()).unwrap();
        assert_eq!(s.policy.min_age_secs, 3600);
        assert_eq!(s.policy.keep_recent, 2);
        assert_eq!(
            s.policy.keep_labels,
            vec![("stevedore.keep".to_string(), "true".to_string())]
        );
        assert_eq!(s.threshold, Threshold::Percent(80.0));
        assert!(
            !s.threshold_given,
            "the default threshold may be skipped when unmeasurable"
        );
        assert!(!s.policy.all && !s.build_cache && s.policy.scope.is_none());
        assert!(s.policy.keep.is_empty());
    }

    #[test]
    fn flags_win_over_the_file() {
        let cfg: crate::config::Config = toml::from_str(
            "[prune]\nmin_age = \"2h\"\nkeep_recent = 5\nthreshold = \"20GB\"\nkeep = [\"^base:\"]\nscope_label = \"team=a\"\n",
        )
        .unwrap();
        let s = Settings::resolve(&PruneArgs::default(), &cfg.prune).unwrap();
        assert_eq!(s.policy.min_age_secs, 7200);
        assert_eq!(s.policy.keep_recent, 5);
        assert_eq!(s.threshold, Threshold::Bytes(20_000_000_000));
        assert!(s.threshold_given);
        assert_eq!(s.policy.scope, Some(("team".into(), "a".into())));
        let args = PruneArgs {
            keep_recent: Some(1),
            threshold: Some(Threshold::Percent(50.0)),
            ..Default::default()
        };
        let s = Settings::resolve(&args, &cfg.prune).unwrap();
        assert_eq!(s.policy.keep_recent, 1);
        assert_eq!(s.threshold, Threshold::Percent(50.0));
        let bad = toml::from_str::<crate::config::Config>("[prune]\nthreshold = \"lots\"\n")
            .unwrap_err()
            .to_string();
        assert!(bad.contains("threshold"), "{bad}");
    }

    #[test]
    fn parents_skip_hidden_intermediates_unless_a_container_uses_them() {
        let df: usage::DiskUsage = serde_json::from_str(
            r#"{"LayersSize":0,"Images":[
              {"Id":"sha256:t","ParentId":"sha256:i1","RepoTags":["t:1"],"Created":5,"Size":30,"SharedSize":0,"Containers":0},
              {"Id":"sha256:b","ParentId":"","RepoTags":["b:1"],"Created":1,"Size":10,"SharedSize":10,"Containers":0},
              {"Id":"sha256:u","ParentId":"sha256:i3","RepoTags":["u:1"],"Created":5,"Size":30,"SharedSize":0,"Containers":-1}],
             "Containers":[{"Id":"c","ImageID":"sha256:i3","Created":9},{"Id":"d","ImageID":"sha256:u","Created":7}]}"#,
        )
        .unwrap();
        let lineage: HashMap<String, String> = [
            ("sha256:t", "sha256:i1"),
            ("sha256:i1", "sha256:i2"),
            ("sha256:i2", "sha256:b"),
            ("sha256:u", "sha256:i3"),
            ("sha256:i3", "sha256:b"),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let mut rec = record::Record::default();
        rec.note("t:1", 8);
        let imgs = images_of(&df, &lineage, &rec);
        let get = |id: &str| imgs.iter().find(|i| i.id == id).unwrap();
        assert_eq!(get("sha256:t").parent_id.as_deref(), Some("sha256:b"));
        assert_eq!(get("sha256:t").recorded_use, Some(8));
        // i3 is hidden but used by a container: listed, so u's parent is i3 and i3 keeps b.
        assert_eq!(get("sha256:u").parent_id.as_deref(), Some("sha256:i3"));
        assert!(get("sha256:i3").hidden && get("sha256:i3").containers == 1);
        assert_eq!(get("sha256:i3").parent_id.as_deref(), Some("sha256:b"));
        // The engine did not count u's containers (-1): counted from the list.
        assert_eq!(get("sha256:u").containers, 1);
        assert!(
            imgs.iter()
                .all(|i| i.id != "sha256:i1" && i.id != "sha256:i2")
        );
    }

    #[test]
    fn keep_labels_add_to_the_default() {
        let args = PruneArgs {
            keep_label: vec!["team=php".into()],
            ..Default::default()
        };
        let cfg: crate::config::Config =
            toml::from_str("[prune]\nkeep_label = [\"tier=db\"]\n").unwrap();
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        let s = Settings::resolve(&args, &PruneConfig::default()).unwrap();
        assert_eq!(
            s.policy.keep_labels,
            vec![pair("stevedore.keep", "true"), pair("team", "php")]
        );
        // The file's list adds too; a flag replaces the file's list, never the default.
        let s = Settings::resolve(&PruneArgs::default(), &cfg.prune).unwrap();
        assert_eq!(
            s.policy.keep_labels,
            vec![pair("stevedore.keep", "true"), pair("tier", "db")]
        );
        let s = Settings::resolve(&args, &cfg.prune).unwrap();
        assert_eq!(
            s.policy.keep_labels,
            vec![pair("stevedore.keep", "true"), pair("team", "php")]
        );
    }

    #[test]
    fn removal_failures_set_the_exit_code() {
        assert_eq!(exit_of(3, 0), None);
        assert_eq!(exit_of(0, 0), None);
        assert_eq!(exit_of(0, 2), Some(4), "the daemon refused every removal");
        assert_eq!(exit_of(2, 1), Some(1), "some went, some did not");
    }

    #[test]
    fn bad_patterns_and_labels_are_usage_errors() {
        let args = PruneArgs {
            keep: vec!["(".into()],
            ..Default::default()
        };
        let e = Settings::resolve(&args, &PruneConfig::default()).unwrap_err();
        assert_eq!(crate::exit::code_of(&e), ExitCode::Usage);
        let args = PruneArgs {
            scope_label: Some("novalue".into()),
            ..Default::default()
        };
        let e = Settings::resolve(&args, &PruneConfig::default()).unwrap_err();
        assert_eq!(crate::exit::code_of(&e), ExitCode::Usage);
        assert!(crate::exit::render(&e).contains("KEY=VALUE"));
    }
}
