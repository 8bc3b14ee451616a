//! `aws.config` details (camelCase).

use std::fmt;

use serde::Deserialize;

use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ComplianceType {
    Compliant,
    NonCompliant,
    NotApplicable,
    InsufficientData,
}

impl fmt::Display for ComplianceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Compliant => "COMPLIANT",
            Self::NonCompliant => "NON_COMPLIANT",
            Self::NotApplicable => "NOT_APPLICABLE",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        })
    }
}

/// `Config Rules Compliance Change`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComplianceChange {
    pub resource_id: String,
    pub resource_type: String,
    pub config_rule_name: String,
    pub new_evaluation_result: EvaluationResult,
    /// Absent on a resource's first evaluation.
    pub old_evaluation_result: Option<EvaluationResult>,
    pub notification_creation_time: Option<Timestamp>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationResult {
    pub compliance_type: ComplianceType,
    pub result_recorded_time: Option<Timestamp>,
    pub annotation: Option<String>,
}

/// `Config Configuration Item Change`, in its normal and oversized forms.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationItemChange {
    pub message_type: String,
    pub notification_creation_time: Option<Timestamp>,
    /// Normal notifications carry the whole item.
    pub configuration_item: Option<ConfigurationItem>,
    /// Oversized notifications carry only a summary (the item is in S3).
    pub configuration_item_summary: Option<ConfigurationItem>,
    pub configuration_item_diff: Option<ConfigurationItemDiff>,
}

impl ConfigurationItemChange {
    pub fn is_oversized(&self) -> bool {
        self.message_type == "OversizedConfigurationItemChangeNotification"
    }

    /// The item, or for an oversized notification its summary.
    pub fn item(&self) -> Option<&ConfigurationItem> {
        self.configuration_item.as_ref().or(self.configuration_item_summary.as_ref())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationItem {
    pub resource_type: String,
    pub resource_id: String,
    pub resource_name: Option<String>,
    /// The resource's ARN (`ARN` in Config's notifications). For `AWS::IAM::Role` it pairs the role's unique id
    /// (`resourceId`, `AROA...`), which compliance changes name, with the ARN the inventory lists.
    #[serde(rename = "ARN", alias = "arn")]
    pub arn: Option<String>,
    pub configuration_item_status: Option<String>,
    pub configuration_item_capture_time: Option<Timestamp>,
    /// A number in real events; kept as JSON because some emitters write a string.
    pub configuration_state_id: Option<serde_json::Value>,
    pub change_type: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigurationItemDiff {
    pub change_type: Option<String>,
}
