//! Model quality and endpoint health: `aws.cloudwatch` `CloudWatch Alarm State Change` (what an alarm is about is
//! read from its metrics' dimensions, or a naming convention), and Warden's own `Warden Drift Detected` event for
//! monitors other than Model Monitor (documented in the README).

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
    /// Metric alarms: the metrics (and metric math expressions) the alarm evaluates.
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub metrics: Vec<AlarmMetric>,
    /// Composite alarms: the rule over other alarms, e.g. `ALARM(a) OR ALARM("b")`.
    pub alarm_rule: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmMetric {
    /// Absent on metric math entries, which carry an `expression` instead.
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

/// The documented naming convention for alarms about a model that carry no SageMaker endpoint dimension (composite
/// alarms, alarms on custom metrics): `warden:quality:<endpoint>[:anything]` or `warden:health:<endpoint>[:anything]`.
/// Endpoint names cannot contain `:`, so the name parses unambiguously; the stacks' rules match the prefix.
pub const ALARM_NAME_PREFIX: &str = "warden:";

/// The `detail` filter both stacks put on the alarm rule, so alarms about no model never invoke a function: any
/// metric with a SageMaker endpoint dimension (EventBridge cannot tie a dimension to its metric's namespace, so
/// the decoder checks that), a name following the convention, or a composite rule naming such an
/// alarm. A superset of what [`AlarmStateChange::subject`] ties to a model (the decoder decides; the filter only
/// spares invocations); `tests/it/infra.rs` checks both stacks carry exactly this and that it passes every
/// bundled alarm about a model and no other.
pub fn alarm_rule_detail_filter() -> serde_json::Value {
    let dimension = |name: &str| serde_json::json!({"configuration": {"metrics": {"metricStat": {"metric": {"dimensions": {name: [{"exists": true}]}}}}}});
    serde_json::json!({"$or": [
        dimension("Endpoint"),
        dimension("EndpointName"),
        {"alarmName": [{"prefix": ALARM_NAME_PREFIX}]},
        {"configuration": {"alarmRule": [{"wildcard": format!("*{ALARM_NAME_PREFIX}*")}]}},
    ]})
}

/// What an alarm watches, which decides what its state change means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlarmConcern {
    /// Model quality: Model Monitor data or model quality, Clarify bias or explainability.
    Quality,
    /// Endpoint health: SageMaker's invocation and instance metrics (5XX, latency, errors, utilisation).
    Health,
    /// Nothing Warden can tie to a model (EC2, Lambda, a composite over such alarms): recorded, never paged.
    Unrelated,
}

impl AlarmStateChange {
    fn metrics(&self) -> impl Iterator<Item = &Metric> {
        self.configuration
            .iter()
            .flat_map(|c| c.metrics.iter())
            .filter_map(|m| m.metric_stat.as_ref().map(|s| &s.metric))
    }

    /// The endpoint and concern: from a SageMaker endpoint dimension on any of its metrics (`Endpoint` for Model
    /// Monitor and Clarify, `EndpointName` for SageMaker's own metrics), else from the naming convention on the
    /// alarm's name or, for a composite alarm, on an alarm its rule names.
    pub fn subject(&self) -> (Option<&str>, AlarmConcern) {
        // A dimension counts only in SageMaker's namespaces: `EndpointName` is also, say, a VPC endpoint's name.
        for metric in self.metrics().filter(|m| m.namespace.as_deref().is_some_and(is_sagemaker_namespace)) {
            if let Some(endpoint) = metric.dimensions.get("Endpoint") {
                return (Some(endpoint), concern_of_namespace(metric.namespace.as_deref(), AlarmConcern::Quality));
            }
            if let Some(endpoint) = metric.dimensions.get("EndpointName") {
                return (Some(endpoint), concern_of_namespace(metric.namespace.as_deref(), AlarmConcern::Health));
            }
        }
        let named = std::iter::once(self.alarm_name.as_str()).chain(self.rule_alarm_names());
        named.filter_map(by_convention).next().map_or((None, AlarmConcern::Unrelated), |(e, c)| (Some(e), c))
    }

    /// The alarms a composite alarm's rule names: the arguments of `ALARM(...)`, `OK(...)` and
    /// `INSUFFICIENT_DATA(...)`, quoted or not, by name or by ARN, however the rule groups them.
    fn rule_alarm_names(&self) -> Vec<&str> {
        let rule = self.configuration.as_ref().and_then(|c| c.alarm_rule.as_deref()).unwrap_or_default();
        let mut names = Vec::new();
        let mut rest = rule;
        while let Some(open) = rest.find('(') {
            let function = rest[..open].trim_end();
            let is_state = ["ALARM", "OK", "INSUFFICIENT_DATA"].iter().any(|f| function.ends_with(f));
            rest = rest[open + 1..].trim_start();
            if !is_state {
                continue;
            }
            let (name, after) = match rest.strip_prefix('"') {
                Some(quoted) => quoted.split_once('"').unwrap_or((quoted, "")),
                None => rest.split_once(')').unwrap_or((rest, "")),
            };
            // An ARN names the alarm after `:alarm:`.
            names.push(name.trim().split_once(":alarm:").map_or(name.trim(), |(_, alarm)| alarm));
            rest = after;
        }
        names
    }

    /// The first metric's name, e.g. `feature_baseline_drift_amount`.
    pub fn metric_name(&self) -> Option<&str> {
        self.metrics().next().map(|m| m.name.as_str())
    }
}

/// SageMaker's own metrics are health; Model Monitor and Clarify publish under `aws/sagemaker/Endpoints/...` and
/// `aws/sagemaker/ModelMonitoring/...`; anything else is judged by its dimension (`fallback`).
fn concern_of_namespace(namespace: Option<&str>, fallback: AlarmConcern) -> AlarmConcern {
    match namespace {
        Some("AWS/SageMaker" | "/aws/sagemaker/Endpoints") => AlarmConcern::Health,
        Some(n) if n.starts_with("aws/sagemaker/Endpoints/") || n.starts_with("aws/sagemaker/ModelMonitoring/") => {
            AlarmConcern::Quality
        }
        _ => fallback,
    }
}

/// SageMaker's own (`AWS/SageMaker`, `/aws/sagemaker/Endpoints`) and Model Monitor's and Clarify's
/// (`aws/sagemaker/...`). Alarms on other namespaces (custom metrics) use the naming convention.
fn is_sagemaker_namespace(namespace: &str) -> bool {
    let lower = namespace.to_ascii_lowercase();
    lower == "aws/sagemaker" || lower.starts_with("aws/sagemaker/") || lower.starts_with("/aws/sagemaker/")
}

/// `warden:quality:<endpoint>[:...]` or `warden:health:<endpoint>[:...]`.
fn by_convention(name: &str) -> Option<(&str, AlarmConcern)> {
    let mut parts = name.strip_prefix(ALARM_NAME_PREFIX)?.split(':');
    let concern = match parts.next()? {
        "quality" => AlarmConcern::Quality,
        "health" => AlarmConcern::Health,
        _ => return None,
    };
    parts.next().filter(|endpoint| !endpoint.is_empty()).map(|endpoint| (endpoint, concern))
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

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    fn composite(name: &str, rule: &str) -> AlarmStateChange {
        serde_json::from_value(serde_json::json!({
            "alarmName": name,
            "state": {"value": "ALARM", "timestamp": "2026-11-02T10:00:00Z"},
            "configuration": {"alarmRule": rule}
        }))
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn composite_rules_name_their_alarms_however_they_are_grouped() {
        let cases = [
            ("ALARM(\"warden:health:ep-a\") OR ALARM(cpu)", Some("ep-a")),
            ("(ALARM(\"warden:health:ep-b\") OR ALARM(\"cpu\")) AND NOT ALARM(\"maint\")", Some("ep-b")),
            ("ALARM(arn:aws:cloudwatch:us-east-1:111122223333:alarm:warden:quality:ep-c)", Some("ep-c")),
            ("OK( warden:health:ep-d ) AND INSUFFICIENT_DATA(x)", Some("ep-d")),
            ("ALARM(ServerCpuTooHigh) OR ALARM(TotalNetworkTrafficTooHigh)", None),
            ("(((", None),
        ];
        for (rule, endpoint) in cases {
            assert_eq!(composite("group", rule).subject().0, endpoint, "{rule}");
        }
    }

    #[test]
    fn an_endpoint_dimension_counts_only_in_sagemaker_namespaces() {
        let alarm = |namespace: &str, dimension: &str| -> AlarmStateChange {
            serde_json::from_value(serde_json::json!({
                "alarmName": "a",
                "state": {"value": "ALARM", "timestamp": "2026-11-02T10:00:00Z"},
                "configuration": {"metrics": [{"metricStat": {"metric": {
                    "namespace": namespace, "name": "m", "dimensions": {dimension: "ep"}}}}]}
            }))
            .unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(alarm("AWS/SageMaker", "EndpointName").subject(), (Some("ep"), AlarmConcern::Health));
        assert_eq!(alarm("/aws/sagemaker/Endpoints", "EndpointName").subject(), (Some("ep"), AlarmConcern::Health));
        assert_eq!(
            alarm("aws/sagemaker/Endpoints/data-metrics", "Endpoint").subject(),
            (Some("ep"), AlarmConcern::Quality)
        );
        assert_eq!(alarm("AWS/EC2", "EndpointName").subject(), (None, AlarmConcern::Unrelated));
        assert_eq!(alarm("MyApp/Custom", "Endpoint").subject(), (None, AlarmConcern::Unrelated));
    }
}
