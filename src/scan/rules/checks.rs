//! Checks used by built-in rules: checksums and structural validations.

use crate::scan::detect::{Candidate, noise};
use base64::Engine;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Encodes `n` in base62, left-padded with `0` to `width`.
pub fn base62(mut n: u32, width: usize) -> String {
    let mut out = vec![b'0'; width];
    let mut i = width;
    while n > 0 && i > 0 {
        i -= 1;
        out[i] = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out).expect("base62 is ASCII")
}

/// GitHub's and npm's token checksum: the last 6 characters are the CRC32 of the 30 random characters
/// before them, in base62. `token` is the whole token with its prefix (`ghp_…`, `npm_…`).
pub fn crc32_base62_ok(token: &str) -> bool {
    let Some((_, body)) = token.rsplit_once('_') else {
        return false;
    };
    if body.len() != 36 || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (random, check) = body.split_at(30);
    base62(crc32fast::hash(random.as_bytes()), 6) == check
}

/// A PEM/PGP private key block holds a real body: enough base64 and not a placeholder.
pub fn private_key_body(c: &Candidate) -> bool {
    let body = c.matched;
    // The body: between the end of the BEGIN line's dashes and the END line.
    let start = memchr::memmem::find(&body[5..], b"-----").map_or(0, |p| p + 10);
    let end = memchr::memmem::rfind(body, b"-----END").unwrap_or(body.len());
    let inner = &body[start.min(end)..end];
    let b64 = inner
        .iter()
        .filter(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        .count();
    if b64 < 40 {
        return false;
    }
    let lower = body.to_ascii_lowercase();
    !(noise::contains(&lower, b"xxxxxxxx")
        || noise::contains(&lower, b"...")
        || noise::contains(&lower, b"<your"))
}

/// A JWT whose header decodes to JSON naming an `alg`.
pub fn jwt_header(c: &Candidate) -> bool {
    let Some(header) = c.secret.split(|&b| b == b'.').next() else {
        return false;
    };
    let Ok(decoded) =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header.trim_ascii_end())
    else {
        return false;
    };
    decoded.starts_with(b"{") && noise::contains(&decoded, b"\"alg\"")
}

/// A Slack token: the dash-separated numeric parts are workspace and user ids; the randomness is
/// in the last part, which must not be a placeholder or a typed sequence.
pub fn slack_random_part(c: &Candidate) -> bool {
    let last = c.secret.rsplit(|&b| b == b'-').next().unwrap_or(c.secret);
    last.len() >= 8
        && !noise::is_placeholder(last)
        && !noise::has_sequence(last, 6)
        && !noise::is_wordlike(last)
}

/// A 40-character AWS secret access key near an access key id, with the mix of a random value.
pub fn aws_secret_near_key(c: &Candidate) -> bool {
    let s = c.secret;
    let has = |f: fn(&u8) -> bool| s.iter().any(f);
    if !(has(u8::is_ascii_lowercase) && has(u8::is_ascii_uppercase) && has(u8::is_ascii_digit)) {
        return false;
    }
    if noise::shannon(s) < 4.0
        || noise::is_placeholder(s)
        || noise::camel_words(s)
        || noise::is_code_identifier(s)
    {
        return false;
    }
    let upper = c.window.to_ascii_uppercase();
    [&b"AKIA"[..], b"ASIA"]
        .iter()
        .any(|k| noise::contains(&upper, k))
}

/// Credentials in a URL or a `user:password` pair: the password is a literal, not a stand-in.
pub fn password_literal(c: &Candidate) -> bool {
    let p = c.secret;
    if p.len() < 4 || noise::is_placeholder(p) || noise::is_reference(p) || noise::is_wordlike(p) {
        return false;
    }
    let letters: Vec<u8> = p
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .collect();
    if noise::contains(&letters, b"password") || letters == b"passwd" || letters == b"secret" {
        return false;
    }
    // `user:user`, `test:test`.
    let name = c.name;
    if !name.is_empty() && name.eq_ignore_ascii_case(p) {
        return false;
    }
    !(p.starts_with(b"[") || p.ends_with(b"]") || p.starts_with(b"{"))
}

/// A Kubernetes manifest of `kind: Secret` whose data holds a real value.
pub fn kubernetes_secret(c: &Candidate) -> bool {
    let w = c.window;
    let mut is_secret = false;
    for line in w.split(|&b| b == b'\n') {
        let t = line.trim_ascii();
        if let Some(rest) = t.strip_prefix(b"kind:") {
            let v = rest.trim_ascii();
            let v = v
                .strip_prefix(b"'")
                .or_else(|| v.strip_prefix(b"\""))
                .unwrap_or(v);
            let v = v
                .strip_suffix(b"'")
                .or_else(|| v.strip_suffix(b"\""))
                .unwrap_or(v);
            if v.eq_ignore_ascii_case(b"secret") {
                is_secret = true;
            }
        }
    }
    is_secret && !noise::has_placeholder_word(c.secret)
}

/// A generic candidate: a secret-like name assigned a random-looking literal.
pub fn generic_assignment(c: &Candidate) -> bool {
    if !secret_name(c.name) {
        return false;
    }
    let v = c.secret;
    if v.len() < 10
        || noise::contains(v, b"://")
        || noise::camel_words(v)
        || looks_like_version(v)
        || has_file_extension(v)
        || v.starts_with(b"pk_")
    {
        return false;
    }
    if v.starts_with(b"ssh-") || v.starts_with(b"ecdsa-") || v.starts_with(b"AAAAB3Nza") {
        return false;
    }
    let digits = v.iter().filter(|b| b.is_ascii_digit()).count();
    if digits == v.len() || noise::has_short_period(v) {
        return false;
    }
    let lowered: Vec<u8> = v
        .iter()
        .filter(|b| b.is_ascii_alphanumeric())
        .map(u8::to_ascii_lowercase)
        .collect();
    if noise::contains(&lowered, b"password") {
        return false;
    }
    // A query parameter of a README badge (`badge.svg?token=…`) is a public graph token.
    let line_start = c.window[..c.secret_at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let line_end = c.window[c.secret_at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(c.window.len(), |p| c.secret_at + p);
    let line = c.window[line_start..line_end].to_ascii_lowercase();
    if noise::contains(&line, b"badge")
        && (noise::contains(&line, b"?token=") || noise::contains(&line, b"&token="))
    {
        return false;
    }
    let e = noise::shannon(v);
    let floor = if v.len() >= 20 { 3.5 } else { 3.0 };
    e >= floor
}

/// `1.2.3`, `jackson-0.11.2`: a version, not a secret.
fn looks_like_version(v: &[u8]) -> bool {
    let n = v.len();
    n >= 3 && v[n - 1].is_ascii_digit() && {
        let tail: Vec<u8> = v
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_digit() || **b == b'.')
            .copied()
            .collect();
        tail.iter().filter(|b| **b == b'.').count() >= 1 && tail.len() < n && tail.len() >= 3
    }
}

/// A Google API key used or assigned (quoted, after `=`/`:`, in an element), not bare in prose:
/// Google documents many keys as meant to be public (Maps, Firebase) and publishes sample ones.
pub fn gcp_key_in_use(c: &Candidate) -> bool {
    let before = &c.window[..c.secret_at];
    let prev = before.iter().rev().find(|b| !b.is_ascii_whitespace());
    matches!(
        prev,
        Some(b'"' | b'\'' | b'`' | b'=' | b':' | b'>' | b'(' | b',')
    )
}

fn has_file_extension(v: &[u8]) -> bool {
    const EXT: &[&[u8]] = &[
        b".pem",
        b".key",
        b".p12",
        b".pfx",
        b".jks",
        b".json",
        b".txt",
        b".yaml",
        b".yml",
        b".crt",
        b".cer",
        b".der",
        b".keystore",
        b".keytab",
        b".png",
        b".jpg",
        b".js",
        b".py",
        b".html",
        b".xml",
        b".conf",
        b".env",
    ];
    let lower = v.to_ascii_lowercase();
    EXT.iter().any(|e| lower.ends_with(e))
}

/// Words that make an assigned-to name secret-like when it ends with them.
const SECRET_ENDINGS: &[&str] = &[
    "key",
    "token",
    "secret",
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "credential",
    "credentials",
    "creds",
    "pass",
    "pw",
    "pat",
    "apikey",
    "auth",
];

/// Endings too ambiguous to stand alone as a name (`key = …` in a map, `pass = …` in a loop).
const NEED_QUALIFIER: &[&str] = &["key", "pass", "pw", "pat", "auth"];

/// Words that, anywhere in the name, say the value is not a secret.
const NOT_SECRET_WORDS: &[&str] = &[
    "public",
    "pub",
    "publishable",
    "primary",
    "foreign",
    "csrf",
    "xsrf",
    "sort",
    "partition",
    "cache",
    "idempotency",
    "routing",
    "shard",
    "lookup",
    "map",
    "hot",
    "monkey",
    "turkey",
    "sequence",
    "schema",
    "keyboard",
    "event",
    "i18n",
    "translation",
    "cursor",
    "page",
    "next",
    "continuation",
    "bypass",
    "compass",
    "passthrough",
    "sitekey",
    "site",
    "recaptcha",
    "hcaptcha",
    "jwks",
    "kid",
    "fingerprint",
    "checksum",
    "hash",
    "nonce",
    "salt",
    "iv",
    "sample",
    "example",
    "dummy",
    "fake",
    "mock",
    "test",
    "placeholder",
    "default",
    "format",
    "type",
    "prefix",
    "field",
    "header",
    "param",
    "parameter",
    "env",
    "var",
    "ref",
    "path",
    "file",
    "dir",
    "bucket",
    "object",
    "row",
    "column",
    "table",
    "index",
    "size",
    "length",
    "len",
    "authenticity",
    "websocket",
];

/// True when a name ends with a secret-like word and holds no word saying otherwise.
pub fn secret_name(name: &[u8]) -> bool {
    let mut words = split_words(name);
    // `api_token_2`, `mySecretString`: look through a trailing number or a type word.
    while words.len() > 1 {
        let l = words.last().expect("non-empty");
        if l.bytes().all(|b| b.is_ascii_digit())
            || matches!(l.as_str(), "string" | "str" | "value" | "val")
        {
            words.pop();
        } else {
            break;
        }
    }
    if let Some(l) = words.last_mut() {
        while l.len() > 1 && l.ends_with(|c: char| c.is_ascii_digit()) {
            l.pop();
        }
    }
    let Some(last) = words.last() else {
        return false;
    };
    if words.len() == 1 && NEED_QUALIFIER.contains(&last.as_str()) {
        return false;
    }
    let last_ok = SECRET_ENDINGS.iter().any(|w| {
        last == w
            || (last.len() > w.len()
                && last.ends_with(w)
                && matches!(
                    *w,
                    "token" | "secret" | "password" | "passwd" | "apikey" | "credentials"
                ))
            || (*w == "key"
                && (last.ends_with("apikey")
                    || last.ends_with("secretkey")
                    || last.ends_with("accesskey")
                    || last.ends_with("privatekey")
                    || last.ends_with("signingkey")
                    || last.ends_with("masterkey")
                    || last.ends_with("authkey")
                    || last.ends_with("licensekey")))
    });
    last_ok
        && !words.iter().any(|w| {
            NOT_SECRET_WORDS.contains(&w.as_str())
                || (w != last && w.len() > 3 && (w.ends_with("test") && w != "latest"))
        })
}

/// Splits an identifier into lower-case words at `_`, `-`, `.`, spaces and camelCase boundaries.
fn split_words(name: &[u8]) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev: u8 = 0;
    for (i, &b) in name.iter().enumerate() {
        if !b.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev = b;
            continue;
        }
        let next_lower = name.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
        let boundary = b.is_ascii_uppercase()
            && (prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower));
        if boundary && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        cur.push(b.to_ascii_lowercase() as char);
        prev = b;
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base62_pads_and_encodes() {
        assert_eq!(base62(0, 6), "000000");
        assert_eq!(base62(61, 6), "00000z");
        assert_eq!(base62(62, 6), "000010");
    }

    #[test]
    fn github_checksum() {
        let random = "abcdefghijABCDEFGHIJ0123456789";
        let good = format!(
            "ghp_{random}{}",
            base62(crc32fast::hash(random.as_bytes()), 6)
        );
        assert!(crc32_base62_ok(&good));
        let mut bad = good.clone();
        bad.replace_range(
            good.len() - 1..,
            if good.ends_with('A') { "B" } else { "A" },
        );
        assert!(!crc32_base62_ok(&bad));
        assert!(!crc32_base62_ok("ghp_short"));
    }

    #[test]
    fn names() {
        for n in [
            "creds",
            "password",
            "DB_PASSWORD",
            "apiKey",
            "client_secret",
            "AWSToken",
            "api-tokenToken",
            "APIKEY",
            "secretKey",
        ] {
            assert!(secret_name(n.as_bytes()), "{n}");
        }
        for n in [
            "primaryKey",
            "publicToken",
            "csrf-token",
            "key_down_event",
            "issuerKeyHash",
            "keyboard",
            "token_url",
            "sortKey",
        ] {
            assert!(!secret_name(n.as_bytes()), "{n}");
        }
    }
}
