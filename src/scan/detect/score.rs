//! Scoring the detector on a labelled corpus (JSON lines), shared by the `score_corpus` example and
//! the corpus test.

use super::Detector;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The outcome of scoring a corpus.
#[derive(Debug, Default)]
pub struct Score {
    /// True-positive samples.
    pub tp: usize,
    /// True-positive samples with at least one finding.
    pub tp_hit: usize,
    /// False-positive samples.
    pub fp: usize,
    /// False-positive samples with at least one finding.
    pub fp_hit: usize,
    /// Missed tp samples per the sample's rule id.
    pub missed_by_rule: BTreeMap<String, usize>,
    /// Flagged fp samples per the rule that flagged them.
    pub fp_by_rule: BTreeMap<String, usize>,
    /// Descriptions of missed tp samples.
    pub missed: Vec<String>,
    /// Descriptions of flagged fp samples.
    pub flagged: Vec<String>,
    /// Flagged fp samples whose text is also, verbatim, a tp sample (of another rule): no scanner can
    /// both report and not report them.
    pub fp_hit_contradictory: usize,
    /// fp samples whose text is also a tp sample.
    pub fp_contradictory: usize,
    /// Time spent scanning.
    pub elapsed: Duration,
}

impl Score {
    /// Share of tp samples reported.
    pub fn recall(&self) -> f64 {
        self.tp_hit as f64 / self.tp.max(1) as f64
    }
    /// Share of fp samples flagged.
    pub fn fp_rate(&self) -> f64 {
        self.fp_hit as f64 / self.fp.max(1) as f64
    }
    /// Share of fp samples flagged, leaving out those whose text is also a tp sample.
    pub fn fp_rate_consistent(&self) -> f64 {
        (self.fp_hit - self.fp_hit_contradictory) as f64
            / (self.fp - self.fp_contradictory).max(1) as f64
    }
}

#[derive(serde::Deserialize)]
struct Case {
    #[serde(default)]
    rule_id: String,
    kind: String,
    text: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default = "yes")]
    in_default_config: bool,
}

fn yes() -> bool {
    true
}

/// Scores `detector` on the JSON-lines corpus `jsonl`, leaving out samples not in the default config.
/// Each sample is scanned alone, at its `path` (or `sample.txt`).
pub fn score_cases(detector: &Detector, jsonl: &str) -> anyhow::Result<Score> {
    let mut s = Score::default();
    let mut tp_texts = std::collections::HashSet::new();
    for line in jsonl.lines() {
        if let Ok(c) = serde_json::from_str::<Case>(line)
            && c.kind == "tp"
            && c.in_default_config
        {
            tp_texts.insert(c.text);
        }
    }
    for (i, line) in jsonl.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: Case = serde_json::from_str(line)
            .map_err(|e| anyhow::anyhow!("corpus line {}: not a sample: {e}", i + 1))?;
        if !case.in_default_config {
            continue;
        }
        let path = case.path.as_deref().unwrap_or("sample.txt");
        let t = Instant::now();
        let findings = detector.scan(path, None, case.text.as_bytes());
        s.elapsed += t.elapsed();
        let short: String = case.text.chars().take(160).collect();
        match case.kind.as_str() {
            "tp" => {
                s.tp += 1;
                if findings.is_empty() {
                    *s.missed_by_rule.entry(case.rule_id.clone()).or_default() += 1;
                    s.missed.push(format!("{} {path} {short:?}", case.rule_id));
                } else {
                    s.tp_hit += 1;
                }
            }
            "fp" => {
                s.fp += 1;
                let contradictory = tp_texts.contains(&case.text);
                s.fp_contradictory += contradictory as usize;
                if !findings.is_empty() {
                    s.fp_hit += 1;
                    s.fp_hit_contradictory += contradictory as usize;
                    let rules: Vec<&str> = findings.iter().map(|f| f.rule_id.as_str()).collect();
                    for r in &rules {
                        *s.fp_by_rule.entry(r.to_string()).or_default() += 1;
                    }
                    s.flagged.push(format!(
                        "{} [{}] {path} {short:?}",
                        case.rule_id,
                        rules.join(",")
                    ));
                }
            }
            other => anyhow::bail!("corpus line {}: kind {other:?} is neither tp nor fp", i + 1),
        }
    }
    Ok(s)
}
