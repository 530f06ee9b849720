//! The deploy window: deploy only between agreed times (`[deploy] window = "22:00-02:00"`), or at a given
//! time (`--at HH:MM`). Times are in UTC unless `[deploy] utc_offset` says otherwise. The arithmetic is
//! pure (it takes "now"), so it is tested without waiting.

use chrono::{DateTime, Duration as CDuration, FixedOffset, NaiveTime, Timelike};
use serde::{Deserialize, Deserializer};
use std::str::FromStr;
use std::time::Duration;

fn parse_hm(s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M")
        .map_err(|_| format!("`{s}` is not a time of day: write HH:MM, e.g. 22:00"))
}

/// A daily window `HH:MM-HH:MM`; it may wrap past midnight (`22:00-02:00`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// When deploys may start.
    pub start: NaiveTime,
    /// When they may no longer start.
    pub end: NaiveTime,
}

impl FromStr for Window {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (a, b) = s.split_once('-').ok_or_else(|| {
            format!("`{s}` is not a deploy window: write HH:MM-HH:MM, e.g. 22:00-02:00")
        })?;
        let w = Window {
            start: parse_hm(a)?,
            end: parse_hm(b)?,
        };
        if w.start == w.end {
            return Err(format!(
                "deploy window `{s}` is empty: start and end differ, e.g. 22:00-02:00"
            ));
        }
        Ok(w)
    }
}

impl<'de> Deserialize<'de> for Window {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

impl Window {
    /// True when `t` is inside the window.
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            t >= self.start && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// How long to wait from `now` until the window opens (zero when it is open).
    pub fn wait_from(&self, now: DateTime<FixedOffset>) -> Duration {
        let t = now.time().with_nanosecond(0).unwrap_or(now.time());
        if self.contains(t) {
            Duration::ZERO
        } else {
            until(now, self.start)
        }
    }
}

/// How long from `now` until the next `at` (today if still ahead, else tomorrow; zero when it is now,
/// to the minute).
pub fn until(now: DateTime<FixedOffset>, at: NaiveTime) -> Duration {
    let today = now.date_naive().and_time(at);
    let now_naive = now.naive_local();
    if now_naive.time().hour() == at.hour() && now_naive.time().minute() == at.minute() {
        return Duration::ZERO;
    }
    let target = if today > now_naive {
        today
    } else {
        today + CDuration::days(1)
    };
    (target - now_naive).to_std().unwrap_or(Duration::ZERO)
}

/// A wait for people: `2.0s`, `4m05s`, `5h45m`.
pub fn human_wait(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else {
        crate::output::human_duration(d)
    }
}

/// A time of day for `--at HH:MM`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At(pub NaiveTime);

impl FromStr for At {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hm(s).map(At)
    }
}

/// A UTC offset (`+02:00`, `-05:00`, `UTC`) for interpreting windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offset(pub FixedOffset);

impl Default for Offset {
    fn default() -> Self {
        Offset(FixedOffset::east_opt(0).expect("zero offset"))
    }
}

impl FromStr for Offset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Offset::default());
        }
        let bad =
            || format!("`{s}` is not a UTC offset: write +HH:MM or -HH:MM, e.g. +01:00, or UTC");
        let (sign, rest) = match t.as_bytes().first() {
            Some(b'+') => (1, &t[1..]),
            Some(b'-') => (-1, &t[1..]),
            _ => return Err(bad()),
        };
        let (h, m) = rest.split_once(':').ok_or_else(bad)?;
        let h: i32 = h.parse().map_err(|_| bad())?;
        let m: i32 = m.parse().map_err(|_| bad())?;
        if h > 14 || m > 59 {
            return Err(bad());
        }
        FixedOffset::east_opt(sign * (h * 3600 + m * 60))
            .map(Offset)
            .ok_or_else(bad)
    }
}

impl<'de> Deserialize<'de> for Offset {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl std::fmt::Display for Offset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.local_minus_utc() == 0 {
            f.write_str("UTC")
        } else {
            write!(f, "UTC{}", self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    #[test]
    fn wrapping_window() {
        let w: Window = "22:00-02:00".parse().unwrap();
        assert_eq!(w.wait_from(at("2026-01-01T23:30:00+00:00")), Duration::ZERO);
        assert_eq!(w.wait_from(at("2026-01-01T01:59:00+00:00")), Duration::ZERO);
        assert_eq!(
            w.wait_from(at("2026-01-01T02:00:00+00:00")),
            Duration::from_secs(20 * 3600)
        );
        assert_eq!(
            w.wait_from(at("2026-01-01T21:15:00+00:00")),
            Duration::from_secs(45 * 60)
        );
    }

    #[test]
    fn plain_window_and_offsets() {
        let w: Window = "09:00-17:00".parse().unwrap();
        assert_eq!(w.wait_from(at("2026-01-01T12:00:00+01:00")), Duration::ZERO);
        assert_eq!(
            w.wait_from(at("2026-01-01T18:00:00+01:00")),
            Duration::from_secs(15 * 3600)
        );
        let o: Offset = "+01:00".parse().unwrap();
        assert_eq!(o.0.local_minus_utc(), 3600);
        assert!("01:00".parse::<Offset>().is_err());
        assert!("25:00-02:00".parse::<Window>().is_err());
        assert!("22:00".parse::<Window>().is_err());
    }

    #[test]
    fn at_time() {
        let now = at("2026-01-01T21:59:30+00:00");
        assert_eq!(
            until(now, NaiveTime::from_hms_opt(22, 0, 0).unwrap()),
            Duration::from_secs(30)
        );
        assert_eq!(
            until(now, NaiveTime::from_hms_opt(21, 59, 0).unwrap()),
            Duration::ZERO
        );
        assert_eq!(
            until(now, NaiveTime::from_hms_opt(21, 0, 0).unwrap()),
            Duration::from_secs(23 * 3600 + 30)
        );
    }
}
