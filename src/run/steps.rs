//! The steps of a release pipeline, in the template's order, and which of them a `stevedore run` takes.

use crate::exit::{self, ExitCode};
use regex::Regex;
use std::fmt;
use std::sync::OnceLock;

/// One step of the pipeline. The declaration order is the order `stevedore run` and the CI template take
/// them: scan, prune, build, release, deploy, notify (the template prunes right before it builds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Step {
    /// Find leaked credentials (the template's `secret-scan` job).
    Scan,
    /// Free the runner's disk before the build (the template's `build-image` job, first command).
    Prune,
    /// Build the image, and push it when a registry is configured (the `build-image` job).
    Build,
    /// Decide staging or production from the tag, refuse what policy forbids (the `deploy-*` jobs).
    Release,
    /// Deploy the digest to every target of the release's environment (the `deploy-*` jobs).
    Deploy,
    /// Report the outcome (every job's `after_script` in the template); it runs even after a failure.
    Notify,
}

impl Step {
    /// Every step, in pipeline order.
    pub const ALL: [Step; 6] = [
        Step::Scan,
        Step::Prune,
        Step::Build,
        Step::Release,
        Step::Deploy,
        Step::Notify,
    ];

    /// The step's name, as on the command line and in the run summary.
    pub fn name(self) -> &'static str {
        match self {
            Step::Scan => "scan",
            Step::Prune => "prune",
            Step::Build => "build",
            Step::Release => "release",
            Step::Deploy => "deploy",
            Step::Notify => "notify",
        }
    }

    /// The names of every step, comma-separated, for messages.
    pub fn names() -> String {
        Step::ALL.map(Step::name).join(", ")
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which steps to take: `only` (in pipeline order, whatever order it was given in), or the steps from
/// `from` to `until` inclusive (each defaulting to the first and the last step).
pub fn select(from: Option<Step>, until: Option<Step>, only: &[Step]) -> anyhow::Result<Vec<Step>> {
    if !only.is_empty() {
        if from.is_some() || until.is_some() {
            return Err(exit::coded(
                ExitCode::Usage,
                "--only cannot be combined with --from or --until: pick one way to choose the steps",
            ));
        }
        return Ok(Step::ALL.into_iter().filter(|s| only.contains(s)).collect());
    }
    let first = from.unwrap_or(Step::Scan);
    let last = until.unwrap_or(Step::Notify);
    if first > last {
        return Err(exit::coded(
            ExitCode::Usage,
            format!(
                "--from {first} comes after --until {last}: the steps run in the order {}",
                Step::names()
            ),
        ));
    }
    Ok(Step::ALL
        .into_iter()
        .filter(|s| *s >= first && *s <= last)
        .collect())
}

/// Where a tag sends the pipeline, by the template's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// No tag: scan and build only; release and deploy run on semantic-version tags.
    NoTag,
    /// A tag that is neither a prerelease nor a release version: no deploy (as in the template).
    NotARelease(String),
    /// `vX.Y.Z-beta.N` / `-rc.N`: staging.
    Staging(String),
    /// `vX.Y.Z`: production — from a protected tag only; `release` refuses it otherwise.
    Production(String),
}

/// The template's prerelease rule: `/^v?\d+\.\d+\.\d+-(beta|rc)\.\d+$/`.
pub const STAGING_TAG: &str = r"^v?\d+\.\d+\.\d+-(beta|rc)\.\d+$";
/// The template's release rule: `/^v?\d+\.\d+\.\d+$/`.
pub const PRODUCTION_TAG: &str = r"^v?\d+\.\d+\.\d+$";

impl Route {
    /// The route of a tag (none, or the pipeline's `CI_COMMIT_TAG`).
    pub fn of(tag: Option<&str>) -> Route {
        static RES: OnceLock<(Regex, Regex)> = OnceLock::new();
        let (staging, production) = RES.get_or_init(|| {
            (
                Regex::new(STAGING_TAG).expect("valid regex"),
                Regex::new(PRODUCTION_TAG).expect("valid regex"),
            )
        });
        match tag {
            None => Route::NoTag,
            Some(t) if staging.is_match(t) => Route::Staging(t.to_string()),
            Some(t) if production.is_match(t) => Route::Production(t.to_string()),
            Some(t) => Route::NotARelease(t.to_string()),
        }
    }

    /// True when release and deploy run.
    pub fn deploys(&self) -> bool {
        matches!(self, Route::Staging(_) | Route::Production(_))
    }

    /// Why release and deploy are skipped, or where they go.
    pub fn explain(&self) -> String {
        match self {
            Route::NoTag => "no tag: release and deploy run on semantic-version tags only".into(),
            Route::NotARelease(t) => format!(
                "tag {t} is neither a prerelease (vX.Y.Z-beta.N, -rc.N) nor a release (vX.Y.Z): no deploy"
            ),
            Route::Staging(t) => format!("tag {t}: a prerelease, for staging"),
            Route::Production(t) => format!("tag {t}: a release, for production"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_selection_is_every_step_in_order() {
        let all = select(None, None, &[]).unwrap();
        assert_eq!(all, Step::ALL.to_vec());
        assert_eq!(
            all.iter().map(|s| s.name()).collect::<Vec<_>>(),
            ["scan", "prune", "build", "release", "deploy", "notify"]
        );
    }

    #[test]
    fn from_and_until_are_inclusive() {
        assert_eq!(
            select(Some(Step::Build), None, &[]).unwrap(),
            [Step::Build, Step::Release, Step::Deploy, Step::Notify]
        );
        assert_eq!(
            select(None, Some(Step::Build), &[]).unwrap(),
            [Step::Scan, Step::Prune, Step::Build]
        );
        assert_eq!(
            select(Some(Step::Deploy), Some(Step::Deploy), &[]).unwrap(),
            [Step::Deploy]
        );
    }

    #[test]
    fn from_after_until_is_a_usage_error_naming_the_order() {
        let e = select(Some(Step::Deploy), Some(Step::Scan), &[]).unwrap_err();
        assert_eq!(exit::code_of(&e), ExitCode::Usage);
        let m = exit::render(&e);
        assert!(m.contains("--from deploy comes after --until scan"), "{m}");
        assert!(
            m.contains("scan, prune, build, release, deploy, notify"),
            "{m}"
        );
    }

    #[test]
    fn only_keeps_pipeline_order_and_excludes_from() {
        assert_eq!(
            select(None, None, &[Step::Notify, Step::Scan, Step::Scan]).unwrap(),
            [Step::Scan, Step::Notify]
        );
        let e = select(Some(Step::Scan), None, &[Step::Build]).unwrap_err();
        assert_eq!(exit::code_of(&e), ExitCode::Usage);
    }

    #[test]
    fn tags_route_like_the_template() {
        assert_eq!(Route::of(None), Route::NoTag);
        for t in ["v1.2.3-beta.1", "1.2.3-rc.12", "v0.0.1-beta.0"] {
            assert_eq!(Route::of(Some(t)), Route::Staging(t.into()), "{t}");
        }
        for t in ["v1.2.3", "10.20.30"] {
            assert_eq!(Route::of(Some(t)), Route::Production(t.into()), "{t}");
        }
        for t in [
            "v1.2",
            "v1.2.3-alpha.1",
            "v1.2.3-beta",
            "release-1",
            "v1.2.3 ",
        ] {
            assert!(!Route::of(Some(t)).deploys(), "{t}");
        }
    }
}
