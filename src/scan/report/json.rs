//! The `json` report: an array of findings with gitleaks' field names, so tools that read gitleaks'
//! reports keep working. `Fingerprint` is our stable fingerprint.

use super::Report;
use serde_json::{Value, json};

/// One finding as a gitleaks-shaped JSON object.
pub fn finding(r: &Report, f: &crate::scan::found::Located) -> Value {
    let c = f.commit.as_deref();
    let mut v = json!({
        "RuleID": f.finding.rule_id,
        "Description": f.finding.description,
        "File": f.file,
        "SymlinkFile": "",
        "StartLine": f.finding.start_line,
        "EndLine": f.finding.end_line,
        "StartColumn": f.finding.start_column,
        "EndColumn": f.finding.end_column,
        "Commit": c.map(|c| c.sha.as_str()).unwrap_or(""),
        "Author": c.map(|c| c.author.as_str()).unwrap_or(""),
        "Email": c.map(|c| c.email.as_str()).unwrap_or(""),
        "Date": c.map(|c| c.date.as_str()).unwrap_or(""),
        "Message": c.map(|c| c.message.as_str()).unwrap_or(""),
        "Fingerprint": f.fingerprint,
        "Secret": r.secret(f),
        "Match": r.matched(f),
        "Entropy": (f.finding.entropy * 1e4).round() / 1e4,
        "Tags": f.finding.tags,
    });
    if let Some(w) = f.image.as_deref() {
        v["Image"] = json!(w.image);
        v["Location"] = json!(f.place());
        v["Fix"] = json!(w.fix());
        if let Some((n, d)) = w.layer() {
            v["Layer"] = json!(n);
            v["LayerDigest"] = json!(d);
        }
    }
    v
}

/// Renders the report.
pub fn render(r: &Report) -> String {
    let arr: Vec<Value> = r.findings.iter().map(|f| finding(r, f)).collect();
    let mut s = serde_json::to_string_pretty(&arr).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}
