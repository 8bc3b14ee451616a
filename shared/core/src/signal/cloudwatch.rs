//! Signals from `cloudwatch` events: what each detail-type says, about which resources, how bad.

use super::{DriftMeasure, Parts, SignalClass, url_encode};
use crate::event::cloudwatch::{AlarmConcern, AlarmStateValue};
use crate::resource::Resource;
use crate::severity::Severity;

pub(super) fn alarm_state_change(d: &crate::event::cloudwatch::AlarmStateChange) -> Parts {
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

pub(super) fn warden_drift(d: &crate::event::cloudwatch::WardenDrift) -> Parts {
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

pub(super) fn alarm_console(d: &crate::event::cloudwatch::AlarmStateChange, base: &str, region: &str) -> String {
    format!("{base}/cloudwatch/home?region={region}#alarmsV2:alarm/{}", url_encode(&d.alarm_name))
}
