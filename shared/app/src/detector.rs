//! The detector functions' handler, Lambda-free: decode → decide → record → deliver effects → metrics. Every
//! detector (`warden-sagemaker`, `-config`, `-macie`, `-guardduty`, `-drift`) runs it; `warden-aws` serves it.
//!
//! Failure semantics:
//! - a malformed, unsupported or misrouted event is recorded as rejected (a digest, never the body), alerted at
//!   low level, and the invocation *succeeds*: retrying cannot fix it;
//! - a ledger or delivery failure returns an error, so the event is retried: in an SQS batch (how the stacks deliver
//!   events; `warden_aws::function`) only its message returns to the queue, and after 5 receives moves to the
//!   dead-letter queue: nothing is lost;
//! - a retry after partial effects is safe: the ledger reports the event as a duplicate and only undelivered
//!   effects are sent.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};
use warden_core::engine::{Report, Status};
use warden_core::event::DecodeError;
use warden_core::ledger::{Actor, LedgerError};
use warden_core::time::Timestamp;

use crate::effects::{Delivery, EffectError, Notifier, Publisher, deliver};
use crate::ingest::Engine;
use crate::ledger::Ledger;

/// A function: its binary name and the event sources it accepts.
#[derive(Debug, Clone, Copy)]
pub struct FunctionSpec {
    pub name: &'static str,
    pub sources: &'static [&'static str],
}

/// Everything a handler needs, built once per sandbox.
#[derive(Debug)]
pub struct Handler<L, N, P> {
    pub spec: FunctionSpec,
    pub engine: Engine<L>,
    pub notifier: N,
    pub publisher: P,
    pub actor: Actor,
    /// Where EMF lines go: stdout in Lambda (CloudWatch reads them from the log stream).
    pub metrics: fn(&str),
}

fn print_line(line: &str) {
    println!("{line}");
}

/// Why an invocation failed (Lambda retries it).
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error("effects: {0}")]
    Effects(#[from] EffectError),
}

impl InvocationError {
    /// A stable name for the kind of failure, reported to Lambda as the error type.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ledger(e) if e.is_retryable() => "WardenLedgerUnavailable",
            Self::Ledger(_) => "WardenLedgerFailure",
            Self::Effects(e) if e.is_retryable() => "WardenDeliveryUnavailable",
            Self::Effects(_) => "WardenDeliveryFailure",
        }
    }
}

/// The invocation's result, also its log line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InvocationSummary {
    pub decision_id: String,
    pub status: Status,
    pub models: Vec<String>,
    pub alert: Option<warden_core::severity::Band>,
    pub actions: usize,
    pub alerted: bool,
    pub published: usize,
}

impl<L: Ledger, N: Notifier, P: Publisher> Handler<L, N, P> {
    pub fn new(spec: FunctionSpec, engine: Engine<L>, notifier: N, publisher: P) -> Self {
        Self { spec, engine, notifier, publisher, actor: Actor::Automation(spec.name.to_owned()), metrics: print_line }
    }

    /// Handles one event. A rejected input succeeds (after recording and alerting); a ledger or delivery
    /// failure is an error for Lambda to retry.
    pub async fn handle(&self, payload: Value) -> Result<InvocationSummary, InvocationError> {
        let started = Instant::now();
        let body = serde_json::to_vec(&payload).unwrap_or_default();
        let now = Timestamp::now();
        let source = payload.get("source").and_then(Value::as_str).unwrap_or_default().to_owned();
        let result = if !source.is_empty() && !self.spec.sources.contains(&source.as_str()) {
            // A misrouted event (an event rule sending the wrong source here) is rejected, not processed.
            let detail_type = payload.get("detail-type").and_then(Value::as_str).unwrap_or_default().to_owned();
            let error = DecodeError::Unsupported {
                event_source: warden_core::event::shown(&source),
                detail_type: warden_core::event::shown(&detail_type),
            };
            self.engine.reject(&error, &body, &payload, now).await
        } else {
            self.engine.ingest_value(payload, &body, now).await
        };
        let report = match result {
            Ok(report) => report,
            Err(error) => {
                self.record(&source, None, true, started);
                tracing::error!(error = %error, retryable = error.is_retryable(), "ledger failure; the invocation will be retried");
                return Err(error.into());
            }
        };
        let delivery = match deliver(&report, self.engine.ledger(), &self.notifier, &self.publisher, &self.actor, now)
            .await
        {
            Ok(delivery) => delivery,
            Err(error) => {
                self.record(&source, Some(&report), true, started);
                tracing::error!(decision_id = %report.decision_id, error = %error, "delivery failure; the invocation will be retried");
                return Err(error.into());
            }
        };
        self.record(&source, Some(&report), false, started);
        let outcome = outcome(&report, &delivery);
        tracing::info!(
            decision_id = %outcome.decision_id,
            status = ?outcome.status,
            models = ?outcome.models,
            alert = ?outcome.alert,
            actions = outcome.actions,
            alerted = outcome.alerted,
            published = outcome.published,
            error = report.error.as_deref().unwrap_or(""),
            "handled"
        );
        Ok(outcome)
    }
}

impl<L, N, P> Handler<L, N, P> {
    fn record(&self, source: &str, report: Option<&Report>, error: bool, started: Instant) {
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        (self.metrics)(&emf_line(self.spec.name, source, report, error, millis, Timestamp::now()));
    }
}

fn outcome(report: &Report, delivery: &Delivery) -> InvocationSummary {
    InvocationSummary {
        decision_id: report.decision_id.clone(),
        status: report.status,
        models: report.models.clone(),
        alert: report.alert,
        actions: report.actions.len(),
        alerted: delivery.alerted,
        published: delivery.published,
    }
}

/// One CloudWatch Embedded Metric Format line: namespace `Warden`, dimensions function and source.
pub fn emf_line(
    function: &str,
    source: &str,
    report: Option<&Report>,
    error: bool,
    millis: f64,
    at: Timestamp,
) -> String {
    let mut values: BTreeMap<&str, f64> = BTreeMap::new();
    values.insert("Events", 1.0);
    values.insert("Errors", if error { 1.0 } else { 0.0 });
    values.insert("Rejections", report.map_or(0.0, |r| if r.status == Status::Rejected { 1.0 } else { 0.0 }));
    values.insert("Duplicates", report.map_or(0.0, |r| if r.status == Status::Duplicate { 1.0 } else { 0.0 }));
    values.insert("Decisions", report.map_or(0.0, |r| if r.status == Status::Applied { 1.0 } else { 0.0 }));
    values.insert("Alerts", report.map_or(0.0, |r| if r.notify && r.status == Status::Applied { 1.0 } else { 0.0 }));
    #[allow(clippy::cast_precision_loss)]
    let actions = report.map_or(0.0, |r| if r.status == Status::Applied { r.actions.len() as f64 } else { 0.0 });
    values.insert("Actions", actions);
    let mut line = json!({
        "_aws": {
            "Timestamp": at.millis(),
            "CloudWatchMetrics": [{
                "Namespace": "Warden",
                "Dimensions": [["Function", "Source"], ["Function"]],
                "Metrics": values.keys().map(|name| json!({"Name": name, "Unit": "Count"}))
                    .chain(std::iter::once(json!({"Name": "DurationMs", "Unit": "Milliseconds"})))
                    .collect::<Vec<_>>(),
            }]
        },
        "Function": function,
        "Source": if source.is_empty() { "unknown" } else { source },
        "DurationMs": millis,
    });
    if let Some(object) = line.as_object_mut() {
        for (name, value) in values {
            object.insert(name.to_owned(), json!(value));
        }
        if let Some(r) = report {
            // A property, not a dimension: searchable in Logs Insights without multiplying metric costs.
            object.insert("DecisionId".to_owned(), json!(r.decision_id));
        }
    }
    line.to_string()
}
