//! A length of time as people write it in configuration: `500ms`, `10s`, `2m`, or a bare number of
//! seconds. Used for the notify timeouts and backoff, validated when `stevedore.toml` is parsed.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A duration written `500ms`, `1.5s`, `10s`, `2m` or `10` (seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span(pub Duration);

impl Span {
    /// The duration.
    pub fn get(self) -> Duration {
        self.0
    }
}

impl FromStr for Span {
    type Err = String;

    fn from_str(s: &str) -> Result<Span, String> {
        let t = s.trim();
        let bad = || {
            format!(
                "invalid duration {s:?}: write a number with a unit, like 500ms, 10s or 2m (a bare number is seconds)"
            )
        };
        let (num, scale_ms) = if let Some(n) = t.strip_suffix("ms") {
            (n, 1.0)
        } else if let Some(n) = t.strip_suffix('s') {
            (n, 1000.0)
        } else if let Some(n) = t.strip_suffix('m') {
            (n, 60_000.0)
        } else {
            (t, 1000.0)
        };
        let v: f64 = num.trim().parse().map_err(|_| bad())?;
        if !v.is_finite() || v < 0.0 || v * scale_ms > 86_400_000.0 {
            return Err(bad());
        }
        Ok(Span(Duration::from_millis((v * scale_ms).round() as u64)))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms.is_multiple_of(1000) {
            write!(f, "{}s", ms / 1000)
        } else {
            write!(f, "{ms}ms")
        }
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Float(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Span::from_str(&n.to_string()),
            Raw::Float(n) => Span::from_str(&n.to_string()),
            Raw::Text(s) => Span::from_str(&s),
        }
        .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(
            "500ms".parse::<Span>().unwrap().get(),
            Duration::from_millis(500)
        );
        assert_eq!(
            "1.5s".parse::<Span>().unwrap().get(),
            Duration::from_millis(1500)
        );
        assert_eq!(
            "2m".parse::<Span>().unwrap().get(),
            Duration::from_secs(120)
        );
        assert_eq!("10".parse::<Span>().unwrap().get(), Duration::from_secs(10));
        assert!("ten".parse::<Span>().is_err());
        assert!("-1s".parse::<Span>().is_err());
        assert_eq!(Span(Duration::from_secs(3)).to_string(), "3s");
    }
}
