//! The one redaction layer every log line, error message and report goes through.
//!
//! Secrets are registered once (credentials read from the environment are registered automatically when
//! the CI context is built; steps register what they read from elsewhere, and the scanner registers the
//! secrets it finds). [`redact`] then replaces every registered value, and also masks the password part of
//! any `scheme://user:password@host` URL and the value of `token=`/`password=`-style query parameters, so a
//! URL quoted inside an HTTP client's error never leaks a credential.
//!
//! The calls a step makes:
//! - [`register_credential`] the moment it uses a credential: the value and every form it takes on the
//!   wire (URL-encoded, JSON-escaped, base64 of `user:password`, the `Authorization` header value);
//! - [`register_found`] for a secret value the scanner found in this run's files;
//! - [`quote_body`] to quote an HTTP response body in an error: bounded to [`BODY_QUOTE_LIMIT`] bytes and
//!   redacted, so a server that echoes the request headers never puts them in the log;
//! - [`json_pretty`] / [`redact_json`] to write JSON: only string values are redacted, so the output stays
//!   valid JSON whatever was registered.
//!
//! Values too short or too common to be secrets (under [`MIN_LEN`] characters, booleans, numbers) are
//! never registered: GitLab's `SECRET_DETECTION_DISABLED=true` must not turn every `true` into a mask.

use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use regex::Regex;
use std::sync::{LazyLock, RwLock};

/// What a redacted value is replaced with.
pub const MASK: &str = "[redacted]";

/// Values shorter than this (in characters) are not registered: they would mask ordinary words, and no
/// credential stevedore handles is that short.
pub const MIN_LEN: usize = 8;

/// How many bytes of an HTTP response body [`quote_body`] keeps.
pub const BODY_QUOTE_LIMIT: usize = 512;

/// The characters a URL component leaves as they are (RFC 3986 unreserved); the rest is percent-encoded.
const URL_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

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

/// True when `value` could be a secret worth masking: at least [`MIN_LEN`] characters and not a boolean,
/// a number or another word too common to mask (`true`, `false`, `12345678`, `disabled`…).
pub fn is_registrable(value: &str) -> bool {
    let v = value.trim();
    if v.chars().count() < MIN_LEN {
        return false;
    }
    const COMMON: &[&str] = &[
        "true",
        "false",
        "enabled",
        "disabled",
        "null",
        "undefined",
        "none",
        "nothing",
    ];
    if COMMON.iter().any(|c| v.eq_ignore_ascii_case(c)) {
        return false;
    }
    let numeric = v
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | '-' | '+' | '_' | 'e' | 'E'))
        && v.chars().any(|c| c.is_ascii_digit());
    !numeric
}

/// Registers a secret value: from now on it never appears whole in anything stevedore prints or writes —
/// nor its JSON-escaped or URL-encoded form. Values that are not [`is_registrable`] are ignored.
pub fn register(secret: impl AsRef<str>) {
    let s = secret.as_ref().trim();
    if !is_registrable(s) {
        return;
    }
    let mut forms = vec![s.to_string(), url_encode(s)];
    if let Ok(json) = serde_json::to_string(s) {
        forms.push(json[1..json.len() - 1].to_string());
    }
    add(forms);
}

/// Registers a credential the moment it is used, with every form it takes on the wire: the value,
/// URL-encoded and JSON-escaped, and — with a `user` — `user:password`, its base64 and the
/// `Authorization: Basic …` value; without one, the `Bearer …` value. Call it for every password, token or
/// API key a step sends, before the request, so an error that echoes the request cannot leak it.
pub fn register_credential(user: Option<&str>, secret: &str) {
    let s = secret.trim();
    if !is_registrable(s) {
        return;
    }
    register(s);
    match user.map(str::trim).filter(|u| !u.is_empty()) {
        Some(u) => {
            let pair = format!("{u}:{s}");
            let b64 = base64::engine::general_purpose::STANDARD.encode(&pair);
            let b64url = base64::engine::general_purpose::URL_SAFE.encode(&pair);
            add(vec![
                format!("Basic {b64}"),
                b64.trim_end_matches('=').to_string(),
                b64url.trim_end_matches('=').to_string(),
                format!("{}:{}", url_encode(u), url_encode(s)),
                pair,
            ]);
        }
        None => add(vec![format!("Bearer {s}")]),
    }
}

/// Registers a secret value the scanner found in this run's files, so no later log line, build output or
/// report of this process prints it. Short or common values are ignored as by [`register`].
pub fn register_found(secret: &str) {
    register(secret);
}

fn url_encode(s: &str) -> String {
    utf8_percent_encode(s, URL_COMPONENT).to_string()
}

fn add(forms: Vec<String>) {
    let mut list = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for f in forms {
        if f.chars().count() >= MIN_LEN && !list.contains(&f) {
            list.push(f);
        }
    }
    // Longest first, so a secret containing another is masked whole.
    list.sort_by_key(|x| std::cmp::Reverse(x.len()));
}

/// Forgets every registered secret. For property tests and `ci/fuzz` only, which register thousands
/// of generated secrets in one process; stevedore itself never calls it.
#[doc(hidden)]
pub fn forget_all_for_tests() {
    SECRETS.write().unwrap_or_else(|e| e.into_inner()).clear();
}

/// True when an environment variable's name says its value is a credential: a known GitLab credential
/// variable, or a name with a word such as `PASSWORD`, `TOKEN`, `SECRET`, `KEY` or `CREDENTIALS`
/// (`MEDSTACK_KEY_VALUE`, `DB_PASS`, `NPM_AUTH_TOKEN`).
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    if SECRET_ENV.contains(&n.as_str()) {
        return true;
    }
    // The shell's working directories (`PWD`, `OLDPWD`) are paths, not passwords.
    if n == "PWD" || n == "OLDPWD" {
        return false;
    }
    // GitLab's secret-detection settings, and names of files or paths holding a credential, are not one.
    if n.starts_with("SECRET_DETECTION_")
        || ["_FILE", "_PATH", "_DIR"].iter().any(|s| n.ends_with(s))
    {
        return false;
    }
    const INSIDE: &[&str] = &[
        "PASSWORD",
        "PASSWD",
        "TOKEN",
        "SECRET",
        "API_KEY",
        "APIKEY",
        "PRIVATE_KEY",
        "ACCESS_KEY",
        "CREDENTIAL",
    ];
    const WORDS: &[&str] = &["KEY", "PASS", "PWD", "AUTH", "DSN", "PAT"];
    INSIDE.iter().any(|w| n.contains(w))
        || n.split(|c: char| !c.is_ascii_alphanumeric())
            .any(|w| WORDS.contains(&w))
}

/// Registers the value of every environment variable whose name marks it as a credential
/// ([`is_secret_name`]); a `user:password` value also registers its parts and encoded forms.
pub fn register_env() {
    for (k, v) in std::env::vars() {
        if !is_secret_name(&k) {
            continue;
        }
        register(&v);
        // The pieces of a user:password pair, in case they are quoted alone or sent as Basic auth.
        if !v.trim_start().starts_with('{')
            && let Some((u, p)) = v.split_once(':')
        {
            register_credential(Some(u), p);
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

/// Redacts every string value inside a JSON value (object keys, numbers and booleans are left alone), so
/// the result is valid JSON whatever was registered.
pub fn redact_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => {
            let r = redact(s);
            if r != *s {
                *s = r;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact_json),
        serde_json::Value::Object(map) => map.values_mut().for_each(redact_json),
        _ => {}
    }
}

/// Serializes `value` as pretty JSON with every string value redacted ([`redact_json`]): what stevedore
/// writes to a report, the summary or `--json` output.
pub fn json_pretty<T: serde::Serialize + ?Sized>(value: &T) -> serde_json::Result<String> {
    let mut v = serde_json::to_value(value)?;
    redact_json(&mut v);
    serde_json::to_string_pretty(&v)
}

/// Quotes an HTTP response body for an error message: redacted first (so no registered secret or
/// `Authorization` value survives, even cut in half), then bounded to [`BODY_QUOTE_LIMIT`] bytes on one
/// line, with the total length said when it was cut. An empty body reads `(empty body)`.
pub fn quote_body(body: &[u8]) -> String {
    // Redacting a huge body is wasted work: keep a generous prefix (a secret cut at its end is dropped by
    // the bound below anyway).
    let head = &body[..body.len().min(BODY_QUOTE_LIMIT * 16)];
    let text = String::from_utf8_lossy(head);
    let text = redact(text.trim());
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if one_line.is_empty() {
        return "(empty body)".into();
    }
    if one_line.len() <= BODY_QUOTE_LIMIT && body.len() <= head.len() {
        return one_line;
    }
    let mut end = BODY_QUOTE_LIMIT.min(one_line.len());
    while !one_line.is_char_boundary(end) {
        end -= 1;
    }
    // Never end on a partial mask.
    let mut cut = one_line[..end].to_string();
    if let Some(i) = cut.rfind('[')
        && MASK.starts_with(&cut[i..])
        && cut[i..] != *MASK
    {
        cut.truncate(i);
    }
    format!("{cut}… ({} bytes in all)", body.len())
}

/// An [`std::io::Write`] that redacts what passes through it (for log writers such as tracing's).
///
/// Text is held until a newline (or [`flush`](std::io::Write::flush), or the writer's drop), so a secret
/// split across two writes is still masked whole. A line longer than [`WRITER_HOLD`] bytes is let out in
/// pieces, never cutting through a registered secret.
pub struct RedactingWriter<W: std::io::Write> {
    inner: W,
    pending: Vec<u8>,
}

/// The most bytes [`RedactingWriter`] holds back waiting for a newline.
pub const WRITER_HOLD: usize = 64 * 1024;

impl<W: std::io::Write> RedactingWriter<W> {
    /// A redacting writer in front of `inner`.
    pub fn new(inner: W) -> RedactingWriter<W> {
        RedactingWriter {
            inner,
            pending: Vec::new(),
        }
    }

    /// Writes the first `n` held bytes, redacted, and drops them from the hold.
    fn emit(&mut self, n: usize) -> std::io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        let text = redact(&String::from_utf8_lossy(&self.pending[..n]));
        self.pending.drain(..n);
        self.inner.write_all(text.as_bytes())
    }
}

impl<W: std::io::Write> std::io::Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(i) = memchr::memrchr(b'\n', &self.pending) {
            self.emit(i + 1)?;
        }
        if self.pending.len() > WRITER_HOLD {
            let cut = safe_cut(&self.pending, self.pending.len() - WRITER_HOLD / 2);
            self.emit(cut)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.emit(self.pending.len())?;
        self.inner.flush()
    }
}

impl<W: std::io::Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}

/// A cut at or before `at` that splits no occurrence of a registered secret (nor a UTF-8 character).
fn safe_cut(text: &[u8], mut at: usize) -> usize {
    let list = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    loop {
        let before = at;
        for s in list.iter().map(String::as_bytes) {
            let from = at.saturating_sub(s.len() - 1);
            let to = (at + s.len() - 1).min(text.len());
            if let Some(i) = memchr::memmem::find(&text[from..to], s) {
                at = at.min(from + i);
            }
        }
        while at > 0 && at < text.len() && (text[at] & 0xC0) == 0x80 {
            at -= 1;
        }
        if at == before {
            return at;
        }
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
        let mut out = Vec::new();
        let mut w = RedactingWriter::new(&mut out);
        w.write_all(b"x writer-sec").unwrap();
        w.write_all(b"ret-value y\nz").unwrap();
        drop(w);
        assert_eq!(String::from_utf8(out).unwrap(), format!("x {MASK} y\nz"));
    }

    #[test]
    fn short_and_common_values_are_not_registered() {
        for v in [
            "ab",
            "true",
            "TRUE",
            "false",
            "disabled",
            "1234567890",
            "3.14159265",
            "seven77",
        ] {
            register(v);
            register_credential(Some("user"), v);
            let text = format!("a cab {v} x");
            assert_eq!(redact(&text), text, "{v} must not be registered");
        }
        assert!(!is_registrable("1234567"));
        assert!(is_registrable("12345678a"));
    }

    #[test]
    fn secret_names() {
        assert!(is_secret_name("CI_REGISTRY_PASSWORD"));
        assert!(is_secret_name("medstack_api_token"));
        assert!(is_secret_name("MEDSTACK_KEY_VALUE"));
        assert!(is_secret_name("DB_PASS"));
        assert!(!is_secret_name("CI_COMMIT_SHA"));
        assert!(!is_secret_name("SECRET_DETECTION_DISABLED"));
        assert!(!is_secret_name("KEYBOARD_LAYOUT"));
        assert!(!is_secret_name("PWD"));
        assert!(!is_secret_name("OLDPWD"));
        assert!(is_secret_name("DB_PWD"));
        assert!(!is_secret_name("SSH_PRIVATE_KEY_FILE"));
    }

    #[test]
    fn credential_forms_are_masked() {
        register_credential(Some("deploy-bot"), "p@ss w/rd:\"q&z");
        let b64 = base64::engine::general_purpose::STANDARD.encode("deploy-bot:p@ss w/rd:\"q&z");
        for text in [
            "raw p@ss w/rd:\"q&z end".to_string(),
            "url p%40ss%20w%2Frd%3A%22q%26z end".to_string(),
            r#"json "p@ss w/rd:\"q&z" end"#.to_string(),
            format!("echo authorization: Basic {b64}"),
            format!("header {{'Authorization': 'Basic {b64}'}}"),
            format!("b64 unpadded {}", b64.trim_end_matches('=')),
        ] {
            let r = redact(&text);
            assert!(
                !r.contains("w/rd") && !r.contains("w%2Frd") && !r.contains(&b64[..20]),
                "{text} -> {r}"
            );
            assert!(r.contains(MASK), "{r}");
        }
        register_credential(None, "bearer-token-0123456789");
        let r = redact("sent Bearer bearer-token-0123456789");
        assert!(!r.contains("bearer-token-0123456789"), "{r}");
    }

    #[test]
    fn json_stays_valid() {
        register("json-secret-9876543");
        let v = serde_json::json!({"ok": true, "n": 12345678, "msg": "key json-secret-9876543 used", "list": ["json-secret-9876543"]});
        let text = json_pretty(&v).unwrap();
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back["ok"], true);
        assert_eq!(back["n"], 12345678);
        assert_eq!(back["msg"], format!("key {MASK} used"));
        assert_eq!(back["list"][0], MASK);
    }

    #[test]
    fn quoted_bodies_are_bounded_and_redacted() {
        register_credential(Some("bot@example.com"), "zulip-key-ABCDEFGH12345");
        let b64 = base64::engine::general_purpose::STANDARD
            .encode("bot@example.com:zulip-key-ABCDEFGH12345");
        let body = format!(
            "{{\"msg\": \"bad\", \"headers\": {{\"Authorization\": \"Basic {b64}\"}}}}\n{}",
            "x".repeat(5000)
        );
        let q = quote_body(body.as_bytes());
        assert!(!q.contains(&b64[..12]), "{q}");
        assert!(q.contains(MASK), "{q}");
        assert!(q.len() <= BODY_QUOTE_LIMIT + 40, "{}", q.len());
        assert!(
            q.ends_with(&format!("({} bytes in all)", body.len())),
            "{q}"
        );
        assert!(!q.contains('\n'));
        assert_eq!(quote_body(b"  "), "(empty body)");
        assert_eq!(quote_body(b"short"), "short");
        // A secret straddling the bound is masked, not cut in half.
        let body = format!(
            "{}zulip-key-ABCDEFGH12345 tail",
            "y".repeat(BODY_QUOTE_LIMIT - 5)
        );
        let q = quote_body(body.as_bytes());
        assert!(!q.contains("zulip-k"), "{q}");
    }
}
