//! Lenient timestamps: AWS writes the same instant in five different ways.
//!
//! SageMaker details carry epoch milliseconds as integers, floats or numeric strings, model packages and
//! pipelines use RFC 3339, model cards add nanoseconds, and CloudWatch alarms write `+0000` offsets with no
//! colon. GuardDuty's `s3BucketDetails.createdAt` is epoch *seconds*. [`Timestamp`] accepts them all and
//! normalises to UTC; anything else is a decode error naming the field.

use std::fmt;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Epoch numbers below this are read as seconds, above it as milliseconds: 1e11 s is the year 5138, while
/// 1e11 ms is 1973, before any AWS event was ever written.
const SECONDS_MILLIS_BOUNDARY: f64 = 1e11;

/// An instant in UTC, deserialised leniently and serialised as RFC 3339 with milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// Parses any of the textual forms AWS uses: RFC 3339 (any fraction), `+0000` offsets, or an epoch number.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(parsed) = DateTime::parse_from_rfc3339(text) {
            return Some(Self(parsed.with_timezone(&Utc)));
        }
        // CloudWatch: "2024-06-05T14:20:40.125+0000"
        if let Ok(parsed) = DateTime::<FixedOffset>::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z") {
            return Some(Self(parsed.with_timezone(&Utc)));
        }
        text.parse::<f64>().ok().and_then(Self::from_epoch)
    }

    /// Reads an epoch number as seconds or milliseconds (see [`SECONDS_MILLIS_BOUNDARY`]).
    pub fn from_epoch(value: f64) -> Option<Self> {
        if !value.is_finite() || value < 0.0 {
            return None;
        }
        let millis = if value < SECONDS_MILLIS_BOUNDARY { value * 1000.0 } else { value };
        // Truncation is intended: sub-millisecond precision is noise in these events.
        #[allow(clippy::cast_possible_truncation)]
        Utc.timestamp_millis_opt(millis as i64).single().map(Self)
    }

    pub fn from_millis(millis: i64) -> Option<Self> {
        Utc.timestamp_millis_opt(millis).single().map(Self)
    }

    pub fn millis(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// RFC 3339 in UTC with milliseconds: the one form Warden writes.
    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
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

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
        Timestamp::parse(text).ok_or_else(|| E::custom(format!("invalid timestamp {text:?}")))
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
        Timestamp::from_epoch(value).ok_or_else(|| E::custom(format!("invalid epoch timestamp {value}")))
    }
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
}
