//! The `csv` report: gitleaks' columns, RFC 4180 quoting.

use super::Report;

/// The header row (gitleaks' column order).
pub const HEADER: &[&str] = &[
    "RuleID",
    "Commit",
    "File",
    "SymlinkFile",
    "Secret",
    "Match",
    "StartLine",
    "EndLine",
    "StartColumn",
    "EndColumn",
    "Author",
    "Message",
    "Date",
    "Email",
    "Fingerprint",
    "Tags",
];

fn cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Renders the report.
pub fn render(r: &Report) -> String {
    let mut out = HEADER.join(",");
    out.push('\n');
    for f in r.findings {
        let c = f.commit.as_deref();
        let get = |g: fn(&crate::scan::found::CommitInfo) -> &str| c.map(g).unwrap_or("");
        let row = [
            f.finding.rule_id.clone(),
            get(|c| &c.sha).to_string(),
            f.place(),
            String::new(),
            r.secret(f),
            r.matched(f),
            f.finding.start_line.to_string(),
            f.finding.end_line.to_string(),
            f.finding.start_column.to_string(),
            f.finding.end_column.to_string(),
            get(|c| &c.author).to_string(),
            get(|c| &c.message).to_string(),
            get(|c| &c.date).to_string(),
            get(|c| &c.email).to_string(),
            f.fingerprint.clone(),
            f.finding.tags.join(" "),
        ];
        out.push_str(&row.iter().map(|s| cell(s)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}
