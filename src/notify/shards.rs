//! One message for a sharded pipeline: the entries the shard jobs of a step left (`scan --shard`,
//! `deploy --shard`, each in its own summary file) folded into one entry per step, so the message shows
//! every client of every shard, the failing shard's job, and the right status.
//!
//! A shard that left nothing (its job crashed, was cancelled or never ran) is named as missing and fails
//! the step: a sharded pipeline is never reported as a success with a part of it unaccounted for. How
//! many shards a step has comes from the entries themselves (`I/N`), or from `--shards STEP=N` when every
//! shard of a step may be missing. A deploy shard that wrote its report (`deploy-report-I-of-N.json`) but
//! no summary entry stopped before the end: its clients are shown from the report and the step fails.

use crate::shard::Shard;
use crate::summary::{RunSummary, Status, StepOutcome};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

/// `--shards STEP=N`: the step ran in N shards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expected {
    /// The step (`scan`, `deploy`).
    pub step: String,
    /// How many shards.
    pub total: u32,
}

impl FromStr for Expected {
    type Err = String;
    fn from_str(s: &str) -> Result<Expected, String> {
        let bad = || format!("--shards takes STEP=N (e.g. deploy=4), not {s:?}");
        let (step, n) = s.trim().split_once('=').ok_or_else(bad)?;
        let total = n.trim().parse::<u32>().map_err(|_| bad())?;
        if step.trim().is_empty() || total == 0 {
            return Err(bad());
        }
        Ok(Expected {
            step: step.trim().to_string(),
            total,
        })
    }
}

/// The summary with each sharded step's entries folded into one (see the module documentation).
pub fn gather(summary: RunSummary, expected: &[Expected], project_dir: &Path) -> RunSummary {
    let mut totals: BTreeMap<String, u32> = BTreeMap::new();
    for e in &summary.steps {
        if let Some(s) = e.shard {
            let t = totals.entry(e.step.clone()).or_insert(0);
            *t = (*t).max(s.total);
        }
    }
    for x in expected.iter().filter(|x| x.total > 1) {
        let t = totals.entry(x.step.clone()).or_insert(0);
        *t = (*t).max(x.total);
    }
    let mut out = RunSummary::default();
    let mut placed: Vec<String> = Vec::new();
    for e in &summary.steps {
        match totals.get(&e.step) {
            None => out.steps.push(e.clone()),
            Some(&n) if !placed.contains(&e.step) => {
                placed.push(e.step.clone());
                out.steps
                    .push(fold(&e.step, n, &summary.steps, project_dir));
            }
            Some(_) => {}
        }
    }
    for (step, &n) in &totals {
        if !placed.contains(step) {
            out.steps.push(fold(step, n, &summary.steps, project_dir));
        }
    }
    out
}

/// The entries of every shard 1..=n of `step`: the recorded one, else one made from a deploy shard's
/// report, else `None` (missing).
fn shard_entries(
    step: &str,
    n: u32,
    all: &[StepOutcome],
    project_dir: &Path,
) -> Vec<(Shard, Option<StepOutcome>)> {
    (1..=n)
        .filter_map(|i| Shard::new(i, n).ok())
        .map(|s| {
            let recorded = all
                .iter()
                .find(|e| e.step == step && e.shard == Some(s))
                .cloned();
            let from_report = || (step == "deploy").then(|| from_deploy_report(s, project_dir))?;
            (s, recorded.or_else(from_report))
        })
        .collect()
}

/// A deploy shard that wrote its report but recorded nothing: its clients, and a failed status.
fn from_deploy_report(s: Shard, project_dir: &Path) -> Option<StepOutcome> {
    let p = project_dir.join(crate::deploy::report::name(Some(s)));
    let rep: Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
    let mut o = StepOutcome::new(
        "deploy",
        Status::Failed,
        std::time::Duration::ZERO,
        format!("shard {s} wrote its deploy report but stopped before recording its outcome"),
    );
    o.shard = Some(s);
    o.facts = json!({
        "environment": rep["environment"], "image": rep["image"], "digest": rep["digest"],
        "version": rep["version"], "targets": rep["targets"],
    });
    Some(o)
}

/// One entry for the `n` shards of `step`.
fn fold(step: &str, n: u32, all: &[StepOutcome], project_dir: &Path) -> StepOutcome {
    let shards = shard_entries(step, n, all, project_dir);
    let present: Vec<&StepOutcome> = shards.iter().filter_map(|(_, e)| e.as_ref()).collect();
    let missing: Vec<String> = shards
        .iter()
        .filter(|(_, e)| e.is_none())
        .map(|(s, _)| s.to_string())
        .collect();
    let failed: Vec<&StepOutcome> = present
        .iter()
        .copied()
        .filter(|e| e.status == Status::Failed)
        .collect();
    let status = if !missing.is_empty() || !failed.is_empty() {
        Status::Failed
    } else if present.iter().all(|e| e.status == Status::Skipped) {
        Status::Skipped
    } else {
        Status::Success
    };
    let mut o = StepOutcome::new(step, status, std::time::Duration::ZERO, "");
    o.duration_ms = present.iter().map(|e| e.duration_ms).max().unwrap_or(0);
    o.facts = merged_facts(&present);
    o.facts["shards"] = json!(shards
        .iter()
        .map(|(s, e)| match e {
            Some(e) => json!({ "shard": s, "status": e.status, "headline": e.headline, "job_url": e.job_url }),
            None => json!({ "shard": s, "status": "missing" }),
        })
        .collect::<Vec<_>>());
    o.facts["missing_shards"] = json!(missing);
    o.headline = headline(n, &missing, &failed, &present);
    if let Some(first) = failed.first().or(present.first()) {
        o.scope = first.scope.clone();
        if !failed.is_empty() {
            o.job_name = first.job_name.clone();
            o.job_url = first.job_url.clone();
        }
    }
    o
}

/// What the step's line says: missing shards first, then the failing shards' own headlines.
fn headline(
    n: u32,
    missing: &[String],
    failed: &[&StepOutcome],
    present: &[&StepOutcome],
) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !missing.is_empty() {
        parts.push(format!(
            "shard{} {} of {n} left no report (the job crashed, was cancelled or did not run)",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        ));
    }
    for f in failed {
        let s = f.shard.map(|s| s.to_string()).unwrap_or_default();
        parts.push(format!("shard {s}: {}", f.headline));
    }
    if parts.is_empty() {
        let first = present.first().map(|e| e.headline.as_str()).unwrap_or("");
        return format!("{n} shards, all passed — shard 1: {first}");
    }
    parts.join("; ")
}

/// The facts of every shard in one: lists (the deploy's `targets`) joined, counts summed, maps of
/// counts (`findings_per_rule`) summed per key; anything else from the first shard.
fn merged_facts(present: &[&StepOutcome]) -> Value {
    let mut out = Map::new();
    for e in present {
        let Some(f) = e.facts.as_object() else {
            continue;
        };
        for (k, v) in f {
            match (out.get_mut(k), v) {
                (None, v) => {
                    out.insert(k.clone(), v.clone());
                }
                (Some(Value::Array(a)), Value::Array(b)) => a.extend(b.iter().cloned()),
                (Some(Value::Number(a)), Value::Number(b)) => {
                    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
                        *a = (x + y).into();
                    }
                }
                (Some(Value::Object(a)), Value::Object(b)) => {
                    for (rk, rv) in b {
                        let sum = a.get(rk).and_then(Value::as_u64).unwrap_or(0)
                            + rv.as_u64().unwrap_or(0);
                        if rv.is_u64() {
                            a.insert(rk.clone(), sum.into());
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn deploy(i: u32, n: u32, status: Status, targets: &[(&str, &str)]) -> StepOutcome {
        let mut o = StepOutcome::new(
            "deploy",
            status,
            Duration::from_secs(1),
            format!("part {i}"),
        );
        o.shard = Some(Shard::new(i, n).unwrap());
        o.job_url = Some(format!(
            "https://gitlab.example.com/acme/app/-/jobs/{}",
            100 + i
        ));
        let t: Vec<Value> = targets
            .iter()
            .map(|(n, s)| json!({ "name": n, "status": s }))
            .collect();
        let bad = targets.iter().filter(|t| t.1 != "ok").count();
        o.with_facts(json!({ "environment": "production", "targets": t, "ok": targets.len() - bad, "failed": bad }))
    }

    #[test]
    fn every_shard_in_one_entry_with_clients_and_counts() {
        let dir = tempfile::tempdir().unwrap();
        let s = RunSummary {
            steps: vec![
                StepOutcome::new("build", Status::Success, Duration::ZERO, "pushed"),
                deploy(2, 2, Status::Success, &[("b", "ok"), ("d", "ok")]),
                deploy(1, 2, Status::Failed, &[("a", "ok"), ("c", "failed")]),
            ],
        };
        let g = gather(s, &[], dir.path());
        assert_eq!(g.steps.len(), 2);
        let d = &g.steps[1];
        assert_eq!(d.status, Status::Failed);
        assert_eq!(d.shard, None);
        assert_eq!(d.facts["targets"].as_array().unwrap().len(), 4);
        assert_eq!(d.facts["ok"], 3);
        assert_eq!(d.facts["failed"], 1);
        assert_eq!(
            d.job_url.as_deref(),
            Some("https://gitlab.example.com/acme/app/-/jobs/101")
        );
        assert!(d.headline.contains("shard 1/2: part 1"), "{}", d.headline);
        let mut names: Vec<String> = crate::notify::facts::clients(&g)
            .into_iter()
            .map(|c| c.name)
            .collect();
        names.sort();
        assert_eq!(names, ["a", "b", "c", "d"]);
    }

    #[test]
    fn a_missing_shard_fails_the_step_and_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let s = RunSummary {
            steps: vec![
                deploy(1, 3, Status::Success, &[("a", "ok")]),
                deploy(3, 3, Status::Success, &[("c", "ok")]),
            ],
        };
        let g = gather(s, &[], dir.path());
        let d = &g.steps[0];
        assert_eq!(d.status, Status::Failed);
        assert!(
            d.headline.contains("shard 2/3 of 3 left no report"),
            "{}",
            d.headline
        );
        assert_eq!(d.facts["missing_shards"], json!(["2/3"]));
        // Every shard of a step missing: only --shards can tell.
        let g = gather(
            RunSummary::default(),
            &["scan=2".parse().unwrap()],
            dir.path(),
        );
        assert_eq!(g.steps.len(), 1);
        assert_eq!(g.steps[0].status, Status::Failed);
        assert!(
            g.steps[0].headline.contains("shards 1/2, 2/2 of 2"),
            "{}",
            g.steps[0].headline
        );
        // All present and passing: success.
        let s = RunSummary {
            steps: vec![
                deploy(1, 2, Status::Success, &[("a", "ok")]),
                deploy(2, 2, Status::Success, &[("b", "ok")]),
            ],
        };
        let g = gather(s, &["deploy=2".parse().unwrap()], dir.path());
        assert_eq!(g.steps[0].status, Status::Success);
        assert_eq!(g.steps[0].job_url, None);
    }

    #[test]
    fn a_deploy_report_without_a_summary_entry_shows_its_clients_and_fails() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".stevedore")).unwrap();
        std::fs::write(
            dir.path().join(".stevedore/deploy-report-2-of-2.json"),
            r#"{"environment":"production","image":"r/app@sha256:ab","digest":"sha256:ab","version":"1.0.0","targets":[{"name":"b","status":"ok"}]}"#,
        )
        .unwrap();
        let s = RunSummary {
            steps: vec![deploy(1, 2, Status::Success, &[("a", "ok")])],
        };
        let g = gather(s, &[], dir.path());
        assert_eq!(g.steps[0].status, Status::Failed);
        assert_eq!(g.steps[0].facts["targets"].as_array().unwrap().len(), 2);
        assert!(
            g.steps[0].headline.contains("stopped before recording"),
            "{}",
            g.steps[0].headline
        );
    }

    #[test]
    fn expected_parses() {
        assert_eq!(
            "deploy=4".parse::<Expected>(),
            Ok(Expected {
                step: "deploy".into(),
                total: 4
            })
        );
        assert!("deploy".parse::<Expected>().is_err());
        assert!("deploy=0".parse::<Expected>().is_err());
    }
}
