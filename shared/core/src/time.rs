//! Lenient, bounded timestamps: AWS writes the same instant in five different ways, and a hostile sender can
//! write any instant at all.
//!
//! SageMaker details carry epoch milliseconds as integers, floats or numeric strings, model packages and
//! pipelines use RFC 3339, model cards add nanoseconds, and CloudWatch alarms write `+0000` offsets with no
//! colon. GuardDuty's `s3BucketDetails.createdAt` is epoch *seconds*. [`Timestamp`] accepts them all and
//! normalises to UTC; anything else is a decode error naming the field.
//!
//! Two bounds keep a bad instant out of the ledger:
//! - **representable**: a [`Timestamp`] only ever holds 1970-01-01 to 9999-12-31 UTC, the range its RFC 3339
//!   form can be written in and read back. Every constructor checks it, so no value can be stored that cannot be
//!   read again (a year-10000 instant would be written `+10000-...` and stop every later read);
//! - **plausible**, while an event is decoded ([`DecodeWindow`]): not before 2006 (older than any AWS event) and
//!   not more than a day after the moment the event is recorded. A timestamp outside it is a decode error naming
//!   its JSON path, never a value decided on.

use std::cell::Cell;
use std::fmt;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Epoch numbers below this are read as seconds, above it as milliseconds: 1e11 s is the year 5138, while
/// 1e11 ms is 1973, before any AWS event was ever written.
const SECONDS_MILLIS_BOUNDARY: f64 = 1e11;

/// 1970-01-01T00:00:00Z.
const MIN_MILLIS: i64 = 0;
/// 9999-12-31T23:59:59.999Z: the last instant RFC 3339 can write with a four-digit year.
const MAX_MILLIS: i64 = 253_402_300_799_999;
/// 2006-01-01T00:00:00Z: before Amazon S3, so before any event Warden reads.
const EARLIEST_EVENT_MILLIS: i64 = 1_136_073_600_000;
/// How far after the moment of recording an event's timestamps may lie (clock skew, time zones mistaken).
const MAX_AHEAD_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// An instant in UTC between 1970 and 9999, deserialised leniently and serialised as RFC 3339 with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    /// The earliest representable instant (the Unix epoch).
    pub const MIN: Self = Self(DateTime::UNIX_EPOCH);

    /// Now, by the system clock.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now()).unwrap_or(Self::MIN)
    }

    /// `instant`, if it is representable (1970 to 9999).
    pub fn from_datetime(instant: DateTime<Utc>) -> Option<Self> {
        (MIN_MILLIS..=MAX_MILLIS).contains(&instant.timestamp_millis()).then_some(Self(instant))
    }

    pub fn datetime(&self) -> DateTime<Utc> {
        self.0
    }

    /// Parses any of the textual forms AWS uses: RFC 3339 (any fraction), `+0000` offsets, or an epoch number.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
            return Self::from_datetime(parsed.with_timezone(&Utc));
        }
        // CloudWatch: "2024-06-05T14:20:40.125+0000"
        if let Ok(parsed) = DateTime::<FixedOffset>::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z") {
            return Self::from_datetime(parsed.with_timezone(&Utc));
        }
        text.parse::<f64>().ok().and_then(Self::from_epoch)
    }

    /// Reads an epoch number as seconds or milliseconds (see [`SECONDS_MILLIS_BOUNDARY`]).
    pub fn from_epoch(value: f64) -> Option<Self> {
        if !value.is_finite() || value < 0.0 {
            return None;
        }
        let millis = if value < SECONDS_MILLIS_BOUNDARY { value * 1000.0 } else { value };
        #[allow(clippy::cast_precision_loss)]
        if millis > MAX_MILLIS as f64 {
            return None;
        }
        // Truncation is intended (and in range, checked above): sub-millisecond precision is noise here.
        #[allow(clippy::cast_possible_truncation)]
        Self::from_millis(millis as i64)
    }

    pub fn from_millis(millis: i64) -> Option<Self> {
        if !(MIN_MILLIS..=MAX_MILLIS).contains(&millis) {
            return None;
        }
        Utc.timestamp_millis_opt(millis).single().map(Self)
    }

    pub fn millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// This instant moved by `minutes` (negative: earlier), if the result is representable.
    pub fn plus_minutes(&self, minutes: i64) -> Option<Self> {
        Self::from_millis(self.millis().checked_add(minutes.checked_mul(60_000)?)?)
    }

    /// Whole minutes from `earlier` to `self` (negative when `earlier` is later).
    pub fn minutes_since(&self, earlier: Self) -> i64 {
        (self.0 - earlier.0).num_minutes()
    }

    /// RFC 3339 in UTC with milliseconds: the one form Warden writes.
    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    /// Why this instant cannot be an event's, while a [`DecodeWindow`] is open on this thread.
    fn implausible(&self) -> Option<&'static str> {
        let recorded = DECODE_WINDOW.get()?;
        if self.millis() < EARLIEST_EVENT_MILLIS {
            Some("a timestamp before 2006-01-01, older than any AWS event")
        } else if self.millis() > recorded.millis().saturating_add(MAX_AHEAD_MILLIS) {
            Some("a timestamp more than a day after the event was recorded")
        } else {
            None
        }
    }

    /// Checks this instant against the open [`DecodeWindow`], if any.
    pub fn check_plausible(&self) -> Result<(), &'static str> {
        self.implausible().map_or(Ok(()), Err)
    }
}

thread_local! {
    /// The moment the event being decoded on this thread is recorded; `None` outside a decode.
    static DECODE_WINDOW: Cell<Option<Timestamp>> = const { Cell::new(None) };
}

/// While alive, every [`Timestamp`] deserialised on this thread must be plausible for an event recorded at the
/// given moment. Decoding is synchronous, so the window never spans an `.await`; the guard restores the
/// previous window when dropped.
#[derive(Debug)]
pub struct DecodeWindow {
    previous: Option<Timestamp>,
}

impl DecodeWindow {
    pub fn open(recorded_at: Timestamp) -> Self {
        Self { previous: DECODE_WINDOW.replace(Some(recorded_at)) }
    }
}

impl Drop for DecodeWindow {
    fn drop(&mut self) {
        DECODE_WINDOW.set(self.previous);
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl Visitor<'_> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a timestamp (RFC 3339, or epoch seconds/milliseconds as a number or string)")
    }

    // Messages say what is wrong, never the value: a rejected input's text is recorded and alerted, and the value
    // may be anything a sender chose (huge, or sensitive).
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
        plausible(Timestamp::parse(text).ok_or_else(|| {
            E::custom("expected a timestamp between 1970 and 9999 (RFC 3339, or epoch seconds/milliseconds)")
        })?)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Timestamp, E> {
        #[allow(clippy::cast_precision_loss)]
        self.visit_f64(value as f64)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Timestamp, E> {
        #[allow(clippy::cast_precision_loss)]
        self.visit_f64(value as f64)
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Timestamp, E> {
        plausible(
            Timestamp::from_epoch(value).ok_or_else(|| {
                E::custom("expected a timestamp: epoch seconds or milliseconds between 1970 and 9999")
            })?,
        )
    }
}

fn plausible<E: de::Error>(time: Timestamp) -> Result<Timestamp, E> {
    time.check_plausible().map_err(E::custom)?;
    Ok(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_json(json: &str) -> Result<Timestamp, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn accepts_every_form_aws_writes() -> Result<(), serde_json::Error> {
        let expected = "2024-06-05T14:20:40.125Z";
        for json in [
            r#""2024-06-05T14:20:40.125Z""#,
            r#""2024-06-05T14:20:40.125+0000""#,
            r#""2024-06-05T16:20:40.125+02:00""#,
            r#""2024-06-05T14:20:40.125000000Z""#,
            "1717597240125",
            "1717597240125.0",
            r#""1717597240125""#,
            "1717597240.125",
        ] {
            assert_eq!(from_json(json)?.to_string(), expected, "input {json}");
        }
        Ok(())
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for json in [r#""yesterday""#, "-5", "true", r#""""#, "null"] {
            assert!(from_json(json).is_err(), "{json} must be rejected");
        }
    }

    #[test]
    fn holds_only_what_it_can_write_and_read_back() -> Result<(), serde_json::Error> {
        // The year-10000 instant that once poisoned the ledger, as epoch ms, RFC 3339 and seconds.
        for json in ["253402300800000", r#""+10000-01-01T00:00:00Z""#, r#""253402300800000""#, "1e300"] {
            let error = from_json(json).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains("between 1970 and 9999"), "{json}: {error:?}");
            assert!(!error.contains("10000") && !error.contains("2534"), "the value is not echoed: {error}");
        }
        let last = from_json("253402300799999")?;
        assert_eq!(from_json(&serde_json::to_string(&last)?)?, last, "the last instant reads back");
        assert!(Timestamp::from_millis(253_402_300_800_000).is_none());
        assert!(Timestamp::MIN.plus_minutes(-1).is_none());
        assert!(last.plus_minutes(1).is_none());
        Ok(())
    }

    #[test]
    fn a_decode_window_rejects_implausible_event_times() -> Result<(), serde_json::Error> {
        let recorded = from_json(r#""2026-11-02T12:00:00Z""#)?;
        let _window = DecodeWindow::open(recorded);
        assert!(from_json(r#""2026-11-03T11:59:00Z""#).is_ok(), "within a day ahead");
        assert!(from_json(r#""2006-01-01T00:00:00Z""#).is_ok());
        for (json, why) in [
            (r#""2026-11-03T12:00:01Z""#, "more than a day after"),
            ("4102444800000", "more than a day after"),
            (r#""2005-12-31T23:59:59Z""#, "before 2006"),
            ("86400", "before 2006"),
        ] {
            let error = from_json(json).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(error.contains(why), "{json}: {error:?}");
        }
        Ok(())
    }

    #[test]
    fn the_window_closes_with_its_guard() -> Result<(), serde_json::Error> {
        {
            let _window = DecodeWindow::open(Timestamp::MIN);
            assert!(from_json(r#""2026-11-02T12:00:00Z""#).is_err());
        }
        assert!(from_json(r#""2026-11-02T12:00:00Z""#).is_ok(), "stored timestamps are read without a window");
        Ok(())
    }
}
