//! Time as plain values: the domain never reads a clock, it is handed `now`.

use std::fmt;

/// A duration in whole milliseconds (never negative).
pub type Duration = std::time::Duration;

/// A point in time: milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Self = Self(0);

    /// A timestamp from milliseconds since the Unix epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the Unix epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the Unix epoch (rounded down).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This timestamp moved forward by `d` (saturating).
    pub fn plus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// This timestamp moved back by `d` (saturating).
    pub fn minus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_sub(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    /// Time elapsed from `earlier` to `self`; zero when `earlier` is later.
    pub fn since(self, earlier: Self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.saturating_sub(earlier.0)).unwrap_or(0))
    }

    /// The civil date (year, month, day) in UTC.
    pub fn date(self) -> (i64, u32, u32) {
        civil_from_days(self.0.div_euclid(86_400_000))
    }
}

impl fmt::Display for Timestamp {
    /// ISO 8601 in UTC with second precision, e.g. `2025-06-14T10:30:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.date();
        let secs = self.0.div_euclid(1000).rem_euclid(86_400);
        write!(
            f,
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            (secs / 60) % 60,
            secs % 60
        )
    }
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Human-friendly rendering of a duration: `72h`, `5m`, `42s`, `3d 4h`.
pub fn humanize(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..360_000 => format!("{}h", secs / 3600),
        _ => format!("{}d {}h", secs / 86_400, (secs % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_render_as_utc_iso_8601() {
        let cases = [
            (0, "1970-01-01T00:00:00Z"),
            (1_749_897_000_000, "2025-06-14T10:30:00Z"),
            (951_782_400_000, "2000-02-29T00:00:00Z"),
            (-1000, "1969-12-31T23:59:59Z"),
        ];
        for (millis, text) in cases {
            assert_eq!(Timestamp::from_millis(millis).to_string(), text, "{millis}");
        }
    }

    #[test]
    fn arithmetic_saturates_instead_of_overflowing() {
        let max = Timestamp::from_millis(i64::MAX);
        assert_eq!(max.plus(Duration::from_secs(10)), max);
        let min = Timestamp::from_millis(i64::MIN);
        assert_eq!(min.minus(Duration::from_secs(10)), min);
        assert_eq!(Timestamp::EPOCH.since(max), Duration::ZERO);
    }

    #[test]
    fn durations_are_humanized_in_the_largest_sensible_unit() {
        let cases = [
            (5, "5s"),
            (300, "5m"),
            (72 * 3600, "72h"),
            (5 * 86_400 + 3600, "5d 1h"),
        ];
        for (secs, text) in cases {
            assert_eq!(humanize(Duration::from_secs(secs)), text);
        }
    }
}
