//! Sending a stream message: `POST {site}/api/v1/messages`, form-encoded (`type=stream`, `to`, `topic`,
//! `content`), HTTP basic auth with the bot's email and API key. Zulip's error `code` and `msg` are reported
//! as they are, with what to do about them; errors that retrying cannot fix are not retried.

use super::http::{self, Policy};
use super::zuliprc::Credentials;
use crate::output::Output;
use crate::redact::{quote_body, redact};
use serde::Deserialize;

/// A message Zulip accepted.
#[derive(Clone, Debug)]
pub struct Sent {
    /// The message id Zulip assigned.
    pub id: u64,
    /// Attempts it took.
    pub attempts: u32,
}

/// Why a message was not delivered.
#[derive(Clone, Debug)]
pub struct Refused {
    /// HTTP status of the last answer (0 when none came).
    pub status: u16,
    /// Zulip's error `code`, when it gave one.
    pub code: Option<String>,
    /// What went wrong, with what to do (already redacted).
    pub message: String,
    /// Attempts made.
    pub attempts: u32,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

#[derive(Deserialize, Default)]
struct Answer {
    #[serde(default)]
    result: String,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    id: Option<u64>,
}

/// What to do about a Zulip error code.
pub fn advice(code: &str, stream: &str) -> String {
    match code {
        "STREAM_DOES_NOT_EXIST" => format!(
            "create the stream \"{stream}\" in Zulip (and subscribe the bot), or set ZULIP_STREAM to an existing one"
        ),
        "INVALID_API_KEY" | "UNAUTHORIZED" | "UNAUTHENTICATED_USER" => {
            "check ZULIP_EMAIL and ZULIP_API_KEY (or the zuliprc): they must be the bot's email and API key from \
             Zulip → Personal settings → Bots"
                .to_string()
        }
        "USER_DEACTIVATED" => "the bot is deactivated: reactivate it in Zulip or use another bot".to_string(),
        "REALM_DEACTIVATED" => "the Zulip organization is deactivated: check ZULIP_SITE".to_string(),
        "RATE_LIMIT_HIT" => {
            "Zulip kept rate-limiting the bot: send fewer messages or raise [notify] retries".to_string()
        }
        "BAD_REQUEST" => "the request was refused as malformed: check ZULIP_STREAM and ZULIP_TOPIC".to_string(),
        _ => "see Zulip's message above".to_string(),
    }
}

/// Sends `content` to `stream`/`topic`.
pub async fn send(
    creds: &Credentials,
    stream: &str,
    topic: &str,
    content: &str,
    policy: &Policy,
    out: &Output,
) -> Result<Sent, Refused> {
    let url = creds.messages_url();
    crate::redact::register_credential(Some(&creds.email), &creds.key);
    let client = http::client(policy).map_err(|e| Refused {
        status: 0,
        code: None,
        message: e.to_string(),
        attempts: 0,
    })?;
    let form = [
        ("type", "stream"),
        ("to", stream),
        ("topic", topic),
        ("content", content),
    ];
    let reply = http::post_with_retries("Zulip", out, policy, || {
        client
            .post(&url)
            .basic_auth(&creds.email, Some(&creds.key))
            .form(&form)
    })
    .await
    .map_err(|e| Refused {
        status: 0,
        code: None,
        message: redact(&format!(
            "cannot deliver to Zulip at {}: {e} — check ZULIP_SITE and that the runner can reach it",
            creds.site
        )),
        attempts: policy.retries + 1,
    })?;
    interpret(creds, stream, &reply)
}

/// What Zulip's answer means: the message id, or a refusal that says why and what to do.
fn interpret(creds: &Credentials, stream: &str, reply: &http::Reply) -> Result<Sent, Refused> {
    let answer: Option<Answer> = serde_json::from_str(&reply.body).ok();
    if (200..300).contains(&reply.status) {
        if let Some(a) = &answer
            && a.result == "success"
        {
            return Ok(Sent {
                id: a.id.unwrap_or(0),
                attempts: reply.attempts,
            });
        }
        return Err(Refused {
            status: reply.status,
            code: None,
            message: redact(&format!(
                "Zulip at {} answered HTTP {} without a success result: {} — check ZULIP_SITE points at the Zulip server",
                creds.site,
                reply.status,
                quote_body(reply.body.as_bytes())
            )),
            attempts: reply.attempts,
        });
    }
    if (300..400).contains(&reply.status) {
        return Err(Refused {
            status: reply.status,
            code: None,
            message: redact(&format!(
                "Zulip at {} answered with a redirect (HTTP {}) to {} — set ZULIP_SITE to the server's real address",
                creds.site,
                reply.status,
                reply.location.as_deref().unwrap_or("(no location)")
            )),
            attempts: reply.attempts,
        });
    }
    refusal(creds, stream, reply, answer)
}

/// A refusal from an error answer, with Zulip's code and message when it gave them.
fn refusal(
    creds: &Credentials,
    stream: &str,
    reply: &http::Reply,
    answer: Option<Answer>,
) -> Result<Sent, Refused> {
    let (code, msg) = match answer {
        Some(a) if !a.msg.is_empty() || a.code.is_some() => (a.code, a.msg),
        _ => (None, quote_body(reply.body.as_bytes())),
    };
    let tries = if reply.attempts > 1 {
        format!(" after {} attempts", reply.attempts)
    } else {
        String::new()
    };
    let message = match &code {
        Some(c) => format!(
            "Zulip refused the message (HTTP {}, {c}){tries}: {msg} — {}",
            reply.status,
            advice(c, stream)
        ),
        None if reply.status >= 500 => format!(
            "Zulip at {} failed with HTTP {}{tries}: {msg} — the server is having trouble; the message is in this log",
            creds.site, reply.status
        ),
        None => format!(
            "Zulip at {} answered HTTP {}{tries}: {msg} — check ZULIP_SITE",
            creds.site, reply.status
        ),
    };
    Err(Refused {
        status: reply.status,
        code,
        message: redact(&message),
        attempts: reply.attempts,
    })
}
