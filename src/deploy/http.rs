//! Provider `http`: a hosting provider's API (e.g. Medstack: basic auth with a token key and value, JSON).
//! One deploy request per target, then a status request polled until it reports the new digest (or
//! version) and healthy, up to the verify timeout.

use super::report::{TargetResult, TargetStatus};
use super::settings::Timing;
use super::target::{AuthKind, Expect, TargetConfig};
use super::template::{self, Vars};
use super::verify::{self, Observation};
use crate::error_chain::error_chain;
use crate::output::{Output, human_duration};
use crate::redact::MASK;
use crate::signal;
use std::time::{Duration, Instant};

/// The credentials of one target, read from the environment (never from the file).
#[derive(Clone, Debug, Default)]
pub struct Creds {
    basic: Option<(String, String)>,
    bearer: Option<String>,
    headers: Vec<(String, String)>,
}

/// Reads a target's credentials from the variables its configuration names, and registers each with
/// every form it takes on the wire (the `Authorization` header value, base64 of `user:password`) for
/// redaction. A dry run reads them too: an unset variable fails it as it would fail the real deploy.
pub fn creds(t: &TargetConfig) -> Result<Creds, String> {
    let read = |name: &str| t.read_env(name);
    let mut c = Creds::default();
    let mut missing = Vec::new();
    let mut get = |name: &Option<String>| match read(name.as_deref().unwrap_or_default()) {
        Ok(v) => v,
        Err(e) => {
            missing.push(e);
            String::new()
        }
    };
    match t.auth {
        AuthKind::None => {}
        AuthKind::Basic => {
            let (u, p) = (get(&t.user_env), get(&t.password_env));
            crate::redact::register_credential(Some(&u), &p);
            c.basic = Some((u, p));
        }
        AuthKind::Bearer => {
            let tok = get(&t.token_env);
            crate::redact::register_credential(None, &tok);
            c.bearer = Some(tok);
        }
    }
    for (h, var) in &t.secret_headers {
        let v = get(&Some(var.clone()));
        crate::redact::register_credential(None, &v);
        c.headers.push((h.clone(), v));
    }
    if missing.is_empty() {
        Ok(c)
    } else {
        Err(missing.join("\n"))
    }
}

/// The HTTP client for provider requests.
pub fn client(request_timeout: Duration) -> anyhow::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .connect_timeout(request_timeout)
        .timeout(request_timeout)
        .user_agent(concat!("stevedore/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

fn method(m: &str) -> reqwest::Method {
    reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).unwrap_or(reqwest::Method::GET)
}

fn request(
    http: &reqwest::Client,
    m: &str,
    url: &str,
    t: &TargetConfig,
    vars: &Vars,
    creds: Option<&Creds>,
) -> reqwest::RequestBuilder {
    let mut r = http.request(method(m), url);
    for (k, v) in template::render_map(&t.headers, vars) {
        r = r.header(k, v);
    }
    if let Some(c) = creds {
        if let Some((u, p)) = &c.basic {
            r = r.basic_auth(u, Some(p));
        }
        if let Some(tok) = &c.bearer {
            r = r.bearer_auth(tok);
        }
        for (k, v) in &c.headers {
            r = r.header(k, v);
        }
    }
    r
}

/// What the deploy request carries, described for people (credentials masked).
pub fn describe(t: &TargetConfig, vars: &Vars, expected: &str, s: &Timing) -> Vec<String> {
    let url = template::render(t.url.as_deref().unwrap_or_default(), vars);
    let mut headers: Vec<String> = template::render_map(&t.headers, vars)
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    match t.auth {
        AuthKind::Basic => headers.push(format!("Authorization: Basic {MASK}")),
        AuthKind::Bearer => headers.push(format!("Authorization: Bearer {MASK}")),
        AuthKind::None => {}
    }
    for k in t.secret_headers.keys() {
        headers.push(format!("{k}: {MASK}"));
    }
    let mut lines = vec![format!("{} {url}", t.method())];
    for h in headers {
        lines.push(format!("  {h}"));
    }
    if let Some(b) = &t.body {
        lines.push(format!(
            "  body: {}",
            serde_json::to_string(&template::render_json(b, vars)).unwrap_or_default()
        ));
    }
    let vurl = template::render(t.verify.url.as_deref().unwrap_or(&url), vars);
    lines.push(format!(
        "then {} {vurl} every {} for up to {} until it reports {expected} and healthy",
        t.verify.method.to_uppercase(),
        human_duration(interval(t, s)),
        human_duration(s.verify_timeout),
    ));
    lines
}

fn interval(t: &TargetConfig, s: &Timing) -> Duration {
    t.verify.interval.map(|d| d.0).unwrap_or(s.poll_interval)
}

/// The value the status must report for this target.
pub fn expected(t: &TargetConfig, vars: &Vars) -> String {
    match t.verify.expect {
        Expect::Digest => vars.digest.clone(),
        Expect::Version => vars.version.clone(),
    }
}

/// Polls the status request once.
async fn poll(
    http: &reqwest::Client,
    t: &TargetConfig,
    vars: &Vars,
    creds: &Creds,
    expected: &str,
) -> Result<Observation, reqwest::Error> {
    let url = template::render(
        t.verify
            .url
            .as_deref()
            .or(t.url.as_deref())
            .unwrap_or_default(),
        vars,
    );
    let c = t.verify.auth.then_some(creds);
    let resp = request(http, &t.verify.method, &url, t, vars, c)
        .send()
        .await?;
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    Ok(verify::observe(&t.verify, status, &body, expected))
}

/// Deploys one target and verifies it. A signal (SIGINT/SIGTERM) ends it promptly, saying how far it got.
pub async fn deploy(
    http: &reqwest::Client,
    t: &TargetConfig,
    vars: &Vars,
    creds: &Creds,
    s: &Timing,
    out: &Output,
) -> TargetResult {
    let expected = expected(t, vars);
    let url = template::render(t.url.as_deref().unwrap_or_default(), vars);
    let mut res = TargetResult::new(t, TargetStatus::Failed, &expected);
    res.url = Some(url.clone());
    // What it runs before: to tell "still the old one" (timeout) from "something else" (failed).
    let before = match signal::or_cancel(poll(http, t, vars, creds, &expected)).await {
        Ok(o) => o.ok().and_then(|o| o.observed),
        Err(c) => {
            return res.err(TargetStatus::Skipped, format!("not started: {c}"));
        }
    };
    if let Err(r) = send(http, t, vars, creds, s, out, &url).await {
        let (status, msg, unreachable) = r;
        let mut r = res.err(status, msg);
        r.unreachable = unreachable;
        return r;
    }
    verify(http, t, vars, creds, s, out, res, before).await
}

/// A failed deploy request: the status, the message and whether the provider was unreachable.
type SendError = (TargetStatus, String, bool);

/// Sends the deploy request; an error says why it failed and what to check.
async fn send(
    http: &reqwest::Client,
    t: &TargetConfig,
    vars: &Vars,
    creds: &Creds,
    s: &Timing,
    out: &Output,
    url: &str,
) -> Result<(), SendError> {
    let mut req = request(http, &t.method(), url, t, vars, Some(creds));
    if let Some(b) = &t.body {
        req = req.json(&template::render_json(b, vars));
    }
    let m = t.method();
    out.info(format!("{}: {m} {url}", t.name));
    let resp = match signal::or_cancel(req.send()).await {
        Err(c) => {
            return Err((
                TargetStatus::Failed,
                format!(
                    "{c} while {m} {url} was in flight: the provider may have started the rollout — check the service"
                ),
                false,
            ));
        }
        Ok(Ok(r)) => r,
        Ok(Err(e)) if e.is_timeout() => {
            return Err((
                TargetStatus::Timeout,
                format!(
                    "{m} {url}: no answer within {}: check the provider's status, or raise [deploy] request_timeout",
                    human_duration(s.request_timeout)
                ),
                false,
            ));
        }
        Ok(Err(e)) => {
            return Err((
                TargetStatus::Failed,
                format!(
                    "{m} {url}: {}: check the URL and that the provider is reachable from the runner",
                    error_chain(&e)
                ),
                e.is_connect(),
            ));
        }
    };
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.bytes().await.unwrap_or_default();
    let hint = match status.as_u16() {
        401 | 403 => {
            ": check the credentials in the variables named by user_env/password_env/token_env"
        }
        404 => ": check the url template and the client's name",
        _ => "",
    };
    Err((
        TargetStatus::Failed,
        format!(
            "{m} {url} answered {status}: {}{hint}",
            crate::redact::quote_body(&body)
        ),
        false,
    ))
}

/// Polls the status until it reports the expected value and healthy, the deadline passes, or a signal.
#[allow(clippy::too_many_arguments)]
async fn verify(
    http: &reqwest::Client,
    t: &TargetConfig,
    vars: &Vars,
    creds: &Creds,
    s: &Timing,
    out: &Output,
    mut res: TargetResult,
    before: Option<String>,
) -> TargetResult {
    let expected = expected(t, vars);
    let started = Instant::now();
    let every = interval(t, s);
    let mut last: Option<Observation> = None;
    let mut last_err: Option<String> = None;
    let mut polls = 0u32;
    let interrupted = loop {
        polls += 1;
        match signal::or_cancel(poll(http, t, vars, creds, &expected)).await {
            Err(c) => break Some(c),
            Ok(Ok(o)) => {
                if o.observed.is_some() || last.is_none() {
                    res.observed = o.observed.clone();
                }
                out.detail(format!(
                    "{}: status {} reports {} ({})",
                    t.name,
                    o.status,
                    o.observed.as_deref().unwrap_or("nothing"),
                    if o.healthy { "healthy" } else { "not healthy" }
                ));
                let done = o.done();
                last = Some(o);
                if done {
                    out.info(format!(
                        "{}: runs {expected} and is healthy (after {polls} poll{})",
                        t.name,
                        if polls == 1 { "" } else { "s" }
                    ));
                    res.status = TargetStatus::Ok;
                    return res;
                }
            }
            Ok(Err(e)) => last_err = Some(error_chain(&e)),
        }
        if started.elapsed() + every > s.verify_timeout {
            break None;
        }
        if let Err(c) = signal::sleep(every).await {
            break Some(c);
        }
    };
    let waited = human_duration(started.elapsed());
    if let Some(c) = interrupted {
        let seen = last
            .and_then(|o| o.observed)
            .unwrap_or_else(|| "nothing".into());
        return res.err(
            TargetStatus::Failed,
            format!("{c} after the provider accepted the deploy: not verified (last reported {seen} after {waited}) — check the service"),
        );
    }
    verdict(res, &expected, last, last_err, before, &waited)
}

/// How a verification that ran out of time ends.
fn verdict(
    res: TargetResult,
    expected: &str,
    last: Option<Observation>,
    last_err: Option<String>,
    before: Option<String>,
    waited: &str,
) -> TargetResult {
    match last {
        None => res.err(
            TargetStatus::Timeout,
            format!(
                "no status answer within {waited} ({}): check the verify url",
                last_err.unwrap_or_default()
            ),
        ),
        Some(o) if o.matches => res.err(
            TargetStatus::Failed,
            format!(
                "runs {expected} but is not healthy after {waited} (HTTP {})",
                o.status
            ),
        ),
        Some(o) => {
            let obs = o.observed.clone().unwrap_or_else(|| "nothing".into());
            if o.observed.is_some() && o.observed == before {
                res.err(
                    TargetStatus::Timeout,
                    format!("still reports the previous {obs} after {waited}; expected {expected}: raise --verify-timeout or check the rollout at the provider"),
                )
            } else {
                res.err(
                    TargetStatus::Failed,
                    format!("reports {obs}, expected {expected} (after {waited}): the provider rolled out another image — check the service"),
                )
            }
        }
    }
}
