//! The `gitlab` report: GitLab's secret-detection report format, schema version 15.2.1, so findings show in
//! merge requests and the vulnerability report. The vulnerability `id` is derived from the stable
//! fingerprint and the commit, so the same finding keeps its id between pipelines; a second occurrence of the
//! same secret in the same file and commit (the fingerprint leaves the line out) gets an id of its own, as
//! GitLab keys vulnerabilities by id.

use super::Report;
use crate::scan::fingerprint::uuid_of;
use serde_json::{Value, json};

/// The schema version the report follows.
pub const SCHEMA_VERSION: &str = "15.2.1";

/// Renders the report.
pub fn render(r: &Report) -> String {
    let tool = json!({
        "id": "stevedore",
        "name": "stevedore",
        "version": super::version(),
        "vendor": { "name": "stevedore" },
    });
    let mut seen = std::collections::HashMap::<String, usize>::new();
    let vulns: Vec<Value> = r
        .findings
        .iter()
        .map(|f| {
            let mut v = vulnerability(r, f);
            let id = v["id"].as_str().unwrap_or_default().to_string();
            let n = seen.entry(id.clone()).or_insert(0);
            if *n > 0 {
                v["id"] = json!(uuid_of(&format!("{id}\0{n}")));
            }
            *n += 1;
            v
        })
        .collect();
    let fmt = "%Y-%m-%dT%H:%M:%S";
    let doc = json!({
        "version": SCHEMA_VERSION,
        "schema": "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/v15.2.1/dist/secret-detection-report-format.json",
        "vulnerabilities": vulns,
        "scan": {
            "analyzer": tool,
            "scanner": tool,
            "type": "secret_detection",
            "start_time": r.started.format(fmt).to_string(),
            "end_time": r.ended.format(fmt).to_string(),
            "status": "success",
        }
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

/// One vulnerability of the report.
fn vulnerability(r: &Report, f: &crate::scan::found::Located) -> Value {
    let c = f.commit.as_deref();
    let sha = c
        .map(|c| c.sha.clone())
        .or_else(|| r.head_sha.clone())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "0000000".into());
    let mut commit = json!({ "sha": sha });
    if let Some(c) = c {
        commit["author"] = json!(format!("{} <{}>", c.author, c.email));
        commit["date"] = json!(c.date);
        commit["message"] = json!(c.message);
    }
    let name: String = f.finding.description.chars().take(255).collect();
    let fix = f.image.as_deref().map(|w| w.fix());
    json!({
        "id": uuid_of(&format!("{}\0{}", f.fingerprint, sha)),
        "category": "secret_detection",
        "name": if name.is_empty() { f.finding.rule_id.clone() } else { name },
        "description": format!(
            "{} found in {} at line {}. {}",
            if f.finding.description.is_empty() { &f.finding.rule_id } else { &f.finding.description },
            f.place(),
            f.finding.start_line,
            match fix {
                Some(fx) => format!("Fix: {fx}."),
                None => "Revoke and rotate it, then remove it from the code (and from history if it was pushed).".into(),
            }
        ),
        "severity": if f.finding.tags.iter().any(|t| t == crate::scan::rules::SEVERITY_LOW) { "Low" } else { "Critical" },
        "solution": fix.unwrap_or("Revoke and rotate the credential with its provider, then remove it from the repository; keep credentials in CI/CD variables or a secrets manager."),
        "raw_source_code_extract": r.matched(f),
        "identifiers": [{
            "type": "gitleaks_rule_id",
            "name": format!("Rule ID {}", f.finding.rule_id),
            "value": f.finding.rule_id,
        }],
        "location": {
            "file": f.place(),
            "commit": commit,
            "start_line": f.finding.start_line,
            "end_line": f.finding.end_line,
        },
        "tracking": {
            "type": "source",
            "items": [{
                "file": f.place(),
                "start_line": f.finding.start_line,
                "end_line": f.finding.end_line,
                "signatures": [{ "algorithm": "stevedore_fingerprint_v1", "value": f.fingerprint }],
            }],
        },
    })
}
