//! The pure rules of a release: a tag to a version, a version to a channel, the ordering policy against
//! the tags that already exist, and the next version to tag. No I/O here; [`super::git`] reads the tags.

use semver::{Prerelease, Version};
use serde::Serialize;
use std::cmp::Ordering;

/// Where a version goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// A prerelease whose first identifier is a staging id (`beta`, `rc`).
    Staging,
    /// A plain `X.Y.Z`.
    Production,
}

impl Channel {
    /// Lower-case name, as written to the dotenv file.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Staging => "staging",
            Channel::Production => "production",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Parses a tag as a semantic version: the configured prefix (e.g. `v`) is optional.
pub fn parse_tag(tag: &str, prefix: &str) -> Result<Version, String> {
    let t = tag.trim();
    let bare = if !prefix.is_empty() {
        t.strip_prefix(prefix).unwrap_or(t)
    } else {
        t
    };
    Version::parse(bare).map_err(|e| {
        format!(
            "tag `{}` is not a semantic version ({e}): tag releases as {prefix}MAJOR.MINOR.PATCH, \
             or {prefix}MAJOR.MINOR.PATCH-beta.N for staging",
            shown(tag)
        )
    })
}

/// A tag (or any value from the CI environment) as it is printed in messages: control characters —
/// a newline in `CI_COMMIT_TAG`, an escape sequence — escaped (`\n`, `\u{1b}`), so one value stays one
/// line and cannot forge log lines or terminal output.
pub fn shown(tag: &str) -> String {
    tag.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The first identifier of a prerelease (`beta` in `beta.2`), if any.
pub fn pre_id(v: &Version) -> Option<&str> {
    if v.pre.is_empty() {
        None
    } else {
        v.pre.as_str().split('.').next()
    }
}

/// The channel of a version: plain → production; a prerelease whose first identifier is one of
/// `staging_ids` → staging; any other prerelease is refused.
pub fn channel_of(v: &Version, staging_ids: &[String]) -> Result<Channel, String> {
    match pre_id(v) {
        None => Ok(Channel::Production),
        Some(id) if staging_ids.iter().any(|s| s == id) => Ok(Channel::Staging),
        Some(id) => Err(format!(
            "prerelease `{id}` of {v} is not a staging id (allowed: {}): tag X.Y.Z-{}.N, or add `{id}` to [release] staging_ids",
            staging_ids.join(", "),
            staging_ids.first().map(String::as_str).unwrap_or("beta")
        )),
    }
}

/// Semantic-version precedence (build metadata ignored).
pub fn cmp(a: &Version, b: &Version) -> Ordering {
    a.cmp_precedence(b)
}

/// The versions already tagged, split by channel. Tags of other prereleases are ignored.
#[derive(Clone, Debug, Default)]
pub struct Existing {
    /// Plain versions.
    pub production: Vec<Version>,
    /// Prereleases with a staging id.
    pub staging: Vec<Version>,
}

impl Existing {
    /// Sorts the existing tags into channels; tags that are not versions are skipped, and so is `skip`
    /// (the tag being released itself).
    pub fn from_tags<'a>(
        tags: impl IntoIterator<Item = &'a str>,
        prefix: &str,
        staging_ids: &[String],
        skip: Option<&str>,
    ) -> Existing {
        let mut e = Existing::default();
        for t in tags {
            if Some(t) == skip {
                continue;
            }
            let Ok(v) = parse_tag(t, prefix) else {
                continue;
            };
            match channel_of(&v, staging_ids) {
                Ok(Channel::Production) => e.production.push(v),
                Ok(Channel::Staging) => e.staging.push(v),
                Err(_) => {}
            }
        }
        e.production.sort_by(cmp);
        e.staging.sort_by(cmp);
        e
    }

    /// The highest version on a channel.
    pub fn highest(&self, ch: Channel) -> Option<&Version> {
        match ch {
            Channel::Production => self.production.last(),
            Channel::Staging => self.staging.last(),
        }
    }

    /// Why `v` may not be released on `ch`, if it may not: it must be above the highest version on its
    /// channel, and a prerelease must also be above the highest production version (no beta of a released
    /// version).
    pub fn ordering_refusal(&self, v: &Version, ch: Channel) -> Option<String> {
        if ch == Channel::Staging
            && let Some(p) = self.production.last()
            && cmp(v, p) != Ordering::Greater
        {
            return Some(format!(
                "{v} is not above {p}, already released to production: no beta of a released version — tag a prerelease of a higher version, e.g. {}",
                Version {
                    patch: p.patch + 1,
                    pre: Prerelease::new("beta.1").unwrap_or(Prerelease::EMPTY),
                    ..p.clone()
                }
            ));
        }
        if let Some(h) = self.highest(ch) {
            match cmp(v, h) {
                Ordering::Equal => {
                    return Some(format!(
                        "{v} is already released on {ch} (tag of {h} exists): no re-release — tag a new version"
                    ));
                }
                Ordering::Less => {
                    return Some(format!(
                        "{v} is below {h}, the highest version on {ch}: no downgrade — tag a version above {h}"
                    ));
                }
                Ordering::Greater => {}
            }
        }
        None
    }
}

/// What kind of change the next version carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bump {
    /// Breaking change: the major.
    Major,
    /// A feature: the minor.
    Feature,
    /// A fix: the patch.
    Fix,
}

/// The plain `X.Y.Z` of a version.
pub fn core(v: &Version) -> Version {
    Version::new(v.major, v.minor, v.patch)
}

/// The next version from the existing tags: a feature bumps the minor of the highest production version, a
/// fix its patch, a major its major; with `beta`, the next `-beta.N` of that version (or of the version the
/// betas in flight already lead to, when it is higher). The result is always above every existing version
/// of its channel, so `release` accepts it: after `1.6.0-rc.1` the next prerelease is `1.6.0-rc.2`, not a
/// `1.6.0-beta.1` below it. Numbers at `u64::MAX` stay there (release then refuses the re-release).
pub fn next_version(existing: &Existing, b: Bump, beta: bool, beta_id: &str) -> Version {
    let zero = Version::new(0, 0, 0);
    let prod = existing.production.last().unwrap_or(&zero);
    let mut target = match b {
        Bump::Major => Version::new(prod.major.saturating_add(1), 0, 0),
        Bump::Feature => Version::new(prod.major, prod.minor.saturating_add(1), 0),
        Bump::Fix => Version::new(prod.major, prod.minor, prod.patch.saturating_add(1)),
    };
    if !beta {
        return target;
    }
    let Some(s) = existing.staging.last() else {
        return prerelease(existing, target, beta_id);
    };
    let c = core(s);
    if cmp(&c, &target) == Ordering::Greater {
        target = c;
    }
    let next = prerelease(existing, target.clone(), beta_id);
    if cmp(&next, s) == Ordering::Greater {
        return next;
    }
    // A prerelease with a later id (`rc` after `beta`) leads: go on with its id, else the next patch.
    let next = prerelease(existing, target.clone(), pre_id(s).unwrap_or(beta_id));
    if cmp(&next, s) == Ordering::Greater {
        return next;
    }
    target.patch = target.patch.saturating_add(1);
    prerelease(existing, target, beta_id)
}

/// `target-ID.N` with N one above the highest `ID.N` already tagged for `target` (1 when none).
fn prerelease(existing: &Existing, mut target: Version, id: &str) -> Version {
    let n = existing
        .staging
        .iter()
        .filter(|v| core(v) == target)
        .filter_map(|v| {
            let mut parts = v.pre.as_str().split('.');
            (parts.next() == Some(id))
                .then(|| parts.next().and_then(|n| n.parse::<u64>().ok()))
                .flatten()
        })
        .max()
        .map(|n| n.saturating_add(1))
        .unwrap_or(1);
    target.pre = Prerelease::new(&format!("{id}.{n}")).unwrap_or(Prerelease::EMPTY);
    target
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        vec!["beta".into(), "rc".into()]
    }

    #[test]
    fn tags_are_printed_escaped() {
        assert_eq!(shown("v1.0.0\nINFO deployed"), "v1.0.0\\nINFO deployed");
        assert_eq!(shown("v1\u{1b}[31m"), "v1\\u{1b}[31m");
        assert_eq!(shown("v1.0.0-bêta"), "v1.0.0-bêta");
        let e = parse_tag("v1.0.0\nrm -rf", "v").unwrap_err();
        assert!(!e.contains('\n') && e.contains("v1.0.0\\nrm -rf"), "{e}");
    }

    #[test]
    fn tags_to_channels() {
        let table: &[(&str, Result<Channel, &str>)] = &[
            ("v1.5.0", Ok(Channel::Production)),
            ("1.5.0", Ok(Channel::Production)),
            ("v1.5.0-beta.2", Ok(Channel::Staging)),
            ("v2.0.0-rc.1", Ok(Channel::Staging)),
            ("v2.0.0-beta", Ok(Channel::Staging)),
            ("v1.5.0+build.7", Ok(Channel::Production)),
            ("v1.5.0-alpha.1", Err("not a staging id")),
            ("v1.5", Err("not a semantic version")),
            ("release-1", Err("not a semantic version")),
            ("v01.2.3", Err("not a semantic version")),
            ("", Err("not a semantic version")),
        ];
        for (tag, want) in table {
            let got = parse_tag(tag, "v").and_then(|v| channel_of(&v, &ids()));
            match (got, want) {
                (Ok(c), Ok(w)) => assert_eq!(c, *w, "{tag}"),
                (Err(e), Err(w)) => assert!(e.contains(w), "{tag}: {e}"),
                (g, w) => panic!("{tag}: got {g:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn custom_prefix_and_ids() {
        let v = parse_tag("release-3.1.0-preview.1", "release-").unwrap();
        assert_eq!(
            channel_of(&v, &["preview".to_string()]),
            Ok(Channel::Staging)
        );
    }

    fn existing(tags: &[&str]) -> Existing {
        Existing::from_tags(tags.iter().copied(), "v", &ids(), None)
    }

    #[test]
    fn ordering_policy() {
        let e = existing(&["v1.4.0", "v1.5.0", "v1.6.0-beta.1", "v1.6.0-beta.2", "junk"]);
        let ok = |t: &str| {
            let v = parse_tag(t, "v").unwrap();
            let ch = channel_of(&v, &ids()).unwrap();
            e.ordering_refusal(&v, ch)
        };
        assert_eq!(ok("v1.5.1"), None);
        assert_eq!(ok("v1.6.0"), None);
        assert_eq!(ok("v1.6.0-beta.3"), None);
        assert_eq!(ok("v1.6.0-rc.1"), None);
        assert!(ok("v1.5.0").unwrap().contains("re-release"));
        assert!(ok("1.5.0").unwrap().contains("re-release"));
        assert!(ok("v1.4.9").unwrap().contains("downgrade"));
        assert!(ok("v1.6.0-beta.2").unwrap().contains("re-release"));
        assert!(ok("v1.6.0-beta.1").unwrap().contains("downgrade"));
        let e2 = existing(&["v1.6.0"]);
        let v = parse_tag("v1.6.0-beta.9", "v").unwrap();
        assert!(
            e2.ordering_refusal(&v, Channel::Staging)
                .unwrap()
                .contains("no beta of a released version")
        );
    }

    #[test]
    fn next_versions() {
        let e = existing(&["v1.4.0", "v1.5.0", "v1.6.0-beta.1", "v1.6.0-beta.2"]);
        let n = |b, beta| next_version(&e, b, beta, "beta").to_string();
        assert_eq!(n(Bump::Feature, false), "1.6.0");
        assert_eq!(n(Bump::Fix, false), "1.5.1");
        assert_eq!(n(Bump::Major, false), "2.0.0");
        assert_eq!(n(Bump::Feature, true), "1.6.0-beta.3");
        assert_eq!(n(Bump::Fix, true), "1.6.0-beta.3");
        assert_eq!(n(Bump::Major, true), "2.0.0-beta.1");
        // An rc of the target leads: the next prerelease goes on with rc, never a beta below it.
        let rc = existing(&["v0.0.9", "v0.1.0-rc"]);
        assert_eq!(
            next_version(&rc, Bump::Feature, true, "beta").to_string(),
            "0.1.0-rc.1"
        );
        let empty = existing(&[]);
        assert_eq!(
            next_version(&empty, Bump::Feature, true, "beta").to_string(),
            "0.1.0-beta.1"
        );
    }
}
