//! The `[scan]` table of `stevedore.toml` and the value types it shares with the command line.

use super::rule::{Allowlist, RegexTarget};
use serde::Deserialize;
use std::path::PathBuf;
use std::str::FromStr;

/// Default `max_file_size`: 10 MB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10_000_000;

/// The `[scan]` table of `stevedore.toml`. Every key is optional.
///
/// ```toml
/// [scan]
/// max_file_size = "10MB"          # larger files and blobs are skipped and counted
/// exclude = ["vendor/**", "*.min.js"]
/// disabled_rules = ["generic-api-key"]
/// gitleaks_config = "ci/gitleaks.toml"
/// report_format = "gitlab"
/// report_path = "gl-secret-detection-report.json"
/// baseline = "ci/secrets-baseline.json"
/// exit_code = 1
/// redact = true
/// history = false
/// threads = 4
///
/// [[scan.allowlists]]
/// description = "test fixtures"
/// paths = ['''^tests/fixtures/''']
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanConfig {
    /// Files and blobs larger than this are skipped (and counted in the summary): a byte count or a
    /// size such as `"10MB"`, `"512kB"`, `"1MiB"`. Default 10 MB. Flag `--max-file-size`.
    pub max_file_size: Option<ByteSize>,
    /// Glob patterns (gitignore-style, relative to the scanned directory or the repository) of paths not
    /// to scan, in the working tree and in history.
    pub exclude: Vec<GlobPattern>,
    /// Rule ids to turn off (built-in or from a gitleaks configuration).
    pub disabled_rules: Vec<String>,
    /// A gitleaks configuration file (`.gitleaks.toml` format) to take the rules from. Default: the one
    /// given with `--config`, else `.gitleaks.toml` in the scanned directory when it exists.
    pub gitleaks_config: Option<PathBuf>,
    /// Report format written to `report_path`: `gitlab`, `sarif`, `json`, `csv` or `junit`. Flag
    /// `--report-format`.
    pub report_format: Option<ReportFormat>,
    /// Where to write the report. Flag `--report-path`.
    pub report_path: Option<PathBuf>,
    /// A previous report (`json`, `gitlab` or `sarif`): findings already in it do not fail the job.
    /// Flag `--baseline`.
    pub baseline: Option<PathBuf>,
    /// Exit code when findings remain after suppression (default 1). Flag `--exit-code`.
    pub exit_code: Option<i32>,
    /// Redact secrets in reports and logs (default `true`; `false` is refused in CI). Flag `--redact`.
    pub redact: Option<bool>,
    /// Scan every commit reachable from HEAD, as `--history` does.
    pub history: bool,
    /// Worker threads (default: one per core).
    pub threads: Option<usize>,
    /// Extra allowlists applied to every rule (same keys as gitleaks' `[[allowlists]]`, in snake case).
    pub allowlists: Vec<AllowlistConfig>,
}

/// An allowlist in `[[scan.allowlists]]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllowlistConfig {
    /// Why it exists.
    pub description: String,
    /// `"OR"` (default: any criterion allows) or `"AND"` (all given criteria must match).
    pub condition: Condition,
    /// What `regexes` match: `"secret"` (default), `"match"` or `"line"`.
    pub regex_target: Target,
    /// Regular expressions that allow a finding.
    pub regexes: Vec<RegexString>,
    /// Regular expressions on the file path.
    pub paths: Vec<RegexString>,
    /// Words that, found in the secret, allow it.
    pub stopwords: Vec<String>,
    /// Commit SHAs whose findings are allowed.
    pub commits: Vec<String>,
}

impl AllowlistConfig {
    /// The detector's allowlist.
    pub fn to_allowlist(&self) -> Allowlist {
        Allowlist {
            description: self.description.clone(),
            condition_and: self.condition == Condition::And,
            regexes: self.regexes.iter().map(|r| r.0.clone()).collect(),
            regex_target: self.regex_target.0,
            paths: self.paths.iter().map(|r| r.0.clone()).collect(),
            stopwords: self.stopwords.iter().map(|s| s.to_lowercase()).collect(),
            commits: self.commits.clone(),
        }
    }
}

/// How an allowlist's criteria combine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Condition {
    /// Any one criterion allows.
    #[default]
    Or,
    /// Every given criterion must match.
    And,
}

impl FromStr for Condition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "OR" | "" => Ok(Condition::Or),
            "AND" => Ok(Condition::And),
            _ => Err(format!("condition must be \"AND\" or \"OR\", not {s:?}")),
        }
    }
}

/// What an allowlist's regexes are matched against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Target(pub RegexTarget);

impl FromStr for Target {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "secret" | "" => Ok(Target(RegexTarget::Secret)),
            "match" => Ok(Target(RegexTarget::Match)),
            "line" => Ok(Target(RegexTarget::Line)),
            _ => Err(format!(
                "regex target must be \"secret\", \"match\" or \"line\", not {s:?}"
            )),
        }
    }
}

/// A regular expression checked when the configuration is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegexString(pub String);

impl FromStr for RegexString {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let translated = super::gitleaks::translate_re2(s)?;
        regex::Regex::new(&translated)
            .map(|_| RegexString(translated))
            .map_err(|e| format!("invalid regular expression {s:?}: {e}"))
    }
}

/// A gitignore-style glob checked when the configuration is read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GlobPattern(pub String);

impl FromStr for GlobPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        globset::Glob::new(s)
            .map(|_| GlobPattern(s.to_string()))
            .map_err(|e| format!("invalid glob {s:?}: {e}"))
    }
}

/// Builds the exclude set from patterns: `dir/` and bare names also match everything below.
pub fn glob_set(patterns: &[GlobPattern]) -> anyhow::Result<globset::GlobSet> {
    let mut b = globset::GlobSetBuilder::new();
    for p in patterns {
        let pat = p.0.trim_start_matches("./").trim_end_matches('/');
        let anchored = pat.starts_with('/');
        let pat = pat.trim_start_matches('/');
        let forms = if anchored || pat.contains('/') {
            vec![pat.to_string(), format!("{pat}/**")]
        } else {
            vec![
                pat.to_string(),
                format!("**/{pat}"),
                format!("{pat}/**"),
                format!("**/{pat}/**"),
            ]
        };
        for f in forms {
            let g = globset::GlobBuilder::new(&f)
                .literal_separator(true)
                .build()
                .map_err(|e| anyhow::anyhow!("invalid exclude pattern {:?}: {e}", p.0))?;
            b.add(g);
        }
    }
    Ok(b.build()?)
}

/// A size in bytes (`10MB`, `512kB`, `1MiB`, or a plain number): the shared parser of [`crate::units`].
pub use crate::units::ByteSize;

/// The report formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// GitLab's secret-detection report (schema 15.2.1), shown in merge requests.
    Gitlab,
    /// SARIF 2.1.0.
    Sarif,
    /// gitleaks' JSON report (same field names).
    Json,
    /// gitleaks' CSV report (same columns).
    Csv,
    /// JUnit XML, one failed test case per finding.
    Junit,
}

impl ReportFormat {
    /// The default report file name for the format.
    pub fn default_path(self) -> &'static str {
        match self {
            ReportFormat::Gitlab => "gl-secret-detection-report.json",
            ReportFormat::Sarif => "stevedore-scan.sarif",
            ReportFormat::Json => "stevedore-scan.json",
            ReportFormat::Csv => "stevedore-scan.csv",
            ReportFormat::Junit => "stevedore-scan.xml",
        }
    }

    /// Guesses the format from a report path's extension (`.sarif`, `.csv`, `.xml`, `.json`).
    pub fn from_path(p: &std::path::Path) -> Option<ReportFormat> {
        let name = p.file_name()?.to_string_lossy().to_ascii_lowercase();
        if name.starts_with("gl-secret-detection") {
            return Some(ReportFormat::Gitlab);
        }
        match p
            .extension()?
            .to_string_lossy()
            .to_ascii_lowercase()
            .as_str()
        {
            "sarif" => Some(ReportFormat::Sarif),
            "csv" => Some(ReportFormat::Csv),
            "xml" => Some(ReportFormat::Junit),
            "json" => Some(ReportFormat::Json),
            _ => None,
        }
    }
}

impl FromStr for ReportFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        <ReportFormat as clap::ValueEnum>::from_str(s, true).map_err(|_| {
            format!("report format must be one of gitlab, sarif, json, csv, junit, not {s:?}")
        })
    }
}

/// Deserializes a value through its `FromStr`, so a bad value is reported by the TOML parser with file,
/// line and key.
macro_rules! de_from_str {
    ($($t:ty),*) => {$(
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    )*};
}
de_from_str!(Condition, Target, RegexString, GlobPattern, ReportFormat);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("10MB".parse::<ByteSize>().unwrap().0, 10_000_000);
        assert_eq!("1MiB".parse::<ByteSize>().unwrap().0, 1 << 20);
        assert_eq!("512".parse::<ByteSize>().unwrap().0, 512);
        assert_eq!("1.5kB".parse::<ByteSize>().unwrap().0, 1500);
        assert!("ten".parse::<ByteSize>().is_err());
        assert!("10XB".parse::<ByteSize>().is_err());
    }

    #[test]
    fn bad_values_name_line_and_key() {
        let text = "[scan]\nexit_code = 3\nmax_file_size = \"12 parsecs\"\n";
        let e =
            crate::config::Config::parse(text, std::path::Path::new("stevedore.toml")).unwrap_err();
        let msg = crate::exit::render(&e);
        assert!(msg.contains("stevedore.toml:3"), "{msg}");
        assert!(msg.contains("parsecs"), "{msg}");
        let text = "[scan]\n[[scan.allowlists]]\nregexes = ['''(unclosed''']\n";
        let e = crate::config::Config::parse(text, std::path::Path::new("s.toml")).unwrap_err();
        assert!(crate::exit::render(&e).contains("s.toml:3"));
    }

    #[test]
    fn full_table_parses() {
        let text = r#"
[scan]
max_file_size = 2000
exclude = ["vendor/", "*.min.js"]
disabled_rules = ["x"]
report_format = "sarif"
redact = true
history = true
[[scan.allowlists]]
condition = "AND"
regex_target = "line"
regexes = ['''example''']
"#;
        let c = crate::config::Config::parse(text, std::path::Path::new("s.toml")).unwrap();
        assert_eq!(c.scan.max_file_size, Some(ByteSize(2000)));
        assert_eq!(c.scan.report_format, Some(ReportFormat::Sarif));
        let a = c.scan.allowlists[0].to_allowlist();
        assert!(a.condition_and);
        assert_eq!(a.regex_target, RegexTarget::Line);
        let set = glob_set(&c.scan.exclude).unwrap();
        assert!(set.is_match("vendor/x/y.go"));
        assert!(set.is_match("a/b/c.min.js"));
        assert!(!set.is_match("src/vendored.go"));
    }
}
