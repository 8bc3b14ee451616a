//! `aws.guardduty` details (camelCase): findings of every resource type, and Malware Protection for S3 scans.

use serde::Deserialize;

use crate::time::Timestamp;

/// `GuardDuty Finding`: the GetFindings `Finding` object.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuardDutyFinding {
    pub id: String,
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
