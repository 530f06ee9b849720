//! Scan reports: `gitlab` (GitLab's secret-detection schema 15.2.1), `sarif` (2.1.0), `json` and `csv`
//! (gitleaks' field names and columns), `junit` (XML), and the human table printed on stdout.
//!
//! Secrets are redacted in every report unless redaction was turned off (outside CI only): the secret
//! becomes `REDACTED`, and so does every occurrence of it in the match.

mod csv;
mod gitlab;
mod json;
mod junit;
mod sarif;
pub mod table;

use super::found::Located;
pub use super::settings::ReportFormat;
use crate::exit::{CodeExt, ExitCode};
use anyhow::Context;
use std::path::Path;

/// What replaces a secret in reports.
pub const REDACTED: &str = "REDACTED";

/// Everything a report needs.
pub struct Report<'a> {
    /// The findings that remain after suppression.
    pub findings: &'a [Located],
    /// How much of each secret is hidden.
    pub redact: super::settings::Redact,
    /// When the scan started and ended (UTC).
    pub started: chrono::DateTime<chrono::Utc>,
    /// When the scan ended (UTC).
    pub ended: chrono::DateTime<chrono::Utc>,
    /// The commit checked out, for working-tree findings in formats that want one (GitLab).
    pub head_sha: Option<String>,
}

impl Report<'_> {
    /// The secret as reports show it.
    pub fn secret(&self, f: &Located) -> String {
        self.redact.mask(&f.finding.secret)
    }

    /// The whole match as reports show it.
    pub fn matched(&self, f: &Located) -> String {
        self.shown(f, &f.finding.matched)
    }

    /// The finding's context line as reports and `-v` show it.
    pub fn line(&self, f: &Located) -> String {
        self.shown(f, &f.line)
    }

    /// `text` with the finding's secret masked (and, when redacting, every registered secret).
    fn shown(&self, f: &Located, text: &str) -> String {
        if !self.redact.is_on() {
            return text.to_string();
        }
        let t = if f.finding.secret.is_empty() {
            text.to_string()
        } else {
            text.replace(&f.finding.secret, &self.secret(f))
        };
        if self.redact.0 >= 100 {
            crate::redact::redact(&t)
        } else {
            t
        }
    }

    /// Renders the report in `format`.
    pub fn render(&self, format: ReportFormat) -> String {
        match format {
            ReportFormat::Gitlab => gitlab::render(self),
            ReportFormat::Sarif => sarif::render(self),
            ReportFormat::Json => json::render(self),
            ReportFormat::Csv => csv::render(self),
            ReportFormat::Junit => junit::render(self),
        }
    }

    /// Writes the report to `path` (parent directories created); `-` is stdout.
    pub fn write(&self, format: ReportFormat, path: &Path) -> anyhow::Result<()> {
        let text = self.render(format);
        if path == Path::new("-") {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            return out
                .write_all(text.as_bytes())
                .and_then(|_| out.flush())
                .context("cannot write the report to stdout")
                .code(ExitCode::Outside);
        }
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            let made = if dir.file_name() == Some(std::ffi::OsStr::new(crate::summary::DIR)) {
                // stevedore's output directory gets its `.gitignore`.
                crate::summary::output_dir(dir.parent().unwrap_or(Path::new("."))).map(|_| ())
            } else {
                std::fs::create_dir_all(dir)
            };
            made.with_context(|| format!("cannot create the report directory {}", dir.display()))
                .code(ExitCode::Usage)?;
        }
        std::fs::write(path, text)
            .with_context(|| {
                format!(
                    "cannot write the report to {}: check --report-path and its permissions",
                    path.display()
                )
            })
            .code(ExitCode::Usage)
    }
}

/// The header line of the CSV report.
pub fn csv_header() -> String {
    csv::HEADER.join(",")
}

/// The version stevedore reports as scanner version.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
