//! Rate budgets as windows: the arithmetic every backend shares.
//!
//! A backend keeps one timestamp per granted call and per account; this module decides from
//! those timestamps whether one more call fits in every window, and which old timestamps no
//! window can count any more (so the backend may delete them and the rows stay bounded by the
//! largest limit).
//!
//! A window of fixed length is *sliding*: at any instant, the calls granted in the last `length`
//! are at most `limit`. That keeps us under the provider's limit whether the provider counts in
//! sliding windows or in windows aligned to the clock (any aligned window lies inside some
//! sliding one). A calendar month is counted from the first day of the month, 00:00 UTC, as
//! plans that sell "N requests per month" reset on the calendar.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Datelike as _, TimeZone as _, Utc};

/// The length of a rate window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Period {
    /// A sliding window of this length.
    Fixed(Duration),
    /// The calendar month in UTC, from day 1 at 00:00.
    CalendarMonth,
}

impl Period {
    pub const SECOND: Period = Period::Fixed(Duration::from_secs(1));
    pub const MINUTE: Period = Period::Fixed(Duration::from_secs(60));
    pub const HOUR: Period = Period::Fixed(Duration::from_secs(3600));
    pub const DAY: Period = Period::Fixed(Duration::from_secs(86_400));
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Period::SECOND => f.write_str("second"),
            Period::MINUTE => f.write_str("minute"),
            Period::HOUR => f.write_str("hour"),
            Period::DAY => f.write_str("day"),
            Period::Fixed(d) => write!(f, "{} ms", d.as_millis()),
            Period::CalendarMonth => f.write_str("calendar month"),
        }
    }
}

/// At most `limit` calls per `period`. A limit of 0 allows no call at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub period: Period,
    pub limit: u32,
}

impl Window {
    pub const fn new(period: Period, limit: u32) -> Window {
        Window { period, limit }
    }

    pub const fn per_second(limit: u32) -> Window {
        Window::new(Period::SECOND, limit)
    }

    pub const fn per_minute(limit: u32) -> Window {
        Window::new(Period::MINUTE, limit)
    }

    pub const fn per_hour(limit: u32) -> Window {
        Window::new(Period::HOUR, limit)
    }

    pub const fn per_month(limit: u32) -> Window {
        Window::new(Period::CalendarMonth, limit)
    }

    /// The first instant (ms since the epoch, inclusive) whose grants count at `now`.
    fn since(&self, now: i64) -> i64 {
        match self.period {
            Period::Fixed(d) => now.saturating_sub(millis(d)).saturating_add(1),
            Period::CalendarMonth => month_start(now, 0),
        }
    }

    /// When one unit of this window frees up, given the grants it counts (oldest first).
    fn frees_at(&self, counted: &[i64], now: i64) -> i64 {
        match self.period {
            Period::CalendarMonth => month_start(now, 1),
            Period::Fixed(d) => {
                // To get below the limit, the oldest `count - limit + 1` grants must leave.
                let leaving = (counted.len() + 1).saturating_sub(self.limit as usize);
                match leaving.checked_sub(1).and_then(|i| counted.get(i)) {
                    Some(&at) => at.saturating_add(millis(d)),
                    None => now.saturating_add(millis(d)),
                }
            }
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} per {}", self.limit, self.period)
    }
}

/// The answer of a budget to one more call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquire {
    /// The call fits in every window and has been counted.
    Granted,
    /// `window` is full until `until` (the latest of the full windows); nothing was counted.
    WaitUntil { until: DateTime<Utc>, window: Window },
}

/// What is left of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowUsage {
    /// What the window counts: `calls` (the account's calls), or `logins` (its login calls,
    /// for providers whose contract limits those apart).
    pub scope: &'static str,
    pub window: Window,
    pub used: u32,
    pub remaining: u32,
    /// When the next unit frees up (`None` while nothing is used).
    pub frees_at: Option<DateTime<Utc>>,
}

/// Grants older than this (ms since the epoch) count in none of `windows` at `now` or later.
pub(crate) fn keep_since(windows: &[Window], now: i64) -> i64 {
    windows.iter().map(|w| w.since(now)).min().unwrap_or(i64::MAX)
}

/// The grants `window` counts at `now`, out of all the grants kept (sorted, oldest first).
fn counted<'a>(window: &Window, grants: &'a [i64], now: i64) -> &'a [i64] {
    let since = window.since(now);
    &grants[grants.partition_point(|&at| at < since)..]
}

/// Whether one more call fits at `now`, given the grants kept (sorted, oldest first).
pub(crate) fn decide(windows: &[Window], grants: &[i64], now: i64) -> Acquire {
    let mut blocked: Option<(i64, Window)> = None;
    for window in windows {
        let counted = counted(window, grants, now);
        if counted.len() >= window.limit as usize {
            let until = window.frees_at(counted, now);
            if blocked.is_none_or(|(latest, _)| until > latest) {
                blocked = Some((until, *window));
            }
        }
    }
    match blocked {
        None => Acquire::Granted,
        Some((until, window)) => Acquire::WaitUntil { until: time(until), window },
    }
}

/// What is left of each window at `now`, given the grants kept (sorted, oldest first).
pub(crate) fn usage(windows: &[Window], grants: &[i64], now: i64) -> Vec<WindowUsage> {
    windows
        .iter()
        .map(|window| {
            let counted = counted(window, grants, now);
            let used = u32::try_from(counted.len()).unwrap_or(u32::MAX);
            let frees_at = match window.period {
                _ if counted.is_empty() => None,
                Period::CalendarMonth => Some(month_start(now, 1)),
                Period::Fixed(d) => Some(counted[0].saturating_add(millis(d))),
            };
            WindowUsage {
                scope: "calls",
                window: *window,
                used,
                remaining: window.limit.saturating_sub(used),
                frees_at: frees_at.map(time),
            }
        })
        .collect()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Milliseconds since the epoch as a time (out-of-range values clamp to the epoch).
pub(crate) fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// The start (ms) of the UTC calendar month `ahead` months after the one holding `now`.
fn month_start(now: i64, ahead: u32) -> i64 {
    let now = time(now);
    let months = now.year() * 12 + now.month0() as i32 + ahead as i32;
    Utc.with_ymd_and_hms(months.div_euclid(12), months.rem_euclid(12) as u32 + 1, 1, 0, 0, 0)
        .single()
        .map_or(i64::MAX, |t| t.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
    }

    #[test]
    fn sliding_window_frees_the_oldest_grant_first() {
        let w = [Window::per_second(2)];
        let grants = [1_000, 1_400];
        assert_eq!(decide(&w, &grants[..1], 1_500), Acquire::Granted);
        assert_eq!(
            decide(&w, &grants, 1_500),
            Acquire::WaitUntil { until: time(2_000), window: w[0] }
        );
        // At 2_000 the grant at 1_000 is exactly one second old and no longer counts.
        assert_eq!(decide(&w, &grants, 2_000), Acquire::Granted);
        assert_eq!(
            decide(&w, &grants, 1_999),
            Acquire::WaitUntil { until: time(2_000), window: w[0] }
        );
    }

    #[test]
    fn the_latest_full_window_decides_the_wait() {
        let w = [Window::per_second(1), Window::per_minute(2)];
        let grants = [0, 30_000];
        assert_eq!(
            decide(&w, &grants, 30_500),
            Acquire::WaitUntil { until: time(60_000), window: w[1] }
        );
    }

    #[test]
    fn a_lowered_limit_waits_for_enough_grants_to_leave() {
        let w = [Window::per_minute(2)];
        let grants = [0, 10_000, 20_000, 30_000];
        // Four counted, limit two: the three oldest must leave; the third leaves at 80 s.
        assert_eq!(
            decide(&w, &grants, 40_000),
            Acquire::WaitUntil { until: time(80_000), window: w[0] }
        );
    }

    #[test]
    fn zero_limit_never_grants() {
        let w = [Window::per_hour(0)];
        assert_eq!(decide(&w, &[], 5), Acquire::WaitUntil { until: time(3_600_005), window: w[0] });
        let m = [Window::per_month(0)];
        let now = ms("2025-02-10T12:00:00Z");
        assert_eq!(
            decide(&m, &[], now),
            Acquire::WaitUntil { until: time(ms("2025-03-01T00:00:00Z")), window: m[0] }
        );
    }

    #[test]
    fn calendar_month_counts_from_the_first_in_utc_and_rolls_over_the_year() {
        let w = [Window::per_month(2)];
        let grants =
            [ms("2024-11-30T23:59:59Z"), ms("2024-12-01T00:00:00Z"), ms("2024-12-31T10:00:00Z")];
        let now = ms("2024-12-31T23:00:00Z");
        assert_eq!(
            decide(&w, &grants, now),
            Acquire::WaitUntil { until: time(ms("2025-01-01T00:00:00Z")), window: w[0] }
        );
        assert_eq!(decide(&w, &grants, ms("2025-01-01T00:00:00Z")), Acquire::Granted);
        assert_eq!(keep_since(&w, now), ms("2024-12-01T00:00:00Z"));
    }

    #[test]
    fn keep_since_is_the_oldest_start_of_any_window() {
        let w = [Window::per_second(4), Window::per_hour(80)];
        assert_eq!(keep_since(&w, 10_000_000), 10_000_000 - 3_600_000 + 1);
        assert_eq!(keep_since(&[], 10), i64::MAX, "no window keeps nothing");
        assert_eq!(decide(&[], &[], 10), Acquire::Granted);
    }

    #[test]
    fn usage_reports_used_remaining_and_when_a_unit_frees() {
        let w = [Window::per_second(4), Window::per_month(80)];
        let now = ms("2025-06-15T12:00:00Z");
        let grants = [ms("2025-05-31T12:00:00Z"), now - 5_000, now - 500, now - 100];
        let u = usage(&w, &grants, now);
        assert_eq!((u[0].used, u[0].remaining), (2, 2));
        assert_eq!(u[0].frees_at, Some(time(now + 500)));
        assert_eq!((u[1].used, u[1].remaining), (3, 77));
        assert_eq!(u[1].frees_at, Some(time(ms("2025-07-01T00:00:00Z"))));
        let idle = usage(&w, &[], now);
        assert_eq!((idle[0].used, idle[0].remaining, idle[0].frees_at), (0, 4, None));
    }

    #[test]
    fn windows_read_as_the_contract_writes_them() {
        assert_eq!(Window::per_second(4).to_string(), "4 per second");
        assert_eq!(Window::per_month(80).to_string(), "80 per calendar month");
        assert_eq!(
            Window::new(Period::Fixed(Duration::from_secs(90)), 3).to_string(),
            "3 per 90000 ms"
        );
    }
}
