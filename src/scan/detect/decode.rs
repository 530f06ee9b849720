//! Secrets hidden in base64: a run of base64 that decodes to printable text (a Kubernetes `Secret`
//! value, a Helm value, a CI variable holding a whole `.env` file) is decoded and the rules run on the
//! decoded text; what they find is reported under the inner rule, located at the encoded run.
//!
//! Finding runs costs little: 64 bytes at a time are classified into a bit mask, and a run is followed
//! byte by byte only where the masks say it is at least [`MIN_RUN`] long. Decoding is
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
    for (s, e) in long_runs(content) {
        let mut end = e;
        while end < content.len() && end - e < 2 && content[end] == b'=' {
            end += 1;
        }
        if e - s <= MAX_RUN
            && !in_jwt(content, s, end)
            && let Some(text) = decode_text(&content[s..e])
        {
            out.push(Decoded {
                start: s,
                end,
                text,
            });
        }
    }
    out
}

/// The maximal runs of base64 bytes at least [`MIN_RUN`] long, as `[start, end)`, in order.
///
/// Source code is mostly identifiers, and identifiers are base64 bytes: looking for long runs byte by
/// byte costs a mispredicted branch at every identifier's end. Instead each 64-byte block becomes a
/// bit mask (bit i: byte i is base64), and shifted ANDs of the masks mark where a run has lasted
/// [`MIN_RUN`] bytes; only there is the run followed byte by byte to its ends.
fn long_runs(content: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut prev = 0u64;
    // Runs end before `next`: a mark inside a run already reported is skipped.
    let mut next = 0;
    for (k, block) in content.chunks(64).enumerate() {
        let mask = b64_mask(block);
        let mut marks = lasted(prev, mask);
        prev = mask;
        while marks != 0 {
            let at = k * 64 + marks.trailing_zeros() as usize;
            marks &= marks - 1;
            if at < next {
                continue;
            }
            let mut s = at + 1 - MIN_RUN;
            while s > 0 && is_b64(content[s - 1]) {
                s -= 1;
            }
            let mut e = at + 1;
            while e < content.len() && is_b64(content[e]) {
                e += 1;
            }
            out.push((s, e));
            next = e;
        }
    }
    out
}

/// Bits of `mask` (a block, `prev` the block before it) where a run of base64 bytes has lasted
/// [`MIN_RUN`] bytes: bit i is set when bytes i-19 ..= i are all base64.
fn lasted(prev: u64, mask: u64) -> u64 {
    const _: () = assert!(MIN_RUN == 20);
    let both = (u128::from(mask) << 64) | u128::from(prev);
    let r2 = both & (both << 1);
    let r4 = r2 & (r2 << 2);
    let r8 = r4 & (r4 << 4);
    let r16 = r8 & (r8 << 8);
    let r20 = r16 & (r4 << 16);
    (r20 >> 64) as u64
}

/// Bit i set when `block[i]` is a base64 byte (a block shorter than 64 leaves the rest clear).
fn b64_mask(block: &[u8]) -> u64 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    if let Ok(full) = <&[u8; 64]>::try_from(block) {
        // SAFETY: SSE2 is part of every x86-64 CPU (the target's baseline).
        return unsafe { sse2::b64_mask(full) };
    }
    block
        .iter()
        .enumerate()
        .fold(0, |m, (i, &b)| m | (u64::from(is_b64(b)) << i))
}

/// The mask of a whole block, 16 bytes per instruction (SSE2 is part of every x86-64 CPU).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use std::arch::x86_64::*;

    /// Bit i set when `block[i]` is a base64 byte.
    #[target_feature(enable = "sse2")]
    pub(super) fn b64_mask(block: &[u8; 64]) -> u64 {
        let mut m = 0u64;
        for (k, part) in block.chunks_exact(16).enumerate() {
            // SAFETY: `part` is 16 readable bytes; the load has no alignment requirement.
            let x = unsafe { _mm_loadu_si128(part.as_ptr().cast()) };
            m |= u64::from(classify(x)) << (16 * k);
        }
        m
    }

    /// 16 bits: which of 16 bytes are letters, digits, `+`, `/`, `-` or `_`. Signed comparisons
    /// leave bytes of 0x80 and above out of every range.
    #[target_feature(enable = "sse2")]
    fn classify(x: __m128i) -> u16 {
        let letter = range(_mm_or_si128(x, _mm_set1_epi8(0x20)), b'a', b'z');
        let digit = range(x, b'0', b'9');
        let signs = _mm_or_si128(
            _mm_or_si128(eq(x, b'+'), eq(x, b'/')),
            _mm_or_si128(eq(x, b'-'), eq(x, b'_')),
        );
        let all = _mm_or_si128(_mm_or_si128(letter, digit), signs);
        _mm_movemask_epi8(all) as u16
    }

    /// Bytes of `v` in `lo..=hi` (both below 0x80).
    #[target_feature(enable = "sse2")]
    fn range(v: __m128i, lo: u8, hi: u8) -> __m128i {
        _mm_and_si128(
            _mm_cmpgt_epi8(v, _mm_set1_epi8(lo as i8 - 1)),
            _mm_cmplt_epi8(v, _mm_set1_epi8(hi as i8 + 1)),
        )
    }

    /// Bytes of `v` equal to `c`.
    #[target_feature(enable = "sse2")]
    fn eq(v: __m128i, c: u8) -> __m128i {
        _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8))
    }
}

/// A byte of either base64 alphabet (standard or URL-safe).
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

    /// The runs a byte-by-byte reading finds: every maximal run of base64 bytes, [`MIN_RUN`] or longer.
    fn runs_byte_by_byte(content: &[u8]) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < content.len() {
            let s = i;
            while i < content.len() && is_b64(content[i]) {
                i += 1;
            }
            if i - s >= MIN_RUN {
                out.push((s, i));
            }
            i += 1;
        }
        out
    }

    #[test]
    fn long_runs_are_every_maximal_run_at_every_offset_and_length() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"aZ09+/-_=. \n\x80\xff:";
        for len in (0..300).chain([1000, 4099]) {
            for _ in 0..20 {
                // Runs of every length: long stretches of base64 with a few breaks.
                let breaks = 1 + rnd() % 40;
                let content: Vec<u8> = (0..len)
                    .map(|_| match rnd() % breaks {
                        0 => alphabet[(rnd() % alphabet.len() as u64) as usize],
                        _ => b"Ab3+_"[(rnd() % 5) as usize],
                    })
                    .collect();
                assert_eq!(
                    long_runs(&content),
                    runs_byte_by_byte(&content),
                    "{content:?}"
                );
            }
        }
        for b in 0..=255u8 {
            let block = [b; 64];
            assert_eq!(
                b64_mask(&block),
                if is_b64(b) { !0 } else { 0 },
                "byte {b:#x}"
            );
        }
    }

    #[test]
    fn a_run_right_after_single_padding_is_found() {
        let secret = enc("STRIPE_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc"); // stevedore:allow (fixture)
        let content = format!("YWJj={secret}\n");
        let runs = decoded_runs(content.as_bytes());
        assert_eq!(runs.len(), 1);
        assert_eq!(&content[runs[0].start..runs[0].end], secret);
    }

    #[test]
    fn short_values() {
        assert_eq!(decode_short(b"dXNlcjpwYXNz").unwrap(), b"user:pass");
        assert_eq!(decode_short(b"dXNlcjpwYXNzMQ==").unwrap(), b"user:pass1");
        assert!(decode_short(b"////").is_none());
    }
}
