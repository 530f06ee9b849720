//! Who may deploy to production from where — the same rules `release` applies, held by `deploy` too, so
//! the protection does not depend on the pipeline running `release` first.
//!
//! In CI, production needs a release tag (`X.Y.Z`) that `release` would accept: protected
//! (`CI_COMMIT_REF_PROTECTED`, unless `[release] allow_unprotected`) and created by one of
//! `[release] deployers` when that list is set. Outside CI nothing can be checked: `--force` is required
//! and a warning says so.

use super::settings::Origin;
use crate::release::version::{Channel, shown};
use crate::release::{ReleaseConfig, check_policy};

/// What the policy says about deploying an environment from here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Not production, or production from an allowed tag.
    Allowed,
    /// Allowed, but only because of `--force`: the warning to print.
    Forced(String),
    /// Refused (exit 3): why, and what to do.
    Refused(String),
}

/// Whether `environment` is the production environment (`[release] production_environment`, or
/// `production`).
pub fn is_production(environment: &str, rc: &ReleaseConfig) -> bool {
    environment == rc.environment_of(Channel::Production) || environment == "production"
}

/// The verdict for deploying `environment` from `origin`, `--force` given or not.
pub fn verdict(environment: &str, rc: &ReleaseConfig, origin: &Origin, force: bool) -> Verdict {
    if !is_production(environment, rc) {
        return Verdict::Allowed;
    }
    if !origin.ci {
        return if force {
            Verdict::Forced(format!(
                "deploying to {environment} from outside CI (--force): no protected-tag or deployer check was possible — production normally deploys from a protected release tag in a GitLab pipeline"
            ))
        } else {
            Verdict::Refused(format!(
                "deploy to {environment} outside CI: production deploys from a protected release tag in a GitLab pipeline; pass --force to deploy from here anyway"
            ))
        };
    }
    let forced = if force {
        " (--force applies only outside CI)"
    } else {
        ""
    };
    let Some(tag) = origin.tag.as_deref() else {
        return Verdict::Refused(format!(
            "deploy to {environment} from a pipeline without a tag{forced}: production deploys only from a protected release tag (X.Y.Z) — tag the release, e.g. `stevedore release next --create`"
        ));
    };
    match check_policy(tag, rc, origin.protected, origin.login.as_deref()) {
        Err(e) => Verdict::Refused(format!("deploy to {environment}{forced}: {e}")),
        Ok((v, Channel::Staging, _)) => Verdict::Refused(format!(
            "deploy to {environment} from tag {} (version {v}, a prerelease for staging){forced}: production takes release tags X.Y.Z only",
            shown(tag)
        )),
        Ok((_, Channel::Production, reasons)) if !reasons.is_empty() => Verdict::Refused(format!(
            "deploy to {environment}{forced}: {}",
            reasons.join("; ")
        )),
        Ok(_) => Verdict::Allowed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ci(tag: Option<&str>, protected: bool) -> Origin {
        Origin {
            ci: true,
            tag: tag.map(str::to_string),
            protected,
            login: Some("alice".into()),
        }
    }

    #[test]
    fn production_needs_a_protected_release_tag_in_ci_or_force_outside() {
        let rc = ReleaseConfig::default();
        let local = Origin::default();
        assert_eq!(verdict("staging", &rc, &local, false), Verdict::Allowed);
        assert!(
            matches!(verdict("production", &rc, &local, false), Verdict::Refused(m) if m.contains("--force"))
        );
        assert!(
            matches!(verdict("production", &rc, &local, true), Verdict::Forced(m) if m.contains("outside CI"))
        );
        assert_eq!(
            verdict("production", &rc, &ci(Some("v1.6.0"), true), false),
            Verdict::Allowed
        );
        for (origin, want) in [
            (ci(Some("v1.6.0"), false), "not protected"),
            (ci(None, true), "without a tag"),
            (ci(Some("v1.6.0-beta.1"), true), "prerelease"),
            (ci(Some("v1.6.0\nx"), true), "v1.6.0\\nx"),
        ] {
            match verdict("production", &rc, &origin, true) {
                Verdict::Refused(m) => {
                    assert!(m.contains(want) && m.contains("only outside CI"), "{m}");
                    assert!(!m.contains('\n'), "{m}");
                }
                v => panic!("{origin:?}: {v:?}"),
            }
        }
        let rc = ReleaseConfig {
            deployers: Some(vec!["bob".into()]),
            production_environment: "prod-eu".into(),
            ..ReleaseConfig::default()
        };
        assert!(
            matches!(verdict("prod-eu", &rc, &ci(Some("v1.6.0"), true), false), Verdict::Refused(m) if m.contains("deployers"))
        );
        let open = ReleaseConfig {
            allow_unprotected: true,
            ..ReleaseConfig::default()
        };
        assert_eq!(
            verdict("production", &open, &ci(Some("v2.0.0"), false), false),
            Verdict::Allowed
        );
    }
}
