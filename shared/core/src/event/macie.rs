//! `aws.macie` `Macie Finding` details (camelCase).
//!
//! Deliberately not modelled: `classificationDetails.result.sensitiveData` detections and occurrences, and
//! object keys. They can hold the very data Macie flagged, and nothing Warden decides needs them; leaving them
//! out of the types means they can never reach a log, an alert or the ledger.

use serde::Deserialize;

use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MacieCategory {
    Classification,
    Policy,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MacieFinding {
    pub id: String,
    /// The account the finding is about: a delegated administrator receives its members' findings.
    pub account_id: Option<String>,
    pub region: Option<String>,
    #[serde(rename = "type")]
    pub finding_type: String,
    pub category: MacieCategory,
    pub title: Option<String>,
    pub severity: MacieSeverity,
    /// Occurrences; grows when a policy finding re-occurs.
    #[serde(default = "one")]
    pub count: u64,
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub sample: bool,
    pub resources_affected: MacieResources,
}

fn one() -> u64 {
    1
}

impl MacieFinding {
    /// Macie documents scores 1 (Low), 2 (Medium) and 3 (High).
    pub fn out_of_range(&self) -> Option<super::OutOfRange> {
        (![1.0, 2.0, 3.0].contains(&self.severity.score)).then_some(super::OutOfRange {
            path: "detail.severity.score",
            expected: "a Macie severity score of 1, 2 or 3",
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MacieSeverity {
    /// 1 (Low), 2 (Medium) or 3 (High); read as a number so any other value is reported as out of range.
    pub score: f64,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MacieResources {
    pub s3_bucket: MacieBucket,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MacieBucket {
    pub name: String,
    pub arn: Option<String>,
    pub default_server_side_encryption: Option<MacieEncryption>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MacieEncryption {
    pub kms_master_key_id: Option<String>,
}
