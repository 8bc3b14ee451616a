//! Drift and bias signals: `aws.cloudwatch` `CloudWatch Alarm State Change` on monitor metrics, and Warden's
//! own `Warden Drift Detected` event for monitors other than Model Monitor (documented in the README).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmStateValue {
    Alarm,
    Ok,
    InsufficientData,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmStateChange {
    pub alarm_name: String,
    pub state: AlarmState,
    pub previous_state: Option<AlarmState>,
    pub configuration: Option<AlarmConfiguration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmState {
    pub value: AlarmStateValue,
    pub reason: Option<String>,
    pub timestamp: Timestamp,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmConfiguration {
    pub description: Option<String>,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub metrics: Vec<AlarmMetric>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmMetric {
    pub metric_stat: Option<MetricStat>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricStat {
    pub metric: Metric,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metric {
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub dimensions: BTreeMap<String, String>,
}

impl AlarmStateChange {
    fn metrics(&self) -> impl Iterator<Item = &Metric> {
        self.configuration
            .iter()
            .flat_map(|c| c.metrics.iter())
            .filter_map(|m| m.metric_stat.as_ref().map(|s| &s.metric))
    }

    /// The endpoint the alarm watches: the metric's `Endpoint` dimension (Model Monitor, Clarify).
    pub fn endpoint(&self) -> Option<&str> {
        self.metrics().find_map(|m| m.dimensions.get("Endpoint").map(String::as_str))
    }

    /// The first metric's name, e.g. `feature_baseline_drift_amount`.
    pub fn metric_name(&self) -> Option<&str> {
        self.metrics().next().map(|m| m.name.as_str())
    }
}

/// What a drift measurement is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftKind {
    DataDrift,
    ModelQuality,
    Bias,
    FeatureAttribution,
}

/// `Warden Drift Detected` (source `warden.monitor`): one measurement from any monitor (Evidently, a batch
/// job, a vendor tool). Warden compares `value` with the policy's drift threshold for the model's risk tier.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WardenDrift {
    pub endpoint_name: String,
    /// Optional: when given, it must match the endpoint's model.
    pub model_id: Option<String>,
    /// Who measured, e.g. `evidently`.
    pub monitor: String,
    pub kind: DriftKind,
    /// Metric name, e.g. `psi_amount`.
    pub metric: String,
    /// The drift score: larger means more drift; compared with the tier's threshold.
    pub value: f64,
    pub observed_at: Timestamp,
}
