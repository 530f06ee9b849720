//! `stevedore.toml`: one table per step, each owned and documented by its step's module.
//!
//! Precedence is flag > environment > file > default: clap resolves flags and environment variables into
//! `Option`s, and each step falls back to its table here, then to its default. An unknown key, a wrong type
//! or a bad value is an error naming the file, the line, the key and what is allowed (exit 2).
//!
//! A gitleaks configuration (`.gitleaks.toml`: top-level `[[rules]]`, `[allowlist]`, `[extend]`) given as
//! `--config` is accepted as it is: it configures the scan rules and leaves every other step at its
//! defaults, so a team migrates by pointing `--config` at its existing file.

use crate::exit::{ExitCode, coded};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The whole configuration, one field per step.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[scan]`: see [`crate::scan::ScanConfig`].
    pub scan: crate::scan::ScanConfig,
    /// `[build]`: see [`crate::build::BuildConfig`].
    pub build: crate::build::BuildConfig,
    /// `[prune]`: see [`crate::prune::PruneConfig`].
    pub prune: crate::prune::PruneConfig,
    /// `[notify]`: see [`crate::notify::NotifyConfig`].
    pub notify: crate::notify::NotifyConfig,
    /// `[release]`: see [`crate::release::ReleaseConfig`].
    pub release: crate::release::ReleaseConfig,
    /// `[deploy]`: see [`crate::deploy::DeployConfig`].
    pub deploy: crate::deploy::DeployConfig,
    /// The file this configuration came from, if any.
    #[serde(skip)]
    pub source: Option<PathBuf>,
    /// Set when the file given is a gitleaks configuration: the scan step reads its rules from it.
    #[serde(skip)]
    pub gitleaks_file: Option<PathBuf>,
}

/// Top-level keys that mark a file as a gitleaks configuration.
const GITLEAKS_KEYS: &[&str] = &["rules", "allowlist", "allowlists", "extend", "title"];

/// The name of the configuration file looked for in the project directory.
pub const DEFAULT_FILE: &str = "stevedore.toml";

impl Config {
    /// Loads the configuration: `explicit` when given (it must exist), else `stevedore.toml` in
    /// `project_dir` when it exists, else the defaults.
    pub fn load(explicit: Option<&Path>, project_dir: &Path) -> anyhow::Result<Config> {
        let path = match explicit {
            Some(p) => {
                if !p.is_file() {
                    return Err(coded(
                        ExitCode::Usage,
                        format!(
                            "config file {} not found: pass an existing file to --config, or drop the flag to use {} in the project dir",
                            p.display(),
                            DEFAULT_FILE
                        ),
                    ));
                }
                p.to_path_buf()
            }
            None => {
                let p = project_dir.join(DEFAULT_FILE);
                if !p.is_file() {
                    return Ok(Config::default());
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            coded(
                ExitCode::Usage,
                format!("cannot read config file {}: {e}", path.display()),
            )
        })?;
        Config::parse(&text, &path)
    }

    /// Parses configuration text; `path` is used in error messages.
    pub fn parse(text: &str, path: &Path) -> anyhow::Result<Config> {
        let table: toml::Table = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        if table.keys().any(|k| GITLEAKS_KEYS.contains(&k.as_str())) {
            return Ok(Config {
                source: Some(path.to_path_buf()),
                gitleaks_file: Some(path.to_path_buf()),
                ..Config::default()
            });
        }
        let mut cfg: Config = toml::from_str(text).map_err(|e| toml_error(path, text, &e))?;
        cfg.source = Some(path.to_path_buf());
        Ok(cfg)
    }
}

/// Turns a TOML error into one line naming file, line, column and the problem (exit 2).
pub fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> anyhow::Error {
    let (line, col) = match e.span() {
        Some(span) => line_col(text, span.start),
        None => (0, 0),
    };
    let msg = e.message().trim().to_string();
    let key_line = text
        .lines()
        .nth(line.saturating_sub(1))
        .unwrap_or("")
        .trim();
    coded(
        ExitCode::Usage,
        format!(
            "{}:{line}:{col}: {msg}\n  | {key_line}\n  (see the configuration reference in README.md)",
            path.display()
        ),
    )
}

/// 1-based line and column of a byte offset (one inside a character counts as that character's start).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::code_of;

    #[test]
    fn empty_file_is_defaults() {
        let c = Config::parse("", Path::new("stevedore.toml")).unwrap();
        assert!(c.gitleaks_file.is_none());
    }

    #[test]
    fn unknown_table_names_file_line_and_allowed_keys() {
        let text = "[scan]\n\n[bogus]\nx = 1\n";
        let e = Config::parse(text, Path::new("stevedore.toml")).unwrap_err();
        let msg = crate::exit::render(&e);
        assert_eq!(code_of(&e), ExitCode::Usage);
        assert!(msg.contains("stevedore.toml:3"), "{msg}");
        assert!(msg.contains("bogus"), "{msg}");
        assert!(msg.contains("deploy"), "should list what is allowed: {msg}");
    }

    #[test]
    fn gitleaks_file_is_recognised() {
        let text = "title = \"x\"\n[[rules]]\nid = \"a\"\nregex = '''abc'''\n";
        let c = Config::parse(text, Path::new(".gitleaks.toml")).unwrap();
        assert_eq!(
            c.gitleaks_file.as_deref(),
            Some(Path::new(".gitleaks.toml"))
        );
    }

    #[test]
    fn syntax_error_has_line() {
        let e = Config::parse("[scan\n", Path::new("s.toml")).unwrap_err();
        assert!(crate::exit::render(&e).contains("s.toml:1"));
    }

    #[test]
    fn missing_explicit_file_is_usage_error() {
        let e = Config::load(Some(Path::new("/nonexistent/x.toml")), Path::new("/")).unwrap_err();
        assert_eq!(code_of(&e), ExitCode::Usage);
    }
}
