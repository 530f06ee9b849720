//! The values `stevedore prune` reads from flags and `stevedore.toml`: byte sizes (`20GB`, `512MiB`; the
//! shared [`crate::units::ByteSize`]), thresholds (a size, or a share of the filesystem such as `80%`) and
//! ages (`1h`, `30m`, `2d`).
//!
//! Each type parses with [`FromStr`] and deserializes through it, so a bad value in `stevedore.toml` is
//! reported by the TOML parser with file, line and key.

use crate::units::from_str_or_int;
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use crate::units::ByteSize;

/// How full Docker may be before `prune` removes images: a size (`20GB`) or a share of the filesystem
/// holding Docker's data root (`80%`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// Docker's usage must end under this many bytes.
    Bytes(u64),
    /// Docker's usage must end under this percentage (0–100] of the size of the filesystem that holds
    /// Docker's data root.
    Percent(f64),
}

impl Threshold {
    /// The documented default: `80%`.
    pub const DEFAULT: Threshold = Threshold::Percent(80.0);

    /// The limit in bytes, given the size of the filesystem holding Docker's data root.
    pub fn limit(&self, filesystem_bytes: u64) -> u64 {
        match *self {
            Threshold::Bytes(b) => b,
            Threshold::Percent(p) => (filesystem_bytes as f64 * p / 100.0).floor() as u64,
        }
    }
}

impl FromStr for Threshold {
    type Err = String;

    fn from_str(s: &str) -> Result<Threshold, String> {
        let t = s.trim();
        if let Some(p) = t.strip_suffix('%') {
            let v: f64 = p.trim().parse().map_err(|_| {
                format!("`{s}` is not a share: write a percentage such as `80%`, or a size such as `20GB`")
            })?;
            if !(v > 0.0 && v <= 100.0) {
                return Err(format!(
                    "`{s}`: a share of the filesystem must be above 0% and at most 100%"
                ));
            }
            return Ok(Threshold::Percent(v));
        }
        t.parse::<ByteSize>()
            .map(|b| Threshold::Bytes(b.0))
            .map_err(|_| {
                format!("`{s}` is not a threshold: write a size such as `20GB` or a share of the filesystem such as `80%`")
            })
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Threshold::Bytes(b) => write!(f, "{}", crate::output::human_bytes(*b)),
            Threshold::Percent(p) => write!(f, "{p}% of the filesystem"),
        }
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Threshold, D::Error> {
        from_str_or_int(d)
    }
}

/// An age or a duration: `1h`, `30m`, `90s`, `2d`, `1w`, `1h30m`, or `0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Age(pub Duration);

impl Age {
    /// Whole seconds.
    pub fn secs(&self) -> u64 {
        self.0.as_secs()
    }
}

/// The units of an [`Age`].
const AGE_UNITS: &[(&str, Duration)] = &[
    ("s", Duration::from_secs(1)),
    ("m", Duration::from_secs(60)),
    ("h", Duration::from_secs(3600)),
    ("d", Duration::from_secs(86_400)),
    ("w", Duration::from_secs(604_800)),
];

impl FromStr for Age {
    type Err = String;

    fn from_str(s: &str) -> Result<Age, String> {
        let t = s.trim();
        let bad = || {
            format!(
                "`{s}` is not a duration: write e.g. `1h`, `30m`, `90s`, `2d`, `1w`, `1h30m` or `0`"
            )
        };
        if t == "0" {
            return Ok(Age(Duration::ZERO));
        }
        crate::units::parse_terms(t, AGE_UNITS)
            .map(Age)
            .ok_or_else(bad)
    }
}

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.secs();
        if s == 0 {
            return f.write_str("0s");
        }
        for (unit, len) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
            if s >= len {
                write!(f, "{}{unit}", s / len)?;
                s %= len;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Age {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Age, D::Error> {
        from_str_or_int(d)
    }
}

/// A duration for people, to the two largest units: `40d`, `2d03h`, `5h10m`, `10m08s`, `8s`.
pub fn short_duration(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{sec}s"),
        (0, 0, _) => format!("{m}m{sec:02}s"),
        (0, _, _) => format!("{h}h{m:02}m"),
        _ if h == 0 => format!("{d}d"),
        _ => format!("{d}d{h:02}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert_eq!(
            "80%".parse::<Threshold>().unwrap(),
            Threshold::Percent(80.0)
        );
        assert_eq!(
            "20GB".parse::<Threshold>().unwrap(),
            Threshold::Bytes(20_000_000_000)
        );
        assert_eq!(Threshold::Percent(80.0).limit(1000), 800);
        assert_eq!(Threshold::Bytes(5).limit(1000), 5);
        for bad in ["0%", "101%", "x%", "80 percent", ""] {
            let e = bad.parse::<Threshold>().unwrap_err();
            assert!(e.contains(bad), "{e}");
        }
    }

    #[test]
    fn ages() {
        assert_eq!("1h".parse::<Age>().unwrap().secs(), 3600);
        assert_eq!("1h30m".parse::<Age>().unwrap().secs(), 5400);
        assert_eq!("2d".parse::<Age>().unwrap().secs(), 172_800);
        assert_eq!("0".parse::<Age>().unwrap().secs(), 0);
        assert_eq!("90s".parse::<Age>().unwrap().to_string(), "1m30s");
        for bad in ["", "h", "10", "1y", "1h3"] {
            assert!(bad.parse::<Age>().is_err(), "{bad}");
        }
    }

    #[test]
    fn short_durations() {
        assert_eq!(short_duration(8), "8s");
        assert_eq!(short_duration(608), "10m08s");
        assert_eq!(short_duration(5 * 3600 + 600), "5h10m");
        assert_eq!(short_duration(40 * 86_400 + 8), "40d");
        assert_eq!(short_duration(2 * 86_400 + 3 * 3600), "2d03h");
        assert_eq!(short_duration(-5), "0s");
    }

    #[test]
    fn toml_values_report_the_key() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            threshold: Threshold,
            age: Age,
        }
        let ok: T = toml::from_str("threshold = \"20GB\"\nage = \"2h\"").unwrap();
        assert_eq!(ok.threshold, Threshold::Bytes(20_000_000_000));
        let e = toml::from_str::<T>("threshold = \"lots\"\nage = \"2h\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("threshold") && e.contains("lots"), "{e}");
    }
}
