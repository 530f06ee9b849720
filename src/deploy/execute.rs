//! Stage 3 of `deploy`: the side effects the [`Plan`] calls for — wait for the deploy window, then deploy
//! the targets in parallel through their providers. A signal stops waiting at once; targets in flight
//! end as their provider leaves them (a docker target rolls back), and targets not started are skipped.

use super::http::Creds;
use super::plan::{Plan, TargetPlan};
use super::report::{TargetResult, TargetStatus};
use super::settings::Settings;
use super::target::Provider;
use super::{docker, http, window};
use crate::app::App;
use crate::signal;
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Runs the plan; a dry run only prints it. Returns one result per planned target.
pub async fn execute(
    app: &App,
    s: &Settings,
    plan: &Plan,
    creds: &[Creds],
) -> anyhow::Result<Vec<TargetResult>> {
    if s.dry_run {
        wait_window(app, s).await;
        for line in plan.describe() {
            app.out.info(format!("dry run: {line}"));
        }
        return Ok(all_skipped(plan, "dry run"));
    }
    if let Err(c) = signal::or_cancel(wait_window(app, s)).await {
        app.out.warn(format!(
            "{c} while waiting for the deploy window: nothing was deployed"
        ));
        return Ok(all_skipped(plan, &format!("not started: {c}")));
    }
    let http_client = http::client(plan.timing.request_timeout)?;
    let stop = AtomicBool::new(false);
    let jobs = plan
        .targets
        .iter()
        .zip(creds.iter())
        .map(|(tp, c)| one(app, plan, tp, c, &http_client, &stop));
    Ok(futures_util::stream::iter(jobs)
        .buffer_unordered(plan.parallel)
        .collect()
        .await)
}

fn all_skipped(plan: &Plan, why: &str) -> Vec<TargetResult> {
    plan.targets
        .iter()
        .map(|tp| {
            TargetResult::new(&tp.target, TargetStatus::Skipped, &plan.digest)
                .err(TargetStatus::Skipped, why)
        })
        .collect()
}

/// Deploys one target (unless `--fail-fast` or a signal stopped the deploy before it started).
async fn one(
    app: &App,
    plan: &Plan,
    tp: &TargetPlan,
    creds: &Creds,
    http_client: &reqwest::Client,
    stop: &AtomicBool,
) -> TargetResult {
    let (t, vars) = (&tp.target, &tp.vars);
    let t0 = Instant::now();
    let skipped = |why: String| {
        TargetResult::new(t, TargetStatus::Skipped, &vars.digest).err(TargetStatus::Skipped, why)
    };
    if stop.load(Ordering::SeqCst) {
        return skipped("not started: an earlier target failed (--fail-fast)".into());
    }
    if let Err(c) = signal::check() {
        return skipped(format!("not started: {c}"));
    }
    let mut r = match t.provider {
        Provider::Http => http::deploy(http_client, t, vars, creds, &plan.timing, &app.out).await,
        Provider::Docker => {
            let registry = docker_creds(app, &vars.repository);
            docker::deploy(t, vars, registry, &plan.timing, &app.out).await
        }
    };
    r.duration_ms = t0.elapsed().as_millis() as u64;
    if r.status.is_failure() {
        app.out.error(format!(
            "error: {}: {} — {}",
            t.name,
            r.status.as_str(),
            r.error.clone().unwrap_or_default()
        ));
        if plan.fail_fast {
            stop.store(true, Ordering::SeqCst);
        }
    }
    r
}

/// The registry credentials for `repo`, found as `build` finds them (CI login, `DOCKER_AUTH_CONFIG`,
/// the Docker config and its credential helpers; see [`crate::docker::credentials`]).
fn docker_creds(app: &App, repo: &str) -> Option<bollard::auth::DockerCredentials> {
    crate::docker::credentials::for_image(&app.ctx, repo)
        .map_err(|e| {
            app.out
                .warn(crate::exit::render(&e).trim_start_matches("error: "))
        })
        .ok()
        .flatten()
}

/// How long to wait for the deploy window or `--at` time, and what for; none when neither is set.
pub fn window_wait(
    s: &Settings,
    utc_now: chrono::DateTime<chrono::Utc>,
) -> Option<(Duration, String)> {
    let now = utc_now.with_timezone(&s.utc_offset.0);
    match (s.at, s.window) {
        (Some(window::At(t)), _) => Some((
            window::until(now, t),
            format!("--at {} {}", t.format("%H:%M"), s.utc_offset),
        )),
        (None, Some(w)) => Some((
            w.wait_from(now),
            format!("the deploy window {w} {}", s.utc_offset),
        )),
        (None, None) => None,
    }
}

/// Waits for the deploy window or `--at` time, printing what it waits for (a dry run only prints).
async fn wait_window(app: &App, s: &Settings) {
    // STEVEDORE_NOW (RFC 3339) stands in for the clock, so a window can be tested end to end.
    let utc_now = std::env::var("STEVEDORE_NOW")
        .ok()
        .and_then(|v| chrono::DateTime::parse_from_rfc3339(v.trim()).ok())
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(chrono::Utc::now);
    let Some((wait, what)) = window_wait(s, utc_now) else {
        return;
    };
    let now = utc_now.with_timezone(&s.utc_offset.0);
    if wait.is_zero() {
        app.out
            .info(format!("{what}: open now ({})", now.format("%H:%M")));
        return;
    }
    let until = now + chrono::Duration::from_std(wait).unwrap_or_default();
    let (human, until) = (window::human_wait(wait), until.format("%Y-%m-%d %H:%M"));
    if s.dry_run {
        app.out.info(format!(
            "dry run: would wait {human} for {what} (until {until})"
        ));
        return;
    }
    app.out.info(format!(
        "waiting {human} for {what} (until {until}); cancel the job to stop"
    ));
    tokio::time::sleep(wait).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::settings::{Origin, Timing};

    fn settings(at: Option<&str>, window: Option<&str>) -> Settings {
        Settings {
            image: String::new(),
            repository: String::new(),
            digest: String::new(),
            environment: "staging".into(),
            version: None,
            only: None,
            parallel: 1,
            fail_fast: false,
            timing: Timing {
                verify_timeout: Duration::from_secs(1),
                poll_interval: Duration::from_secs(1),
                request_timeout: Duration::from_secs(1),
            },
            at: at.map(|a| a.parse().unwrap()),
            window: window.map(|w| w.parse().unwrap()),
            utc_offset: "+01:00".parse().unwrap(),
            force: false,
            origin: Origin::default(),
            json: false,
            dry_run: false,
            shard: None,
        }
    }

    #[test]
    fn waits_for_at_over_the_window_in_the_configured_offset() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-01T20:59:58Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(window_wait(&settings(None, None), now), None);
        let (wait, what) = window_wait(&settings(None, Some("22:00-02:00")), now).unwrap();
        assert_eq!(wait, Duration::from_secs(2));
        assert_eq!(what, "the deploy window 22:00-02:00 UTC+01:00");
        let (wait, what) = window_wait(&settings(Some("23:00"), Some("22:00-02:00")), now).unwrap();
        assert_eq!(wait, Duration::from_secs(3602));
        assert!(what.starts_with("--at 23:00"), "{what}");
    }
}
