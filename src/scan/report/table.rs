//! The human table of findings printed on stdout.

use super::Report;

/// The table's lines: rule, location, commit (short), secret as shown, fingerprint.
pub fn lines(r: &Report) -> Vec<String> {
    let rows: Vec<Vec<String>> = r
        .findings
        .iter()
        .map(|f| {
            let commit = f
                .commit
                .as_deref()
                .map(|c| format!("{} {}", &c.sha[..c.sha.len().min(8)], c.author))
                .unwrap_or_else(|| {
                    if f.image.is_some() {
                        "(image)"
                    } else if f.staged {
                        "(staged)"
                    } else {
                        "(working tree)"
                    }
                    .into()
                });
            vec![
                f.finding.rule_id.clone(),
                format!("{}:{}", f.place(), f.finding.start_line),
                commit,
                r.secret(f),
                f.fingerprint.clone(),
            ]
        })
        .collect();
    crate::output::format_table(
        &["RULE", "LOCATION", "COMMIT", "SECRET", "FINGERPRINT"],
        &rows,
    )
}

/// `-v`: each finding's location and context line, the secret masked as in the table.
pub fn context_lines(r: &Report) -> Vec<String> {
    r.findings
        .iter()
        .map(|f| {
            let staged = if f.staged { " (staged)" } else { "" };
            format!(
                "{}:{}{staged} [{}]: {}",
                f.place(),
                f.finding.start_line,
                f.finding.rule_id,
                r.line(f).trim()
            )
        })
        .collect()
}
