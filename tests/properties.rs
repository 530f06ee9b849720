//! Properties of stevedore's parsers and writers of untrusted text (issue 15): tags and versions,
//! `.dockerignore`, `.gitleaks.toml` and its RE2 translation, `stevedore.toml`, the dotenv writer and the
//! deploy template renderer. Each runs on generated input — arbitrary bytes and text for "never panics,
//! always a clear error", structured input for round trips — through public APIs only. Case counts are
//! for a plain `cargo test`; `ci/fuzz` scales them (see `properties_support`).

mod properties_support;

use properties_support::{check, nasty_bytes, nasty_text};
use proptest::prelude::*;
use semver::Version;
use std::path::Path;
use stevedore::build::dockerignore::{self, Matcher};
use stevedore::config::Config;
use stevedore::deploy::template::{self, Vars};
use stevedore::release::version::{self, Bump, Channel, Existing};
use stevedore::scan::gitleaks;

// ---------------------------------------------------------------- tags and versions

fn staging_ids() -> Vec<String> {
    vec!["beta".into(), "rc".into()]
}

/// A semantic version: any numbers, an optional prerelease (staging id or not) and build metadata.
fn versions() -> impl Strategy<Value = Version> {
    let num = prop_oneof![3 => 0u64..20, 1 => any::<u64>()];
    let ident = prop_oneof![
        Just("beta".to_string()),
        Just("rc".to_string()),
        "[a-zA-Z][a-zA-Z0-9-]{0,6}",
        "[1-9][0-9]{0,3}",
    ];
    let pre = prop::collection::vec(ident.clone(), 0..3).prop_map(|v| v.join("."));
    let build = prop::collection::vec("[a-zA-Z0-9-]{1,6}", 0..2).prop_map(|v| v.join("."));
    (num.clone(), num.clone(), num, pre, build).prop_map(|(a, b, c, pre, build)| {
        let mut v = Version::new(a, b, c);
        v.pre = semver::Prerelease::new(&pre).expect("generated prerelease is valid");
        v.build = semver::BuildMetadata::new(&build).expect("generated build is valid");
        v
    })
}

#[test]
fn a_version_tag_reads_back_as_its_version_with_or_without_prefix() {
    check(
        "version_roundtrip",
        512,
        (
            versions(),
            prop_oneof![Just(""), Just("v"), Just("release-")],
            "[ \t]{0,2}",
        ),
        |(v, prefix, pad)| {
            let tag = format!("{pad}{prefix}{v}{pad}");
            let got = version::parse_tag(&tag, prefix).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&got, &v);
            // The prefix is optional.
            prop_assert_eq!(&version::parse_tag(&v.to_string(), prefix).unwrap(), &v);
            // The channel follows the first prerelease identifier.
            let ch = version::channel_of(&v, &staging_ids());
            match version::pre_id(&v) {
                None => prop_assert_eq!(ch, Ok(Channel::Production)),
                Some("beta" | "rc") => prop_assert_eq!(ch, Ok(Channel::Staging)),
                Some(_) => prop_assert!(ch.is_err()),
            }
            Ok(())
        },
    );
}

#[test]
fn any_tag_text_parses_or_says_why_on_one_line() {
    check("version_any_text", 1024, nasty_text(40), |tag| {
        match version::parse_tag(&tag, "v") {
            Ok(v) => {
                // Whatever parsed prints as a version that parses back the same.
                prop_assert_eq!(version::parse_tag(&v.to_string(), "v").unwrap(), v);
            }
            Err(e) => {
                prop_assert!(e.contains("is not a semantic version"), "{}", e);
                // A tag's control characters never reach the message raw (no forged log lines).
                prop_assert!(
                    !e.chars().any(char::is_control),
                    "raw control char in {:?}",
                    e
                );
            }
        }
        Ok(())
    });
}

#[test]
fn the_next_version_is_above_every_existing_one_and_may_be_released() {
    let tags = prop::collection::vec(
        prop_oneof![versions().prop_map(|v| format!("v{v}")), nasty_text(12),],
        0..12,
    );
    let bump = prop_oneof![Just(Bump::Major), Just(Bump::Feature), Just(Bump::Fix)];
    check(
        "version_next",
        512,
        (tags, bump, any::<bool>()),
        |(tags, bump, beta)| {
            let ids = staging_ids();
            let e = Existing::from_tags(tags.iter().map(String::as_str), "v", &ids, None);
            for w in e.production.windows(2).chain(e.staging.windows(2)) {
                prop_assert_ne!(version::cmp(&w[0], &w[1]), std::cmp::Ordering::Greater);
            }
            let next = version::next_version(&e, bump, beta, "beta");
            let ch = version::channel_of(&next, &ids).map_err(TestCaseError::fail)?;
            prop_assert_eq!(
                ch,
                if beta {
                    Channel::Staging
                } else {
                    Channel::Production
                }
            );
            // A number at u64::MAX cannot be bumped (no panic, no wrap to 0): release refuses it.
            let at_max = |v: &Version| [v.major, v.minor, v.patch].contains(&u64::MAX);
            if e.production.iter().chain(&e.staging).any(at_max) {
                return Ok(());
            }
            prop_assert_eq!(
                e.ordering_refusal(&next, ch),
                None,
                "next {} of {:?}",
                next,
                tags
            );
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- .dockerignore

/// A path of 1–4 segments from a small alphabet, so patterns and paths meet.
fn small_paths() -> impl Strategy<Value = String> {
    // Segments as a walk yields them: never `.` or `..`.
    prop::collection::vec("[ab][ab.]{0,2}|\\.[ab]|x", 1..4).prop_map(|v| v.join("/"))
}

/// A `.dockerignore` line from pieces that matter: wildcards, `**`, classes, escapes, `!`, `..`, `/`.
fn dockerignore_lines() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[ab]{1,2}",
        Just("*".to_string()),
        Just("**".to_string()),
        Just("?".to_string()),
        Just("[a-b]".to_string()),
        Just("[^a]".to_string()),
        Just("\\*".to_string()),
        Just("..".to_string()),
        Just(".".to_string()),
        Just("x".to_string()),
    ];
    (any::<bool>(), prop::collection::vec(piece, 1..4))
        .prop_map(|(neg, parts)| format!("{}{}", if neg { "!" } else { "" }, parts.join("/")))
}

#[test]
fn any_dockerignore_bytes_compile_or_name_the_line_and_never_panic() {
    check(
        "dockerignore_any_bytes",
        256,
        (nasty_bytes(200), nasty_bytes(40)),
        |(text, path)| {
            match Matcher::for_context(&text, "Dockerfile", &[]) {
                Ok(m) => {
                    let _ = m.matches_or_parent_matches(&path);
                    let _ = m.matches_legacy(&path);
                    let _ = m.must_walk(&path);
                    // The Dockerfile and .dockerignore are always sent (the docker CLI's rule).
                    if !m.has_bad_patterns() {
                        prop_assert!(!m.matches_legacy(b"Dockerfile").unwrap());
                        prop_assert!(!m.matches_legacy(b".dockerignore").unwrap());
                    }
                }
                Err(e) => prop_assert!(e.to_string().contains(".dockerignore"), "{}", e),
            }
            Ok(())
        },
    );
}

/// Without exceptions the walk (a directory's results handed to its entries, as BuildKit's walker does)
/// and judging a path alone (every pattern against the path and each parent) must agree. With
/// exceptions Moby's two functions differ by design (`a/*` then `!?` keeps `a/a` out in the walk, in
/// alone); the context walk follows BuildKit, held against the docker CLI by `tests/context_diff.rs`.
#[test]
fn a_walk_with_parent_results_agrees_with_judging_each_path_alone() {
    check(
        "dockerignore_walk",
        192,
        (
            prop::collection::vec(dockerignore_lines(), 1..6),
            small_paths(),
        ),
        |(lines, path)| {
            let lines: Vec<String> = lines
                .iter()
                .map(|l| l.trim_start_matches('!').to_string())
                .collect();
            let Ok(m) = Matcher::for_context(lines.join("\n"), "Dockerfile", &[]) else {
                return Ok(());
            };
            if m.has_bad_patterns() {
                return Ok(());
            }
            let alone = m.matches_or_parent_matches(path.as_bytes()).unwrap();
            // Walk down from the root as the context walk does, handing each directory's result on.
            let mut info = Default::default();
            let mut walked = false;
            let segs: Vec<&str> = path.split('/').collect();
            for i in 1..=segs.len() {
                let (hit, next) = m
                    .matches_using_parent_results(segs[..i].join("/").as_bytes(), &info)
                    .unwrap();
                walked = hit;
                info = next;
            }
            prop_assert_eq!(walked, alone, "patterns {:?} path {}", lines, path);
            Ok(())
        },
    );
}

#[test]
fn a_literal_pattern_excludes_its_path_and_below_and_its_exception_brings_it_back() {
    let seg = "[a-z0-9_-]{1,8}";
    check(
        "dockerignore_literal",
        256,
        (prop::collection::vec(seg, 1..4), seg),
        |(segs, child)| {
            let p = segs.join("/");
            let m = Matcher::for_context(format!("{p}\n"), "Dockerfile", &[]).unwrap();
            prop_assert!(m.excludes(&p));
            let below = format!("{p}/{child}");
            prop_assert!(m.excludes(&below));
            let back = Matcher::for_context(format!("{p}\n!{p}\n"), "Dockerfile", &[]).unwrap();
            prop_assert!(!back.excludes(&p));
            Ok(())
        },
    );
}

#[test]
fn cleaning_a_path_is_idempotent() {
    check("dockerignore_clean", 384, nasty_bytes(60), |p| {
        let once = dockerignore::clean(&p);
        prop_assert_eq!(dockerignore::clean(&once), once);
        Ok(())
    });
}

// ---------------------------------------------------------------- .gitleaks.toml and RE2

#[test]
fn any_re2_pattern_translates_or_says_why() {
    check("re2_any", 512, nasty_text(60), |re| {
        match gitleaks::translate_re2(&re) {
            Ok(t) => {
                if !re.contains('\\') {
                    prop_assert_eq!(t, re);
                } else {
                    // Whatever it gives is handed to the regex crate: it must not panic there either.
                    let _ = regex::Regex::new(&t);
                }
            }
            Err(e) => prop_assert!(e.contains("\\C"), "{}", e),
        }
        Ok(())
    });
}

#[test]
fn a_quoted_literal_section_matches_exactly_its_text() {
    check("re2_quoted", 256, nasty_text(30), |lit| {
        prop_assume!(!lit.contains("\\E"));
        let t = gitleaks::translate_re2(&format!("^\\Q{lit}\\E$")).map_err(TestCaseError::fail)?;
        let re = regex::Regex::new(&t).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(re.is_match(&lit), "{:?} -> {:?}", lit, t);
        let longer = format!("{lit}x");
        prop_assert!(!re.is_match(&longer));
        Ok(())
    });
}

#[test]
fn an_octal_escape_matches_its_character() {
    check("re2_octal", 256, 0u32..0o400, |n| {
        let t = gitleaks::translate_re2(&format!("^\\{n:03o}$")).map_err(TestCaseError::fail)?;
        let re = regex::Regex::new(&t).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let c = char::from_u32(n).unwrap();
        prop_assert!(re.is_match(&c.to_string()), "\\{:03o} -> {:?}", n, t);
        Ok(())
    });
}

/// A `.gitleaks.toml`: rules and allowlists from pieces, with valid and broken regexes.
fn gitleaks_configs() -> impl Strategy<Value = String> {
    let regex = prop_oneof![
        Just(r"(?i)key\s*=\s*([a-z0-9]{16})".to_string()),
        Just(r"\Qa.b\E[0-9]{3}".to_string()),
        Just(r"(?P<x>ab)\<\075".to_string()),
        Just("(unclosed".to_string()),
        Just(r"a\Cb".to_string()),
        Just(r"(?=look)".to_string()),
        nasty_text(20),
    ];
    let rule = (
        "[a-z-]{1,10}",
        regex.clone(),
        prop::collection::vec("[a-z]{1,6}", 0..3),
        any::<bool>(),
    )
        .prop_map(|(id, re, kw, entropy)| {
            format!(
                "[[rules]]\nid = {id:?}\nregex = '''{re}'''\nkeywords = {kw:?}\n{}\n",
                if entropy { "entropy = 3.5" } else { "" }
            )
        });
    let allow = (regex, prop::collection::vec("[a-z]{1,6}", 0..3)).prop_map(|(re, words)| {
        format!("[[allowlists]]\nregexes = ['''{re}''']\nstopwords = {words:?}\n")
    });
    (
        prop::collection::vec(rule, 0..4),
        prop::collection::vec(allow, 0..2),
        any::<bool>(),
    )
        .prop_map(|(rules, allows, extend)| {
            let head = if extend {
                "[extend]\nuseDefault = true\n"
            } else {
                ""
            };
            format!("title = \"t\"\n{head}{}{}", rules.concat(), allows.concat())
        })
}

#[test]
fn any_gitleaks_config_loads_or_names_the_problem() {
    check(
        "gitleaks_config",
        96,
        prop_oneof![gitleaks_configs(), nasty_text(200)],
        |text| {
            match gitleaks::parse_str(&text, Path::new(".gitleaks.toml")) {
                Ok(loaded) => {
                    // What loaded compiles into a detector that scans without panicking.
                    if let Ok(d) =
                        stevedore::scan::detect::Detector::new(loaded.rules, loaded.global)
                    {
                        let _ = d.scan("a.txt", None, text.as_bytes());
                    }
                }
                Err(e) => {
                    let msg = format!("{e:#}");
                    prop_assert!(msg.contains(".gitleaks.toml"), "{}", msg);
                }
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- stevedore.toml

/// A `stevedore.toml` from known sections and keys with values of right and wrong types.
fn stevedore_tomls() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        Just("true".to_string()),
        Just("42".to_string()),
        Just("\"10m\"".to_string()),
        Just("\"2 GB\"".to_string()),
        Just("[\"a\", \"b\"]".to_string()),
        Just("{ x = 1 }".to_string()),
        Just("\"\"".to_string()),
        nasty_text(10).prop_map(|s| format!("{s:?}")),
    ];
    let key = prop::sample::select(vec![
        "exclude",
        "max_file_size",
        "image",
        "file",
        "timeout",
        "latest",
        "min_free",
        "keep",
        "older_than",
        "stream",
        "topic",
        "tag_prefix",
        "staging_ids",
        "parallel",
        "verify_timeout",
        "request_timeout",
        "fail_fast",
        "unknown_key",
    ]);
    let section = prop::sample::select(vec![
        "scan", "build", "prune", "notify", "release", "deploy", "other",
    ]);
    prop::collection::vec((section, prop::collection::vec((key, value), 0..4)), 0..4).prop_map(
        |secs| {
            secs.into_iter()
                .map(|(s, kv)| {
                    let body: String = kv.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
                    format!("[{s}]\n{body}")
                })
                .collect::<Vec<_>>()
                .join("\n")
        },
    )
}

#[test]
fn any_stevedore_toml_loads_or_fails_with_exit_2_naming_file_and_line() {
    check(
        "stevedore_toml",
        512,
        prop_oneof![stevedore_tomls(), nasty_text(120)],
        |text| {
            if let Err(e) = Config::parse(&text, Path::new("stevedore.toml")) {
                let msg = stevedore::exit::render(&e);
                prop_assert_eq!(
                    stevedore::exit::code_of(&e),
                    stevedore::exit::ExitCode::Usage
                );
                prop_assert!(
                    msg.starts_with("error: stevedore.toml:") || msg.contains("stevedore.toml:"),
                    "{}",
                    msg
                );
            }
            Ok(())
        },
    );
}

#[test]
fn a_byte_offset_anywhere_in_a_text_has_a_line_and_column() {
    check(
        "config_line_col",
        256,
        (nasty_text(60), any::<usize>()),
        |(text, at)| {
            let (line, col) = stevedore::config::line_col(&text, at % (text.len() + 2));
            prop_assert!(line >= 1 && col >= 1);
            prop_assert!(line <= text.lines().count().max(1) + 1);
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- dotenv

/// Reads dotenv text as GitLab does: one `KEY=value` a line, split at the first `=`.
fn read_dotenv(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(|l| {
            let (k, v) = l.split_once('=').expect("every line has a =");
            (k.to_string(), v.to_string())
        })
        .collect()
}

#[test]
fn dotenv_reads_back_as_written_or_refuses_the_value() {
    let key = prop_oneof![4 => "[A-Z_][A-Z0-9_]{0,12}", 1 => nasty_text(6)];
    let value = prop_oneof![3 => "[ -~]{0,40}", 1 => nasty_text(30)];
    check(
        "dotenv",
        256,
        prop::collection::vec((key, value), 0..6),
        |pairs| {
            let refs: Vec<(&str, String)> =
                pairs.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            let writable = pairs.iter().all(|(k, v)| {
                !k.is_empty()
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !v.contains(['\n', '\r', '"', '\''])
            });
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(".stevedore").join("build.env");
            match stevedore::dotenv::write(&path, &refs) {
                Ok(()) => {
                    prop_assert!(writable, "wrote an unreadable dotenv for {:?}", pairs);
                    let text = std::fs::read_to_string(&path).unwrap();
                    prop_assert_eq!(read_dotenv(&text), pairs);
                }
                Err(e) => {
                    prop_assert!(!writable, "refused {:?}: {}", pairs, e);
                    // Nothing half-written is left behind.
                    prop_assert!(!path.exists());
                    let msg = stevedore::exit::render(&e);
                    prop_assert!(msg.contains("dotenv"), "{}", msg);
                }
            }
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- deploy templates

fn vars() -> impl Strategy<Value = Vars> {
    prop::collection::vec(nasty_text(12), 7).prop_map(|v| Vars {
        image: v[0].clone(),
        digest: v[1].clone(),
        version: v[2].clone(),
        client: v[3].clone(),
        name: v[4].clone(),
        environment: v[5].clone(),
        repository: v[6].clone(),
    })
}

fn value_of<'a>(vars: &'a Vars, name: &str) -> &'a str {
    match name {
        "image" => &vars.image,
        "digest" => &vars.digest,
        "version" => &vars.version,
        "client" => &vars.client,
        "name" => &vars.name,
        "environment" => &vars.environment,
        _ => &vars.repository,
    }
}

#[test]
fn a_template_renders_each_placeholder_once_and_leaves_the_rest() {
    // Literal pieces without `{`, so only the generated placeholders are placeholders.
    let literal = "[^{]{0,8}";
    let piece = (
        literal,
        prop::option::of(prop::sample::select(template::PLACEHOLDERS.to_vec())),
    );
    check(
        "template_render",
        512,
        (prop::collection::vec(piece, 0..6), vars()),
        |(pieces, vars)| {
            let t: String = pieces
                .iter()
                .map(|(l, p)| format!("{l}{}", p.map(|p| format!("{{{p}}}")).unwrap_or_default()))
                .collect();
            let want: String = pieces
                .iter()
                .map(|(l, p)| format!("{l}{}", p.map(|p| value_of(&vars, p)).unwrap_or("")))
                .collect();
            prop_assert!(template::check(&t).is_ok());
            // Values are inserted as they are, never expanded again (a value may hold `{version}`).
            prop_assert_eq!(template::render(&t, &vars), want);
            Ok(())
        },
    );
}

#[test]
fn any_template_text_renders_without_panic_and_unknown_placeholders_are_refused() {
    check(
        "template_any",
        384,
        (nasty_text(60), vars()),
        |(t, vars)| {
            let out = template::render(&t, &vars);
            if !t.contains('{') {
                prop_assert_eq!(&out, &t);
            }
            if let Err(e) = template::check(&t) {
                prop_assert!(e.contains("unknown placeholder"), "{}", e);
            }
            // JSON bodies keep their shape: the same keys' count, numbers and booleans untouched.
            let body = serde_json::json!({"a": t, "n": 3, "b": true, "l": [t, 1]});
            let r = template::render_json(&body, &vars);
            prop_assert_eq!(&r["n"], &serde_json::json!(3));
            prop_assert_eq!(&r["b"], &serde_json::json!(true));
            prop_assert_eq!(r["l"].as_array().map(Vec::len), Some(2));
            Ok(())
        },
    );
}

// ---------------------------------------------------------------- regressions

/// What the properties found failing, kept in `tests/data/regressions/found.toml` and replayed here.
#[derive(serde::Deserialize)]
struct Found {
    line_col: Vec<LineCol>,
    next_version: Vec<NextVersion>,
}

#[derive(serde::Deserialize)]
struct LineCol {
    text: String,
    offset: usize,
}

#[derive(serde::Deserialize)]
struct NextVersion {
    tags: Vec<String>,
    bump: String,
    beta: bool,
    want: String,
}

#[test]
fn regressions_found_by_the_properties_stay_fixed() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/regressions/found.toml");
    let found: Found = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for c in &found.line_col {
        assert!(
            !c.text.is_char_boundary(c.offset),
            "the kept offset is inside a character"
        );
        let (line, col) = stevedore::config::line_col(&c.text, c.offset);
        assert!(line >= 1 && col >= 1);
    }
    for c in &found.next_version {
        let ids = staging_ids();
        let e = Existing::from_tags(c.tags.iter().map(String::as_str), "v", &ids, None);
        let bump = match c.bump.as_str() {
            "major" => Bump::Major,
            "feature" => Bump::Feature,
            _ => Bump::Fix,
        };
        let next = version::next_version(&e, bump, c.beta, "beta");
        assert_eq!(next.to_string(), c.want);
        let ch = version::channel_of(&next, &ids).unwrap();
        assert_eq!(e.ordering_refusal(&next, ch), None);
    }
}
