//! The image's repository and tags, from the release version or the branch.
//!
//! * A release `v1.4.2` (or `1.4.2`) → `1.4.2`, `1.4`, `1`, `latest`; for `0.x` no bare `0`; `latest` can
//!   be turned off (`[build] latest = false`).
//! * A prerelease `v1.5.0-beta.2` → `1.5.0-beta.2` and its channel (`beta`) only.
//! * No version tag → the branch slug (`$CI_COMMIT_REF_SLUG`) and `sha-$CI_COMMIT_SHORT_SHA`.
//! * `--tag` replaces all of these.
//!
//! Repositories are lower-cased and checked against Docker's reference grammar; tags are sanitised to
//! `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.

use crate::ci::Context;
use crate::exit::{ExitCode, coded};

/// Makes any text a valid Docker tag: characters outside `[A-Za-z0-9_.-]` become `-`, a leading `.` or
/// `-` becomes `_`, at most 128 characters. Empty text gives `latest`.
pub fn sanitize_tag(raw: &str) -> String {
    let mut s: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect();
    if s.is_empty() {
        return "latest".into();
    }
    if s.starts_with('.') || s.starts_with('-') {
        s.replace_range(0..1, "_");
    }
    s
}

/// True when `s` is a valid path component of a repository name (`[a-z0-9]+` joined by `.`, `_`, `__`
/// or runs of `-`).
fn valid_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            i += 1;
            continue;
        }
        // A separator: ".", "_", "__" or one or more "-", always between alphanumerics.
        let start = i;
        match c {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if b.get(i) == Some(&b'_') {
                    i += 1;
                }
            }
            b'-' => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || !b.get(i).is_some_and(|c| c.is_ascii_alphanumeric()) {
            return false;
        }
    }
    true
}

/// Lower-cases and checks a repository (`[registry[:port]/]path/name`, no tag): exit 2 naming the
/// problem when it is not a valid Docker reference.
pub fn normalize_repository(raw: &str) -> anyhow::Result<String> {
    let repo = raw.trim().to_lowercase();
    let bad = |why: &str| {
        coded(
            ExitCode::Usage,
            format!(
                "--image {raw:?} is not a valid image repository: {why} — use e.g. registry.example.com/group/app (no tag; tags come from the version or --tag)"
            ),
        )
    };
    if repo.is_empty() {
        return Err(bad("it is empty"));
    }
    if repo.contains('@') {
        return Err(bad("a digest has no place here"));
    }
    let mut parts: Vec<&str> = repo.split('/').collect();
    let first = parts[0];
    let has_registry =
        parts.len() > 1 && (first.contains('.') || first.contains(':') || first == "localhost");
    if has_registry {
        parts.remove(0);
    }
    let last = parts.last().copied().unwrap_or("");
    if last.contains(':') {
        return Err(bad("it carries a tag"));
    }
    for p in &parts {
        if !valid_component(p) {
            return Err(bad(&format!("{p:?} is not a valid path component")));
        }
    }
    Ok(repo)
}

/// A repository name made from a project name (for local builds without `$CI_REGISTRY_IMAGE`).
pub fn repository_from_name(name: &str) -> String {
    let mut s = String::new();
    for c in name.to_lowercase().chars() {
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if c == '-' && (s.is_empty() || s.ends_with('-')) {
            continue;
        }
        s.push(c);
    }
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() { "app".into() } else { s }
}

/// The registry host of a repository (`docker.io` when it names none).
pub use crate::docker::credentials::registry_of_image as registry_of;

/// The path of a repository inside its registry (`library/x` for Docker Hub official images).
pub fn path_in_registry(repo: &str) -> String {
    match repo.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest.to_string()
        }
        Some(_) => repo.to_string(),
        None => format!("library/{repo}"),
    }
}

/// What `-t` flags say: the repository of the full references among them, and the tags.
#[derive(Debug, Default, PartialEq)]
pub struct TagFlags {
    /// The repository `-t NAME:TAG` names, lower-case checked.
    pub repository: Option<String>,
    /// The tags, in order, without duplicates.
    pub tags: Vec<String>,
}

/// True for a valid Docker tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"_.-".contains(c))
}

/// Reads `-t` values as `docker build` does where that is unambiguous: `NAME:TAG` or `REGISTRY/NAME`
/// (no tag: `latest`) is a full reference; a bare word is a tag of the known image (`image_known`),
/// and refused without one. Nothing is rewritten: an invalid name or tag is an error saying why.
pub fn parse_tag_flags(values: &[String], image_known: bool) -> anyhow::Result<TagFlags> {
    let mut out = TagFlags::default();
    for raw in values {
        let usage = |why: String| coded(ExitCode::Usage, format!("-t {raw:?}: {why}"));
        let (repo, tag) = match raw.rfind(':') {
            Some(i) if !raw[i..].contains('/') => (&raw[..i], &raw[i + 1..]),
            _ if raw.contains('/') => (raw.as_str(), "latest"),
            _ if image_known => ("", raw.as_str()),
            _ => {
                return Err(usage(format!(
                    "ambiguous — `docker build` reads it as the image {raw}:latest, stevedore as a tag of the project's image; write -t {raw}:latest for the image, or --image REPOSITORY -t {raw} for the tag"
                )));
            }
        };
        if raw.contains('@') {
            return Err(usage("a digest cannot be a tag — write NAME:TAG".into()));
        }
        if !valid_tag(tag) {
            return Err(usage(format!(
                "{tag:?} is not a valid tag (letters, digits, `_`, `.`, `-`; at most 128; not starting with `.` or `-`)"
            )));
        }
        if !repo.is_empty() {
            if repo != repo.to_lowercase() {
                return Err(usage("repository names must be lowercase".into()));
            }
            let repo = normalize_repository(repo)?;
            match &out.repository {
                Some(r) if *r != repo => {
                    return Err(usage(format!(
                        "stevedore builds one repository per run, and -t already named {r}; tag the other repository after the build"
                    )));
                }
                _ => out.repository = Some(repo),
            }
        }
        if !out.tags.iter().any(|t| t == tag) {
            out.tags.push(tag.to_string());
        }
    }
    Ok(out)
}

/// The tags for a build: `--tag` values when given, else from the version tag or the branch.
pub fn tags_for(ctx: &Context, explicit: &[String], latest: bool) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |t: String| {
        let t = sanitize_tag(&t);
        if !out.contains(&t) {
            out.push(t);
        }
    };
    if !explicit.is_empty() {
        for t in explicit {
            push(t.clone());
        }
        return out;
    }
    if let Some(tag) = &ctx.commit_tag {
        let bare = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
        match semver::Version::parse(bare) {
            Ok(v) if v.pre.is_empty() => {
                push(format!("{}.{}.{}", v.major, v.minor, v.patch));
                push(format!("{}.{}", v.major, v.minor));
                if v.major > 0 {
                    push(v.major.to_string());
                }
                if latest {
                    push("latest".into());
                }
            }
            Ok(v) => {
                push(format!("{}.{}.{}-{}", v.major, v.minor, v.patch, v.pre));
                if let Some(ch) = channel_of(v.pre.as_str()) {
                    push(ch);
                }
            }
            Err(_) => push(tag.clone()),
        }
        return out;
    }
    if let Some(slug) = &ctx.commit_ref_slug {
        push(slug.clone());
    }
    if let Some(sha) = &ctx.commit_short_sha {
        push(format!("sha-{sha}"));
    }
    if ctx.commit_ref_slug.is_none() && ctx.commit_short_sha.is_none() {
        push("latest".into());
    }
    out
}

/// The channel of a prerelease: its first identifier without trailing digits (`beta.2` → `beta`,
/// `rc1` → `rc`); none for a numeric prerelease.
pub fn channel_of(pre: &str) -> Option<String> {
    let first = pre.split('.').next()?;
    let ch = first.trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '_');
    (!ch.is_empty() && ch.chars().any(|c| c.is_ascii_alphabetic())).then(|| ch.to_lowercase())
}

/// The version label value: the tag without its `v` when it is a version, else none.
pub fn version_of(ctx: &Context) -> Option<String> {
    let tag = ctx.commit_tag.as_ref()?;
    let bare = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
    semver::Version::parse(bare)
        .ok()
        .map(|v| v.to_string())
        .or_else(|| Some(tag.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(tag: Option<&str>) -> Context {
        Context {
            commit_tag: tag.map(str::to_string),
            commit_ref_slug: Some("feature-x".into()),
            commit_short_sha: Some("0123abcd".into()),
            ..Default::default()
        }
    }

    #[test]
    fn release_tags() {
        assert_eq!(
            tags_for(&ctx(Some("v1.4.2")), &[], true),
            ["1.4.2", "1.4", "1", "latest"]
        );
        assert_eq!(
            tags_for(&ctx(Some("1.4.2")), &[], false),
            ["1.4.2", "1.4", "1"]
        );
        assert_eq!(
            tags_for(&ctx(Some("v0.3.1")), &[], true),
            ["0.3.1", "0.3", "latest"]
        );
    }

    #[test]
    fn prerelease_tags() {
        assert_eq!(
            tags_for(&ctx(Some("v1.5.0-beta.2")), &[], true),
            ["1.5.0-beta.2", "beta"]
        );
        assert_eq!(
            tags_for(&ctx(Some("v2.0.0-rc1")), &[], true),
            ["2.0.0-rc1", "rc"]
        );
        assert_eq!(tags_for(&ctx(Some("v2.0.0-1")), &[], true), ["2.0.0-1"]);
    }

    #[test]
    fn branch_tags_and_overrides() {
        assert_eq!(
            tags_for(&ctx(None), &[], true),
            ["feature-x", "sha-0123abcd"]
        );
        assert_eq!(tags_for(&Context::default(), &[], true), ["latest"]);
        let explicit = vec!["Edge/Build".to_string(), "x".into(), "x".into()];
        assert_eq!(
            tags_for(&ctx(Some("v1.0.0")), &explicit, true),
            ["Edge-Build", "x"]
        );
        assert_eq!(
            tags_for(&ctx(Some("release-candidate")), &[], true),
            ["release-candidate"]
        );
    }

    #[test]
    fn tag_flags_follow_docker_where_unambiguous() {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let f = parse_tag_flags(&v(&["nc-other:1.0", "nc-other:latest"]), false).unwrap();
        assert_eq!(f.repository.as_deref(), Some("nc-other"));
        assert_eq!(f.tags, ["1.0", "latest"]);
        let f = parse_tag_flags(&v(&["127.0.0.1:5000/a/b"]), false).unwrap();
        assert_eq!(f.repository.as_deref(), Some("127.0.0.1:5000/a/b"));
        assert_eq!(f.tags, ["latest"]);
        let f = parse_tag_flags(&v(&["edge", "x", "x"]), true).unwrap();
        assert_eq!((f.repository, f.tags), (None, v(&["edge", "x"])));
        let e = parse_tag_flags(&v(&["edge"]), false).unwrap_err();
        assert!(crate::exit::render(&e).contains("ambiguous"));
        assert!(parse_tag_flags(&v(&["a:1", "b:2"]), true).is_err());
        assert!(parse_tag_flags(&v(&["App:1"]), true).is_err());
        assert!(parse_tag_flags(&v(&["a:bad+tag"]), true).is_err());
        assert!(parse_tag_flags(&v(&["a:.x"]), true).is_err());
        assert!(parse_tag_flags(&v(&["a@sha256:00"]), true).is_err());
    }

    #[test]
    fn tags_are_sanitised() {
        assert_eq!(sanitize_tag("feat/ü+x"), "feat---x");
        assert_eq!(sanitize_tag(".hidden"), "_hidden");
        assert_eq!(sanitize_tag(""), "latest");
        assert_eq!(sanitize_tag(&"a".repeat(300)).len(), 128);
    }

    #[test]
    fn repositories() {
        assert_eq!(
            normalize_repository("Registry.Example.com:5000/Group/App").unwrap(),
            "registry.example.com:5000/group/app"
        );
        assert!(normalize_repository("app:1.0").is_err());
        assert!(normalize_repository("a/-b").is_err());
        assert!(normalize_repository("a/b@sha256:00").is_err());
        assert!(normalize_repository("my_app/x__y/a-b--c").is_ok());
        assert_eq!(repository_from_name("My Project_2"), "my-project-2");
        assert_eq!(registry_of("127.0.0.1:5000/a/b"), "127.0.0.1:5000");
        assert_eq!(registry_of("a/b"), "docker.io");
        assert_eq!(path_in_registry("127.0.0.1:5000/a/b"), "a/b");
        assert_eq!(path_in_registry("nginx"), "library/nginx");
    }
}
