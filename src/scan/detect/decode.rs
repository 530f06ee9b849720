//! Secrets hidden in base64: a run of base64 that decodes to printable text (a Kubernetes `Secret`
//! value, a Helm value, a CI variable holding a whole `.env` file) is decoded and the rules run on the
//! decoded text; what they find is reported under the inner rule, located at the encoded run.
//!
//! Finding runs costs little: only every [`MIN_RUN`]-th byte is looked at (a run at least that long
//! must cover one of them), and a run is expanded only around a sampled base64 byte. Decoding is
//! bounded: runs longer than [`MAX_RUN`] are skipped, binary results (images, hashes, keys, SRI and
//! lockfile digests) are dropped after their first bytes, and at most [`MAX_DEPTH`] levels are
//! decoded.

use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};

/// Shortest run worth decoding (15 bytes of text).
pub const MIN_RUN: usize = 20;
/// Longest run decoded (48 KB of text).
pub const MAX_RUN: usize = 64 * 1024;
/// Levels of encoding looked through (a Docker config in a Kubernetes Secret is two).
pub const MAX_DEPTH: u8 = 2;

/// A base64 run in some content: `[start, end)` and its decoded text.
pub struct Decoded {
    /// Offset of the run's first byte.
    pub start: usize,
    /// Offset just past the run (padding included).
    pub end: usize,
    /// The decoded, printable text.
    pub text: Vec<u8>,
}

/// Every run of base64 in `content` that decodes to printable text.
pub fn decoded_runs(content: &[u8]) -> Vec<Decoded> {
    let mut out = Vec::new();
    let mut p = MIN_RUN - 1;
    while p < content.len() {
        if !is_b64(content[p]) {
            p += MIN_RUN;
            continue;
        }
        let mut s = p;
        while s > 0 && is_b64(content[s - 1]) {
            s -= 1;
        }
        let mut e = p + 1;
        while e < content.len() && is_b64(content[e]) {
            e += 1;
        }
        let mut end = e;
        while end < content.len() && end - e < 2 && content[end] == b'=' {
            end += 1;
        }
        if e - s >= MIN_RUN
            && e - s <= MAX_RUN
            && !in_jwt(content, s, end)
            && let Some(text) = decode_text(&content[s..e])
        {
            out.push(Decoded {
                start: s,
                end,
                text,
            });
        }
        p = (end + MIN_RUN).max(p + MIN_RUN);
    }
    out
}

/// A byte of either base64 alphabet (standard or URL-safe): one table load per byte, as the run
/// finder looks at most bytes of source code.
fn is_b64(b: u8) -> bool {
    static TABLE: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i < 256 {
            let b = i as u8;
            t[i] = b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_');
            i += 1;
        }
        t
    };
    TABLE[usize::from(b)]
}

/// A part of a JWT (`eyJ…` parts joined by dots) is the JWT rule's business.
fn in_jwt(content: &[u8], s: usize, e: usize) -> bool {
    (s > 1 && content[s - 1] == b'.' && is_b64(content[s - 2]))
        || (content.get(e) == Some(&b'.') && content.get(e + 1).is_some_and(|&b| is_b64(b)))
}

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&base64::alphabet::URL_SAFE, LENIENT);

/// Decodes `run` (standard or URL-safe alphabet, without padding) when it is text: printable
/// ASCII and whitespace, or UTF-8 without control characters. `None` for binary.
pub fn decode_text(run: &[u8]) -> Option<Vec<u8>> {
    if run.len() % 4 == 1 || !mixed(run) {
        return None;
    }
    let url = run.iter().any(|b| matches!(b, b'-' | b'_'));
    if url && run.iter().any(|b| matches!(b, b'+' | b'/')) {
        return None;
    }
    let engine = if url { &URL_SAFE } else { &STANDARD };
    // Look at the first bytes before decoding a long run: most runs are binary.
    let head = &run[..run.len().min(64) / 4 * 4];
    if !is_text(&engine.decode(head).ok()?) {
        return None;
    }
    let text = engine.decode(run).ok()?;
    is_text(&text).then_some(text)
}

/// Base64 of text mixes cases and digits (a word or an identifier does not, or rarely).
fn mixed(run: &[u8]) -> bool {
    let upper = run.iter().filter(|b| b.is_ascii_uppercase()).count();
    let lower = run.iter().filter(|b| b.is_ascii_lowercase()).count();
    upper * 8 >= run.len() && lower * 8 >= run.len()
}

/// Printable text: no control bytes besides tab and line ends, valid UTF-8.
fn is_text(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|&b| b >= 0x20 && b != 0x7f || matches!(b, b'\t' | b'\n' | b'\r'))
        && std::str::from_utf8(bytes).is_ok()
}

/// Decodes a short base64 value (a Docker `auth`, a Basic credential) to text, any alphabet, padded
/// or not.
pub fn decode_short(v: &[u8]) -> Option<Vec<u8>> {
    let v = v.trim_ascii();
    let bare = v.strip_suffix(b"==").or(v.strip_suffix(b"=")).unwrap_or(v);
    let text = general_purpose::STANDARD_NO_PAD
        .decode(bare)
        .or_else(|_| general_purpose::URL_SAFE_NO_PAD.decode(bare))
        .ok()?;
    is_text(&text).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(s: &str) -> String {
        general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn finds_text_runs_and_skips_binary() {
        let secret = enc("STRIPE_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc"); // stevedore:allow (fixture)
        let content = format!(
            "data:\n  key: {secret}\n  img: iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk\n"
        );
        let runs = decoded_runs(content.as_bytes());
        assert_eq!(
            runs.len(),
            1,
            "{:?}",
            runs.iter().map(|r| r.start).collect::<Vec<_>>()
        );
        assert_eq!(&content[runs[0].start..runs[0].end], secret);
        assert!(runs[0].text.starts_with(b"STRIPE_KEY="));
    }

    #[test]
    fn words_hashes_and_jwts_are_not_text() {
        for s in [
            "internationalizationOfTheApplication",
            "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
            "AbstractSingletonProxyFactoryBean1",
        ] {
            assert!(decoded_runs(s.as_bytes()).is_empty(), "{s}");
        }
        let jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.x";
        assert!(decoded_runs(jwt.as_bytes()).is_empty());
    }

    #[test]
    fn short_values() {
        assert_eq!(decode_short(b"dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(decode_short(b"dXNlcjpwYXNzMQ==").unwrap(), b"user:pass1");
        assert!(decode_short(b"////").is_none());
    }
}
