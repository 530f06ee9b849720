//! `stevedore notify` end to end: the built binary against a local Zulip on loopback that checks every
//! request against the send-message contract (tests/notify_server).

mod common;
mod notify_server;

use notify_server::{Answer, ZulipServer};
use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};
use stevedore::summary::{RunSummary, Status, StepOutcome};

const EMAIL: &str = "deploy-bot@chat.example.com";
const KEY: &str = "zk-9f8e7d6c5b4a3210TESTKEY";

fn step(
    name: &str,
    status: Status,
    secs: u64,
    headline: &str,
    facts: serde_json::Value,
) -> StepOutcome {
    StepOutcome::new(name, status, Duration::from_secs(secs), headline).with_facts(facts)
}

/// A project dir holding a run summary with `steps`.
/// The pipeline [`ci_env`] describes: the summary's entries carry it, as the pipeline's jobs record them.
const PIPELINE: &str = "4711";

fn project(steps: Vec<StepOutcome>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut s = RunSummary::default();
    for mut st in steps {
        st.scope.pipeline_id = Some(PIPELINE.into());
        s.record(st);
    }
    s.save(dir.path()).unwrap();
    dir
}

fn deploy_step(n: usize, failed: usize) -> StepOutcome {
    let targets: Vec<_> = (0..n)
        .map(|i| {
            let bad = i < failed;
            json!({"name": format!("clinic-{i:03}"), "environment": "production",
                   "status": if bad { "failed" } else { "ok" }, "duration_ms": 4000 + i as u64,
                   "expected": "sha256:1111", "observed": if bad { "sha256:0000" } else { "sha256:1111" },
                   "url": format!("https://clinic-{i:03}.example.com/health"),
                   "error": if bad { Some("health check failed") } else { None }})
        })
        .collect();
    step(
        "deploy",
        if failed > 0 {
            Status::Failed
        } else {
            Status::Success
        },
        70,
        &format!("{} of {n} clients updated", n - failed),
        json!({"environment": "production", "targets": targets}),
    )
}

fn build_step() -> StepOutcome {
    step(
        "build",
        Status::Success,
        40,
        "pushed registry.example.com/acme/app:1.5.0",
        json!({"image": "registry.example.com/acme/app", "digest": "sha256:1111", "tags": ["1.5.0", "latest"]}),
    )
}

/// GitLab's variables for a tag pipeline of acme/app.
fn ci_env(dir: &Path, tag: &str) -> Vec<(String, String)> {
    [
        ("CI", "true"),
        ("CI_PROJECT_DIR", dir.to_str().unwrap()),
        ("CI_PROJECT_NAME", "app"),
        ("CI_PROJECT_PATH", "acme/app"),
        ("CI_PROJECT_URL", "https://gitlab.example.com/acme/app"),
        ("CI_COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567"),
        ("CI_COMMIT_TAG", tag),
        ("CI_COMMIT_REF_NAME", tag),
        ("CI_COMMIT_TITLE", "Fix the login timeout"),
        ("CI_PIPELINE_ID", PIPELINE),
        (
            "CI_PIPELINE_URL",
            "https://gitlab.example.com/acme/app/-/pipelines/4711",
        ),
        ("CI_JOB_NAME", "notify"),
        (
            "CI_JOB_URL",
            "https://gitlab.example.com/acme/app/-/jobs/9001",
        ),
        ("GITLAB_USER_LOGIN", "alice"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn zulip_env(server: &ZulipServer) -> Vec<(String, String)> {
    [
        ("ZULIP_SITE", server.url.as_str()),
        ("ZULIP_EMAIL", EMAIL),
        ("ZULIP_API_KEY", KEY),
        ("ZULIP_STREAM", "deploys"),
        ("STEVEDORE_NOTIFY_CONNECT_TIMEOUT", "1s"),
        ("STEVEDORE_NOTIFY_TIMEOUT", "3s"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A CI job's variables for the tag v1.5.0 in `dir`, with the Zulip settings of `server`.
fn job_env(dir: &Path, server: &ZulipServer) -> Vec<(String, String)> {
    let mut env = ci_env(dir, "v1.5.0");
    env.extend(zulip_env(server));
    env
}

/// A project whose summary holds the build step, retrying quickly (twice, 100ms apart).
fn retrying_build_project() -> tempfile::TempDir {
    let dir = project(vec![build_step()]);
    fast_retries(dir.path());
    dir
}

fn run(dir: &Path, args: &[&str], env: &[(String, String)]) -> (i32, String, String) {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    common::stevedore(dir, args, &env)
}

fn summary_text(dir: &Path) -> String {
    std::fs::read_to_string(dir.join(stevedore::summary::FILE)).unwrap_or_default()
}

fn notify_facts(dir: &Path) -> serde_json::Value {
    let s = RunSummary::load(dir);
    s.steps
        .iter()
        .find(|s| s.step == "notify")
        .map(|s| s.facts.clone())
        .expect("notify recorded in the summary")
}

fn assert_key_nowhere(dir: &Path, out: &str, err: &str) {
    assert!(!out.contains(KEY), "API key in stdout:\n{out}");
    assert!(!err.contains(KEY), "API key in stderr:\n{err}");
    assert!(!summary_text(dir).contains(KEY), "API key in the summary");
}

fn fast_retries(dir: &Path) {
    std::fs::write(
        dir.join("stevedore.toml"),
        "[notify]\nbackoff = \"100ms\"\nretries = 2\n",
    )
    .unwrap();
}

#[test]
fn success_message_reaches_zulip_as_the_contract_says() {
    let server = ZulipServer::start(EMAIL, KEY, vec![Answer::Success(42)]);
    let dir = project(vec![
        step(
            "scan",
            Status::Success,
            2,
            "no findings",
            json!({"findings": 0}),
        ),
        build_step(),
        deploy_step(3, 0),
    ]);
    let env = job_env(dir.path(), &server);
    let (code, out, err) = run(dir.path(), &["notify", "--status", "auto"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(server.violations(), Vec::<String>::new());
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.field("type"), Some("stream"));
    assert_eq!(r.field("to"), Some("deploys"));
    assert_eq!(r.field("topic"), Some("app / production"));
    let content = r.field("content").unwrap();
    assert!(
        content.starts_with("✅ **v1.5.0 deployed to production**\n"),
        "{content}"
    );
    assert!(
        content.contains("[Pipeline #4711](https://gitlab.example.com/acme/app/-/pipelines/4711)"),
        "{content}"
    );
    assert!(content.contains("tag `v1.5.0`"), "{content}");
    assert!(content.contains("Fix the login timeout"), "{content}");
    assert!(content.contains("[01234567](https://gitlab.example.com/acme/app/-/commit/0123456789abcdef0123456789abcdef01234567)"), "{content}");
    assert!(content.contains("started by alice"), "{content}");
    assert!(
        content.contains("took 1m52s"),
        "sum of the steps: {content}"
    );
    assert!(
        content.contains("`registry.example.com/acme/app@sha256:1111`"),
        "{content}"
    );
    assert!(content.contains("**Clients** (3: 3 ok)"), "{content}");
    for i in 0..3 {
        assert!(
            content.contains(&format!("- ✅ **clinic-00{i}** ok in 4.0s · [clinic-00{i}.example.com](https://clinic-00{i}.example.com/health)")),
            "{content}"
        );
    }
    assert!(err.contains("message 42"), "{err}");
    let recorded = RunSummary::load(dir.path());
    let me = recorded.steps.iter().find(|s| s.step == "notify").unwrap();
    assert_eq!(
        me.job_url.as_deref(),
        Some("https://gitlab.example.com/acme/app/-/jobs/9001"),
        "summary::record stamps the job"
    );
    assert_eq!(me.job_name.as_deref(), Some("notify"));
    let facts = notify_facts(dir.path());
    assert_eq!(facts["delivered"], true);
    assert_eq!(facts["message_id"], 42);
    assert_key_nowhere(dir.path(), &out, &err);
}

#[test]
fn failure_names_the_step_and_links_the_failing_job() {
    let server = ZulipServer::start(EMAIL, KEY, vec![]);
    let mut failed = step(
        "build",
        Status::Failed,
        9,
        "RUN make failed: exit code 2",
        json!({}),
    );
    failed.job_name = Some("build-image".into());
    failed.job_url = Some("https://gitlab.example.com/acme/app/-/jobs/8999".into());
    let dir = project(vec![
        step("scan", Status::Success, 2, "no findings", json!({})),
        failed,
    ]);
    let mut env = ci_env(dir.path(), "v1.5.0-beta.2");
    env.extend(zulip_env(&server));
    env.push((
        "CI_PIPELINE_CREATED_AT".into(),
        (chrono::Utc::now() - chrono::Duration::seconds(125)).to_rfc3339(),
    ));
    let (code, out, err) = run(dir.path(), &["notify"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(server.violations(), Vec::<String>::new());
    let reqs = server.requests();
    let content = reqs[0].field("content").unwrap();
    assert!(
        content.starts_with("❌ **v1.5.0-beta.2 failed at build**\n"),
        "{content}"
    );
    assert!(
        content
            .contains("[failed job: build-image](https://gitlab.example.com/acme/app/-/jobs/8999)"),
        "{content}"
    );
    assert!(
        content.contains("- ❌ build — RUN make failed: exit code 2 (9.0s)"),
        "{content}"
    );
    assert!(
        content.contains("took 2m0"),
        "pipeline duration from CI_PIPELINE_CREATED_AT: {content}"
    );
    assert_eq!(reqs[0].field("topic"), Some("app / v1.5.0-beta.2"));
}

#[test]
fn scan_failure_lists_counts_per_rule_never_values() {
    let server = ZulipServer::start(EMAIL, KEY, vec![]);
    let dir = project(vec![step(
        "scan",
        Status::Failed,
        3,
        "3 findings in 2 files",
        json!({"findings": 3, "by_rule": {"generic-api-key": 2, "aws-access-token": 1}}),
    )]);
    let mut env = job_env(dir.path(), &server);
    env.push(("CI_JOB_STATUS".into(), "failed".into()));
    env.push(("CI_JOB_NAME".into(), "scan".into()));
    let (code, out, err) = run(dir.path(), &["notify", "--status", "auto"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    let content = server.requests()[0].field("content").unwrap().to_string();
    assert!(
        content.starts_with("❌ **v1.5.0 failed at scan**"),
        "{content}"
    );
    assert!(
        content
            .contains("**Findings** (3 in total)\n- `generic-api-key`: 2\n- `aws-access-token`: 1"),
        "{content}"
    );
}

#[test]
fn rate_limit_is_honoured_then_delivered() {
    let server = ZulipServer::start(EMAIL, KEY, vec![Answer::RateLimited(1), Answer::Success(7)]);
    let dir = retrying_build_project();
    let env = job_env(dir.path(), &server);
    let (code, out, err) = run(dir.path(), &["notify", "--strict"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(server.violations(), Vec::<String>::new());
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "{err}");
    let gap = reqs[1].at - reqs[0].at;
    assert!(
        gap >= Duration::from_millis(900),
        "retry-after 1 s not honoured: {gap:?}"
    );
    assert!(
        err.contains("rate limited (HTTP 429); retrying in 1.0s"),
        "{err}"
    );
    assert_eq!(notify_facts(dir.path())["attempts"], 2);
    assert_eq!(reqs[0].field("content"), reqs[1].field("content"));
}

#[test]
fn server_error_is_retried_with_backoff() {
    let server = ZulipServer::start(EMAIL, KEY, vec![Answer::ServerError, Answer::Success(8)]);
    let dir = retrying_build_project();
    let env = job_env(dir.path(), &server);
    let (code, out, err) = run(dir.path(), &["notify", "--strict"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(server.requests().len(), 2);
    assert!(err.contains("HTTP 500; retrying in 100ms"), "{err}");
    assert_eq!(notify_facts(dir.path())["message_id"], 8);
}

#[test]
fn server_errors_that_persist_give_up_after_the_retries() {
    let server = ZulipServer::start(EMAIL, KEY, vec![Answer::ServerError; 5]);
    let dir = retrying_build_project();
    let env = job_env(dir.path(), &server);
    let (code, _out, err) = run(dir.path(), &["notify", "--strict"], &env);
    assert_eq!(code, 4, "{err}");
    assert_eq!(server.requests().len(), 3, "1 attempt + 2 retries");
    assert!(err.contains("HTTP 500 after 3 attempts"), "{err}");
}

#[test]
fn missing_stream_is_reported_with_zulips_code_and_not_retried() {
    let server = ZulipServer::start(
        EMAIL,
        KEY,
        vec![Answer::StreamMissing, Answer::StreamMissing],
    );
    let dir = retrying_build_project();
    let env = job_env(dir.path(), &server);
    let (code, out, err) = run(dir.path(), &["notify"], &env);
    assert_eq!(
        code, 0,
        "a failed notification does not fail the job: {err}"
    );
    assert_eq!(server.requests().len(), 1, "not retried");
    assert!(err.contains("STREAM_DOES_NOT_EXIST"), "{err}");
    assert!(err.contains("Channel 'deploys' does not exist"), "{err}");
    assert!(err.contains("set ZULIP_STREAM"), "{err}");
    assert!(
        out.contains("v1.5.0 built"),
        "the message is kept in the log: {out}"
    );
    assert_eq!(
        notify_facts(dir.path())["error_code"],
        "STREAM_DOES_NOT_EXIST"
    );
    let (code, _, _) = run(dir.path(), &["notify", "--strict"], &env);
    assert_eq!(code, 4, "--strict turns it into an outside failure");
}

#[test]
fn wrong_key_is_reported_without_the_key() {
    // The server accepts another key: ours gets 401 INVALID_API_KEY.
    let server = ZulipServer::start(EMAIL, "the-right-key-0000", vec![]);
    let dir = project(vec![build_step()]);
    let env = job_env(dir.path(), &server);
    let (code, out, err) = run(dir.path(), &["notify", "--strict", "-v"], &env);
    assert_eq!(code, 4, "{err}");
    assert_eq!(server.requests().len(), 1, "not retried");
    assert!(err.contains("INVALID_API_KEY"), "{err}");
    assert!(err.contains("Invalid API key"), "{err}");
    assert!(err.contains("ZULIP_API_KEY"), "says what to check: {err}");
    assert_key_nowhere(dir.path(), &out, &err);
    let (code, out, err) = run(dir.path(), &["notify"], &env);
    assert_eq!(code, 0);
    assert_key_nowhere(dir.path(), &out, &err);
}

#[test]
fn an_echoed_authorization_header_is_redacted_and_the_body_bounded() {
    // A proxy answers 502 with the request's headers in its body: `Authorization: Basic
    // base64(email:key)` must not reach the log or the summary, and the quoted body is bounded.
    let server = ZulipServer::start(EMAIL, KEY, vec![Answer::EchoHeaders; 3]);
    let dir = retrying_build_project();
    let env = job_env(dir.path(), &server);
    let (code, out, err) = run(dir.path(), &["notify", "--strict"], &env);
    assert_eq!(code, 4, "{err}");
    let sent = server.requests()[0]
        .header("authorization")
        .expect("basic auth sent")
        .to_string();
    let b64 = sent.trim_start_matches("Basic ").to_string();
    assert!(!b64.is_empty() && b64 != sent, "{sent}");
    let summary = summary_text(dir.path());
    for (what, text) in [("stdout", &out), ("stderr", &err), ("summary", &summary)] {
        assert!(
            !text.contains(&b64[..16]),
            "base64 credentials in {what}:\n{text}"
        );
        assert!(!text.contains(KEY), "API key in {what}");
    }
    assert!(err.contains("502"), "{err}");
    assert!(
        err.contains("[redacted]"),
        "the echoed header is quoted masked: {err}"
    );
    assert!(err.contains("bytes in all"), "the body is bounded: {err}");
    let longest = err.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 1500, "an error line is bounded ({longest} bytes)");
}

#[test]
fn a_server_that_never_answers_times_out_in_bounded_time() {
    let server = ZulipServer::start(EMAIL, KEY, vec![Answer::Hang, Answer::Hang, Answer::Hang]);
    let dir = project(vec![build_step()]);
    std::fs::write(
        dir.path().join("stevedore.toml"),
        "[notify]\nbackoff = \"100ms\"\n",
    )
    .unwrap();
    let mut env = job_env(dir.path(), &server);
    env.push(("STEVEDORE_NOTIFY_TIMEOUT".into(), "1s".into()));
    env.push(("STEVEDORE_NOTIFY_RETRIES".into(), "1".into()));
    let start = Instant::now();
    let (code, out, err) = run(dir.path(), &["notify"], &env);
    let took = start.elapsed();
    assert_eq!(code, 0, "{err}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(
        took >= Duration::from_secs(2),
        "two attempts of 1 s each: {took:?}"
    );
    assert_eq!(server.requests().len(), 2);
    assert!(err.contains("no answer within 1.0s (timeout)"), "{err}");
    assert!(out.contains("v1.5.0 built"), "{out}");
    let (code, _, _) = run(dir.path(), &["notify", "--strict", "--retries", "0"], &env);
    assert_eq!(code, 4);
}

#[test]
fn the_deadline_bounds_all_attempts_together() {
    let server = ZulipServer::start(EMAIL, KEY, vec![Answer::Hang; 6]);
    let dir = project(vec![build_step()]);
    std::fs::write(
        dir.path().join("stevedore.toml"),
        "[notify]\nbackoff = \"100ms\"\nretries = 5\ntimeout = \"5s\"\ndeadline = \"1500ms\"\n",
    )
    .unwrap();
    let mut env = job_env(dir.path(), &server);
    env.retain(|(k, _)| k != "STEVEDORE_NOTIFY_TIMEOUT");
    let start = Instant::now();
    let (code, _out, err) = run(dir.path(), &["notify", "--strict"], &env);
    let took = start.elapsed();
    assert_eq!(code, 4, "{err}");
    assert!(
        took < Duration::from_secs(4),
        "deadline of 1.5 s not kept: {took:?}"
    );
    assert!(err.contains("timeout"), "{err}");
}

#[test]
fn a_redirect_is_reported_not_followed() {
    let server = ZulipServer::start(
        EMAIL,
        KEY,
        vec![Answer::Redirect(
            "https://chat.example.com/api/v1/messages".into(),
        )],
    );
    let dir = project(vec![build_step()]);
    let env = job_env(dir.path(), &server);
    let (code, _out, err) = run(dir.path(), &["notify", "--strict"], &env);
    assert_eq!(code, 4, "{err}");
    assert_eq!(server.requests().len(), 1);
    assert!(
        err.contains("redirect (HTTP 301) to https://chat.example.com/api/v1/messages")
            && err.contains("ZULIP_SITE"),
        "{err}"
    );
}

#[test]
fn five_hundred_clients_stay_under_the_size_limit() {
    let server = ZulipServer::start(EMAIL, KEY, vec![]);
    let dir = project(vec![build_step(), deploy_step(500, 3)]);
    let env = job_env(dir.path(), &server);
    let (code, out, err) = run(dir.path(), &["notify", "--strict"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(server.violations(), Vec::<String>::new());
    let content = server.requests()[0].field("content").unwrap().to_string();
    assert!(content.len() <= 10_000, "{}", content.len());
    assert!(
        content.starts_with("❌ **v1.5.0 failed at deploy**"),
        "{content}"
    );
    assert!(
        content.contains("**Clients** (500: 497 ok, 3 failed)"),
        "{content}"
    );
    for i in 0..3 {
        assert!(
            content.contains(&format!("- ❌ **clinic-00{i}** failed in 4.0s · expected `sha256:1111`, observed `sha256:0000` · health check failed")),
            "failed clients come first: {content}"
        );
    }
    let last = content
        .lines()
        .find(|l| l.contains("more clients"))
        .expect("a line counting the rest");
    assert!(
        last.ends_with(&format!(
            "ok) — see the deploy job's log or {}",
            stevedore::deploy::report::FILE
        )),
        "{last}"
    );
}

#[test]
fn long_topic_is_cut_to_sixty_characters() {
    let server = ZulipServer::start(EMAIL, KEY, vec![]);
    let dir = project(vec![]);
    let mut env = job_env(dir.path(), &server);
    env.push((
        "CI_PROJECT_NAME".into(),
        "patient-records-platform-for-regional-clinics".into(),
    ));
    env.push(("ENVIRONMENT".into(), "production-eu-central".into()));
    let (code, out, err) = run(dir.path(), &["notify", "--status", "success"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(server.violations(), Vec::<String>::new());
    let topic = server.requests()[0].field("topic").unwrap().to_string();
    assert_eq!(topic.chars().count(), 60, "{topic}");
    assert_eq!(
        topic,
        "patient-records-platform-for-regional-clinics / production-…"
    );
    // ZULIP_TOPIC wins, cut as well.
    env.push(("ZULIP_TOPIC".into(), "x".repeat(80)));
    run(dir.path(), &["notify"], &env);
    assert_eq!(
        server.requests()[1].field("topic").unwrap().chars().count(),
        60
    );
}

#[test]
fn zuliprc_file_supplies_the_credentials() {
    let server = ZulipServer::start(EMAIL, KEY, vec![]);
    let dir = project(vec![build_step()]);
    let rc = dir.path().join("zuliprc");
    std::fs::write(
        &rc,
        format!(
            "# Downloaded from Zulip\n[api]\nemail={EMAIL}\nkey={KEY}\nsite={}/\n",
            server.url
        ),
    )
    .unwrap();
    let mut env = ci_env(dir.path(), "v1.5.0");
    env.push(("ZULIP_CONFIG".into(), rc.to_str().unwrap().into()));
    env.push(("ZULIP_STREAM".into(), "releases".into()));
    let (code, out, err) = run(dir.path(), &["notify", "--strict"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(server.violations(), Vec::<String>::new());
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].field("to"), Some("releases"));
    assert_key_nowhere(dir.path(), &out, &err);
    // A zuliprc that cannot be read is named, and fails only with --strict (as a config error).
    env.retain(|(k, _)| k != "ZULIP_CONFIG");
    env.push(("ZULIP_CONFIG".into(), "/nonexistent/zuliprc".into()));
    let (code, _, err) = run(dir.path(), &["notify"], &env);
    assert_eq!(code, 0);
    assert!(err.contains("/nonexistent/zuliprc"), "{err}");
    let (code, _, _) = run(dir.path(), &["notify", "--strict"], &env);
    assert_eq!(code, 2);
}

#[test]
fn webhook_gets_slack_compatible_json() {
    let server = ZulipServer::start(EMAIL, KEY, vec![]);
    let dir = project(vec![build_step(), deploy_step(2, 0)]);
    let env = job_env(dir.path(), &server);
    let hook = format!("{}/hooks/T000/B000/s3cretHookToken", server.url);
    let (code, out, err) = run(
        dir.path(),
        &["notify", "--strict", "--webhook", &hook],
        &env,
    );
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(server.violations(), Vec::<String>::new());
    let reqs = server.requests();
    assert_eq!(reqs.len(), 2, "Zulip and the webhook");
    let hook_req = reqs.iter().find(|r| r.path.starts_with("/hooks/")).unwrap();
    let j = hook_req.json.as_ref().unwrap();
    let text = j["text"].as_str().unwrap();
    assert!(
        text.starts_with("✅ *v1.5.0 deployed to production*"),
        "{text}"
    );
    assert!(
        text.contains("<https://gitlab.example.com/acme/app/-/pipelines/4711|Pipeline #4711>"),
        "{text}"
    );
    assert_eq!(j["status"], "success");
    assert_eq!(j["environment"], "production");
    assert!(
        !err.contains("s3cretHookToken") && !out.contains("s3cretHookToken"),
        "{err}"
    );
    assert_eq!(notify_facts(dir.path())["webhook"], "sent");
}

#[test]
fn help_names_the_flags_and_the_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, _) = run(dir.path(), &["notify", "--help"], &[]);
    assert_eq!(code, 0);
    for f in [
        "--status",
        "--strict",
        "--webhook",
        "--stream",
        "--topic",
        "--timeout",
        "--connect-timeout",
        "--deadline",
        "ZULIP_API_KEY",
        "ZULIP_CONFIG",
    ] {
        assert!(out.contains(f), "{f} missing from help:\n{out}");
    }
}

#[test]
fn not_configured_prints_the_message_and_how_to_configure() {
    let dir = project(vec![build_step()]);
    let env = ci_env(dir.path(), "v1.5.0");
    let (code, out, err) = run(dir.path(), &["notify", "--strict"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("✅ **v1.5.0 built**"), "{out}");
    assert!(out.contains("[Pipeline #4711]"), "{out}");
    assert!(err.contains("Zulip is not configured"), "{err}");
    assert!(
        err.contains("ZULIP_SITE, ZULIP_EMAIL, ZULIP_API_KEY") && err.contains("ZULIP_CONFIG"),
        "{err}"
    );
    assert_eq!(
        RunSummary::load(dir.path()).steps.last().unwrap().status,
        Status::Skipped
    );
}

#[test]
fn half_configured_says_what_is_missing() {
    let dir = project(vec![]);
    let mut env = ci_env(dir.path(), "v1.5.0");
    env.push(("ZULIP_SITE".into(), "chat.example.com".into()));
    env.push(("ZULIP_EMAIL".into(), EMAIL.into()));
    let (code, out, err) = run(dir.path(), &["notify"], &env);
    assert_eq!(code, 0);
    assert!(
        err.contains("ZULIP_API_KEY") && err.contains("missing"),
        "{err}"
    );
    assert!(out.contains("v1.5.0 passed"), "{out}");
    let (code, _, _) = run(dir.path(), &["notify", "--strict"], &env);
    assert_eq!(code, 2);
}

#[test]
fn only_the_current_pipelines_steps_are_reported() {
    // An earlier pipeline's failed deploy is still in the summary (a cached artifact, an earlier command):
    // this pipeline's message must not mention it.
    let mut old = deploy_step(3, 2);
    old.scope.pipeline_id = Some("4000".into());
    let dir = project(vec![build_step()]);
    let mut s = RunSummary::load(dir.path());
    s.steps.push(old);
    s.save(dir.path()).unwrap();
    let env = ci_env(dir.path(), "v1.5.0");
    let (code, out, err) = run(dir.path(), &["--dry-run", "notify"], &env);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("v1.5.0 built"), "{out}");
    assert!(
        !out.contains("clinic-"),
        "an earlier pipeline's deploy mixed in: {out}"
    );
    // Recording this pipeline's notify drops the other pipeline's entries from the file.
    let (code, _, err) = run(dir.path(), &["notify"], &env);
    assert_eq!(code, 0, "{err}");
    let s = RunSummary::load(dir.path());
    assert!(
        s.steps
            .iter()
            .all(|e| e.scope.pipeline_id.as_deref() == Some(PIPELINE)),
        "{:?}",
        s.steps
    );
    assert!(s.steps.iter().any(|e| e.step == "build"));
}

#[test]
fn dry_run_prints_what_would_be_sent_without_sending() {
    let server = ZulipServer::start(EMAIL, KEY, vec![]);
    let dir = project(vec![build_step()]);
    let env = job_env(dir.path(), &server);
    let (code, out, err) = run(
        dir.path(),
        &[
            "--dry-run",
            "notify",
            "--webhook",
            "http://127.0.0.1:9/hooks/x",
        ],
        &env,
    );
    assert_eq!(code, 0, "{err}");
    assert!(server.requests().is_empty());
    assert!(
        err.contains(&format!(
            "would POST {}/api/v1/messages as {EMAIL} (API key [redacted])",
            server.url
        )),
        "{err}"
    );
    assert!(
        err.contains("to=\"deploys\", topic=\"app / v1.5.0\""),
        "{err}"
    );
    assert!(out.contains("✅ **v1.5.0 built**"), "{out}");
    assert!(
        out.contains("\"text\": \"✅ *v1.5.0 built*"),
        "webhook JSON: {out}"
    );
    assert_key_nowhere(dir.path(), &out, &err);
}

#[test]
fn template_from_config_and_unknown_placeholder() {
    let server = ZulipServer::start(EMAIL, KEY, vec![]);
    let dir = project(vec![build_step(), deploy_step(2, 1)]);
    std::fs::write(
        dir.path().join("stevedore.toml"),
        "[notify]\nstream = \"ops\"\ntemplate = \"\"\"\n{emoji} {project} {version} → {environment}: {status}\n{clients}\n[log]({job_url}) {{literal}}\"\"\"\n",
    )
    .unwrap();
    let mut env = job_env(dir.path(), &server);
    env.retain(|(k, _)| k != "ZULIP_STREAM");
    let (code, out, err) = run(dir.path(), &["notify", "--strict"], &env);
    assert_eq!(code, 0, "{out}\n{err}");
    let r = &server.requests()[0];
    assert_eq!(r.field("to"), Some("ops"), "stream from [notify]");
    let content = r.field("content").unwrap();
    assert!(
        content.starts_with("❌ app v1.5.0 → production: failed\n- ❌ **clinic-000** failed"),
        "{content}"
    );
    assert!(
        content.ends_with(
            "[log](https://gitlab.example.com/acme/app/-/pipelines/4711/failures) {literal}"
        ),
        "{content}"
    );

    std::fs::write(
        dir.path().join("stevedore.toml"),
        "[notify]\ntemplate = \"{title} {colour}\"\n",
    )
    .unwrap();
    let (code, _, err) = run(dir.path(), &["notify"], &env);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("stevedore.toml:2") && err.contains("{colour}"),
        "{err}"
    );
}

/// The contract server itself refuses what the contract forbids, so the tests above can fail.
#[test]
fn contract_server_catches_violations() {
    use std::io::{Read, Write};
    let server = ZulipServer::start(EMAIL, KEY, vec![]);
    let addr = server.url.trim_start_matches("http://").to_string();
    let send = |raw: String| {
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        c.write_all(raw.as_bytes()).unwrap();
        let mut s = String::new();
        c.read_to_string(&mut s).unwrap();
        s
    };
    let body = "type=stream&to=deploys&content=hi";
    let a = send(format!(
        "POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert!(a.starts_with("HTTP/1.1 401"), "{a}");
    // email:key in base64, computed by hand-rolled encoding in the server's decoder's reverse.
    let auth = b64(&format!("{EMAIL}:{KEY}"));
    let long_topic = "t".repeat(61);
    let body = format!("type=stream&to=deploys&topic={long_topic}&content=hi&color=red");
    let a = send(format!(
        "POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert!(a.starts_with("HTTP/1.1 400"), "{a}");
    let body = "type=stream&to=deploys&topic=x";
    let a = send(format!(
        "POST /api/v1/messages HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert!(a.contains("REQUEST_VARIABLE_MISSING"), "{a}");
    let v = server.violations();
    assert!(
        v.iter().any(|x| x.contains("no Authorization header")),
        "{v:?}"
    );
    assert!(
        v.iter().any(|x| x.contains("topic of 61 characters")),
        "{v:?}"
    );
    assert!(
        v.iter().any(|x| x.contains("unknown form field \"color\"")),
        "{v:?}"
    );
    assert!(
        v.iter()
            .any(|x| x.contains("required field content missing")),
        "{v:?}"
    );
    assert_eq!(
        notify_server::base64_decode(&auth).unwrap(),
        format!("{EMAIL}:{KEY}").into_bytes()
    );
    assert_eq!(
        notify_server::form_decode(b"content=a+b%20c%E2%9C%85&to=x"),
        vec![
            ("content".into(), "a b c✅".into()),
            ("to".into(), "x".into())
        ]
    );
}

fn b64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
