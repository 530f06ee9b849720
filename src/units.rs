//! Values people write in `stevedore.toml` and on the command line, shared by the steps: byte sizes
//! (`20GB`, `512MiB`), durations made of number-and-unit terms (`1h30m`), and the serde glue that parses
//! them through [`FromStr`] so a bad value is reported by the TOML parser with file, line and key.
//!
//! Each step keeps its own types and messages (prune's ages, deploy's timeouts, build's free-space
//! minimum); they parse through these functions.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A number of bytes written the way people write them: `20GB` (decimal, like `docker system df`),
/// `512MiB` (binary), `1.5G`, `300000` (plain bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(pub u64);

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<ByteSize, String> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let bad = || {
            format!(
                "`{s}` is not a size: write a number with an optional unit, e.g. `20GB`, `512MiB`, `1.5G` or `300000` (bytes)"
            )
        };
        if num.is_empty() {
            return Err(bad());
        }
        let n: f64 = num.parse().map_err(|_| bad())?;
        let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1.0,
            "k" | "kb" => 1e3,
            "m" | "mb" => 1e6,
            "g" | "gb" => 1e9,
            "t" | "tb" => 1e12,
            "ki" | "kib" => 1024.0,
            "mi" | "mib" => 1024.0 * 1024.0,
            "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
            "ti" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
            _ => return Err(bad()),
        };
        let v = n * mult;
        if !v.is_finite() || v < 0.0 || v > u64::MAX as f64 {
            return Err(bad());
        }
        Ok(ByteSize(v.round() as u64))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::output::human_bytes(self.0))
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ByteSize, D::Error> {
        from_str_or_int(d)
    }
}

/// Parses a duration written as one or more `<whole number><unit>` terms without spaces (`90s`, `1h30m`),
/// the units and their lengths given by the caller (e.g. `[("ms", 1ms), ("s", 1s), ("m", 60s)]`). A
/// unit is the run of letters after the number. `None` for anything else (empty, a bare number, an
/// unknown unit, a sign, a decimal, an overflow).
pub fn parse_terms(text: &str, units: &[(&str, Duration)]) -> Option<Duration> {
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let n: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.chars().take_while(char::is_ascii_alphabetic).count();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let len = units.iter().find(|(u, _)| *u == unit)?.1;
        let nanos = len.as_nanos().checked_mul(u128::from(n))?;
        let term = Duration::new(
            u64::try_from(nanos / 1_000_000_000).ok()?,
            (nanos % 1_000_000_000) as u32,
        );
        total = total.checked_add(term)?;
    }
    Some(total)
}

/// Deserializes a [`FromStr`] type from a string.
pub fn from_str<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    String::deserialize(d)?
        .parse()
        .map_err(serde::de::Error::custom)
}

/// Deserializes a [`FromStr`] type from a string, or from an integer written without quotes.
pub fn from_str_or_int<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr<Err = String>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        S(String),
        I(u64),
    }
    let s = match Raw::deserialize(d)? {
        Raw::S(s) => s,
        Raw::I(i) => i.to_string(),
    };
    s.parse().map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!("20GB".parse::<ByteSize>().unwrap().0, 20_000_000_000);
        assert_eq!("20gb".parse::<ByteSize>().unwrap().0, 20_000_000_000);
        assert_eq!("512MiB".parse::<ByteSize>().unwrap().0, 512 * 1024 * 1024);
        assert_eq!("1.5G".parse::<ByteSize>().unwrap().0, 1_500_000_000);
        assert_eq!("300000".parse::<ByteSize>().unwrap().0, 300_000);
        assert_eq!("7 kB".parse::<ByteSize>().unwrap().0, 7000);
        for bad in ["", "GB", "20XB", "-1GB", "1.2.3G", "abc"] {
            assert!(bad.parse::<ByteSize>().is_err(), "{bad}");
        }
    }

    #[test]
    fn terms() {
        let units = [
            ("ms", Duration::from_millis(1)),
            ("s", Duration::from_secs(1)),
            ("m", Duration::from_secs(60)),
        ];
        let p = |t: &str| parse_terms(t, &units);
        assert_eq!(p("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(p(" 1m30s "), Some(Duration::from_secs(90)));
        assert_eq!(p("1m1ms"), Some(Duration::from_millis(60_001)));
        assert_eq!(p("99999999999s"), Some(Duration::from_secs(99_999_999_999)));
        for bad in [
            "",
            "10",
            "m",
            "-1s",
            "1.5s",
            "1 s",
            "1h",
            "1m3",
            "99999999999999999999s",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
        let huge = [("x", Duration::MAX)];
        assert_eq!(parse_terms("2x", &huge), None, "overflow is refused");
    }

    #[test]
    fn toml_values_parse_through_from_str() {
        #[derive(Deserialize, Debug)]
        struct T {
            #[serde(deserialize_with = "from_str")]
            a: ByteSize,
            b: ByteSize,
        }
        let t: T = toml::from_str("a = \"1kB\"\nb = 5").unwrap();
        assert_eq!((t.a.0, t.b.0), (1000, 5));
        let e = toml::from_str::<T>("a = 5\nb = 5").unwrap_err().to_string();
        assert!(e.contains("a"), "{e}");
        let e = toml::from_str::<T>("a = \"lots\"\nb = 5")
            .unwrap_err()
            .to_string();
        assert!(e.contains("lots") && e.contains("a ="), "{e}");
    }
}
