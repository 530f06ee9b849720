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

/// The ignore file names looked for in the scanned directory, the project directory and the top of the
/// repository.
pub const IGNORE_FILES: &[&str] = &[".gitleaksignore", ".stevedoreignore"];

/// stevedore's own directory in a project (summary, reports): never scanned.
pub const OWN_DIR: &str = ".stevedore";

/// File names stevedore writes (or wrote, before [`OWN_DIR`]) in a project: the run summary, the deploy
/// report and the default report of each format. Never findings, wherever they sit.
pub const OWN_NAMES: &[&str] = &[
    "stevedore-summary.json",
    "deploy-report.json",
    "gl-secret-detection-report.json",
    "stevedore-scan.sarif",
    "stevedore-scan.json",
    "stevedore-scan.csv",
    "stevedore-scan.xml",
];

/// gitleaks' catch-all rule: its line entries stand for whatever rule of ours found that line.
const GENERIC: &str = "generic-api-key";

/// stevedore's own files, which a scan never reads: anything under [`OWN_DIR`], the ignore files, the
/// names in [`OWN_NAMES`] (and deploy report shards), and the paths given (the configured baseline and
/// report), all relative to the repository like findings' paths.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnFiles {
    /// Extra paths, `/`-separated, as findings name files.
    pub paths: HashSet<String>,
}

impl OwnFiles {
    /// True when `rel` (a finding's path) is one of stevedore's own files.
    pub fn contains(&self, rel: &str) -> bool {
        let name = rel.rsplit('/').next().unwrap_or(rel);
        rel.split('/').any(|c| c == OWN_DIR)
            || IGNORE_FILES.contains(&name)
            || OWN_NAMES.contains(&name)
            || is_deploy_shard(name)
            || self.paths.contains(rel)
    }
}

/// `deploy-report-I-of-N.json`.
fn is_deploy_shard(name: &str) -> bool {
    name.strip_prefix("deploy-report-")
        .and_then(|s| s.strip_suffix(".json"))
        .and_then(|s| s.split_once("-of-"))
        .is_some_and(|(i, n)| {
            !i.is_empty()
                && !n.is_empty()
                && i.bytes().all(|b| b.is_ascii_digit())
                && n.bytes().all(|b| b.is_ascii_digit())
        })
}

/// Known findings, from ignore files or a baseline, in every form they come in.
#[derive(Debug, Default)]
struct Known {
    /// Our stable fingerprints (`file:rule-id:h<16 hex>`).
    stable: HashSet<String>,
    /// Line entries (`[commit:]file:rule-id:line`, gitleaks' fingerprint) with the rule id mapped onto
    /// ours: (commit or "", file, rule, line).
    lines: HashSet<(String, String, String, usize)>,
    /// The same without the rule: (commit or "", file, line), and which of them came from gitleaks'
    /// generic rule.
    places: HashSet<(String, String, usize)>,
    generic_places: HashSet<(String, String, usize)>,
    /// (file, secret) pairs from a gitleaks report that kept its secrets, hashed.
    secrets: HashSet<String>,
}

impl Known {
    /// Adds one entry: a stable fingerprint or a line fingerprint (ours or gitleaks').
    fn add_entry(&mut self, entry: &str) {
        let e = entry.trim();
        if is_stable(e) {
            self.stable.insert(e.to_string());
            return;
        }
        let mut parts: Vec<&str> = e.rsplitn(3, ':').collect();
        parts.reverse();
        let [head, rule, line] = parts[..] else {
            self.stable.insert(e.to_string());
            return;
        };
        let Ok(line) = line.parse::<usize>() else {
            self.stable.insert(e.to_string());
            return;
        };
        let (commit, file) = match head.split_once(':') {
            Some((c, f)) if is_sha(c) => (c, f),
            _ => ("", head),
        };
        self.add_line(commit, file, rule, line);
    }

    /// Adds a line entry, mapping a gitleaks rule id onto ours.
    fn add_line(&mut self, commit: &str, file: &str, rule: &str, line: usize) {
        let ours = super::gitleaks::our_rule_id(rule);
        let place = (commit.to_string(), file.to_string(), line);
        if rule == GENERIC {
            self.generic_places.insert(place.clone());
        }
        self.places.insert(place);
        self.lines
            .insert((commit.to_string(), file.to_string(), ours.to_string(), line));
    }

    /// True when `f` is known.
    fn matches(&self, f: &Located) -> bool {
        if self.stable.contains(&f.fingerprint) {
            return true;
        }
        let (file, rule, line) = (&f.file, &f.finding.rule_id, f.finding.start_line);
        let commits = [f.commit_sha(), ""];
        let at = |set: &HashSet<(String, String, usize)>| {
            commits
                .iter()
                .any(|c| set.contains(&(c.to_string(), file.clone(), line)))
        };
        commits.iter().any(|c| {
            self.lines
                .contains(&(c.to_string(), file.clone(), rule.clone(), line))
        }) || at(&self.generic_places)
            || (rule == GENERIC && at(&self.places))
            || (!self.secrets.is_empty()
                && self.secrets.contains(&secret_key(file, &f.finding.secret)))
    }
}

/// True for our stable form: `…:h` + 16 lower-case hex digits.
fn is_stable(e: &str) -> bool {
    e.rsplit(':').next().is_some_and(|h| {
        h.len() == 17 && h.starts_with('h') && h[1..].bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// True for a full commit SHA (SHA-1 or SHA-256, hex).
fn is_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A one-way key for a (file, secret) pair.
fn secret_key(file: &str, secret: &str) -> String {
    super::fingerprint::stable("", file, secret)
}

/// Fingerprints that suppress findings.
#[derive(Debug, Default)]
pub struct Suppressions {
    ignored: Known,
    baseline: Known,
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
        for p in ignore_files_in(dir) {
            self.load_ignore_file(&p)?;
        }
        Ok(())
    }

    /// Reads one ignore file.
    pub fn load_ignore_file(&mut self, p: &Path) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(p).map_err(|e| {
            coded(
                ExitCode::Usage,
                format!("cannot read ignore file {}: {e}", p.display()),
            )
        })?;
        self.add_ignore_text(&text);
        self.files.push(p.to_path_buf());
        Ok(())
    }

    /// Adds the entries of an ignore file's text: our stable fingerprints and gitleaks'
    /// `[commit:]file:rule-id:line` (gitleaks' rule ids mapped onto ours).
    pub fn add_ignore_text(&mut self, text: &str) {
        for line in text.lines() {
            let l = line.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            self.ignored.add_entry(l);
        }
    }

    /// Reads a baseline: a previous report (json — ours or gitleaks' —, gitlab or sarif).
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
            for fp in &fps {
                self.baseline.add_entry(fp);
            }
            return Ok(fps.len());
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
        for e in &entries {
            self.add_baseline_entry(e);
        }
        Ok(entries.len())
    }

    /// One entry of a json report: its fingerprint, its place (gitleaks' rule id mapped) and, when
    /// the report kept it, its secret.
    fn add_baseline_entry(&mut self, e: &BaselineEntry) {
        if !e.fingerprint.is_empty() {
            self.baseline.add_entry(&e.fingerprint);
        }
        if !e.file.is_empty() && !e.rule_id.is_empty() {
            self.baseline
                .add_line(&e.commit, &e.file, &e.rule_id, e.start_line);
        }
        let redacted =
            e.secret.is_empty() || e.secret == super::report::REDACTED || e.secret.ends_with("...");
        if !e.file.is_empty() && !redacted {
            self.baseline.secrets.insert(secret_key(&e.file, &e.secret));
        }
    }

    /// Why `f` is suppressed, if it is.
    pub fn check(&self, f: &Located) -> Option<Reason> {
        if self.ignored.matches(f) {
            return Some(Reason::Ignored);
        }
        if self.baseline.matches(f) {
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

/// The ignore files present in `dir`.
pub fn ignore_files_in(dir: &Path) -> Vec<PathBuf> {
    IGNORE_FILES
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect()
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
    #[serde(rename = "Secret")]
    secret: String,
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

    fn finding_of(rule: &str, file: &str, line: usize) -> Located {
        let mut f = finding(line);
        f.finding.rule_id = rule.into();
        Located::new(f.finding, file.into(), None)
    }

    #[test]
    fn every_gitleaks_rule_id_maps_onto_a_builtin_rule_in_ignore_files_and_baselines() {
        let ours: HashSet<String> = crate::scan::rules::builtin_rules()
            .into_iter()
            .map(|r| r.id)
            .collect();
        let dir = tempfile::tempdir().unwrap();
        for (gitleaks, mine) in crate::scan::gitleaks::RULE_IDS {
            assert!(
                ours.contains(*mine),
                "{gitleaks} maps onto {mine}, not a built-in rule"
            );
            assert!(!ours.contains(*gitleaks), "{gitleaks} needs no mapping");
            let f = finding_of(mine, "config/app.php", 7);
            let mut s = Suppressions::default();
            s.add_ignore_text(&format!("config/app.php:{gitleaks}:7\n"));
            assert_eq!(s.check(&f), Some(Reason::Ignored), "{gitleaks}");
            assert_eq!(s.check(&finding_of(mine, "config/app.php", 8)), None);
            let sha = "0123456789abcdef0123456789abcdef01234567";
            let mut s = Suppressions::default();
            s.add_ignore_text(&format!("{sha}:config/app.php:{gitleaks}:7\n"));
            let commit = std::sync::Arc::new(crate::scan::found::CommitInfo {
                sha: sha.into(),
                ..Default::default()
            });
            let h = Located::new(f.finding.clone(), f.file.clone(), Some(commit));
            assert_eq!(s.check(&h), Some(Reason::Ignored), "{gitleaks} in history");
            assert_eq!(s.check(&f), None, "a commit entry is about that commit");
            let p = dir.path().join("gitleaks.json");
            std::fs::write(
                &p,
                format!(r#"[{{"RuleID":"{gitleaks}","File":"config/app.php","StartLine":7,"Secret":"REDACTED","Fingerprint":"config/app.php:{gitleaks}:7"}}]"#),
            )
            .unwrap();
            let mut s = Suppressions::default();
            s.load_baseline(&p).unwrap();
            assert_eq!(s.check(&f), Some(Reason::Baseline), "{gitleaks} baseline");
        }
    }

    #[test]
    fn gitleaks_generic_entries_stand_for_any_rule_on_their_line() {
        let mut s = Suppressions::default();
        s.add_ignore_text(".env:generic-api-key:3\napp.py:trello-access-token:9\n");
        assert_eq!(
            s.check(&finding_of("laravel-app-key", ".env", 3)),
            Some(Reason::Ignored)
        );
        assert_eq!(s.check(&finding_of("laravel-app-key", ".env", 4)), None);
        // Our generic rule finding what gitleaks named with a rule we do not have.
        assert_eq!(
            s.check(&finding_of("generic-api-key", "app.py", 9)),
            Some(Reason::Ignored)
        );
        assert_eq!(s.check(&finding_of("aws-access-key-id", "app.py", 9)), None);
    }

    #[test]
    fn an_unredacted_gitleaks_report_matches_on_the_secret_wherever_it_moved() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.json");
        std::fs::write(
            &p,
            r#"[{"RuleID":"generic-api-key","File":"a.txt","StartLine":1,"Secret":"s3cr3t-value","Fingerprint":"a.txt:generic-api-key:1"}]"#,
        )
        .unwrap();
        let mut s = Suppressions::default();
        s.load_baseline(&p).unwrap();
        assert_eq!(s.check(&finding(30)), Some(Reason::Baseline));
        let mut other = finding(30);
        other.file = "b.txt".into();
        assert_eq!(s.check(&other), None);
    }

    #[test]
    fn own_files() {
        let own = OwnFiles::default();
        for p in [
            ".gitleaksignore",
            "sub/.stevedoreignore",
            ".stevedore/summary.json",
            "stevedore-summary.json",
            "deploy-report.json",
            "deploy-report-2-of-3.json",
            "gl-secret-detection-report.json",
            "out/stevedore-scan.sarif",
        ] {
            assert!(own.contains(p), "{p}");
        }
        for p in [
            "config/services.php",
            "deploy-report-x.json",
            "summary.json",
            ".env",
        ] {
            assert!(!own.contains(p), "{p}");
        }
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
