//! The CI context: GitLab's predefined variables in one typed value, built once.
//!
//! In a GitLab job (`CI` set) every field comes from the job's predefined variables. On a laptop (`CI`
//! unset) the same value is filled from the git checkout itself — HEAD, a tag pointing at HEAD, the branch,
//! the `origin` remote — with `protected = false`, so every command reproduces a CI run locally.

use crate::redact;
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Forty zeros: GitLab's value of `CI_COMMIT_BEFORE_SHA` when there is no previous commit.
pub const NULL_SHA: &str = "0000000000000000000000000000000000000000";

/// Everything stevedore knows about the pipeline it runs in (or the checkout it runs on).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Context {
    /// True inside a GitLab CI job (`CI` is set).
    pub ci: bool,
    /// `CI_PROJECT_DIR`, or the top of the git checkout, or the working directory.
    pub project_dir: PathBuf,
    /// `CI_PROJECT_NAME`: the project's short name.
    pub project_name: String,
    /// `CI_PROJECT_PATH`: `group/project`.
    pub project_path: Option<String>,
    /// `CI_PROJECT_URL`: the project's web page.
    pub project_url: Option<String>,
    /// `CI_COMMIT_SHA`: the commit being built.
    pub commit_sha: Option<String>,
    /// `CI_COMMIT_SHORT_SHA`: its first eight characters.
    pub commit_short_sha: Option<String>,
    /// `CI_COMMIT_TAG`: the tag being built, if this is a tag pipeline.
    pub commit_tag: Option<String>,
    /// `CI_COMMIT_TITLE`: the first line of the commit message.
    pub commit_title: Option<String>,
    /// `CI_COMMIT_REF_NAME`: the branch or tag name.
    pub commit_ref_name: Option<String>,
    /// `CI_COMMIT_REF_SLUG`: the ref name lower-cased and cut to 63 characters of `[a-z0-9-]`.
    pub commit_ref_slug: Option<String>,
    /// `CI_COMMIT_REF_PROTECTED`: true only when exactly `"true"`.
    pub commit_ref_protected: bool,
    /// `CI_COMMIT_BEFORE_SHA`, with forty zeros read as none.
    pub commit_before_sha: Option<String>,
    /// `CI_DEFAULT_BRANCH`.
    pub default_branch: Option<String>,
    /// `CI_PIPELINE_ID`.
    pub pipeline_id: Option<String>,
    /// `CI_PIPELINE_URL`.
    pub pipeline_url: Option<String>,
    /// `CI_JOB_ID`.
    pub job_id: Option<String>,
    /// `CI_JOB_NAME`.
    pub job_name: Option<String>,
    /// `CI_JOB_STAGE`.
    pub job_stage: Option<String>,
    /// `CI_JOB_URL`.
    pub job_url: Option<String>,
    /// `CI_JOB_STATUS` (`success`, `failed`, `canceled`; set in `after_script`).
    pub job_status: Option<String>,
    /// `CI_REGISTRY`: the container registry host.
    pub registry: Option<String>,
    /// `CI_REGISTRY_IMAGE`: the project's image repository.
    pub registry_image: Option<String>,
    /// `CI_REGISTRY_USER`.
    pub registry_user: Option<String>,
    /// `CI_REGISTRY_PASSWORD`: never printed; serialized redacted.
    #[serde(serialize_with = "ser_redacted")]
    pub registry_password: Option<String>,
    /// `CI_SERVER_URL`.
    pub server_url: Option<String>,
    /// `GITLAB_USER_LOGIN`: who started the pipeline (locally: git's `user.name`).
    pub user_login: Option<String>,
    /// `CI_ENVIRONMENT_NAME`.
    pub environment_name: Option<String>,
}

fn ser_redacted<S: serde::Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_some(redact::MASK),
        None => s.serialize_none(),
    }
}

impl Context {
    /// Builds the context from the process environment (and git, outside CI).
    pub fn from_env() -> Context {
        let vars: HashMap<String, String> = std::env::vars().collect();
        redact::register_env();
        Context::from_vars(
            &vars,
            &std::env::current_dir().unwrap_or_else(|_| ".".into()),
        )
    }

    /// Builds the context from a set of variables; `cwd` is where to look for a checkout outside CI.
    pub fn from_vars(vars: &HashMap<String, String>, cwd: &Path) -> Context {
        let get = |k: &str| {
            vars.get(k)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let ci = vars.contains_key("CI");
        let mut c = Context {
            ci,
            // A CI_PROJECT_DIR that does not exist here (a local pipeline runner that copies the
            // project elsewhere) falls back to the working directory.
            project_dir: get("CI_PROJECT_DIR")
                .map(PathBuf::from)
                .filter(|p| {
                    let ok = p.is_dir();
                    if !ok {
                        tracing::warn!(
                            "CI_PROJECT_DIR {} does not exist; using {}",
                            p.display(),
                            cwd.display()
                        );
                    }
                    ok
                })
                .unwrap_or_default(),
            project_name: get("CI_PROJECT_NAME").unwrap_or_default(),
            project_path: get("CI_PROJECT_PATH"),
            project_url: get("CI_PROJECT_URL"),
            commit_sha: get("CI_COMMIT_SHA"),
            commit_short_sha: get("CI_COMMIT_SHORT_SHA"),
            commit_tag: get("CI_COMMIT_TAG"),
            commit_title: get("CI_COMMIT_TITLE"),
            commit_ref_name: get("CI_COMMIT_REF_NAME"),
            commit_ref_slug: get("CI_COMMIT_REF_SLUG"),
            commit_ref_protected: vars.get("CI_COMMIT_REF_PROTECTED").map(String::as_str)
                == Some("true"),
            commit_before_sha: get("CI_COMMIT_BEFORE_SHA").filter(|s| s != NULL_SHA),
            default_branch: get("CI_DEFAULT_BRANCH"),
            pipeline_id: get("CI_PIPELINE_ID"),
            pipeline_url: get("CI_PIPELINE_URL"),
            job_id: get("CI_JOB_ID"),
            job_name: get("CI_JOB_NAME"),
            job_stage: get("CI_JOB_STAGE"),
            job_url: get("CI_JOB_URL"),
            job_status: get("CI_JOB_STATUS"),
            registry: get("CI_REGISTRY"),
            registry_image: get("CI_REGISTRY_IMAGE"),
            registry_user: get("CI_REGISTRY_USER"),
            registry_password: get("CI_REGISTRY_PASSWORD"),
            server_url: get("CI_SERVER_URL"),
            user_login: get("GITLAB_USER_LOGIN"),
            environment_name: get("CI_ENVIRONMENT_NAME"),
        };
        if let Some(p) = &c.registry_password {
            redact::register_credential(c.registry_user.as_deref(), p);
        }
        if !ci {
            c.protect_locally();
            c.fill_from_git(cwd);
        }
        if c.project_dir.as_os_str().is_empty() {
            c.project_dir = cwd.to_path_buf();
        }
        if c.project_name.is_empty() {
            c.project_name = c
                .project_dir
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "project".into());
        }
        if c.commit_short_sha.is_none() {
            c.commit_short_sha = c.commit_sha.as_ref().map(|s| s.chars().take(8).collect());
        }
        if c.commit_ref_slug.is_none() {
            c.commit_ref_slug = c.commit_ref_name.as_deref().map(ref_slug);
        }
        c
    }

    /// Outside CI nothing is protected, whatever a stray variable says.
    fn protect_locally(&mut self) {
        self.commit_ref_protected = false;
    }

    /// Fills what the environment left empty from the git checkout at (or above) `cwd`, read
    /// in-process (gix): no `git` subprocess, so a local command starts in milliseconds.
    fn fill_from_git(&mut self, cwd: &Path) {
        let Ok(repo) = gix::discover(cwd) else {
            return;
        };
        let Some(top) = repo
            .workdir()
            .map(|w| w.canonicalize().unwrap_or(w.to_path_buf()))
        else {
            return;
        };
        if self.project_dir.as_os_str().is_empty() {
            self.project_dir = top.clone();
        }
        let head = repo.head_commit().ok();
        if self.commit_sha.is_none() {
            self.commit_sha = head.as_ref().map(|c| c.id.to_string());
        }
        if self.commit_title.is_none() {
            self.commit_title = head
                .as_ref()
                .and_then(|c| c.message().ok())
                .map(|m| m.summary().to_string().trim().to_string())
                .filter(|s| !s.is_empty());
        }
        if self.commit_tag.is_none()
            && let Some(h) = &head
        {
            self.commit_tag = highest_tag_at(&repo, h.id);
        }
        if self.commit_ref_name.is_none() {
            self.commit_ref_name = self.commit_tag.clone().or_else(|| {
                repo.head_name()
                    .ok()
                    .flatten()
                    .map(|n| n.shorten().to_string())
            });
        }
        if self.default_branch.is_none() {
            self.default_branch = repo
                .find_reference("refs/remotes/origin/HEAD")
                .ok()
                .and_then(|r| r.target().try_name().map(|n| n.shorten().to_string()))
                .map(|s| s.trim_start_matches("origin/").to_string());
        }
        if self.project_url.is_none()
            && let Some(url) = repo.find_remote("origin").ok().and_then(|r| {
                r.url(gix::remote::Direction::Fetch)
                    .map(|u| u.to_bstring().to_string())
            })
        {
            self.project_url = Some(web_url(&url));
            if self.project_path.is_none() {
                self.project_path = project_path_of(&web_url(&url));
            }
        }
        if self.project_name.is_empty() {
            self.project_name = top
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
        }
        if self.user_login.is_none() {
            self.user_login = repo
                .config_snapshot()
                .string("user.name")
                .map(|s| s.to_string())
                .filter(|s| !s.is_empty())
                .or_else(|| std::env::var("USER").ok());
        }
    }

    /// The version tag or ref this pipeline is about, for titles: tag, else ref name, else short sha.
    pub fn label(&self) -> String {
        self.commit_tag
            .clone()
            .or_else(|| self.commit_ref_name.clone())
            .or_else(|| self.commit_short_sha.clone())
            .unwrap_or_else(|| "local".into())
    }

    /// Name/value rows for display, credentials redacted.
    pub fn rows(&self) -> Vec<(String, String)> {
        let v = serde_json::to_value(self).unwrap_or_default();
        let mut rows = Vec::new();
        if let serde_json::Value::Object(map) = v {
            for (k, v) in map {
                let s = match v {
                    serde_json::Value::Null => "-".to_string(),
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                rows.push((k, s));
            }
        }
        rows
    }
}

/// GitLab's `CI_COMMIT_REF_SLUG`: lower-cased, anything but `[a-z0-9]` replaced by `-`, at most 63
/// characters, no leading or trailing `-`.
pub fn ref_slug(name: &str) -> String {
    let s: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let s: String = s.chars().take(63).collect();
    s.trim_matches('-').to_string()
}

/// Turns a git remote URL (ssh or https, with or without credentials) into the project's web URL.
pub fn web_url(remote: &str) -> String {
    let r = remote.trim().trim_end_matches(".git");
    if let Some(rest) = r.strip_prefix("git@")
        && let Some((host, path)) = rest.split_once(':')
    {
        return format!("https://{host}/{path}");
    }
    if let Some(rest) = r.strip_prefix("ssh://") {
        let rest = rest.split_once('@').map(|x| x.1).unwrap_or(rest);
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = host.split(':').next().unwrap_or(host);
        return format!("https://{host}/{path}");
    }
    if let Some((scheme, rest)) = r.split_once("://") {
        // Drop any user:password@ part.
        let rest = match rest.split_once('/') {
            Some((auth_host, path)) => {
                let host = auth_host.rsplit_once('@').map(|x| x.1).unwrap_or(auth_host);
                format!("{host}/{path}")
            }
            None => rest
                .rsplit_once('@')
                .map(|x| x.1)
                .unwrap_or(rest)
                .to_string(),
        };
        return format!("{scheme}://{rest}");
    }
    r.to_string()
}

fn project_path_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let path = rest.split_once('/')?.1;
    (!path.is_empty()).then(|| path.to_string())
}

/// The highest tag pointing at `commit`: semantic-version order when both names are versions (a
/// release tag outranks the release candidate it promotes), else git's `v:refname` order.
fn highest_tag_at(repo: &gix::Repository, commit: gix::ObjectId) -> Option<String> {
    let refs = repo.references().ok()?;
    let mut best: Option<String> = None;
    for mut r in refs.tags().ok()?.flatten() {
        if r.peel_to_id().ok().map(|id| id.detach()) != Some(commit) {
            continue;
        }
        let name = r.name().shorten().to_string();
        if best.as_deref().is_none_or(|b| tag_order(&name, b).is_gt()) {
            best = Some(name);
        }
    }
    best
}

/// Semantic-version order of two tag names (a leading `v` allowed), else [`version_order`].
fn tag_order(a: &str, b: &str) -> std::cmp::Ordering {
    let v = |s: &str| semver::Version::parse(s.trim_start_matches('v')).ok();
    match (v(a), v(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| version_order(a, b)),
        _ => version_order(a, b),
    }
}

/// Version order of two names (git's `v:refname`): runs of digits compare as numbers, the rest
/// byte by byte.
fn version_order(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let db = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let na = std::str::from_utf8(&a[..da])
                    .unwrap_or("0")
                    .trim_start_matches('0');
                let nb = std::str::from_utf8(&b[..db])
                    .unwrap_or("0")
                    .trim_start_matches('0');
                let o = na.len().cmp(&nb.len()).then(na.cmp(nb));
                if o.is_ne() {
                    return o;
                }
                (a, b) = (&a[da..], &b[db..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_gitlab_variables() {
        let v = vars(&[
            ("CI", "true"),
            ("CI_PROJECT_DIR", "/builds/acme/app"),
            ("CI_PROJECT_NAME", "app"),
            ("CI_COMMIT_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("CI_COMMIT_TAG", "v1.5.0"),
            ("CI_COMMIT_REF_NAME", "v1.5.0"),
            ("CI_COMMIT_REF_PROTECTED", "true"),
            ("CI_COMMIT_BEFORE_SHA", NULL_SHA),
            ("CI_REGISTRY_PASSWORD", "very-secret-registry-pw"),
        ]);
        let c = Context::from_vars(&v, Path::new("/nonexistent"));
        assert!(c.ci);
        assert!(c.commit_ref_protected);
        assert_eq!(c.commit_before_sha, None);
        assert_eq!(c.commit_short_sha.as_deref(), Some("01234567"));
        assert_eq!(c.commit_ref_slug.as_deref(), Some("v1-5-0"));
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("very-secret-registry-pw"));
        assert!(json.contains(redact::MASK));
    }

    #[test]
    fn missing_project_dir_falls_back_to_cwd() {
        let v = vars(&[
            ("CI", "true"),
            ("CI_PROJECT_DIR", "/nonexistent/builds/acme/app"),
        ]);
        let c = Context::from_vars(&v, Path::new("/tmp"));
        assert_eq!(c.project_dir, Path::new("/tmp"));
    }

    #[test]
    fn protected_only_when_exactly_true() {
        for val in ["True", "1", "yes", "true "] {
            let v = vars(&[("CI", "true"), ("CI_COMMIT_REF_PROTECTED", val)]);
            assert!(
                !Context::from_vars(&v, Path::new("/")).commit_ref_protected,
                "{val}"
            );
        }
    }

    #[test]
    fn slug_and_urls() {
        assert_eq!(ref_slug("Feature/Foo_Bar"), "feature-foo-bar");
        assert_eq!(
            web_url("git@gitlab.com:acme/app.git"),
            "https://gitlab.com/acme/app"
        );
        assert_eq!(
            web_url("https://user:pw@gitlab.example.com/acme/app.git"),
            "https://gitlab.example.com/acme/app"
        );
        assert_eq!(
            project_path_of("https://gitlab.com/acme/app").as_deref(),
            Some("acme/app")
        );
    }

    #[test]
    fn local_context_reads_annotated_tags_branch_and_origin_head() {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let ok = Command::new("git")
                .args(["-c", "user.name=T", "-c", "user.email=t@e"])
                .args(args)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(ok.status.success(), "{:?}", ok);
        };
        run(&["init", "-q", "-b", "trunk"]);
        run(&["commit", "-q", "--allow-empty", "-m", "one\ntwo\n\nbody"]);
        let c = Context::from_vars(&vars(&[]), dir.path());
        assert_eq!(c.commit_ref_name.as_deref(), Some("trunk"));
        assert_eq!(c.commit_tag, None);
        assert_eq!(c.commit_title.as_deref(), Some("one two"));
        run(&["tag", "v1.0.0"]);
        run(&["tag", "-a", "v2.0.0", "-m", "release"]);
        run(&["update-ref", "refs/remotes/origin/trunk", "HEAD"]);
        run(&[
            "symbolic-ref",
            "refs/remotes/origin/HEAD",
            "refs/remotes/origin/trunk",
        ]);
        let c = Context::from_vars(&vars(&[]), dir.path());
        assert_eq!(c.commit_tag.as_deref(), Some("v2.0.0"));
        assert_eq!(c.commit_ref_name.as_deref(), Some("v2.0.0"));
        assert_eq!(c.default_branch.as_deref(), Some("trunk"));
    }

    #[test]
    fn version_order_is_gits_v_refname() {
        use std::cmp::Ordering::*;
        assert_eq!(version_order("v0.10.0", "v0.9.0"), Greater);
        assert_eq!(version_order("v1.5.0", "v1.5.0-beta.2"), Less);
        assert_eq!(version_order("v1.5.0-beta.10", "v1.5.0-beta.2"), Greater);
        assert_eq!(version_order("v01.2", "v1.2"), Equal);
        assert_eq!(version_order("a", "b"), Less);
    }

    #[test]
    fn local_context_from_git() {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let ok = Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert!(ok.status.success(), "{:?}", ok);
        };
        run(&["init", "-q", "-b", "main"]);
        run(&[
            "-c",
            "user.name=T",
            "-c",
            "user.email=t@e",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "first",
        ]);
        run(&["tag", "v0.1.0"]);
        run(&["tag", "v0.1.0-rc.9"]);
        run(&["tag", "v0.0.10"]);
        run(&[
            "remote",
            "add",
            "origin",
            "git@gitlab.example.com:acme/app.git",
        ]);
        let c = Context::from_vars(&vars(&[("CI_COMMIT_REF_PROTECTED", "true")]), dir.path());
        assert!(!c.ci);
        assert!(!c.commit_ref_protected);
        assert_eq!(c.commit_tag.as_deref(), Some("v0.1.0"));
        assert_eq!(c.commit_title.as_deref(), Some("first"));
        assert_eq!(
            c.project_url.as_deref(),
            Some("https://gitlab.example.com/acme/app")
        );
        assert_eq!(c.project_path.as_deref(), Some("acme/app"));
        assert_eq!(c.commit_sha.as_ref().map(|s| s.len()), Some(40));
    }
}
