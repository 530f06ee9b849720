//! The `junit` report: one test suite, one failed test case per finding (the finding, redacted, as the
//! failure text), so CI test views list leaks.

use super::Report;

/// Escapes text for XML attributes and text nodes (and drops characters XML 1.0 forbids).
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Renders the report.
pub fn render(r: &Report) -> String {
    let n = r.findings.len();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites tests=\"{n}\" failures=\"{n}\">\n  <testsuite name=\"stevedore scan\" tests=\"{n}\" failures=\"{n}\" timestamp=\"{}\">\n",
        r.started.format("%Y-%m-%dT%H:%M:%S")
    ));
    for f in r.findings {
        let name = format!(
            "{} has a {} at line {}",
            f.place(),
            f.finding.rule_id,
            f.finding.start_line
        );
        let body = serde_json::to_string_pretty(&super::json::finding(r, f)).unwrap_or_default();
        out.push_str(&format!(
            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>\n",
            xml_escape(&f.finding.description),
            xml_escape(&name),
            xml_escape(&f.file),
            xml_escape(&format!("{}: {}", f.finding.rule_id, f.fingerprint)),
            xml_escape(&f.finding.rule_id),
            xml_escape(&body),
        ));
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
