//! Composing the message: title, links, commit, who and how long, one line per step, per client and per
//! scan rule — or the `[notify] template` filled with the same pieces — always under Zulip's size limit.

use super::facts::{self, Client, ClientStatus};
use super::template::Template;
use crate::ci::Context;
use crate::output::human_duration;
use crate::redact::redact;
use crate::summary::{RunSummary, Status, StepOutcome};
use std::time::Duration;

/// Zulip's limit on a message's content, in bytes.
pub const MAX_CONTENT_BYTES: usize = 10_000;

/// Zulip's limit on a topic, in characters.
pub const MAX_TOPIC_CHARS: usize = 60;

/// Scan rules listed by name before the rest are counted together.
const MAX_RULES: usize = 15;

/// The markup the message is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Zulip's Markdown: `**bold**`, `[label](url)`.
    Zulip,
    /// Slack's mrkdwn, for `--webhook`: `*bold*`, `<url|label>`.
    Slack,
}

impl Flavor {
    fn bold(self, s: &str) -> String {
        match self {
            Flavor::Zulip => format!("**{s}**"),
            Flavor::Slack => format!("*{s}*"),
        }
    }

    fn link(self, label: &str, url: &str) -> String {
        match self {
            Flavor::Zulip => format!("[{}]({url})", label.replace(['[', ']'], "")),
            Flavor::Slack => format!("<{url}|{}>", label.replace(['<', '>', '|'], "")),
        }
    }
}

/// How the pipeline ended, as reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Everything passed.
    Success,
    /// A step or job failed.
    Failed,
    /// The pipeline was canceled.
    Canceled,
}

impl Outcome {
    /// `success`, `failed` or `canceled`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::Canceled => "canceled",
        }
    }

    /// The status emoji.
    pub fn emoji(self) -> &'static str {
        match self {
            Outcome::Success => "✅",
            Outcome::Failed => "❌",
            Outcome::Canceled => "⛔",
        }
    }
}

/// Everything the message says, gathered from the CI context and the run summary.
#[derive(Clone, Debug)]
pub struct Report {
    /// How the pipeline ended.
    pub outcome: Outcome,
    /// The project's short name.
    pub project: String,
    /// `group/project`.
    pub project_path: Option<String>,
    /// The tag released, if any.
    pub tag: Option<String>,
    /// The branch or tag name.
    pub ref_name: Option<String>,
    /// Tag, else ref, else short sha: what the title names.
    pub label: String,
    /// The environment deployed to.
    pub environment: Option<String>,
    /// True when a deploy is known to have happened (a deploy step, or a job with an environment).
    pub deployed: bool,
    /// The pipeline's page.
    pub pipeline_url: Option<String>,
    /// The pipeline's id.
    pub pipeline_id: Option<String>,
    /// The failing job's page (on success: the current job's).
    pub job_url: Option<String>,
    /// The step that failed.
    pub failed_step: Option<String>,
    /// The failing job's (or step's) name, for the link.
    pub failed_job: Option<String>,
    /// First line of the commit message.
    pub commit_title: Option<String>,
    /// Short sha.
    pub short_sha: Option<String>,
    /// The commit's page.
    pub commit_url: Option<String>,
    /// Who started the pipeline.
    pub user: Option<String>,
    /// How long the pipeline (or its steps) took.
    pub duration: Option<Duration>,
    /// The steps that ran, `notify` excluded.
    pub steps: Vec<StepOutcome>,
    /// The deploy's clients.
    pub clients: Vec<Client>,
    /// The image built (`repo@sha256:…` when the digest is known).
    pub image: Option<String>,
    /// Its digest.
    pub digest: Option<String>,
    /// Total findings of the scan.
    pub findings_total: u64,
    /// Findings per rule, largest first.
    pub findings: Vec<(String, u64)>,
}

/// Makes untrusted one-line text safe for the message: control characters and newlines become spaces,
/// Zulip mentions (`@**all**`, `@_**x**`) are defused so a commit title cannot ping the stream, and the
/// text is cut to `max` characters.
pub fn plain(s: &str, max: usize) -> String {
    let one: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one = one
        .trim()
        .replace("@**", "@\u{200B}**")
        .replace("@_**", "@\u{200B}_**");
    cut_chars(&one, max)
}

/// Cuts to at most `max` characters, ending with `…` when cut.
pub fn cut_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The topic: `explicit` (ZULIP_TOPIC) or `{project} / {environment or ref}`, at most 60 characters.
pub fn topic(explicit: Option<&str>, r: &Report) -> String {
    let t = match explicit.map(str::trim).filter(|s| !s.is_empty()) {
        Some(t) => t.to_string(),
        None => {
            let what = r
                .environment
                .clone()
                .or_else(|| r.ref_name.clone())
                .unwrap_or_else(|| r.label.clone());
            format!("{} / {what}", r.project)
        }
    };
    cut_chars(&redact(&plain(&t, usize::MAX)), MAX_TOPIC_CHARS)
}

impl Report {
    /// Gathers the report. `environment` is the one given (flag or `ENVIRONMENT`), `duration` the
    /// pipeline's when known; otherwise both come from the summary.
    pub fn gather(
        ctx: &Context,
        summary: &RunSummary,
        outcome: Outcome,
        environment: Option<String>,
        duration: Option<Duration>,
    ) -> Report {
        let steps: Vec<StepOutcome> = summary
            .steps
            .iter()
            .filter(|s| s.step != "notify")
            .cloned()
            .collect();
        let failed = steps.iter().find(|s| s.status == Status::Failed);
        let deploy_env = facts::deploy_environment(summary);
        let deploy_ok = facts::step(summary, "deploy").is_some_and(|d| d.status == Status::Success);
        let environment = environment
            .or(deploy_env.clone())
            .or_else(|| ctx.environment_name.clone());
        let deployed = deploy_ok || (deploy_env.is_none() && ctx.environment_name.is_some());
        let failed_step = match outcome {
            Outcome::Success => None,
            _ => failed.map(|s| s.step.clone()).or_else(|| {
                (ctx.job_status.as_deref() == Some("failed"))
                    .then(|| ctx.job_name.clone())
                    .flatten()
            }),
        };
        let job_url = match outcome {
            Outcome::Success => ctx.job_url.clone(),
            _ => failed
                .and_then(|s| s.job_url.clone())
                .or_else(|| {
                    matches!(ctx.job_status.as_deref(), Some("failed") | Some("canceled"))
                        .then(|| ctx.job_url.clone())
                        .flatten()
                })
                .or_else(|| ctx.pipeline_url.as_ref().map(|p| format!("{p}/failures"))),
        };
        let failed_job = failed
            .and_then(|s| s.job_name.clone())
            .or_else(|| failed_step.clone())
            .or_else(|| ctx.job_name.clone());
        let duration = duration.or_else(|| {
            (!steps.is_empty())
                .then(|| Duration::from_millis(steps.iter().map(|s| s.duration_ms).sum::<u64>()))
        });
        let (image, digest) = match facts::image(summary) {
            Some((i, d)) => (Some(i), d),
            None => (None, None),
        };
        let (findings_total, findings) = facts::findings(summary);
        let commit_url = match (&ctx.project_url, &ctx.commit_sha) {
            (Some(p), Some(sha)) => Some(format!("{}/-/commit/{sha}", p.trim_end_matches('/'))),
            _ => None,
        };
        Report {
            outcome,
            project: ctx.project_name.clone(),
            project_path: ctx.project_path.clone(),
            tag: ctx.commit_tag.clone(),
            ref_name: ctx.commit_ref_name.clone(),
            label: ctx.label(),
            environment,
            deployed,
            pipeline_url: ctx.pipeline_url.clone(),
            pipeline_id: ctx.pipeline_id.clone(),
            job_url,
            failed_step,
            failed_job,
            commit_title: ctx.commit_title.clone(),
            short_sha: ctx.commit_short_sha.clone(),
            commit_url,
            user: ctx.user_login.clone(),
            duration,
            steps,
            clients: facts::clients(summary),
            image,
            digest,
            findings_total,
            findings,
        }
    }

    /// The title: `v1.5.0 deployed to production`, `v1.5.0-beta.2 failed at build`.
    pub fn title(&self) -> String {
        let label = plain(&self.label, 80);
        match self.outcome {
            Outcome::Success => match (&self.environment, self.deployed) {
                (Some(env), true) => format!("{label} deployed to {}", plain(env, 60)),
                _ if facts_has(&self.steps, "build") => format!("{label} built"),
                _ => format!("{label} passed"),
            },
            Outcome::Failed => match &self.failed_step {
                Some(s) => format!("{label} failed at {}", plain(s, 60)),
                None => format!("{label} failed"),
            },
            Outcome::Canceled => format!("{label} canceled"),
        }
    }

    /// The value of a template placeholder, with at most `max_clients` client lines.
    pub fn var(&self, name: &str, fl: Flavor, max_clients: usize) -> String {
        let o = |v: &Option<String>| v.as_deref().map(|s| plain(s, 300)).unwrap_or_default();
        match name {
            "title" => self.title(),
            "status" => self.outcome.as_str().to_string(),
            "emoji" => self.outcome.emoji().to_string(),
            "project" => plain(&self.project, 200),
            "project_path" => o(&self.project_path),
            "tag" => o(&self.tag),
            "ref" => o(&self.ref_name),
            "version" => plain(&self.label, 200),
            "environment" => o(&self.environment),
            "pipeline_url" => o(&self.pipeline_url),
            "job_url" => o(&self.job_url),
            "failed_step" => o(&self.failed_step),
            "commit_title" => o(&self.commit_title),
            "short_sha" => o(&self.short_sha),
            "commit_url" => o(&self.commit_url),
            "user" => o(&self.user),
            "duration" => self.duration.map(human_duration).unwrap_or_default(),
            "steps" => self.steps_block(fl),
            "clients" => self.clients_block(fl, max_clients),
            "findings" => self.findings_block(),
            "image" => o(&self.image),
            "digest" => o(&self.digest),
            "details" => self.details(fl, max_clients),
            _ => String::new(),
        }
    }

    /// The default message: the title line, then [`Report::details`].
    pub fn default_message(&self, fl: Flavor, max_clients: usize) -> String {
        let head = format!("{} {}", self.outcome.emoji(), fl.bold(&self.title()));
        let details = self.details(fl, max_clients);
        if details.is_empty() {
            head
        } else {
            format!("{head}\n{details}")
        }
    }

    /// Everything below the title: links, commit, who, duration, steps, image, clients, findings.
    pub fn details(&self, fl: Flavor, max_clients: usize) -> String {
        let mut lines: Vec<String> = Vec::new();
        let mut links = Vec::new();
        if let Some(u) = &self.pipeline_url {
            let label = match &self.pipeline_id {
                Some(id) => format!("Pipeline #{id}"),
                None => "Pipeline".to_string(),
            };
            links.push(fl.link(&label, u));
        }
        if self.outcome != Outcome::Success
            && let Some(u) = &self.job_url
        {
            let label = match &self.failed_job {
                Some(j) => format!("failed job: {}", plain(j, 80)),
                None => "failed job".to_string(),
            };
            links.push(fl.link(&label, u));
        }
        if let Some(p) = &self.project_path {
            links.push(format!("project `{}`", plain(p, 120)));
        }
        if !links.is_empty() {
            lines.push(links.join(" · "));
        }
        let mut about = Vec::new();
        if let Some(t) = &self.tag {
            about.push(format!("tag `{}`", plain(t, 80)));
        } else if let Some(r) = &self.ref_name {
            about.push(format!("ref `{}`", plain(r, 80)));
        }
        let sha = self.short_sha.as_deref().map(|s| plain(s, 40));
        let commit = match (&sha, &self.commit_url) {
            (Some(s), Some(u)) => Some(fl.link(s, u)),
            (Some(s), None) => Some(format!("`{s}`")),
            _ => None,
        };
        match (commit, &self.commit_title) {
            (Some(c), Some(t)) => about.push(format!("commit {c} {}", plain(t, 120))),
            (Some(c), None) => about.push(format!("commit {c}")),
            (None, Some(t)) => about.push(format!("commit “{}”", plain(t, 120))),
            (None, None) => {}
        }
        if let Some(u) = &self.user {
            about.push(format!("started by {}", plain(u, 80)));
        }
        if let Some(d) = self.duration {
            about.push(format!("took {}", human_duration(d)));
        }
        if !about.is_empty() {
            lines.push(about.join(" · "));
        }
        if !self.steps.is_empty() {
            lines.push(String::new());
            lines.push(fl.bold("Steps"));
            lines.push(self.steps_block(fl));
        }
        if let Some(i) = &self.image {
            lines.push(String::new());
            lines.push(format!("{} `{}`", fl.bold("Image"), plain(i, 300)));
        }
        if !self.clients.is_empty() {
            lines.push(String::new());
            lines.push(format!("{} ({})", fl.bold("Clients"), self.client_counts()));
            lines.push(self.clients_block(fl, max_clients));
        }
        if self.findings_total > 0 || !self.findings.is_empty() {
            lines.push(String::new());
            lines.push(format!(
                "{} ({} in total)",
                fl.bold("Findings"),
                self.findings_total
            ));
            lines.push(self.findings_block());
        }
        lines.join("\n")
    }

    fn steps_block(&self, fl: Flavor) -> String {
        self.steps
            .iter()
            .map(|s| {
                let sym = match s.status {
                    Status::Success => "✅",
                    Status::Failed => "❌",
                    Status::Skipped => "⏭️",
                };
                let mut line = format!(
                    "- {sym} {} — {} ({})",
                    plain(&s.step, 40),
                    plain(&s.headline, 200),
                    human_duration(Duration::from_millis(s.duration_ms))
                );
                if s.status == Status::Failed
                    && let Some(u) = &s.job_url
                    && self.job_url.as_ref() != Some(u)
                {
                    line.push_str(&format!(" · {}", fl.link("job", u)));
                }
                line
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// `500: 498 ok, 2 failed`.
    fn client_counts(&self) -> String {
        format!("{}: {}", self.clients.len(), counts(self.clients.iter()))
    }

    /// One line per client, the ones that did not end up running the release first, at most `max` lines
    /// and then one line counting the rest.
    fn clients_block(&self, fl: Flavor, max: usize) -> String {
        let mut ordered: Vec<&Client> = self.clients.iter().filter(|c| c.status.is_bad()).collect();
        ordered.extend(self.clients.iter().filter(|c| !c.status.is_bad()));
        let mut lines: Vec<String> = ordered
            .iter()
            .take(max)
            .map(|c| client_line(c, fl))
            .collect();
        if ordered.len() > max {
            let rest = &ordered[max..];
            lines.push(format!(
                "- … and {} more client{} ({}) — see the deploy job's log or {}",
                rest.len(),
                if rest.len() == 1 { "" } else { "s" },
                counts(rest.iter().copied()),
                crate::deploy::report::FILE
            ));
        }
        lines.join("\n")
    }

    fn findings_block(&self) -> String {
        let mut lines: Vec<String> = self
            .findings
            .iter()
            .take(MAX_RULES)
            .map(|(rule, n)| format!("- `{}`: {n}", plain(rule, 80)))
            .collect();
        if self.findings.len() > MAX_RULES {
            let rest = &self.findings[MAX_RULES..];
            lines.push(format!(
                "- … and {} more rules ({} findings)",
                rest.len(),
                rest.iter().map(|r| r.1).sum::<u64>()
            ));
        }
        lines.join("\n")
    }
}

fn facts_has(steps: &[StepOutcome], name: &str) -> bool {
    steps
        .iter()
        .any(|s| s.step == name && s.status == Status::Success)
}

/// `498 ok, 2 failed` in a fixed order of statuses.
fn counts<'a>(clients: impl Iterator<Item = &'a Client>) -> String {
    let mut tally: Vec<(String, usize)> = Vec::new();
    for c in clients {
        let w = c.status.word().to_string();
        match tally.iter_mut().find(|(k, _)| *k == w) {
            Some(e) => e.1 += 1,
            None => tally.push((w, 1)),
        }
    }
    let rank = |w: &str| match w {
        "ok" => 0,
        "failed" => 1,
        "timeout" => 2,
        "skipped" => 3,
        _ => 4,
    };
    tally.sort_by_key(|(w, _)| rank(w));
    tally
        .iter()
        .map(|(w, n)| format!("{n} {w}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn client_line(c: &Client, fl: Flavor) -> String {
    let sym = match c.status {
        ClientStatus::Ok => "✅",
        ClientStatus::Failed => "❌",
        ClientStatus::Timeout => "⏱️",
        ClientStatus::Skipped => "⏭️",
        ClientStatus::Other(_) => "❔",
    };
    let mut line = format!(
        "- {sym} {} {}",
        fl.bold(&plain(&c.name, 60)),
        plain(c.status.word(), 20)
    );
    if let Some(ms) = c.duration_ms {
        line.push_str(&format!(
            " in {}",
            human_duration(Duration::from_millis(ms))
        ));
    }
    if c.status.is_bad() {
        match (&c.expected, &c.observed) {
            (Some(e), Some(o)) => line.push_str(&format!(
                " · expected `{}`, observed `{}`",
                plain(e, 80),
                plain(o, 80)
            )),
            (None, Some(o)) => line.push_str(&format!(" · observed `{}`", plain(o, 80))),
            _ => {}
        }
        if let Some(e) = &c.error {
            line.push_str(&format!(" · {}", plain(e, 160)));
        }
    }
    if let Some(u) = &c.url {
        let host = u
            .split_once("://")
            .map(|x| x.1)
            .unwrap_or(u)
            .split('/')
            .next()
            .unwrap_or(u);
        line.push_str(&format!(" · {}", fl.link(&plain(host, 80), u)));
    }
    line
}

/// The message: the template (or the default) filled in, with as many client lines as fit in `limit`
/// bytes; cut with a note as a last resort.
pub fn compose(r: &Report, tpl: Option<&Template>, fl: Flavor, limit: usize) -> String {
    // Redacted before measuring: whatever credential the process knows never reaches the chat.
    let render = |k: usize| -> String {
        redact(&match tpl {
            Some(t) => t.render(&|name| r.var(name, fl, k)),
            None => r.default_message(fl, k),
        })
    };
    let n = r.clients.len();
    let full = render(n);
    if full.len() <= limit {
        return full;
    }
    let none = render(0);
    if none.len() > limit {
        return hard_cut(&none, limit);
    }
    // Largest k with render(k) within the limit: render(lo) fits, render(hi) does not. A client line is
    // longer than 8 bytes, so more than limit / 8 of them never fit: search below that.
    let (mut lo, mut hi) = (0usize, n.min(limit / 8 + 1));
    if hi < n && render(hi).len() <= limit {
        return render(hi);
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        if render(mid).len() <= limit {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    render(lo)
}

fn hard_cut(s: &str, limit: usize) -> String {
    const NOTE: &str = "\n… (cut to fit the message size limit)";
    let mut end = limit.saturating_sub(NOTE.len());
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{NOTE}", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::StepOutcome;
    use serde_json::json;

    fn ctx() -> Context {
        Context {
            ci: true,
            project_name: "app".into(),
            project_path: Some("acme/app".into()),
            project_url: Some("https://gitlab.example.com/acme/app".into()),
            commit_sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
            commit_short_sha: Some("01234567".into()),
            commit_tag: Some("v1.5.0".into()),
            commit_ref_name: Some("v1.5.0".into()),
            commit_title: Some("Fix login timeout @**all**".into()),
            pipeline_id: Some("4711".into()),
            pipeline_url: Some("https://gitlab.example.com/acme/app/-/pipelines/4711".into()),
            job_url: Some("https://gitlab.example.com/acme/app/-/jobs/99".into()),
            job_name: Some("notify".into()),
            user_login: Some("alice".into()),
            ..Default::default()
        }
    }

    fn deploy(n: usize, failed: usize) -> StepOutcome {
        let targets: Vec<_> = (0..n)
            .map(|i| {
                json!({"name": format!("client-{i:03}"), "environment": "production",
                       "status": if i < failed { "failed" } else { "ok" }, "duration_ms": 1000 + i,
                       "expected": "sha256:aaaa", "observed": if i < failed { "sha256:bbbb" } else { "sha256:aaaa" },
                       "url": format!("https://client-{i:03}.example.com/health")})
            })
            .collect();
        let status = if failed > 0 {
            Status::Failed
        } else {
            Status::Success
        };
        StepOutcome::new(
            "deploy",
            status,
            Duration::from_secs(70),
            format!("{} of {n} clients ok", n - failed),
        )
        .with_facts(json!({"environment": "production", "targets": targets}))
    }

    #[test]
    fn success_title_links_and_clients() {
        let mut s = RunSummary::default();
        s.record(
            StepOutcome::new("build", Status::Success, Duration::from_secs(40), "pushed")
                .with_facts(json!({"image": "reg.example.com/acme/app", "digest": "sha256:abcd"})),
        );
        s.record(deploy(3, 0));
        let r = Report::gather(&ctx(), &s, Outcome::Success, None, None);
        assert_eq!(r.title(), "v1.5.0 deployed to production");
        let m = compose(&r, None, Flavor::Zulip, MAX_CONTENT_BYTES);
        assert!(
            m.starts_with("✅ **v1.5.0 deployed to production**\n"),
            "{m}"
        );
        assert!(
            m.contains("[Pipeline #4711](https://gitlab.example.com/acme/app/-/pipelines/4711)"),
            "{m}"
        );
        assert!(m.contains("[01234567](https://gitlab.example.com/acme/app/-/commit/0123456789abcdef0123456789abcdef01234567)"), "{m}");
        assert!(m.contains("started by alice"), "{m}");
        assert!(m.contains("took 1m50s"), "{m}");
        assert!(m.contains("`reg.example.com/acme/app@sha256:abcd`"), "{m}");
        assert!(m.contains("**Clients** (3: 3 ok)"), "{m}");
        assert!(m.contains("- ✅ **client-001** ok in 1.0s · [client-001.example.com](https://client-001.example.com/health)"), "{m}");
        assert!(!m.contains("@**all**"), "mentions are defused: {m}");
        assert_eq!(topic(None, &r), "app / production");
    }

    #[test]
    fn failure_names_step_and_failing_job() {
        let mut s = RunSummary::default();
        s.record(StepOutcome::new(
            "scan",
            Status::Success,
            Duration::from_secs(1),
            "clean",
        ));
        let mut b = StepOutcome::new(
            "build",
            Status::Failed,
            Duration::from_secs(9),
            "RUN make failed",
        );
        b.job_url = Some("https://gitlab.example.com/acme/app/-/jobs/42".into());
        b.job_name = Some("build-image".into());
        s.record(b);
        let mut c = ctx();
        c.commit_tag = Some("v1.5.0-beta.2".into());
        let r = Report::gather(&c, &s, Outcome::Failed, None, None);
        assert_eq!(r.title(), "v1.5.0-beta.2 failed at build");
        let m = compose(&r, None, Flavor::Zulip, MAX_CONTENT_BYTES);
        assert!(m.starts_with("❌ **v1.5.0-beta.2 failed at build**"), "{m}");
        assert!(
            m.contains("[failed job: build-image](https://gitlab.example.com/acme/app/-/jobs/42)"),
            "{m}"
        );
        assert!(m.contains("- ❌ build — RUN make failed (9.0s)"), "{m}");
        assert_eq!(
            m.matches("/-/jobs/42").count(),
            1,
            "the failing job linked once: {m}"
        );
        // Without a recorded job, the pipeline's failures tab.
        let mut s2 = RunSummary::default();
        s2.record(StepOutcome::new(
            "deploy",
            Status::Failed,
            Duration::from_secs(1),
            "x",
        ));
        let r = Report::gather(&ctx(), &s2, Outcome::Failed, None, None);
        assert_eq!(
            r.job_url.as_deref(),
            Some("https://gitlab.example.com/acme/app/-/pipelines/4711/failures")
        );
    }

    #[test]
    fn five_hundred_clients_fit_with_failures_first() {
        let mut s = RunSummary::default();
        s.record(deploy(500, 2));
        let r = Report::gather(&ctx(), &s, Outcome::Failed, None, None);
        let m = compose(&r, None, Flavor::Zulip, MAX_CONTENT_BYTES);
        assert!(m.len() <= MAX_CONTENT_BYTES, "{}", m.len());
        assert!(
            m.len() > MAX_CONTENT_BYTES - 400,
            "uses the room: {}",
            m.len()
        );
        assert!(m.contains("**Clients** (500: 498 ok, 2 failed)"), "{m}");
        assert!(m.contains("**client-000** failed"), "{m}");
        assert!(m.contains("**client-001** failed"), "{m}");
        assert!(
            m.contains("more clients (") && m.contains(" ok) — see the deploy job's log"),
            "{m}"
        );
        let t: Template = "{emoji} {title}\n{clients}".parse().unwrap();
        let m = compose(&r, Some(&t), Flavor::Slack, MAX_CONTENT_BYTES);
        assert!(m.len() <= MAX_CONTENT_BYTES);
        assert!(
            m.starts_with("❌ v1.5.0 failed at deploy\n- ❌ *client-000* failed"),
            "{m}"
        );
    }

    #[test]
    fn canceled_and_plain_success_titles() {
        let r = Report::gather(
            &ctx(),
            &RunSummary::default(),
            Outcome::Canceled,
            None,
            None,
        );
        assert_eq!(r.title(), "v1.5.0 canceled");
        assert!(
            compose(&r, None, Flavor::Zulip, MAX_CONTENT_BYTES)
                .starts_with("⛔ **v1.5.0 canceled**")
        );
        let r = Report::gather(&ctx(), &RunSummary::default(), Outcome::Success, None, None);
        assert_eq!(r.title(), "v1.5.0 passed");
        // A job with an environment (after_script of a deploy job) counts as a deploy.
        let mut c = ctx();
        c.environment_name = Some("staging".into());
        let r = Report::gather(&c, &RunSummary::default(), Outcome::Success, None, None);
        assert_eq!(r.title(), "v1.5.0 deployed to staging");
        let t: Template = "{title}|{details}".parse().unwrap();
        let m = compose(&r, Some(&t), Flavor::Zulip, MAX_CONTENT_BYTES);
        assert!(
            m.starts_with("v1.5.0 deployed to staging|[Pipeline #4711]"),
            "{m}"
        );
    }

    #[test]
    fn known_secrets_never_reach_the_chat() {
        crate::redact::register("glpat-notify-test-9f8e7d");
        let mut c = ctx();
        c.commit_title = Some("oops glpat-notify-test-9f8e7d".into());
        let r = Report::gather(&c, &RunSummary::default(), Outcome::Success, None, None);
        let m = compose(&r, None, Flavor::Zulip, MAX_CONTENT_BYTES);
        assert!(!m.contains("glpat-notify-test-9f8e7d"), "{m}");
        assert!(m.contains("oops [redacted]"), "{m}");
    }

    #[test]
    fn huge_template_text_is_cut() {
        let t: Template = format!("{{title}} {}", "x".repeat(20_000)).parse().unwrap();
        let r = Report::gather(&ctx(), &RunSummary::default(), Outcome::Success, None, None);
        let m = compose(&r, Some(&t), Flavor::Zulip, MAX_CONTENT_BYTES);
        assert!(m.len() <= MAX_CONTENT_BYTES);
        assert!(m.ends_with("(cut to fit the message size limit)"));
    }

    #[test]
    fn topic_is_cut_to_sixty_characters() {
        let mut c = ctx();
        c.project_name = "a-very-long-project-name-for-a-healthcare-platform".into();
        c.commit_tag = None;
        c.commit_ref_name = Some("feature/a-branch-with-a-long-name".into());
        let r = Report::gather(&c, &RunSummary::default(), Outcome::Success, None, None);
        let t = topic(None, &r);
        assert_eq!(t.chars().count(), 60, "{t}");
        assert!(t.ends_with('…'));
        assert!(t.starts_with("a-very-long-project-name-for-a-healthcare-platform / featu"));
        assert_eq!(topic(Some("releases"), &r), "releases");
        assert_eq!(r.title(), "feature/a-branch-with-a-long-name passed");
    }

    #[test]
    fn findings_per_rule() {
        let mut s = RunSummary::default();
        s.record(
            StepOutcome::new(
                "scan",
                Status::Failed,
                Duration::from_secs(2),
                "3 findings in 2 files",
            )
            .with_facts(
                json!({"findings": 3, "by_rule": {"generic-api-key": 2, "aws-access-token": 1}}),
            ),
        );
        let r = Report::gather(&ctx(), &s, Outcome::Failed, None, None);
        let m = compose(&r, None, Flavor::Zulip, MAX_CONTENT_BYTES);
        assert!(
            m.contains(
                "**Findings** (3 in total)\n- `generic-api-key`: 2\n- `aws-access-token`: 1"
            ),
            "{m}"
        );
        assert_eq!(r.title(), "v1.5.0 failed at scan");
    }
}
