//! One signal type for every source: what happened, to which resources, how bad, when, and its semantic
//! identity (the idempotency key).

mod cloudwatch;
mod config;
mod guardduty;
mod macie;
mod sagemaker;

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::resource::Resource;
use crate::severity::{Band, Severity};

use crate::event::cloudwatch::DriftKind;
use crate::event::{Detail, Event};
use crate::time::Timestamp;

/// What kind of governance signal this is; policy rules match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignalClass {
    /// GuardDuty findings.
    Threat,
    /// GuardDuty Malware Protection for S3 scan results.
    Malware,
    /// Macie sensitive-data (classification) findings.
    SensitiveData,
    /// Macie policy findings.
    DataPolicy,
    /// Config rule compliance changes.
    Compliance,
    /// Config configuration item changes.
    ConfigChange,
    /// Model quality: drift and bias alarms (Model Monitor, Clarify) and Warden drift events.
    Drift,
    /// Endpoint health: alarms on SageMaker's own endpoint metrics (5XX, latency, errors).
    Health,
    /// A CloudWatch alarm about nothing Warden can tie to a model (EC2, Lambda, ...): recorded at info.
    UnrelatedAlarm,
    /// Endpoint state and deployment changes.
    Endpoint,
    /// Model package approval changes.
    ModelApproval,
    Training,
    /// Processing jobs, including Model Monitor runs.
    Monitoring,
    Pipeline,
    ModelCard,
}

impl SignalClass {
    pub const ALL: [Self; 15] = [
        Self::Threat,
        Self::Malware,
        Self::SensitiveData,
        Self::DataPolicy,
        Self::Compliance,
        Self::ConfigChange,
        Self::Drift,
        Self::Health,
        Self::UnrelatedAlarm,
        Self::Endpoint,
        Self::ModelApproval,
        Self::Training,
        Self::Monitoring,
        Self::Pipeline,
        Self::ModelCard,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Threat => "threat",
            Self::Malware => "malware",
            Self::SensitiveData => "sensitive-data",
            Self::DataPolicy => "data-policy",
            Self::Compliance => "compliance",
            Self::ConfigChange => "config-change",
            Self::Drift => "drift",
            Self::Health => "health",
            Self::UnrelatedAlarm => "unrelated-alarm",
            Self::Endpoint => "endpoint",
            Self::ModelApproval => "model-approval",
            Self::Training => "training",
            Self::Monitoring => "monitoring",
            Self::Pipeline => "pipeline",
            Self::ModelCard => "model-card",
        }
    }
}

impl fmt::Display for SignalClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A GuardDuty or Macie finding's identity and occurrence count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingRef {
    pub id: String,
    pub count: u64,
    /// Archived (resolved or suppressed) findings close what they opened.
    pub archived: bool,
}

/// A drift measurement to compare with the policy's per-tier threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriftMeasure {
    pub kind: DriftKind,
    pub metric: String,
    pub value: f64,
}

/// The normalised form of every event Warden consumes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    pub source: String,
    pub detail_type: String,
    pub event_id: String,
    pub class: SignalClass,
    /// The source's own name for what happened: a finding type, a status, an alarm state.
    pub kind: String,
    /// One line for people: what happened and to what.
    pub summary: String,
    pub resources: Vec<Resource>,
    pub severity: Severity,
    pub occurred_at: Timestamp,
    /// Semantic identity: equal for duplicate deliveries, different for a new occurrence.
    pub idempotency_key: String,
    pub finding: Option<FindingRef>,
    pub drift: Option<DriftMeasure>,
    /// Where a person can see the finding or resource in the AWS console.
    pub console_url: Option<String>,
    /// A sample finding (`create-sample-findings`, Macie's samples): recorded as such, never acted on.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sample: bool,
    /// Where the resources live: only a model placed there can be affected.
    #[serde(default, skip_serializing_if = "crate::placement::Placement::is_unknown")]
    pub placement: crate::placement::Placement,
}

/// The longest resource name Warden accepts: AWS names are at most 255 characters and ARNs 2048, and these
/// become ledger keys (DynamoDB's partition key holds 2048 bytes, with a prefix).
pub const MAX_RESOURCE_CHARS: usize = 1024;
/// The longest one-line summary kept; longer free text (a failure reason) is cut.
pub const MAX_SUMMARY_CHARS: usize = 1000;
/// An idempotency key longer than this keeps a digest of its natural part instead.
const MAX_KEY_CHARS: usize = 512;

impl Signal {
    /// Whether this could be SageMaker reporting a change Warden's break-glass made (an approval status, an
    /// endpoint's state): only then is Warden's last change to the targets read.
    pub fn may_report_warden_change(&self) -> bool {
        matches!(self.class, SignalClass::ModelApproval | SignalClass::Endpoint)
    }

    /// What repeated alerts are about, for the re-notify window: a finding (by id, across occurrences) or an
    /// alarm (by name, across flaps). `None`: every alert stands on its own.
    pub fn alert_key(&self) -> Option<String> {
        if let Some(finding) = &self.finding {
            return Some(format!("finding#{}", finding.id));
        }
        match (self.class, self.drift.is_none(), self.source.as_str()) {
            (
                SignalClass::Drift | SignalClass::Health | SignalClass::UnrelatedAlarm,
                true,
                "aws.cloudwatch" | "aws.monitoring",
            ) => self.alarm_name().map(|alarm| match &self.placement {
                // Alarm names are chosen per account: the same name in two accounts or regions is two alarms, and
                // one must not silence the other's page.
                place if place.is_unknown() => format!("alarm#{alarm}"),
                place => format!("alarm#{}#{alarm}", place.key()),
            }),
            _ => None,
        }
    }

    /// An alarm's name, from its idempotency key (`<source>#[<account>/<region>#]<alarm>#<state>#<time>`).
    fn alarm_name(&self) -> Option<&str> {
        let natural = self.idempotency_key.split_once('#')?.1;
        let prefix = format!("{}#", self.placement.key());
        natural.strip_prefix(prefix.as_str()).unwrap_or(natural).split('#').next()
    }

    pub fn band(&self) -> Band {
        self.severity.band()
    }

    /// The endpoints this signal names directly.
    pub fn endpoints(&self) -> impl Iterator<Item = &str> {
        self.resources.iter().filter_map(|r| match r {
            Resource::Endpoint(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// Normalises a decoded event. Total: every supported event gives a signal.
    pub fn from_event(event: &Event) -> Self {
        Self::from_event_at(event, &crate::placement::Placement::default())
    }

    /// [`Signal::from_event`] for a Warden governing from `home`. An event from elsewhere has its account and region
    /// in its idempotency key: alarm, drift and Config keys are names and times, and the same endpoint's hourly
    /// monitor in two accounts would otherwise make the second account's breach a duplicate. Home's keys, and
    /// findings' (their ids are unique, and the member's and the administrator's delivery must stay one event),
    /// are unchanged.
    pub fn from_event_at(event: &Event, home: &crate::placement::Placement) -> Self {
        let parts = describe(event);
        let place = event.placement();
        let elsewhere = !home.is_unknown() && place.or_home(home) != *home && parts.finding.is_none();
        let natural_key = if elsewhere { format!("{}#{}", place.key(), parts.natural_key) } else { parts.natural_key };
        let natural_key = if natural_key.len() > MAX_KEY_CHARS {
            format!("sha256:{}", crate::digest::content_digest(natural_key.as_bytes()))
        } else {
            natural_key
        };
        Self {
            source: event.source.clone(),
            detail_type: event.detail_type.clone(),
            event_id: crate::event::bounded(&event.id, 256),
            class: parts.class,
            idempotency_key: format!("{}#{natural_key}", event.source),
            kind: crate::event::bounded(&parts.kind, 256),
            summary: crate::event::bounded(&parts.summary, MAX_SUMMARY_CHARS),
            resources: dedup(parts.resources),
            severity: parts.severity,
            occurred_at: parts.occurred_at.unwrap_or(event.time),
            finding: parts.finding,
            drift: parts.drift,
            console_url: console_url(event),
            sample: is_sample(event),
            placement: place,
        }
    }

    /// What is too long to be an AWS name or id, among the names Warden keys the ledger by or writes into decisions
    /// (resources, the finding id, the drift metric). Such an event is rejected rather than cut: a cut name would
    /// be another name.
    pub fn oversized(&self) -> Option<String> {
        let too_long = |text: &str| text.chars().count() > MAX_RESOURCE_CHARS;
        let resource = self.resources.iter().find(|r| too_long(r.id())).map(|r| format!("the {} name", r.kind_name()));
        resource
            .or_else(|| self.finding.as_ref().filter(|f| too_long(&f.id)).map(|_| "a finding id".to_owned()))
            .or_else(|| self.drift.as_ref().filter(|d| too_long(&d.metric)).map(|_| "a drift metric name".to_owned()))
    }
}

fn is_sample(event: &Event) -> bool {
    match &event.detail {
        Detail::GuardDutyFinding(d) => d.sample(),
        Detail::MacieFinding(d) => d.sample,
        _ => false,
    }
}

/// A console link to the finding or resource, in the event's region (each source module knows its own).
fn console_url(event: &Event) -> Option<String> {
    let region = event
        .region
        .as_deref()
        .filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))?;
    let base = format!("https://{region}.console.aws.amazon.com");
    match &event.detail {
        Detail::GuardDutyFinding(d) => Some(guardduty::finding_console(d, &base, region)),
        Detail::MalwareScanResult(d) => Some(guardduty::malware_console(d, &base, region)),
        Detail::MacieFinding(d) => Some(macie::finding_console(d, &base, region)),
        Detail::ConfigComplianceChange(d) => Some(config::compliance_console(d, &base, region)),
        Detail::ConfigItemChange(d) => config::item_console(d, &base, region),
        Detail::AlarmStateChange(d) => Some(cloudwatch::alarm_console(d, &base, region)),
        Detail::WardenDrift(d) => Some(sagemaker::endpoint_console(&d.endpoint_name, &base, region)),
        Detail::EndpointStateChange(d) | Detail::EndpointDeploymentStateChange(d) => {
            Some(sagemaker::endpoint_console(&d.endpoint_name, &base, region))
        }
        Detail::ModelPackageStateChange(d) => Some(sagemaker::model_package_console(d, &base, region)),
        Detail::TrainingJobStateChange(d) => Some(sagemaker::training_job_console(d, &base, region)),
        Detail::ProcessingJobStateChange(d) => Some(sagemaker::processing_job_console(d, &base, region)),
        Detail::PipelineExecutionStatusChange(_) => Some(format!("{base}/sagemaker/home?region={region}#/pipelines")),
        Detail::ModelCardStateChange(d) => Some(sagemaker::model_card_console(d, &base, region)),
    }
}

/// Percent-encodes text for a URL fragment or query (RFC 3986 unreserved characters kept).
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn dedup(mut resources: Vec<Resource>) -> Vec<Resource> {
    let mut seen = std::collections::BTreeSet::new();
    resources.retain(|r| seen.insert(r.clone()));
    resources
}

/// The per-source facts a signal is built from.
struct Parts {
    class: SignalClass,
    kind: String,
    summary: String,
    resources: Vec<Resource>,
    severity: Severity,
    occurred_at: Option<Timestamp>,
    natural_key: String,
    finding: Option<FindingRef>,
    drift: Option<DriftMeasure>,
}

impl Parts {
    fn new(
        class: SignalClass,
        kind: impl Into<String>,
        summary: String,
        severity: Severity,
        natural_key: String,
    ) -> Self {
        Self {
            class,
            kind: kind.into(),
            summary,
            resources: Vec::new(),
            severity,
            occurred_at: None,
            natural_key,
            finding: None,
            drift: None,
        }
    }
}

pub(super) fn opt_time(time: Option<Timestamp>) -> String {
    time.map(|t| t.millis().to_string()).unwrap_or_default()
}

/// A short digest for keys built from values that must not be stored in the clear (object keys).
fn digest(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

/// The model a `warden:model` tag names, trimmed as the inventory reads it (a padded tag must find the same model).
fn tagged_model(tags: &std::collections::BTreeMap<String, String>) -> Option<Resource> {
    tags.get(crate::resource::TAG_MODEL).map(|m| Resource::Model(m.trim().to_owned()))
}

fn describe(event: &Event) -> Parts {
    match &event.detail {
        Detail::ModelPackageStateChange(d) => sagemaker::model_package_state_change(d),
        Detail::EndpointStateChange(d) | Detail::EndpointDeploymentStateChange(d) => {
            sagemaker::endpoint_state_change(d, matches!(event.detail, Detail::EndpointDeploymentStateChange(_)))
        }
        Detail::TrainingJobStateChange(d) => sagemaker::training_job_state_change(d),
        Detail::ProcessingJobStateChange(d) => sagemaker::processing_job_state_change(d),
        Detail::PipelineExecutionStatusChange(d) => sagemaker::pipeline_execution_status_change(d),
        Detail::ModelCardStateChange(d) => sagemaker::model_card_state_change(d),
        Detail::ConfigComplianceChange(d) => config::config_compliance_change(d),
        Detail::ConfigItemChange(d) => config::config_item_change(d),
        Detail::MacieFinding(d) => macie::macie_finding(d),
        Detail::MalwareScanResult(d) => guardduty::malware_scan_result(d),
        Detail::AlarmStateChange(d) => cloudwatch::alarm_state_change(d),
        Detail::WardenDrift(d) => cloudwatch::warden_drift(d),
        Detail::GuardDutyFinding(d) => guardduty::guardduty_finding(d),
    }
}

fn occurrence_note(count: u64) -> String {
    if count > 1 { format!(", occurrence {count}") } else { String::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::{arn_name, package_group_of};
    use sagemaker::s3_bucket_of;

    #[test]
    fn bands_follow_guardduty() {
        let cases = [
            (0.0, Band::Info),
            (1.0, Band::Low),
            (3.9, Band::Low),
            (4.0, Band::Medium),
            (6.9, Band::Medium),
            (7.0, Band::High),
            (8.9, Band::High),
            (9.0, Band::Critical),
            (10.0, Band::Critical),
        ];
        for (score, band) in cases {
            assert_eq!(Severity::new(score).band(), band, "score {score}");
        }
        assert_eq!(Severity::new(42.0).band(), Band::Critical);
        assert_eq!(Severity::new(f64::NAN).band(), Band::Medium);
    }

    #[test]
    fn macie_scores_map_to_bands() {
        assert_eq!(Severity::from_macie(1.0).band(), Band::Low);
        assert_eq!(Severity::from_macie(2.0).band(), Band::Medium);
        assert_eq!(Severity::from_macie(3.0).band(), Band::High);
    }

    #[test]
    fn arn_helpers() {
        assert_eq!(arn_name("arn:aws:iam::1:role/path/fraud-exec"), "fraud-exec");
        assert_eq!(package_group_of("arn:aws:sagemaker:us-east-1:1:model-package/fraud/12"), Some("fraud"));
        assert_eq!(s3_bucket_of("s3://data/a/b"), Some("data"));
        assert_eq!(s3_bucket_of("https://x"), None);
    }
}
