//! Emulator time (wall clock plus an advanceable offset) and billing-interval arithmetic.

use std::time::{SystemTime, UNIX_EPOCH};

use time::{Date, Month, OffsetDateTime};

pub fn wall_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn now(offset: i64) -> i64 {
    wall_now() + offset
}

/// `ts` moved by `count` intervals; months keep the anchor's day, clamped to the month's end
/// (Jan 31 → Feb 28/29 → Mar 31), as Stripe bills.
pub fn add_interval(ts: i64, interval: &str, count: i64) -> i64 {
    match interval {
        "day" => ts + count * 86_400,
        "week" => ts + count * 7 * 86_400,
        "year" => add_months(ts, count * 12),
        _ => add_months(ts, count),
    }
}

fn add_months(ts: i64, months: i64) -> i64 {
    let Ok(dt) = OffsetDateTime::from_unix_timestamp(ts) else {
        return ts + months * 30 * 86_400;
    };
    let total = dt.year() as i64 * 12 + (dt.month() as i64 - 1) + months;
    let year = (total.div_euclid(12)) as i32;
    let month_index = total.rem_euclid(12) as u8 + 1;
    let Ok(month) = Month::try_from(month_index) else {
        return ts;
    };
    let mut day = dt.day();
    let date = loop {
        match Date::from_calendar_date(year, month, day) {
            Ok(d) => break d,
            Err(_) if day > 28 => day -= 1,
            Err(_) => return ts,
        }
    };
    date.with_time(dt.time()).assume_utc().unix_timestamp()
}

/// The first period boundary after `current_end`, counted from the billing anchor.
pub fn next_period_end(anchor: i64, current_end: i64, interval: &str, count: i64) -> i64 {
    let count = count.max(1);
    let mut k = 1;
    loop {
        let t = add_interval(anchor, interval, count * k);
        if t > current_end || k > 100_000 {
            return t;
        }
        k += 1;
    }
}

pub fn current_year(offset: i64) -> i32 {
    OffsetDateTime::from_unix_timestamp(now(offset))
        .map(|d| d.year())
        .unwrap_or(2026)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_clamp_to_month_end() {
        // 2025-01-31T12:00:00Z
        let jan31 = 1_738_324_800;
        let feb = add_interval(jan31, "month", 1);
        assert_eq!(
            OffsetDateTime::from_unix_timestamp(feb).map(|d| (d.month() as u8, d.day())),
            Ok((2, 28))
        );
        let mar = next_period_end(jan31, feb, "month", 1);
        assert_eq!(
            OffsetDateTime::from_unix_timestamp(mar).map(|d| (d.month() as u8, d.day())),
            Ok((3, 31))
        );
        assert_eq!(add_interval(jan31, "day", 2), jan31 + 172_800);
        assert_eq!(
            OffsetDateTime::from_unix_timestamp(add_interval(jan31, "year", 1)).map(|d| d.year()),
            Ok(2026)
        );
    }
}
