//! The one redaction layer every log line, error message and report goes through.
//!
//! Secrets are registered once (credentials read from the environment are registered automatically when
//! the CI context is built; steps register what they read from elsewhere, and the scanner registers the
//! secrets it finds). [`redact`] then replaces every registered value, and also masks the password part of
//! any `scheme://user:password@host` URL and the value of `token=`/`password=`-style query parameters, so a
//! URL quoted inside an HTTP client's error never leaks a credential.

use regex::Regex;
use std::sync::{LazyLock, RwLock};

/// What a redacted value is replaced with.
pub const MASK: &str = "[redacted]";

/// Values shorter than this are not registered: they would mask ordinary words.
const MIN_LEN: usize = 4;

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s:/@]*:)([^\s@/]+)@").expect("valid regex")
});

static QUERY_SECRET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)([?&](?:access_token|api_key|apikey|key|password|private_token|secret|token|auth)=)([^&\s#]+)",
    )
    .expect("valid regex")
});

static AUTH_HEADER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(authorization:\s*(?:basic|bearer|token)\s+)([A-Za-z0-9+/=._\-]+)")
        .expect("valid regex")
});

/// Names of environment variables whose values are always treated as secrets.
const SECRET_ENV: &[&str] = &[
    "CI_REGISTRY_PASSWORD",
    "CI_JOB_TOKEN",
    "CI_DEPLOY_PASSWORD",
    "CI_BUILD_TOKEN",
    "DOCKER_AUTH_CONFIG",
    "ZULIP_API_KEY",
    "GITLAB_TOKEN",
];

/// Registers a secret value: from now on it never appears whole in anything stevedore prints or writes.
pub fn register(secret: impl AsRef<str>) {
    let s = secret.as_ref().trim();
    if s.len() < MIN_LEN {
        return;
    }
    let mut list = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    if !list.iter().any(|x| x == s) {
        list.push(s.to_string());
        // Longest first, so a secret containing another is masked whole.
        list.sort_by_key(|x| std::cmp::Reverse(x.len()));
    }
}

/// True when an environment variable's name says its value is a credential.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    SECRET_ENV.contains(&n.as_str())
        || [
            "PASSWORD",
            "PASSWD",
            "TOKEN",
            "SECRET",
            "API_KEY",
            "APIKEY",
            "PRIVATE_KEY",
        ]
        .iter()
        .any(|w| n.contains(w))
}

/// Registers the value of every environment variable whose name marks it as a credential.
pub fn register_env() {
    for (k, v) in std::env::vars() {
        if is_secret_name(&k) {
            register(&v);
            // Also the pieces of a docker auth config or a user:password pair, in case they are quoted alone.
            if let Some((_, p)) = v.split_once(':') {
                register(p);
            }
        }
    }
}

/// Returns `text` with every registered secret and every URL or header credential masked.
pub fn redact(text: &str) -> String {
    let mut out = text.to_string();
    {
        let list = SECRETS.read().unwrap_or_else(|e| e.into_inner());
        for s in list.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
    }
    let out = URL_USERINFO.replace_all(&out, format!("${{1}}{MASK}@"));
    let out = QUERY_SECRET.replace_all(&out, format!("${{1}}{MASK}"));
    let out = AUTH_HEADER.replace_all(&out, format!("${{1}}{MASK}"));
    out.into_owned()
}

/// An [`std::io::Write`] that redacts what passes through it (for log writers such as tracing's).
pub struct RedactingWriter<W: std::io::Write>(pub W);

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = redact(&String::from_utf8_lossy(buf));
        self.0.write_all(text.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Makes panic messages go through the redaction layer too.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic".into());
        let loc = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "internal error (a bug in stevedore, please report it): {}{loc}",
            redact(&msg)
        );
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked() {
        register("s3cr3t-registry-pass");
        let r = redact("login failed with s3cr3t-registry-pass for user");
        assert!(!r.contains("s3cr3t-registry-pass"));
        assert!(r.contains(MASK));
    }

    #[test]
    fn url_credentials_are_masked() {
        let r = redact(
            "error sending request for url (https://bot:hunter2xyz@chat.example.com/api/v1/messages)",
        );
        assert!(!r.contains("hunter2xyz"), "{r}");
        assert!(r.contains("https://bot:[redacted]@chat.example.com"), "{r}");
        let r = redact("GET https://x.test/api?private_token=glpat-abcdefgh&x=1 failed");
        assert!(!r.contains("glpat-abcdefgh"), "{r}");
        let r = redact("Authorization: Basic Ym90OnNlY3JldA==");
        assert!(!r.contains("Ym90OnNlY3JldA"), "{r}");
    }

    #[test]
    fn writer_redacts() {
        use std::io::Write;
        register("writer-secret-value");
        let mut w = RedactingWriter(Vec::new());
        w.write_all(b"x writer-secret-value y").unwrap();
        assert_eq!(String::from_utf8(w.0).unwrap(), format!("x {MASK} y"));
    }

    #[test]
    fn short_values_are_not_registered() {
        register("ab");
        assert_eq!(redact("a cab"), "a cab");
    }

    #[test]
    fn secret_names() {
        assert!(is_secret_name("CI_REGISTRY_PASSWORD"));
        assert!(is_secret_name("medstack_api_token"));
        assert!(!is_secret_name("CI_COMMIT_SHA"));
    }
}
