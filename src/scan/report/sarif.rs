//! The `sarif` report: SARIF 2.1.0, one run, the rules that fired as `tool.driver.rules`.

use super::Report;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Renders the report.
pub fn render(r: &Report) -> String {
    let mut rules: BTreeMap<&str, &str> = BTreeMap::new();
    for f in r.findings {
        rules.insert(&f.finding.rule_id, &f.finding.description);
    }
    let rule_index: BTreeMap<&str, usize> =
        rules.keys().enumerate().map(|(i, k)| (*k, i)).collect();
    let results: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let mut partial = serde_json::Map::new();
            partial.insert("stevedore/v1".into(), json!(f.fingerprint));
            if let Some(c) = f.commit.as_deref() {
                partial.insert("commitSha".into(), json!(c.sha));
                partial.insert("author".into(), json!(c.author));
                partial.insert("email".into(), json!(c.email));
                partial.insert("date".into(), json!(c.date));
                partial.insert("commitMessage".into(), json!(c.message));
            }
            if let Some(w) = f.image.as_deref() {
                partial.insert("image".into(), json!(w.image));
                if let Some((n, d)) = w.layer() {
                    partial.insert("imageLayer".into(), json!(format!("{n} {d}")));
                }
            }
            json!({
                "ruleId": f.finding.rule_id,
                "ruleIndex": rule_index[f.finding.rule_id.as_str()],
                "level": if f.finding.tags.iter().any(|t| t == crate::scan::rules::SEVERITY_LOW) { "note" } else { "error" },
                "message": { "text": format!("{} has detected secret for file {}.", f.finding.rule_id, f.place()) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": f.file },
                        "region": {
                            "startLine": f.finding.start_line,
                            "startColumn": f.finding.start_column.max(1),
                            "endLine": f.finding.end_line,
                            "endColumn": f.finding.end_column.max(1),
                            "snippet": { "text": r.matched(f) }
                        }
                    }
                }],
                "partialFingerprints": partial,
            })
        })
        .collect();
    let rules: Vec<Value> = rules
        .iter()
        .map(|(id, d)| json!({ "id": id, "name": id, "shortDescription": { "text": d } }))
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "stevedore",
                "semanticVersion": super::version(),
                "informationUri": "https://gitlab.com/stevedore/stevedore",
                "rules": rules,
            }},
            "results": results,
        }]
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
