//! Finding fingerprints.
//!
//! gitleaks fingerprints a finding as `file:rule-id:line` (`commit:file:rule-id:line` in history), so adding
//! a line above a known secret changes its fingerprint and breaks every baseline and ignore entry. Ours is
//! `file:rule-id:h` + the first 16 hex digits of SHA-1 over the rule id, the path and the secret: it
//! survives lines moving, the same secret being found again in a later commit, and a re-scan of the same
//! content; it changes only when the secret, its rule or its file changes. The secret cannot be recovered
//! from it. Both forms are accepted in ignore files and baselines.

/// The stable fingerprint of a finding: `file:rule-id:h<16 hex>`.
pub fn stable(rule_id: &str, file: &str, secret: &str) -> String {
    let mut h = gix::hash::hasher(gix::hash::Kind::Sha1);
    h.update(b"stevedore-fp-v1\0");
    h.update(rule_id.as_bytes());
    h.update(b"\0");
    h.update(file.as_bytes());
    h.update(b"\0");
    h.update(secret.as_bytes());
    let hex = match h.try_finalize() {
        Ok(id) => id.to_hex().to_string(),
        Err(_) => String::from("0000000000000000"),
    };
    format!("{file}:{rule_id}:h{}", &hex[..16])
}

/// True when `secret` lies inside a stevedore fingerprint (`file:rule-id:h<16 hex>`) written on `line`:
/// what a detector took for a token there is the hash of one, copied into an ignore file, a baseline or
/// a report.
pub fn inside_own(line: &str, secret: &str) -> bool {
    static OWN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"[^\s:]*:[a-z0-9][a-z0-9._-]*:h[0-9a-f]{16}\b").expect("valid regex")
    });
    !secret.is_empty()
        && line.contains(":h")
        && OWN.find_iter(line).any(|m| m.as_str().contains(secret))
}

/// gitleaks' line-based fingerprint: `file:rule-id:line`, prefixed with `commit:` for history findings.
pub fn line_based(commit: Option<&str>, file: &str, rule_id: &str, line: usize) -> String {
    match commit {
        Some(c) if !c.is_empty() => format!("{c}:{file}:{rule_id}:{line}"),
        _ => format!("{file}:{rule_id}:{line}"),
    }
}

/// A UUID-shaped identifier derived from `text` (GitLab wants a UUID per vulnerability; the same
/// finding gets the same one in every run).
pub fn uuid_of(text: &str) -> String {
    let mut h = gix::hash::hasher(gix::hash::Kind::Sha1);
    h.update(text.as_bytes());
    let hex = h
        .try_finalize()
        .map(|id| id.to_hex().to_string())
        .unwrap_or_else(|_| "0".repeat(40));
    format!(
        "{}-{}-5{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_depends_on_rule_path_and_secret_only() {
        let a = stable("aws-access-key-id", "src/a.py", "AKIA2345");
        assert_eq!(a, stable("aws-access-key-id", "src/a.py", "AKIA2345"));
        assert!(a.starts_with("src/a.py:aws-access-key-id:h"));
        assert_eq!(a.len(), "src/a.py:aws-access-key-id:h".len() + 16);
        assert_ne!(a, stable("aws-access-key-id", "src/b.py", "AKIA2345"));
        assert_ne!(a, stable("other", "src/a.py", "AKIA2345"));
        assert_ne!(a, stable("aws-access-key-id", "src/a.py", "AKIA2346"));
        assert!(!a.contains("AKIA2345"));
    }

    #[test]
    fn a_hash_inside_a_fingerprint_is_not_a_secret() {
        let fp = stable("laravel-app-key", ".env.production", "base64:abc");
        let hash = fp.rsplit(':').next().unwrap();
        assert!(inside_own(&fp, hash));
        assert!(inside_own(
            &format!("  \"Fingerprint\": \"{fp}\","),
            &hash[1..]
        ));
        assert!(inside_own(&format!("{fp} # known"), &fp));
        // A token that merely looks like a hash, outside a fingerprint, stays a secret.
        assert!(!inside_own(&format!("key = {hash}"), hash));
        assert!(!inside_own("a.txt:r:hzzzz", "hzzzz"));
        assert!(!inside_own(&fp, ""));
    }

    #[test]
    fn line_based_matches_gitleaks() {
        assert_eq!(line_based(None, "a.txt", "r", 3), "a.txt:r:3");
        assert_eq!(line_based(Some("abc"), "a.txt", "r", 3), "abc:a.txt:r:3");
    }

    #[test]
    fn uuid_shape() {
        let u = uuid_of("x");
        assert_eq!(u.len(), 36);
        assert_eq!(
            u.split('-').map(str::len).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert_eq!(u, uuid_of("x"));
    }
}
