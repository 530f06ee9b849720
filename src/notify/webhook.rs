//! `--webhook URL`: the same news as a generic JSON message, Slack-compatible (`{"text": …}` in Slack's
//! mrkdwn) with a few plain fields for other receivers. The URL is treated as a secret (incoming-webhook
//! URLs carry their token in the path) and never printed.

use super::http::{self, Policy};
use super::message::Report;
use crate::output::Output;
use crate::redact::{quote_body, redact};
use serde_json::json;

/// The JSON body posted to the webhook.
pub fn payload(r: &Report, text: &str) -> serde_json::Value {
    json!({
        "text": text,
        "status": r.outcome.as_str(),
        "title": r.title(),
        "project": r.project,
        "ref": r.ref_name,
        "tag": r.tag,
        "environment": r.environment,
        "pipeline_url": r.pipeline_url,
        "job_url": r.job_url,
        "failed_step": r.failed_step,
    })
}

/// Posts `body` to `url`; Ok with the attempts it took, or what went wrong (redacted).
pub async fn post(
    url: &str,
    body: &serde_json::Value,
    policy: &Policy,
    out: &Output,
) -> Result<u32, String> {
    crate::redact::register(url);
    let client = http::client(policy).map_err(|e| e.to_string())?;
    let reply = http::post_with_retries("webhook", out, policy, || client.post(url).json(body))
        .await
        .map_err(|e| {
            redact(&format!(
                "cannot deliver to the webhook: {e} — check the --webhook URL"
            ))
        })?;
    if (200..300).contains(&reply.status) {
        return Ok(reply.attempts);
    }
    if (300..400).contains(&reply.status) {
        return Err(format!(
            "the webhook answered with a redirect (HTTP {}) — use the final URL in --webhook",
            reply.status
        ));
    }
    let snippet = quote_body(reply.body.as_bytes());
    Err(redact(&format!(
        "the webhook answered HTTP {} after {} attempt(s): {snippet} — check the --webhook URL",
        reply.status, reply.attempts
    )))
}
