//! Wall-clock dates, the one place that turns UNIX seconds into civil dates and back: RFC 3339 in
//! signatures' trusted comments and `status.json`, the compact form of run ids and SigV4's
//! `x-amz-date`, `--expires` as a date or a duration from now, HTTP's `Date` and `Last-Modified`,
//! and the current UNIX time.
//!
//! Whole seconds since the UNIX epoch, UTC, from 1970 to 9999. Pure arithmetic on the proleptic
//! Gregorian calendar (Howard Hinnant's "chrono-compatible low-level date algorithms"); no time zone
//! database, no files.

use std::time::{SystemTime, UNIX_EPOCH};

/// Days from 0000-03-01 to 1970-01-01 in the March-based era arithmetic below.
const EPOCH_SHIFT_DAYS: i64 = 719_468;
/// Days in a 400-year Gregorian era.
const ERA_DAYS: i64 = 146_097;
/// Seconds in a day (leap seconds are not counted, as in UNIX time).
const DAY_SECS: i64 = 86_400;
/// The last year written or read.
const MAX_YEAR: i64 = 9999;

/// Seconds since the UNIX epoch now (0 if the clock is before 1970).
pub fn now_unix() -> u64 {
    unix(SystemTime::now())
}

/// Seconds since the UNIX epoch of `t` (0 for a clock before 1970).
pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A UTC instant split into its civil fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// Year (1970…).
    pub year: i64,
    /// Month, 1-12.
    pub month: i64,
    /// Day of the month, 1-31.
    pub day: i64,
    /// Hour, 0-23.
    pub hour: i64,
    /// Minute, 0-59.
    pub minute: i64,
    /// Second, 0-59.
    pub second: i64,
}

impl Civil {
    /// The civil UTC fields of `secs` since the UNIX epoch.
    pub fn from_unix(secs: u64) -> Civil {
        let secs = i64::try_from(secs).unwrap_or(i64::MAX);
        let rest = secs.rem_euclid(DAY_SECS);
        let (year, month, day) = civil_from_days(secs.div_euclid(DAY_SECS));
        Civil {
            year,
            month,
            day,
            hour: rest / 3600,
            minute: rest % 3600 / 60,
            second: rest % 60,
        }
    }

    /// `YYYYMMDD` (SigV4's credential scope date).
    pub fn compact_date(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// `YYYYMMDDTHHMMSSZ` (ISO 8601 basic: run ids, `x-amz-date`).
    pub fn compact(&self) -> String {
        format!(
            "{}T{:02}{:02}{:02}Z",
            self.compact_date(),
            self.hour,
            self.minute,
            self.second
        )
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` (RFC 3339, UTC, whole seconds).
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// `1970-01-01T00:00:00Z` style: RFC 3339, UTC, whole seconds.
pub fn format_rfc3339(secs: u64) -> String {
    Civil::from_unix(secs).rfc3339()
}

/// [`format_rfc3339`] of a `SystemTime`.
pub fn rfc3339(t: SystemTime) -> String {
    format_rfc3339(unix(t))
}

/// The compact UTC form of `t`: `20240501T123456Z`.
pub fn compact(t: SystemTime) -> String {
    Civil::from_unix(unix(t)).compact()
}

/// Reads an RFC 3339 date-time (`2026-12-31T00:00:00Z`, `…+02:00`, fractions ignored) or a plain
/// date (`2026-12-31`, midnight UTC).
pub fn parse_rfc3339(text: &str) -> Result<u64, String> {
    let bad =
        || format!("{text:?} is not an RFC 3339 date: write 2026-12-31 or 2026-12-31T18:00:00Z");
    let b = text.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let year = digits(&b[0..4]).ok_or_else(bad)?;
    let month = digits(&b[5..7]).ok_or_else(bad)?;
    let day = digits(&b[8..10]).ok_or_else(bad)?;
    if !(1970..=MAX_YEAR).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
    {
        return Err(bad());
    }
    let mut secs = days_from_civil(year, month, day) * DAY_SECS;
    let time = &b[10..];
    if !time.is_empty() {
        if time.len() < 10 || !matches!(time[0], b'T' | b't' | b' ') || time[3] != b':' {
            return Err(bad());
        }
        let hour = digits(&time[1..3]).ok_or_else(bad)?;
        let minute = digits(&time[4..6]).ok_or_else(bad)?;
        let second = digits(&time[7..9]).ok_or_else(bad)?;
        // RFC 3339 §5.6 allows a leap second (60).
        if time[6] != b':' || hour > 23 || minute > 59 || second > 60 {
            return Err(bad());
        }
        secs += hour * 3600 + minute * 60 + second;
        let mut zone = &time[9..];
        if zone.first() == Some(&b'.') {
            let frac = zone[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if frac == 0 {
                return Err(bad());
            }
            zone = &zone[1 + frac..];
        }
        secs -= zone_offset(zone).ok_or_else(bad)?;
    }
    u64::try_from(secs).map_err(|_| bad())
}

/// Month names of an HTTP date, in order.
const HTTP_MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// Reads an HTTP date in the IMF-fixdate form every server must send (RFC 9110 §5.6.7:
/// `Sun, 06 Nov 1994 08:49:37 GMT`); the obsolete RFC 850 and asctime forms are not read (None),
/// which only makes a `Last-Modified` unusable as a validator.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let b = text.trim().as_bytes();
    // "Sun, 06 Nov 1994 08:49:37 GMT": fixed positions.
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let sep = [b[7], b[11], b[16], b[19], b[22]];
    if sep != [b' ', b' ', b' ', b':', b':'] {
        return None;
    }
    let day = digits(&b[5..7])?;
    let month = HTTP_MONTHS.iter().position(|m| m[..] == b[8..11])? as i64 + 1;
    let year = digits(&b[12..16])?;
    let (hour, minute, second) = (
        digits(&b[17..19])?,
        digits(&b[20..22])?,
        digits(&b[23..25])?,
    );
    if !(1970..=MAX_YEAR).contains(&year)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let secs = days_from_civil(year, month, day) * DAY_SECS + hour * 3600 + minute * 60 + second;
    u64::try_from(secs).ok()
}

/// `Z`, `z` or `±HH:MM` as seconds east of UTC.
fn zone_offset(zone: &[u8]) -> Option<i64> {
    match zone {
        [b'Z' | b'z'] => Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = hours * 3600 + minutes * 60;
            Some(if *sign == b'-' { -offset } else { offset })
        }
        _ => None,
    }
}

fn digits(b: &[u8]) -> Option<i64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    b.iter().try_fold(0i64, |n, c| {
        n.checked_mul(10)?.checked_add(i64::from(c - b'0'))
    })
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date, counting years from March so the leap day comes last.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let march_month = (m + 9) % 12;
    let day_of_year = (153 * march_month + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * ERA_DAYS + day_of_era - EPOCH_SHIFT_DAYS
}

/// The civil date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + EPOCH_SHIFT_DAYS;
    let era = z.div_euclid(ERA_DAYS);
    let day_of_era = z - era * ERA_DAYS;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let march_month = (5 * day_of_year + 2) / 153;
    let d = day_of_year - (153 * march_month + 2) / 5 + 1;
    let m = if march_month < 10 {
        march_month + 3
    } else {
        march_month - 9
    };
    let y = year_of_era + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_instants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339("2000-03-01"), Ok(951_868_800));
        // `date -u -d 2026-12-31T00:00:00Z +%s`
        assert_eq!(parse_rfc3339("2026-12-31T00:00:00Z"), Ok(1_798_675_200));
        assert_eq!(
            parse_rfc3339("2026-12-31T02:00:00+02:00"),
            Ok(1_798_675_200)
        );
        assert_eq!(
            parse_rfc3339("2026-12-30t19:00:00.250-05:00"),
            Ok(1_798_675_200)
        );
        assert_eq!(format_rfc3339(1_798_675_200), "2026-12-31T00:00:00Z");
        assert_eq!(format_rfc3339(951_868_799), "2000-02-29T23:59:59Z");
        // `date -u -d @1700000000`, and the far end.
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(rfc3339(at(1_700_000_000)), "2023-11-14T22:13:20Z");
        assert_eq!(compact(at(1_700_000_000)), "20231114T221320Z");
        assert_eq!(format_rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(Civil::from_unix(1_440_672_507).compact_date(), "20150827");
    }

    #[test]
    fn reads_http_dates() {
        // RFC 9110 §5.6.7's example; `date -u -d 1994-11-06T08:49:37Z +%s`.
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Thu, 31 Dec 2026 00:00:00 GMT"),
            parse_rfc3339("2026-12-31").ok()
        );
        for bad in [
            "",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 31 Feb 1994 08:49:37 GMT",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:49:37 GMT",
        ] {
            assert_eq!(parse_http_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn round_trips_every_day_of_a_leap_cycle() {
        for day in 0..(4 * 366) {
            let secs = 1_700_000_000 + day * 86_400 + 4_321;
            assert_eq!(parse_rfc3339(&format_rfc3339(secs)), Ok(secs));
        }
    }

    #[test]
    fn refuses_impossible_dates() {
        for bad in [
            "",
            "2026-02-29",
            "2026-13-01",
            "2026-00-10",
            "1969-12-31",
            "2026-1-1",
            "2026-12-31T24:00:00Z",
            "2026-12-31T10:00:00",
            "2026-12-31T10:00Z",
            "2026-12-31T10:00:00+2:00",
            "2026-12-31T10:00:00.Z",
            "tomorrow",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
        assert!(parse_rfc3339("2024-02-29").is_ok());
    }
}
