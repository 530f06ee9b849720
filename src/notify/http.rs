//! Posting with bounded time and retries: a connect timeout and a total timeout per attempt, retries with
//! exponential backoff on 5xx answers and on connection failures or timeouts, and on 429 after the time the
//! server asks for (`Retry-After` header, or Zulip's `retry-after` in the JSON body).

use crate::error_chain::error_chain;
use crate::output::{Output, human_duration};
use crate::redact::redact;
use std::time::Duration;

/// How hard to try.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Time allowed to open the connection.
    pub connect_timeout: Duration,
    /// Time allowed for one whole request and its answer.
    pub timeout: Duration,
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first wait between attempts; doubled each time.
    pub backoff: Duration,
    /// The longest wait honoured for a `Retry-After`; a longer one ends the retries.
    pub max_wait: Duration,
    /// The time allowed for all attempts and waits together; no attempt or wait goes past it.
    pub deadline: Duration,
}

/// The server's final answer.
#[derive(Clone, Debug)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body as text.
    pub body: String,
    /// How many attempts were made.
    pub attempts: u32,
    /// The `Location` of a redirect.
    pub location: Option<String>,
}

/// An HTTP client with the policy's timeouts.
pub fn client(policy: &Policy) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(policy.connect_timeout)
        .timeout(policy.timeout)
        .user_agent(concat!("stevedore/", env!("CARGO_PKG_VERSION")))
        // A redirected POST comes back as a GET without its body (and without credentials on another
        // host): report the redirect instead of following it.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot create the HTTP client: {}",
                redact(&error_chain(&e))
            )
        })
}

fn transport_error(e: &reqwest::Error, limit: Duration) -> String {
    let what = if e.is_timeout() {
        format!("no answer within {} (timeout)", human_duration(limit))
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    redact(&format!("{what}: {}", error_chain(e)))
}

/// The wait a 429 asks for: the `Retry-After` header (seconds), else `retry-after` in a JSON body.
pub fn retry_after(headers: &reqwest::header::HeaderMap, body: &str) -> Option<Duration> {
    let from_header = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    let from_body = || {
        serde_json::from_str::<serde_json::Value>(body)
            .ok()?
            .get("retry-after")?
            .as_f64()
    };
    let secs = from_header.or_else(from_body)?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// What one attempt gave: an answer (with its headers), or a transport error already put in words.
enum Attempt {
    Answer(Reply, reqwest::header::HeaderMap),
    Transport(String),
}

/// Makes one attempt within `per_try`; the body is read whole (a cut-short body is a transport error).
async fn attempt_once(
    make: &impl Fn() -> reqwest::RequestBuilder,
    per_try: Duration,
    attempt: u32,
) -> Attempt {
    let resp = match make().timeout(per_try).send().await {
        Ok(r) => r,
        Err(e) => return Attempt::Transport(transport_error(&e, per_try)),
    };
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let location = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match resp.text().await {
        Ok(body) => Attempt::Answer(
            Reply {
                status,
                body,
                attempts: attempt,
                location,
            },
            headers,
        ),
        Err(e) => Attempt::Transport(format!(
            "answer cut short: {}",
            transport_error(&e, per_try)
        )),
    }
}

/// How long to wait before retrying an answer, or `Err(())` when the answer is final (success, a
/// client error, or a rate limit asking for a longer wait than allowed — said in the log).
fn retry_wait(
    what: &str,
    out: &Output,
    policy: &Policy,
    reply: &Reply,
    headers: &reqwest::header::HeaderMap,
    backoff: Duration,
) -> Result<(Duration, String), ()> {
    if reply.status == 429 {
        let w = retry_after(headers, &reply.body).unwrap_or(backoff);
        if w > policy.max_wait {
            out.warn(format!(
                "{what}: rate limited and asked to wait {}, longer than the {} allowed; giving up",
                human_duration(w),
                human_duration(policy.max_wait)
            ));
            return Err(());
        }
        Ok((w, "rate limited (HTTP 429)".to_string()))
    } else if reply.status >= 500 {
        Ok((backoff, format!("HTTP {}", reply.status)))
    } else {
        Err(())
    }
}

/// Sends the request `make` builds, retrying as the policy says; `what` names the receiver in log lines.
/// Returns the last answer (success or not), or the last transport error when no answer ever came.
pub async fn post_with_retries(
    what: &str,
    out: &Output,
    policy: &Policy,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Reply, String> {
    let total = policy.retries + 1;
    let started = std::time::Instant::now();
    // Time left before the deadline after waiting `wait`, if any.
    let room = |wait: Duration| policy.deadline.checked_sub(started.elapsed() + wait);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let backoff = policy
            .backoff
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(Duration::from_secs(60));
        // Another attempt only when one is left and it (after its wait) still starts before the deadline.
        let left = |wait: Duration| {
            attempt < total && room(wait).is_some_and(|r| r >= Duration::from_millis(100))
        };
        let per_try = room(Duration::ZERO)
            .unwrap_or(Duration::ZERO)
            .min(policy.timeout)
            .max(Duration::from_millis(100));
        let (wait, why) = match attempt_once(&make, per_try, attempt).await {
            Attempt::Transport(msg) => {
                if !left(backoff) {
                    return Err(format!(
                        "{msg} (after {attempt} attempt{})",
                        plural(attempt)
                    ));
                }
                (backoff, msg)
            }
            Attempt::Answer(reply, headers) => {
                let Ok((wait, why)) = retry_wait(what, out, policy, &reply, &headers, backoff)
                else {
                    return Ok(reply);
                };
                if !left(wait) {
                    if attempt < total {
                        out.warn(format!(
                            "{what}: no time left for another attempt within the {} deadline",
                            human_duration(policy.deadline)
                        ));
                    }
                    return Ok(reply);
                }
                (wait, why)
            }
        };
        out.warn(format!(
            "{what}: {why}; retrying in {} (attempt {} of {total})",
            human_duration(wait),
            attempt + 1
        ));
        tokio::time::sleep(wait).await;
    }
}

fn plural(n: u32) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

    #[test]
    fn retry_after_from_header_or_body() {
        let mut h = HeaderMap::new();
        assert_eq!(
            retry_after(
                &h,
                r#"{"result":"error","code":"RATE_LIMIT_HIT","retry-after":1.5}"#
            ),
            Some(Duration::from_millis(1500))
        );
        h.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&h, "{}"), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(&HeaderMap::new(), "not json"), None);
    }
}
