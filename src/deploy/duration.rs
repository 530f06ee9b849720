//! A duration written for people in `stevedore.toml` and on the command line: `500ms`, `5s`, `10m`, `1h`,
//! or a combination such as `1m30s`. A bad value is a TOML error naming the key.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A parsed duration (see the module doc for the syntax).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dur(pub Duration);

/// The units of a [`Dur`].
const UNITS: &[(&str, Duration)] = &[
    ("ms", Duration::from_millis(1)),
    ("s", Duration::from_secs(1)),
    ("m", Duration::from_secs(60)),
    ("h", Duration::from_secs(3600)),
];

impl FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "`{s}` is not a duration: write a number and a unit, e.g. 500ms, 5s, 10m, 1h or 1m30s"
            )
        };
        crate::units::parse_terms(s, UNITS).map(Dur).ok_or_else(bad)
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::output::human_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::units::from_str(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            "500ms".parse::<Dur>().unwrap().0,
            Duration::from_millis(500)
        );
        assert_eq!("10m".parse::<Dur>().unwrap().0, Duration::from_secs(600));
        assert_eq!("1m30s".parse::<Dur>().unwrap().0, Duration::from_secs(90));
        for bad in ["", "10", "5 minutes", "m", "-1s", "1.5s"] {
            assert!(bad.parse::<Dur>().is_err(), "{bad}");
        }
    }
}
