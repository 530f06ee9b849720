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
    if !(decoded.starts_with(b"{") && noise::contains(&decoded, b"\"alg\"")) {
        return false;
    }
    let alg = serde_json::from_slice::<serde_json::Value>(&decoded)
        .ok()
        .and_then(|v| v.get("alg")?.as_str().map(str::to_string));
    let signature = c.secret.rsplit(|&b| b == b'.').next().unwrap_or(b"");
    alg.is_none_or(|alg| jwt_signature_fits(&alg, signature)) && !after_basic(c) && !example_jwt(c)
}

/// True for a JWT presented as an example: one in a documentation file that is jwt.io's sample
/// (`"sub":"1234567890"`, `"name":"John Doe"`) or whose text just before it says so (`example`,
/// `e.g.`, `sample`, `for instance`); one in a test fixture whose file or variable name says `example`,
/// `sample`, `dummy`, `fake` or `mock`. A token pasted into a runbook without such words stays a
/// finding.
pub fn example_jwt(c: &Candidate) -> bool {
    let s = c.secret;
    if !(s.starts_with(b"eyJ") && s.iter().filter(|&&b| b == b'.').count() == 2) {
        return false;
    }
    let payload = s.split(|&b| b == b'.').nth(1).unwrap_or(b"");
    let jwt_io_sample = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .is_ok_and(|p| noise::contains(&p, b"John Doe") && noise::contains(&p, b"1234567890"));
    let path = c.path.to_ascii_lowercase().replace('\\', "/");
    let before = c.window[..c.secret_at].to_ascii_lowercase();
    let says = |text: &[u8], words: &[&[u8]]| words.iter().any(|w| noise::contains(text, w));
    let doc = [".md", ".rst", ".adoc", ".markdown"]
        .iter()
        .any(|e| path.ends_with(e))
        || path.starts_with("docs/")
        || path.contains("/docs/");
    if doc && (jwt_io_sample || says(&before, &[b"example", b"e.g.", b"sample", b"for instance"])) {
        return true;
    }
    let test_dir = path.split('/').any(|seg| {
        matches!(
            seg,
            "test" | "tests" | "spec" | "fixtures" | "testdata" | "__tests__" | "__fixtures__"
        )
    });
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let file_name = path.rsplit('/').next().unwrap_or(&path);
    let naming: &[&[u8]] = &[b"example", b"sample", b"dummy", b"fake", b"mock"];
    test_dir && (says(file_name.as_bytes(), naming) || says(&before[line_start..], naming))
}

/// True when the secret follows the `Basic` scheme: a Basic credential is base64 of
/// `user:password` (RFC 7617), so a JWT or other dotted value there is malformed test input, never a
/// working credential.
pub fn after_basic(c: &Candidate) -> bool {
    let before = c.window[..c.secret_at].trim_ascii_end();
    before.len() >= 5
        && before[before.len() - 5..].eq_ignore_ascii_case(b"basic")
        && c.secret.contains(&b'.')
}

/// A bearer token: random enough, and when it is a JWT, a well-formed one (see [`jwt_header`]).
pub fn bearer_value(c: &Candidate) -> bool {
    let s = c.secret;
    if noise::shannon(s) < 3.5 || !s.iter().any(u8::is_ascii_digit) {
        return false;
    }
    let is_jwt = s.starts_with(b"eyJ") && s.iter().filter(|&&b| b == b'.').count() == 2;
    !is_jwt || jwt_header(c)
}

/// True when a JWT's signature (base64url, RFC 7515) has the length its algorithm (RFC 7518,
/// RFC 8037) produces: a cut or made-up signature is no usable token. Unknown algorithms pass.
fn jwt_signature_fits(alg: &str, signature: &[u8]) -> bool {
    let sig = signature
        .iter()
        .rposition(|&b| b != b'=')
        .map_or(&signature[..0], |p| &signature[..=p]);
    let chars = |bytes: usize| (bytes * 4).div_ceil(3);
    let fits = |sizes: &[usize]| sizes.iter().any(|&n| sig.len() == chars(n));
    match alg {
        "HS256" => fits(&[32]),
        "HS384" => fits(&[48]),
        "HS512" => fits(&[64]),
        "ES256" | "ES256K" => fits(&[64]),
        "ES384" => fits(&[96]),
        "ES512" => fits(&[132]),
        "EdDSA" | "Ed25519" | "Ed448" => fits(&[64, 114]),
        // RSA: the signature is as long as the modulus (1024 to 8192 bits).
        a if a.starts_with("RS") || a.starts_with("PS") => {
            (128..=1024).step_by(64).any(|n| sig.len() == chars(n))
        }
        _ => true,
    }
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
    if noise::after_digest_marker(c.window, c.secret_at) {
        return false;
    }
    // A real access key id nearby: `AKIA`/`ASIA` and 16 more of its alphabet, standing alone (not
    // four letters met by chance inside a run of base64, as in a wheel's RECORD of hashes).
    let w = c.window;
    (0..w.len().saturating_sub(19)).any(|i| {
        (w[i..].starts_with(b"AKIA") || w[i..].starts_with(b"ASIA"))
            && (i == 0 || !w[i - 1].is_ascii_alphanumeric())
            && w[i + 4..i + 20]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            && w.get(i + 20).is_none_or(|b| !b.is_ascii_alphanumeric())
    })
}

/// Credentials in a URL or a `user:password` pair: the password is a literal, not a stand-in.
pub fn password_literal(c: &Candidate) -> bool {
    let decoded = percent_decode(c.secret);
    let p = decoded.as_slice();
    if p.len() < 4
        || noise::is_placeholder(p)
        || noise::is_reference(p)
        || noise::is_wordlike(p)
        || password_variant(p)
        || p.iter().any(|&b| b < 0x20 || b == 0x7f)
    {
        // (Control characters: a URL parser's test vector, not a typed password.)
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

/// A password in a URL: a real-looking literal, for a host that is not a documentation one.
pub fn url_password(c: &Candidate) -> bool {
    let host = c
        .matched
        .rsplit(|&b| b == b'@')
        .next()
        .unwrap_or(b"")
        .to_ascii_lowercase();
    password_literal(c) && !documentation_host(&host)
}

/// True for a host name reserved for documentation and tests (RFC 2606, RFC 6761: `example.com`,
/// `*.example`, `*.test`, `*.invalid`) or one that says it is made up (`dummy.faketld`).
fn documentation_host(host: &[u8]) -> bool {
    let host = host.strip_suffix(b".").unwrap_or(host);
    let reserved = [&b"example.com"[..], b"example.net", b"example.org"];
    let tlds = [&b".example"[..], b".test", b".invalid"];
    reserved
        .iter()
        .any(|r| host == *r || host.ends_with(&[b".", *r].concat()))
        || tlds.iter().any(|t| host.ends_with(t))
        || [&b"example"[..], b"dummy", b"fake", b"placeholder"]
            .iter()
            .any(|w| noise::contains(host, w))
}

/// `%XX` escapes decoded (a password in a URL is percent-encoded); other bytes kept.
fn percent_decode(v: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        if v[i] == b'%'
            && let (Some(h), Some(l)) = (
                v.get(i + 1).copied().and_then(hex),
                v.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(v[i]);
        i += 1;
    }
    out
}

/// True for a spelling of the word "password" (`p@ssword`, `Passw0rd!`, `pa?sword`, `pa/ssword`)
/// with at most one letter changed: the stand-in of documentation and tests.
pub fn password_variant(v: &[u8]) -> bool {
    let letters: Vec<u8> = v
        .iter()
        .filter_map(|&b| match b.to_ascii_lowercase() {
            b'@' | b'4' => Some(b'a'),
            b'0' => Some(b'o'),
            b'1' | b'!' => Some(b'i'),
            b'3' => Some(b'e'),
            b'$' | b'5' => Some(b's'),
            l if l.is_ascii_lowercase() => Some(l),
            _ => None,
        })
        .collect();
    letters == b"passwd"
        || (6..=9).contains(&letters.len()) && edit_distance(&letters, b"password") <= 1
}

/// Levenshtein distance of two short byte strings.
fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, &x) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + (x != y) as usize)
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// A base64 `user:password` (a Docker config's `auth`, a Basic credential) whose password is a
/// literal, not a stand-in.
pub fn basic_credentials(c: &Candidate) -> bool {
    let Some(text) = crate::scan::detect::decode::decode_short(c.secret) else {
        return false;
    };
    let Some(colon) = text.iter().position(|&b| b == b':') else {
        return false;
    };
    let (user, password) = (&text[..colon], &text[colon + 1..]);
    password_literal(&Candidate {
        secret: password,
        name: user,
        ..*c
    })
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
    if !is_secret {
        return false;
    }
    match secret_block(c.window, c.secret_at) {
        Some(b"data") => match crate::scan::detect::decode::decode_short(c.secret) {
            Some(text) => secret_value(c, &text),
            // Binary data (a keystore) under a secret-like name.
            None => {
                c.secret.len() >= 16
                    && c.secret
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
                    && secret_name(c.name)
            }
        },
        Some(b"stringData") => secret_value(c, c.secret),
        _ => false,
    }
}

/// The key of the block an indented `name: value` line sits in (`data`, `stringData`, `metadata`).
fn secret_block(window: &[u8], at: usize) -> Option<&[u8]> {
    let line_start = window[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let indent = |l: &[u8]| l.iter().take_while(|b| **b == b' ' || **b == b'\t').count();
    let mut own = indent(&window[line_start..]);
    let lines = window[..line_start.saturating_sub(1)]
        .split(|&b| b == b'\n')
        .rev()
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.trim_ascii().is_empty() && !l.trim_ascii().starts_with(b"#"));
    for l in lines {
        if indent(l) >= own {
            continue;
        }
        let t = l.trim_ascii();
        // A block scalar's key (`.dockercfg: |`): the block is its parent's.
        if t.ends_with(b"|") || t.ends_with(b">") || t.ends_with(b"|-") || t.ends_with(b">-") {
            own = indent(l);
            continue;
        }
        return Some(t.strip_suffix(b":").unwrap_or(t));
    }
    None
}

/// Judges the (decoded) value of a Secret's entry: a certificate, a public key, a user name, a
/// placeholder (`changeme`) or a config document (its own content is scanned decoded) is not a
/// secret; a private key is; a value under a secret-like name must be a literal password; under any
/// other name it must look random.
fn secret_value(c: &Candidate, text: &[u8]) -> bool {
    let t = text.trim_ascii();
    if noise::contains(t, b"-----BEGIN") {
        return noise::contains(t, b"PRIVATE KEY");
    }
    // A registry config (`.dockercfg`, `.dockerconfigjson`) holding an `auth` entry is credentials
    // (a decodable `auth` is also reported by its own rule, which then takes precedence).
    if t.starts_with(b"{") && noise::contains(t, b"\"auth\"") {
        return true;
    }
    if t.starts_with(b"ssh-")
        || t.starts_with(b"ecdsa-")
        || t.starts_with(b"{")
        || t.starts_with(b"[")
        || t.contains(&b'\n')
    {
        return false;
    }
    let lower = c.name.to_ascii_lowercase();
    let secretish = secret_name(c.name)
        || [
            &b"password"[..],
            b"passwd",
            b"secret",
            b"token",
            b"apikey",
            b"api_key",
            b"api-key",
            b"credential",
            b"private",
        ]
        .iter()
        .any(|w| noise::contains(&lower, w));
    if secretish {
        return password_literal(&Candidate { secret: t, ..*c });
    }
    t.len() >= 16
        && noise::shannon(t) >= 3.5
        && !t.contains(&b' ')
        && !noise::is_placeholder(t)
        && !noise::is_wordlike(t)
        && !noise::is_uuid(t)
}

/// True for values that are public by design although assigned to a key-like name: a Pusher app
/// key (the app *secret* is the credential), a Mapbox public token (`pk.`), a web-push VAPID public
/// key (RFC 8292: the base64url of an uncompressed P-256 point, 65 bytes starting with 0x04).
pub fn public_by_design(c: &Candidate) -> bool {
    let words = split_words(c.name);
    let pusher_key =
        words.iter().any(|w| w == "pusher") && words.last().is_some_and(|l| l == "key");
    pusher_key || c.secret.starts_with(b"pk.eyJ") || ec_public_point(c.secret)
}

/// True for the base64url (or base64) of an uncompressed elliptic-curve point: 65 bytes, 0x04 first.
pub fn ec_public_point(v: &[u8]) -> bool {
    if !(86..=88).contains(&v.len()) {
        return false;
    }
    let trimmed = v.strip_suffix(b"=").unwrap_or(v);
    let normal: Vec<u8> = trimmed
        .iter()
        .map(|&b| match b {
            b'-' => b'+',
            b'_' => b'/',
            other => other,
        })
        .collect();
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&normal)
        .is_ok_and(|d| d.len() == 65 && d[0] == 0x04)
}

/// True for a file that is a template to copy and fill in (`.env.example`, `config.sample.yml`,
/// `settings.py.dist`, `app.tmpl.json`): what it holds is meant to be shared.
pub fn template_path(path: &str) -> bool {
    let name = path
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or(path)
        .to_ascii_lowercase();
    name.split(['.', '-', '_']).skip(1).any(|part| {
        matches!(
            part,
            "example" | "examples" | "sample" | "template" | "tmpl" | "tpl" | "dist" | "skel"
        )
    })
}

/// A Stripe key, unless it is a test-mode key (`sk_test_`, `rk_test_`) in a template file: the
/// shared sandbox key of an `.env.example` is handed to every developer on purpose. A live key is
/// a finding wherever it is.
pub fn stripe_key_outside_template(c: &Candidate) -> bool {
    let test_mode = c.secret.starts_with(b"sk_test_") || c.secret.starts_with(b"rk_test_");
    !(test_mode && template_path(c.path))
}

/// A context rule's value that is not an id: a UUID assigned to a name ending in `id` (`HEROKU_APP_ID`,
/// `SNYK_ORG_ID`) identifies an object; the provider's UUID tokens sit under key/token names.
pub fn not_an_id(c: &Candidate) -> bool {
    if !noise::is_uuid(c.secret) {
        return true;
    }
    let m = c.matched;
    let start = m.iter().position(u8::is_ascii_alphanumeric).unwrap_or(0);
    let len = m[start..]
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        .count();
    let words = split_words(&m[start..start + len]);
    !words
        .last()
        .is_some_and(|l| matches!(l.as_str(), "id" | "uuid" | "guid" | "ids"))
}

/// An item of a Compose service's `environment:` block (`- NAME=value`, `NAME: value`) whose
/// variable names a secret (`RABBITMQ_DEFAULT_PASS`: the image's documented name, `DEFAULT` and
/// all) and whose value is a literal, not `${VAR}` or a stand-in.
pub fn compose_environment(c: &Candidate) -> bool {
    if secret_block(c.window, c.secret_at) != Some(b"environment") {
        return false;
    }
    let name = String::from_utf8_lossy(c.name)
        .to_ascii_uppercase()
        .replace("DEFAULT_", "")
        .replace("ROOT_", "")
        .replace("INITIAL_", "");
    secret_name(name.as_bytes())
        && !name.ends_with("_FILE")
        && password_literal(c)
        && !noise::is_uuid(c.secret)
}

/// A `password=` of a libpq connection string: the line also names a libpq keyword (`host=`,
/// `hostaddr=`, `dbname=`), and the password is a literal.
pub fn libpq_password(c: &Candidate) -> bool {
    let start = c.window[..c.secret_at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let end = c.window[c.secret_at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(c.window.len(), |p| c.secret_at + p);
    let line = c.window[start..end].to_ascii_lowercase();
    let keyword = |k: &[u8]| {
        memchr::memmem::find_iter(&line, k)
            .any(|p| p == 0 || !line[p - 1].is_ascii_alphanumeric() && line[p - 1] != b'_')
    };
    // `Host=…;Password=…` is the Key=value; form: its own rule's.
    let before = c.window[..c.secret_at.saturating_sub(b"password=".len())].trim_ascii_end();
    (keyword(b"host=") || keyword(b"dbname=") || keyword(b"hostaddr="))
        && before.last() != Some(&b';')
        && password_literal(c)
}

/// A value under a secret-like name (a .NET app setting): a literal password under a password
/// name, a random-looking literal under any other secret name.
pub fn named_secret_value(c: &Candidate) -> bool {
    let lower = c.name.to_ascii_lowercase();
    let password_name = [&b"password"[..], b"passwd", b"pwd"]
        .iter()
        .any(|w| lower.ends_with(w));
    if password_name && secret_name(c.name) {
        return password_literal(c);
    }
    generic_assignment(c)
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
        || public_by_design(c)
        || !stripe_key_outside_template(c)
    {
        return false;
    }
    if v.starts_with(b"ssh-") || v.starts_with(b"ecdsa-") || v.starts_with(b"AAAAB3Nza") {
        return false;
    }
    // A Mailchimp-shaped key (`<32 hex>-us<n>`) is that rule's to judge.
    if v.len() >= 36 && v[..32].iter().all(|b| b.is_ascii_hexdigit()) && v[32..].starts_with(b"-us")
    {
        return false;
    }
    if provider_named(c.name)
        || unquoted_code_value(c)
        || noise::edited_hex(v)
        || noise::is_wordlike(&deleet(v))
        || unquoted_name_then_comma(c)
    {
        return false;
    }
    // A base64 value is judged by what it encodes: `Y2hhbmdlbWU=` is `changeme`.
    if v.len().is_multiple_of(4)
        && let Some(d) = crate::scan::detect::decode::decode_short(v)
        && (noise::is_placeholder(&d) || noise::is_wordlike(&d) || d.len() < 6)
    {
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
    // A query parameter of a README badge or other image (`badge.svg?token=…`, `<img src=…?token=`)
    // is a public graph token.
    let line_start = c.window[..c.secret_at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let line_end = c.window[c.secret_at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(c.window.len(), |p| c.secret_at + p);
    let line = c.window[line_start..line_end].to_ascii_lowercase();
    if (noise::contains(&line, b"badge")
        || noise::contains(&line, b"<img")
        || noise::contains(&line, b".svg?")
        || noise::contains(&line, b"img.shields.io"))
        && (noise::contains(&line, b"?token=") || noise::contains(&line, b"&token="))
    {
        return false;
    }
    let e = noise::shannon(v);
    let floor = if v.len() >= 20 { 3.5 } else { 3.0 };
    e >= floor
}

/// True when a secret-like name ends in a word that names a credential itself (`api_token`,
/// `client_secret`, `apiKey`), not an identifier: a UUID assigned to it is a token (many providers
/// issue UUID tokens), while a UUID under `app_id` or `key` stays an id.
pub fn token_name(name: &[u8]) -> bool {
    let words = split_words(name);
    secret_name(name)
        && words.last().is_some_and(|l| {
            l.ends_with("token")
                || l.ends_with("secret")
                || l.ends_with("password")
                || l.ends_with("apikey")
                || (l == "key" && words.len() >= 2 && words[words.len() - 2] == "api")
        })
}

/// True when the name carries the name of a provider whose own rule expects a structured value
/// (`telegram_api_token`): that rule decides, and a value it rejected is not the provider's secret
/// — the generic rule does not report it either.
pub fn provider_named(name: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    super::provider_names()
        .iter()
        .any(|p| noise::contains(&lower, p.as_bytes()))
}

/// True when an unquoted value reads as code rather than a literal: an expression of identifiers
/// (`key+nextIndex`) or a variable named after what it holds (`PrivateKey: testP256PrivateKey,`,
/// `token = authToken`).
fn unquoted_code_value(c: &Candidate) -> bool {
    let before = c.secret_at.checked_sub(1).map(|i| c.window[i]);
    if matches!(before, Some(b'"' | b'\'' | b'`')) {
        return false;
    }
    let v = c.secret;
    // (`+x` is a unary plus: the empty part before it is no operand.)
    if v.contains(&b'+')
        && (v[0] == b'+' || v[0].is_ascii_alphabetic() || v[0] == b'_')
        && v[1..].split(|&b| b == b'+').all(|p| {
            !p.is_empty()
                && p.iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.')
                && (noise::is_wordlike(p) || noise::is_code_identifier(p))
        })
    {
        return true;
    }
    if !v.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_') || !v[0].is_ascii_alphabetic() {
        return false;
    }
    let words = split_words(v);
    words.len() >= 2
        && words.last().is_some_and(|l| {
            matches!(
                l.as_str(),
                "key"
                    | "token"
                    | "secret"
                    | "password"
                    | "passwd"
                    | "pwd"
                    | "credentials"
                    | "creds"
            )
        })
        && words[..words.len() - 1]
            .iter()
            .any(|w| w.len() >= 3 && w.bytes().all(|b| b.is_ascii_lowercase()))
        && {
            // The capitalised or separated secret word ends the value: `…PrivateKey`, `…_token`.
            let n = v.len();
            let l = words.last().map_or(0, String::len);
            n > l && (v[n - l].is_ascii_uppercase() || v[n - l - 1] == b'_')
        }
}

/// `s3cr3t-value` → `secret-value`: digits and signs that stand for letters, read back.
fn deleet(v: &[u8]) -> Vec<u8> {
    v.iter()
        .map(|&b| match b {
            b'4' | b'@' => b'a',
            b'3' => b'e',
            b'1' | b'!' => b'i',
            b'0' => b'o',
            b'5' | b'$' => b's',
            b'7' => b't',
            other => other,
        })
        .collect()
}

/// `f(x.secret, "value")`: a bare name followed by a comma is one argument beside another, not a
/// name and its value (`setProperty("secret", "value")` quotes the name).
fn unquoted_name_then_comma(c: &Candidate) -> bool {
    let glue = c.matched.get(c.name.len()..).unwrap_or(b"");
    glue.trim_ascii_start().first() == Some(&b',')
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

/// Words that, just before a final `key`, make it the key of a record rather than a credential.
const LOOKUP_KEY_QUALIFIERS: &[&str] = &[
    "blob",
    "group",
    "unique",
    "composite",
    "natural",
    "surrogate",
    "dict",
    "registry",
    "record",
    "item",
    "entry",
    "node",
    "child",
    "parent",
    "list",
    "query",
    "state",
];

/// Words that, anywhere in the name, say the value is not a secret.
const NOT_SECRET_WORDS: &[&str] = &[
    // Cache, lock and rate-limit keys name a slot, not a credential.
    "lock",
    "mutex",
    "semaphore",
    "limit",
    "ratelimit",
    "throttle",
    "dedup",
    "dedupe",
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
    // A name that says its value is wrong on purpose (tests of a rejection path).
    "invalid",
    "wrong",
    "bad",
    "incorrect",
    "bogus",
    "mismatched",
    "expired",
    "revoked",
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
    // `api_token_2`, `mySecretString`, `secret_do_not_commit`: look through a trailing number, a
    // type word or a warning.
    while words.len() > 1 {
        let l = words.last().expect("non-empty");
        if l.bytes().all(|b| b.is_ascii_digit())
            || matches!(
                l.as_str(),
                "string" | "str" | "value" | "val" | "do" | "not" | "dont" | "commit" | "share"
            )
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
    // `blobKey`, `groupKey`, `uniqueKey`: a key that identifies a record, not one that opens a door.
    let lookup_key = last == "key"
        && words.len() >= 2
        && LOOKUP_KEY_QUALIFIERS.contains(&words[words.len() - 2].as_str());
    // `nonMatchingToken`, `non_existent_key` — but not `non_prod_password`.
    let negated = words.windows(2).any(|p| {
        p[0] == "non"
            && matches!(
                p[1].as_str(),
                "matching" | "existent" | "existing" | "valid"
            )
    });
    last_ok
        && !lookup_key
        && !negated
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
            "NON_PROD_DB_PASSWORD",
            "AZURE_STORAGE_KEY",
            "dataKey",
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
            "blob-key",
            "groupKey",
            "uniqueKey",
            "nonMatchingToken",
            "invalidToken",
            "wrong_password",
            "non_existent_key",
        ] {
            assert!(!secret_name(n.as_bytes()), "{n}");
        }
    }

    #[test]
    fn templates_and_public_points() {
        for p in [
            ".env.example",
            "config/app.sample.yml",
            "settings.py.dist",
            "deploy/.env.template",
            "values.tmpl.yaml",
        ] {
            assert!(template_path(p), "{p}");
        }
        for p in [
            ".env",
            "sample.txt",
            "examples/app.py",
            "src/dist.rs",
            ".env.production",
        ] {
            assert!(!template_path(p), "{p}");
        }
        // An uncompressed P-256 point (0x04 ‖ X ‖ Y), base64url: a VAPID public key.
        let mut point = vec![4u8];
        point.extend((1..=64u8).map(|b| b.wrapping_mul(37)));
        let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&point);
        assert!(ec_public_point(key.as_bytes()));
        point[0] = 2;
        let other = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&point);
        assert!(!ec_public_point(other.as_bytes()));
    }

    #[test]
    fn uuids_under_id_names_are_ids() {
        // Built at run time: the repository's own scan must not see a token-shaped assignment.
        let uuid = ["0f8fad5b", "d9cb", "469f", "a165", "70867728950e"].join("-");
        let id_like = |name: &str| {
            let matched = format!("{name}{uuid}");
            !not_an_id(&Candidate {
                secret: uuid.as_bytes(),
                matched: matched.as_bytes(),
                name: b"",
                window: matched.as_bytes(),
                secret_at: matched.len() - uuid.len(),
                path: "x.env",
            })
        };
        assert!(id_like("HEROKU_APP_ID="));
        assert!(id_like("\nsnykOrgId: "));
        assert!(!id_like(&format!("HEROKU_API_{}=", "KEY")));
    }

    #[test]
    fn jwt_signatures_have_their_algorithms_length() {
        let sig = |n: usize| "A".repeat(n).into_bytes();
        assert!(jwt_signature_fits("HS256", &sig(43)));
        assert!(!jwt_signature_fits("HS256", &sig(24)));
        assert!(jwt_signature_fits("HS512", &sig(86)));
        assert!(jwt_signature_fits("ES256", &sig(86)));
        assert!(jwt_signature_fits("RS256", &sig(342)));
        assert!(!jwt_signature_fits("RS256", &sig(100)));
        assert!(jwt_signature_fits("XYZ", &sig(5)));
    }

    #[test]
    fn password_spellings_and_documentation_hosts() {
        for p in ["p@ssword", "Passw0rd!", "pasword", "pa/ssword", "passwd"] {
            assert!(password_variant(p.as_bytes()), "{p}");
        }
        for p in ["P@ssw0rd$1x9", "Zq8xW2vN5mK9", "hunter2"] {
            assert!(!password_variant(p.as_bytes()), "{p}");
        }
        assert_eq!(percent_decode(b"p%40ss%2Fx%zz"), b"p@ss/x%zz");
        for h in [
            "example.com",
            "git.example.org",
            "db.test",
            "x.invalid",
            "dummy.faketld",
        ] {
            assert!(documentation_host(h.as_bytes()), "{h}");
        }
        for h in ["db.internal", "gitlab.com", "localhost"] {
            assert!(!documentation_host(h.as_bytes()), "{h}");
        }
        assert_eq!(deleet(b"s3cr3t-value"), b"secret-value");
    }
}
