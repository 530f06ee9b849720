//! `stevedore notify`: one message per pipeline in the team's Zulip stream — what ran, what failed, where
//! to look — delivered with timeouts and retries, never leaking the API key, and never failing the job
//! unless `--strict`.
//!
//! The pieces: [`facts`] reads the other steps' facts from the run summary, [`message`] composes the text
//! (or fills the `[notify] template`) under Zulip's size limit, [`zuliprc`] finds the credentials,
//! [`zulip`] and [`webhook`] deliver through [`http`]'s retrying poster.

pub mod facts;
pub mod http;
pub mod message;
pub mod shards;
pub mod span;
pub mod template;
pub mod webhook;
pub mod zulip;
pub mod zuliprc;

use crate::app::App;
use crate::output::human_duration;
use crate::redact::{self, MASK};
use crate::summary::{self, RunSummary, Status, StepOutcome};
use http::Policy;
use message::{Flavor, MAX_CONTENT_BYTES, Outcome, Report};
use serde::Deserialize;
use serde_json::json;
use span::Span;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use template::Template;
use zuliprc::{Setup, Sources};

/// The `[notify]` table of `stevedore.toml`. Credentials never go here: they come from `ZULIP_SITE`,
/// `ZULIP_EMAIL`, `ZULIP_API_KEY` or the zuliprc named by `ZULIP_CONFIG`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// The stream to post to (`ZULIP_STREAM` and `--stream` win).
    pub stream: Option<String>,
    /// The topic (`ZULIP_TOPIC` and `--topic` win); default `{project} / {environment or ref}`, cut to 60
    /// characters.
    pub topic: Option<String>,
    /// The message, with named placeholders (`{title}`, `{clients}`, …; see README). Default: the
    /// built-in message. An unknown placeholder is a configuration error.
    pub template: Option<Template>,
    /// Exit 4 when the message cannot be delivered (default false: a failed notification never changes
    /// the job's result).
    pub strict: bool,
    /// Time allowed to connect (default `5s`).
    pub connect_timeout: Option<Span>,
    /// Time allowed for one request and its answer (default `20s`).
    pub timeout: Option<Span>,
    /// Retries after the first attempt, on 5xx, 429 and connection failures (default 3).
    pub retries: Option<u32>,
    /// The first wait between attempts, doubled each time (default `1s`).
    pub backoff: Option<Span>,
    /// The longest `retry-after` honoured on a 429 before giving up (default `60s`).
    pub max_retry_wait: Option<Span>,
    /// The time allowed for all attempts and waits of one delivery together (default `2m`, well inside
    /// the 5 minutes GitLab gives an `after_script`).
    pub deadline: Option<Span>,
}

/// What `--status` reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum StatusArg {
    /// The pipeline succeeded.
    Success,
    /// The pipeline failed.
    Failed,
    /// `CI_JOB_STATUS` when set (in `after_script`), else failed when the run summary has a failed step.
    #[default]
    Auto,
}

/// Command-line arguments of `stevedore notify`.
#[derive(Clone, Debug, Default, clap::Args)]
#[command(
    after_long_help = "Credentials: ZULIP_SITE, ZULIP_EMAIL, ZULIP_API_KEY (environment only), or a zuliprc file \
named by ZULIP_CONFIG ([api] key, email, site). Without them the message is printed to the log.\n\
Exit codes: 0 whether or not the message was delivered; with --strict 4 when delivery failed, 2 when Zulip is \
half configured.\n\nExample:\n  stevedore notify --status auto"
)]
pub struct NotifyArgs {
    /// What to report: success, failed, or auto (CI_JOB_STATUS, else the run summary).
    #[arg(long, value_enum, default_value_t = StatusArg::Auto)]
    pub status: StatusArg,
    /// Where and as whom to post.
    #[command(flatten)]
    pub zulip: Box<ZulipArgs>,
    /// Also post a generic JSON message (Slack-compatible `{"text": …}`) to this URL.
    #[arg(
        long,
        env = "STEVEDORE_NOTIFY_WEBHOOK",
        value_name = "URL",
        hide_env_values = true
    )]
    pub webhook: Option<String>,
    /// The environment deployed to (default: the deploy step's, or CI_ENVIRONMENT_NAME).
    #[arg(long, env = "ENVIRONMENT", value_name = "NAME")]
    pub environment: Option<String>,
    /// Exit 4 when the message cannot be delivered.
    #[arg(long)]
    pub strict: bool,
    /// Timeouts and retries.
    #[command(flatten)]
    pub limits: Box<LimitArgs>,
    /// Steps that ran in parallel shards, as STEP=N (e.g. `scan=3,deploy=4`): a shard that left no
    /// summary is named as missing and fails the report. Shards that did record are found without it.
    #[arg(
        long,
        env = "STEVEDORE_NOTIFY_SHARDS",
        value_name = "STEP=N",
        value_delimiter = ','
    )]
    pub shards: Vec<shards::Expected>,
    /// When the pipeline started (GitLab's CI_PIPELINE_CREATED_AT), for the duration.
    #[arg(long, env = "CI_PIPELINE_CREATED_AT", hide = true)]
    pub pipeline_created_at: Option<String>,
}

/// Where and as whom `stevedore notify` posts (part of [`NotifyArgs`]).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ZulipArgs {
    /// The Zulip stream.
    #[arg(long, env = "ZULIP_STREAM", value_name = "STREAM")]
    pub stream: Option<String>,
    /// The topic (default `{project} / {environment or ref}`, cut to 60 characters).
    #[arg(long, env = "ZULIP_TOPIC", value_name = "TOPIC")]
    pub topic: Option<String>,
    /// The Zulip server (a site without a scheme gets https://).
    #[arg(long = "zulip-site", env = "ZULIP_SITE", value_name = "URL")]
    pub site: Option<String>,
    /// The bot's email.
    #[arg(long = "zulip-email", env = "ZULIP_EMAIL", value_name = "EMAIL")]
    pub email: Option<String>,
    /// A zuliprc file ([api] key, email, site), as Zulip's own tools read it.
    #[arg(long = "zulip-config", env = "ZULIP_CONFIG", value_name = "FILE")]
    pub zulip_config: Option<PathBuf>,
}

/// Timeouts and retries of `stevedore notify` (part of [`NotifyArgs`]).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct LimitArgs {
    /// Time allowed to connect, e.g. 5s.
    #[arg(
        long,
        env = "STEVEDORE_NOTIFY_CONNECT_TIMEOUT",
        value_name = "DURATION"
    )]
    pub connect_timeout: Option<Span>,
    /// Time allowed for one request and its answer, e.g. 20s.
    #[arg(long, env = "STEVEDORE_NOTIFY_TIMEOUT", value_name = "DURATION")]
    pub timeout: Option<Span>,
    /// Retries after the first attempt.
    #[arg(long, env = "STEVEDORE_NOTIFY_RETRIES", value_name = "N")]
    pub retries: Option<u32>,
    /// Time allowed for all attempts of one delivery together, e.g. 2m.
    #[arg(long, env = "STEVEDORE_NOTIFY_DEADLINE", value_name = "DURATION")]
    pub deadline: Option<Span>,
}

impl NotifyArgs {
    /// The retry and timeout policy: flag > environment > `[notify]` > default.
    pub fn policy(&self, cfg: &NotifyConfig) -> Policy {
        let pick =
            |a: Option<Span>, c: Option<Span>, d: Duration| a.or(c).map(Span::get).unwrap_or(d);
        Policy {
            connect_timeout: pick(
                self.limits.connect_timeout,
                cfg.connect_timeout,
                Duration::from_secs(5),
            ),
            timeout: pick(self.limits.timeout, cfg.timeout, Duration::from_secs(20)),
            retries: self.limits.retries.or(cfg.retries).unwrap_or(3),
            backoff: pick(None, cfg.backoff, Duration::from_secs(1)),
            max_wait: pick(None, cfg.max_retry_wait, Duration::from_secs(60)),
            deadline: pick(self.limits.deadline, cfg.deadline, Duration::from_secs(120)),
        }
    }

    /// The arguments as the command line would give them with no flags: every environment variable
    /// (`ZULIP_STREAM`, `ZULIP_SITE`, …) read. For composing steps (`stevedore run`), where
    /// `NotifyArgs::default()` would miss them.
    pub fn from_env() -> NotifyArgs {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            args: NotifyArgs,
        }
        <Only as clap::Parser>::try_parse_from(["notify"])
            .map(|o| o.args)
            .unwrap_or_default()
    }
}

/// The outcome to report for `--status`.
pub fn decide(arg: StatusArg, job_status: Option<&str>, summary: &RunSummary) -> Outcome {
    match arg {
        StatusArg::Success => Outcome::Success,
        StatusArg::Failed => Outcome::Failed,
        StatusArg::Auto => match job_status.map(str::to_ascii_lowercase).as_deref() {
            Some("success") => Outcome::Success,
            Some("failed") => Outcome::Failed,
            Some("canceled") | Some("cancelled") => Outcome::Canceled,
            _ if summary
                .steps
                .iter()
                .any(|s| s.step != "notify" && s.status == Status::Failed) =>
            {
                Outcome::Failed
            }
            _ => Outcome::Success,
        },
    }
}

/// The pipeline's duration from `CI_PIPELINE_CREATED_AT` (RFC 3339) to `now`.
pub fn pipeline_duration(
    created_at: Option<&str>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let t = chrono::DateTime::parse_from_rfc3339(created_at?.trim()).ok()?;
    (now - t.with_timezone(&chrono::Utc)).to_std().ok()
}

/// How the delivery to Zulip went.
enum Delivery {
    Sent(zulip::Sent),
    DryRun,
    NotConfigured,
    /// Zulip is half configured or its zuliprc is unreadable.
    Misconfigured(String),
    Failed(zulip::Refused),
}

/// What notify works from, resolved once: the report and its message, where it goes, how hard to try.
struct Settings {
    outcome: Outcome,
    report: Report,
    content: String,
    topic: String,
    stream: Option<String>,
    policy: Policy,
    strict: bool,
    webhook: Option<String>,
    setup: Result<Setup, String>,
}

/// Runs the step: settings → delivery (Zulip, then the webhook) → outcome.
pub async fn run(app: &App, args: &NotifyArgs) -> anyhow::Result<StepOutcome> {
    let started = Instant::now();
    let s = settings(app, args);
    let _section = app
        .out
        .section("notify", &format!("notify: {}", s.report.title()), false);
    let delivery = deliver_zulip(app, &s).await;
    let mut problem_code = say_problem(app, &s, &delivery);
    let webhook_state = deliver_webhook(app, &s, &mut problem_code).await;
    Ok(finish(
        app,
        &s,
        &delivery,
        webhook_state,
        problem_code,
        started,
    ))
}

/// Flags, environment and `[notify]` resolved, and the message composed from the current summary.
fn settings(app: &App, args: &NotifyArgs) -> Settings {
    let cfg = &app.config.notify;
    let summary = shards::gather(
        RunSummary::load_current(&app.ctx.project_dir),
        &args.shards,
        &app.ctx.project_dir,
    );
    let outcome = decide(args.status, app.ctx.job_status.as_deref(), &summary);
    let duration = pipeline_duration(args.pipeline_created_at.as_deref(), chrono::Utc::now());
    let environment = args.environment.clone().filter(|s| !s.trim().is_empty());
    let report = Report::gather(&app.ctx, &summary, outcome, environment, duration);
    let content = message::compose(
        &report,
        cfg.template.as_ref(),
        Flavor::Zulip,
        MAX_CONTENT_BYTES,
    );
    let topic = message::topic(
        args.zulip.topic.as_deref().or(cfg.topic.as_deref()),
        &report,
    );
    let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let stream = clean(args.zulip.stream.clone().or_else(|| cfg.stream.clone()));
    let webhook = clean(args.webhook.clone());
    if let Some(w) = &webhook {
        redact::register(w);
    }
    let sources = Sources {
        site: args.zulip.site.clone(),
        email: args.zulip.email.clone(),
        key: std::env::var("ZULIP_API_KEY").ok(),
        config_file: args.zulip.zulip_config.clone(),
    };
    Settings {
        outcome,
        report,
        content,
        topic,
        stream,
        policy: args.policy(cfg),
        strict: args.strict || cfg.strict,
        webhook,
        setup: zuliprc::resolve(&sources),
    }
}

/// Sends the message to Zulip (or says what a dry run would send); how it went.
async fn deliver_zulip(app: &App, s: &Settings) -> Delivery {
    let out = &app.out;
    let (topic, content) = (&s.topic, &s.content);
    let creds = match &s.setup {
        Err(e) => return Delivery::Misconfigured(e.clone()),
        Ok(Setup::NotConfigured) => return Delivery::NotConfigured,
        Ok(Setup::Incomplete(missing)) => {
            return Delivery::Misconfigured(format!(
                "Zulip is half configured: {} missing — set {} (or put them in the zuliprc named by ZULIP_CONFIG)",
                if missing.len() == 1 {
                    "this is"
                } else {
                    "these are"
                },
                missing.join(", ")
            ));
        }
        Ok(Setup::Ready(creds)) => creds,
    };
    let Some(stream) = &s.stream else {
        return Delivery::Misconfigured(
            "Zulip has credentials but no stream: set ZULIP_STREAM (or stream in [notify])"
                .to_string(),
        );
    };
    if app.dry_run {
        out.info(format!(
            "dry run: would POST {} as {} (API key {MASK}) with type=stream, to=\"{stream}\", topic=\"{topic}\", \
             content ({} bytes):",
            creds.messages_url(),
            creds.email,
            content.len()
        ));
        for line in content.lines() {
            out.result(line);
        }
        return Delivery::DryRun;
    }
    out.detail(format!(
        "posting to {} as {}: stream \"{stream}\", topic \"{topic}\", {} bytes",
        creds.messages_url(),
        creds.email,
        content.len()
    ));
    match zulip::send(creds, stream, topic, content, &s.policy, out).await {
        Ok(sent) => {
            out.info(format!(
                "sent to Zulip: stream \"{stream}\", topic \"{topic}\" (message {}, {} attempt{})",
                sent.id,
                sent.attempts,
                if sent.attempts == 1 { "" } else { "s" }
            ));
            Delivery::Sent(sent)
        }
        Err(r) => Delivery::Failed(r),
    }
}

/// Says what went wrong (an error with `--strict`, else a warning) and prints the message that was not
/// sent; the exit code the problem calls for under `--strict`.
fn say_problem(app: &App, s: &Settings, delivery: &Delivery) -> Option<i32> {
    let out = &app.out;
    let print_message = |why: &str| {
        out.info(why);
        for line in s.content.lines() {
            out.result(line);
        }
    };
    let complain = |msg: String| {
        if s.strict {
            out.error(format!("error: {msg}"));
        } else {
            out.warn(msg);
        }
    };
    match delivery {
        Delivery::NotConfigured => {
            if app.dry_run {
                print_message("dry run: Zulip is not configured; this is the message:");
            } else {
                print_message("the message for Zulip:");
            }
            out.info(zuliprc::HINT);
            None
        }
        Delivery::Misconfigured(e) => {
            complain(e.clone());
            print_message("the message that was not sent:");
            Some(2)
        }
        Delivery::Failed(r) => {
            complain(format!("notification not delivered: {r}"));
            print_message("the message that was not sent:");
            Some(4)
        }
        Delivery::Sent(_) | Delivery::DryRun => None,
    }
}

/// Posts to the webhook, when one is asked for: `sent`, `failed` or `dry-run`.
async fn deliver_webhook(
    app: &App,
    s: &Settings,
    problem_code: &mut Option<i32>,
) -> Option<&'static str> {
    let out = &app.out;
    let url = s.webhook.as_ref()?;
    let text = message::compose(
        &s.report,
        app.config.notify.template.as_ref(),
        Flavor::Slack,
        MAX_CONTENT_BYTES,
    );
    let body = webhook::payload(&s.report, &text);
    if app.dry_run {
        out.info(format!(
            "dry run: would POST this JSON to the webhook ({MASK}):"
        ));
        out.result(serde_json::to_string_pretty(&body).unwrap_or_default());
        return Some("dry-run");
    }
    match webhook::post(url, &body, &s.policy, out).await {
        Ok(_) => {
            out.info("sent to the webhook");
            Some("sent")
        }
        Err(e) => {
            if s.strict {
                out.error(format!("error: webhook notification not delivered: {e}"));
            } else {
                out.warn(format!("webhook notification not delivered: {e}"));
            }
            *problem_code = problem_code.or(Some(4));
            Some("failed")
        }
    }
}

/// The step's status and headline from how the deliveries went.
fn status_of(delivery: &Delivery, webhook_state: Option<&str>) -> (Status, String) {
    let (status, headline) = match delivery {
        Delivery::Sent(s) => (Status::Success, format!("sent to Zulip (message {})", s.id)),
        Delivery::DryRun => (Status::Skipped, "dry run: nothing sent".to_string()),
        Delivery::NotConfigured => (
            Status::Skipped,
            "Zulip not configured: message in the log".to_string(),
        ),
        Delivery::Misconfigured(_) => (
            Status::Failed,
            "Zulip misconfigured: message in the log".to_string(),
        ),
        Delivery::Failed(r) => (
            Status::Failed,
            match &r.code {
                Some(c) => format!("not delivered: {c}"),
                None => "not delivered".to_string(),
            },
        ),
    };
    if webhook_state == Some("failed") {
        (Status::Failed, headline)
    } else {
        (status, headline)
    }
}

/// The outcome: the summary record and the closing table.
fn finish(
    app: &App,
    s: &Settings,
    delivery: &Delivery,
    webhook_state: Option<&str>,
    problem_code: Option<i32>,
    started: Instant,
) -> StepOutcome {
    let out = &app.out;
    let (status, headline) = status_of(delivery, webhook_state);
    let facts = json!({
        "reported": s.outcome.as_str(),
        "title": s.report.title(),
        "stream": s.stream,
        "topic": s.topic,
        "bytes": s.content.len(),
        "delivered": matches!(delivery, Delivery::Sent(_)),
        "message_id": match delivery { Delivery::Sent(s) => Some(s.id), _ => None },
        "attempts": match delivery {
            Delivery::Sent(s) => Some(s.attempts),
            Delivery::Failed(r) => Some(r.attempts),
            _ => None,
        },
        "error_code": match delivery { Delivery::Failed(r) => r.code.clone(), _ => None },
        "webhook": webhook_state,
    });
    let mut step =
        StepOutcome::new("notify", status, started.elapsed(), headline.clone()).with_facts(facts);
    step.exit_code = Some(match problem_code {
        Some(code) if s.strict => code,
        _ => 0,
    });
    if let Err(e) = summary::record(&app.ctx.project_dir, &step) {
        out.warn(format!(
            "cannot write the run summary {}: {e}",
            RunSummary::path(&app.ctx.project_dir).display()
        ));
    }
    let mut rows = vec![
        (
            "reported".to_string(),
            format!("{} {}", s.outcome.emoji(), s.report.title()),
        ),
        ("delivery".to_string(), headline),
    ];
    if let Some(st) = &s.stream {
        rows.push(("stream".to_string(), st.clone()));
    }
    rows.push(("topic".to_string(), s.topic.clone()));
    rows.push(("size".to_string(), format!("{} bytes", s.content.len())));
    if let Some(w) = webhook_state {
        rows.push(("webhook".to_string(), w.to_string()));
    }
    rows.push(("took".to_string(), human_duration(started.elapsed())));
    if problem_code.is_some() && !s.strict {
        rows.push((
            "exit".to_string(),
            "0: a failed notification does not fail the job (use --strict to change that)"
                .to_string(),
        ));
    }
    out.summary("notify", &rows);
    step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_status() {
        let mut s = RunSummary::default();
        assert_eq!(decide(StatusArg::Auto, None, &s), Outcome::Success);
        s.record(StepOutcome::new(
            "build",
            Status::Failed,
            Duration::ZERO,
            "x",
        ));
        assert_eq!(decide(StatusArg::Auto, None, &s), Outcome::Failed);
        assert_eq!(
            decide(StatusArg::Auto, Some("success"), &s),
            Outcome::Success
        );
        assert_eq!(
            decide(StatusArg::Auto, Some("canceled"), &s),
            Outcome::Canceled
        );
        assert_eq!(
            decide(StatusArg::Success, Some("failed"), &s),
            Outcome::Success
        );
        let mut only_notify = RunSummary::default();
        only_notify.record(StepOutcome::new(
            "notify",
            Status::Failed,
            Duration::ZERO,
            "x",
        ));
        assert_eq!(
            decide(StatusArg::Auto, None, &only_notify),
            Outcome::Success
        );
    }

    #[test]
    fn duration_from_pipeline_start() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-27T10:05:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            pipeline_duration(Some("2026-11-27T10:00:30Z"), now),
            Some(Duration::from_secs(270))
        );
        assert_eq!(pipeline_duration(Some("garbage"), now), None);
        assert_eq!(pipeline_duration(None, now), None);
    }

    #[test]
    fn from_env_builds_a_valid_parser() {
        // clap's debug assertions check the flattened groups when the parser is built.
        let a = NotifyArgs::from_env();
        assert_eq!(a.status, StatusArg::Auto);
        assert!(!a.strict);
    }

    #[test]
    fn policy_precedence() {
        let cfg = NotifyConfig {
            timeout: Some("7s".parse().unwrap()),
            retries: Some(1),
            ..Default::default()
        };
        let args = NotifyArgs {
            limits: Box::new(LimitArgs {
                timeout: Some("2s".parse().unwrap()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let p = args.policy(&cfg);
        assert_eq!(p.timeout, Duration::from_secs(2));
        assert_eq!(p.retries, 1);
        assert_eq!(p.connect_timeout, Duration::from_secs(5));
    }
}
