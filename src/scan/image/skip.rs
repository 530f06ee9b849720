//! The skip list: paths that every base image ships and no team controls (documentation, language test
//! suites, CA bundles, package-manager databases). Their files are not read; the summary says how many
//! files each pattern left out, so a team sees what the list hides and can change it in `[scan]`
//! (`image_skip` replaces the list, `image_skip_add` extends it).

use globset::{Glob, GlobBuilder, GlobSet, GlobSetBuilder};

/// The default list. Patterns are globs over absolute paths in the image (`*` stays inside one path
/// component, `**` crosses them).
pub const DEFAULT: &[&str] = &[
    // Documentation, manual pages, licences and translations shipped by packages.
    "/usr/share/doc/**",
    "/usr/share/man/**",
    "/usr/share/info/**",
    "/usr/share/licenses/**",
    "/usr/share/common-licenses/**",
    "/usr/share/locale/**",
    "/usr/share/i18n/**",
    "/usr/share/zoneinfo/**",
    // Language runtimes' own test suites (they ship test keys on purpose).
    "/usr/lib/python3*/test/**",
    "/usr/local/lib/python3*/test/**",
    "/usr/lib/python3*/**/tests/**",
    "/usr/local/go/src/**/testdata/**",
    "/usr/lib/go-*/src/**/testdata/**",
    // CA bundles and the system trust store.
    "/etc/ssl/certs/**",
    "/etc/pki/**",
    "/etc/ca-certificates/**",
    "/usr/share/ca-certificates/**",
    "/usr/share/pki/**",
    // Package-manager databases and caches.
    "/var/lib/dpkg/**",
    "/var/lib/apt/**",
    "/var/cache/apt/**",
    "/var/cache/debconf/**",
    "/var/lib/rpm/**",
    "/usr/lib/sysimage/rpm/**",
    "/var/lib/dnf/**",
    "/var/lib/yum/**",
    "/var/cache/yum/**",
    "/lib/apk/db/**",
    "/var/cache/apk/**",
    "/var/log/apt/**",
    "/var/log/dpkg.log",
];

/// A compiled skip list with a counter per pattern.
#[derive(Clone, Debug)]
pub struct SkipList {
    patterns: Vec<String>,
    set: GlobSet,
}

impl Default for SkipList {
    fn default() -> SkipList {
        let d: Vec<String> = DEFAULT.iter().map(|s| s.to_string()).collect();
        SkipList::new(&d).unwrap_or_else(|_| SkipList::empty())
    }
}

impl SkipList {
    /// No pattern: every file is read.
    pub fn empty() -> SkipList {
        SkipList {
            patterns: Vec::new(),
            set: GlobSet::empty(),
        }
    }

    /// Compiles `patterns` (absolute paths in the image; a pattern without a leading `/` is anchored
    /// at the root). An invalid glob is an error naming it.
    pub fn new(patterns: &[String]) -> anyhow::Result<SkipList> {
        let mut b = GlobSetBuilder::new();
        let mut kept = Vec::new();
        for p in patterns {
            let norm = if p.starts_with('/') {
                p.clone()
            } else {
                format!("/{p}")
            };
            b.add(glob(&norm).map_err(|e| {
                anyhow::anyhow!("image skip pattern {p:?} is not a valid glob: {e} — fix it in [scan] image_skip / image_skip_add")
            })?);
            kept.push(norm);
        }
        Ok(SkipList {
            patterns: kept,
            set: b.build()?,
        })
    }

    /// The list from the `[scan]` keys: `replace` (when given) instead of [`DEFAULT`], plus `add`.
    pub fn configured(replace: Option<&[String]>, add: &[String]) -> anyhow::Result<SkipList> {
        let mut all: Vec<String> = match replace {
            Some(r) => r.to_vec(),
            None => DEFAULT.iter().map(|s| s.to_string()).collect(),
        };
        all.extend(add.iter().cloned());
        SkipList::new(&all)
    }

    /// The patterns, in order.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The index of the first pattern matching `path` (absolute), if any.
    pub fn matching(&self, path: &str) -> Option<usize> {
        if self.patterns.is_empty() {
            return None;
        }
        self.set.matches(path).into_iter().min()
    }
}

fn glob(p: &str) -> Result<Glob, globset::Error> {
    GlobBuilder::new(p).literal_separator(true).build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_list_skips_base_image_paths_only() {
        let s = SkipList::default();
        for p in [
            "/usr/share/doc/openssl/README",
            "/usr/lib/python3.11/test/keycert.pem",
            "/usr/lib/python3/dist-packages/foo/tests/data.key",
            "/etc/ssl/certs/ca-certificates.crt",
            "/var/lib/dpkg/status",
            "/lib/apk/db/installed",
        ] {
            assert!(s.matching(p).is_some(), "{p} should be skipped");
        }
        for p in [
            "/app/.env",
            "/usr/share/app/config.php",
            "/etc/ssl/private/app.key",
            "/usr/lib/python3.11/site.py",
        ] {
            assert_eq!(s.matching(p), None, "{p} should be scanned");
        }
    }

    #[test]
    fn configured_replaces_or_extends() {
        let s = SkipList::configured(Some(&[]), &["srv/cache/**".into()]).unwrap();
        assert_eq!(s.patterns(), ["/srv/cache/**"]);
        assert_eq!(s.matching("/usr/share/doc/x"), None);
        assert_eq!(s.matching("/srv/cache/a/b"), Some(0));
        let s = SkipList::configured(None, &["/opt/vendor/**".into()]).unwrap();
        assert_eq!(s.patterns().len(), DEFAULT.len() + 1);
        let e = SkipList::new(&["/a/[".into()]).unwrap_err().to_string();
        assert!(e.contains("/a/[") && e.contains("image_skip"), "{e}");
    }
}
