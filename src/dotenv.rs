//! The dotenv file a step hands to later jobs (`artifacts:reports:dotenv`; build's `IMAGE_DIGEST`,
//! release's `VERSION`), written by GitLab's rules: one `KEY=value` a line, keys of `[A-Za-z0-9_]`, values
//! on one line and without quotes (GitLab would keep them as part of the value).

use crate::exit::{ExitCode, coded};
use std::path::Path;

/// Renders pairs as dotenv text; a key or value GitLab would reject is an error naming it.
pub fn render(pairs: &[(&str, String)]) -> anyhow::Result<String> {
    let mut out = String::new();
    for (k, v) in pairs {
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(coded(
                ExitCode::Problem,
                format!("dotenv key {k:?} is not [A-Za-z0-9_]+"),
            ));
        }
        if v.contains(['\n', '\r', '"', '\'']) {
            return Err(coded(
                ExitCode::Problem,
                format!(
                    "dotenv value of {k} holds a newline or a quote, which GitLab's dotenv reports do not allow"
                ),
            ));
        }
        out.push_str(&format!("{k}={v}\n"));
    }
    Ok(out)
}

/// Writes pairs to `path` (through a temporary file of this process, so a reader never sees half of it
/// and two processes writing the same file at once — parallel jobs sharing a directory — never take
/// each other's temporary file).
pub fn write(path: &Path, pairs: &[(&str, String)]) -> anyhow::Result<()> {
    let text = crate::redact::redact(&render(pairs)?);
    let tmp = path.with_extension(format!("tmp-stevedore.{}", std::process::id()));
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty());
    let made = match parent {
        // stevedore's output directory gets its `.gitignore`.
        Some(p) if p.file_name() == Some(std::ffi::OsStr::new(crate::summary::DIR)) => {
            crate::summary::output_dir(p.parent().unwrap_or(Path::new("."))).map(|_| ())
        }
        Some(p) => std::fs::create_dir_all(p),
        None => Ok(()),
    };
    made.and_then(|_| std::fs::write(&tmp, text))
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| {
            coded(
                ExitCode::Usage,
                format!(
                    "cannot write the dotenv file {}: {e} — pass a writable path to --dotenv",
                    path.display()
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_gitlab_dotenv() {
        let t = render(&[
            ("IMAGE", "r/app".into()),
            ("IMAGE_TAGS", "1.4.2,1.4".into()),
        ])
        .unwrap();
        assert_eq!(t, "IMAGE=r/app\nIMAGE_TAGS=1.4.2,1.4\n");
        assert!(render(&[("A-B", "x".into())]).is_err());
        assert!(render(&[("A", "x\ny".into())]).is_err());
        assert!(render(&[("A", "\"x\"".into())]).is_err());
    }

    #[test]
    fn writes_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("build.env");
        write(&p, &[("IMAGE", "x".into())]).unwrap();
        assert_eq!(std::fs::read_to_string(p).unwrap(), "IMAGE=x\n");
    }
}
