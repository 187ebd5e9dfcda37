//! Times as the contract wants them: RFC 3339 UTC in data, plain English in summaries.
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use std::sync::atomic::{AtomicI64, Ordering};

/// Seconds added to the wall clock: 0, unless a test moves the emulator's clock (Stripe's
/// time) and ours together, as the adversarial property test does across renewals.
static OFFSET: AtomicI64 = AtomicI64::new(0);

pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp() + OFFSET.load(Ordering::Relaxed)
}

/// Moves this process's clock by `secs` from the wall clock (tests only: nothing in a
/// deployment calls it, so there it is the wall clock).
#[doc(hidden)]
pub fn set_offset(secs: i64) {
    OFFSET.store(secs, Ordering::Relaxed);
}

pub fn rfc3339(unix: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
}

/// Now, to the nanosecond (audit sort keys order by it).
pub fn rfc3339_now() -> String {
    (OffsetDateTime::now_utc() + time::Duration::seconds(OFFSET.load(Ordering::Relaxed)))
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// An RFC 3339 time as unix seconds.
pub fn parse(s: &str) -> Option<i64> {
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(rfc3339(1_798_000_000).unwrap(), "2026-12-23T04:26:40Z");
        assert_eq!(parse("2026-12-23T04:26:40Z"), Some(1_798_000_000));
        assert_eq!(parse("soon"), None);
    }
}
