//! `aws.sagemaker` details (PascalCase, except pipeline events which are camelCase).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::time::Timestamp;

/// Endpoint status, normalised: events say `IN_SERVICE`, the API says `InService`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointStatus {
    OutOfService,
    Creating,
    Updating,
    SystemUpdating,
    RollingBack,
    InService,
    Deleting,
    Failed,
    UpdateRollbackFailed,
    /// A status this version of Warden does not know; kept verbatim.
    Other(String),
}

impl EndpointStatus {
    pub fn parse(text: &str) -> Self {
        let normalised: String =
            text.chars().filter(|c| *c != '_' && *c != ' ').collect::<String>().to_ascii_lowercase();
        match normalised.as_str() {
            "outofservice" => Self::OutOfService,
            "creating" => Self::Creating,
            "updating" => Self::Updating,
            "systemupdating" => Self::SystemUpdating,
            "rollingback" => Self::RollingBack,
            "inservice" => Self::InService,
            "deleting" => Self::Deleting,
            "failed" => Self::Failed,
            "updaterollbackfailed" => Self::UpdateRollbackFailed,
            _ => Self::Other(text.to_owned()),
        }
    }
}

impl fmt::Display for EndpointStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::OutOfService => "OutOfService",
            Self::Creating => "Creating",
            Self::Updating => "Updating",
            Self::SystemUpdating => "SystemUpdating",
            Self::RollingBack => "RollingBack",
            Self::InService => "InService",
            Self::Deleting => "Deleting",
            Self::Failed => "Failed",
            Self::UpdateRollbackFailed => "UpdateRollbackFailed",
            Self::Other(other) => other,
        };
        f.write_str(text)
    }
}

impl<'de> Deserialize<'de> for EndpointStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.trim().is_empty() {
            return Err(serde::de::Error::custom("empty endpoint status"));
        }
        Ok(Self::parse(&text))
    }
}

/// `SageMaker Endpoint State Change` and `SageMaker Endpoint Deployment State Change`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EndpointStateChange {
    pub endpoint_name: String,
    pub endpoint_arn: Option<String>,
    /// The config currently deployed (during a deployment: the old one).
    pub endpoint_config_name: String,
    pub endpoint_status: EndpointStatus,
    pub last_modified_time: Option<Timestamp>,
    pub creation_time: Option<Timestamp>,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub tags: BTreeMap<String, String>,
    pub failure_reason: Option<String>,
    /// Present while a new config rolls out (deployment guardrails).
    pub pending_deployment_summary: Option<PendingDeployment>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PendingDeployment {
    pub endpoint_config_name: String,
    pub start_time: Option<Timestamp>,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub production_variants: Vec<PendingVariant>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PendingVariant {
    pub variant_name: Option<String>,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub variant_status: Vec<VariantStatus>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VariantStatus {
    pub status: String,
    pub start_time: Option<Timestamp>,
}

/// Model registry approval status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum ApprovalStatus {
    Approved,
    Rejected,
    PendingManualApproval,
}

impl fmt::Display for ApprovalStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Approved => "Approved",
            Self::Rejected => "Rejected",
            Self::PendingManualApproval => "PendingManualApproval",
        })
    }
}

/// `SageMaker Model Package State Change`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModelPackageStateChange {
    pub model_package_group_name: String,
    pub model_package_version: Option<u32>,
    pub model_package_arn: String,
    pub model_approval_status: ApprovalStatus,
    pub model_package_status: Option<String>,
    pub approval_description: Option<String>,
    pub last_modified_time: Option<Timestamp>,
    pub creation_time: Option<Timestamp>,
    /// Which fields this change touched; absent in older events.
    pub updated_model_package_fields: Option<Vec<String>>,
    pub metadata_properties: Option<MetadataProperties>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetadataProperties {
    pub generated_by: Option<String>,
}

/// `SageMaker Training Job State Change`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TrainingJobStateChange {
    pub training_job_name: String,
    pub training_job_arn: Option<String>,
    pub training_job_status: String,
    pub secondary_status: Option<String>,
    pub failure_reason: Option<String>,
    pub role_arn: Option<String>,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub input_data_config: Vec<InputChannel>,
    pub last_modified_time: Option<Timestamp>,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InputChannel {
    pub data_source: Option<DataSource>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DataSource {
    #[serde(rename = "S3DataSource")]
    pub s3_data_source: Option<S3DataSource>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3DataSource {
    pub s3_uri: String,
}

/// `SageMaker Processing Job State Change` (Model Monitor and Clarify runs are processing jobs).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProcessingJobStateChange {
    pub processing_job_name: String,
    pub processing_job_arn: Option<String>,
    pub processing_job_status: String,
    pub exit_message: Option<String>,
    pub failure_reason: Option<String>,
    pub monitoring_schedule_arn: Option<String>,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub environment: BTreeMap<String, String>,
    pub last_modified_time: Option<Timestamp>,
}

impl ProcessingJobStateChange {
    /// Model Monitor's analyzer writes `CompletedWithViolations: ...` into ExitMessage.
    pub fn found_violations(&self) -> bool {
        self.exit_message.as_deref().is_some_and(|m| m.starts_with("CompletedWithViolations"))
    }

    /// The endpoint a monitoring run watched, from the analyzer's environment.
    pub fn monitored_endpoint(&self) -> Option<&str> {
        self.environment.get("sagemaker_endpoint_name").map(String::as_str)
    }
}

/// `SageMaker Model Building Pipeline Execution Status Change` (camelCase).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineExecutionStatusChange {
    pub pipeline_arn: String,
    pub pipeline_execution_arn: String,
    pub current_pipeline_execution_status: String,
    pub previous_pipeline_execution_status: Option<String>,
    pub pipeline_execution_display_name: Option<String>,
    pub execution_end_time: Option<Timestamp>,
    pub execution_start_time: Option<Timestamp>,
}

/// `SageMaker Model Card State Change`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModelCardStateChange {
    pub model_card_name: String,
    pub model_card_version: Option<u32>,
    pub model_card_status: String,
    pub model_id: Option<String>,
    pub last_modified_time: Option<Timestamp>,
}
