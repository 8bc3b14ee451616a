//! Decoding EventBridge events into typed details.
//!
//! The envelope is `aws_lambda_events`' [`EventBridgeEvent`]; each supported `(source, detail-type)` pair has
//! its own detail struct. Decoding never panics: bad JSON, an unsupported pair and a malformed field are each a
//! [`DecodeError`] variant, and a malformed field names its JSON path (`detail.resource.s3BucketDetails[0].name`).

pub mod cloudwatch;
pub mod config;
pub mod guardduty;
pub mod macie;
pub mod sagemaker;

use aws_lambda_events::eventbridge::EventBridgeEvent;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::placement::{Placement, placement_problem};

use crate::time::{DecodeWindow, Timestamp};

/// Source of Warden's own events (drift from monitors other than Model Monitor).
pub const WARDEN_MONITOR_SOURCE: &str = "warden.monitor";

/// Every supported `(source, detail-type)` pair, in the order the README documents them.
pub const SUPPORTED: &[(&str, &str)] = &[
    ("aws.sagemaker", "SageMaker Model Package State Change"),
    ("aws.sagemaker", "SageMaker Endpoint State Change"),
    ("aws.sagemaker", "SageMaker Endpoint Deployment State Change"),
    ("aws.sagemaker", "SageMaker Training Job State Change"),
    ("aws.sagemaker", "SageMaker Processing Job State Change"),
    ("aws.sagemaker", "SageMaker Model Building Pipeline Execution Status Change"),
    ("aws.sagemaker", "SageMaker Model Card State Change"),
    ("aws.config", "Config Rules Compliance Change"),
    ("aws.config", "Config Configuration Item Change"),
    ("aws.macie", "Macie Finding"),
    ("aws.guardduty", "GuardDuty Finding"),
    ("aws.guardduty", "GuardDuty Malware Protection Object Scan Result"),
    ("aws.cloudwatch", "CloudWatch Alarm State Change"),
    (WARDEN_MONITOR_SOURCE, "Warden Drift Detected"),
];

/// A decoded event: the envelope fields Warden uses and the typed detail.
#[derive(Debug, Clone)]
pub struct Event {
    /// Envelope id; unique per delivery, so not an idempotency key on its own.
    pub id: String,
    pub source: String,
    pub detail_type: String,
    pub account: Option<String>,
    pub region: Option<String>,
    /// Required and plausible: an event with no usable time is rejected rather than dated 1970.
    pub time: Timestamp,
    pub resources: Vec<String>,
    pub detail: Detail,
}

/// The typed detail of each supported event.
#[derive(Debug, Clone)]
pub enum Detail {
    ModelPackageStateChange(sagemaker::ModelPackageStateChange),
    EndpointStateChange(sagemaker::EndpointStateChange),
    EndpointDeploymentStateChange(sagemaker::EndpointStateChange),
    TrainingJobStateChange(sagemaker::TrainingJobStateChange),
    ProcessingJobStateChange(sagemaker::ProcessingJobStateChange),
    PipelineExecutionStatusChange(sagemaker::PipelineExecutionStatusChange),
    ModelCardStateChange(sagemaker::ModelCardStateChange),
    ConfigComplianceChange(config::ComplianceChange),
    ConfigItemChange(config::ConfigurationItemChange),
    MacieFinding(macie::MacieFinding),
    GuardDutyFinding(guardduty::GuardDutyFinding),
    MalwareScanResult(guardduty::MalwareScanResult),
    AlarmStateChange(cloudwatch::AlarmStateChange),
    WardenDrift(cloudwatch::WardenDrift),
}

/// Why an input is not a Warden event. Permanent: retrying the same bytes cannot succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not valid JSON: {0}")]
    NotJson(String),
    #[error("not an EventBridge event: at {path}: {message}")]
    Envelope { path: String, message: String },
    #[error(
        "unsupported event: source {event_source:?} with detail-type {detail_type:?} (supported: see `warden --help` or the README)"
    )]
    Unsupported { event_source: String, detail_type: String },
    #[error("malformed {detail_type:?} event: at {path}: {message}")]
    Malformed { detail_type: String, path: String, message: String },
    /// A value outside its source's documented range. Never decided on (clamping it could cut off an endpoint),
    /// and news in itself: AWS has widened such ranges before.
    #[error(
        "{detail_type:?} event out of range: at {path}: expected {expected}; Warden does not decide on a value it cannot interpret"
    )]
    OutOfRange {
        detail_type: String,
        path: String,
        expected: String,
        /// A sample finding's value: still not decided on, but a sample never pages above info.
        sample: bool,
    },
}

impl DecodeError {
    /// A stable, machine-readable name for the kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotJson(_) => "not-json",
            Self::Envelope { .. } => "not-an-event",
            Self::Unsupported { .. } => "unsupported",
            Self::Malformed { .. } => "malformed",
            Self::OutOfRange { .. } => "out-of-range",
        }
    }

    /// How loudly a rejection pages: a finding Warden cannot interpret may be a real threat in a new shape.
    pub fn alert_level(&self) -> crate::severity::Band {
        match self {
            Self::OutOfRange { sample: false, .. } => crate::severity::Band::High,
            Self::OutOfRange { sample: true, .. } => crate::severity::Band::Info,
            _ => crate::severity::Band::Low,
        }
    }
}

/// The longest error text kept: errors are recorded and alerted, and must fit any ledger item with room to spare.
pub const MAX_ERROR_CHARS: usize = 600;

/// `text` cut to at most `max` characters (with `…` when cut), control characters shown as `?`: for anything from
/// an input that ends up in an error, a record or an alert.
pub fn bounded(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).map(|c| if c.is_control() { '?' } else { c }).collect();
    if text.chars().nth(max).is_some() {
        out.pop();
        out.push('…');
    }
    out
}

/// Whether text from an input looks like a name (a source, a detail-type, a field name), safe to repeat in an
/// error: at most 64 characters of letters, digits, spaces and `._-:/()`, with at most six digits and no run of
/// five (AWS names have hardly any; an account, card or phone number has many). Anything else is not repeated.
pub fn is_plain_name(text: &str) -> bool {
    let (mut run, mut digits) = (0, 0);
    !text.is_empty()
        && text.len() <= 64
        && text.chars().all(|c| {
            run = if c.is_ascii_digit() { run + 1 } else { 0 };
            digits += usize::from(c.is_ascii_digit());
            run < 5 && digits <= 6 && (c.is_ascii_alphanumeric() || " ._-:/()".contains(c))
        })
}

/// `text` when it [is a plain name](is_plain_name), else a placeholder that says why it is not shown.
pub fn shown(text: &str) -> String {
    if is_plain_name(text) { text.to_owned() } else { "(not shown: not a plain name)".to_owned() }
}

/// A serde error message without the offending value: serde writes `invalid type: string "<value>", expected X`,
/// `invalid value: integer `<value>``, `unknown variant `<value>``. The value may be huge or sensitive, and a
/// rejection is recorded and alerted; the path and what was expected say enough to fix the sender.
pub fn without_value(message: &str) -> String {
    let (head, expected) = match message.rfind(", expected ") {
        Some(at) => message.split_at(at),
        None => (message, ""),
    };
    let kind = |unexpected: &str| -> String {
        let end = unexpected.find([' ', '`', '"']).unwrap_or(unexpected.len());
        match &unexpected[..end] {
            "string" => "a string".into(),
            "integer" => "an integer".into(),
            "floating" => "a number".into(),
            "boolean" => "a boolean".into(),
            "character" => "a character".into(),
            other => bounded(other, 40),
        }
    };
    let head = if let Some(rest) = head.strip_prefix("invalid type: ") {
        format!("invalid type: {}", kind(rest))
    } else if let Some(rest) = head.strip_prefix("invalid value: ") {
        format!("invalid value: {}", kind(rest))
    } else if head.starts_with("unknown variant") {
        "unknown value".to_owned()
    } else if let Some(rest) = head.strip_prefix("unknown field ") {
        // A field name is the sender's key: repeat a plain one (it names a typo), nothing else.
        let name = rest.trim_matches('`');
        if is_plain_name(name) { format!("unknown field `{name}`") } else { "unknown field".to_owned() }
    } else {
        head.to_owned()
    };
    bounded(&format!("{head}{expected}"), MAX_ERROR_CHARS)
}

/// `#[serde(default, deserialize_with = "null_as_default")]`: AWS sends `null` as often as it omits an empty
/// list or map, and both mean "none".
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Decodes one event from JSON bytes, recorded at `recorded_at` (timestamps must be plausible for it).
pub fn decode_slice(bytes: &[u8], recorded_at: Timestamp) -> Result<Event, DecodeError> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| DecodeError::NotJson(bounded(&e.to_string(), MAX_ERROR_CHARS)))?;
    decode_value(value, recorded_at)
}

/// Decodes one event from a parsed JSON value, recorded at `recorded_at`: every timestamp in it must lie between
/// 2006 and a day after `recorded_at`, or the event is rejected naming the field.
pub fn decode_value(mut value: Value, recorded_at: Timestamp) -> Result<Event, DecodeError> {
    let _window = DecodeWindow::open(recorded_at);
    if !value.is_object() {
        return Err(DecodeError::Envelope { path: ".".into(), message: "expected a JSON object".into() });
    }
    let time = envelope_time(&mut value)?;
    let envelope: EventBridgeEvent<Value> = serde_path_to_error::deserialize(value).map_err(|e| {
        let message = e.inner().to_string();
        DecodeError::Envelope { path: path_of(e.path(), "", &message), message: without_value(&message) }
    })?;
    let source = envelope.source.clone();
    let detail_type = envelope.detail_type.clone();
    let detail = decode_detail(&source, &detail_type, envelope.detail)?;
    let event = Event {
        id: envelope.id.unwrap_or_default(),
        source,
        detail_type,
        account: envelope.account,
        region: envelope.region,
        time,
        resources: envelope.resources.unwrap_or_default(),
        detail,
    };
    // Correlation and every action key on the account and region: a malformed one is refused, not matched.
    if let Some(message) = placement_problem(event.account.as_deref(), event.region.as_deref()) {
        return Err(DecodeError::Envelope { path: "account/region".into(), message });
    }
    if let Some(message) =
        event.finding_placement().and_then(|p| placement_problem(p.account.as_deref(), p.region.as_deref()))
    {
        return Err(DecodeError::Malformed {
            detail_type: event.detail_type.clone(),
            path: "detail.accountId/detail.region".into(),
            message,
        });
    }
    Ok(event)
}

impl Event {
    /// Where the event's resources live: a GuardDuty or Macie finding's own account and region (a delegated
    /// administrator receives its members' findings under its own account), else the envelope's.
    pub fn placement(&self) -> Placement {
        let envelope = Placement::new(self.account.clone(), self.region.clone());
        match self.finding_placement() {
            Some(finding) => {
                Placement { account: finding.account.or(envelope.account), region: finding.region.or(envelope.region) }
            }
            None => envelope,
        }
    }

    fn finding_placement(&self) -> Option<Placement> {
        match &self.detail {
            Detail::GuardDutyFinding(f) => Some(Placement::new(f.account_id.clone(), f.region.clone())),
            Detail::MacieFinding(f) => Some(Placement::new(f.account_id.clone(), f.region.clone())),
            _ => None,
        }
    }
}

fn decode_detail(source: &str, detail_type: &str, detail: Value) -> Result<Detail, DecodeError> {
    use Detail as D;
    Ok(match (source, detail_type) {
        ("aws.sagemaker", "SageMaker Model Package State Change") => {
            D::ModelPackageStateChange(typed_detail(detail_type, detail)?)
        }
        ("aws.sagemaker", "SageMaker Endpoint State Change") => {
            D::EndpointStateChange(typed_detail(detail_type, detail)?)
        }
        ("aws.sagemaker", "SageMaker Endpoint Deployment State Change") => {
            D::EndpointDeploymentStateChange(typed_detail(detail_type, detail)?)
        }
        ("aws.sagemaker", "SageMaker Training Job State Change") => {
            D::TrainingJobStateChange(typed_detail(detail_type, detail)?)
        }
        ("aws.sagemaker", "SageMaker Processing Job State Change") => {
            D::ProcessingJobStateChange(typed_detail(detail_type, detail)?)
        }
        ("aws.sagemaker", "SageMaker Model Building Pipeline Execution Status Change") => {
            D::PipelineExecutionStatusChange(typed_detail(detail_type, detail)?)
        }
        ("aws.sagemaker", "SageMaker Model Card State Change") => {
            D::ModelCardStateChange(typed_detail(detail_type, detail)?)
        }
        ("aws.config", "Config Rules Compliance Change") => {
            D::ConfigComplianceChange(typed_detail(detail_type, detail)?)
        }
        ("aws.config", "Config Configuration Item Change") => {
            if detail.get("configurationItem").is_some_and(Value::is_array) {
                return Err(DecodeError::Malformed {
                    detail_type: detail_type.to_owned(),
                    path: "detail.configurationItem".into(),
                    message: "a list: this is AWS Config's pre-2015 SNS notification form, not an EventBridge event; \
                              deliver Config to Warden through an EventBridge rule"
                        .into(),
                });
            }
            let change: config::ConfigurationItemChange = typed_detail(detail_type, detail)?;
            if change.item().is_none() {
                return Err(DecodeError::Malformed {
                    detail_type: detail_type.to_owned(),
                    path: "detail.configurationItem".into(),
                    message: "missing both configurationItem and configurationItemSummary".into(),
                });
            }
            D::ConfigItemChange(change)
        }
        ("aws.macie", "Macie Finding") => {
            let finding: macie::MacieFinding = typed_detail(detail_type, detail)?;
            in_range(detail_type, finding.out_of_range(), finding.sample)?;
            D::MacieFinding(finding)
        }
        ("aws.guardduty", "GuardDuty Finding") => {
            let finding: guardduty::GuardDutyFinding = typed_detail(detail_type, detail)?;
            in_range(detail_type, finding.out_of_range(), finding.sample())?;
            D::GuardDutyFinding(finding)
        }
        ("aws.guardduty", "GuardDuty Malware Protection Object Scan Result") => {
            D::MalwareScanResult(typed_detail(detail_type, detail)?)
        }
        // CloudWatch's samples and real rules say aws.cloudwatch; the EventBridge reference says aws.monitoring.
        ("aws.cloudwatch" | "aws.monitoring", "CloudWatch Alarm State Change") => {
            D::AlarmStateChange(typed_detail(detail_type, detail)?)
        }
        (WARDEN_MONITOR_SOURCE, "Warden Drift Detected") => D::WardenDrift(typed_detail(detail_type, detail)?),
        _ => {
            return Err(DecodeError::Unsupported { event_source: shown(source), detail_type: shown(detail_type) });
        }
    })
}

/// A documented range a decoded value lies outside: its JSON path and what the source documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfRange {
    pub path: &'static str,
    pub expected: &'static str,
}

fn in_range(detail_type: &str, problem: Option<OutOfRange>, sample: bool) -> Result<(), DecodeError> {
    match problem {
        None => Ok(()),
        Some(OutOfRange { path, expected }) => Err(DecodeError::OutOfRange {
            detail_type: detail_type.to_owned(),
            path: path.to_owned(),
            expected: expected.to_owned(),
            sample,
        }),
    }
}

/// Decodes an event's `detail` into its type: a fault is [`DecodeError::Malformed`] naming the JSON path, with the
/// message stripped of the offending value. Shared by every decoder, break-glass's included.
pub fn typed_detail<T: DeserializeOwned>(detail_type: &str, detail: Value) -> Result<T, DecodeError> {
    if !detail.is_object() {
        return Err(DecodeError::Malformed {
            detail_type: detail_type.to_owned(),
            path: "detail".into(),
            message: format!("expected an object, found {}", json_kind(&detail)),
        });
    }
    serde_path_to_error::deserialize(detail).map_err(|e| {
        let message = e.inner().to_string();
        DecodeError::Malformed {
            detail_type: detail_type.to_owned(),
            path: path_of(e.path(), "detail", &message),
            message: without_value(&message),
        }
    })
}

/// The JSON path at fault. For a missing field, serde reports the parent; name the field itself.
fn path_of(path: &serde_path_to_error::Path, prefix: &str, message: &str) -> String {
    let mut inner = path.to_string();
    if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
        inner = if matches!(inner.as_str(), "." | "") { field.to_owned() } else { format!("{inner}.{field}") };
    }
    // Map keys in the path are the sender's: a key that is not a plain name (long, spaced, odd characters) is shown
    // as `<key>`, so the path names where the fault is without repeating what was sent.
    let plain = |segment: &str| is_plain_name(&segment.replace(['[', ']'], ""));
    let inner = bounded(
        &inner.split('.').map(|segment| if plain(segment) { segment } else { "<key>" }).collect::<Vec<_>>().join("."),
        200,
    );
    match (prefix.is_empty(), inner.as_str()) {
        (true, "." | "") => ".".to_owned(),
        (true, _) => inner,
        (false, "." | "") => prefix.to_owned(),
        (false, _) if inner.starts_with('[') => format!("{prefix}{inner}"),
        (false, _) => format!("{prefix}.{inner}"),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The envelope `time`: RFC 3339 in real events, but AWS's own SageMaker sample has epoch milliseconds. Reads
/// any form [`Timestamp`] understands, requires it to be plausible, and rewrites it as RFC 3339 for the envelope
/// type. An event without a usable time is rejected: dating it 1970 would misplace it in every history.
fn envelope_time(value: &mut Value) -> Result<Timestamp, DecodeError> {
    let invalid = |message: &str| DecodeError::Envelope { path: "time".into(), message: message.to_owned() };
    let time = value.get_mut("time").ok_or_else(|| invalid("missing field `time`"))?;
    let parsed = match &*time {
        Value::String(text) => Timestamp::parse(text),
        Value::Number(number) => number.as_f64().and_then(Timestamp::from_epoch),
        _ => None,
    }
    .ok_or_else(|| invalid("expected a timestamp between 1970 and 9999 (RFC 3339, or epoch milliseconds)"))?;
    parsed.check_plausible().map_err(invalid)?;
    *time = Value::String(parsed.to_rfc3339());
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_errors_lose_their_values() {
        let secret = "4111-1111-1111-1111";
        for (message, expected) in [
            (
                format!("invalid type: string \"{secret}, expected x\", expected f64"),
                "invalid type: a string, expected f64",
            ),
            (format!("invalid value: integer `{secret}`, expected u8"), "invalid value: an integer, expected u8"),
            (format!("invalid type: floating point `{secret}`, expected u64"), "invalid type: a number, expected u64"),
            (
                format!("unknown variant `{secret}`, expected one of `A`, `B`"),
                "unknown value, expected one of `A`, `B`",
            ),
            (
                "unknown field `score`, expected one of `value`".to_owned(),
                "unknown field `score`, expected one of `value`",
            ),
            (format!("unknown field `{secret} {secret}`, expected `value`"), "unknown field, expected `value`"),
            ("unknown field `4111111111111111`, expected `value`".to_owned(), "unknown field, expected `value`"),
            ("missing field `id`".to_owned(), "missing field `id`"),
        ] {
            assert_eq!(without_value(&message), expected, "{message}");
        }
        assert!(without_value(&"x".repeat(300_000)).chars().count() <= MAX_ERROR_CHARS);
    }

    #[test]
    fn only_plain_names_are_repeated() {
        for name in
            ["aws.securityhub", "Security Hub Findings - Imported", "LastModifiedTime", "s3BucketDetails", "2026"]
        {
            assert!(is_plain_name(name), "{name}");
        }
        for text in ["4111111111111111", "card 4111 1111 1111 1111x12345", "", "x\ny", &"a".repeat(65), "a\u{202e}b"] {
            assert!(!is_plain_name(text), "{text:?}");
        }
    }

    #[test]
    fn bounded_cuts_and_cleans() {
        assert_eq!(bounded("abc", 3), "abc");
        assert_eq!(bounded("abcd", 3), "ab…");
        assert_eq!(bounded("a\nb", 5), "a?b");
    }
}
