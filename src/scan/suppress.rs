//! Suppression after detection: the fingerprint ignore files (`.gitleaksignore`, `.stevedoreignore`) and
//! the baseline (a previous report: `json` — ours or gitleaks' —, `gitlab` or `sarif`). Inline `gitleaks:allow` / `stevedore:allow` comments and
//! allowlists are handled by the detector.
//!
//! An ignore file holds one fingerprint a line (`#` comments and blank lines skipped): our stable form
//! `file:rule-id:h<16 hex>` (see [`super::fingerprint`]), or gitleaks' `file:rule-id:line` /
//! `commit:file:rule-id:line`.

use super::found::Located;
use crate::exit::{ExitCode, coded};
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The ignore file names looked for in the scanned directory.
pub const IGNORE_FILES: &[&str] = &[".gitleaksignore", ".stevedoreignore"];

/// Fingerprints that suppress findings.
#[derive(Debug, Default)]
pub struct Suppressions {
    ignored: HashSet<String>,
    baseline: HashSet<String>,
    /// Ignore files read.
    pub files: Vec<PathBuf>,
}

/// Why a finding was suppressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Listed in an ignore file.
    Ignored,
    /// Present in the baseline.
    Baseline,
}

impl Suppressions {
    /// Reads the ignore files present in `dir`.
    pub fn load_ignore_files(&mut self, dir: &Path) -> anyhow::Result<()> {
        for name in IGNORE_FILES {
            let p = dir.join(name);
            if !p.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&p).map_err(|e| {
                coded(
                    ExitCode::Usage,
                    format!("cannot read ignore file {}: {e}", p.display()),
                )
            })?;
            self.add_ignore_text(&text);
            self.files.push(p);
        }
        Ok(())
    }

    /// Adds the entries of an ignore file's text.
    pub fn add_ignore_text(&mut self, text: &str) {
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            self.ignored.insert(l.to_string());
        }
    }

    /// Reads a baseline: a previous json report (ours or gitleaks').
    pub fn load_baseline(&mut self, path: &Path) -> anyhow::Result<usize> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            coded(
                ExitCode::Usage,
                format!(
                    "cannot read baseline {}: {e} — pass a report written with --report-format json",
                    path.display()
                ),
            )
        })?;
        let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
            coded(
                ExitCode::Usage,
                format!(
                    "baseline {} is not a JSON report ({e}): write one with --report-format json --report-path FILE",
                    path.display()
                ),
            )
        })?;
        if doc.is_object() {
            // A gitlab or sarif report of ours: take the stable fingerprints it carries.
            let fps = report_fingerprints(&doc);
            if fps.is_empty() && doc.get("vulnerabilities").is_none() && doc.get("runs").is_none() {
                return Err(coded(
                    ExitCode::Usage,
                    format!(
                        "baseline {} is neither a json, gitlab nor sarif scan report: write one with --report-format json",
                        path.display()
                    ),
                ));
            }
            let n = fps.len();
            self.baseline.extend(fps);
            return Ok(n);
        }
        let entries: Vec<BaselineEntry> = serde_json::from_value(doc).map_err(|e| {
            coded(
                ExitCode::Usage,
                format!(
                    "baseline {} is not a json scan report ({e}): write one with --report-format json --report-path FILE",
                    path.display()
                ),
            )
        })?;
        let n = entries.len();
        for e in entries {
            if !e.fingerprint.is_empty() {
                self.baseline.insert(e.fingerprint.clone());
            }
            // gitleaks' own reports: also the line-based form built from the fields.
            if !e.file.is_empty() && !e.rule_id.is_empty() {
                self.baseline.insert(super::fingerprint::line_based(
                    Some(&e.commit),
                    &e.file,
                    &e.rule_id,
                    e.start_line,
                ));
            }
        }
        Ok(n)
    }

    /// Why `f` is suppressed, if it is.
    pub fn check(&self, f: &Located) -> Option<Reason> {
        let line = f.line_fingerprint();
        if self.ignored.contains(&f.fingerprint) || self.ignored.contains(&line) {
            return Some(Reason::Ignored);
        }
        if self.baseline.contains(&f.fingerprint) || self.baseline.contains(&line) {
            return Some(Reason::Baseline);
        }
        None
    }

    /// Splits findings into those that remain and the counts suppressed (ignore file, baseline).
    pub fn apply(&self, findings: Vec<Located>) -> (Vec<Located>, usize, usize) {
        let (mut ign, mut base) = (0, 0);
        let kept = findings
            .into_iter()
            .filter(|f| match self.check(f) {
                Some(Reason::Ignored) => {
                    ign += 1;
                    false
                }
                Some(Reason::Baseline) => {
                    base += 1;
                    false
                }
                None => true,
            })
            .collect();
        (kept, ign, base)
    }
}

/// The stable fingerprints in a gitlab report (tracking signatures) or a sarif report (partial
/// fingerprints).
fn report_fingerprints(doc: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for v in doc["vulnerabilities"].as_array().into_iter().flatten() {
        for item in v["tracking"]["items"].as_array().into_iter().flatten() {
            for sig in item["signatures"].as_array().into_iter().flatten() {
                if let Some(s) = sig["value"].as_str() {
                    out.push(s.to_string());
                }
            }
        }
    }
    for run in doc["runs"].as_array().into_iter().flatten() {
        for r in run["results"].as_array().into_iter().flatten() {
            if let Some(s) = r["partialFingerprints"]["stevedore/v1"].as_str() {
                out.push(s.to_string());
            }
        }
    }
    out
}

/// The fields of a json report entry a baseline needs.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BaselineEntry {
    #[serde(rename = "RuleID")]
    rule_id: String,
    #[serde(rename = "File")]
    file: String,
    #[serde(rename = "Commit")]
    commit: String,
    #[serde(rename = "StartLine")]
    start_line: usize,
    #[serde(rename = "Fingerprint")]
    fingerprint: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::rule::Finding;

    fn finding(line: usize) -> Located {
        Located::new(
            Finding {
                rule_id: "r".into(),
                description: "d".into(),
                start_line: line,
                end_line: line,
                start_column: 1,
                end_column: 5,
                secret: "s3cr3t-value".into(),
                matched: "s3cr3t-value".into(),
                entropy: 3.0,
                tags: vec![],
            },
            "a.txt".into(),
            None,
        )
    }

    #[test]
    fn ignore_accepts_both_forms() {
        let mut s = Suppressions::default();
        s.add_ignore_text("# comment\n\na.txt:r:7\n");
        assert_eq!(s.check(&finding(7)), Some(Reason::Ignored));
        assert_eq!(s.check(&finding(8)), None);
        let mut s = Suppressions::default();
        s.add_ignore_text(&finding(1).fingerprint);
        assert_eq!(s.check(&finding(99)), Some(Reason::Ignored));
    }

    #[test]
    fn baseline_from_report() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.json");
        let fp = finding(3).fingerprint;
        std::fs::write(&p, format!(r#"[{{"RuleID":"r","File":"a.txt","StartLine":3,"Fingerprint":"{fp}","Commit":""}}]"#)).unwrap();
        let mut s = Suppressions::default();
        assert_eq!(s.load_baseline(&p).unwrap(), 1);
        let (kept, ign, base) = s.apply(vec![finding(40)]);
        assert!(kept.is_empty());
        assert_eq!((ign, base), (0, 1));
        std::fs::write(&p, "not json").unwrap();
        let e = Suppressions::default().load_baseline(&p).unwrap_err();
        assert_eq!(crate::exit::code_of(&e), ExitCode::Usage);
    }
}
