//! Resources: what a signal concerns and what a model owns, by kind and name; ARN helpers; and the `warden:*` tags
//! people put on SageMaker resources.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Tag on a SageMaker resource naming the Warden model it belongs to.
pub const TAG_MODEL: &str = "warden:model";
/// Tag setting the model's risk tier (`high`, `medium`, `low`).
pub const TAG_RISK: &str = "warden:risk-tier";
/// Tag naming the model's owner.
pub const TAG_OWNER: &str = "warden:owner";

/// A resource a signal concerns. Correlation maps these to models.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "kebab-case")]
pub enum Resource {
    /// A Warden model id, claimed explicitly (a `warden:model` tag, a drift event's `modelId`).
    Model(String),
    Endpoint(String),
    EndpointConfig(String),
    /// A model package version ARN.
    ModelPackage(String),
    ModelPackageGroup(String),
    S3Bucket(String),
    /// An IAM role, by ARN or by name.
    IamRole(String),
    AccessKey(String),
    KmsKey(String),
    TrainingJob(String),
    ProcessingJob(String),
    MonitoringSchedule(String),
    Pipeline(String),
    ModelCard(String),
    /// Anything else, as `Type:id` (an EC2 instance, a Config resource type Warden does not model).
    Other(String),
}

impl Resource {
    /// What kind of resource this is, for people.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Model(_) => "model",
            Self::Endpoint(_) => "endpoint",
            Self::EndpointConfig(_) => "endpoint config",
            Self::ModelPackage(_) => "model package",
            Self::ModelPackageGroup(_) => "model package group",
            Self::S3Bucket(_) => "bucket",
            Self::IamRole(_) => "role",
            Self::AccessKey(_) => "access key",
            Self::KmsKey(_) => "KMS key",
            Self::TrainingJob(_) => "training job",
            Self::ProcessingJob(_) => "processing job",
            Self::MonitoringSchedule(_) => "monitoring schedule",
            Self::Pipeline(_) => "pipeline",
            Self::ModelCard(_) => "model card",
            Self::Other(_) => "resource",
        }
    }

    /// The resource's name, ARN or id.
    pub fn id(&self) -> &str {
        match self {
            Self::Model(id)
            | Self::Endpoint(id)
            | Self::EndpointConfig(id)
            | Self::ModelPackage(id)
            | Self::ModelPackageGroup(id)
            | Self::S3Bucket(id)
            | Self::IamRole(id)
            | Self::AccessKey(id)
            | Self::KmsKey(id)
            | Self::TrainingJob(id)
            | Self::ProcessingJob(id)
            | Self::MonitoringSchedule(id)
            | Self::Pipeline(id)
            | Self::ModelCard(id)
            | Self::Other(id) => id,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind_name(), self.id())
    }
}

/// The last path segment of an ARN (`.../role/name` gives `name`).
pub fn arn_name(arn: &str) -> &str {
    arn.rsplit(['/', ':']).next().unwrap_or(arn)
}

/// The model package group named in a model package ARN (`.../model-package/<group>/<version>`).
pub fn package_group_of(arn: &str) -> Option<&str> {
    arn.split_once(":model-package/").and_then(|(_, rest)| rest.split('/').next())
}
