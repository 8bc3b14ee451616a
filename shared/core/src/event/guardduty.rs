//! `aws.guardduty` details (camelCase): findings of every resource type, and Malware Protection for S3 scans.

use serde::Deserialize;

use crate::time::Timestamp;

/// `GuardDuty Finding`: the GetFindings `Finding` object.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuardDutyFinding {
    pub id: String,
    /// The account the finding is about: a delegated administrator receives its members' findings.
    pub account_id: Option<String>,
    pub region: Option<String>,
    pub arn: Option<String>,
    #[serde(rename = "type")]
    pub finding_type: String,
    /// 1.0-10.0; an integer in real JSON although the model says double.
    pub severity: f64,
    pub title: Option<String>,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    pub resource: FindingResource,
    pub service: Option<FindingService>,
}

impl GuardDutyFinding {
    /// Total occurrences so far; a re-published finding carries a higher count.
    pub fn count(&self) -> u64 {
        self.service.as_ref().and_then(|s| s.count).unwrap_or(1)
    }

    pub fn archived(&self) -> bool {
        self.service.as_ref().and_then(|s| s.archived).unwrap_or(false)
    }

    /// Made by `aws guardduty create-sample-findings` (or the console's sample findings): never real.
    pub fn sample(&self) -> bool {
        self.service.as_ref().and_then(|s| s.additional_info.as_ref()).is_some_and(AdditionalInfo::sample)
    }

    /// GuardDuty documents severities from 1.0 (low) to 10.0 (critical).
    pub fn out_of_range(&self) -> Option<super::OutOfRange> {
        (!(1.0..=10.0).contains(&self.severity))
            .then_some(super::OutOfRange { path: "detail.severity", expected: "a GuardDuty severity from 1.0 to 10.0" })
    }
}

/// `resource`: `resourceType` is a free string, so every detail block is optional and unknown types
/// fall back to [`ResourceKind::Other`].
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingResource {
    pub resource_type: String,
    pub access_key_details: Option<AccessKeyDetails>,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub s3_bucket_details: Vec<S3BucketDetails>,
    pub instance_details: Option<InstanceDetails>,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub model_details: Vec<ModelDetails>,
    pub lambda_details: Option<LambdaDetails>,
}

/// The resource types Warden reasons about; the rest are kept by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceKind {
    AccessKey,
    S3Bucket,
    Instance,
    S3Object,
    Lambda,
    Other(String),
}

impl FindingResource {
    pub fn kind(&self) -> ResourceKind {
        match self.resource_type.as_str() {
            "AccessKey" => ResourceKind::AccessKey,
            "S3Bucket" => ResourceKind::S3Bucket,
            "Instance" => ResourceKind::Instance,
            "S3Object" => ResourceKind::S3Object,
            "Lambda" => ResourceKind::Lambda,
            other => ResourceKind::Other(other.to_owned()),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessKeyDetails {
    pub access_key_id: Option<String>,
    pub principal_id: Option<String>,
    /// For `AssumedRole` keys this is the role's name.
    pub user_name: Option<String>,
    pub user_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3BucketDetails {
    pub name: String,
    pub arn: Option<String>,
    pub created_at: Option<Timestamp>,
    pub default_server_side_encryption: Option<BucketEncryption>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketEncryption {
    pub kms_master_key_arn: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceDetails {
    pub instance_id: Option<String>,
    pub iam_instance_profile: Option<InstanceProfile>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceProfile {
    pub arn: Option<String>,
}

/// AI Protection: the model invoked (for SageMaker AI, an endpoint ARN).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelDetails {
    pub model_id: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LambdaDetails {
    pub function_name: Option<String>,
    pub role: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingService {
    pub count: Option<u64>,
    pub archived: Option<bool>,
    pub detector_id: Option<String>,
    pub event_last_seen: Option<Timestamp>,
    pub additional_info: Option<AdditionalInfo>,
}

/// `service.additionalInfo`: free-form. Sample findings carry `sample: true`; some findings nest their details as
/// a JSON string in `value`.
#[derive(Debug, Clone, Deserialize)]
pub struct AdditionalInfo {
    #[serde(default)]
    sample: Option<serde_json::Value>,
    #[serde(default)]
    value: Option<serde_json::Value>,
}

impl AdditionalInfo {
    fn sample(&self) -> bool {
        let flagged = |v: &serde_json::Value| v.as_bool() == Some(true) || v.as_str() == Some("true");
        if self.sample.as_ref().is_some_and(flagged) {
            return true;
        }
        // `{"value": "{\"sample\":true,...}", "type": "default"}`
        self.value
            .as_ref()
            .and_then(serde_json::Value::as_str)
            .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
            .is_some_and(|inner| inner.get("sample").is_some_and(flagged))
    }
}

/// `GuardDuty Malware Protection Object Scan Result`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MalwareScanResult {
    pub scan_status: String,
    pub resource_type: Option<String>,
    pub s3_object_details: MalwareS3Object,
    pub scan_result_details: MalwareScanDetails,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MalwareS3Object {
    pub bucket_name: String,
    /// Used only for the idempotency key (hashed there); never stored in the clear.
    pub object_key: String,
    pub e_tag: Option<String>,
    pub version_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MalwareScanDetails {
    pub scan_result_status: String,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub threats: Vec<MalwareThreat>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MalwareThreat {
    pub name: String,
}
