//! Times. Inside the service a time is milliseconds since the Unix epoch (UTC); sources send
//! RFC 3339 strings, and a string without an offset is local time in the deployment's zone.
//! The zone is a fixed offset (default `+08:00`): mainland China has no daylight saving.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Millis(pub i64);

pub const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an RFC 3339 time (e.g. 2026-02-18T19:30:00+08:00)")]
pub struct TimeError(pub String);

/// The deployment's zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(pub FixedOffset);

impl Default for Zone {
    fn default() -> Self {
        Zone(FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset"))
    }
}

impl Zone {
    /// Parses `+08:00`, `-05:30` or `Z`.
    pub fn parse(raw: &str) -> Option<Zone> {
        let s = raw.trim();
        if s == "Z" || s == "UTC" {
            return FixedOffset::east_opt(0).map(Zone);
        }
        let sign = match s.as_bytes().first()? {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let (h, m) = s[1..].split_once(':')?;
        let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
        FixedOffset::east_opt(sign * secs).map(Zone)
    }

    /// Parses a source time: RFC 3339 with offset, or a naive local date-time in this zone.
    pub fn parse_time(&self, raw: &str) -> Result<Millis, TimeError> {
        let s = raw.trim();
        if let Ok(t) = DateTime::parse_from_rfc3339(s) {
            return Ok(Millis(t.timestamp_millis()));
        }
        for fmt in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
        ] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(s, fmt) {
                return self.local(naive).ok_or_else(|| TimeError(raw.to_string()));
            }
        }
        if let Ok(date) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            let naive = date
                .and_hms_opt(0, 0, 0)
                .ok_or_else(|| TimeError(raw.to_string()))?;
            return self.local(naive).ok_or_else(|| TimeError(raw.to_string()));
        }
        Err(TimeError(raw.to_string()))
    }

    fn local(&self, naive: NaiveDateTime) -> Option<Millis> {
        self.0
            .from_local_datetime(&naive)
            .single()
            .map(|t| Millis(t.timestamp_millis()))
    }

    /// RFC 3339 with this zone's offset, seconds precision: `2026-02-18T19:30:00+08:00`.
    pub fn format(&self, t: Millis) -> String {
        match Utc.timestamp_millis_opt(t.0).single() {
            Some(utc) => utc
                .with_timezone(&self.0)
                .to_rfc3339_opts(SecondsFormat::Secs, false),
            None => String::new(),
        }
    }
}

/// Whole days from `from` to `to` (0 when `to` is earlier).
pub fn whole_days_between(from: Millis, to: Millis) -> i64 {
    ((to.0 - from.0) / DAY_MS).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_times_are_deployment_local() {
        let z = Zone::default();
        assert_eq!(
            z.parse_time("2026-02-18T19:30:00").unwrap(),
            z.parse_time("2026-02-18T19:30:00+08:00").unwrap()
        );
        assert_eq!(
            z.parse_time("2026-02-18T11:30:00Z").unwrap(),
            z.parse_time("2026-02-18T19:30:00+08:00").unwrap()
        );
        assert_eq!(
            z.parse_time("2026-02-18 19:30:00").unwrap(),
            z.parse_time("2026-02-18T19:30:00").unwrap()
        );
        assert!(z.parse_time("yesterday").is_err());
        assert!(z.parse_time("2026-13-01T00:00:00").is_err());
    }

    #[test]
    fn formats_with_offset() {
        let z = Zone::default();
        let t = z.parse_time("2026-02-18T11:30:00Z").unwrap();
        assert_eq!(z.format(t), "2026-02-18T19:30:00+08:00");
        assert_eq!(Zone::parse("+08:00"), Some(z));
        assert_eq!(Zone::parse("bogus"), None);
    }

    #[test]
    fn whole_days_truncate() {
        assert_eq!(whole_days_between(Millis(0), Millis(DAY_MS * 30 + 5)), 30);
        assert_eq!(whole_days_between(Millis(DAY_MS), Millis(0)), 0);
    }
}
