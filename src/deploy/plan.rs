//! Stage 2 of `deploy`: a pure function from the [`Settings`] and the configured targets to a [`Plan`] —
//! which targets, with which placeholder values, which credential variables they read, and whether the
//! production policy allows it. `--dry-run` prints it; unit tests assert it without Docker or HTTP.

use super::policy::{self, Verdict};
use super::settings::{Settings, Timing};
use super::target::{Provider, TargetConfig};
use super::template::Vars;
use super::{DeployConfig, docker, http};
use crate::exit::{ExitCode, coded};
use crate::output::human_duration;
use crate::release::ReleaseConfig;
use std::collections::{BTreeSet, HashSet};

/// One target to deploy.
#[derive(Clone, Debug)]
pub struct TargetPlan {
    /// Its configuration.
    pub target: TargetConfig,
    /// The values of its placeholders.
    pub vars: Vars,
}

/// What `deploy` will do, and why.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The environment deployed.
    pub environment: String,
    /// The image reference.
    pub image: String,
    /// Its digest.
    pub digest: String,
    /// The release version, when known.
    pub version: Option<String>,
    /// The targets to deploy, in configuration order.
    pub targets: Vec<TargetPlan>,
    /// Targets of the environment left out by `--only`, with the reason.
    pub not_selected: Vec<(TargetConfig, String)>,
    /// Credential variables to read, per target (same order as `targets`).
    pub credentials: Vec<Vec<String>>,
    /// The production policy's verdict.
    pub policy: Verdict,
    /// How many targets deploy at once.
    pub parallel: usize,
    /// Stop starting targets after the first failure.
    pub fail_fast: bool,
    /// Timeouts and poll interval.
    pub timing: Timing,
    /// The shard of the targets deployed here.
    pub shard: Option<crate::shard::Shard>,
    /// Targets of the environment deployed by the other shards.
    pub elsewhere: usize,
}

/// Computes the plan: checks target names, the environment, `--only`, each target's configuration and
/// the version its templates need (usage errors, exit 2), and the production policy (a verdict,
/// enforced after the credentials are checked).
pub fn plan(s: &Settings, cfg: &DeployConfig, rc: &ReleaseConfig) -> anyhow::Result<Plan> {
    let usage = |m: String| coded(ExitCode::Usage, m);
    let mut names = HashSet::new();
    if let Some(t) = cfg.targets.iter().find(|t| !names.insert(t.name.as_str())) {
        return Err(usage(format!(
            "[[deploy.targets]] name `{}` is used twice: give each target its own name",
            t.name
        )));
    }
    let env = &s.environment;
    let in_env: Vec<&TargetConfig> = cfg
        .targets
        .iter()
        .filter(|t| &t.environment == env)
        .collect();
    if in_env.is_empty() {
        let envs: BTreeSet<&str> = cfg.targets.iter().map(|t| t.environment.as_str()).collect();
        return Err(usage(format!(
            "no [[deploy.targets]] with environment = \"{env}\" (configured: {}): add one, or pass --environment",
            envs.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    if let Some(only) = &s.only
        && !in_env.iter().any(|t| &t.name == only)
    {
        let all: Vec<&str> = in_env.iter().map(|t| t.name.as_str()).collect();
        return Err(usage(format!(
            "--only {only}: no such target in environment {env} (targets: {})",
            all.join(", ")
        )));
    }
    let (selected, rest): (Vec<&TargetConfig>, Vec<&TargetConfig>) = in_env
        .into_iter()
        .partition(|t| s.only.as_ref().is_none_or(|o| &t.name == o));
    for t in &selected {
        t.validate().map_err(usage)?;
        if t.needs_version() && s.version.is_none() {
            return Err(usage(format!(
                "[[deploy.targets]] `{}` uses the release version ({{version}} in a request, or verify expect = \"version\"), but no version is known: pass --release-version, set VERSION (release's dotenv), or run in a tag pipeline",
                t.name
            )));
        }
    }
    let (selected, elsewhere) = shard_of(selected, s.shard);
    let only = s.only.clone().unwrap_or_default();
    Ok(Plan {
        environment: env.clone(),
        image: s.image.clone(),
        digest: s.digest.clone(),
        version: s.version.clone(),
        credentials: selected
            .iter()
            .map(|t| {
                t.credential_vars()
                    .into_iter()
                    .map(str::to_string)
                    .collect()
            })
            .collect(),
        targets: selected
            .iter()
            .map(|t| TargetPlan {
                target: (*t).clone(),
                vars: vars(s, t),
            })
            .collect(),
        not_selected: rest
            .into_iter()
            .map(|t| (t.clone(), format!("not selected (--only {only})")))
            .collect(),
        policy: policy::verdict(env, rc, &s.origin, s.force),
        parallel: s.parallel,
        fail_fast: s.fail_fast,
        timing: s.timing,
        shard: s.shard,
        elsewhere,
    })
}

/// The targets of `shard` (all without one): sorted by name, every N-th from the I-th, so each target
/// falls in exactly one shard and stays there while the list does not change. Also how many targets
/// the other shards deploy.
pub fn shard_of(
    targets: Vec<&TargetConfig>,
    shard: Option<crate::shard::Shard>,
) -> (Vec<&TargetConfig>, usize) {
    let Some(shard) = shard else {
        return (targets, 0);
    };
    let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    let split = crate::shard::round_robin(&names, shard.total);
    let n = targets.len();
    let mine: Vec<&TargetConfig> = targets
        .into_iter()
        .zip(split)
        .filter(|(_, x)| *x as usize == shard.slot())
        .map(|(t, _)| t)
        .collect();
    let elsewhere = n - mine.len();
    (mine, elsewhere)
}

/// The placeholder values of one target.
fn vars(s: &Settings, t: &TargetConfig) -> Vars {
    Vars {
        image: s.image.clone(),
        digest: s.digest.clone(),
        version: s.version.clone().unwrap_or_default(),
        client: t.client().to_string(),
        name: t.name.clone(),
        environment: s.environment.clone(),
        repository: s.repository.clone(),
    }
}

impl Plan {
    /// The headline: what is deployed where, how many at a time.
    pub fn headline(&self) -> String {
        let n = self.targets.len();
        let shard = match self.shard {
            Some(s) => format!(
                " (shard {s}: {n} of the environment's {} targets)",
                n + self.elsewhere
            ),
            None => String::new(),
        };
        format!(
            "deploying {} (version {}) to {n} target{} of {}, {} at a time{shard}",
            self.image,
            self.version.as_deref().unwrap_or("unknown"),
            if n == 1 { "" } else { "s" },
            self.environment,
            self.parallel
        )
    }

    /// What each target's deploy does, for `--dry-run` (credentials masked).
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for tp in &self.targets {
            let t = &tp.target;
            match t.provider {
                Provider::Http => {
                    let expected = http::expected(t, &tp.vars);
                    for line in http::describe(t, &tp.vars, &expected, &self.timing) {
                        lines.push(format!("{}: {line}", t.name));
                    }
                }
                Provider::Docker => lines.push(format!(
                    "{}: would replace container {} on {} by one from {}, wait up to {} for its HEALTHCHECK, and roll back if it fails",
                    t.name,
                    t.container.as_deref().unwrap_or_default(),
                    docker::target(t.docker_host.as_deref()).describe(),
                    self.image,
                    human_duration(self.timing.verify_timeout),
                )),
            }
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::settings::Origin;
    use std::time::Duration;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn settings(env: &str, version: Option<&str>, only: Option<&str>) -> Settings {
        Settings {
            image: format!("r.example.com/acme/app@{DIGEST}"),
            repository: "r.example.com/acme/app".into(),
            digest: DIGEST.into(),
            environment: env.into(),
            version: version.map(str::to_string),
            only: only.map(str::to_string),
            parallel: 2,
            fail_fast: false,
            timing: Timing {
                verify_timeout: Duration::from_secs(60),
                poll_interval: Duration::from_secs(1),
                request_timeout: Duration::from_secs(5),
            },
            at: None,
            window: None,
            utc_offset: Default::default(),
            force: false,
            origin: Origin::default(),
            json: false,
            dry_run: true,
            shard: None,
        }
    }

    fn config(text: &str) -> DeployConfig {
        crate::config::Config::parse(text, std::path::Path::new("stevedore.toml"))
            .unwrap()
            .deploy
    }

    const TARGETS: &str = r#"
[[deploy.targets]]
name = "acme"
environment = "staging"
provider = "http"
url = "https://api.example.com/services/{client}"
auth = "basic"
user_env = "MEDSTACK_KEY"
password_env = "MEDSTACK_SECRET"
secret_headers = { "X-Api-Key" = "ACME_API_KEY" }
body = { image = "{image}" }

[[deploy.targets]]
name = "beta"
environment = "staging"
provider = "docker"
container = "app"

[[deploy.targets]]
name = "versioned"
environment = "production"
provider = "http"
url = "https://api.example.com/services/{client}"
body = { tag = "{version}" }
"#;

    #[test]
    fn selects_targets_and_names_the_credentials_they_read() {
        let cfg = config(TARGETS);
        let rc = ReleaseConfig::default();
        let p = plan(&settings("staging", None, None), &cfg, &rc).unwrap();
        let names: Vec<&str> = p.targets.iter().map(|t| t.target.name.as_str()).collect();
        assert_eq!(names, ["acme", "beta"]);
        assert_eq!(
            p.credentials,
            vec![
                vec!["MEDSTACK_KEY", "MEDSTACK_SECRET", "ACME_API_KEY"],
                Vec::<&str>::new()
            ]
        );
        assert_eq!(p.policy, Verdict::Allowed);
        assert_eq!(p.targets[0].vars.client, "acme");
        let d = p.describe();
        assert!(
            d[0].starts_with("acme: PUT https://api.example.com/services/acme"),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|l| l.contains("Authorization: Basic [redacted]")),
            "{d:?}"
        );
        assert!(
            d.last()
                .unwrap()
                .starts_with("beta: would replace container app"),
            "{d:?}"
        );
        let p = plan(&settings("staging", None, Some("beta")), &cfg, &rc).unwrap();
        assert_eq!(p.targets.len(), 1);
        assert_eq!(p.not_selected[0].0.name, "acme");
        assert!(p.not_selected[0].1.contains("--only beta"));
    }

    #[test]
    fn refuses_what_cannot_be_deployed() {
        let cfg = config(TARGETS);
        let rc = ReleaseConfig::default();
        let err = |s: Settings| {
            let e = plan(&s, &cfg, &rc).unwrap_err();
            assert_eq!(crate::exit::code_of(&e), ExitCode::Usage);
            crate::exit::render(&e)
        };
        assert!(err(settings("qa", None, None)).contains("configured: production, staging"));
        assert!(err(settings("staging", None, Some("nope"))).contains("targets: acme, beta"));
        // {version} in the body with no version known is an error, never "" in a request.
        let m = err(settings("production", None, None));
        assert!(m.contains("`versioned` uses the release version"), "{m}");
        let p = plan(&settings("production", Some("1.6.0"), None), &cfg, &rc).unwrap();
        assert_eq!(p.targets[0].vars.version, "1.6.0");
        assert!(
            matches!(p.policy, Verdict::Refused(_)),
            "production from a laptop"
        );
        let twice = format!(
            "{TARGETS}\n[[deploy.targets]]\nname = \"beta\"\nenvironment = \"x\"\nprovider = \"docker\"\ncontainer = \"c\"\n"
        );
        let e = plan(&settings("staging", None, None), &config(&twice), &rc).unwrap_err();
        assert!(crate::exit::render(&e).contains("`beta` is used twice"));
    }
}
