//! What a step of the run hands to the later ones, as plain data: the values the template's jobs hand
//! each other through dotenv reports (build's `IMAGE_DIGEST`, release's `VERSION` and `ENVIRONMENT`),
//! taken from the steps' outcomes and given to the later steps as flags — never through the process
//! environment.

use super::args::Flag;
use super::steps::Step;
use crate::summary::{Status, StepOutcome};

/// The values earlier steps of this run produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Handed {
    /// build's pushed image, `repository@sha256:…` (its dotenv's `IMAGE_DIGEST`).
    pub image_digest: Option<String>,
    /// release's version (its dotenv's `VERSION`).
    pub version: Option<String>,
    /// release's deploy environment (its dotenv's `ENVIRONMENT`).
    pub environment: Option<String>,
}

impl Handed {
    /// Takes what a successful build or release outcome hands on (its facts); other outcomes hand nothing.
    pub fn take(&mut self, outcome: &StepOutcome) {
        if outcome.status != Status::Success {
            return;
        }
        let fact = |k: &str| {
            outcome.facts[k]
                .as_str()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        match outcome.step.as_str() {
            "build" => self.image_digest = fact("digest"),
            "release" => {
                self.version = fact("version");
                self.environment = fact("environment");
            }
            _ => {}
        }
    }

    /// The flags that give `step` these values, as the template's jobs get them from the dotenv reports.
    pub fn flags(&self, step: Step) -> Vec<Flag> {
        let mut f = Vec::new();
        match step {
            Step::Deploy => {
                if let Some(d) = &self.image_digest {
                    f.push(Flag::value("image", d));
                }
                if let Some(v) = &self.version {
                    f.push(Flag::value("release-version", v));
                }
            }
            Step::Notify => {
                if let Some(e) = &self.environment {
                    f.push(Flag::value("environment", e));
                }
            }
            Step::Scan | Step::Prune | Step::Build | Step::Release => {}
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::args::step_args;
    use std::time::Duration;

    const DIGEST: &str = "registry.example.com/acme/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn outcome(step: &str, status: Status, facts: serde_json::Value) -> StepOutcome {
        StepOutcome::new(step, status, Duration::ZERO, "x").with_facts(facts)
    }

    fn handed() -> Handed {
        let mut h = Handed::default();
        h.take(&outcome(
            "build",
            Status::Success,
            serde_json::json!({ "image": "registry.example.com/acme/app:1.0.0", "digest": DIGEST, "pushed": true }),
        ));
        h.take(&outcome(
            "release",
            Status::Success,
            serde_json::json!({ "tag": "v1.0.0", "version": "1.0.0", "channel": "production", "environment": "prod-eu" }),
        ));
        h
    }

    #[test]
    fn takes_the_digest_from_build_and_the_version_from_release() {
        assert_eq!(
            handed(),
            Handed {
                image_digest: Some(DIGEST.into()),
                version: Some("1.0.0".into()),
                environment: Some("prod-eu".into()),
            }
        );
    }

    #[test]
    fn an_unpushed_build_or_a_failed_step_hands_nothing() {
        let mut h = Handed::default();
        h.take(&outcome(
            "build",
            Status::Success,
            serde_json::json!({ "image": "app:1", "digest": null, "pushed": false }),
        ));
        h.take(&outcome(
            "release",
            Status::Failed,
            serde_json::json!({ "version": "1.0.0", "environment": "production" }),
        ));
        h.take(&outcome(
            "scan",
            Status::Success,
            serde_json::json!({ "version": "9" }),
        ));
        assert_eq!(h, Handed::default());
        assert!(h.flags(Step::Deploy).is_empty() && h.flags(Step::Notify).is_empty());
    }

    #[test]
    fn deploy_and_notify_take_the_values_as_their_own_flags() {
        let h = handed();
        let (d, dropped) =
            step_args::<crate::deploy::DeployArgs>("deploy", &h.flags(Step::Deploy)).unwrap();
        assert!(dropped.is_empty(), "{dropped:?}");
        assert_eq!(d.image.as_deref(), Some(DIGEST));
        assert_eq!(d.release_version.as_deref(), Some("1.0.0"));
        let (n, dropped) =
            step_args::<crate::notify::NotifyArgs>("notify", &h.flags(Step::Notify)).unwrap();
        assert!(dropped.is_empty(), "{dropped:?}");
        assert_eq!(n.environment.as_deref(), Some("prod-eu"));
        for s in [Step::Scan, Step::Prune, Step::Build, Step::Release] {
            assert!(h.flags(s).is_empty());
        }
    }
}
