//! Timestamps, always UTC, with microsecond precision on every backend.

use std::fmt;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A point in time, in UTC, truncated to microseconds so both databases store it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    pub fn from_datetime(at: OffsetDateTime) -> Self {
        let at = at.to_offset(time::UtcOffset::UTC);
        let micros = at.nanosecond() / 1_000 * 1_000;
        Self(
            at.replace_nanosecond(micros)
                .expect("a truncated nanosecond is in range"),
        )
    }

    /// Parses RFC 3339 (`2026-11-28T10:00:00+03:00`) or a bare date (`2026-11-28`, midnight UTC).
    ///
    /// # Errors
    /// When the text is neither.
    pub fn parse(text: &str) -> Result<Self, super::Invalid> {
        if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
            return Ok(Self::from_datetime(at));
        }
        let date_format = time::macros::format_description!("[year]-[month]-[day]");
        time::Date::parse(text, &date_format)
            .map(|d| Self(d.midnight().assume_utc()))
            .map_err(|_| super::Invalid(format!("'{text}' is not a date or an RFC 3339 time")))
    }

    pub fn as_datetime(&self) -> OffsetDateTime {
        self.0
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The time `secs` seconds later (earlier when negative), saturating at the calendar's
    /// ends.
    #[must_use]
    pub fn plus_secs(&self, secs: i64) -> Self {
        Self(
            self.0
                .checked_add(time::Duration::seconds(secs))
                .unwrap_or(self.0),
        )
    }

    /// # Errors
    /// When `secs` is outside the calendar's range.
    pub fn from_unix(secs: i64) -> Result<Self, super::Invalid> {
        OffsetDateTime::from_unix_timestamp(secs)
            .map(Self::from_datetime)
            .map_err(|e| super::Invalid(format!("{e}")))
    }

    /// Fixed-width text (`2026-11-28T10:00:00.000000Z`) that sorts in time order, as SQLite
    /// stores it.
    pub fn to_sortable_text(&self) -> String {
        let format = time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        );
        self.0.format(&format).expect("a UTC time formats")
    }

    /// Parses the text written by [`Timestamp::to_sortable_text`] (or any RFC 3339 time).
    ///
    /// # Errors
    /// When the text is not such a time.
    pub fn from_sortable_text(text: &str) -> Result<Self, time::error::Parse> {
        OffsetDateTime::parse(text, &Rfc3339).map(Self::from_datetime)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.format(&Rfc3339).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sortable_text_round_trips_and_sorts() {
        let a = Timestamp::parse("2026-11-28T10:00:00Z").unwrap();
        let b = Timestamp::parse("2026-11-28T10:00:00.5Z").unwrap();
        assert!(a.to_sortable_text() < b.to_sortable_text());
        assert_eq!(
            Timestamp::from_sortable_text(&b.to_sortable_text()).unwrap(),
            b
        );
    }

    #[test]
    fn offsets_are_normalised_to_utc() {
        let istanbul = Timestamp::parse("2026-11-28T13:00:00+03:00").unwrap();
        assert_eq!(istanbul.to_string(), "2026-11-28T10:00:00Z");
        assert_eq!(
            Timestamp::parse("2026-11-28").unwrap().to_string(),
            "2026-11-28T00:00:00Z"
        );
    }
}
