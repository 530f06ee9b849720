use super::*;

fn m(text: &str) -> Matcher {
    let p: Vec<(Option<usize>, Vec<u8>)> = read_patterns(text.as_bytes())
        .into_iter()
        .map(|(n, p)| (Some(n), p))
        .collect();
    Matcher::new(&p).unwrap()
}

fn pats(list: &[&str]) -> Matcher {
    let p: Vec<(Option<usize>, Vec<u8>)> =
        list.iter().map(|s| (None, s.as_bytes().to_vec())).collect();
    Matcher::new(&p).unwrap()
}

/// The walk's view: each parent's match results handed down, as the archiver does.
fn walk_excludes(m: &Matcher, path: &str) -> bool {
    let mut info = MatchInfo::default();
    let b = path.as_bytes();
    for (i, _) in b.iter().enumerate().filter(|(_, c)| **c == b'/') {
        info = m.matches_using_parent_results(&b[..i], &info).unwrap().1;
    }
    m.matches_using_parent_results(b, &info).unwrap().0
}

#[test]
fn clean_like_go() {
    assert_eq!(clean(b"a//b/./c/"), b"a/b/c");
    assert_eq!(clean(b"a/../b"), b"b");
    assert_eq!(clean(b"../a"), b"../a");
    assert_eq!(clean(b"/../a"), b"/a");
    assert_eq!(clean(b"./"), b".");
    assert_eq!(clean(b""), b".");
    assert_eq!(clean(b"/"), b"/");
}

#[test]
fn reader_strips_one_bom_and_comments_in_column_one() {
    let r =
        read_patterns(b"\xEF\xBB\xBF\xEF\xBB\xBFx\r\n# c\n  # not a comment\n! /keep/./me \n/\n");
    let texts: Vec<&[u8]> = r.iter().map(|(_, p)| p.as_slice()).collect();
    assert_eq!(
        texts,
        [
            "\u{feff}x".as_bytes(),
            b"# not a comment",
            b"!keep/me",
            b"/"
        ]
    );
    assert_eq!(r[1].0, 3, "line numbers count comments");
    let x = m("\u{feff}\u{feff}*.txt\n");
    assert!(
        x.excludes("a.txt"),
        "Go's scanner skips a second BOM when building the regexp"
    );
}

#[test]
fn non_utf8_bytes_in_patterns_and_names() {
    let p = vec![(Some(1), b"caf\xE9*".to_vec())];
    let x = Matcher::new(&p).unwrap();
    assert!(x.matches_or_parent_matches(b"caf\xE9.txt").unwrap());
    assert!(
        x.matches_or_parent_matches("caf\u{FFFD}.txt".as_bytes())
            .unwrap(),
        "an invalid byte reads as U+FFFD, as in Go"
    );
    let exact = Matcher::new(&[(Some(1), b"caf\xE9".to_vec())]).unwrap();
    assert!(exact.matches_or_parent_matches(b"caf\xE9").unwrap());
    assert!(!exact.matches_or_parent_matches("café".as_bytes()).unwrap());
    let q = pats(&["?"]);
    assert!(
        !q.matches_or_parent_matches("\u{e9}x".as_bytes()).unwrap(),
        "? is one character"
    );
    assert!(q.matches_or_parent_matches("\u{e9}".as_bytes()).unwrap());
}

#[test]
fn patternmatcher_cases() {
    // (pattern, path, matches) from Moby's own tests (exact or via a parent).
    let cases: &[(&str, &str, bool)] = &[
        ("**", "file", true),
        ("**", "dir/file", true),
        ("**/", "file", true),
        ("**/**", "dir/file", true),
        ("dir/**", "dir/file", true),
        ("dir/**", "dir/dir2/file", true),
        ("**/dir", "dir", true),
        ("**/dir", "dir/file", true),
        ("**/dir2/*", "dir/dir2/file", true),
        ("**/dir2/**", "dir/dir2/dir3/file", true),
        ("**file", "file", true),
        ("**file", "dir/dir/file", true),
        ("**/file*txt", "dir/dir/file.txt", true),
        ("**/**/*.txt2", "dir/dir/file.txt", false),
        ("**/*.txt", "file.txt", true),
        ("a**/*.txt", "a/dir/dir/file.txt", true),
        ("a/*.txt", "a/dir/file.txt", false),
        ("a/*.txt**", "a/file.txt", true),
        ("a[b-d]e", "ae", false),
        ("a[b-d]e", "ace", true),
        ("a[^b-d]e", "aze", true),
        (".*", ".foo", true),
        (".*", "foo", false),
        ("abc.def", "abcdef", false),
        ("abc?def", "abcZdef", true),
        ("**/foo/bar", "dir/dir2/foo/bar", true),
        ("abc/**", "abc", false),
        ("**/.foo", "bar.foo", false),
        ("a(b)c/def", "a(b)c/def", true),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
        (
            "dist/*.whl",
            "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
            true,
        ),
        ("a\\\\", "a\\", true),
        ("a\\*b", "a*b", true),
        ("a?b", "a☺b", true),
        ("a???b", "a☺b", false),
        ("[a-ζ]*", "α", true),
        ("[\\]a]", "]", true),
        ("[x\\-]", "-", true),
        ("*x", "xxx", true),
    ];
    for (p, path, want) in cases {
        let x = pats(&[p]);
        assert_eq!(
            x.matches_or_parent_matches(path.as_bytes()).unwrap(),
            *want,
            "{p} vs {path}"
        );
        assert_eq!(walk_excludes(&x, path), *want, "walk: {p} vs {path}");
    }
    let multi = pats(&["**", "!util/docker/web", "util/docker/web/foo"]);
    assert!(walk_excludes(&multi, "util/docker/web/foo"));
    let multi = pats(&["**", "!util/docker/web"]);
    assert!(!walk_excludes(&multi, "util/docker/web/foo"));
}

#[test]
fn malformed_patterns_are_refused() {
    for bad in [
        "[]a]", "[-]", "[x-]", "[-x]", "[a-b-c]", "[", "[^", "[^bc", "a[", "\\", "!",
    ] {
        assert!(
            Matcher::new(&[(Some(4), bad.as_bytes().to_vec())]).is_err(),
            "{bad}"
        );
    }
    let e = Matcher::new(&[(Some(4), b"x[".to_vec())]).unwrap_err();
    assert!(e.to_string().contains("line 4"), "{e}");
    // Valid for filepath.Match, refused by Go's regexp: an error only when evaluated.
    let x = pats(&["\\caret^"]);
    assert!(x.has_bad_patterns());
    assert!(x.matches_or_parent_matches(b"a").is_err());
}

#[test]
fn parent_results_are_reused_only_where_evaluated() {
    // `d/x` then `!d`: docker leaves d/x out.
    let x = m("d/x\n!d\n");
    assert!(walk_excludes(&x, "d/x"));
    // `**/*.log` then `!logs`: logs/a.log left out.
    let y = m("**/*.log\n!logs\n");
    assert!(walk_excludes(&y, "logs/a.log"));
    // `d`, `!d/x`, `d`: docker sends d/x.
    let z = m("d\n!d/x\nd\n");
    assert!(!walk_excludes(&z, "d/x"));
    assert!(walk_excludes(&z, "d/y"));
}

#[test]
fn escapes_follow_go() {
    let x = m("q\\?.txt\nbr\\[ack\\]et.txt\nstar\\*.txt\na\\.b\n\\!bang\n\\#hash\nx\\dy\n");
    for p in [
        "q?.txt",
        "br[ack]et.txt",
        "star*.txt",
        "a.b",
        "!bang",
        "#hash",
        "x7y",
    ] {
        assert!(x.excludes(p), "{p}");
    }
    assert!(!x.excludes("qa.txt") && !x.excludes("axb") && !x.excludes("xdy"));
    let c = m("[a&&b]\n[a[b]]\n");
    assert!(c.excludes("&") && c.excludes("[]") && !c.excludes("ab"));
}

#[test]
fn exceptions_last_match_wins() {
    let x = m("*.md\n!README.md\n");
    assert!(x.excludes("CHANGES.md"));
    assert!(!x.excludes("README.md"));
    let y = m("!README.md\n*.md\n");
    assert!(y.excludes("README.md"));
}

#[test]
fn excluded_dir_is_walked_only_when_an_exception_reaches_inside() {
    let x = m("docs\n!docs/keep.txt\n");
    assert!(x.must_walk(b"docs"));
    assert!(!walk_excludes(&x, "docs/keep.txt"));
    assert!(walk_excludes(&x, "docs/other.txt"));
    let y = m("node_modules\n!src\n");
    assert!(!y.must_walk(b"node_modules"));
    let z = m("a\n!a/b/c\n");
    assert!(z.must_walk(b"a") && z.must_walk(b"a/b"));
    assert!(!z.must_walk(b"a/x"));
}

#[test]
fn dockerfile_and_dockerignore_kept_with_the_legacy_match() {
    let x = Matcher::for_context("*\n", "Dockerfile", &[]).unwrap();
    assert!(!x.excludes("Dockerfile"));
    assert!(!x.excludes(".dockerignore"));
    assert!(x.excludes("src"));
    assert_eq!(x.forced(), [".dockerignore", "Dockerfile"]);
    assert!(
        Matcher::for_context("src\n", "Dockerfile", &[])
            .unwrap()
            .forced()
            .is_empty()
    );
    // The legacy match tries a parent only at the pattern's own depth: a/**/c (3 elements) is tried
    // against a/b/x for a/b/x/c/Dockerfile, so no exception is added.
    let y = Matcher::for_context("a/**/c\n", "a/b/x/c/Dockerfile", &[]).unwrap();
    assert!(y.forced().is_empty());
    assert!(y.excludes("a/b/x/c/Dockerfile"));
}
