//! The disk guard: free space under Docker's data root, compared with `[build] min_free`.

use serde::Deserialize;
use std::path::Path;
use std::str::FromStr;

/// How much free space a build needs: a share of the file system (`10%`) or an amount (`20GB`, `512MiB`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MinFree {
    /// Percent of the file system's size.
    Percent(f64),
    /// Bytes.
    Bytes(u64),
}

impl Default for MinFree {
    fn default() -> Self {
        MinFree::Percent(10.0)
    }
}

impl FromStr for MinFree {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        let bad = || {
            format!(
                "{s:?} is not a free-space amount: use a percentage like \"10%\" or a size like \"20GB\""
            )
        };
        if let Some(p) = t.strip_suffix('%') {
            let v: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&v) {
                return Err(bad());
            }
            return Ok(MinFree::Percent(v));
        }
        t.parse::<crate::units::ByteSize>()
            .map(|b| MinFree::Bytes(b.0))
            .map_err(|_| bad())
    }
}

impl<'de> Deserialize<'de> for MinFree {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::units::from_str(d)
    }
}

impl std::fmt::Display for MinFree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MinFree::Percent(p) => write!(f, "{p}%"),
            MinFree::Bytes(b) => write!(f, "{}", crate::output::human_bytes(*b)),
        }
    }
}

/// Free and total bytes of the file system holding `path`, or `None` when it cannot be read (a remote
/// daemon's data root is not on this machine).
pub fn space(path: &Path) -> Option<(u64, u64)> {
    crate::docker::filesystem_space(path).ok()
}

impl MinFree {
    /// True when `free` of `total` bytes is below this minimum.
    pub fn is_short(&self, free: u64, total: u64) -> bool {
        match self {
            MinFree::Percent(p) => total > 0 && (free as f64) < total as f64 * p / 100.0,
            MinFree::Bytes(b) => free < *b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_amounts() {
        assert_eq!("10%".parse::<MinFree>().unwrap(), MinFree::Percent(10.0));
        assert_eq!(
            "20GB".parse::<MinFree>().unwrap(),
            MinFree::Bytes(20_000_000_000)
        );
        assert_eq!("1GiB".parse::<MinFree>().unwrap(), MinFree::Bytes(1 << 30));
        assert!("150%".parse::<MinFree>().is_err());
        assert!("lots".parse::<MinFree>().is_err());
        assert!(MinFree::Percent(10.0).is_short(5, 100));
        assert!(!MinFree::Percent(10.0).is_short(50, 100));
    }

    #[test]
    fn reads_space_of_a_real_path() {
        let (free, total) = space(Path::new("/")).unwrap();
        assert!(total > 0 && free <= total);
        assert!(space(Path::new("/nonexistent/path")).is_none());
    }
}
