//! The detector: runs a rule set over content. (Placeholder engine, being replaced by the real one.)

use super::rule::{Allowlist, Finding, Rule};

/// A compiled rule set, shareable across threads (`&self` scanning).
pub struct Detector {
    rules: Vec<(Rule, regex::bytes::Regex)>,
    _global: Vec<Allowlist>,
}

impl Detector {
    /// Compiles `rules` with the global allowlists. A rule whose regex does not compile is an error
    /// naming the rule.
    pub fn new(rules: Vec<Rule>, global: Vec<Allowlist>) -> anyhow::Result<Detector> {
        let mut out = Vec::new();
        for r in rules {
            if let Some(re) = &r.regex {
                let compiled = regex::bytes::Regex::new(re)
                    .map_err(|e| anyhow::anyhow!("rule {}: bad regex: {e}", r.id))?;
                out.push((r, compiled));
            }
        }
        Ok(Detector { rules: out, _global: global })
    }

    /// The built-in rule set, compiled.
    pub fn builtin() -> Detector {
        Detector::new(super::rules::builtin_rules(), Vec::new()).expect("built-in rules compile")
    }

    /// Scans one piece of content found at `path` (and, for history, in `commit`).
    pub fn scan(&self, path: &str, commit: Option<&str>, content: &[u8]) -> Vec<Finding> {
        let _ = (path, commit);
        let mut found = Vec::new();
        for (rule, re) in &self.rules {
            for m in re.find_iter(content) {
                let s = String::from_utf8_lossy(m.as_bytes()).into_owned();
                let line = content[..m.start()].iter().filter(|b| **b == b'\n').count() + 1;
                found.push(Finding {
                    rule_id: rule.id.clone(),
                    description: rule.description.clone(),
                    start_line: line,
                    end_line: line,
                    start_column: 1,
                    end_column: 1,
                    secret: s.clone(),
                    matched: s,
                    entropy: 0.0,
                    tags: rule.tags.clone(),
                });
            }
        }
        found
    }
}
