//! Private keys, JWTs, credentials in URLs, framework secrets and other services.

use super::checks;
use super::{Def, Kind, context, raw, token};

#[allow(clippy::too_many_lines)] // a rule table: one entry per provider format
pub(super) fn rules() -> Vec<Def> {
    vec![
        // Private keys: the armour names the key type; the body must be real.
        raw(
            "private-key",
            "Private key (PEM: PKCS#8, RSA, EC, DSA, OpenSSH, encrypted)",
            &["private key-----"],
            r"(-----BEGIN[ A-Z0-9_\-]{0,40}PRIVATE KEY-----[\s\S]{20,65536}?-----END[ A-Z0-9_\-]{0,40}PRIVATE KEY-----)",
        )
        .lines(0, 400)
        .check(checks::private_key_body),
        raw(
            "pgp-private-key-block",
            "PGP private key block",
            &["private key block-----"],
            r"(-----BEGIN PGP PRIVATE KEY BLOCK-----[\s\S]{20,65536}?-----END PGP PRIVATE KEY BLOCK-----)",
        )
        .lines(0, 800)
        .check(checks::private_key_body),
        raw(
            "putty-private-key",
            "PuTTY private key file",
            &["putty-user-key-file-"],
            r"(PuTTY-User-Key-File-\d: [\s\S]{10,20000}?Private-Lines: \d+\r?\n[A-Za-z0-9+/=\r\n]{40,})",
        )
        .lines(0, 200),
        // The prefix is age's alone: any key of the right length is one (`q` is bech32's zero, so
        // an all-`q` key is a key too), unless a placeholder word is in it.
        raw("age-secret-key", "age secret key", &["age-secret-key-1"], r"\b(AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})\b")
            .check(|c| !crate::scan::detect::noise::has_placeholder_word(c.secret)),
        super::path_only("pkcs12-file", "PKCS#12 key store file", r"(?i)\.(?:p12|pfx)$"),
        // JWTs: three base64url parts whose header decodes to JSON with an algorithm.
        // (Three lines before the token are looked at: "for example:" above a JWT in a document.)
        raw("jwt", "JSON Web Token", &["eyj"], r"\b(eyJ[A-Za-z0-9_\-]{10,}={0,2}\.eyJ[A-Za-z0-9_\-]{10,}={0,2}\.[A-Za-z0-9_\-]{10,}={0,2})")
            .lines(3, 0)
            .check(checks::jwt_header),
        // Credentials in URLs and command lines.
        token(
            "url-credentials",
            "Password in a URL (scheme://user:password@host)",
            &["://"],
            r"\b[A-Za-z][A-Za-z0-9+.\-]{1,20}://(?P<name>[^\s:@/\x22'<>\\]{0,64}):([^\s:@/\x22'<>\\]{3,128})@[A-Za-z0-9][A-Za-z0-9.\-_]*",
        )
        .group(2)
        .kind(Kind::Raw)
        .check(checks::url_password),
        token(
            "curl-auth-user",
            "Credentials passed to curl -u / --user",
            &["curl"],
            r#"\bcurl\b(?:[^\n]|\\?\r?\n[ \t]){0,600}?\s(?:-u|--user)[ =]+["']?\{?(?P<name>[^\s:"'$]{0,64}?)\}?["']?:["']?\{?([^\s"'$][^\s"']{3,127}?)\}?["']?(?:\s|$)"#,
        )
        .group(2)
        .lines(0, 6)
        .kind(Kind::Raw)
        .check(checks::password_literal),
        token(
            "curl-auth-user-key",
            "API key passed to curl -u as the user name (empty password)",
            &["curl"],
            r#"\bcurl\b(?:[^\n]|\\?\r?\n[ \t]){0,600}?\s(?:-u|--user)[ =]+["']?([A-Za-z0-9_\-!@#%^&*.+=~]{12,128}):["']?(?:\s|$)"#,
        )
        .lines(0, 6)
        .kind(Kind::Raw)
        .check(|c| {
            use super::super::detect::noise;
            !noise::is_placeholder(c.secret) && noise::shannon(c.secret) >= 3.3 && c.secret.iter().any(u8::is_ascii_digit)
        }),
        token(
            "curl-auth-header",
            "Credentials in a header passed to curl",
            &["curl"],
            r#"\bcurl\b(?:[^\n]|\\?\r?\n[ \t#]){0,600}?(?:-H|--header)[ =]*["'](?i:Authorization|Token|[\w\-]*api-?key|[\w\-]*-token|[\w\-]*secret)[ \t]*:[ \t]*(?:(?i:Basic|Bearer|Token|Api-Token|Bot)[ \t]+)?([^\s"']{8,})["']"#,
        )
        .lines(3, 8)
        .kind(Kind::Raw)
        .check(|c| {
            use super::super::detect::noise;
            !noise::is_placeholder(c.secret)
                && !noise::is_reference(c.secret)
                && !checks::after_basic(c)
                && !checks::example_jwt(c)
                && c.secret.iter().filter(|b| b.is_ascii_alphanumeric()).count() >= 8
        }),
        token(
            "authorization-bearer",
            "Bearer token in an Authorization header",
            &["bearer "],
            r#"(?i:Authorization)\\?["']?\s*[:=,]\s*\\?["']?(?i:Bearer)[ \t]+([A-Za-z0-9+/_.~\-]{24,}={0,2})"#,
        )
        .lines(3, 0)
        .kind(Kind::Context)
        .check(checks::bearer_value),
        token(
            "sidekiq-sensitive-url",
            "Sidekiq Pro/Enterprise credentials in a gem source URL",
            &["contribsys.com"],
            r"https?://([a-f0-9]{8}:[a-f0-9]{8})@(?:gems|enterprise)\.contribsys\.com",
        ),
        context("sidekiq-secret", "Sidekiq Pro/Enterprise credentials", &["bundle_enterprise__contribsys__com", "bundle_gems__contribsys__com"], r"[a-f0-9]{8}:[a-f0-9]{8}"),
        // Framework secrets.
        token("laravel-app-key", "Laravel APP_KEY", &["app_key"], r"\bAPP_KEY[ \t]*=[ \t]*[\x22']?(base64:[A-Za-z0-9+/]{43}=)"),
        token(
            "django-secret-key",
            "Django SECRET_KEY",
            &["secret_key"],
            r#"\bSECRET_KEY[ \t]*=[ \t]*(?:os\.environ\.get\([^,]+,\s*)?[rb]?["']([^"'\s]{30,128})["']"#,
        )
        .kind(Kind::Context)
        .check(|c| super::super::detect::noise::shannon(c.secret) >= 3.5),
        token(
            "rails-secret-key-base",
            "Rails secret_key_base",
            &["secret_key_base"],
            r#"\bsecret_key_base[\x22']?[ \t]*(?::|=)[ \t]*[\x22']?([a-f0-9]{64,256})\b"#,
        ),
        token("freemius-secret-key", "Freemius secret key", &["secret_key"], r#"["']secret_key["'][ \t]*=>[ \t]*["'](sk_[\S]{29})["']"#).path(r"(?i)\.php$"),
        // Password managers and secret stores.
        token(
            "1password-secret-key",
            "1Password account secret key",
            &["a3-"],
            r"\b(A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5})\b",
        ),
        token("1password-service-account-token", "1Password service account token", &["ops_eyj"], r"\b(ops_eyJ[A-Za-z0-9+/]{250,}={0,3})"),
        token("infisical-token", "Infisical service token", &["infisical"], r"\b(st\.[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}\.[a-f0-9]{32}\.[a-f0-9]{32})\b"),
        // Identity and SaaS.
        context("okta-access-token", "Okta API token", &["okta"], r"00[A-Za-z0-9=_\-]{40}").entropy(4.0),
        token("authress-service-client-access-key", "Authress service client access key", &[".acc_", ".acc-"], r"\b((?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_\-][a-z0-9\-]{10,32}\.[a-z0-9+/_=\-]{30,120})"),
        context("auth0-client-secret", "Auth0 client secret", &["auth0"], r"[A-Za-z0-9_\-]{64}"),
        context("adafruit-api-key", "Adafruit IO key", &["adafruit"], r"[A-Za-z0-9_\-]{32}"),
        context("adobe-client-id", "Adobe client ID", &["adobe"], r"[a-f0-9]{32}"),
        token("adobe-client-secret", "Adobe client secret", &["p8e-"], r"\b(p8e-[A-Za-z0-9]{32})\b"),
        context("airtable-api-key", "Airtable API key", &["airtable"], r"[A-Za-z0-9]{17}"),
        context("airtable-personal-access-token", "Airtable personal access token", &["airtable"], r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}"),
        context("algolia-api-key", "Algolia admin API key", &["algolia"], r"[a-f0-9]{32}"),
        context("asana-client-id", "Asana client ID", &["asana"], r"[0-9]{16}"),
        context("asana-client-secret", "Asana client secret", &["asana"], r"[A-Za-z0-9]{32}"),
        context("asana-pat", "Asana personal access token", &["asana"], r"[12]/1[0-9]{12,16}(?:/[0-9]{12,16})?:[a-f0-9]{32}"),
        context("beamer-api-token", "Beamer API key", &["beamer"], r"b_[A-Za-z0-9=_\-]{44}"),
        context("dropbox-api-token", "Dropbox app secret", &["dropbox"], r"[a-z0-9]{15}"),
        context("dropbox-short-lived-api-token", "Dropbox short-lived access token", &["dropbox"], r"sl\.[A-Za-z0-9_\-]{130,160}"),
        context("dropbox-long-lived-api-token", "Dropbox long-lived access token", &["dropbox"], r"[a-z0-9]{11}AAAAAAAAAA[a-z0-9_\-]{43}"),
        context("facebook-secret", "Facebook app secret", &["facebook"], r"[a-f0-9]{32}"),
        token("facebook-access-token", "Facebook app access token", &["facebook"], r"(?i:facebook)[\s\S]{0,40}?\b([0-9]{15,16}(?:\||%7C)[0-9A-Za-z_\-]{27,40})(?:[^A-Za-z0-9_\-]|$)"),
        token("facebook-page-access-token", "Facebook page / user access token", &["eaam", "eaac"], r"\b(EAA[MC][A-Za-z0-9]{100,})\b"),
        context("fastly-api-token", "Fastly API token", &["fastly"], r"[A-Za-z0-9=_\-]{32}"),
        context("flickr-access-token", "Flickr API key", &["flickr"], r"[a-z0-9]{32}"),
        token("intra42-client-secret", "42 Intra client secret", &["s-s4t2"], r"\b(s-s4t2(?:ud|af)-[a-f0-9]{64})\b"),
        context("linkedin-client-id", "LinkedIn client ID", &["linkedin", "linked-in", "linked_in"], r"[a-z0-9]{14}"),
        context("linkedin-client-secret", "LinkedIn client secret", &["linkedin", "linked-in", "linked_in"], r"[a-z0-9]{16}"),
        context("looker-client-id", "Looker client ID", &["looker"], r"[A-Za-z0-9]{20}"),
        context("looker-client-secret", "Looker client secret", &["looker"], r"[A-Za-z0-9]{24}"),
        // Mapbox: `sk.` tokens are secret; `pk.` tokens are public by design (they ship to browsers).
        token("mapbox-api-token", "Mapbox secret access token (sk.)", &["sk.ey"], r"\b(sk\.[A-Za-z0-9]{60}\.[A-Za-z0-9_\-]{22})(?:[^A-Za-z0-9_\-]|$)"),
        token("maxmind-license-key", "MaxMind license key", &["_mmk"], r"\b([A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk)\b"),
        token("notion-api-token", "Notion integration token", &["ntn_", "secret_"], r"\b(ntn_[0-9]{11}[A-Za-z0-9]{35}|secret_[A-Za-z0-9]{43})\b"),
        context("nytimes-access-token", "New York Times API key", &["nytimes", "new-york-times", "newyorktimes"], r"[A-Za-z0-9=_\-]{32}"),
        context("rapidapi-access-token", "RapidAPI key", &["rapidapi"], r"[A-Za-z0-9_\-]{50}"),
        context("twitch-api-token", "Twitch API token", &["twitch"], r"[a-z0-9]{30}"),
        context("twitter-api-key", "Twitter (X) API key", &["twitter"], r"[A-Za-z0-9]{25}"),
        context("twitter-api-secret", "Twitter (X) API secret", &["twitter"], r"[A-Za-z0-9]{50}"),
        context("twitter-access-token", "Twitter (X) access token", &["twitter"], r"[0-9]{15,25}-[A-Za-z0-9]{20,40}"),
        context("twitter-access-secret", "Twitter (X) access token secret", &["twitter"], r"[A-Za-z0-9]{45}"),
        token("twitter-bearer-token", "Twitter (X) bearer token", &["aaaaaaaaaaaaaaaaaaaaaa"], r"\b(A{22}[A-Za-z0-9%]{80,120})(?:[^A-Za-z0-9%+/=]|$)")
            .kind(Kind::Raw),
        token("oauth-client-secret-hex", "OAuth client secret (hexadecimal)", &["client_secret"], r"(?i:client_secret)[\x22']?[ \t]*[:=][ \t]*[\x22']?([a-f0-9]{40})\b"),
        context("segment-write-key", "Segment write key", &["segment_write_key", "segment_key", "segmentwritekey", "analytics_write_key"], r"[A-Za-z0-9]{32}"),
        token("shopify-partner-token", "Shopify Partner API token", &["prtapi_"], r"\b(prtapi_[a-f0-9]{32})\b"),
        token("supabase-service-key", "Supabase secret key", &["sb_secret_"], r"\b(sb_secret_[A-Za-z0-9_\-]{31,40})(?:[^A-Za-z0-9_\-]|$)"),
        token("vercel-token", "Vercel access token", &["vercel"], r"(?i:vercel)[\w.\-]{0,20}[\x22'\s:=]{1,5}([A-Za-z0-9]{24})\b").entropy(3.5),
        token("netlify-pat", "Netlify personal access token", &["nfp_"], r"\b(nfp_[A-Za-z0-9]{36})\b"),
        token("figma-pat", "Figma personal access token", &["figd_"], r"\b(figd_[A-Za-z0-9_\-]{40})(?:[^A-Za-z0-9_\-]|$)"),
        // libpq keyword/value connection strings (`psql "host=… password=…"`), keywords in any order.
        token("postgres-connection-password", "Password in a libpq keyword connection string", &["password="], r"(?i:\bpassword)=([^\s;'\x22\\]{4,64})")
            .kind(Kind::Context)
            .check(checks::libpq_password),
        // `PGPASSWORD=… psql`, `export PGPASSWORD=…`, `PGPASSWORD: …` (libpq's environment variable).
        token("postgres-pgpassword", "Password in libpq's PGPASSWORD variable", &["pgpassword"], r#"\bPGPASSWORD["']?[ \t]*(?:=|:)[ \t]*["']?([^\s"'$;`]{4,128})"#)
            .kind(Kind::Raw)
            .check(checks::password_literal),
    ]
}
