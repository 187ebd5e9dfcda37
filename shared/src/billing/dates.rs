//! Dates as a bot says them: in the tenant's time zone when it set one, otherwise in UTC
//! and saying so, because a bare date can be a day off for the reader.
use jiff::Timestamp;
use jiff::tz::TimeZone;

#[derive(Debug, Clone)]
pub struct Dates {
    zone: Option<TimeZone>,
}

impl Dates {
    /// `zone` is an IANA name such as `Europe/Berlin`; an unknown name falls back to UTC.
    pub fn new(zone: Option<&str>) -> Self {
        let zone = zone.filter(|z| !z.is_empty()).and_then(|z| {
            TimeZone::get(z)
                .inspect_err(|_| tracing::warn!(zone = z, "unknown tenant time zone; using UTC"))
                .ok()
        });
        Self { zone }
    }

    pub fn utc() -> Self {
        Self { zone: None }
    }

    /// "December 22, 2026" in the tenant's zone, or "December 22, 2026 (UTC)".
    pub fn date(&self, unix: i64) -> String {
        let Ok(ts) = Timestamp::from_second(unix) else {
            return "an unknown date".into();
        };
        let zone = self.zone.clone().unwrap_or(TimeZone::UTC);
        let day = ts
            .to_zoned_datetime(zone)
            .strftime("%B %-d, %Y")
            .to_string();
        if self.zone.is_some() {
            day
        } else {
            format!("{day} (UTC)")
        }
    }

    /// "14:05" in the tenant's zone, or "14:05 UTC": a time of day, for what happened moments
    /// ago.
    pub fn time(&self, unix: i64) -> String {
        let Ok(ts) = Timestamp::from_second(unix) else {
            return "an unknown time".into();
        };
        let zone = self.zone.clone().unwrap_or(TimeZone::UTC);
        let at = ts.to_zoned_datetime(zone).strftime("%H:%M").to_string();
        if self.zone.is_some() {
            at
        } else {
            format!("{at} UTC")
        }
    }

    pub fn maybe(&self, unix: Option<i64>) -> String {
        unix.map(|t| self.date(t))
            .unwrap_or_else(|| "an unknown date".into())
    }
}

/// Whether `zone` names a time zone this build knows.
pub fn known_zone(zone: &str) -> bool {
    TimeZone::get(zone).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn says_utc_unless_the_tenant_has_a_zone() {
        // 2026-12-23T04:26:40Z is still December 22 in Los Angeles.
        assert_eq!(Dates::utc().date(1_798_000_000), "December 23, 2026 (UTC)");
        assert_eq!(
            Dates::new(Some("America/Los_Angeles")).date(1_798_000_000),
            "December 22, 2026"
        );
        assert_eq!(
            Dates::new(Some("Not/AZone")).date(1_798_000_000),
            "December 23, 2026 (UTC)"
        );
        assert!(known_zone("Europe/Berlin") && !known_zone("Mars/Olympus"));
    }
}
