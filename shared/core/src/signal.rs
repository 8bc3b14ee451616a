//! One signal type for every source: what happened, to which resources, how bad, when, and its semantic
//! identity (the idempotency key).

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::resource::{Resource, arn_name};
use crate::severity::{Band, Severity};

use crate::event::cloudwatch::{AlarmConcern, AlarmStateValue, DriftKind};
use crate::event::config::ComplianceType;
use crate::event::guardduty::{GuardDutyFinding, ResourceKind};
use crate::event::macie::MacieCategory;
use crate::event::sagemaker::EndpointStatus;
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
            ) => self.idempotency_key.split('#').nth(1).map(|alarm| format!("alarm#{alarm}")),
            _ => None,
        }
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
        let parts = describe(event);
        let natural_key = if parts.natural_key.len() > MAX_KEY_CHARS {
            format!("sha256:{}", crate::digest::content_digest(parts.natural_key.as_bytes()))
        } else {
            parts.natural_key
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

/// A console link to the finding or resource, in the event's region.
fn console_url(event: &Event) -> Option<String> {
    let region = event
        .region
        .as_deref()
        .filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))?;
    let base = format!("https://{region}.console.aws.amazon.com");
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                other => format!("%{other:02X}"),
            })
            .collect()
    };
    Some(match &event.detail {
        Detail::GuardDutyFinding(d) => {
            format!("{base}/guardduty/home?region={region}#/findings?macros=current&fId={}", encode(&d.id))
        }
        Detail::MacieFinding(d) => format!("{base}/macie/home?region={region}#findings?search=id%3D{}", encode(&d.id)),
        Detail::MalwareScanResult(d) => {
            format!("{base}/s3/buckets/{}?region={region}", encode(&d.s3_object_details.bucket_name))
        }
        Detail::ConfigComplianceChange(d) => {
            format!("{base}/config/home?region={region}#/rules/details?configRuleName={}", encode(&d.config_rule_name))
        }
        Detail::ConfigItemChange(d) => {
            let item = d.item()?;
            format!(
                "{base}/config/home?region={region}#/resources/timeline?resourceId={}&resourceType={}",
                encode(&item.resource_id),
                encode(&item.resource_type)
            )
        }
        Detail::AlarmStateChange(d) => {
            format!("{base}/cloudwatch/home?region={region}#alarmsV2:alarm/{}", encode(&d.alarm_name))
        }
        Detail::EndpointStateChange(d) | Detail::EndpointDeploymentStateChange(d) => {
            format!("{base}/sagemaker/home?region={region}#/endpoints/{}", encode(&d.endpoint_name))
        }
        Detail::WardenDrift(d) => {
            format!("{base}/sagemaker/home?region={region}#/endpoints/{}", encode(&d.endpoint_name))
        }
        Detail::ModelPackageStateChange(d) => {
            format!("{base}/sagemaker/home?region={region}#/model-registry/{}", encode(&d.model_package_group_name))
        }
        Detail::TrainingJobStateChange(d) => {
            format!("{base}/sagemaker/home?region={region}#/jobs/{}", encode(&d.training_job_name))
        }
        Detail::ProcessingJobStateChange(d) => {
            format!("{base}/sagemaker/home?region={region}#/processing-jobs/{}", encode(&d.processing_job_name))
        }
        Detail::PipelineExecutionStatusChange(_) => format!("{base}/sagemaker/home?region={region}#/pipelines"),
        Detail::ModelCardStateChange(d) => {
            format!("{base}/sagemaker/home?region={region}#/model-cards/{}", encode(&d.model_card_name))
        }
    })
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

fn opt_time(time: Option<Timestamp>) -> String {
    time.map(|t| t.millis().to_string()).unwrap_or_default()
}

/// A short digest for keys built from values that must not be stored in the clear (object keys).
fn digest(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

fn tagged_model(tags: &std::collections::BTreeMap<String, String>) -> Option<Resource> {
    tags.get(crate::resource::TAG_MODEL).map(|m| Resource::Model(m.clone()))
}

fn describe(event: &Event) -> Parts {
    match &event.detail {
        Detail::ModelPackageStateChange(d) => {
            let version = d.model_package_version.map(|v| format!(" version {v}")).unwrap_or_default();
            let mut p = Parts::new(
                SignalClass::ModelApproval,
                d.model_approval_status.to_string(),
                format!("model package {}{version} is {}", d.model_package_group_name, d.model_approval_status),
                Severity::NOTICE,
                format!(
                    "{}#{}#{}",
                    d.model_package_arn,
                    d.model_approval_status,
                    opt_time(d.last_modified_time.or(d.creation_time))
                ),
            );
            p.resources = vec![
                Resource::ModelPackage(d.model_package_arn.clone()),
                Resource::ModelPackageGroup(d.model_package_group_name.clone()),
            ];
            p.occurred_at = d.last_modified_time;
            p
        }
        Detail::EndpointStateChange(d) | Detail::EndpointDeploymentStateChange(d) => {
            let deployment = matches!(event.detail, Detail::EndpointDeploymentStateChange(_));
            let (severity, summary) = match (&d.endpoint_status, &d.pending_deployment_summary) {
                (EndpointStatus::Failed | EndpointStatus::UpdateRollbackFailed, _) => (
                    Severity::HIGH,
                    format!(
                        "endpoint {} is {}: {}",
                        d.endpoint_name,
                        d.endpoint_status,
                        d.failure_reason.as_deref().unwrap_or("no reason given")
                    ),
                ),
                (_, Some(pending)) => (
                    Severity::NOTICE,
                    format!(
                        "endpoint {} deploying {} (from {})",
                        d.endpoint_name, pending.endpoint_config_name, d.endpoint_config_name
                    ),
                ),
                (EndpointStatus::InService, None) => {
                    (Severity::INFO, format!("endpoint {} is InService on {}", d.endpoint_name, d.endpoint_config_name))
                }
                (status, None) => (
                    Severity::NOTICE,
                    format!("endpoint {} is {status} on {}", d.endpoint_name, d.endpoint_config_name),
                ),
            };
            let pending = d.pending_deployment_summary.as_ref();
            let progress: String = pending
                .iter()
                .flat_map(|p| p.production_variants.iter())
                .flat_map(|v| v.variant_status.iter())
                .map(|s| format!("{}@{}", s.status, opt_time(s.start_time)))
                .collect::<Vec<_>>()
                .join(",");
            let mut p = Parts::new(
                SignalClass::Endpoint,
                d.endpoint_status.to_string(),
                summary,
                severity,
                format!(
                    "{}#{}#{}#{}#{}#{}",
                    if deployment { "deployment" } else { "endpoint" },
                    d.endpoint_arn.as_deref().unwrap_or(&d.endpoint_name),
                    d.endpoint_status,
                    d.endpoint_config_name,
                    opt_time(d.last_modified_time),
                    pending.map(|p| p.endpoint_config_name.as_str()).unwrap_or_default().to_owned() + &progress,
                ),
            );
            p.resources.push(Resource::Endpoint(d.endpoint_name.clone()));
            p.resources.push(Resource::EndpointConfig(d.endpoint_config_name.clone()));
            if let Some(pending) = pending {
                p.resources.push(Resource::EndpointConfig(pending.endpoint_config_name.clone()));
            }
            p.resources.extend(tagged_model(&d.tags));
            p.occurred_at = d.last_modified_time;
            p
        }
        Detail::TrainingJobStateChange(d) => {
            let failed = d.training_job_status == "Failed";
            let mut p = Parts::new(
                SignalClass::Training,
                d.training_job_status.clone(),
                format!("training job {} is {}", d.training_job_name, d.training_job_status),
                if failed { Severity::LOW_HIGH } else { Severity::INFO },
                format!(
                    "{}#{}#{}#{}",
                    d.training_job_arn.as_deref().unwrap_or(&d.training_job_name),
                    d.training_job_status,
                    d.secondary_status.as_deref().unwrap_or_default(),
                    opt_time(d.last_modified_time)
                ),
            );
            p.resources.push(Resource::TrainingJob(d.training_job_name.clone()));
            p.resources.extend(d.role_arn.iter().map(|r| Resource::IamRole(r.clone())));
            p.resources.extend(
                d.input_data_config
                    .iter()
                    .filter_map(|c| c.data_source.as_ref()?.s3_data_source.as_ref())
                    .filter_map(|s| s3_bucket_of(&s.s3_uri))
                    .map(|b| Resource::S3Bucket(b.to_owned())),
            );
            p.resources.extend(tagged_model(&d.tags));
            p.occurred_at = d.last_modified_time;
            p
        }
        Detail::ProcessingJobStateChange(d) => {
            let (kind, severity) = if d.found_violations() {
                ("CompletedWithViolations".to_owned(), Severity::MEDIUM)
            } else if d.processing_job_status == "Failed" {
                (d.processing_job_status.clone(), Severity::LOW_HIGH)
            } else {
                (d.processing_job_status.clone(), Severity::INFO)
            };
            let watched = d.monitored_endpoint().map(|e| format!(" (monitoring endpoint {e})")).unwrap_or_default();
            let mut p = Parts::new(
                SignalClass::Monitoring,
                kind.clone(),
                format!("processing job {} is {kind}{watched}", d.processing_job_name),
                severity,
                format!(
                    "{}#{}",
                    d.processing_job_arn.as_deref().unwrap_or(&d.processing_job_name),
                    d.processing_job_status
                ),
            );
            p.resources.push(Resource::ProcessingJob(d.processing_job_name.clone()));
            p.resources.extend(d.monitored_endpoint().map(|e| Resource::Endpoint(e.to_owned())));
            p.resources
                .extend(d.monitoring_schedule_arn.iter().map(|a| Resource::MonitoringSchedule(arn_name(a).to_owned())));
            p.occurred_at = d.last_modified_time;
            p
        }
        Detail::PipelineExecutionStatusChange(d) => {
            let failed = d.current_pipeline_execution_status == "Failed";
            let mut p = Parts::new(
                SignalClass::Pipeline,
                d.current_pipeline_execution_status.clone(),
                format!(
                    "pipeline {} execution is {}",
                    arn_name_of_pipeline(&d.pipeline_arn),
                    d.current_pipeline_execution_status
                ),
                if failed { Severity::LOW_HIGH } else { Severity::INFO },
                format!("{}#{}", d.pipeline_execution_arn, d.current_pipeline_execution_status),
            );
            p.resources.push(Resource::Pipeline(arn_name_of_pipeline(&d.pipeline_arn).to_owned()));
            p.occurred_at = d.execution_end_time.or(d.execution_start_time);
            p
        }
        Detail::ModelCardStateChange(d) => {
            let mut p = Parts::new(
                SignalClass::ModelCard,
                d.model_card_status.clone(),
                format!("model card {} is {}", d.model_card_name, d.model_card_status),
                Severity::INFO,
                format!(
                    "{}#{}#{}#{}",
                    d.model_card_name,
                    d.model_card_version.unwrap_or(0),
                    d.model_card_status,
                    opt_time(d.last_modified_time)
                ),
            );
            p.resources.push(Resource::ModelCard(d.model_card_name.clone()));
            p.occurred_at = d.last_modified_time;
            p
        }
        Detail::ConfigComplianceChange(d) => {
            let compliance = d.new_evaluation_result.compliance_type;
            let severity = match compliance {
                ComplianceType::NonCompliant => Severity::MEDIUM,
                ComplianceType::InsufficientData => Severity::LOW,
                ComplianceType::Compliant | ComplianceType::NotApplicable => Severity::INFO,
            };
            let mut p = Parts::new(
                SignalClass::Compliance,
                compliance.to_string(),
                format!("{} {} is {compliance} with rule {}", d.resource_type, d.resource_id, d.config_rule_name),
                severity,
                format!(
                    "{}#{}#{}#{}",
                    d.config_rule_name,
                    d.resource_type,
                    d.resource_id,
                    opt_time(d.new_evaluation_result.result_recorded_time)
                ),
            );
            p.resources.push(config_resource(&d.resource_type, &d.resource_id));
            p.occurred_at = d.new_evaluation_result.result_recorded_time.or(d.notification_creation_time);
            p
        }
        Detail::ConfigItemChange(d) => {
            let (resource_type, resource_id, status, state_id, captured) = d
                .item()
                .map(|i| {
                    (
                        i.resource_type.as_str(),
                        i.resource_id.as_str(),
                        i.configuration_item_status.as_deref().unwrap_or("OK"),
                        i.configuration_state_id.as_ref().map(ToString::to_string).unwrap_or_default(),
                        i.configuration_item_capture_time,
                    )
                })
                .unwrap_or(("", "", "", String::new(), None));
            let deleted = status.starts_with("ResourceDeleted");
            let oversized = if d.is_oversized() { " (oversized: full item in S3)" } else { "" };
            let mut p = Parts::new(
                SignalClass::ConfigChange,
                status.to_owned(),
                format!("{resource_type} {resource_id} configuration changed: {status}{oversized}"),
                if deleted { Severity::LOW } else { Severity::NOTICE },
                format!("{resource_type}#{resource_id}#{state_id}#{}", opt_time(captured)),
            );
            p.resources.push(config_resource(resource_type, resource_id));
            p.occurred_at = captured.or(d.notification_creation_time);
            p
        }
        Detail::MacieFinding(d) => {
            let class = match d.category {
                MacieCategory::Classification => SignalClass::SensitiveData,
                MacieCategory::Policy => SignalClass::DataPolicy,
            };
            let severity = if d.archived { Severity::INFO } else { Severity::from_macie(d.severity.score) };
            let mut p = Parts::new(
                class,
                d.finding_type.clone(),
                format!(
                    "Macie {} ({}) on bucket {}{}",
                    d.finding_type,
                    d.severity.description.as_deref().unwrap_or("severity unknown"),
                    d.resources_affected.s3_bucket.name,
                    occurrence_note(d.count)
                ),
                severity,
                format!("{}#{}#{}", d.id, d.count, opt_time(d.updated_at)),
            );
            p.resources.push(Resource::S3Bucket(d.resources_affected.s3_bucket.name.clone()));
            p.resources.extend(
                d.resources_affected
                    .s3_bucket
                    .default_server_side_encryption
                    .as_ref()
                    .and_then(|e| e.kms_master_key_id.clone())
                    .map(Resource::KmsKey),
            );
            p.occurred_at = d.updated_at.or(d.created_at);
            p.finding = Some(FindingRef { id: d.id.clone(), count: d.count, archived: d.archived });
            p
        }
        Detail::GuardDutyFinding(d) => guardduty_parts(d),
        Detail::MalwareScanResult(d) => {
            let status = d.scan_result_details.scan_result_status.as_str();
            let severity = match status {
                "THREATS_FOUND" => Severity::MACIE_HIGH,
                "NO_THREATS_FOUND" => Severity::INFO,
                _ => Severity::LOW,
            };
            let threats: Vec<&str> = d.scan_result_details.threats.iter().map(|t| t.name.as_str()).collect();
            let threat_note = if threats.is_empty() { String::new() } else { format!(": {}", threats.join(", ")) };
            let object = &d.s3_object_details;
            let mut p = Parts::new(
                SignalClass::Malware,
                status.to_owned(),
                format!("malware scan of an object in bucket {} is {status}{threat_note}", object.bucket_name),
                severity,
                format!(
                    "{}#{}#{}#{}",
                    object.bucket_name,
                    digest(&object.object_key),
                    object.version_id.as_deref().or(object.e_tag.as_deref()).unwrap_or_default(),
                    status
                ),
            );
            p.resources.push(Resource::S3Bucket(object.bucket_name.clone()));
            p
        }
        Detail::AlarmStateChange(d) => {
            let (endpoint, concern) = d.subject();
            let class = match concern {
                AlarmConcern::Quality => SignalClass::Drift,
                AlarmConcern::Health => SignalClass::Health,
                AlarmConcern::Unrelated => SignalClass::UnrelatedAlarm,
            };
            let severity = match (concern, d.state.value) {
                // An alarm about no model never pages, whatever its state.
                (AlarmConcern::Unrelated, _) | (_, AlarmStateValue::Ok) => Severity::INFO,
                (_, AlarmStateValue::Alarm) => Severity::HIGH,
                (_, AlarmStateValue::InsufficientData) => Severity::LOW,
            };
            let state = match d.state.value {
                AlarmStateValue::Alarm => "ALARM",
                AlarmStateValue::Ok => "OK",
                AlarmStateValue::InsufficientData => "INSUFFICIENT_DATA",
            };
            let metric = d.metric_name().map(|m| format!(" on {m}")).unwrap_or_default();
            let about = match endpoint {
                Some(e) => format!(" for endpoint {e}"),
                None => " (not about a model)".to_owned(),
            };
            let mut p = Parts::new(
                class,
                state,
                format!("alarm {} is {state}{metric}{about}", d.alarm_name),
                severity,
                format!("{}#{}#{}", d.alarm_name, state, d.state.timestamp.millis()),
            );
            p.resources.extend(endpoint.map(|e| Resource::Endpoint(e.to_owned())));
            p.occurred_at = Some(d.state.timestamp);
            p
        }
        Detail::WardenDrift(d) => {
            let mut p = Parts::new(
                SignalClass::Drift,
                "MEASURED",
                format!("{} measured {} = {} on endpoint {}", d.monitor, d.metric, d.value, d.endpoint_name),
                // Decided per model: the policy compares `value` with the tier's threshold.
                Severity::INFO,
                format!("{}#{}#{}#{}", d.endpoint_name, d.monitor, d.metric, d.observed_at.millis()),
            );
            p.resources.push(Resource::Endpoint(d.endpoint_name.clone()));
            p.resources.extend(d.model_id.iter().map(|m| Resource::Model(m.clone())));
            p.occurred_at = Some(d.observed_at);
            p.drift = Some(DriftMeasure { kind: d.kind, metric: d.metric.clone(), value: d.value });
            p
        }
    }
}

fn occurrence_note(count: u64) -> String {
    if count > 1 { format!(", occurrence {count}") } else { String::new() }
}

fn guardduty_parts(d: &GuardDutyFinding) -> Parts {
    let resource = &d.resource;
    let mut resources = Vec::new();
    if let Some(key) = &resource.access_key_details {
        resources.extend(key.access_key_id.iter().map(|k| Resource::AccessKey(k.clone())));
        if key.user_type.as_deref() == Some("AssumedRole") {
            resources.extend(key.user_name.iter().map(|r| Resource::IamRole(r.clone())));
        }
    }
    for bucket in &resource.s3_bucket_details {
        resources.push(Resource::S3Bucket(bucket.name.clone()));
        resources.extend(
            bucket
                .default_server_side_encryption
                .as_ref()
                .and_then(|e| e.kms_master_key_arn.clone())
                .map(Resource::KmsKey),
        );
    }
    for model in &resource.model_details {
        resources.push(match model.model_id.split_once(":endpoint/") {
            Some((_, endpoint)) => Resource::Endpoint(endpoint.to_owned()),
            None => Resource::Other(format!("Model:{}", model.model_id)),
        });
    }
    if let Some(instance) = &resource.instance_details {
        resources.extend(instance.instance_id.iter().map(|i| Resource::Other(format!("Instance:{i}"))));
    }
    if let Some(lambda) = &resource.lambda_details {
        resources.extend(lambda.role.iter().map(|r| Resource::IamRole(r.clone())));
    }
    if let ResourceKind::Other(kind) = resource.kind()
        && resources.is_empty()
    {
        resources.push(Resource::Other(format!("{kind}:unmodelled")));
    }
    let archived = d.archived();
    let subject = resources.first().map(ToString::to_string).unwrap_or_else(|| resource.resource_type.clone());
    let mut p = Parts::new(
        SignalClass::Threat,
        d.finding_type.clone(),
        format!("GuardDuty {} (severity {}) on {subject}{}", d.finding_type, d.severity, occurrence_note(d.count())),
        if archived { Severity::INFO } else { Severity::new(d.severity) },
        format!("{}#{}#{}", d.id, d.count(), opt_time(d.updated_at)),
    );
    p.resources = resources;
    p.occurred_at = d.updated_at.or(d.created_at);
    p.finding = Some(FindingRef { id: d.id.clone(), count: d.count(), archived });
    p
}

fn s3_bucket_of(uri: &str) -> Option<&str> {
    uri.strip_prefix("s3://")?.split('/').next().filter(|b| !b.is_empty())
}

fn arn_name_of_pipeline(arn: &str) -> &str {
    arn.split_once(":pipeline/").map(|(_, rest)| rest.split('/').next().unwrap_or(rest)).unwrap_or(arn)
}

/// Maps a Config resource type and id onto Warden's resources.
fn config_resource(resource_type: &str, resource_id: &str) -> Resource {
    let id = resource_id.to_owned();
    match resource_type {
        "AWS::SageMaker::Endpoint" => Resource::Endpoint(id),
        "AWS::SageMaker::EndpointConfig" => Resource::EndpointConfig(id),
        "AWS::SageMaker::ModelPackageGroup" => Resource::ModelPackageGroup(id),
        "AWS::SageMaker::ModelPackage" => Resource::ModelPackage(id),
        "AWS::S3::Bucket" => Resource::S3Bucket(id),
        "AWS::IAM::Role" => Resource::IamRole(id),
        "AWS::KMS::Key" => Resource::KmsKey(id),
        _ => Resource::Other(format!("{resource_type}:{resource_id}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::package_group_of;

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
