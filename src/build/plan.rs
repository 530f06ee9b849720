//! The plan: a pure function from the [`Settings`] and what was observed of the daemon to what the
//! build will do and why — the references it makes, the builder, the cache sources, the push. `--dry-run`
//! prints it; the unit tests below assert it without Docker or the network.

use super::session::{secrets, ssh};
use super::settings::{BuilderChoice, Settings};
use super::tags;

/// What was observed of the daemon before planning (none in a dry run).
#[derive(Clone, Debug, Default)]
pub struct Observed {
    /// The daemon's OS (`linux`), when it said.
    pub os: Option<String>,
    /// The daemon's API version (`1.41`), when it said.
    pub api_version: Option<String>,
    /// The default cache candidates the daemon holds.
    pub present: Vec<String>,
    /// The cache candidates the daemon lacks, pulled alongside a BuildKit build (BuildKit reads their
    /// cache from the registry meanwhile).
    pub pulling: Vec<String>,
}

/// The builder that runs the build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builder {
    /// BuildKit, through a session with the daemon.
    BuildKit,
    /// The classic builder.
    Classic,
    /// `auto` before the daemon was asked (a dry run): BuildKit when the daemon has it.
    Undecided,
}

impl Builder {
    /// The builder's name in messages and facts.
    pub fn name(self) -> &'static str {
        match self {
            Builder::BuildKit => "buildkit",
            Builder::Classic => "classic",
            Builder::Undecided => "auto",
        }
    }
}

/// Where a push goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushTo {
    /// The registry host (`registry.gitlab.com`, `127.0.0.1:5000`, `docker.io`).
    pub host: String,
    /// The repository's path inside the registry.
    pub path: String,
}

/// What the build will do, and why.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The settings it came from.
    pub settings: Settings,
    /// `repo:tag` for every tag; the first is built, the others added.
    pub refs: Vec<String>,
    /// The builder.
    pub builder: Builder,
    /// Why that builder.
    pub builder_why: String,
    /// The images used as build cache.
    pub cache_from: Vec<String>,
    /// Where the tags are pushed (`--push`).
    pub push: Option<PushTo>,
    /// Warnings to print before building.
    pub warnings: Vec<String>,
    /// What this daemon cannot do that the settings ask for: the build is refused (exit 2) saying so.
    pub refusals: Vec<String>,
}

/// The tags that pointed at the previous release and serve as cache by default: `latest`, a prerelease
/// channel, or the branch slug — the moving tags among this build's.
pub fn default_cache_refs(repo: &str, tags: &[String]) -> Vec<String> {
    let moving: Vec<&String> = tags
        .iter()
        .filter(|t| !t.starts_with("sha-") && !t.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect();
    moving.iter().map(|t| format!("{repo}:{t}")).collect()
}

/// True when the daemon's API version is at least `min`.
fn api_at_least(api: Option<&str>, min: (u32, u32)) -> bool {
    api.and_then(|a| a.split_once('.'))
        .and_then(|(m, n)| Some((m.parse::<u32>().ok()?, n.parse::<u32>().ok()?)))
        .is_some_and(|v| v >= min)
}

/// The builder for `choice` on the observed daemon, and why.
pub fn choose_builder(choice: BuilderChoice, observed: Option<&Observed>) -> (Builder, String) {
    match (choice, observed) {
        (BuilderChoice::Classic, _) => (Builder::Classic, "--builder classic".into()),
        (BuilderChoice::Buildkit, _) => (Builder::BuildKit, "--builder buildkit".into()),
        (BuilderChoice::Auto, None) => (
            Builder::Undecided,
            "auto: BuildKit when the daemon is Linux with API 1.39 or later".into(),
        ),
        (BuilderChoice::Auto, Some(o)) => {
            let linux =
                o.os.as_deref()
                    .is_none_or(|s| s.eq_ignore_ascii_case("linux"));
            let api = o.api_version.as_deref().unwrap_or("unknown");
            if linux && api_at_least(o.api_version.as_deref(), (1, 39)) {
                (
                    Builder::BuildKit,
                    format!("auto: the daemon speaks API {api}"),
                )
            } else {
                (
                    Builder::Classic,
                    format!(
                        "auto: the daemon ({}, API {api}) has no BuildKit",
                        o.os.as_deref().unwrap_or("unknown OS")
                    ),
                )
            }
        }
    }
}

/// The cache sources: none with `--no-cache` (nothing would be reused, so nothing is fetched), the
/// given ones, else the previous release's moving tags the daemon holds or that are pulled alongside
/// the build (all candidates in a dry run, where the daemon was not asked).
pub fn choose_cache(settings: &Settings, observed: Option<&Observed>) -> Vec<String> {
    if settings.no_cache {
        return Vec::new();
    }
    if !settings.cache_from.is_empty() {
        return settings.cache_from.clone();
    }
    let candidates = default_cache_refs(&settings.repo, &settings.tags);
    match observed {
        Some(o) => candidates
            .into_iter()
            .filter(|c| o.present.contains(c) || o.pulling.contains(c))
            .collect(),
        None => candidates,
    }
}

/// Plans the build from the settings and what was observed of the daemon.
pub fn plan(settings: Settings, observed: Option<&Observed>) -> Plan {
    let refs = settings
        .tags
        .iter()
        .map(|t| format!("{}:{t}", settings.repo))
        .collect();
    let (builder, builder_why) = choose_builder(settings.builder, observed);
    let cache_from = choose_cache(&settings, observed);
    let push = settings.push.then(|| PushTo {
        host: tags::registry_of(&settings.repo),
        path: tags::path_in_registry(&settings.repo),
    });
    let warnings = Vec::new();
    let refusals = refusals(&settings, builder, observed);
    Plan {
        settings,
        refs,
        builder,
        builder_why,
        cache_from,
        push,
        warnings,
        refusals,
    }
}

/// The settings this daemon's builder cannot honour (only known once the daemon was asked).
fn refusals(settings: &Settings, builder: Builder, observed: Option<&Observed>) -> Vec<String> {
    let mut out = Vec::new();
    if builder == Builder::Classic {
        let mut needs = Vec::new();
        if let Some(s) = settings.secrets.first() {
            needs.push(format!("--secret id={}", s.id));
        }
        if let Some(s) = settings.ssh.first() {
            needs.push(format!("--ssh {}", s.id));
        }
        if !needs.is_empty() {
            out.push(format!(
                "{}: the classic builder has no build secrets or SSH forwarding (only BuildKit's session serves them) — use --builder buildkit (or auto on a daemon with BuildKit), or drop the flag",
                needs.join(" and ")
            ));
        }
    }
    let api = observed.and_then(|o| o.api_version.as_deref());
    if builder == Builder::BuildKit
        && settings.shm_size.is_some()
        && observed.is_some()
        && !api_at_least(api, (1, 42))
    {
        out.push(format!(
            "--shm-size: BuildKit on this daemon (API {}) ignores it; Docker 23 (API 1.42) is the first to pass it on — use --builder classic, or a newer daemon",
            api.unwrap_or("unknown")
        ));
    }
    out
}

impl Plan {
    /// Refuses the build (exit 2) when the daemon cannot do what the settings ask.
    pub fn check(&self) -> anyhow::Result<()> {
        match self.refusals.first() {
            Some(r) => Err(crate::exit::coded(crate::exit::ExitCode::Usage, r.clone())),
            None => Ok(()),
        }
    }

    /// The reference that is built (`repo:first-tag`).
    pub fn image(&self) -> &str {
        &self.refs[0]
    }

    /// The plan as lines for `--dry-run`: what will be done and why.
    pub fn describe(&self) -> Vec<String> {
        let s = &self.settings;
        let mut out = vec![
            format!(
                "would build {} (Dockerfile {}, builder {:?})",
                self.refs.join(", "),
                s.dockerfile_outside
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| s.dockerfile.clone()),
                s.builder
            ),
            format!("  context: {}", s.context.display()),
            format!("  builder: {} ({})", self.builder.name(), self.builder_why),
        ];
        if !self.cache_from.is_empty() {
            let when = if s.cache_from.is_empty() {
                " (the previous release's tags, when the daemon holds them)"
            } else {
                ""
            };
            out.push(format!(
                "  cache from: {}{when}",
                self.cache_from.join(", ")
            ));
        }
        if let Some(p) = &self.push {
            out.push(format!("  push: every tag to {} ({})", p.host, p.path));
            out.push(if self.settings.scan_image {
                "  scan the image for secrets before pushing: a finding refuses the push".into()
            } else {
                "  image scan before push: off ([build] scan_image = false / --no-scan-image)"
                    .into()
            });
        }
        if let Some(d) = &s.dotenv {
            out.push(format!("  dotenv: {}", d.display()));
        }
        out.extend(s.secrets.iter().map(describe_secret));
        out.extend(s.ssh.iter().map(describe_ssh));
        out.extend(self.warnings.iter().map(|w| format!("  warning: {w}")));
        out
    }
}

/// One `--secret` as the plan shows it: its ID and where the value would be read — never the value
/// (nothing is read to describe it).
fn describe_secret(spec: &secrets::Spec) -> String {
    let from = match &spec.source {
        secrets::Source::Env(var) => format!("env {var}"),
        secrets::Source::File(path) => format!("file {}", path.display()),
    };
    format!("  secret {}: {from}", spec.id)
}

/// One `--ssh` as the plan shows it: its ID and what is forwarded (an agent socket, or key files loaded
/// into a private agent — their paths, never their contents).
fn describe_ssh(spec: &ssh::Spec) -> String {
    let what = match &spec.source {
        ssh::Source::Agent(socket) => format!("agent socket {}", socket.display()),
        ssh::Source::Keys(keys) => {
            let paths: Vec<String> = keys.iter().map(|k| k.display().to_string()).collect();
            format!(
                "{} key file(s) into a private agent ({})",
                keys.len(),
                paths.join(", ")
            )
        }
    };
    format!("  ssh {}: {what}", spec.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::{BuildArgs, BuildConfig};
    use crate::ci::Context;

    fn settings(dir: &std::path::Path, args: impl FnOnce(&mut BuildArgs)) -> Settings {
        std::fs::write(dir.join("Dockerfile"), "FROM scratch\n").unwrap();
        let mut a = BuildArgs::default();
        a.options.context = Some(dir.to_path_buf());
        args(&mut a);
        let ctx = Context {
            commit_tag: Some("v1.4.2".into()),
            project_name: "app".into(),
            ..Default::default()
        };
        super::super::settings::resolve(&ctx, &BuildConfig::default(), &a).unwrap()
    }

    #[test]
    fn default_cache_is_the_moving_tags() {
        let t: Vec<String> = ["1.4.2", "1.4", "1", "latest"].map(String::from).to_vec();
        assert_eq!(default_cache_refs("r/app", &t), ["r/app:latest"]);
        let t: Vec<String> = ["main", "sha-0123"].map(String::from).to_vec();
        assert_eq!(default_cache_refs("r/app", &t), ["r/app:main"]);
    }

    #[test]
    fn auto_picks_buildkit_on_a_recent_linux_daemon() {
        let o = |os: &str, api: &str| Observed {
            os: Some(os.into()),
            api_version: Some(api.into()),
            ..Default::default()
        };
        let b = |o: Option<&Observed>| choose_builder(BuilderChoice::Auto, o).0;
        assert_eq!(b(Some(&o("linux", "1.41"))), Builder::BuildKit);
        assert_eq!(b(Some(&o("linux", "1.38"))), Builder::Classic);
        assert_eq!(b(Some(&o("windows", "1.41"))), Builder::Classic);
        assert_eq!(b(None), Builder::Undecided);
        let forced = choose_builder(BuilderChoice::Classic, Some(&o("linux", "1.41")));
        assert_eq!(forced.0, Builder::Classic);
    }

    #[test]
    fn plan_names_refs_cache_and_push() {
        let d = tempfile::tempdir().unwrap();
        let s = settings(d.path(), |a| {
            a.image = Some("127.0.0.1:5000/acme/app".into());
            a.push = true;
        });
        let observed = Observed {
            present: vec!["127.0.0.1:5000/acme/app:latest".into()],
            ..Default::default()
        };
        let p = plan(s.clone(), Some(&observed));
        assert_eq!(p.image(), "127.0.0.1:5000/acme/app:1.4.2");
        assert_eq!(p.refs.len(), 4);
        assert_eq!(p.cache_from, ["127.0.0.1:5000/acme/app:latest"]);
        assert_eq!(
            p.push,
            Some(PushTo {
                host: "127.0.0.1:5000".into(),
                path: "acme/app".into()
            })
        );
        // Nothing present: no cache; a dry run lists the candidates.
        assert!(
            plan(s.clone(), Some(&Observed::default()))
                .cache_from
                .is_empty()
        );
        // Pulled alongside a BuildKit build: a cache source all the same.
        let pulling = Observed {
            pulling: vec!["127.0.0.1:5000/acme/app:latest".into()],
            ..Default::default()
        };
        assert_eq!(
            plan(s.clone(), Some(&pulling)).cache_from,
            ["127.0.0.1:5000/acme/app:latest"]
        );
        let dry = plan(s, None);
        assert_eq!(dry.cache_from, ["127.0.0.1:5000/acme/app:latest"]);
        let text = dry.describe().join("\n");
        assert!(
            text.contains("would build 127.0.0.1:5000/acme/app:1.4.2"),
            "{text}"
        );
        assert!(text.contains("push: every tag to 127.0.0.1:5000"), "{text}");
        assert!(
            text.contains("scan the image for secrets before pushing"),
            "{text}"
        );
    }

    #[test]
    fn shm_size_is_refused_where_buildkit_would_ignore_it() {
        let d = tempfile::tempdir().unwrap();
        let s = settings(d.path(), |a| a.options.shm_size = Some("96m".into()));
        let daemon = |api: &str| Observed {
            os: Some("linux".into()),
            api_version: Some(api.into()),
            ..Default::default()
        };
        assert!(plan(s.clone(), Some(&daemon("1.41"))).check().is_err());
        assert!(plan(s.clone(), Some(&daemon("1.43"))).check().is_ok());
        let mut classic = s.clone();
        classic.builder = BuilderChoice::Classic;
        assert!(plan(classic, Some(&daemon("1.41"))).check().is_ok());
        assert!(plan(s, None).check().is_ok(), "a dry run cannot know");
    }

    #[test]
    fn given_cache_sources_are_used_as_they_are() {
        let d = tempfile::tempdir().unwrap();
        let s = settings(d.path(), |a| a.cache_from = vec!["other/img:x".into()]);
        assert_eq!(
            plan(s, Some(&Observed::default())).cache_from,
            ["other/img:x"]
        );
    }

    #[test]
    fn no_cache_imports_no_cache_source() {
        let d = tempfile::tempdir().unwrap();
        let mut s = settings(d.path(), |a| a.cache_from = vec!["other/img:x".into()]);
        s.no_cache = true;
        let present = Observed {
            present: default_cache_refs(&s.repo, &s.tags),
            ..Observed::default()
        };
        assert!(plan(s.clone(), Some(&present)).cache_from.is_empty());
        s.cache_from.clear();
        assert!(plan(s, Some(&present)).cache_from.is_empty());
    }

    #[test]
    fn plan_names_secrets_and_ssh_by_id_and_source_only() {
        let d = tempfile::tempdir().unwrap();
        let mut s = settings(d.path(), |_| {});
        let secret = |id: &str, source| secrets::Spec {
            id: id.into(),
            source,
        };
        let forward = |id: &str, source| ssh::Spec {
            id: id.into(),
            source,
        };
        s.secrets = vec![
            secret("tok", secrets::Source::Env("NPM_TOKEN".into())),
            secret("cfg", secrets::Source::File("conf/creds.ini".into())),
        ];
        s.ssh = vec![
            forward("default", ssh::Source::Agent("/run/agent.sock".into())),
            forward(
                "deploy",
                ssh::Source::Keys(vec!["keys/a".into(), "keys/b".into()]),
            ),
        ];
        let text = plan(s, None).describe();
        for line in [
            "  secret tok: env NPM_TOKEN",
            "  secret cfg: file conf/creds.ini",
            "  ssh default: agent socket /run/agent.sock",
            "  ssh deploy: 2 key file(s) into a private agent (keys/a, keys/b)",
        ] {
            assert!(text.iter().any(|l| l == line), "{line:?} in {text:#?}");
        }
    }
}
