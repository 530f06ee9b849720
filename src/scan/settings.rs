//! The `[scan]` table of `stevedore.toml` and the value types it shares with the command line.

use super::found::Limits;
use super::rule::{Allowlist, RegexTarget};
use super::{ScanArgs, found};
use crate::app::App;
use crate::exit::{CodeExt, ExitCode, coded};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Default `max_file_size`: 10 MB.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 10_000_000;

/// Flags, environment and the `[scan]` table resolved once: everything a scan run decides from.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The directory scanned, or the directory holding [`Settings::file`]: where ignore files and
    /// `.gitleaks.toml` are looked for and history is read from.
    pub root: PathBuf,
    /// A single file to scan (`stevedore scan FILE`), by its name in `root`.
    pub file: Option<String>,
    /// The project directory (summary, default report directory).
    pub project_dir: PathBuf,
    /// In a CI job.
    pub ci: bool,
    /// `--history`, or `[scan] history = true`.
    pub history: bool,
    /// `--since REV`.
    pub since: Option<String>,
    /// `--no-tree`.
    pub no_tree: bool,
    /// `--staged`.
    pub staged: bool,
    /// How much of each secret is hidden.
    pub redact: Redact,
    /// `-v`: print each finding's context line (redacted).
    pub verbose: bool,
    /// The report to write: format and path (`-` is stdout).
    pub report: Option<(ReportFormat, PathBuf)>,
    /// A previous report whose findings do not fail the job.
    pub baseline: Option<PathBuf>,
    /// Exit code when findings remain.
    pub exit_code: i32,
    /// Size limit, excludes, threads.
    pub limits: Limits,
    /// `--image REF` / `--archive FILE`: scan an image instead of the repository.
    pub image: Option<super::image::Source>,
    /// The image skip list (`[scan] image_skip`, `image_skip_add`).
    pub image_skip: super::image::SkipList,
    /// The shard of the repository scan this run does (`--shard`, or `CI_NODE_INDEX`/`CI_NODE_TOTAL`).
    pub shard: Option<crate::shard::Shard>,
}

impl Settings {
    /// Resolves the flags of `stevedore scan` against the environment and the `[scan]` table. Errors
    /// (exit 2) name the flag or path and the fix.
    pub fn resolve(app: &App, args: &ScanArgs) -> anyhow::Result<Settings> {
        let cfg = &app.config.scan;
        let (root, file) = target(args.path.as_deref(), &app.ctx.project_dir)?;
        if file.is_some() && (args.history || args.since.is_some() || args.staged || args.no_tree) {
            return Err(coded(
                ExitCode::Usage,
                "a single file is scanned as it is on disk: --history, --since, --staged and --no-tree take a directory",
            ));
        }
        let redact = args.redact.or(cfg.redact).unwrap_or_default();
        if redact.0 < 100 && app.ctx.ci {
            return Err(coded(
                ExitCode::Usage,
                format!(
                    "--redact={} is refused in CI: job logs and artifacts must never hold a secret or part of one (run it on your machine instead)",
                    if redact.0 == 0 {
                        "false".to_string()
                    } else {
                        redact.0.to_string()
                    }
                ),
            ));
        }
        let shard = shard_of(args, file.is_some())?;
        Ok(Settings {
            report: report_target(args, cfg, shard)?,
            shard,
            root,
            file,
            project_dir: app.ctx.project_dir.clone(),
            ci: app.ctx.ci,
            history: args.history || (cfg.history && args.since.is_none()),
            since: args.since.clone(),
            no_tree: args.no_tree,
            staged: args.staged,
            redact,
            verbose: app.out.is_verbose(),
            baseline: args.baseline.clone().or_else(|| cfg.baseline.clone()),
            exit_code: args.exit_code.or(cfg.exit_code).unwrap_or(1),
            limits: Limits {
                max_file_size: args
                    .max_file_size
                    .or(cfg.max_file_size)
                    .map(|b| b.0)
                    .unwrap_or(DEFAULT_MAX_FILE_SIZE),
                exclude: glob_set(&cfg.exclude).code(ExitCode::Usage)?,
                threads: args
                    .threads
                    .or(cfg.threads)
                    .unwrap_or_else(found::default_threads)
                    .max(1),
                own: Default::default(),
                only: None,
            },
            image: image_source(args),
            image_skip: super::image::SkipList::configured(
                cfg.image_skip.as_deref(),
                &cfg.image_skip_add,
            )
            .code(ExitCode::Usage)?,
        })
    }
}

/// The shard to scan: `--shard I/N`, else `CI_NODE_INDEX`/`CI_NODE_TOTAL`. A single file, the staged
/// changes and an image are not sharded: `--shard` with them is a usage error, the CI variables are
/// left aside.
fn shard_of(args: &ScanArgs, single_file: bool) -> anyhow::Result<Option<crate::shard::Shard>> {
    let unshardable = single_file || args.staged || args.image.is_some() || args.archive.is_some();
    if args.shard.is_some() && unshardable {
        return Err(coded(
            ExitCode::Usage,
            "--shard splits a repository scan (working tree and history): drop it for a single file, --staged, --image or --archive",
        ));
    }
    if unshardable {
        return Ok(None);
    }
    crate::shard::Shard::resolve(args.shard)
}

/// `--image REF` or `--archive FILE`.
fn image_source(args: &ScanArgs) -> Option<super::image::Source> {
    use super::image::Source;
    args.image
        .clone()
        .map(Source::Daemon)
        .or_else(|| args.archive.clone().map(Source::Archive))
}

/// The directory to scan and, for `stevedore scan FILE`, the file's name in it.
fn target(path: Option<&Path>, project_dir: &Path) -> anyhow::Result<(PathBuf, Option<String>)> {
    let Some(p) = path else {
        return Ok((project_dir.to_path_buf(), None));
    };
    let md = std::fs::metadata(p).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::NotFound {
            "does not exist".to_string()
        } else {
            format!("cannot be read ({e})")
        };
        coded(
            ExitCode::Usage,
            format!(
                "{} {why}: pass a directory or file to scan (default: the project dir)",
                p.display()
            ),
        )
    })?;
    if md.is_dir() {
        return Ok((p.to_path_buf(), None));
    }
    if !md.is_file() {
        return Err(coded(
            ExitCode::Usage,
            format!(
                "{} is neither a directory nor a regular file: pass a directory or file to scan",
                p.display()
            ),
        ));
    }
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, Some(name)))
}

/// The report format and path from `--report-format`, `--report-path` and `[scan]`.
/// A shard's default report name carries its shard (`gl-secret-detection-report-2-of-4.json`), so the
/// reports of every shard can sit in one directory.
fn report_target(
    args: &ScanArgs,
    cfg: &ScanConfig,
    shard: Option<crate::shard::Shard>,
) -> anyhow::Result<Option<(ReportFormat, PathBuf)>> {
    let path = args.report_path.clone().or_else(|| cfg.report_path.clone());
    let format = args
        .report_format
        .or(cfg.report_format)
        .or_else(|| path.as_deref().and_then(ReportFormat::from_path));
    match (format, path) {
        (Some(f), p) => Ok(Some((
            f,
            // The default report goes to stevedore's output directory (`.stevedore/`, git-ignored).
            p.unwrap_or_else(|| PathBuf::from(crate::summary::DIR).join(f.default_name(shard))),
        ))),
        (None, Some(p)) => Err(coded(
            ExitCode::Usage,
            format!(
                "cannot tell the report format from {}: add --report-format gitlab|sarif|json|csv|junit",
                p.display()
            ),
        )),
        (None, None) => Ok(None),
    }
}

/// How much of each secret reports and logs hide, as a percentage (gitleaks' `--redact=N`): 100 shows
/// `REDACTED`, 0 the whole secret, N in between the first (100−N)% followed by `...`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Redact(pub u8);

impl Default for Redact {
    fn default() -> Redact {
        Redact(100)
    }
}

impl Redact {
    /// True when any part of a secret is hidden.
    pub fn is_on(self) -> bool {
        self.0 > 0
    }

    /// The secret as reports show it (gitleaks' masking: the first `len·(100−N)/100` bytes, rounded
    /// half to even, then `...`; `REDACTED` at 100%).
    pub fn mask(self, secret: &str) -> String {
        if self.0 >= 100 {
            return super::report::REDACTED.to_string();
        }
        if self.0 == 0 || secret.is_empty() {
            return secret.to_string();
        }
        let keep =
            (secret.len() as f64 * f64::from(100 - self.0) / 100.0).round_ties_even() as usize;
        let mut end = keep.min(secret.len());
        while !secret.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &secret[..end])
    }
}

impl FromStr for Redact {
    type Err = String;
    fn from_str(s: &str) -> Result<Redact, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "true" | "" => Ok(Redact(100)),
            "false" => Ok(Redact(0)),
            n => match n.parse::<u8>() {
                Ok(p) if p <= 100 => Ok(Redact(p)),
                _ => Err(format!(
                    "redact must be true, false or a percentage 0..100 of each secret to hide, not {s:?}"
                )),
            },
        }
    }
}

impl<'de> Deserialize<'de> for Redact {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Num(i64),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Bool(b) => b.to_string(),
            Raw::Num(n) => n.to_string(),
            Raw::Text(s) => s,
        };
        text.parse().map_err(serde::de::Error::custom)
    }
}

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
    /// Redact secrets in reports and logs: `true` (default, 100%), `false`, or a percentage of each secret
    /// to hide as gitleaks' `--redact=N`; anything under 100% is refused in CI. Flag `--redact`.
    pub redact: Option<Redact>,
    /// Scan every commit reachable from HEAD, as `--history` does.
    pub history: bool,
    /// Worker threads (default: one per core).
    pub threads: Option<usize>,
    /// Extra allowlists applied to every rule (same keys as gitleaks' `[[allowlists]]`, in snake case).
    pub allowlists: Vec<AllowlistConfig>,
    /// Image scans: glob patterns over absolute paths in the image that are not read, replacing the
    /// default list of base-image paths (`image::skip::DEFAULT`; `[]` reads everything).
    pub image_skip: Option<Vec<String>>,
    /// Image scans: patterns added to the skip list.
    pub image_skip_add: Vec<String>,
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
    /// The format's name as users type it.
    pub fn name(self) -> &'static str {
        match self {
            ReportFormat::Gitlab => "gitlab",
            ReportFormat::Sarif => "sarif",
            ReportFormat::Json => "json",
            ReportFormat::Csv => "csv",
            ReportFormat::Junit => "junit",
        }
    }

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

    /// The default report's file name, with `-I-of-N` before the extension for a shard.
    pub fn default_name(self, shard: Option<crate::shard::Shard>) -> String {
        let name = self.default_path();
        match (shard, name.rsplit_once('.')) {
            (Some(s), Some((stem, ext))) => format!("{stem}{}.{ext}", s.suffix()),
            _ => name.to_string(),
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

#[cfg(test)]
mod redact_tests {
    use super::*;

    #[test]
    fn redact_parses_like_gitleaks() {
        assert_eq!("true".parse::<Redact>().unwrap(), Redact(100));
        assert_eq!("false".parse::<Redact>().unwrap(), Redact(0));
        assert_eq!("20".parse::<Redact>().unwrap(), Redact(20));
        assert!("101".parse::<Redact>().is_err());
        assert!("maybe".parse::<Redact>().is_err());
    }

    #[test]
    fn masks_as_gitleaks_does() {
        // Values checked against gitleaks 8.30 `--redact=N` on the same 20-character secret.
        let s = "AKIAZ4QR7TXW2MLPKV3N"; // stevedore:allow (fixture)
        assert_eq!(Redact(100).mask(s), "REDACTED");
        assert_eq!(Redact(0).mask(s), s);
        assert_eq!(Redact(20).mask(s), "AKIAZ4QR7TXW2MLP...");
        assert_eq!(Redact(50).mask(s), "AKIAZ4QR7T...");
    }

    #[test]
    fn redact_in_config_takes_bool_or_percentage() {
        for (v, want) in [("true", 100), ("false", 0), ("30", 30), ("\"75\"", 75)] {
            let c = crate::config::Config::parse(
                &format!("[scan]\nredact = {v}\n"),
                Path::new("s.toml"),
            )
            .unwrap();
            assert_eq!(c.scan.redact, Some(Redact(want)), "{v}");
        }
        let e = crate::config::Config::parse("[scan]\nredact = 300\n", Path::new("s.toml"))
            .unwrap_err();
        assert!(crate::exit::render(&e).contains("s.toml:2"));
    }
}
