//! Properties of the redaction layer (issue 15): a registered credential never survives in anything
//! stevedore writes, whatever surrounds it — in every form it takes on the wire (URL-encoded,
//! JSON-escaped, base64 `user:password`, `Authorization` values), split across writes of a log writer,
//! inside JSON, in a quoted response body cut at its bound.
//!
//! The registry of secrets is process-wide: every property here holds [`LOCK`] and starts each case
//! from an empty registry, so cases do not see each other's secrets and `ci/fuzz` can run millions.

mod properties_support;

use base64::Engine as _;
use properties_support::{check, nasty_text};
use proptest::prelude::*;
use std::io::Write;
use std::sync::Mutex;
use stevedore::redact::{self, MASK};

static LOCK: Mutex<()> = Mutex::new(());

fn fresh() -> std::sync::MutexGuard<'static, ()> {
    let g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    redact::forget_all_for_tests();
    g
}

/// A credential worth registering: 8–40 characters of every kind a password holds (quotes, `%`, `:`,
/// `@`, `/`, spaces inside, non-ASCII), not a boolean or number.
fn secrets() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        6 => proptest::char::range('!', '~'),
        1 => prop::sample::select(vec![' ', 'é', 'ß', '€', '😀', '\\', '"', '%', '+', '/']),
    ];
    prop::collection::vec(ch, 8..40)
        .prop_map(|v| v.into_iter().collect::<String>())
        .prop_filter("registrable", |s| {
            redact::is_registrable(s) && s.trim() == s
        })
}

fn users() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9._@-]{0,15}"
}

/// Every form a credential takes on the wire, as a client writes it.
fn forms(user: &str, secret: &str) -> Vec<String> {
    let url = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2D", "-")
        .replace("%2E", ".")
        .replace("%5F", "_")
        .replace("%7E", "~");
    let json = serde_json::to_string(secret).unwrap();
    let pair = format!("{user}:{secret}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&pair);
    vec![
        secret.to_string(),
        url,
        json[1..json.len() - 1].to_string(),
        b64.clone(),
        b64.trim_end_matches('=').to_string(),
        format!("Basic {b64}"),
        pair,
    ]
}

/// The part of a form that must not survive (the base64 without its padding, which text may follow).
fn core_of(form: &str) -> &str {
    form.trim_end_matches('=')
}

#[test]
fn a_registered_credential_never_survives_redaction_in_any_form() {
    check(
        "redact_forms",
        512,
        (users(), secrets(), nasty_text(30), nasty_text(30)),
        |(user, secret, before, after)| {
            let _g = fresh();
            redact::register_credential(Some(&user), &secret);
            for form in forms(&user, &secret) {
                let text = format!("{before}{form}{after}");
                let out = redact::redact(&text);
                prop_assert!(
                    !out.contains(core_of(&form)),
                    "{:?} survived in {:?}",
                    form,
                    out
                );
            }
            Ok(())
        },
    );
}

#[test]
fn a_bearer_token_never_survives_in_a_header_or_a_url() {
    check(
        "redact_bearer",
        512,
        (secrets(), nasty_text(20)),
        |(token, around)| {
            let _g = fresh();
            redact::register_credential(None, &token);
            for text in [
                format!("Authorization: Bearer {token}{around}"),
                format!("{around}https://bot:{token}@chat.example.com/x"),
                format!(
                    "{around}{{\"api_key\": {}}}",
                    serde_json::to_string(&token).unwrap()
                ),
            ] {
                let out = redact::redact(&text);
                prop_assert!(!out.contains(&token), "{:?} -> {:?}", text, out);
            }
            Ok(())
        },
    );
}

#[test]
fn a_secret_split_across_writes_of_the_log_writer_is_still_masked() {
    check(
        "redact_writer_split",
        512,
        (
            secrets(),
            nasty_text(40),
            nasty_text(40),
            prop::collection::vec(any::<prop::sample::Index>(), 1..5),
        ),
        |(secret, before, after, cuts)| {
            let _g = fresh();
            redact::register(&secret);
            let text = format!("{before}{secret}{after}\n");
            let bytes = text.as_bytes();
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
            at.sort();
            let mut out = Vec::new();
            {
                let mut w = redact::RedactingWriter::new(&mut out);
                let mut last = 0;
                for &c in &at {
                    w.write_all(&bytes[last..c]).unwrap();
                    last = c;
                }
                w.write_all(&bytes[last..]).unwrap();
            }
            let out = String::from_utf8_lossy(&out);
            prop_assert!(!out.contains(&secret), "{:?} survived in {:?}", secret, out);
            Ok(())
        },
    );
}

#[test]
fn json_written_through_the_layer_stays_valid_and_holds_no_secret() {
    check(
        "redact_json",
        512,
        (secrets(), nasty_text(20), any::<bool>(), any::<i64>()),
        |(secret, around, flag, n)| {
            let _g = fresh();
            redact::register(&secret);
            let v = serde_json::json!({
                "msg": format!("{around}{secret}{around}"),
                "list": [secret.clone(), around.clone()],
                "flag": flag,
                "n": n,
                "nested": {"url": format!("https://u:{secret}@h/")},
            });
            let text = redact::json_pretty(&v).unwrap();
            let back: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&back["flag"], &serde_json::json!(flag));
            prop_assert_eq!(&back["n"], &serde_json::json!(n));
            let escaped = serde_json::to_string(&secret).unwrap();
            prop_assert!(!text.contains(&escaped[1..escaped.len() - 1]), "{}", text);
            prop_assert!(!back.to_string().contains(&secret));
            Ok(())
        },
    );
}

#[test]
fn a_quoted_body_is_bounded_and_never_shows_a_secret_or_half_of_one() {
    check(
        "redact_quote_body",
        512,
        (users(), secrets(), 0usize..700, nasty_text(40)),
        |(user, secret, pad, tail)| {
            let _g = fresh();
            redact::register_credential(Some(&user), &secret);
            let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}"));
            // The secret placed anywhere around the bound, after filler that cannot hold it.
            for body in [
                format!("{}{secret}{tail}", "y".repeat(pad)),
                format!("{}Authorization: Basic {b64}{tail}", "y".repeat(pad)),
            ] {
                let q = redact::quote_body(body.as_bytes());
                prop_assert!(!q.contains(&secret), "{:?}", q);
                prop_assert!(!q.contains(b64.trim_end_matches('=')), "{:?}", q);
                // Cut at the bound: no leading half of the secret either (8 bytes or more of it).
                let head: String = secret.chars().take(8).collect();
                if q.contains("bytes in all)") && !tail.contains(&head) {
                    prop_assert!(!q.contains(&head), "half a secret in {:?}", q);
                }
                prop_assert!(q.len() <= redact::BODY_QUOTE_LIMIT + 40, "{}", q.len());
                prop_assert!(!q.contains('\n'));
            }
            Ok(())
        },
    );
}

#[test]
fn the_mask_itself_is_never_taken_for_a_secret_nor_breaks_the_text() {
    check("redact_plain_text", 512, nasty_text(80), |text| {
        let _g = fresh();
        // With nothing registered, only URL passwords, token query values and auth headers change.
        let out = redact::redact(&text);
        if !text.contains("://")
            && !text.contains('=')
            && !text.to_lowercase().contains("authorization")
        {
            prop_assert_eq!(&out, &text);
        }
        prop_assert_eq!(
            redact::redact(&out).matches(MASK).count(),
            out.matches(MASK).count()
        );
        Ok(())
    });
}
