//! The size of the filesystem holding Docker's data root (`DockerRootDir`), measured with `statvfs`:
//! build's free-space guard and prune's percentage threshold read it.

use std::path::Path;

/// Free bytes (available to unprivileged users) and total bytes of the filesystem holding `path`. Fails
/// when the path cannot be read here (a remote daemon's data root is not on this machine).
pub fn filesystem_space(path: &Path) -> std::io::Result<(u64, u64)> {
    let st = rustix::fs::statvfs(path)?;
    Ok((
        st.f_bavail.saturating_mul(st.f_frsize),
        st.f_blocks.saturating_mul(st.f_frsize),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_real_path_and_fails_on_a_missing_one() {
        let (free, total) = filesystem_space(Path::new("/")).unwrap();
        assert!(total > 0 && free <= total);
        assert!(filesystem_space(Path::new("/nonexistent/path")).is_err());
    }
}
