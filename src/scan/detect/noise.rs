//! Noise control: the checks that tell a real-looking secret from a placeholder, a documented example,
//! a reference to a variable, a digest, an identifier or a public value.

/// Shannon entropy (bits per byte) of `s`.
pub fn shannon(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    let mut h = 0.0;
    for &c in counts.iter() {
        if c > 0 {
            let p = c as f64 / n;
            h -= p * p.log2();
        }
    }
    h
}

/// Documented example values published by providers, never live.
const DOCUMENTED_EXAMPLES: &[&str] = &[
    "akiaiosfodnn7example",
    "wjalrxutnfemi/k7mdeng/bpxrficyexamplekey",
    "je7mtgbclwbf/2tk6ih2nt/hbdjexamplekey",
    "aidacksbzzn2ojqqhmo2s",
    // RFC 6749 (OAuth 2.0) example access and refresh tokens.
    "2yotnfzfejr1zcsicmwpaa",
    "tgzv3jokf0xg5qx2tlkwia",
];

/// Words that, found in a value, say it is a stand-in rather than a secret.
const PLACEHOLDER_WORDS: &[&str] = &[
    "example",
    "placeholder",
    "changeme",
    "change_me",
    "change-me",
    "your_",
    "your-",
    "yourapi",
    "yourkey",
    "yourtoken",
    "yoursecret",
    "yourpassword",
    "_here",
    "-here",
    "insert",
    "replace",
    "redacted",
    "dummy",
    "sample",
    "notreal",
    "not_real",
    "not-a-real",
    "xxxx",
    "****",
    "...",
    "\u{2026}",
    "####",
    "<",
    ">",
    "${",
    "{{",
    "}}",
    "$(",
    "todo",
    "foobar",
];

/// Values that are words commonly assigned to secret-like names but never secrets.
pub const NON_SECRET_VALUES: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "null",
    "none",
    "nil",
    "true",
    "false",
    "undefined",
    "string",
    "required",
    "optional",
    "default",
    "empty",
    "hidden",
    "masked",
    "private",
    "public",
    "test",
    "testing",
    "admin",
    "root",
    "user",
    "username",
    "qwerty",
    "letmein",
    "pass",
];

/// True when the value holds a placeholder word (`example`, `your_`, `xxxx`, `${`…).
pub fn has_placeholder_word(secret: &[u8]) -> bool {
    let lower = secret.to_ascii_lowercase();
    PLACEHOLDER_WORDS
        .iter()
        .any(|w| contains(&lower, w.as_bytes()))
}

/// True when the secret is a known documented example or a placeholder.
pub fn is_placeholder(secret: &[u8]) -> bool {
    if secret.is_empty() {
        return true;
    }
    let lower = secret.to_ascii_lowercase();
    if DOCUMENTED_EXAMPLES
        .iter()
        .any(|e| contains(&lower, e.as_bytes()))
    {
        return true;
    }
    if PLACEHOLDER_WORDS
        .iter()
        .any(|w| contains(&lower, w.as_bytes()))
    {
        return true;
    }
    mostly_one_char(&lower)
}

/// True when one byte (or the "x"/"*"/"#"/"0" masking bytes together) fills most of the value, or a
/// run of 8 repeated bytes appears.
pub fn mostly_one_char(lower: &[u8]) -> bool {
    let mut counts = [0u32; 256];
    let mut run = 1usize;
    let mut longest = 1usize;
    for (i, &b) in lower.iter().enumerate() {
        counts[b as usize] += 1;
        if i > 0 && lower[i - 1] == b {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 1;
        }
    }
    let n = lower.len() as u32;
    let max = counts.iter().copied().max().unwrap_or(0);
    let mask = counts[b'x' as usize] + counts[b'*' as usize] + counts[b'#' as usize];
    let run_limit = if lower.len() < 100 {
        8
    } else {
        lower.len() / 3
    };
    longest >= run_limit || max * 2 > n || mask * 2 > n
}

/// True when the value holds a run of `min` or more consecutive ascending characters
/// (`123456`, `abcdef`), the mark of a hand-typed example.
pub fn has_sequence(s: &[u8], min: usize) -> bool {
    let mut run = 1usize;
    for i in 1..s.len() {
        let (a, b) = (s[i - 1].to_ascii_lowercase(), s[i].to_ascii_lowercase());
        if a.is_ascii_alphanumeric() && b == a.wrapping_add(1) {
            run += 1;
            if run >= min {
                return true;
            }
        } else {
            run = 1;
        }
    }
    false
}

/// True when a stretch of 12 or more characters repeats with a period of 2 to 6
/// (`123123123123`, `abababababab`).
pub fn has_short_period(s: &[u8]) -> bool {
    (2..=6).any(|p| {
        let mut run = 0usize;
        for i in p..s.len() {
            if s[i] == s[i - p] {
                run += 1;
                if run + p >= 12 {
                    return true;
                }
            } else {
                run = 0;
            }
        }
        false
    })
}

/// True when the value holds three capitalised words in a row (`AgencyIdentificationCode`).
pub fn camel_words(s: &[u8]) -> bool {
    let mut in_row = 0;
    let mut i = 0;
    while i < s.len() {
        if s[i].is_ascii_uppercase() {
            let mut j = i + 1;
            while j < s.len() && s[j].is_ascii_lowercase() {
                j += 1;
            }
            if j - i >= 4 && has_vowel(&s[i..j]) {
                in_row += 1;
                if in_row >= 3 {
                    return true;
                }
            } else {
                in_row = 0;
            }
            i = j;
        } else {
            in_row = 0;
            i += 1;
        }
    }
    false
}

/// True for a hexadecimal value with a few stray characters: mixed case (`acdeFf05…`) or one to
/// three letters past `f` (`…bfe2R21`). Encoders write hex in one case, and a random value of
/// another alphabet is all-hex by chance with vanishing odds: this is an edited, made-up value.
pub fn edited_hex(v: &[u8]) -> bool {
    if v.len() < 20 || !v.iter().all(u8::is_ascii_alphanumeric) {
        return false;
    }
    let lower_hex = v
        .iter()
        .filter(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(*b))
        .count();
    let upper_hex = v
        .iter()
        .filter(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(*b))
        .count();
    let stray = v.len() - lower_hex.max(upper_hex);
    (1..=3).contains(&stray)
}

/// True for a UUID (8-4-4-4-12 hex).
pub fn is_uuid(s: &[u8]) -> bool {
    if s.len() != 36 {
        return false;
    }
    s.iter().enumerate().all(|(i, &b)| match i {
        8 | 13 | 18 | 23 => b == b'-',
        _ => b.is_ascii_hexdigit(),
    })
}

/// True for a bare hexadecimal digest the length of MD5/SHA-1/SHA-256/SHA-512 or a git object id.
pub fn is_hex_digest(s: &[u8]) -> bool {
    matches!(s.len(), 40 | 64 | 128) && s.iter().all(|b| b.is_ascii_hexdigit())
}

/// True when the text just before the secret marks it as a digest or an integrity hash
/// (`sha256:`, `sha512-`, `md5=`, `h1:`…).
pub fn after_digest_marker(line: &[u8], secret_start: usize) -> bool {
    let from = secret_start.saturating_sub(8);
    let before = line[from..secret_start].to_ascii_lowercase();
    const MARKERS: &[&[u8]] = &[
        b"sha1-", b"sha256-", b"sha384-", b"sha512-", b"sha1:", b"sha256:", b"sha384:", b"sha512:",
        b"md5:", b"md5=", b"sha1=", b"sha256=", b"h1:", b"sha256~",
    ];
    MARKERS.iter().any(|m| before.ends_with(m))
}

/// True when the path is a dependency lock file or checksum list, whose long values are integrity
/// hashes, not secrets.
pub fn is_lock_file(path: &str) -> bool {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    matches!(
        name,
        "package-lock.json"
            | "npm-shrinkwrap.json"
            | "yarn.lock"
            | "pnpm-lock.yaml"
            | "bun.lock"
            | "Cargo.lock"
            | "go.sum"
            | "poetry.lock"
            | "Pipfile.lock"
            | "Gemfile.lock"
            | "composer.lock"
            | "mix.lock"
            | "pubspec.lock"
            | "packages.lock.json"
            | "flake.lock"
            | "uv.lock"
            | "gradle.lockfile"
    )
}

/// True when an assigned value is a reference to something else rather than a literal: a variable
/// (`$VAR`, `${VAR}`, `%VAR%`), a template (`{{ .Values.x }}`), a command substitution (`$(cmd)`), a
/// call (`env('X')`, `getenv(...)`, `os.environ[...]`), or a dotted path (`process.env.X`, `var.db`).
pub fn is_reference(v: &[u8]) -> bool {
    if v.is_empty() {
        return true;
    }
    let lower = v.to_ascii_lowercase();
    if v[0] == b'$'
        || v[0] == b'%'
        || v[0] == b'@' && !v[1..].contains(&b'@')
        || v[0] == b'{'
        || v[0] == b'['
    {
        return true;
    }
    const CALLS: &[&[u8]] = &[
        b"env(",
        b"env[",
        b"env.",
        b"environ",
        b"getenv",
        b"process.",
        b"config(",
        b"config.",
        b"settings.",
        b"secrets.",
        b"vars.",
        b"var.",
        b"params.",
        b"values.",
        b"data.",
        b"self.",
        b"this.",
        b"props.",
        b"input(",
        b"lookup(",
        b"vault(",
        b"file(",
        b"()",
        b"local.",
        b"module.",
        b"context.",
        b"request.",
        b"credentials.",
        b"options.",
        b"args.",
        b"opts.",
        b"cfg.",
        b"conf.",
    ];
    if CALLS.iter().any(|c| contains(&lower, c)) {
        return true;
    }
    // Interpolation inside a string: `"repo.$name.allow"`, `"${HOME}/key"`.
    if v.windows(2)
        .any(|w| w[0] == b'$' && (w[1].is_ascii_alphabetic() || w[1] == b'_' || w[1] == b'{'))
    {
        return true;
    }
    // A dotted identifier path without digits or other signs: `foo.bar.baz`.
    let parts = v.split(|&b| b == b'.').collect::<Vec<_>>();
    if parts.len() >= 2
        && parts.iter().all(|p| {
            !p.is_empty() && p.iter().all(|b| b.is_ascii_alphabetic() || *b == b'_') && p.len() >= 2
        })
    {
        return true;
    }
    false
}

/// True when a value reads like words or an identifier (`APIOrganizationExist`, `my_api_key`,
/// `ACCESS_TOKEN`, `kVK_Return`, a glob of words such as `new-relic-*`) rather than random characters.
pub fn is_wordlike(v: &[u8]) -> bool {
    if NON_SECRET_VALUES
        .iter()
        .any(|w| v.eq_ignore_ascii_case(w.as_bytes()))
    {
        return true;
    }
    if v.iter().any(|b| b.is_ascii_digit()) {
        return false;
    }
    if !v.iter().all(|b| {
        b.is_ascii_alphabetic() || matches!(b, b'_' | b'-' | b'.' | b' ' | b'|' | b'/' | b'*')
    }) {
        return false;
    }
    // Only letters and separators: words when every camel/snake segment is a plausible word.
    let mut segments = 0usize;
    let mut word_chars = 0usize;
    let mut i = 0;
    while i < v.len() {
        if !v[i].is_ascii_alphabetic() {
            i += 1;
            continue;
        }
        let start = i;
        if v[i].is_ascii_uppercase() {
            i += 1;
            if i < v.len() && v[i].is_ascii_uppercase() {
                while i < v.len()
                    && v[i].is_ascii_uppercase()
                    && !(i + 1 < v.len() && v[i + 1].is_ascii_lowercase())
                {
                    i += 1;
                }
            } else {
                while i < v.len() && v[i].is_ascii_lowercase() {
                    i += 1;
                }
            }
        } else {
            while i < v.len() && v[i].is_ascii_lowercase() {
                i += 1;
            }
        }
        segments += 1;
        let seg = &v[start..i];
        if seg.len() >= 3 && has_vowel(seg)
            || seg.len() >= 2 && seg.iter().all(|b| b.is_ascii_uppercase())
        {
            word_chars += seg.len();
        }
    }
    let letters = v.iter().filter(|b| b.is_ascii_alphabetic()).count();
    // Words are long: random mixed case breaks into many short segments.
    segments > 0 && letters >= segments * 4 && word_chars * 10 >= letters * 8
}

fn has_vowel(s: &[u8]) -> bool {
    s.iter().any(|b| {
        matches!(
            b.to_ascii_lowercase(),
            b'a' | b'e' | b'i' | b'o' | b'u' | b'y'
        )
    })
}

/// True when a value reads as a code identifier or path rather than a secret: `a::b`, `&x`,
/// `_bindgen_ty_28`, `uddiv3SubscriptionKey`, `id-kp-clientAuth` — every part of it a word, a short
/// acronym or a small number.
pub fn is_code_identifier(v: &[u8]) -> bool {
    if contains(v, b"::")
        || matches!(v.first(), Some(b'&' | b'*' | b'.' | b'#' | b'!' | b':'))
        || v.ends_with(b":")
    {
        return true;
    }
    if !v
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b':' | b'#'))
    {
        return false;
    }
    let has_sep = v.iter().any(|b| !b.is_ascii_alphanumeric());
    // Digits sandwiched between letters (`pdl6ibs0puny`) mark random text; identifiers carry digits
    // at the ends of words (`x25519`, `v8`, `pkcs15Token`).
    let sandwiched = v
        .windows(3)
        .filter(|w| {
            w[0].is_ascii_alphabetic() && w[1].is_ascii_digit() && w[2].is_ascii_alphabetic()
        })
        .count();
    if sandwiched >= 2 {
        return false;
    }
    let (mut segments, mut words, mut capitalised, mut singles) = (0usize, 0usize, 0usize, 0usize);
    let mut i = 0;
    while i < v.len() {
        let b = v[i];
        if !b.is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        segments += 1;
        if b.is_ascii_digit() {
            while i < v.len() && v[i].is_ascii_digit() {
                i += 1;
            }
            if i - start > 5 {
                return false;
            }
            continue;
        }
        if b.is_ascii_uppercase() && v.get(i + 1).is_some_and(|n| n.is_ascii_uppercase()) {
            while i < v.len()
                && v[i].is_ascii_uppercase()
                && !v.get(i + 1).is_some_and(|n| n.is_ascii_lowercase())
            {
                i += 1;
            }
            let seg = &v[start..i];
            if seg.len() > 5 && !has_vowel(seg) {
                return false;
            }
            if seg.len() >= 3 && has_vowel(seg) {
                words += 1;
            }
            continue;
        }
        i += 1;
        while i < v.len() && v[i].is_ascii_lowercase() {
            i += 1;
        }
        let seg = &v[start..i];
        if seg.len() == 1 {
            singles += 1;
        } else if seg.len() > 4 && !(has_vowel(seg) && plausible_word(seg)) {
            return false;
        }
        if seg.len() >= 3 && has_vowel(seg) {
            words += 1;
            capitalised += b.is_ascii_uppercase() as usize;
        }
    }
    if singles > 2 || words == 0 {
        return false;
    }
    if has_sep {
        singles <= 1
    } else {
        segments <= 6 && words >= 2 && capitalised >= 1 && singles == 0
    }
}

/// A lower-case run reads as a word: vowels spread through it, no long consonant cluster.
fn plausible_word(seg: &[u8]) -> bool {
    let mut cluster = 0;
    for b in seg {
        if matches!(
            b.to_ascii_lowercase(),
            b'a' | b'e' | b'i' | b'o' | b'u' | b'y'
        ) {
            cluster = 0;
        } else {
            cluster += 1;
            if cluster > 5 {
                return false;
            }
        }
    }
    true
}

/// Case-sensitive substring search.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entropy_of_known_strings() {
        assert_eq!(shannon(b""), 0.0);
        assert_eq!(shannon(b"aaaa"), 0.0);
        assert!((shannon(b"ab") - 1.0).abs() < 1e-9);
        assert!((shannon(b"abcdefgh") - 3.0).abs() < 1e-9);
    }

    #[test]
    fn placeholders() {
        assert!(is_placeholder(b"AKIAIOSFODNN7EXAMPLE"));
        assert!(is_placeholder(b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"));
        assert!(is_placeholder(b"ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
        assert!(is_placeholder(b"<your-key>"));
        assert!(is_placeholder(b"your_api_key_here"));
        assert!(is_placeholder(b"changeme"));
        assert!(is_placeholder(b"************"));
        assert!(!is_placeholder(b"Zq8v0pQou3uOfbCdqfa2"));
    }

    #[test]
    fn references() {
        for r in [
            "${VAR}",
            "{{ .Values.x }}",
            "$(cmd)",
            "env('X')",
            "os.environ['X']",
            "process.env.X",
            "getenv(\"X\")",
            "var.db_password",
            "%TestSourcePassword%",
        ] {
            assert!(is_reference(r.as_bytes()), "{r}");
        }
        assert!(!is_reference(b"s.78gYTTnZXnUndqFBBYGCEAnZ"));
        assert!(!is_reference(b"Zq8v0pQou3uOfbCdqfa2"));
    }

    #[test]
    fn words_and_random() {
        assert!(is_wordlike(b"APIOrganizationExist"));
        assert!(is_wordlike(b"ACCESS_TOKEN"));
        assert!(is_wordlike(b"SlackAppConfigurationAccessTokenHere"));
        assert!(!is_wordlike(b"suHFCdRROVPFfO"));
        assert!(
            is_wordlike(b"new-relic-*"),
            "a glob of words is not a secret"
        );
        assert!(!is_wordlike(b"pq8bvijs1m4zb8"));
        for code in [
            "crate::key_t",
            "_bindgen_ty_28",
            "uddiv3SubscriptionKey",
            "id-kp-clientAuth",
            "&gcm::Key",
            ".Lenc_key:",
            "pkcs-9-at-pkcs15Token",
            "id-it-revPassphrase",
            "id-regCtrl-regToken",
            "x25519_generate_private_key",
            "dep:gix-prompt",
        ] {
            assert!(is_code_identifier(code.as_bytes()), "{code}");
        }
        for random in [
            "pq8bvijs1m4zb8",
            "suHFCdRROVPFfO",
            "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB",
            "jeqozp1ub8nimv7swxp92b4d",
            "d6pfblGAIu8k0qfs8hIuqFrnoJdyyk",
        ] {
            assert!(!is_code_identifier(random.as_bytes()), "{random}");
        }
    }

    #[test]
    fn edited_hex_values() {
        assert!(edited_hex(b"acdeFf05b1a6d4c890237bf08c5e6e8d2b4d0f2e"));
        assert!(edited_hex(
            b"5cb4a5f04cd412fe946667b17f0129ba17aeb2e0c7b5b7264efcebf7d022bfe2R21"
        ));
        assert!(!edited_hex(b"9a038989604e8da62ecddbe2094b16ce1b778be1"));
        assert!(!edited_hex(b"9A038989604E8DA62ECDDBE2094B16CE1B778BE1"));
        assert!(!edited_hex(b"Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"));
    }

    #[test]
    fn sequences_uuids_digests() {
        assert!(has_sequence(b"abcdefghijklmnop", 6));
        assert!(has_sequence(b"x1234567y", 6));
        assert!(!has_sequence(b"Zq8v0pQou3uOfbCd", 6));
        assert!(is_uuid(b"e8e4df51-2054-49b0-ab1c-516ac95c691d"));
        assert!(!is_uuid(b"e8e4df51-2054-49b0-ab1c-516ac95c691"));
        assert!(is_hex_digest(b"9a038989604e8da62ecddbe2094b16ce1b778be1"));
        assert!(after_digest_marker(b"integrity sha512-abc", 17));
        assert!(is_lock_file("web/package-lock.json"));
        assert!(!is_lock_file("web/package.json"));
    }
}
