//! `.dockerignore` exactly as `docker build` applies it: the docker CLI's reader and Moby's pattern
//! matcher, written from their documented and observed behaviour and checked against the docker CLI
//! by `tests/context_diff.rs`.
//!
//! * **Reading** (the CLI's `ReadAll`): the file is bytes, split into lines (`\n`, an optional `\r`
//!   before it dropped); one UTF-8 byte-order mark is stripped from the first line; a line whose first
//!   byte is `#` is a comment (`  # x` is a pattern); lines are trimmed of white space; a leading `!`
//!   marks an exception (white space after it trimmed too); the rest is cleaned like Go's
//!   `filepath.Clean` (`a//b/../c` → `a/c`) and one leading `/` dropped.
//! * **Syntax**: each pattern must be valid for Go's `filepath.Match` (`[]a]`, `[-]`, `[x-]`, `[a-b-c]`,
//!   a trailing `\`, a lone `!` are refused, naming the line).
//! * **Matching**: a pattern is compared with the path relative to the context: literally when it has
//!   no `*`, `?`, `[` or `\`; `dir/**` by prefix, `**/name` by suffix; otherwise as a Go regular
//!   expression in which `*` is `[^/]*`, `?` is `[^/]`, `**` is any number of directories, `[…]` is
//!   a class and `\` escapes the next character (even a letter: `\d` is a digit, as in Go). A pattern
//!   Go's regular expressions refuse (`\c`) is an error the first time docker would evaluate it.
//! * **Order**: the last pattern that matches decides; a path is excluded when it or a parent matches.
//!   While walking, a parent directory's result is reused only for the patterns evaluated at that
//!   directory (Moby's `MatchesUsingParentResults`): `d/x` then `!d` leaves `d/x` out.
//! * **Excluded directories** are still walked when an exception's text starts with the directory's
//!   path; the directory entry itself is not sent.
//! * **The Dockerfile and `.dockerignore`** are sent even when excluded, as the CLI does: an exception is
//!   appended for each when the legacy one-parent match (`Matches`) says it is excluded.
//! * **Names are bytes**: non-UTF-8 names and patterns work; where Go decodes text, each invalid byte
//!   counts as one U+FFFD.

mod goregex;

use regex::Regex;

/// How one pattern is compared with a path: Moby's fast paths, a regular expression, or an error.
#[derive(Clone, Debug)]
enum Kind {
    /// The path equals the pattern.
    Exact,
    /// `dir/**`: the path starts with `dir/`.
    Prefix(Vec<u8>),
    /// `**/name` or `**name`: the path ends with the rest.
    Suffix(Vec<u8>),
    /// Anything with wildcards or escapes.
    Regex(Regex),
    /// A regular expression Go refuses: an error when evaluated.
    Bad(String),
}

/// One cleaned pattern of a `.dockerignore`.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// The pattern as cleaned, without its `!`.
    pub text: Vec<u8>,
    /// True for an exception (`!pattern`).
    pub exception: bool,
    /// The `.dockerignore` line it came from (none for the exceptions docker adds).
    pub line: Option<usize>,
    /// The number of `/`-separated elements (for the legacy one-parent match).
    dirs: usize,
    kind: Kind,
}

/// A bad pattern: where, its text and what is wrong.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{where_} pattern {pattern:?}: {reason} — fix or remove that line")]
pub struct PatternError {
    /// `.dockerignore line N` (or the pattern's origin).
    pub where_: String,
    /// The pattern as cleaned.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: String,
}

impl PatternError {
    fn new(line: Option<usize>, pattern: &[u8], reason: impl Into<String>) -> PatternError {
        PatternError {
            where_: match line {
                Some(n) => format!(".dockerignore line {n}:"),
                None => ".dockerignore:".into(),
            },
            pattern: String::from_utf8_lossy(pattern).into_owned(),
            reason: reason.into(),
        }
    }
}

/// Go's `filepath.Clean` for `/`-separated byte paths.
pub fn clean(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let rooted = path[0] == b'/';
    let mut out: Vec<&[u8]> = Vec::new();
    for part in path.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if matches!(out.last(), Some(p) if *p != b"..") {
                    out.pop();
                } else if !rooted {
                    out.push(b"..");
                }
            }
            p => out.push(p),
        }
    }
    let joined = out.join(&b'/');
    match (rooted, joined.is_empty()) {
        (true, _) => [b"/".as_slice(), &joined].concat(),
        (false, true) => b".".to_vec(),
        (false, false) => joined,
    }
}

/// Go's `strings.TrimSpace` on bytes: Unicode white space at both ends (invalid UTF-8 is not space).
fn trim_space(s: &[u8]) -> &[u8] {
    let mut start = 0;
    while start < s.len() {
        match leading_char(&s[start..]) {
            Some((c, n)) if c.is_whitespace() => start += n,
            _ => break,
        }
    }
    let mut end = s.len();
    while end > start {
        match trailing_char(&s[start..end]) {
            Some((c, n)) if c.is_whitespace() => end -= n,
            _ => break,
        }
    }
    &s[start..end]
}

fn leading_char(s: &[u8]) -> Option<(char, usize)> {
    (1..=4.min(s.len())).find_map(|n| {
        std::str::from_utf8(&s[..n])
            .ok()
            .and_then(|t| t.chars().next().map(|c| (c, n)))
    })
}

fn trailing_char(s: &[u8]) -> Option<(char, usize)> {
    (1..=4.min(s.len())).find_map(|n| {
        std::str::from_utf8(&s[s.len() - n..])
            .ok()
            .and_then(|t| t.chars().next().map(|c| (c, n)))
    })
}

/// Decodes bytes as Go does when it ranges over a string: each invalid byte is one U+FFFD.
pub fn go_text(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for chunk in s.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push('\u{FFFD}');
        }
    }
    out
}

/// Reads `.dockerignore` bytes into `(line number, pattern)` pairs, as the docker CLI's reader does.
pub fn read_patterns(text: &[u8]) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    if text.is_empty() {
        return out;
    }
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        let mut line = line.strip_suffix(b"\r").unwrap_or(line);
        if i == 0 {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        if line.first() == Some(&b'#') {
            continue;
        }
        let mut p = trim_space(line);
        if p.is_empty() {
            continue;
        }
        let invert = p[0] == b'!';
        if invert {
            p = trim_space(&p[1..]);
        }
        let mut cleaned = Vec::new();
        if !p.is_empty() {
            cleaned = clean(p);
            if cleaned.len() > 1 && cleaned[0] == b'/' {
                cleaned.remove(0);
            }
        }
        if invert {
            cleaned.insert(0, b'!');
        }
        out.push((i + 1, cleaned));
    }
    out
}

impl Pattern {
    /// Compiles one pattern as Moby's `New` does (trimmed, cleaned, `!` split off, checked with Go's
    /// `filepath.Match` rules); `None` for an empty one.
    pub fn new(line: Option<usize>, raw: &[u8]) -> Result<Option<Pattern>, PatternError> {
        let p = trim_space(raw);
        if p.is_empty() {
            return Ok(None);
        }
        let p = clean(p);
        let (exception, text) = match p.strip_prefix(b"!") {
            Some([]) => {
                return Err(PatternError::new(line, &p, "`!` needs a pattern after it"));
            }
            Some(rest) => (true, rest.to_vec()),
            None => (false, p),
        };
        if !match_syntax_ok(&text) {
            return Err(PatternError::new(line, &text, "syntax error in pattern"));
        }
        let kind = compile(&text);
        Ok(Some(Pattern {
            dirs: text.split(|b| *b == b'/').count(),
            text,
            exception,
            line,
            kind,
        }))
    }

    /// True when `path` (relative, `/`-separated) matches this pattern itself.
    fn matches(&self, path: &[u8]) -> Result<bool, PatternError> {
        Ok(match &self.kind {
            Kind::Exact => path == self.text.as_slice(),
            Kind::Prefix(prefix) => path.starts_with(prefix),
            Kind::Suffix(suffix) => {
                path.ends_with(suffix) || (suffix.first() == Some(&b'/') && path == &suffix[1..])
            }
            Kind::Regex(re) => re.is_match(&go_text(path)),
            Kind::Bad(why) => {
                return Err(PatternError::new(
                    self.line,
                    &self.text,
                    format!("syntax error in pattern ({why})"),
                ));
            }
        })
    }
}

/// Go's `filepath.Match` syntax check: false when Match would return `ErrBadPattern`.
fn match_syntax_ok(mut pattern: &[u8]) -> bool {
    while !pattern.is_empty() {
        while pattern.first() == Some(&b'*') {
            pattern = &pattern[1..];
        }
        let mut inrange = false;
        let mut i = 0;
        while i < pattern.len() {
            match pattern[i] {
                b'\\' if i + 1 < pattern.len() => i += 1,
                b'[' => inrange = true,
                b']' => inrange = false,
                b'*' if !inrange => break,
                _ => {}
            }
            i += 1;
        }
        if !chunk_ok(&pattern[..i]) {
            return false;
        }
        pattern = &pattern[i..];
    }
    true
}

/// Go's `matchChunk` syntax rules for one chunk.
fn chunk_ok(mut chunk: &[u8]) -> bool {
    while let Some(&c) = chunk.first() {
        match c {
            b'[' => {
                chunk = &chunk[1..];
                if chunk.first() == Some(&b'^') {
                    chunk = &chunk[1..];
                }
                let mut nrange = 0;
                loop {
                    if chunk.first() == Some(&b']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let Some(rest) = class_escape(chunk) else {
                        return false;
                    };
                    chunk = rest;
                    if chunk[0] == b'-' {
                        let Some(rest) = class_escape(&chunk[1..]) else {
                            return false;
                        };
                        chunk = rest;
                    }
                    nrange += 1;
                }
            }
            b'\\' => {
                if chunk.len() < 2 {
                    return false;
                }
                chunk = &chunk[2..];
            }
            _ => chunk = &chunk[1..],
        }
    }
    true
}

/// Go's `getEsc`: one class character; `None` when malformed, else the non-empty rest.
fn class_escape(mut chunk: &[u8]) -> Option<&[u8]> {
    match chunk.first() {
        None | Some(b'-') | Some(b']') => return None,
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return None;
            }
        }
        _ => {}
    }
    let (_, n) = leading_char(chunk)?;
    let rest = &chunk[n..];
    (!rest.is_empty()).then_some(rest)
}

/// Turns a cleaned pattern into its matcher, the way Moby's pattern matcher does.
fn compile(pattern: &[u8]) -> Kind {
    #[derive(PartialEq)]
    enum T {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut t = T::Exact;
    let mut re = String::from("^");
    let text = go_text(pattern);
    let mut chars: Vec<char> = text.chars().collect();
    if chars.first() == Some(&'\u{FEFF}') {
        // Go's text scanner skips a byte-order mark at the start of its input.
        chars.remove(0);
    }
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if ch == '*' {
            if chars.get(i) == Some(&'*') {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if t == T::Exact {
                        t = T::Prefix;
                    } else {
                        re.push_str(".*");
                        t = T::Regex;
                    }
                } else {
                    re.push_str("(.*/)?");
                    t = T::Regex;
                }
                if first {
                    t = T::Suffix;
                }
            } else {
                re.push_str("[^/]*");
                t = T::Regex;
            }
        } else if ch == '?' {
            re.push_str("[^/]");
            t = T::Regex;
        } else if ".+()|{}$".contains(ch) {
            re.push('\\');
            re.push(ch);
        } else if ch == '\\' {
            if let Some(next) = chars.get(i) {
                re.push('\\');
                re.push(*next);
                i += 1;
                t = T::Regex;
            } else {
                re.push('\\');
            }
        } else if ch == '[' || ch == ']' {
            re.push(ch);
            t = T::Regex;
        } else {
            re.push(ch);
        }
        first = false;
    }
    match t {
        T::Exact => Kind::Exact,
        T::Prefix => Kind::Prefix(pattern[..pattern.len().saturating_sub(2)].to_vec()),
        T::Suffix => Kind::Suffix(pattern.get(2..).unwrap_or_default().to_vec()),
        T::Regex => {
            re.push('$');
            match goregex::translate(&re).and_then(|r| Regex::new(&r).map_err(|e| e.to_string())) {
                Ok(r) => Kind::Regex(r),
                Err(e) => Kind::Bad(e),
            }
        }
    }
}

/// Which patterns matched a directory, handed to its entries (Moby's `MatchInfo`).
#[derive(Clone, Debug, Default)]
pub struct MatchInfo(Vec<bool>);

/// The compiled `.dockerignore` of a context.
#[derive(Clone, Debug, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    forced: Vec<String>,
}

/// Splits `file` into its parent directories' paths, shortest first (`a/b/c` → `a`, `a/b`).
fn parents(file: &[u8]) -> Vec<&[u8]> {
    file.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'/')
        .map(|(i, _)| &file[..i])
        .collect()
}

impl Matcher {
    /// Compiles `(line, pattern)` pairs (as produced by [`read_patterns`]), in order.
    pub fn new(patterns: &[(Option<usize>, Vec<u8>)]) -> Result<Matcher, PatternError> {
        let mut out = Vec::new();
        for (line, p) in patterns {
            if let Some(p) = Pattern::new(*line, p)? {
                out.push(p);
            }
        }
        Ok(Matcher {
            patterns: out,
            forced: Vec::new(),
        })
    }

    /// The matcher for a context: its `.dockerignore` bytes, plus `extra` patterns of stevedore's own,
    /// plus the exceptions the docker CLI appends to keep `dockerfile` (its path relative to the
    /// context) and `.dockerignore` in the context.
    pub fn for_context(
        text: impl AsRef<[u8]>,
        dockerfile: &str,
        extra: &[&str],
    ) -> Result<Matcher, PatternError> {
        let mut patterns: Vec<(Option<usize>, Vec<u8>)> = read_patterns(text.as_ref())
            .into_iter()
            .map(|(n, p)| (Some(n), p))
            .collect();
        patterns.extend(extra.iter().map(|e| (None, e.as_bytes().to_vec())));
        let mut m = Matcher::new(&patterns)?;
        for keep in [".dockerignore", dockerfile] {
            if m.matches_legacy(keep.as_bytes()).unwrap_or(false) {
                patterns.push((None, format!("!{keep}").into_bytes()));
                let forced = std::mem::take(&mut m.forced);
                m = Matcher::new(&patterns)?;
                m.forced = forced;
                m.forced.push(keep.to_string());
            }
        }
        Ok(m)
    }

    /// The matcher for a context sent through a BuildKit session: the ignore file's patterns plus
    /// `extra`, and nothing forced back in — the Dockerfile travels on its own, so a listed Dockerfile
    /// or `.dockerignore` stays out of `COPY .`, as with `docker build`.
    pub fn for_session(text: impl AsRef<[u8]>, extra: &[&str]) -> Result<Matcher, PatternError> {
        let mut patterns: Vec<(Option<usize>, Vec<u8>)> = read_patterns(text.as_ref())
            .into_iter()
            .map(|(n, p)| (Some(n), p))
            .collect();
        patterns.extend(extra.iter().map(|e| (None, e.as_bytes().to_vec())));
        Matcher::new(&patterns)
    }

    /// The files `.dockerignore` excludes but that are sent anyway (the Dockerfile, `.dockerignore`).
    pub fn forced(&self) -> &[String] {
        &self.forced
    }

    /// The patterns, in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// True when some pattern is an exception.
    pub fn exclusions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }

    /// True when a pattern could fail when evaluated (Go refuses its regular expression).
    pub fn has_bad_patterns(&self) -> bool {
        self.patterns.iter().any(|p| matches!(p.kind, Kind::Bad(_)))
    }

    /// Moby's deprecated `Matches`, which the docker CLI still uses to decide whether the Dockerfile
    /// and `.dockerignore` need an exception: a parent is tried only at the pattern's own depth.
    pub fn matches_legacy(&self, file: &[u8]) -> Result<bool, PatternError> {
        let file = clean(file);
        if file == b"." {
            return Ok(false);
        }
        let parent_dirs = parents(&file);
        let mut matched = false;
        for p in &self.patterns {
            if p.exception != matched {
                continue;
            }
            let mut hit = p.matches(&file)?;
            if !hit && !parent_dirs.is_empty() && p.dirs <= parent_dirs.len() {
                hit = p.matches(parent_dirs[p.dirs - 1]).unwrap_or(false);
            }
            if hit {
                matched = !p.exception;
            }
        }
        Ok(matched)
    }

    /// Moby's `MatchesOrParentMatches`: every pattern is tried against the path and each parent.
    pub fn matches_or_parent_matches(&self, file: &[u8]) -> Result<bool, PatternError> {
        let parent_dirs = parents(file);
        let mut matched = false;
        for p in &self.patterns {
            if p.exception != matched {
                continue;
            }
            let mut hit = p.matches(file)?;
            if !hit {
                for dir in &parent_dirs {
                    if p.matches(dir).unwrap_or(false) {
                        hit = true;
                        break;
                    }
                }
            }
            if hit {
                matched = !p.exception;
            }
        }
        Ok(matched)
    }

    /// Moby's `MatchesUsingParentResults`: a parent's result is reused only for the patterns that
    /// were evaluated (and matched) at the parent; `parent` is the parent directory's [`MatchInfo`]
    /// (the default one for an entry at the context's root).
    pub fn matches_using_parent_results(
        &self,
        file: &[u8],
        parent: &MatchInfo,
    ) -> Result<(bool, MatchInfo), PatternError> {
        if parent.0.is_empty() {
            let m = self.matches_or_parent_matches_info(file)?;
            return Ok(m);
        }
        let mut matched = false;
        let mut info = vec![false; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            let mut hit = parent.0[i];
            if !hit {
                if p.exception != matched {
                    continue;
                }
                hit = p.matches(file)?;
            }
            info[i] = hit;
            if hit {
                matched = !p.exception;
            }
        }
        Ok((matched, MatchInfo(info)))
    }

    /// The no-parent-information branch of `MatchesUsingParentResults`.
    fn matches_or_parent_matches_info(
        &self,
        file: &[u8],
    ) -> Result<(bool, MatchInfo), PatternError> {
        let parent_dirs = parents(file);
        let mut matched = false;
        let mut info = vec![false; self.patterns.len()];
        for (i, p) in self.patterns.iter().enumerate() {
            if p.exception != matched {
                continue;
            }
            let mut hit = p.matches(file)?;
            if !hit {
                hit = parent_dirs.iter().any(|d| p.matches(d).unwrap_or(false));
            }
            info[i] = hit;
            if hit {
                matched = !p.exception;
            }
        }
        Ok((matched, MatchInfo(info)))
    }

    /// For an excluded directory: true when an exception's text starts with the directory's path, so
    /// it must still be walked (its own entry is not sent).
    pub fn must_walk(&self, dir: &[u8]) -> bool {
        let mut dir_slash = dir.to_vec();
        dir_slash.push(b'/');
        self.patterns.iter().any(|p| {
            let mut t = p.text.clone();
            t.push(b'/');
            p.exception && t.starts_with(&dir_slash)
        })
    }

    /// True when `path` is excluded, judged alone (every pattern tried against the path and each
    /// parent); an error counts as not excluded. For checks and tests; the walk uses
    /// [`Matcher::matches_using_parent_results`].
    pub fn excludes(&self, path: &str) -> bool {
        self.matches_or_parent_matches(path.as_bytes())
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests;
