//! Exit codes shared by every step, and the way an error carries one.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | ok |
//! | 1 | the step found a problem (findings, a failed deploy, a failed build) |
//! | 2 | usage or configuration error |
//! | 3 | refused by policy (e.g. production from an unprotected tag) |
//! | 4 | an outside system failed (Docker, registry, an HTTP API unreachable) |
//! | 130 / 143 | stopped by SIGINT / SIGTERM (see [`crate::signal`]) |

use std::fmt;

/// The process exit codes stevedore uses, the same for every step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitCode {
    /// Everything went as it should.
    Ok = 0,
    /// The step ran and found a problem: findings, a failed build or deploy.
    Problem = 1,
    /// The command line or the configuration is wrong.
    Usage = 2,
    /// A policy refused the action (for example production from an unprotected tag).
    Refused = 3,
    /// Something outside stevedore failed: Docker, a registry, an HTTP API.
    Outside = 4,
}

impl ExitCode {
    /// The numeric process exit status.
    pub fn as_i32(self) -> i32 {
        self as i32
    }
}

/// A marker layered on an [`anyhow::Error`] that fixes the exit code of the error.
///
/// It prints nothing of its own; use [`CodeExt::code`] or [`coded`] to attach it.
#[derive(Debug, Clone, Copy)]
pub struct Coded(pub ExitCode);

impl fmt::Display for Coded {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Ok(())
    }
}

/// Builds an error with a message and an exit code.
pub fn coded(code: ExitCode, msg: impl fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{msg}").context(Coded(code))
}

/// Attaches an exit code to the error of a `Result`.
pub trait CodeExt<T> {
    /// Marks the error, if any, with `code`.
    fn code(self, code: ExitCode) -> anyhow::Result<T>;
}

impl<T, E> CodeExt<T> for Result<T, E>
where
    E: Into<anyhow::Error>,
{
    fn code(self, code: ExitCode) -> anyhow::Result<T> {
        self.map_err(|e| e.into().context(Coded(code)))
    }
}

/// The exit code of an error: the outermost [`Coded`] marker in its chain, else 1.
pub fn code_of(err: &anyhow::Error) -> ExitCode {
    // anyhow searches every context layer for the marker type.
    err.downcast_ref::<Coded>()
        .map(|c| c.0)
        .unwrap_or(ExitCode::Problem)
}

/// Renders an error and its causes, one per line, skipping the exit-code markers.
pub fn render(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        if s.is_empty() || parts.last() == Some(&s) {
            continue;
        }
        parts.push(s);
    }
    let mut out = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            out.push_str("error: ");
            out.push_str(p);
        } else {
            out.push_str("\n  caused by: ");
            out.push_str(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn code_survives_context_layers() {
        let e: anyhow::Result<()> = Err(coded(ExitCode::Refused, "not protected"));
        let e = e.context("release refused").context("outer").unwrap_err();
        assert_eq!(code_of(&e), ExitCode::Refused);
        let r = render(&e);
        assert!(r.starts_with("error: outer"), "{r}");
        assert!(r.contains("not protected"));
        assert!(!r.contains("caused by: \n"));
    }

    #[test]
    fn code_ext_marks_foreign_errors() {
        let r: Result<(), std::io::Error> = Err(std::io::Error::other("socket gone"));
        let e = r
            .code(ExitCode::Outside)
            .context("talking to docker")
            .unwrap_err();
        assert_eq!(code_of(&e), ExitCode::Outside);
        let plain = anyhow::anyhow!("x");
        assert_eq!(code_of(&plain), ExitCode::Problem);
    }
}
