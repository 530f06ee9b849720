//! `stevedore run --dry-run`: every step the run would take, the command each amounts to and what decides
//! it — without Docker, without changing anything. It only asks the Docker daemon whether it answers.

use super::args::Flag;
use super::steps::{Route, Step};
use std::time::Duration;

/// Whether a Docker daemon answers, as the plan says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Daemon {
    /// It answered: where, and its engine and API versions.
    Answers {
        /// The address asked (`DOCKER_HOST` or the default socket).
        host: String,
        /// What the daemon said about itself.
        version: String,
    },
    /// Nothing answered at `host` in time.
    Silent {
        /// The address asked.
        host: String,
        /// Why (connection refused, timeout, …).
        why: String,
    },
}

impl Daemon {
    /// The plan's note for a step that needs the daemon.
    pub fn note(&self) -> String {
        match self {
            Daemon::Answers { host, version } => {
                format!("needs a Docker daemon: one answers at {host} ({version})")
            }
            Daemon::Silent { host, why } => format!(
                "needs a Docker daemon, and none answers at {host} ({why}): start dockerd or set DOCKER_HOST"
            ),
        }
    }
}

/// The address stevedore asks: `DOCKER_HOST`, else the default socket.
pub fn docker_host() -> String {
    crate::docker::Target::from_env().host
}

/// Asks the daemon at `DOCKER_HOST` (or the default socket; TLS from `DOCKER_TLS_VERIFY`) whether it
/// answers, giving up after `timeout`.
pub async fn probe_daemon(timeout: Duration) -> Daemon {
    let target = crate::docker::Target::from_env();
    let host = target.host.clone();
    let docker = match crate::docker::client(&target, timeout) {
        Ok(d) => d,
        Err(e) => {
            return Daemon::Silent {
                host,
                why: crate::error_chain::error_chain(e.root_cause()),
            };
        }
    };
    let ask = async {
        docker.ping().await?;
        let docker = docker.negotiate_version().await?;
        let v = docker.version().await?;
        Ok::<_, bollard::errors::Error>(format!(
            "engine {}, API {}",
            v.version.unwrap_or_else(|| "?".into()),
            v.api_version.unwrap_or_else(|| "?".into())
        ))
    };
    match tokio::time::timeout(timeout, ask).await {
        Ok(Ok(version)) => Daemon::Answers { host, version },
        Ok(Err(e)) => Daemon::Silent {
            host,
            why: crate::error_chain::error_chain(&e),
        },
        Err(_) => Daemon::Silent {
            host,
            why: format!("no answer within {}s", timeout.as_secs()),
        },
    }
}

/// What decides the run, read from the CI context and the environment.
#[derive(Clone, Debug)]
pub struct Facts {
    /// Where build pushes (`CI_REGISTRY_IMAGE`); none keeps the image in the local daemon.
    pub registry_image: Option<String>,
    /// Where the tag sends the pipeline.
    pub route: Route,
    /// True when the tag is protected (`CI_COMMIT_REF_PROTECTED=true`, never outside CI).
    pub protected: bool,
    /// The environment variable that configures Zulip, when one is set.
    pub zulip: Option<&'static str>,
    /// True in a CI job (scan then writes GitLab's secret-detection report, as the template's job does).
    pub ci: bool,
    /// The configured deploy targets, as (name, environment) — `[[deploy.targets]]` in stevedore.toml.
    pub targets: Vec<(String, String)>,
    /// The environments of the staging and the production channel (`[release]`, default `staging` and
    /// `production`).
    pub environments: (String, String),
}

impl Facts {
    /// The environment the route deploys to (`staging` or `production`), when it deploys.
    pub fn environment(&self) -> Option<&str> {
        match self.route {
            Route::Staging(_) => Some(&self.environments.0),
            Route::Production(_) => Some(&self.environments.1),
            Route::NoTag | Route::NotARelease(_) => None,
        }
    }

    /// The names of the targets of `environment`.
    pub fn targets_of(&self, environment: &str) -> Vec<&str> {
        self.targets
            .iter()
            .filter(|(_, e)| e == environment)
            .map(|(n, _)| n.as_str())
            .collect()
    }
}

/// Whether `deploy` runs, from the same facts the run itself uses: `Ok` with what it deploys, or `Err`
/// with why it is skipped — no release route, no target of the environment, or no registry to push the
/// digest deploy needs.
pub fn deploy_decision(facts: &Facts) -> Result<String, String> {
    let Some(env) = facts.environment() else {
        return Err(facts.route.explain());
    };
    let names = facts.targets_of(env);
    if names.is_empty() {
        return Err(format!(
            "no [[deploy.targets]] with environment = \"{env}\" in stevedore.toml: nothing to deploy"
        ));
    }
    if facts.registry_image.is_none() {
        return Err(format!(
            "deploy needs a pushed digest, and no registry is configured (CI_REGISTRY_IMAGE unset): build keeps the image in the local daemon, so the {} {env} target{} are not deployed — set CI_REGISTRY_IMAGE (and CI_REGISTRY_USER/CI_REGISTRY_PASSWORD) to push and deploy",
            names.len(),
            if names.len() == 1 { "" } else { "s" }
        ));
    }
    Ok(format!(
        "the digest build pushes, to {} {env} target{} ({})",
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", ")
    ))
}

/// One line of the plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanRow {
    /// The step.
    pub step: Step,
    /// `run` or `skip`.
    pub action: &'static str,
    /// The command the step amounts to.
    pub command: String,
    /// What decides it.
    pub note: String,
}

/// The plan for `steps`: each with the command `flags` make and the reason it runs or is skipped.
pub fn plan(
    steps: &[Step],
    facts: &Facts,
    daemon: &Daemon,
    flags: impl Fn(Step) -> Vec<Flag>,
) -> Vec<PlanRow> {
    steps
        .iter()
        .map(|&step| {
            let mut command = format!("stevedore {step}");
            for f in flags(step) {
                command.push(' ');
                command.push_str(&f.shell());
            }
            let (action, note) = match step {
                Step::Scan => (
                    "run",
                    "the working tree and the commits being released; fails on a finding".to_string(),
                ),
                Step::Prune => ("run", format!("{}; frees disk within policy", daemon.note())),
                Step::Build => {
                    let push = match &facts.registry_image {
                        Some(img) => format!("then pushes to {img}"),
                        None => "no registry configured (CI_REGISTRY_IMAGE unset): the image stays in the local daemon, no push".to_string(),
                    };
                    ("run", format!("{}; {push}", daemon.note()))
                }
                Step::Release if !facts.route.deploys() => ("skip", facts.route.explain()),
                Step::Release => {
                    let mut n = facts.route.explain();
                    if matches!(facts.route, Route::Production(_)) && !facts.protected {
                        n.push_str(
                            "; the tag is not protected, so release refuses production (exit 3) unless [release] allow_unprotected = true",
                        );
                    }
                    ("run", n)
                }
                Step::Deploy => match deploy_decision(facts) {
                    Ok(n) => ("run", n),
                    Err(why) => ("skip", why),
                },
                Step::Notify => (
                    "run",
                    match facts.zulip {
                        Some(var) => format!("always, even after a failure; Zulip configured ({var})"),
                        None => "always, even after a failure; Zulip not configured (ZULIP_SITE, ZULIP_CONFIG unset): the message is printed to the log".to_string(),
                    },
                ),
            };
            PlanRow {
                step,
                action,
                command,
                note,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(tag: Option<&str>, registry: bool, protected: bool) -> Facts {
        Facts {
            registry_image: registry.then(|| "registry.example.com/acme/app".to_string()),
            route: Route::of(tag),
            protected,
            zulip: None,
            ci: false,
            targets: vec![
                ("clinic-a".into(), "staging".into()),
                ("clinic-b".into(), "production".into()),
                ("clinic-c".into(), "production".into()),
            ],
            environments: ("staging".into(), "production".into()),
        }
    }

    fn silent() -> Daemon {
        Daemon::Silent {
            host: "unix:///nowhere.sock".into(),
            why: "connection refused".into(),
        }
    }

    #[test]
    fn nothing_configured_plans_a_local_build_and_skips_deploy() {
        let rows = plan(&Step::ALL, &facts(None, false, false), &silent(), |_| {
            Vec::new()
        });
        assert_eq!(rows.len(), 6);
        let build = &rows[2];
        assert_eq!(build.step, Step::Build);
        assert!(
            build
                .note
                .contains("needs a Docker daemon, and none answers at unix:///nowhere.sock")
        );
        assert!(build.note.contains("no push"));
        assert_eq!(rows[3].action, "skip");
        assert_eq!(rows[4].action, "skip");
        assert!(rows[4].note.contains("no tag"));
        assert!(rows[5].note.contains("printed to the log"));
    }

    #[test]
    fn a_release_tag_plans_push_and_warns_when_unprotected() {
        let d = Daemon::Answers {
            host: "unix:///var/run/docker.sock".into(),
            version: "engine 20.10.24, API 1.41".into(),
        };
        let rows = plan(&Step::ALL, &facts(Some("v1.2.3"), true, false), &d, |s| {
            if s == Step::Build {
                vec![Flag::switch("push")]
            } else {
                Vec::new()
            }
        });
        assert_eq!(rows[2].command, "stevedore build --push");
        assert!(
            rows[2]
                .note
                .contains("pushes to registry.example.com/acme/app")
        );
        assert!(rows[2].note.contains("one answers"));
        assert_eq!(rows[3].action, "run");
        assert!(rows[3].note.contains("refuses production"));
        let rows = plan(
            &[Step::Release],
            &facts(Some("v1.2.3"), true, true),
            &d,
            |_| Vec::new(),
        );
        assert!(!rows[0].note.contains("refuses"));
    }

    #[test]
    fn deploy_is_planned_from_the_targets_and_the_registry() {
        let d = silent();
        // A staging tag with a staging target but no registry: skipped, saying deploy needs a pushed digest.
        let rows = plan(
            &[Step::Deploy],
            &facts(Some("v1.1.0-beta.1"), false, false),
            &d,
            |_| Vec::new(),
        );
        assert_eq!(rows[0].action, "skip");
        assert!(
            rows[0].note.contains("deploy needs a pushed digest"),
            "{}",
            rows[0].note
        );
        assert!(!rows[0].note.contains("none configured"));
        // With a registry: deploys to the staging target, named.
        let rows = plan(
            &[Step::Deploy],
            &facts(Some("v1.1.0-beta.1"), true, false),
            &d,
            |_| Vec::new(),
        );
        assert_eq!(rows[0].action, "run");
        assert!(
            rows[0].note.contains("1 staging target (clinic-a)"),
            "{}",
            rows[0].note
        );
        let rows = plan(
            &[Step::Deploy],
            &facts(Some("v1.1.0"), true, true),
            &d,
            |_| Vec::new(),
        );
        assert!(
            rows[0]
                .note
                .contains("2 production targets (clinic-b, clinic-c)"),
            "{}",
            rows[0].note
        );
        // No target of the environment: skipped, saying so.
        let mut f = facts(Some("v1.1.0-rc.1"), true, false);
        f.targets.clear();
        let rows = plan(&[Step::Deploy], &f, &d, |_| Vec::new());
        assert_eq!(rows[0].action, "skip");
        assert!(
            rows[0]
                .note
                .contains("no [[deploy.targets]] with environment = \"staging\"")
        );
    }
}
