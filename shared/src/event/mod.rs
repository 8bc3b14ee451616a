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

use crate::time::Timestamp;

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
    pub time: Option<Timestamp>,
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
}

impl DecodeError {
    /// A stable, machine-readable name for the kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotJson(_) => "not-json",
            Self::Envelope { .. } => "not-an-event",
            Self::Unsupported { .. } => "unsupported",
            Self::Malformed { .. } => "malformed",
        }
    }
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

/// Decodes one event from JSON bytes.
pub fn decode_slice(bytes: &[u8]) -> Result<Event, DecodeError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| DecodeError::NotJson(e.to_string()))?;
    decode_value(value)
}

/// Decodes one event from a parsed JSON value.
pub fn decode_value(mut value: Value) -> Result<Event, DecodeError> {
    if !value.is_object() {
        return Err(DecodeError::Envelope { path: ".".into(), message: "expected a JSON object".into() });
    }
    normalise_envelope_time(&mut value);
    let envelope: EventBridgeEvent<Value> = serde_path_to_error::deserialize(value).map_err(|e| {
        let message = e.inner().to_string();
        DecodeError::Envelope { path: path_of(e.path(), "", &message), message }
    })?;
    let source = envelope.source.clone();
    let detail_type = envelope.detail_type.clone();
    let detail = decode_detail(&source, &detail_type, envelope.detail)?;
    Ok(Event {
        id: envelope.id.unwrap_or_default(),
        source,
        detail_type,
        account: envelope.account,
        region: envelope.region,
        time: envelope.time.map(Timestamp),
        resources: envelope.resources.unwrap_or_default(),
        detail,
    })
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
        ("aws.macie", "Macie Finding") => D::MacieFinding(typed_detail(detail_type, detail)?),
        ("aws.guardduty", "GuardDuty Finding") => D::GuardDutyFinding(typed_detail(detail_type, detail)?),
        ("aws.guardduty", "GuardDuty Malware Protection Object Scan Result") => {
            D::MalwareScanResult(typed_detail(detail_type, detail)?)
        }
        // CloudWatch's samples and real rules say aws.cloudwatch; the EventBridge reference says aws.monitoring.
        ("aws.cloudwatch" | "aws.monitoring", "CloudWatch Alarm State Change") => {
            D::AlarmStateChange(typed_detail(detail_type, detail)?)
        }
        (WARDEN_MONITOR_SOURCE, "Warden Drift Detected") => D::WardenDrift(typed_detail(detail_type, detail)?),
        _ => {
            return Err(DecodeError::Unsupported {
                event_source: source.to_owned(),
                detail_type: detail_type.to_owned(),
            });
        }
    })
}

fn typed_detail<T: DeserializeOwned>(detail_type: &str, detail: Value) -> Result<T, DecodeError> {
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
            message,
        }
    })
}

/// The JSON path at fault. For a missing field, serde reports the parent; name the field itself.
fn path_of(path: &serde_path_to_error::Path, prefix: &str, message: &str) -> String {
    let mut inner = path.to_string();
    if let Some(field) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
        inner = if matches!(inner.as_str(), "." | "") { field.to_owned() } else { format!("{inner}.{field}") };
    }
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

/// The envelope `time` is RFC 3339 in real events, but AWS's own SageMaker sample has epoch milliseconds.
/// Rewrite any form [`Timestamp`] understands to RFC 3339, and leave the rest for the envelope to reject.
fn normalise_envelope_time(value: &mut Value) {
    let Some(time) = value.get_mut("time") else {
        return;
    };
    let parsed = match &*time {
        Value::String(text) => Timestamp::parse(text),
        Value::Number(number) => number.as_f64().and_then(Timestamp::from_epoch),
        _ => None,
    };
    if let Some(parsed) = parsed {
        *time = Value::String(parsed.to_rfc3339());
    }
}
