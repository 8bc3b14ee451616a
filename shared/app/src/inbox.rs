//! The break-glass function's inbox, Lambda-free: which input drives which request, and what is rejected. The
//! `warden-breakglass` function (through `warden-aws`) and tests run it.
//!
//! `warden-breakglass` is the only function that changes SageMaker. It consumes
//! - `Warden Break-Glass Requested` (from the detectors and from people): start or resume an action;
//! - `Warden Break-Glass Approved`: a second person approves a destructive step;
//! - `SageMaker Endpoint State Change`: look again at the endpoint's in-flight action (verification).
//!
//! Each invocation drives the action until it rests: done, failed, refused, waiting for a person, or still
//! verifying after a bounded number of DescribeEndpoint looks (the endpoint's next state change finishes it).
//! An endpoint busy with another update is an error of type `WardenBreakGlassWaiting`, so Lambda redelivers the
//! request later; the ledger keeps the action where it was. An input it cannot act on (malformed, misrouted, an
//! approval of an unknown request) is recorded as rejected and alerted, and the invocation succeeds.

use std::time::Duration;

use serde_json::{Value, json};
use warden_core::breakglass::{BreakGlassApproval, BreakGlassRequest};
use warden_core::breakglass::{Input, Next};
use warden_core::bus::{APPROVAL_DETAIL_TYPE, BREAK_GLASS_DETAIL_TYPE, GOVERNANCE_SOURCE};
use warden_core::engine::plan_rejection;
use warden_core::event::{DecodeError, bounded, shown};
use warden_core::ledger::CommitOutcome;
use warden_core::time::Timestamp;

use crate::breakglass::{BreakGlass, BreakGlassError, Step};
use crate::config::ConfigError;
use crate::effects::{Notifier, deliver_alert};
use crate::ledger::Ledger;
use crate::sagemaker::SageMaker;

pub const FUNCTION_NAME: &str = "warden-breakglass";
/// Optional: DescribeEndpoint looks per invocation while verifying (default 20, one every 3 s: a minute).
pub const ENV_VERIFY_POLLS: &str = "WARDEN_VERIFY_POLLS";
/// Every variable the break-glass function reads.
pub const ENV_VARS: &[&str] = &[
    crate::config::ENV_TABLE,
    crate::config::ENV_TOPIC,
    crate::config::ENV_POLICY,
    crate::config::ENV_KILL_SWITCH,
    crate::config::ENV_MODE,
    ENV_VERIFY_POLLS,
];

/// Why an invocation failed. An input this function cannot act on is not a failure: it is recorded as rejected
/// and alerted, and the invocation succeeds (retrying the same input cannot help).
#[derive(Debug, thiserror::Error)]
pub enum BreakGlassInvocationError {
    #[error(transparent)]
    Action(#[from] BreakGlassError),
}

impl BreakGlassInvocationError {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Action(BreakGlassError::RetryLater(_)) => "WardenBreakGlassWaiting",
            Self::Action(e) if e.is_retryable() => "WardenBreakGlassUnavailable",
            Self::Action(BreakGlassError::UnknownRequest(_)) => "WardenBreakGlassUnknownRequest",
            Self::Action(_) => "WardenBreakGlassFailure",
        }
    }
}

/// The break-glass handler, built once per sandbox.
#[derive(Debug)]
pub struct BreakGlassHandler<L, S, N> {
    pub executor: BreakGlass<L, S, N>,
    pub polls: u32,
    pub poll_interval: Duration,
}

fn now() -> Timestamp {
    Timestamp::now()
}

/// Decodes a break-glass detail as the detectors decode theirs: timestamps plausible for now, errors without values.
fn detail<T: serde::de::DeserializeOwned>(payload: &Value, detail_type: &str) -> Result<T, DecodeError> {
    let _window = warden_core::time::DecodeWindow::open(now());
    warden_core::event::typed_detail(detail_type, payload.get("detail").cloned().unwrap_or(Value::Null))
}

impl<L: Ledger, S: SageMaker, N: Notifier> BreakGlassHandler<L, S, N> {
    /// Handles one event; returns where the action rests (`ignored` for a state change with no action in flight,
    /// `rejected` for an input it cannot act on).
    pub async fn handle(&self, payload: Value) -> Result<Value, BreakGlassInvocationError> {
        let source = payload.get("source").and_then(Value::as_str).unwrap_or_default();
        let detail_type = payload.get("detail-type").and_then(Value::as_str).unwrap_or_default();
        let step = match (source, detail_type) {
            (GOVERNANCE_SOURCE, BREAK_GLASS_DETAIL_TYPE) => match detail::<BreakGlassRequest>(&payload, detail_type) {
                Ok(request) => self.drive(&request, Input::Look).await?,
                Err(error) => return self.reject(&error, &payload).await,
            },
            (GOVERNANCE_SOURCE, APPROVAL_DETAIL_TYPE) => {
                let approval: BreakGlassApproval = match detail(&payload, detail_type) {
                    Ok(approval) => approval,
                    Err(error) => return self.reject(&error, &payload).await,
                };
                let request = match self.executor.request_by_id(&approval.request_id).await {
                    Ok(request) => request,
                    // An approval names the request an alert gave: one unknown here is a typo or another stack's.
                    Err(BreakGlassError::UnknownRequest(id)) => {
                        let error = DecodeError::Malformed {
                            detail_type: detail_type.to_owned(),
                            path: "detail.requestId".into(),
                            message: format!("no break-glass request {:?} on record", bounded(&id, 128)),
                        };
                        return self.reject(&error, &payload).await;
                    }
                    Err(e) => return Err(e.into()),
                };
                self.drive(&request, Input::Approve { by: &approval.approved_by }).await?
            }
            ("aws.sagemaker", "SageMaker Endpoint State Change") => {
                let Some(name) = payload.pointer("/detail/EndpointName").and_then(Value::as_str) else {
                    let error = DecodeError::Malformed {
                        detail_type: detail_type.to_owned(),
                        path: "detail.EndpointName".into(),
                        message: "missing".into(),
                    };
                    return self.reject(&error, &payload).await;
                };
                match self.executor.request_holding(name).await? {
                    Some(request) => self.drive(&request, Input::Look).await?,
                    None => return Ok(json!({"status": "ignored", "endpoint": name, "reason": "no action in flight"})),
                }
            }
            // A misrouted event (check the event rule).
            _ => {
                let error = DecodeError::Unsupported { event_source: shown(source), detail_type: shown(detail_type) };
                return self.reject(&error, &payload).await;
            }
        };
        Ok(outcome(&step))
    }

    /// Records an input this function cannot act on, as the detectors do (the error and a digest of the body,
    /// once per body), and alerts once: someone's break-glass request may have gone nowhere.
    async fn reject(&self, error: &DecodeError, payload: &Value) -> Result<Value, BreakGlassInvocationError> {
        let body = serde_json::to_vec(payload).unwrap_or_default();
        let executor = &self.executor;
        let (commit, mut report) = plan_rejection(error, &body, &executor.actor, now(), payload);
        if let CommitOutcome::Duplicate { original } =
            executor.ledger.commit(commit).await.map_err(BreakGlassError::from)?
        {
            report.delivered = original.delivered;
        }
        let alerted =
            deliver_alert(&report, &executor.ledger, &executor.notifier).await.map_err(BreakGlassError::from)?;
        tracing::warn!(code = error.code(), error = %error, alerted, "break-glass input rejected");
        Ok(json!({"status": "rejected", "error": error.to_string(), "alerted": alerted}))
    }

    async fn drive(&self, request: &BreakGlassRequest, input: Input<'_>) -> Result<Step, BreakGlassError> {
        let interval = self.poll_interval;
        let result = self.executor.drive(request, input, now, |_| tokio::time::sleep(interval), self.polls).await;
        match &result {
            Ok(step) => tracing::info!(
                request_id = %request.request_id,
                operation = %request.action,
                target = %request.target,
                phase = step.record.as_ref().map_or("none", |r| r.phase.as_str()),
                still_verifying = step.next == Next::Poll,
                alerts = step.alerts,
                "break-glass step"
            ),
            Err(error) => tracing::warn!(
                request_id = %request.request_id,
                error = %error,
                retryable = error.is_retryable(),
                "break-glass step did not finish"
            ),
        }
        result
    }
}

fn outcome(step: &Step) -> Value {
    let record = step.record.as_ref();
    json!({
        "request_id": record.map(|r| r.request.request_id.clone()),
        "phase": record.map(|r| r.phase),
        "note": record.map(|r| r.note.clone()),
        "still_verifying": step.next == Next::Poll,
        "alerts": step.alerts,
    })
}

/// How many DescribeEndpoint looks one invocation makes while verifying (`WARDEN_VERIFY_POLLS`, default 20).
pub fn verify_polls(lookup: &impl Fn(&str) -> Option<String>) -> Result<u32, ConfigError> {
    match lookup(ENV_VERIFY_POLLS).filter(|v| !v.trim().is_empty()) {
        Some(text) => text.trim().parse().map_err(|e| ConfigError::Invalid {
            name: ENV_VERIFY_POLLS,
            reason: format!("{text:?} is not a number of looks: {e}"),
        }),
        None => Ok(20),
    }
}
