//! The detector: runs a rule set over content.
//!
//! All rules are compiled once. One Aho-Corasick automaton over every rule's keywords (ASCII
//! case-insensitive) finds the places worth looking at; a rule's regular expression then runs only on a
//! small window around each of its keyword hits (the line of the hit, widened by a few lines for rules
//! whose matches span lines). Rules without keywords run over the whole content, so they must be rare.
//! Candidates then pass, in order: the rule's secret group, entropy floor and `validate` check, the
//! built-in noise filters (placeholders, references, digests, …), the rule's and the global
//! allowlists, and the inline `gitleaks:allow` / `stevedore:allow` comment.

pub mod decode;
mod keywords;
pub mod noise;
mod score;

pub use score::{Score, score_cases};

use super::rule::{Allowlist, Finding, RegexTarget, Rule};
use keywords::{Hit, Keywords};
use regex::bytes::{CaptureLocations, Regex, RegexSet};
use std::sync::OnceLock;

/// How a built-in rule is treated beyond what its [`Rule`] fields say.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    /// Which noise filters apply.
    pub kind: Kind,
    /// Extra lines before the keyword's line that the rule's window covers.
    pub before: u8,
    /// Extra lines after the keyword's line that the rule's window covers.
    pub after: u16,
    /// A check of the whole candidate beyond [`Rule::validate`].
    pub check: Option<fn(&Candidate) -> bool>,
}

impl Meta {
    /// A rule for a token with its own distinctive prefix.
    pub const TOKEN: Meta = Meta {
        kind: Kind::Token,
        before: 0,
        after: 0,
        check: None,
    };
}

/// Noise-control family of a built-in rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Distinctive prefix: placeholder and hand-typed-sequence filters.
    Token,
    /// A provider keyword next to a value of the provider's shape: placeholder and reference filters.
    Context,
    /// A secret-like name with a high-entropy value: every filter; yields to any other rule's finding on
    /// the same secret.
    Generic,
    /// Structured material (private keys…) checked by its own `check`: no value filters.
    Raw,
}

/// What a rule's `check` sees of a candidate.
pub(crate) struct Candidate<'a> {
    /// The secret.
    pub secret: &'a [u8],
    /// The whole match.
    pub matched: &'a [u8],
    /// The capture group named `name`, if the rule has one (the assigned-to name).
    pub name: &'a [u8],
    /// The window the rule ran on.
    pub window: &'a [u8],
    /// Offset of the secret in `window`.
    pub secret_at: usize,
    /// The file path.
    pub path: &'a str,
}

struct CompiledAllow {
    and: bool,
    regexes: Option<RegexSet>,
    target: RegexTarget,
    paths: Option<RegexSet>,
    stopwords: Vec<Vec<u8>>,
    commits: Vec<String>,
}

impl CompiledAllow {
    fn new(a: &Allowlist, owner: &str) -> anyhow::Result<CompiledAllow> {
        let set = |v: &[String], what: &str| -> anyhow::Result<Option<RegexSet>> {
            if v.is_empty() {
                return Ok(None);
            }
            RegexSet::new(v).map(Some).map_err(|e| {
                anyhow::anyhow!("{owner}: allowlist {what} regex does not compile: {e} — fix the regular expression")
            })
        };
        Ok(CompiledAllow {
            and: a.condition_and,
            regexes: set(&a.regexes, "regexes")?,
            target: a.regex_target,
            paths: set(&a.paths, "paths")?,
            stopwords: a
                .stopwords
                .iter()
                .map(|s| s.to_ascii_lowercase().into_bytes())
                .collect(),
            commits: a.commits.iter().map(|c| c.to_ascii_lowercase()).collect(),
        })
    }

    fn is_empty(&self) -> bool {
        self.regexes.is_none()
            && self.paths.is_none()
            && self.stopwords.is_empty()
            && self.commits.is_empty()
    }

    /// Whether a candidate is allowed. `hit` gives the text for each regex target.
    fn allows(
        &self,
        path: &str,
        commit: Option<&str>,
        secret: &[u8],
        matched: &[u8],
        line: &[u8],
    ) -> bool {
        if self.is_empty() {
            return false;
        }
        let mut results: [Option<bool>; 4] = [None; 4];
        if !self.commits.is_empty() {
            results[0] = Some(commit.is_some_and(|c| {
                let c = c.to_ascii_lowercase();
                self.commits.contains(&c)
            }));
        }
        if let Some(p) = &self.paths {
            results[1] = Some(p.is_match(path.as_bytes()));
        }
        if let Some(r) = &self.regexes {
            let text = match self.target {
                RegexTarget::Secret => secret,
                RegexTarget::Match => matched,
                RegexTarget::Line => line,
            };
            results[2] = Some(r.is_match(text));
        }
        if !self.stopwords.is_empty() {
            let lower = secret.to_ascii_lowercase();
            results[3] = Some(self.stopwords.iter().any(|w| noise::contains(&lower, w)));
        }
        let mut defined = results.iter().flatten();
        if self.and {
            defined.all(|r| *r)
        } else {
            defined.any(|r| *r)
        }
    }

    /// True when this allowlist can be decided from the path and commit alone and allows them.
    fn allows_whole_file(&self, path: &str, commit: Option<&str>) -> bool {
        if self.regexes.is_some() || !self.stopwords.is_empty() || self.is_empty() {
            return false;
        }
        self.allows(path, commit, b"", b"", b"")
    }
}

struct Compiled {
    rule: Rule,
    re: Option<LazyRegex>,
    path: Option<Regex>,
    allow: Vec<CompiledAllow>,
    meta: Option<Meta>,
    /// Lines of context around a keyword hit (custom rules get a default).
    before: usize,
    after: usize,
}

/// A compiled rule set, shareable across threads (`&self` scanning).
pub struct Detector {
    rules: Vec<Compiled>,
    ac: Option<Keywords>,
    /// Keyword pattern id → indices of the rules that carry that keyword.
    by_keyword: Vec<Vec<u32>>,
    /// Rules with a regex and no keyword: run over the whole content.
    always: Vec<u32>,
    /// Rules with only a path.
    path_only: Vec<u32>,
    global: Vec<CompiledAllow>,
}

/// Bytes of a very long line scanned either side of a keyword hit.
const LONG_LINE_REACH: usize = 4096;
/// Cap on how far a multi-line window reaches after the hit.
const MULTILINE_REACH: usize = 64 * 1024;

/// One scan's per-rule state: how far windows reached, what was reported, whether the path filter
/// passed (2 = unknown, 0 = no, 1 = yes), and reusable capture slots.
#[derive(Default)]
struct RuleState {
    scanned_until: Vec<usize>,
    emitted_until: Vec<usize>,
    path_ok: Vec<u8>,
    locs: Vec<Option<CaptureLocations>>,
}

impl RuleState {
    /// Allocates the state for `n` rules, once.
    fn ensure(&mut self, n: usize) {
        if self.scanned_until.is_empty() {
            self.scanned_until.resize(n, 0);
            self.emitted_until.resize(n, 0);
            self.path_ok.resize(n, 2);
            self.locs.resize_with(n, || None);
        }
    }
}

/// Compiles one rule: its regex (built-in ones lazily, on first use), path regex and allowlists.
fn compile_rule(rule: Rule) -> anyhow::Result<Compiled> {
    let meta = super::rules::builtin_meta(&rule);
    // Every regex is compiled on first use, so a small scan pays only for the rules whose
    // keywords it meets. A custom rule's regex (a gitleaks file) is parsed now, which reports
    // every syntax error up front at a fraction of the cost of compiling it.
    let re = match &rule.regex {
        Some(src) => {
            if meta.is_none() {
                regex_syntax::ParserBuilder::new()
                    .utf8(false)
                    .build()
                    .parse(src)
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "rule {}: regex does not compile: {e} — fix the rule's regex",
                            rule.id
                        )
                    })?;
            }
            Some(LazyRegex {
                src: src.clone(),
                cell: OnceLock::new(),
            })
        }
        None => None,
    };
    let path = match &rule.path {
        Some(src) => Some(Regex::new(src).map_err(|e| {
            anyhow::anyhow!(
                "rule {}: path regex does not compile: {e} — fix the rule's path",
                rule.id
            )
        })?),
        None => None,
    };
    if re.is_none() && path.is_none() {
        anyhow::bail!(
            "rule {}: has neither a regex nor a path — give it at least one",
            rule.id
        );
    }
    let allow = rule
        .allowlists
        .iter()
        .map(|a| CompiledAllow::new(a, &format!("rule {}", rule.id)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (before, after) = match meta {
        Some(m) => (m.before as usize, m.after as usize),
        None => (1, 1),
    };
    Ok(Compiled {
        rule,
        re,
        path,
        allow,
        meta,
        before,
        after,
    })
}

impl Detector {
    /// Compiles `rules` with the global allowlists. A rule whose regex does not compile is an error
    /// naming the rule.
    pub fn new(rules: Vec<Rule>, global: Vec<Allowlist>) -> anyhow::Result<Detector> {
        let mut compiled = Vec::with_capacity(rules.len());
        let mut keywords: Vec<String> = Vec::new();
        let mut by_keyword: Vec<Vec<u32>> = Vec::new();
        let mut always = Vec::new();
        let mut path_only = Vec::new();
        for rule in rules {
            let idx = compiled.len() as u32;
            let c = compile_rule(rule)?;
            match (&c.re, c.rule.keywords.is_empty()) {
                (None, _) => path_only.push(idx),
                (Some(_), true) => always.push(idx),
                (Some(_), false) => {
                    for k in &c.rule.keywords {
                        let k = k.to_ascii_lowercase();
                        if k.is_empty() {
                            continue;
                        }
                        let pos = match keywords.iter().position(|x| *x == k) {
                            Some(p) => p,
                            None => {
                                keywords.push(k);
                                by_keyword.push(Vec::new());
                                keywords.len() - 1
                            }
                        };
                        if !by_keyword[pos].contains(&idx) {
                            by_keyword[pos].push(idx);
                        }
                    }
                }
            }
            compiled.push(c);
        }
        let ac = if keywords.is_empty() {
            None
        } else {
            Some(Keywords::new(keywords)?)
        };
        let global = global
            .iter()
            .map(|a| CompiledAllow::new(a, "global allowlist"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Detector {
            rules: compiled,
            ac,
            by_keyword,
            always,
            path_only,
            global,
        })
    }

    /// The built-in rule set, compiled.
    pub fn builtin() -> Detector {
        Detector::new(super::rules::builtin_rules(), Vec::new()).expect("built-in rules compile")
    }

    /// Rules of this process whose regex failed to compile when first needed (a custom regex over
    /// the size limit): their matches were not searched, so the scan must not pass.
    pub fn failures() -> Vec<String> {
        FAILED.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Number of rules.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Scans one piece of content found at `path` (and, for history, in `commit`).
    pub fn scan(&self, path: &str, commit: Option<&str>, content: &[u8]) -> Vec<Finding> {
        if self
            .global
            .iter()
            .any(|g| g.allows_whole_file(path, commit))
        {
            return Vec::new();
        }
        let mut out = self.raw_findings(path, commit, content, true);
        self.add_decoded(path, commit, content, 0, &mut out);
        self.finish(path, content, out)
    }

    /// Findings of the rules on base64 runs in `content` that decode to text, located at the run and
    /// reported under the inner rule; up to [`decode::MAX_DEPTH`] levels deep.
    fn add_decoded(
        &self,
        path: &str,
        commit: Option<&str>,
        content: &[u8],
        depth: u8,
        out: &mut Vec<Raw>,
    ) {
        if depth >= decode::MAX_DEPTH {
            return;
        }
        let mut runs = decode::decoded_runs(content);
        if depth == 0 {
            // Structured data (SQL dumps, CSV exports, notebook outputs) read as assignments.
            runs.extend(super::rules::views(path, content));
        }
        for run in runs {
            let mut inner = self.raw_findings(path, commit, &run.text, false);
            self.add_decoded(path, commit, &run.text, depth + 1, &mut inner);
            if inner.is_empty() {
                continue;
            }
            let (ls, le) = line_bounds(content, run.start, run.end);
            if inline_allowed(&content[ls..le]) {
                continue;
            }
            for f in self.resolve_spans(inner) {
                let (secret, matched) = match f.decoded {
                    Some(d) => (d.secret, d.matched),
                    None => (
                        run.text[f.secret.0..f.secret.1].to_vec(),
                        run.text[f.start..f.end].to_vec(),
                    ),
                };
                out.push(Raw {
                    rule: f.rule,
                    start: run.start,
                    end: run.end,
                    secret: (run.start, run.end),
                    entropy: f.entropy,
                    path_only: false,
                    decoded: Some(Box::new(DecodedSecret { secret, matched })),
                });
            }
        }
    }

    /// The findings of every rule on `content`, before overlaps are resolved (`files`: with the
    /// rules that report a file by its path).
    fn raw_findings(
        &self,
        path: &str,
        commit: Option<&str>,
        content: &[u8],
        files: bool,
    ) -> Vec<Raw> {
        let mut out: Vec<Raw> = Vec::new();
        if files {
            self.path_only_findings(path, commit, content, &mut out);
        }
        // Per-rule state, allocated on the first keyword hit: most files have none.
        let mut st = RuleState::default();
        if let Some(ac) = &self.ac {
            let mut hits = Vec::new();
            ac.hits(content, &mut hits);
            for Hit {
                start,
                end,
                keyword,
            } in hits
            {
                st.ensure(self.rules.len());
                for &ri in &self.by_keyword[keyword as usize] {
                    let r = ri as usize;
                    if start < st.scanned_until[r] {
                        continue;
                    }
                    if !self.path_passes(r, path, &mut st.path_ok) {
                        st.scanned_until[r] = usize::MAX;
                        continue;
                    }
                    let c = &self.rules[r];
                    let (ws, we) = window(content, start, end, c.before, c.after);
                    // A match wholly inside the previous window was judged there, with its own
                    // context (lines before it): a later window must not judge it again with less.
                    let judged = st.scanned_until[r];
                    st.scanned_until[r] = we.max(end);
                    self.run_rule(
                        r,
                        path,
                        commit,
                        content,
                        (ws, we, judged),
                        &mut st.emitted_until[r],
                        &mut st.locs[r],
                        &mut out,
                    );
                }
            }
        }
        if !self.always.is_empty() {
            st.ensure(self.rules.len());
        }
        for &ri in &self.always {
            let r = ri as usize;
            if !self.path_passes(r, path, &mut st.path_ok) {
                continue;
            }
            self.run_rule(
                r,
                path,
                commit,
                content,
                (0, content.len(), 0),
                &mut st.emitted_until[r],
                &mut st.locs[r],
                &mut out,
            );
        }
        out
    }

    /// The rules that report a file by its path alone.
    fn path_only_findings(
        &self,
        path: &str,
        commit: Option<&str>,
        content: &[u8],
        out: &mut Vec<Raw>,
    ) {
        for &ri in &self.path_only {
            let c = &self.rules[ri as usize];
            if c.path.as_ref().is_some_and(|p| p.is_match(path.as_bytes())) {
                let f = Raw {
                    rule: ri,
                    start: 0,
                    end: 0,
                    secret: (0, 0),
                    entropy: 0.0,
                    path_only: true,
                    decoded: None,
                };
                if !self.allowed(c, path, commit, content, &f) {
                    out.push(f);
                }
            }
        }
    }

    fn path_passes(&self, r: usize, path: &str, cache: &mut [u8]) -> bool {
        if cache[r] == 2 {
            cache[r] = match &self.rules[r].path {
                Some(p) => p.is_match(path.as_bytes()) as u8,
                None => 1,
            };
        }
        cache[r] == 1
    }

    #[allow(clippy::too_many_arguments)]
    fn run_rule(
        &self,
        r: usize,
        path: &str,
        commit: Option<&str>,
        content: &[u8],
        (ws, we, judged): (usize, usize, usize),
        emitted_until: &mut usize,
        locs_slot: &mut Option<CaptureLocations>,
        out: &mut Vec<Raw>,
    ) {
        let c = &self.rules[r];
        let Some(lazy) = &c.re else { return };
        let Some((re, name_group)) = lazy.get(&c.rule.id) else {
            return;
        };
        let hay = &content[ws..we];
        let locs = locs_slot.get_or_insert_with(|| re.capture_locations());
        let mut at = 0;
        while at <= hay.len() {
            let Some(m) = re.captures_read_at(locs, hay, at) else {
                break;
            };
            at = if m.end() > m.start() {
                m.end()
            } else {
                m.end() + 1
            };
            let (ms, me) = (ws + m.start(), ws + m.end());
            if ms < *emitted_until || me <= judged {
                continue;
            }
            let (ss, se) = secret_span(c.rule.secret_group, locs, (m.start(), m.end()));
            if ss >= se {
                continue;
            }
            let secret = &hay[ss..se];
            let entropy = noise::shannon(secret);
            if c.rule.entropy.is_some_and(|min| entropy < min) {
                continue;
            }
            if let Some(v) = c.rule.validate
                && !std::str::from_utf8(secret).is_ok_and(v)
            {
                continue;
            }
            if let Some(meta) = &c.meta {
                let name = name_group
                    .and_then(|g| locs.get(g))
                    .map(|(a, b)| &hay[a..b])
                    .unwrap_or(b"");
                let cand = Candidate {
                    secret,
                    matched: m.as_bytes(),
                    name,
                    window: hay,
                    secret_at: ss,
                    path,
                };
                if !passes_noise(meta, &cand) {
                    continue;
                }
            }
            let f = Raw {
                rule: r as u32,
                start: ms,
                end: me,
                secret: (ws + ss, ws + se),
                entropy,
                path_only: false,
                decoded: None,
            };
            if self.allowed(c, path, commit, content, &f) {
                continue;
            }
            *emitted_until = me;
            out.push(f);
        }
    }

    fn allowed(
        &self,
        c: &Compiled,
        path: &str,
        commit: Option<&str>,
        content: &[u8],
        f: &Raw,
    ) -> bool {
        let secret = &content[f.secret.0..f.secret.1];
        let matched = &content[f.start..f.end];
        let (ls, le) = line_bounds(content, f.start, f.end);
        let line = &content[ls..le];
        if !f.path_only && inline_allowed(line) {
            return true;
        }
        c.allow
            .iter()
            .chain(self.global.iter())
            .any(|a| a.allows(path, commit, secret, matched, line))
    }

    /// Within one cluster of overlapping findings: a generic finding yields to any specific finding
    /// overlapping its secret, and of two findings with overlapping secrets the rule listed first
    /// stays.
    fn resolve(&self, cluster: &mut Vec<Raw>, out: &mut Vec<Raw>) {
        let is_generic = |f: &Raw| {
            self.rules[f.rule as usize]
                .meta
                .is_some_and(|m| m.kind == Kind::Generic)
        };
        let specific: Vec<(usize, usize)> = cluster
            .iter()
            .filter(|f| !is_generic(f))
            .map(|f| (f.start, f.end))
            .collect();
        cluster.retain(|f| {
            !is_generic(f)
                || !specific
                    .iter()
                    .any(|&(s, e)| s < f.secret.1 && f.secret.0 < e)
        });
        cluster.sort_by_key(|f| f.rule);
        let first = out.len();
        for f in cluster.drain(..) {
            let overlaps = out[first..]
                .iter()
                .any(|k| k.secret.0 < f.secret.1 && f.secret.0 < k.secret.1);
            if !overlaps {
                out.push(f);
            }
        }
    }

    /// Resolves overlaps within clusters of findings whose spans touch (usually one finding).
    fn resolve_spans(&self, mut spans: Vec<Raw>) -> Vec<Raw> {
        spans.sort_by_key(|f| f.start.min(f.secret.0));
        let mut raw: Vec<Raw> = Vec::with_capacity(spans.len());
        let mut cluster: Vec<Raw> = Vec::new();
        let mut cluster_end = 0;
        for f in spans {
            let (s, e) = (f.start.min(f.secret.0), f.end.max(f.secret.1));
            if !cluster.is_empty() && s >= cluster_end {
                self.resolve(&mut cluster, &mut raw);
            }
            cluster_end = if cluster.is_empty() {
                e
            } else {
                cluster_end.max(e)
            };
            cluster.push(f);
        }
        self.resolve(&mut cluster, &mut raw);
        raw
    }

    fn finish(&self, path: &str, content: &[u8], raw: Vec<Raw>) -> Vec<Finding> {
        let (mut files, spans): (Vec<Raw>, Vec<Raw>) = raw.into_iter().partition(|f| f.path_only);
        // A finding in decoded text is more precise than one on the encoded value it sits in.
        let (mut decoded, spans): (Vec<Raw>, Vec<Raw>) =
            spans.into_iter().partition(|f| f.decoded.is_some());
        let mut raw = self.resolve_spans(spans);
        raw.retain(|f| {
            !decoded
                .iter()
                .any(|d| d.start < f.secret.1 && f.secret.0 < d.end)
        });
        raw.append(&mut decoded);
        raw.append(&mut files);
        raw.sort_by_key(|f| (f.start, f.rule));
        // Findings are in offset order: count lines incrementally, not from the top each time.
        let mut lines = LineCounter::default();
        raw.into_iter()
            .map(|f| {
                let c = &self.rules[f.rule as usize];
                if f.path_only {
                    return Finding {
                        rule_id: c.rule.id.clone(),
                        description: c.rule.description.clone(),
                        start_line: 0,
                        end_line: 0,
                        start_column: 0,
                        end_column: 0,
                        secret: String::new(),
                        matched: format!("file detected: {path}"),
                        entropy: 0.0,
                        tags: c.rule.tags.clone(),
                    };
                }
                // Located at the secret value: a match may start on the line before (its
                // newline) or span lines; a multi-line key's secret starts at its BEGIN line.
                let (from, to) = if f.secret.1 > f.secret.0 {
                    f.secret
                } else {
                    (f.start, f.end)
                };
                let (start_line, start_column) = lines.line_col(content, from);
                let last = if to > from { to - 1 } else { from };
                let (end_line, end_column) = lines.clone().line_col(content, last);
                let (secret, matched) = match &f.decoded {
                    Some(d) => (&d.secret[..], &d.matched[..]),
                    None => (&content[f.secret.0..f.secret.1], &content[f.start..f.end]),
                };
                let secret = String::from_utf8_lossy(secret).into_owned();
                let (description, tags) = noted(&c.rule, &secret);
                Finding {
                    rule_id: c.rule.id.clone(),
                    description,
                    start_line,
                    end_line,
                    start_column,
                    end_column,
                    secret,
                    matched: String::from_utf8_lossy(matched).into_owned(),
                    entropy: f.entropy,
                    tags,
                }
            })
            .collect()
    }
}

/// The rule's description and tags for `secret`, with the rule's note when its `note_unless` check fails.
fn noted(rule: &Rule, secret: &str) -> (String, Vec<String>) {
    let mut tags = rule.tags.clone();
    match rule.note_unless {
        Some((ok, note)) if !ok(secret) => {
            tags.push("note:checksum-mismatch".to_string());
            (format!("{} — {note}", rule.description), tags)
        }
        _ => (rule.description.clone(), tags),
    }
}

/// A rule's regex, compiled on first use (with the index of its `name` group).
struct LazyRegex {
    src: String,
    cell: OnceLock<Option<(Regex, Option<usize>)>>,
}

/// Rules whose regex parsed but failed to compile on first use (over the regex size limit).
static FAILED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

impl LazyRegex {
    fn with_name_group(re: Regex) -> (Regex, Option<usize>) {
        let g = re.capture_names().position(|n| n == Some("name"));
        (re, g)
    }

    /// The compiled regex; `None` (recorded for [`Detector::failures`]) when it does not compile.
    fn get(&self, id: &str) -> Option<(&Regex, Option<usize>)> {
        let compiled = self.cell.get_or_init(|| match Regex::new(&self.src) {
            Ok(re) => Some(Self::with_name_group(re)),
            Err(e) => {
                FAILED
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!(
                        "rule {id}: regex does not compile: {e} — narrow repetitions such as {{1,1000}} or Unicode classes"
                    ));
                None
            }
        });
        compiled.as_ref().map(|(re, g)| (re, *g))
    }
}

/// A finding before it is turned into text: offsets into the content.
struct Raw {
    rule: u32,
    start: usize,
    end: usize,
    secret: (usize, usize),
    entropy: f64,
    path_only: bool,
    /// For a finding in decoded text: its secret and match (the offsets are the encoded run's).
    decoded: Option<Box<DecodedSecret>>,
}

/// The secret and match of a finding in decoded text.
struct DecodedSecret {
    secret: Vec<u8>,
    matched: Vec<u8>,
}

/// The secret's span within the haystack: the rule's group, else the first group that took part,
/// else the whole match.
fn secret_span(
    group: Option<usize>,
    locs: &CaptureLocations,
    whole: (usize, usize),
) -> (usize, usize) {
    if let Some(g) = group {
        return locs.get(g).unwrap_or((0, 0));
    }
    (1..locs.len()).find_map(|g| locs.get(g)).unwrap_or(whole)
}

fn passes_noise(meta: &Meta, c: &Candidate) -> bool {
    match meta.kind {
        Kind::Raw => {}
        Kind::Token => {
            if noise::is_placeholder(c.secret)
                || noise::has_sequence(c.secret, 7)
                || noise::has_short_period(c.secret)
            {
                return false;
            }
        }
        Kind::Context => {
            if noise::is_placeholder(c.secret)
                || noise::is_reference(c.secret)
                || noise::is_wordlike(c.secret)
            {
                return false;
            }
        }
        Kind::Generic => {
            if noise::is_lock_file(c.path)
                || noise::is_placeholder(c.secret)
                || noise::is_reference(c.secret)
                || noise::is_wordlike(c.secret)
                || noise::is_code_identifier(c.secret)
                || (noise::is_uuid(c.secret) && !super::rules::token_name(c.name))
                || noise::has_sequence(c.secret, 6)
                || noise::after_digest_marker(c.window, c.secret_at)
            {
                return false;
            }
        }
    }
    meta.check.is_none_or(|f| f(c))
}

/// True when the line carries an inline allow comment.
fn inline_allowed(line: &[u8]) -> bool {
    let finder = |n: &[u8]| memchr::memmem::find(line, n).is_some();
    memchr::memchr(b':', line).is_some()
        && (finder(b"gitleaks:allow") || finder(b"stevedore:allow"))
}

/// Start and end (exclusive, without the newline) of the lines spanning `[start, end)`.
fn line_bounds(content: &[u8], start: usize, end: usize) -> (usize, usize) {
    let ls = memchr::memrchr(b'\n', &content[..start]).map_or(0, |p| p + 1);
    let from = end.max(start);
    let le = memchr::memchr(b'\n', &content[from..]).map_or(content.len(), |p| from + p);
    (ls, le)
}

/// The window a rule runs on around a keyword hit at `[hs, he)`: the hit's line widened by `before`
/// and `after` lines, a very long line cut to a reach around the hit.
fn window(content: &[u8], hs: usize, he: usize, before: usize, after: usize) -> (usize, usize) {
    let mut ws = memchr::memrchr(b'\n', &content[..hs]).map_or(0, |p| p + 1);
    for _ in 0..before {
        if ws == 0 {
            break;
        }
        ws = memchr::memrchr(b'\n', &content[..ws - 1]).map_or(0, |p| p + 1);
    }
    let mut we = memchr::memchr(b'\n', &content[he..]).map_or(content.len(), |p| he + p);
    for _ in 0..after {
        if we >= content.len() || we - he > MULTILINE_REACH {
            break;
        }
        we = memchr::memchr(b'\n', &content[we + 1..]).map_or(content.len(), |p| we + 1 + p);
    }
    let reach = if after > 0 {
        MULTILINE_REACH
    } else {
        LONG_LINE_REACH
    };
    if hs - ws > LONG_LINE_REACH.max(before * 512) {
        ws = hs - LONG_LINE_REACH;
    }
    if we - he > reach {
        we = he + reach;
    }
    (ws, we)
}

/// Line numbers of increasing offsets, counting newlines only since the previous offset.
#[derive(Clone, Default)]
struct LineCounter {
    offset: usize,
    newlines: usize,
}

impl LineCounter {
    /// 1-based line and 1-based byte column of `offset`; restarts from the top if `offset` went back.
    fn line_col(&mut self, content: &[u8], offset: usize) -> (usize, usize) {
        let offset = offset.min(content.len());
        if offset < self.offset {
            *self = LineCounter::default();
        }
        self.newlines += memchr::memchr_iter(b'\n', &content[self.offset..offset]).count();
        self.offset = offset;
        let col = offset - memchr::memrchr(b'\n', &content[..offset]).map_or(0, |p| p + 1) + 1;
        (self.newlines + 1, col)
    }
}

/// 1-based line and 1-based byte column of `offset`.
#[cfg(test)]
fn line_col(content: &[u8], offset: usize) -> (usize, usize) {
    let before = &content[..offset.min(content.len())];
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let col = offset - memchr::memrchr(b'\n', before).map_or(0, |p| p + 1) + 1;
    (line, col)
}

#[cfg(test)]
mod tests;
