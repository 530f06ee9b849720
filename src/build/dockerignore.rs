//! `.dockerignore` with Moby's semantics, written from its documented behaviour.
//!
//! * One pattern a line. A line whose first character is `#` is a comment (only in column 1: `  # x` is a
//!   pattern). Surrounding white space is trimmed; empty lines are skipped.
//! * A pattern is anchored at the context root, cleaned like Go's `filepath.Clean` (`a//b/../c` → `a/c`),
//!   and a leading `/` is dropped.
//! * `*` matches any run of characters except `/`, `?` one character except `/`, `[...]` a class;
//!   `**` matches any number of directories (zero included); `\` escapes the next character.
//! * `!pattern` is an exception: the last pattern that matches a path decides.
//! * A path is excluded when it, or one of its parent directories, matches. An excluded directory is
//!   still walked when an exception pattern reaches inside it (the exception's text starts with the
//!   directory's path), and its files are then matched one by one.
//! * The Dockerfile and `.dockerignore` are always sent: exceptions for them are appended.

use regex::Regex;

/// How one pattern is compared with a path: Moby's fast paths, and a regular expression otherwise.
#[derive(Clone, Debug)]
enum Kind {
    /// The path equals the pattern.
    Exact,
    /// `dir/**`: the path starts with `dir/`.
    Prefix(String),
    /// `**/name` or `**name`: the path ends with the rest.
    Suffix(String),
    /// Anything with wildcards.
    Regex(Regex),
}

/// One cleaned pattern of a `.dockerignore`.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// The pattern as cleaned, without its `!`.
    pub text: String,
    /// True for an exception (`!pattern`).
    pub exception: bool,
    kind: Kind,
}

/// A bad pattern: its text and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("bad .dockerignore pattern {pattern:?}: {reason}")]
pub struct PatternError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: String,
}

/// Go's `filepath.Clean` for `/`-separated paths: drops `.` elements and repeated slashes, resolves
/// `..` against the preceding element, returns `.` for an empty result.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if matches!(out.last(), Some(p) if *p != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            p => out.push(p),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Reads `.dockerignore` text into patterns, as Moby's reader does: comments in column 1 skipped, lines
/// trimmed, each pattern cleaned, a leading `/` dropped, `!` kept in front.
pub fn read_patterns(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = if i == 0 {
            line.trim_start_matches('\u{feff}')
        } else {
            line
        };
        if line.starts_with('#') {
            continue;
        }
        let mut p = line.trim();
        if p.is_empty() {
            continue;
        }
        let invert = p.starts_with('!');
        if invert {
            p = p[1..].trim();
        }
        let mut cleaned = String::new();
        if !p.is_empty() {
            cleaned = clean(p);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        out.push(if invert {
            format!("!{cleaned}")
        } else {
            cleaned
        });
    }
    out
}

impl Pattern {
    /// Compiles one pattern (as produced by [`read_patterns`]); `None` for a pattern that matches
    /// nothing useful (`.`).
    pub fn new(raw: &str) -> Result<Option<Pattern>, PatternError> {
        let p = raw.trim();
        if p.is_empty() {
            return Ok(None);
        }
        let p = clean(p);
        let (exception, text) = match p.strip_prefix('!') {
            Some("") => {
                return Err(PatternError {
                    pattern: raw.into(),
                    reason: "an exception needs a pattern after `!`".into(),
                });
            }
            Some(rest) => (true, rest.to_string()),
            None => (false, p),
        };
        let kind = compile(&text).map_err(|reason| PatternError {
            pattern: raw.into(),
            reason,
        })?;
        Ok(Some(Pattern {
            text,
            exception,
            kind,
        }))
    }

    /// True when `path` (relative, `/`-separated) matches this pattern itself.
    pub fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.text,
            Kind::Prefix(prefix) => path.starts_with(prefix.as_str()),
            Kind::Suffix(suffix) => {
                path.ends_with(suffix.as_str()) || (suffix.starts_with('/') && path == &suffix[1..])
            }
            Kind::Regex(re) => re.is_match(path),
        }
    }
}

/// Turns a cleaned pattern into its matcher, the way Moby's pattern matcher does.
fn compile(pattern: &str) -> Result<Kind, String> {
    #[derive(PartialEq)]
    enum T {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut t = T::Exact;
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
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
        } else if matches!(ch, '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$') {
            re.push('\\');
            re.push(ch);
        } else if ch == '\\' {
            match chars.get(i) {
                Some(next) => {
                    re.push('\\');
                    re.push(*next);
                    i += 1;
                }
                None => return Err("a trailing `\\` escapes nothing".into()),
            }
        } else if ch == '[' || ch == ']' {
            re.push(ch);
            t = T::Regex;
        } else {
            re.push(ch);
        }
        first = false;
    }
    Ok(match t {
        T::Exact => Kind::Exact,
        T::Prefix => Kind::Prefix(pattern[..pattern.len() - 2].to_string()),
        T::Suffix => Kind::Suffix(pattern[2..].to_string()),
        T::Regex => {
            re.push('$');
            Kind::Regex(Regex::new(&re).map_err(|e| format!("not a valid pattern ({e})"))?)
        }
    })
}

/// The compiled `.dockerignore` of a context.
#[derive(Clone, Debug, Default)]
pub struct Matcher {
    patterns: Vec<Pattern>,
    forced: Vec<String>,
}

impl Matcher {
    /// Compiles patterns (as produced by [`read_patterns`]), in order.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Matcher, PatternError> {
        let mut out = Vec::new();
        for p in patterns {
            if let Some(p) = Pattern::new(p.as_ref())? {
                out.push(p);
            }
        }
        Ok(Matcher {
            patterns: out,
            forced: Vec::new(),
        })
    }

    /// The matcher for a context: its `.dockerignore` text plus exceptions keeping `dockerfile` (the
    /// Dockerfile's path relative to the context) and `.dockerignore` itself.
    pub fn for_context(text: &str, dockerfile: &str) -> Result<Matcher, PatternError> {
        let mut patterns = read_patterns(text);
        let mut m = Matcher::new(&patterns)?;
        let mut forced = Vec::new();
        for keep in [".dockerignore", dockerfile] {
            if m.excludes(keep) {
                patterns.push(format!("!{keep}"));
                m = Matcher::new(&patterns)?;
                forced.push(keep.to_string());
            }
        }
        m.forced = forced;
        Ok(m)
    }

    /// The files `.dockerignore` excludes but that are sent anyway (the Dockerfile, `.dockerignore`).
    pub fn forced(&self) -> &[String] {
        &self.forced
    }

    /// The patterns, in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// True when `path` (relative to the context, `/`-separated) is excluded: the last pattern that
    /// matches the path or one of its parent directories decides.
    pub fn excludes(&self, path: &str) -> bool {
        let mut matched = false;
        let parents: Vec<&str> = match path.rfind('/') {
            Some(i) => path[..i].split('/').collect(),
            None => Vec::new(),
        };
        for p in &self.patterns {
            // An inclusion cannot change an already excluded path, nor an exception an included one.
            if p.exception != matched {
                continue;
            }
            let mut hit = p.matches(path);
            if !hit {
                let mut prefix = String::new();
                for dir in &parents {
                    if !prefix.is_empty() {
                        prefix.push('/');
                    }
                    prefix.push_str(dir);
                    if p.matches(&prefix) {
                        hit = true;
                        break;
                    }
                }
            }
            if hit {
                matched = !p.exception;
            }
        }
        matched
    }

    /// For an excluded directory: true when an exception pattern reaches inside it, so it must still be
    /// walked (its own entry is not sent).
    pub fn must_walk(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns
            .iter()
            .any(|p| p.exception && format!("{}/", p.text).starts_with(&dir_slash))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(text: &str) -> Matcher {
        Matcher::new(&read_patterns(text)).unwrap()
    }

    #[test]
    fn clean_like_go() {
        assert_eq!(clean("a//b/./c/"), "a/b/c");
        assert_eq!(clean("a/../b"), "b");
        assert_eq!(clean("../a"), "../a");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean("./"), ".");
        assert_eq!(clean(""), ".");
        assert_eq!(clean("/"), "/");
    }

    #[test]
    fn patterns_are_anchored_at_the_root() {
        let x = m("foo");
        assert!(x.excludes("foo"));
        assert!(x.excludes("foo/bar"), "contents of an excluded dir");
        assert!(!x.excludes("sub/foo"), "not anchored anywhere but the root");
        let y = m("a/b");
        assert!(y.excludes("a/b"));
        assert!(!y.excludes("x/a/b"));
    }

    #[test]
    fn patterns_are_cleaned_and_leading_slash_dropped() {
        let x = m("/foo\n./bar/\nbaz//qux/../zip\n");
        assert_eq!(
            read_patterns("/foo\n./bar/\nbaz//qux/../zip\n"),
            vec!["foo", "bar", "baz/zip"]
        );
        assert!(x.excludes("foo"));
        assert!(x.excludes("bar/x"));
        assert!(x.excludes("baz/zip"));
        assert!(!x.excludes("baz/qux"));
        assert_eq!(read_patterns("!/keep/./me"), vec!["!keep/me"]);
    }

    #[test]
    fn star_and_question_do_not_cross_slash() {
        let x = m("*.log\na?c\n");
        assert!(x.excludes("x.log"));
        assert!(!x.excludes("dir/x.log"), "* stops at /");
        assert!(x.excludes("abc"));
        assert!(!x.excludes("a/c"), "? does not match /");
        let y = m("*/*.tmp");
        assert!(y.excludes("d/x.tmp"));
        assert!(!y.excludes("d/e/x.tmp"));
    }

    #[test]
    fn double_star_matches_any_number_of_dirs() {
        let x = m("**/*.log");
        assert!(x.excludes("a.log"), "zero dirs");
        assert!(x.excludes("d/a.log"));
        assert!(x.excludes("d/e/f/a.log"));
        assert!(!x.excludes("d/a.txt"));
        let y = m("a/**/z");
        assert!(y.excludes("a/z"));
        assert!(y.excludes("a/b/c/z"));
        assert!(!y.excludes("b/z"));
        let z = m("build/**");
        assert!(z.excludes("build/x/y"));
        assert!(!z.excludes("builds"));
        let all = m("**");
        assert!(all.excludes("anything/at/all"));
    }

    #[test]
    fn exceptions_last_match_wins() {
        let x = m("*.md\n!README.md\n");
        assert!(x.excludes("CHANGES.md"));
        assert!(!x.excludes("README.md"));
        let y = m("!README.md\n*.md\n");
        assert!(
            y.excludes("README.md"),
            "a later exclusion wins over an earlier exception"
        );
        let z = m("*.md\n!README*.md\nREADME-secret.md\n");
        assert!(!z.excludes("README.md"));
        assert!(z.excludes("README-secret.md"));
    }

    #[test]
    fn excluded_dir_is_walked_only_when_an_exception_reaches_inside() {
        let x = m("docs\n!docs/keep.txt\n");
        assert!(x.excludes("docs"));
        assert!(x.excludes("docs/other.txt"));
        assert!(!x.excludes("docs/keep.txt"));
        assert!(x.must_walk("docs"));
        let y = m("node_modules\n!src\n");
        assert!(!y.must_walk("node_modules"));
        let z = m("a\n!a/b/c\n");
        assert!(z.must_walk("a") && z.must_walk("a/b"));
        assert!(!z.must_walk("a/x"));
    }

    #[test]
    fn hash_is_a_comment_only_in_column_one() {
        assert_eq!(
            read_patterns("# comment\n  # not a comment\n"),
            vec!["# not a comment"]
        );
        let x = m("#secret\n # hash\n");
        assert!(!x.excludes("#secret"));
        assert!(x.excludes("# hash"));
    }

    #[test]
    fn dockerfile_and_dockerignore_always_sent() {
        let x = Matcher::for_context("*\n", "Dockerfile").unwrap();
        assert!(!x.excludes("Dockerfile"));
        assert!(!x.excludes(".dockerignore"));
        assert!(x.excludes("src"));
        assert_eq!(x.forced(), [".dockerignore", "Dockerfile"]);
        assert!(
            Matcher::for_context("src\n", "Dockerfile")
                .unwrap()
                .forced()
                .is_empty()
        );
        let y = Matcher::for_context("docker\n", "docker/app.Dockerfile").unwrap();
        assert!(!y.excludes("docker/app.Dockerfile"));
        assert!(y.excludes("docker/other"));
        assert!(y.must_walk("docker"));
    }

    #[test]
    fn escapes_and_classes() {
        let x = m("file\\*\n[ab].txt\n");
        // Moby compares an escaped pattern without wildcards literally.
        assert!(x.excludes("file\\*"));
        assert!(x.excludes("a.txt") && x.excludes("b.txt"));
        assert!(!x.excludes("c.txt"));
        let y = m("f\\?x*");
        assert!(y.excludes("f?xy"));
        assert!(!y.excludes("faxy"));
    }

    #[test]
    fn bad_patterns_are_errors() {
        assert!(Matcher::new(&["!"]).is_err());
        assert!(Matcher::new(&["[a-"]).is_err());
    }
}
