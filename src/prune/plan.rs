//! `prune`'s plan: a pure value made from the settings and what was observed — every image in scope,
//! remove (in order) or keep, and why; the limit; what the removals should free. `--dry-run` prints it.

use super::Settings;
use super::observe::{Observed, images_of, mark_leased};
use super::policy::{self, Image, Plan, Verdict};
use super::size::{self, Threshold};
use crate::output::human_bytes;

/// The plan with what it was made from.
#[derive(Clone, Debug)]
pub struct Planned {
    /// The images the plan's decisions index.
    pub images: Vec<Image>,
    /// The decisions.
    pub plan: Plan,
    /// Docker's usage when planning.
    pub usage_before: u64,
    /// The limit usage must end under, in bytes.
    pub limit: u64,
    /// The limit for people: `216 GB (80% of the 271 GB filesystem holding /var/lib/docker)`.
    pub limit_text: String,
    /// What is considered: `all images` or `images labelled k=v`.
    pub scope_text: String,
    /// When, Unix seconds.
    pub now: i64,
}

impl Planned {
    /// Plans from the settings and the observation (which must have a limit).
    pub fn new(s: &Settings, seen: &Observed) -> Planned {
        let limit = seen
            .limit
            .clone()
            .unwrap_or(super::observe::Limit { bytes: 0, fs: None });
        let mut images = images_of(&seen.df, &seen.lineage, &seen.record);
        mark_leased(&mut images, &seen.held);
        let usage_before = seen.df.total();
        let plan = policy::plan(
            &images,
            &s.policy,
            seen.now,
            usage_before,
            limit.bytes,
            &Default::default(),
        );
        let limit_text = match &limit.fs {
            Some((root, fs_size)) => format!(
                "{} ({} of the {} filesystem holding {})",
                human_bytes(limit.bytes),
                match s.threshold {
                    Threshold::Percent(p) => format!("{p}%"),
                    t => t.to_string(),
                },
                human_bytes(*fs_size),
                root.display()
            ),
            None => human_bytes(limit.bytes),
        };
        let scope_text = s
            .policy
            .scope
            .as_ref()
            .map_or("all images".to_string(), |(k, v)| {
                format!("images labelled {k}={v}")
            });
        Planned {
            images,
            plan,
            usage_before,
            limit: limit.bytes,
            limit_text,
            scope_text,
            now: seen.now,
        }
    }

    /// The plan as table rows: image, id, size, age, last use, decision, why.
    pub fn rows(&self) -> Vec<Vec<String>> {
        plan_rows(&self.plan, &self.images, self.now)
    }

    /// Images considered (in scope).
    pub fn considered(&self) -> usize {
        self.images.len() - self.plan.out_of_scope
    }
}

/// The plan's table headers.
pub const HEADERS: &[&str] = &["image", "id", "size", "age", "last use", "decision", "why"];

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prune::observe::Limit;
    use crate::prune::{PruneArgs, PruneConfig};

    /// The plan from settings and an observation, without Docker: what goes, what a lease keeps, the
    /// limit as people read it.
    #[test]
    fn plans_from_settings_and_what_was_observed() {
        let df = serde_json::from_str(
            r#"{"LayersSize":300,"Images":[
              {"Id":"sha256:a","ParentId":"","RepoTags":["app:1","app:2"],"Created":100,"Size":100,"SharedSize":0,"Containers":0},
              {"Id":"sha256:b","ParentId":"","RepoTags":["base:1"],"Created":100,"Size":100,"SharedSize":0,"Containers":0},
              {"Id":"sha256:c","ParentId":"","RepoTags":["<none>:<none>"],"Created":100,"Size":100,"SharedSize":0,"Containers":0}],
             "Containers":[]}"#,
        )
        .unwrap();
        let mut held = crate::prune::lease::Held::default();
        held.refs
            .insert("base:1".into(), "build of x, pid 1, 1s ago".into());
        let seen = Observed {
            df,
            held,
            limit: Some(Limit {
                bytes: 250,
                fs: Some(("/var/lib/docker".into(), 1000)),
            }),
            now: 100 + 86_400,
            ..Default::default()
        };
        let args = PruneArgs {
            keep_recent: Some(0),
            threshold: Some(Threshold::Percent(25.0)),
            ..Default::default()
        };
        let s = Settings::resolve(&args, &PruneConfig::default()).unwrap();
        let p = Planned::new(&s, &seen);
        let rows = p.rows();
        let row = |name: &str| rows.iter().find(|r| r[0] == name).unwrap().clone();
        // 300 used, limit 250: the dangling image goes first and is enough.
        assert_eq!(row("c")[5], "remove #1");
        assert_eq!(row("c")[6], "dangling");
        assert_eq!(row("app:1")[5], "keep");
        assert!(row("base:1")[6].contains("a running build uses it (build of x"));
        assert_eq!(p.plan.to_free, 100);
        assert_eq!(
            p.limit_text,
            "250 B (25% of the 1.0 kB filesystem holding /var/lib/docker)"
        );
        assert_eq!((p.considered(), p.scope_text.as_str()), (3, "all images"));
    }
}
