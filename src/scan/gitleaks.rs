//! gitleaks' configuration format (`.gitleaks.toml`), read as it is and mapped onto our [`Rule`] and
//! [`Allowlist`]: `[[rules]]` (id, description, regex, secretGroup, entropy, keywords, path, tags,
//! `[[rules.allowlists]]` and the older `[rules.allowlist]`), the global `[allowlist]` and `[[allowlists]]`
//! (with `targetRules`), and `[extend]` (`useDefault`, `disabledRules`, `path`).
//!
//! Go's RE2 syntax is almost all valid Rust `regex` syntax; `\Q…\E` literals are translated, and a pattern
//! that still does not compile is an error naming the file, the rule and the fix (exit 2).

use super::rule::{Allowlist, RegexTarget, Rule};
use super::rules::builtin_rules;
use crate::exit::{ExitCode, coded};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A gitleaks configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct File {
    title: Option<String>,
    description: Option<String>,
    #[serde(rename = "minVersion")]
    min_version: Option<String>,
    extend: Option<Extend>,
    rules: Vec<RawRule>,
    allowlist: Option<RawAllowlist>,
    allowlists: Vec<RawAllowlist>,
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Extend {
    path: Option<String>,
    url: Option<String>,
    #[serde(rename = "useDefault")]
    use_default: bool,
    #[serde(rename = "disabledRules")]
    disabled_rules: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawRule {
    id: String,
    description: Option<String>,
    regex: Option<String>,
    #[serde(rename = "secretGroup")]
    secret_group: Option<usize>,
    entropy: Option<f64>,
    keywords: Vec<String>,
    path: Option<String>,
    tags: Vec<String>,
    allowlist: Option<RawAllowlist>,
    allowlists: Vec<RawAllowlist>,
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawAllowlist {
    description: String,
    condition: Option<String>,
    #[serde(rename = "regexTarget")]
    regex_target: Option<String>,
    regexes: Vec<String>,
    paths: Vec<String>,
    stopwords: Vec<String>,
    commits: Vec<String>,
    #[serde(rename = "targetRules")]
    target_rules: Vec<String>,
}

/// The rules and global allowlists a gitleaks configuration defines, plus notes for the log (keys we
/// read but do not act on).
#[derive(Debug, Default)]
pub struct Loaded {
    /// The rule set.
    pub rules: Vec<Rule>,
    /// Allowlists applied to every rule.
    pub global: Vec<Allowlist>,
    /// Warnings worth showing (unsupported keys).
    pub notes: Vec<String>,
}

/// gitleaks' rule ids for rules stevedore has under another id (gitleaks 8.30's default rules; the
/// rules both name alike need no entry). Read wherever a gitleaks file or report names a rule: ignore
/// files' `[commit:]file:rule:line` entries and json baselines.
pub const RULE_IDS: &[(&str, &str)] = &[
    ("aws-access-token", "aws-access-key-id"),
    (
        "airtable-personnal-access-token",
        "airtable-personal-access-token",
    ),
    (
        "aws-amazon-bedrock-api-key-long-lived",
        "aws-bedrock-api-key",
    ),
    (
        "aws-amazon-bedrock-api-key-short-lived",
        "aws-bedrock-short-term-key",
    ),
    ("artifactory-api-key", "jfrog-api-key"),
    ("artifactory-reference-token", "jfrog-reference-token"),
    ("cloudflare-api-key", "cloudflare-api-token"),
    ("gcp-service-account", "gcp-service-account-key"),
    ("gitlab-pat-routable", "gitlab-pat"),
    ("gitlab-rrt", "gitlab-runner-registration-token"),
    (
        "gitlab-runner-authentication-token-routable",
        "gitlab-runner-authentication-token",
    ),
    ("jwt-base64", "jwt"),
    ("new-relic-browser-api-token", "newrelic-browser-api-token"),
    ("new-relic-insert-key", "newrelic-insert-key"),
    ("new-relic-user-api-key", "newrelic-user-api-key"),
    ("settlemint-application-access-token", "settlemint-token"),
    ("settlemint-personal-access-token", "settlemint-token"),
    ("settlemint-service-access-token", "settlemint-token"),
    ("shopify-custom-access-token", "shopify-access-token"),
    ("shopify-private-app-access-token", "shopify-access-token"),
    ("shopify-shared-secret", "shopify-access-token"),
    ("square-secret", "square-oauth-secret"),
];

/// Our id for a rule id read from a gitleaks file or report (unchanged when both tools use it).
pub fn our_rule_id(gitleaks_id: &str) -> &str {
    RULE_IDS
        .iter()
        .find(|(g, _)| *g == gitleaks_id)
        .map(|(_, o)| *o)
        .unwrap_or(gitleaks_id)
}

/// Loads a gitleaks configuration file (exit 2 naming file and rule on any problem).
pub fn load(path: &Path) -> anyhow::Result<Loaded> {
    load_depth(path, &Within::of(path), 0)
}

/// The largest file `[extend] path` may name: gitleaks configurations are a few kilobytes.
const MAX_EXTENDED: u64 = 1 << 20;

/// Where `[extend] path` may lead: the directory of the top configuration and the repository holding
/// it. A repository's `.gitleaks.toml` cannot make stevedore read (and print) a file outside them.
#[derive(Clone, Debug)]
struct Within(Vec<PathBuf>);

impl Within {
    fn of(top: &Path) -> Within {
        let dir = match top.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut roots: Vec<PathBuf> = dir.canonicalize().into_iter().collect();
        if let Ok(repo) = gix::discover(&dir)
            && let Some(w) = repo.workdir().and_then(|w| w.canonicalize().ok())
        {
            roots.push(w);
        }
        Within(roots)
    }

    /// Checks an extended file: inside the roots (symbolic links resolved), a regular file, small.
    fn check(&self, from: &Path, p: &Path) -> anyhow::Result<()> {
        let refuse = |why: &str| {
            coded(
                ExitCode::Usage,
                format!(
                    "{}: [extend] path {} {why}: copy the base configuration into the repository and point [extend] path at it",
                    from.display(),
                    p.display()
                ),
            )
        };
        let real = p
            .canonicalize()
            .map_err(|e| refuse(&format!("cannot be read ({})", e.kind())))?;
        if !self.0.iter().any(|r| real.starts_with(r)) {
            return Err(refuse(
                "is outside the repository and the configuration's directory",
            ));
        }
        let md = std::fs::metadata(&real)
            .map_err(|e| refuse(&format!("cannot be read ({})", e.kind())))?;
        if !md.is_file() || md.len() > MAX_EXTENDED {
            return Err(refuse(
                "is not a gitleaks configuration file (not a regular file under 1 MiB)",
            ));
        }
        Ok(())
    }
}

fn load_depth(path: &Path, within: &Within, depth: usize) -> anyhow::Result<Loaded> {
    if depth > 4 {
        return Err(coded(
            ExitCode::Usage,
            format!(
                "{}: [extend] path nests more than 4 files deep (a loop?): point it at the base file directly",
                path.display()
            ),
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        coded(
            ExitCode::Usage,
            format!(
                "cannot read gitleaks config {}: {} — fix the path given with --config, [scan] gitleaks_config or GITLEAKS_CONFIG",
                path.display(),
                e.kind()
            ),
        )
    })?;
    parse(&text, path, within, depth)
}

/// Parses gitleaks configuration text; `path` names it in errors and anchors `[extend] path`.
pub fn parse_str(text: &str, path: &Path) -> anyhow::Result<Loaded> {
    parse(text, path, &Within::of(path), 0)
}

/// A TOML error. A file reached through `[extend] path`, or not named `*.toml`, was not expected to be
/// TOML: its error gives the position only, never the line or a value from it.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error, depth: usize) -> anyhow::Error {
    let expected = depth == 0
        && path
            .extension()
            .is_some_and(|x| x.eq_ignore_ascii_case("toml"));
    if expected {
        return crate::config::toml_error(path, text, e);
    }
    let (line, col) = e
        .span()
        .map(|s| crate::config::line_col(text, s.start))
        .unwrap_or((0, 0));
    coded(
        ExitCode::Usage,
        format!(
            "{}:{line}:{col}: not a valid gitleaks configuration (its content is not shown): point [extend] path at a gitleaks .toml file",
            path.display()
        ),
    )
}

fn parse(text: &str, path: &Path, within: &Within, depth: usize) -> anyhow::Result<Loaded> {
    let file: File = toml::from_str(text).map_err(|e| toml_error(path, text, &e, depth))?;
    let _ = (&file.title, &file.description, &file.min_version);
    let bad = |msg: String| coded(ExitCode::Usage, format!("{}: {msg}", path.display()));
    let mut notes = unknown_keys(&file, path);

    // The base rule set: built-in rules (useDefault) and/or an extended file.
    let (base, mut global) = match &file.extend {
        Some(ext) => extended(ext, path, within, depth, &mut notes)?,
        None => (Vec::new(), Vec::new()),
    };

    let mut rules = base;
    for raw in &file.rules {
        if raw.id.trim().is_empty() {
            return Err(bad(
                "a [[rules]] entry has no id: give every rule a unique id".into(),
            ));
        }
        let id = raw.id.clone();
        let bad_rule = |msg: String| bad(format!("rule {id:?}: {msg}"));
        for k in raw.unknown.keys() {
            notes.push(format!(
                "{}: rule {id:?}: key {k:?} is not supported by stevedore; ignored",
                path.display()
            ));
        }
        let regex = match &raw.regex {
            Some(r) if !r.is_empty() => {
                Some(check_regex(r).map_err(|e| bad_rule(format!("regex {e}")))?)
            }
            _ => None,
        };
        let rpath = match &raw.path {
            Some(r) if !r.is_empty() => {
                Some(check_regex(r).map_err(|e| bad_rule(format!("path {e}")))?)
            }
            _ => None,
        };
        let mut allowlists = Vec::new();
        for a in raw.allowlist.iter().chain(raw.allowlists.iter()) {
            allowlists.push(allowlist(a).map_err(|e| bad_rule(format!("allowlist: {e}")))?);
        }
        let existing = rules.iter().position(|r| r.id == id);
        if regex.is_none() && rpath.is_none() && existing.is_none() {
            return Err(bad_rule(
                "has neither regex nor path: give it a regex (or a path for a file-name rule)"
                    .into(),
            ));
        }
        let rule = Rule {
            id: id.clone(),
            description: raw.description.clone().unwrap_or_default(),
            regex,
            secret_group: raw.secret_group.filter(|g| *g > 0),
            entropy: raw.entropy.filter(|e| *e > 0.0),
            keywords: raw.keywords.iter().map(|k| k.to_lowercase()).collect(),
            path: rpath,
            tags: raw.tags.clone(),
            allowlists,
            validate: None,
            note_unless: None,
        };
        if let Some(g) = rule.secret_group
            && let Some(re) = &rule.regex
            && let Ok(h) = parse_hir(re)
            && g > h.properties().explicit_captures_len()
        {
            return Err(bad_rule(format!(
                "secretGroup {g} but the regex has only {} capture group(s): fix secretGroup",
                h.properties().explicit_captures_len()
            )));
        }
        match existing {
            Some(i) => merge(&mut rules[i], rule),
            None => rules.push(rule),
        }
    }

    target_allowlists(&file, path, &mut rules, &mut global)?;
    Ok(Loaded {
        rules,
        global,
        notes,
    })
}

/// Notes for the top-level keys stevedore does not know.
fn unknown_keys(file: &File, path: &Path) -> Vec<String> {
    file.unknown
        .keys()
        .map(|k| {
            format!(
                "{}: key {k:?} is not a gitleaks key stevedore knows; ignored",
                path.display()
            )
        })
        .collect()
}

/// The rules and global allowlists `[extend]` starts from: the built-in rules (`useDefault`) and an
/// extended file (`path`, confined by `within`), less `disabledRules`.
fn extended(
    ext: &Extend,
    path: &Path,
    within: &Within,
    depth: usize,
    notes: &mut Vec<String>,
) -> anyhow::Result<(Vec<Rule>, Vec<Allowlist>)> {
    if ext.url.is_some() {
        return Err(coded(
            ExitCode::Usage,
            format!(
                "{}: [extend] url is not supported: download the file and point [extend] path at it",
                path.display()
            ),
        ));
    }
    let mut base = if ext.use_default {
        builtin_rules()
    } else {
        Vec::new()
    };
    let mut global = Vec::new();
    if let Some(p) = &ext.path {
        let p = resolve_rel(path, p);
        within.check(path, &p)?;
        let mut inner = load_depth(&p, within, depth + 1)?;
        notes.append(&mut inner.notes);
        global.append(&mut inner.global);
        for r in inner.rules {
            upsert(&mut base, r);
        }
    }
    base.retain(|r| !ext.disabled_rules.iter().any(|d| d == &r.id));
    Ok((base, global))
}

/// The file's `[allowlist]` and `[[allowlists]]`: global ones, or added to the rules `targetRules` names.
fn target_allowlists(
    file: &File,
    path: &Path,
    rules: &mut [Rule],
    global: &mut Vec<Allowlist>,
) -> anyhow::Result<()> {
    let bad = |msg: String| coded(ExitCode::Usage, format!("{}: {msg}", path.display()));
    let mut targeted: Vec<(Vec<String>, Allowlist)> = Vec::new();
    for a in file.allowlist.iter().chain(file.allowlists.iter()) {
        let al = allowlist(a).map_err(|e| bad(format!("global allowlist: {e}")))?;
        if a.target_rules.is_empty() {
            global.push(al);
        } else {
            targeted.push((a.target_rules.clone(), al));
        }
    }
    for (targets, al) in targeted {
        for t in targets {
            let Some(r) = rules.iter_mut().find(|r| r.id == t) else {
                return Err(bad(format!(
                    "an [[allowlists]] entry targets rule {t:?}, which is not defined: fix targetRules"
                )));
            };
            r.allowlists.push(al.clone());
        }
    }
    Ok(())
}

/// Overrides `base` with the non-empty fields of `over` (gitleaks' extend semantics); allowlists,
/// keywords and tags are appended.
fn merge(base: &mut Rule, over: Rule) {
    if !over.description.is_empty() {
        base.description = over.description;
    }
    if over.regex.is_some() {
        base.regex = over.regex;
        base.validate = None;
    }
    if over.secret_group.is_some() {
        base.secret_group = over.secret_group;
    }
    if over.entropy.is_some() {
        base.entropy = over.entropy;
    }
    if over.path.is_some() {
        base.path = over.path;
    }
    for k in over.keywords {
        if !base.keywords.contains(&k) {
            base.keywords.push(k);
        }
    }
    for t in over.tags {
        if !base.tags.contains(&t) {
            base.tags.push(t);
        }
    }
    base.allowlists.extend(over.allowlists);
}

fn upsert(rules: &mut Vec<Rule>, r: Rule) {
    match rules.iter().position(|x| x.id == r.id) {
        Some(i) => merge(&mut rules[i], r),
        None => rules.push(r),
    }
}

fn resolve_rel(from: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        from.parent().unwrap_or(Path::new(".")).join(p)
    }
}

fn allowlist(a: &RawAllowlist) -> Result<Allowlist, String> {
    let condition_and = match a
        .condition
        .as_deref()
        .map(|s| s.trim().to_ascii_uppercase())
    {
        None => false,
        Some(s) if s.is_empty() || s == "OR" => false,
        Some(s) if s == "AND" => true,
        Some(s) => return Err(format!("condition {s:?} must be \"AND\" or \"OR\"")),
    };
    let regex_target = match a
        .regex_target
        .as_deref()
        .map(|s| s.trim().to_ascii_lowercase())
    {
        None => RegexTarget::Secret,
        Some(s) if s.is_empty() || s == "secret" => RegexTarget::Secret,
        Some(s) if s == "match" => RegexTarget::Match,
        Some(s) if s == "line" => RegexTarget::Line,
        Some(s) => {
            return Err(format!(
                "regexTarget {s:?} must be \"secret\", \"match\" or \"line\""
            ));
        }
    };
    let regexes = a
        .regexes
        .iter()
        .map(|r| check_regex(r))
        .collect::<Result<Vec<_>, _>>()?;
    let paths = a
        .paths
        .iter()
        .map(|r| check_regex(r))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Allowlist {
        description: a.description.clone(),
        condition_and,
        regexes,
        regex_target,
        paths,
        stopwords: a.stopwords.iter().map(|s| s.to_lowercase()).collect(),
        commits: a.commits.clone(),
    })
}

/// Translates a Go RE2 pattern and checks that it parses (a full compile waits for the rule's first
/// keyword hit, see [`crate::scan::detect`]); the error says what to change.
fn check_regex(re: &str) -> Result<String, String> {
    let t = translate_re2(re)?;
    parse_hir(&t).map_err(|first| {
        let hint = " (Rust's regex has no look-around or back-references, like Go's RE2: rewrite that part)";
        format!("{re:?} does not compile: {}{hint}", first.replace('\n', " "))
    })?;
    Ok(t)
}

/// The parsed form of a (translated) pattern, as `regex` parses it.
fn parse_hir(re: &str) -> Result<regex_syntax::hir::Hir, String> {
    regex_syntax::ParserBuilder::new()
        .build()
        .parse(re)
        .map_err(|e| e.to_string())
}

/// Translates the parts of Go's RE2 syntax that Rust's `regex` spells differently: `\Q…\E` literal
/// sections, `\<` and `\>` (literal `<` and `>` in RE2, word boundaries in Rust) and octal escapes
/// (`\075`, `\0`, `\12`: RE2 reads up to three octal digits; Rust has none). Rejects `\C` (any byte),
/// which Rust does not have; a lone `\1`…`\9` stays a back-reference, which neither supports.
pub fn translate_re2(re: &str) -> Result<String, String> {
    if !re.contains('\\') {
        return Ok(re.to_string());
    }
    let mut out = String::with_capacity(re.len());
    let mut rest = re;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.chars().next() {
            Some('Q') => {
                let body = &after[1..];
                let (lit, tail) = match body.find("\\E") {
                    Some(j) => (&body[..j], &body[j + 2..]),
                    None => (body, ""),
                };
                out.push_str(&regex::escape(lit));
                rest = tail;
            }
            Some('C') => {
                return Err(format!(
                    "{re:?} uses \\C (any byte), which stevedore does not support: use (?s-u:.) instead"
                ));
            }
            Some(c @ ('<' | '>')) => {
                out.push(c);
                rest = &after[1..];
            }
            Some(c @ '0'..='7')
                if c == '0' || after[1..].starts_with(|d: char| ('0'..='7').contains(&d)) =>
            {
                let digits = after
                    .bytes()
                    .take(3)
                    .take_while(|b| (b'0'..=b'7').contains(b))
                    .count();
                let code = u32::from_str_radix(&after[..digits], 8).unwrap_or(0);
                out.push_str(&format!("\\x{{{code:X}}}"));
                rest = &after[digits..];
            }
            Some(c) => {
                out.push('\\');
                out.push(c);
                rest = &after[c.len_utf8()..];
            }
            None => {
                out.push('\\');
                rest = "";
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_sections_are_escaped() {
        assert_eq!(translate_re2(r"a\Q.*\Eb").unwrap(), r"a\.\*b");
        assert_eq!(translate_re2(r"\d+\Q(x)").unwrap(), r"\d+\(x\)");
        assert!(translate_re2(r"a\Cb").is_err());
        assert_eq!(translate_re2(r"\bfoo\b").unwrap(), r"\bfoo\b");
    }

    #[test]
    fn angle_brackets_are_literal_and_octal_escapes_are_translated() {
        // RE2: `\<` and `\>` are the characters; Rust would read word boundaries.
        let re = regex::Regex::new(&translate_re2(r"\<key\>").unwrap()).unwrap();
        assert!(re.is_match("<key>"));
        assert!(!re.is_match("key"));
        // RE2's octal escapes: `\075` is `=`, `\0` NUL, `\12` newline, up to three digits.
        let re = regex::Regex::new(&translate_re2(r"a\075b").unwrap()).unwrap();
        assert!(re.is_match("a=b"));
        assert_eq!(translate_re2(r"\0").unwrap(), r"\x{0}");
        assert_eq!(translate_re2(r"\12x").unwrap(), r"\x{A}x");
        assert_eq!(translate_re2(r"\1234").unwrap(), r"\x{53}4");
        assert_eq!(translate_re2(r"[\075\<]").unwrap(), r"[\x{3D}<]");
        // An escaped backslash before them is not an escape of them.
        assert_eq!(translate_re2(r"\\<").unwrap(), r"\\<");
        // A lone digit is a back-reference: refused by the compile check with that word.
        let e = check_regex(r"(a)\1").unwrap_err();
        assert!(e.contains("back-references"), "{e}");
    }

    #[test]
    fn go_escapes_and_classes_compile() {
        for re in [
            r#"\/\-\:\@\#\=\'\"\%\_\~\`\!\&\,\;"#,
            r"[[:alnum:]_\-]{8,}",
            r#"(?i)(?:key|token)(?:[ \t\w.-]{0,20})[\s'\"]{0,3}(?:=|>|:{1,3}=|\|\|:|<=|=>|:|\?=)"#,
            r"(?P<name>x)(?:\x{2d}|\x41)\pL\p{Greek}",
            r"\Aabc\z",
        ] {
            let t = translate_re2(re).unwrap();
            assert!(
                regex::Regex::new(&t).is_ok(),
                "{re} -> {t}: {:?}",
                regex::Regex::new(&t).err()
            );
        }
    }

    #[test]
    fn maps_rules_allowlists_and_extend() {
        let text = r#"
title = "custom"
[extend]
useDefault = true
disabledRules = ["aws-access-key-id"]

[[rules]]
id = "acme-token"
description = "Acme token"
regex = '''acme_([a-z0-9]{16})'''
secretGroup = 1
entropy = 2.5
keywords = ["ACME_"]
tags = ["acme"]
[rules.allowlist]
regexes = ['''acme_0{16}''']
[[rules.allowlists]]
condition = "AND"
regexTarget = "line"
regexes = ['''test''']
paths = ['''_test\.go$''']

[[rules]]
id = "pem-file"
path = '''\.pem$'''

[allowlist]
paths = ['''^vendor/''']
[[allowlists]]
targetRules = ["acme-token"]
stopwords = ["Example"]
"#;
        let l = parse_str(text, Path::new(".gitleaks.toml")).unwrap();
        assert!(!l.rules.iter().any(|r| r.id == "aws-access-key-id"));
        let acme = l.rules.iter().find(|r| r.id == "acme-token").unwrap();
        assert_eq!(acme.secret_group, Some(1));
        assert_eq!(acme.entropy, Some(2.5));
        assert_eq!(acme.keywords, ["acme_"]);
        assert_eq!(acme.allowlists.len(), 3);
        assert!(acme.allowlists[1].condition_and);
        assert_eq!(acme.allowlists[1].regex_target, RegexTarget::Line);
        assert_eq!(acme.allowlists[2].stopwords, ["example"]);
        let pem = l.rules.iter().find(|r| r.id == "pem-file").unwrap();
        assert!(pem.regex.is_none());
        assert_eq!(l.global.len(), 1);
    }

    #[test]
    fn errors_name_file_and_rule() {
        let text = "[[rules]]\nid = \"bad-one\"\nregex = '''(?<=x)abc'''\n";
        let e = parse_str(text, Path::new("gl.toml")).unwrap_err();
        let m = crate::exit::render(&e);
        assert_eq!(crate::exit::code_of(&e), ExitCode::Usage);
        assert!(m.contains("gl.toml") && m.contains("bad-one"), "{m}");
        let text = "[[rules]]\nid = \"g\"\nregex = '''a(b)'''\nsecretGroup = 3\n";
        let m = crate::exit::render(&parse_str(text, Path::new("gl.toml")).unwrap_err());
        assert!(m.contains("secretGroup"), "{m}");
        let text = "[[rules]]\nid = \"x\"\n";
        assert!(parse_str(text, Path::new("gl.toml")).is_err());
        let text = "[[allowlists]]\ntargetRules = [\"nope\"]\n";
        let m = crate::exit::render(&parse_str(text, Path::new("gl.toml")).unwrap_err());
        assert!(m.contains("nope"), "{m}");
    }

    #[test]
    fn extend_path_stays_inside_the_repository_and_never_prints_a_file() {
        let outside = tempfile::tempdir().unwrap();
        let leak = "DB_PASSWORD=hunter2-very-secret"; // stevedore:allow (fixture)
        let secret_file = outside.path().join("environ");
        std::fs::write(&secret_file, format!("{leak}\n")).unwrap();
        let repo = tempfile::tempdir().unwrap();
        let top = repo.path().join(".gitleaks.toml");
        let check = |extend: &str, want: &str| {
            std::fs::write(&top, format!("[extend]\npath = '{extend}'\n")).unwrap();
            let msg = crate::exit::render(&load(&top).unwrap_err());
            assert!(msg.contains(want), "{extend}: {msg}");
            assert!(!msg.contains("hunter2"), "{extend}: {msg}");
        };
        // An absolute path, a relative escape and a symbolic link out of the repository are refused.
        check(secret_file.to_str().unwrap(), "outside the repository");
        check("/proc/self/environ", "outside the repository");
        let rel = format!(
            "../{}/environ",
            outside.path().file_name().unwrap().to_str().unwrap()
        );
        check(&rel, "outside the repository");
        std::os::unix::fs::symlink(&secret_file, repo.path().join("base.toml")).unwrap();
        check("base.toml", "outside the repository");
        // Inside the repository, a file that is not TOML gives its position, never its content.
        std::fs::write(repo.path().join(".env"), format!("{leak}\n")).unwrap();
        check(".env", "not a valid gitleaks configuration");
        std::fs::write(
            repo.path().join("rules.toml"),
            format!("x = \"{leak}\"\ny = 5\nid = [\n"),
        )
        .unwrap();
        check("rules.toml", "rules.toml:");
    }

    #[test]
    fn extend_path_merges_rules_from_the_base_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("base.toml"),
            "[[rules]]\nid = \"base-rule\"\nregex = '''base_[0-9]{8}'''\nkeywords = [\"base_\"]\n[[rules]]\nid = \"dropped\"\nregex = '''x{9}'''\n",
        )
        .unwrap();
        let top = dir.path().join(".gitleaks.toml");
        std::fs::write(
            &top,
            "[extend]\npath = \"base.toml\"\ndisabledRules = [\"dropped\"]\n[[rules]]\nid = \"base-rule\"\nentropy = 3.0\n[rules.allowlist]\nstopwords = [\"dummy\"]\n",
        )
        .unwrap();
        let l = load(&top).unwrap();
        assert_eq!(l.rules.len(), 1);
        let r = &l.rules[0];
        assert_eq!(r.regex.as_deref(), Some("base_[0-9]{8}"));
        assert_eq!(r.entropy, Some(3.0));
        assert_eq!(r.allowlists.len(), 1);
        std::fs::write(&top, "[extend]\nurl = \"https://x.test/g.toml\"\n").unwrap();
        assert!(crate::exit::render(&load(&top).unwrap_err()).contains("extend"));
    }

    #[test]
    fn without_use_default_only_own_rules() {
        let text = "[[rules]]\nid = \"only\"\nregex = '''only_[0-9]{8}'''\n";
        let l = parse_str(text, Path::new("g.toml")).unwrap();
        assert_eq!(l.rules.len(), 1);
    }
}
