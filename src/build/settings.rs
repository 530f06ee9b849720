//! Settings: the flags, the environment and the `[build]` table resolved once into a plain value —
//! the context directory, the Dockerfile, build arguments, labels, the repository and its tags. Errors
//! name the flag (or `file:line:key`, from the config loader) and the fix; exit 2.

use super::dockerignore::Matcher;
use super::session::{secrets, ssh};
use super::{BuildArgs, BuildConfig, tags};
use crate::ci::Context;
use crate::exit::{ExitCode, coded};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Which builder runs the build.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuilderChoice {
    /// BuildKit when the daemon supports it, else the classic builder.
    #[default]
    Auto,
    /// BuildKit (through a session with the daemon).
    Buildkit,
    /// The classic builder.
    Classic,
}

/// How the build output is shown (`--progress`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ProgressMode {
    /// `tty` on a terminal outside CI, else `plain`.
    #[default]
    Auto,
    /// Every line of the build output in the log.
    Plain,
    /// A live status line; each step's name kept, a failing step's output printed.
    Tty,
    /// No build output (errors still name the failing step with its output).
    Quiet,
}

/// A duration written for people: `90s`, `30m`, `2h`, or a number of seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout(pub Duration);

impl std::str::FromStr for Timeout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || format!("{s:?} is not a duration: use e.g. 90s, 30m or 2h");
        let (num, mult) = match t.char_indices().last() {
            Some((i, 's')) => (&t[..i], 1),
            Some((i, 'm')) => (&t[..i], 60),
            Some((i, 'h')) => (&t[..i], 3600),
            _ => (t, 1),
        };
        let n: u64 = num.trim().parse().map_err(|_| bad())?;
        if n == 0 {
            return Err(bad());
        }
        Ok(Timeout(Duration::from_secs(n * mult)))
    }
}

impl<'de> serde::Deserialize<'de> for Timeout {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::units::from_str(d)
    }
}

/// The default `--timeout`: one hour, enough to upload a large context to a slow daemon.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);

/// Everything the user asked for, resolved (flags > environment > `[build]` > defaults).
#[derive(Clone, Debug)]
pub struct Settings {
    /// The context directory (absolute).
    pub context: PathBuf,
    /// The Dockerfile's path inside the context, `/`-separated; for one from outside the context (or
    /// stdin), the generated name it has in the classic builder's tar.
    pub dockerfile: String,
    /// A Dockerfile outside the context (or read from stdin): its absolute path.
    pub dockerfile_outside: Option<PathBuf>,
    /// The compiled `.dockerignore`, as the classic builder's tar applies it (the Dockerfile and
    /// `.dockerignore` forced in, as the docker CLI sends them).
    pub matcher: Matcher,
    /// What a BuildKit session sends: `<Dockerfile>.dockerignore` next to the Dockerfile when there is
    /// one, else `.dockerignore`; nothing forced in.
    pub session_matcher: Matcher,
    /// The repository, lower-cased.
    pub repo: String,
    /// The tags, the first one built and the others added.
    pub tags: Vec<String>,
    /// Build arguments.
    pub build_args: BTreeMap<String, String>,
    /// Labels (OCI ones from the CI context, `stevedore.project`, then configured and given ones).
    pub labels: BTreeMap<String, String>,
    /// `--target`.
    pub target: Option<String>,
    /// `--platform`.
    pub platform: Option<String>,
    /// `--cache-from`, when given; else the defaults are found at build time.
    pub cache_from: Vec<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// Builder choice.
    pub builder: BuilderChoice,
    /// Request timeout.
    pub timeout: Duration,
    /// `--push`.
    pub push: bool,
    /// `--dotenv`.
    pub dotenv: Option<PathBuf>,
    /// `--json`.
    pub json: bool,
    /// Scan the built image for secrets before pushing (`[build] scan_image`, `--no-scan-image`).
    pub scan_image: bool,
    /// `--pull`.
    pub pull: bool,
    /// `--network`.
    pub network: Option<String>,
    /// `--add-host`, as `HOST:IP`.
    pub extra_hosts: Vec<String>,
    /// `--shm-size`, bytes.
    pub shm_size: Option<u64>,
    /// `--iidfile`.
    pub iidfile: Option<PathBuf>,
    /// `--progress`.
    pub progress: ProgressMode,
    /// `--secret` and `[build] secrets`: IDs and sources, never values.
    pub secrets: Vec<secrets::Spec>,
    /// `--ssh`: agent sockets or key files, by ID.
    pub ssh: Vec<ssh::Spec>,
}

impl Settings {
    /// Where the Dockerfile is on this machine.
    pub fn dockerfile_path(&self) -> PathBuf {
        self.dockerfile_outside
            .clone()
            .unwrap_or_else(|| self.context.join(&self.dockerfile))
    }

    /// Removes the copy of a Dockerfile read from stdin (best effort).
    pub fn remove_stdin_copy(&self) {
        if let Some(dir) = self.dockerfile_outside.as_ref().and_then(|p| p.parent())
            && dir.starts_with(std::env::temp_dir())
            && dir
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(STDIN_DIR_PREFIX))
        {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn usage(msg: String) -> anyhow::Error {
    coded(ExitCode::Usage, msg)
}

/// Splits `K=V`; a bare `K` takes its value from the environment (skipped with `None` when unset).
fn key_value(raw: &str, flag: &str, env: bool) -> anyhow::Result<Option<(String, String)>> {
    match raw.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok(Some((k.trim().to_string(), v.to_string()))),
        Some(_) => Err(usage(format!(
            "{flag} {raw:?} has no name before `=` — write {flag} NAME=value"
        ))),
        None if env && !raw.trim().is_empty() => Ok(std::env::var(raw.trim())
            .ok()
            .map(|v| (raw.trim().to_string(), v))),
        // `docker build --label KEY` gives the label an empty value.
        None if flag == "--label" && !raw.trim().is_empty() => {
            Ok(Some((raw.trim().to_string(), String::new())))
        }
        None => Err(usage(format!("{flag} {raw:?} is not NAME=value"))),
    }
}

/// The name a Dockerfile from outside the context (or stdin) gets in the classic builder's tar, as the
/// docker CLI names it: `.dockerfile.` and 20 hex digits.
fn generated_name() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mut h = crc32fast::Hasher::new();
    h.update(&nanos.to_le_bytes());
    h.update(&std::process::id().to_le_bytes());
    format!(
        ".dockerfile.{:08x}{:012x}",
        h.finalize(),
        nanos & 0xffff_ffff_ffff
    )
}

/// The Dockerfile, by Docker's rule: `file` is relative to `base` (the working directory for `-f`, the
/// context for `[build] file` and the default `Dockerfile`). Inside the context: its path there, `/`-
/// separated. Outside: a generated name and its absolute path — it is sent beside the context, as the
/// docker CLI sends it.
fn dockerfile_in(
    context: &Path,
    base: &Path,
    file: &str,
) -> anyhow::Result<(String, Option<PathBuf>)> {
    let candidate = base.join(file);
    let abs = candidate.canonicalize().map_err(|e| {
        usage(format!(
            "Dockerfile {} not found ({e}) — pass --file with its path (relative to the working directory), or put a Dockerfile at the context's root",
            candidate.display()
        ))
    })?;
    if !abs.is_file() {
        return Err(usage(format!(
            "Dockerfile {} is not a file — pass --file with the Dockerfile's path",
            abs.display()
        )));
    }
    match abs.strip_prefix(context) {
        Ok(rel) => Ok((rel.to_string_lossy().replace('\\', "/"), None)),
        Err(_) => Ok((generated_name(), Some(abs))),
    }
}

/// `-f -`: the Dockerfile read from stdin, written to a directory of its own (removed after the build)
/// and sent beside the context as any Dockerfile from outside it.
fn dockerfile_from_stdin() -> anyhow::Result<(String, Option<PathBuf>)> {
    use std::io::Read;
    let mut text = Vec::new();
    std::io::stdin()
        .read_to_end(&mut text)
        .map_err(|e| usage(format!("-f -: cannot read the Dockerfile from stdin ({e})")))?;
    if text.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(usage(
            "-f -: stdin is empty — pipe the Dockerfile in (`stevedore build -f - . < Dockerfile`)"
                .into(),
        ));
    }
    let dir = std::env::temp_dir().join(format!(
        "{STDIN_DIR_PREFIX}{}{}",
        std::process::id(),
        generated_name()
    ));
    let path = dir.join("Dockerfile");
    std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(&path, &text))
        .map_err(|e| {
            usage(format!(
                "-f -: cannot keep the Dockerfile in {}: {e}",
                dir.display()
            ))
        })?;
    Ok((generated_name(), Some(path)))
}

/// The prefix of the directory a Dockerfile from stdin is kept in during the build.
pub const STDIN_DIR_PREFIX: &str = "stevedore-stdin-dockerfile-";

/// The Dockerfile, by Docker's rule: `-f PATH` relative to the working directory (`-f -`: stdin); else
/// `[build] file` or `Dockerfile`, relative to the context.
fn dockerfile(
    context: &Path,
    cfg: &BuildConfig,
    args: &BuildArgs,
) -> anyhow::Result<(String, Option<PathBuf>)> {
    match args.file.as_deref() {
        Some("-") => dockerfile_from_stdin(),
        Some(f) => {
            let cwd = std::env::current_dir().map_err(|e| {
                usage(format!(
                    "cannot read the working directory ({e}) — run from an existing directory"
                ))
            })?;
            dockerfile_in(context, &cwd, f)
        }
        None => dockerfile_in(
            context,
            context,
            cfg.file.as_deref().unwrap_or("Dockerfile"),
        ),
    }
}

/// The OCI labels filled from the CI context, plus `stevedore.project`.
pub fn oci_labels(ctx: &Context, tags: &[String], now: &str) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    let mut set = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            l.insert(k.to_string(), v);
        }
    };
    set("org.opencontainers.image.created", Some(now.to_string()));
    set("org.opencontainers.image.revision", ctx.commit_sha.clone());
    set("org.opencontainers.image.source", ctx.project_url.clone());
    set("org.opencontainers.image.url", ctx.project_url.clone());
    set(
        "org.opencontainers.image.version",
        tags::version_of(ctx).or_else(|| ctx.commit_ref_name.clone()),
    );
    set(
        "org.opencontainers.image.title",
        Some(ctx.project_name.clone()),
    );
    set("org.opencontainers.image.ref.name", tags.first().cloned());
    set(
        "stevedore.project",
        ctx.project_path
            .clone()
            .or_else(|| Some(ctx.project_name.clone())),
    );
    l
}

/// The context directory (absolute): CONTEXT, default the working directory.
fn context_dir(args: &BuildArgs) -> anyhow::Result<PathBuf> {
    let ctx_arg = args.context.clone().unwrap_or_else(|| PathBuf::from("."));
    let context = ctx_arg.canonicalize().map_err(|e| {
        usage(format!(
            "build context {} not found ({e}) — pass an existing directory as CONTEXT",
            ctx_arg.display()
        ))
    })?;
    if !context.is_dir() {
        return Err(usage(format!(
            "build context {} is not a directory",
            context.display()
        )));
    }
    Ok(context)
}

/// The `.dockerignore` of the context, compiled (stevedore's own run summary always left out), and
/// the context checked as the docker CLI checks it before sending (see [`super::context::check`]).
fn ignore_matcher(context: &Path, dockerfile: &str) -> anyhow::Result<Matcher> {
    let ignore_path = context.join(".dockerignore");
    let ignore_text = match std::fs::read(&ignore_path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => {
            return Err(usage(format!("cannot read {}: {e}", ignore_path.display())));
        }
    };
    // stevedore's own output (run summary, reports) changes every run; sending it would defeat the build
    // cache.
    let matcher = Matcher::for_context(&ignore_text, dockerfile, &[crate::summary::DIR])
        .map_err(|e| usage(format!("{}: {e}", ignore_path.display())))?;
    super::context::check(context, &matcher, dockerfile).map_err(usage)?;
    Ok(matcher)
}

/// The ignore file BuildKit applies for the Dockerfile at `dockerfile`: `<Dockerfile>.dockerignore`
/// beside it when it exists (BuildKit's rule: it replaces `.dockerignore` for that Dockerfile), else
/// the context's `.dockerignore`.
pub fn session_ignore_file(context: &Path, dockerfile: &Path) -> PathBuf {
    let mut own = dockerfile.as_os_str().to_os_string();
    own.push(".dockerignore");
    let own = PathBuf::from(own);
    if own.is_file() {
        own
    } else {
        context.join(".dockerignore")
    }
}

fn session_matcher(context: &Path, dockerfile: &Path) -> anyhow::Result<Matcher> {
    let path = session_ignore_file(context, dockerfile);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(usage(format!("cannot read {}: {e}", path.display()))),
    };
    Matcher::for_session(&text, &[crate::summary::DIR])
        .map_err(|e| usage(format!("{}: {e}", path.display())))
}

/// The repository and its tags: `-t NAME:TAG` sets both (every full reference must name the same
/// repository, and agree with `--image`); a bare `-t TAG` is a tag of the image named by `--image`,
/// `[build] image` or `$CI_REGISTRY_IMAGE` — without one it is ambiguous (`docker build` reads it as an
/// image) and refused. Without `-t`, the tags come from the version or the branch.
fn repository_and_tags(
    ctx: &Context,
    cfg: &BuildConfig,
    args: &BuildArgs,
) -> anyhow::Result<(String, Vec<String>)> {
    let named = args
        .image
        .clone()
        .or_else(|| cfg.image.clone())
        .or_else(|| ctx.registry_image.clone());
    let given = tags::parse_tag_flags(&args.tag, named.is_some())?;
    let repo = match (&given.repository, &args.image) {
        (Some(r), Some(i)) if tags::normalize_repository(i)? != *r => {
            return Err(usage(format!(
                "-t names the repository {r} but --image names {i} — give one of them (stevedore builds one repository)"
            )));
        }
        (Some(r), _) => r.clone(),
        (None, _) => tags::normalize_repository(
            &named.unwrap_or_else(|| tags::repository_from_name(&ctx.project_name)),
        )?,
    };
    let tags = if given.tags.is_empty() {
        tags::tags_for(ctx, &[], cfg.latest.unwrap_or(true))
    } else {
        given.tags
    };
    Ok((repo, tags))
}

/// `--add-host HOST:IP` (or `HOST=IP`) as the API takes it (`HOST:IP`); the IP may be `host-gateway`.
fn extra_host(raw: &str) -> anyhow::Result<String> {
    let bad = || {
        usage(format!(
            "--add-host {raw:?} is not HOST:IP — write e.g. --add-host db.local:10.0.0.5 (or host-gateway as the IP)"
        ))
    };
    let (host, ip) = raw
        .split_once('=')
        .or_else(|| raw.split_once(':'))
        .ok_or_else(bad)?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || (ip != "host-gateway" && ip.parse::<std::net::IpAddr>().is_err()) {
        return Err(bad());
    }
    Ok(format!("{host}:{ip}"))
}

/// `--shm-size` as `docker build` reads it: a number with an optional `b`, `k`, `m`, `g` (binary
/// units, as Docker's RAMInBytes), at most what the API's 32-bit field holds.
fn shm_size(raw: &str) -> anyhow::Result<u64> {
    let bad = |why: &str| usage(format!("--shm-size {raw:?} {why} — write e.g. 64m or 1g"));
    let t = raw.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').filter(|x| !x.is_empty()).unwrap_or(&t);
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad("is not a size")),
    };
    let n: f64 = num.parse().map_err(|_| bad("is not a size"))?;
    let bytes = (n * mult) as u64;
    if bytes == 0 || bytes > i32::MAX as u64 {
        return Err(bad("must be more than 0 and under 2g"));
    }
    Ok(bytes)
}

/// Splits buildx's `key=value,…` cache syntax; a plain value is `ref`.
fn cache_fields(raw: &str) -> BTreeMap<String, String> {
    if !raw.contains('=') {
        return BTreeMap::from([("ref".to_string(), raw.to_string())]);
    }
    raw.split(',')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// A `--cache-from`: `IMAGE` or `type=registry,ref=IMAGE`. Other buildx types need a BuildKit
/// client the daemon's `/build` API does not offer: refused, saying so.
fn cache_source(raw: &str) -> anyhow::Result<String> {
    let f = cache_fields(raw);
    match (f.get("type").map(String::as_str), f.get("ref")) {
        (None | Some("registry"), Some(r)) if !r.is_empty() => Ok(r.clone()),
        (Some(t), _) if t != "registry" => Err(usage(format!(
            "--cache-from {raw:?}: type={t} needs buildx; the Docker daemon's build API takes images only — write --cache-from type=registry,ref=IMAGE (or IMAGE)"
        ))),
        _ => Err(usage(format!(
            "--cache-from {raw:?} names no image — write --cache-from type=registry,ref=IMAGE"
        ))),
    }
}

/// A `--cache-to`: only `type=inline` (what stevedore does anyway with BuildKit); a registry or local
/// export needs buildx, which the daemon's build API does not offer.
fn cache_to(raw: &str) -> anyhow::Result<()> {
    match cache_fields(raw).get("type").map(String::as_str) {
        Some("inline") => Ok(()),
        t => Err(usage(format!(
            "--cache-to {raw:?}: {} cannot be exported through the Docker daemon's build API (that needs buildx) — stevedore writes inline cache into the image with BuildKit, so push it and use --cache-from type=registry,ref=IMAGE",
            t.map(|t| format!("type={t}"))
                .unwrap_or_else(|| "this cache".into())
        ))),
    }
}

/// Resolves the settings from flags > environment > `[build]` > defaults.
pub fn resolve(ctx: &Context, cfg: &BuildConfig, args: &BuildArgs) -> anyhow::Result<Settings> {
    let context = context_dir(args)?;
    let (dockerfile, dockerfile_outside) = dockerfile(&context, cfg, args)?;
    let matcher = ignore_matcher(&context, &dockerfile)?;
    let real = dockerfile_outside
        .clone()
        .unwrap_or_else(|| context.join(&dockerfile));
    let session_matcher = session_matcher(&context, &real)?;

    let (repo, tags) = repository_and_tags(ctx, cfg, args)?;

    let mut build_args = cfg.build_args.clone();
    for a in &args.build_arg {
        if let Some((k, v)) = key_value(a, "--build-arg", true)? {
            build_args.insert(k, v);
        }
    }
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut labels = oci_labels(ctx, &tags, &now);
    labels.extend(cfg.labels.clone());
    for a in &args.label {
        if let Some((k, v)) = key_value(a, "--label", false)? {
            labels.insert(k, v);
        }
    }
    let cache_from = if !args.cache_from.is_empty() {
        &args.cache_from
    } else {
        &cfg.cache_from
    };
    let cache_from = cache_from
        .iter()
        .map(|c| cache_source(c))
        .collect::<anyhow::Result<Vec<_>>>()?;
    args.cache_to.iter().try_for_each(|c| cache_to(c))?;
    let (secrets, ssh) = session_specs(cfg, args)?;
    Ok(Settings {
        context,
        dockerfile,
        dockerfile_outside,
        matcher,
        session_matcher,
        repo,
        tags,
        build_args,
        labels,
        target: args.target.clone().or_else(|| cfg.target.clone()),
        platform: args.platform.clone().or_else(|| cfg.platform.clone()),
        cache_from,
        no_cache: args.no_cache,
        builder: args.builder.or(cfg.builder).unwrap_or_default(),
        timeout: args
            .timeout
            .or(cfg.timeout)
            .map(|t| t.0)
            .unwrap_or(DEFAULT_TIMEOUT),
        push: args.push,
        dotenv: args.dotenv.clone(),
        json: args.json,
        scan_image: !args.no_scan_image && cfg.scan_image.unwrap_or(true),
        pull: args.pull,
        network: args.network.clone().filter(|n| !n.is_empty()),
        extra_hosts: args
            .add_host
            .iter()
            .map(|h| extra_host(h))
            .collect::<anyhow::Result<_>>()?,
        shm_size: args.shm_size.as_deref().map(shm_size).transpose()?,
        iidfile: args.iidfile.clone(),
        progress: args.progress,
        secrets,
        ssh,
    })
}

/// The `--secret`s (after `[build] secrets`; a flag with the same ID wins) and the `--ssh` agents.
fn session_specs(
    cfg: &BuildConfig,
    args: &BuildArgs,
) -> anyhow::Result<(Vec<secrets::Spec>, Vec<ssh::Spec>)> {
    let mut out: Vec<secrets::Spec> = Vec::new();
    let given = cfg.secrets.iter().map(|s| (s, "[build] secrets"));
    for (raw, from) in given.chain(args.secret.iter().map(|s| (s, "--secret"))) {
        let spec = secrets::parse(raw, from)?;
        out.retain(|o| o.id != spec.id);
        out.push(spec);
    }
    let sock = std::env::var("SSH_AUTH_SOCK").ok();
    let ssh = args
        .ssh
        .iter()
        .map(|s| ssh::parse(s, sock.as_deref()))
        .collect::<anyhow::Result<_>>()?;
    Ok((out, ssh))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!("90s".parse::<Timeout>().unwrap().0, Duration::from_secs(90));
        assert_eq!(
            "30m".parse::<Timeout>().unwrap().0,
            Duration::from_secs(1800)
        );
        assert_eq!(
            "2h".parse::<Timeout>().unwrap().0,
            Duration::from_secs(7200)
        );
        assert_eq!("45".parse::<Timeout>().unwrap().0, Duration::from_secs(45));
        assert!("0".parse::<Timeout>().is_err());
        assert!("soon".parse::<Timeout>().is_err());
    }

    #[test]
    fn key_values() {
        assert_eq!(
            key_value("A=b=c", "--build-arg", true).unwrap(),
            Some(("A".into(), "b=c".into()))
        );
        assert!(key_value("=x", "--label", false).is_err());
        assert_eq!(
            key_value("NOVALUE", "--label", false).unwrap(),
            Some(("NOVALUE".into(), String::new()))
        );
        assert!(key_value("", "--label", false).is_err());
        assert_eq!(
            key_value("STEVEDORE_SURELY_UNSET_VAR", "--build-arg", true).unwrap(),
            None
        );
        let path = std::env::var("PATH").unwrap();
        assert_eq!(
            key_value("PATH", "--build-arg", true).unwrap(),
            Some(("PATH".into(), path))
        );
    }

    #[test]
    fn cache_flags_in_buildx_syntax() {
        assert_eq!(cache_source("r/app:latest").unwrap(), "r/app:latest");
        assert_eq!(
            cache_source("type=registry,ref=127.0.0.1:5000/a:b").unwrap(),
            "127.0.0.1:5000/a:b"
        );
        assert!(cache_source("type=local,src=/tmp/c").is_err());
        assert!(cache_source("type=registry").is_err());
        assert!(cache_to("type=inline").is_ok());
        let e = cache_to("type=registry,ref=r/a:cache").unwrap_err();
        assert!(crate::exit::render(&e).contains("buildx"));
    }

    #[test]
    fn extra_hosts_and_shm_sizes() {
        assert_eq!(extra_host("db:10.0.0.5").unwrap(), "db:10.0.0.5");
        assert_eq!(extra_host("db=::1").unwrap(), "db:::1");
        assert_eq!(extra_host("gw:host-gateway").unwrap(), "gw:host-gateway");
        assert!(extra_host("db").is_err());
        assert!(extra_host("db:not-an-ip").is_err());
        assert_eq!(shm_size("64m").unwrap(), 64 << 20);
        assert_eq!(shm_size("1G").unwrap(), 1 << 30);
        assert_eq!(shm_size("512kb").unwrap(), 512 << 10);
        assert_eq!(shm_size("1000").unwrap(), 1000);
        assert!(shm_size("3g").is_err());
        assert!(shm_size("lots").is_err());
    }

    #[test]
    fn labels_from_context() {
        let ctx = Context {
            commit_sha: Some("abc".into()),
            commit_tag: Some("v1.2.3".into()),
            project_url: Some("https://gitlab.example.com/acme/app".into()),
            project_name: "app".into(),
            project_path: Some("acme/app".into()),
            ..Default::default()
        };
        let l = oci_labels(&ctx, &["1.2.3".into()], "2026-01-01T00:00:00Z");
        assert_eq!(l["org.opencontainers.image.version"], "1.2.3");
        assert_eq!(l["org.opencontainers.image.revision"], "abc");
        assert_eq!(
            l["org.opencontainers.image.source"],
            "https://gitlab.example.com/acme/app"
        );
        assert_eq!(l["org.opencontainers.image.title"], "app");
        assert_eq!(l["org.opencontainers.image.ref.name"], "1.2.3");
        assert_eq!(
            l["org.opencontainers.image.created"],
            "2026-01-01T00:00:00Z"
        );
        assert_eq!(l["stevedore.project"], "acme/app");
    }

    #[test]
    fn a_dockerfile_outside_the_context_is_sent_beside_it() {
        let d = tempfile::tempdir().unwrap();
        let ctx = d.path().join("ctx");
        std::fs::create_dir_all(ctx.join("docker")).unwrap();
        std::fs::write(d.path().join("Dockerfile.outside"), "FROM scratch\n").unwrap();
        std::fs::write(ctx.join("docker/app.Dockerfile"), "FROM scratch\n").unwrap();
        let ctx = ctx.canonicalize().unwrap();
        assert_eq!(
            dockerfile_in(&ctx, &ctx, "docker/app.Dockerfile").unwrap(),
            ("docker/app.Dockerfile".to_string(), None)
        );
        let outside = d.path().join("Dockerfile.outside");
        let (name, path) = dockerfile_in(&ctx, &ctx, outside.to_str().unwrap()).unwrap();
        assert!(
            name.starts_with(".dockerfile.") && name.len() == 32,
            "{name}"
        );
        assert_eq!(path, Some(outside.canonicalize().unwrap()));
        let e = dockerfile_in(&ctx, &ctx, "missing.Dockerfile").unwrap_err();
        assert!(crate::exit::render(&e).contains("not found"));
        assert_eq!(crate::exit::code_of(&e), ExitCode::Usage);
    }
}
