//! The break-glass function's inbox, Lambda-free: which input drives which request, and what is rejected. The
//! `warden-breakglass` function (through `warden-aws`) and tests run it.
//!
//! `warden-breakglass` is the only function that changes SageMaker. It consumes
//! - signed requests from people at its function URL (`AuthType: AWS_IAM`): a new action, a second person's
//!   approval, or carrying on with a recorded one ([`PersonAsk`]). The person is the SigV4-verified caller Lambda
//!   passes ([`person_of`]), never anything in the body;
//! - `Warden Break-Glass Requested` from the detectors (automation) over the governance bus: start or resume an
//!   action. A request or approval on the bus that claims a person is rejected: people sign their own;
//! - `SageMaker Endpoint State Change`: look again at the endpoint's in-flight action (verification).
//!
//! Each invocation drives the action until it rests: done, failed, refused, waiting for a person, or still
//! verifying after a bounded number of DescribeEndpoint looks (the endpoint's next state change finishes it).
//! An endpoint busy with another update is an error of type `WardenBreakGlassWaiting`, so Lambda redelivers the
//! request later; the ledger keeps the action where it was. An input it cannot act on (malformed, misrouted, an
//! approval of an unknown request) is recorded as rejected and alerted, and the invocation succeeds.

use std::time::Duration;

use serde_json::{Value, json};
use warden_core::breakglass::approval_counts;
use warden_core::breakglass::person::person_of;
use warden_core::breakglass::{BreakGlassRequest, PersonAsk};
use warden_core::breakglass::{Input, Next};
use warden_core::bus::{APPROVAL_DETAIL_TYPE, BREAK_GLASS_DETAIL_TYPE, GOVERNANCE_SOURCE};
use warden_core::engine::plan_rejection;
use warden_core::event::{DecodeError, bounded, shown};
use warden_core::ledger::{Actor, CommitOutcome};
use warden_core::time::Timestamp;

use crate::breakglass::{BreakGlass, BreakGlassError, Step};
use crate::config::ConfigError;
use crate::effects::{Notifier, deliver_alert};
use crate::ledger::Ledger;
use crate::sagemaker::SageMaker;

pub const FUNCTION_NAME: &str = "warden-breakglass";
/// Optional: DescribeEndpoint looks per invocation while verifying (default 20, one every 3 s: a minute).
pub const ENV_VERIFY_POLLS: &str = "WARDEN_VERIFY_POLLS";
/// Optional, comma-separated: roles (names or ARNs) whose sessions are named after the IAM user who assumed them
/// (their trust policies require `sts:RoleSessionName` = `${aws:username}`), so their callers count as people.
pub const ENV_PERSON_ROLES: &str = "WARDEN_PERSON_ROLES";
/// Every variable the break-glass function reads.
pub const ENV_VARS: &[&str] = &[
    crate::config::ENV_TABLE,
    crate::config::ENV_TOPIC,
    crate::config::ENV_POLICY,
    crate::config::ENV_KILL_SWITCH,
    crate::config::ENV_MODE,
    ENV_VERIFY_POLLS,
    ENV_PERSON_ROLES,
];
/// What the ledger names as the source of a function URL request.
pub const FUNCTION_URL_SOURCE: &str = "warden.function-url";
/// A function URL body is a small JSON object: anything larger is refused before it is read.
const MAX_ASK_BYTES: usize = 16 * 1024;

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
    /// `WARDEN_PERSON_ROLES`: see [`person_of`].
    pub person_roles: Vec<String>,
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
        // Only the Lambda service builds a function URL event (`requestContext.http`); EventBridge's have a source.
        if payload.pointer("/requestContext/http").is_some() {
            return self.handle_url(&payload).await;
        }
        let source = payload.get("source").and_then(Value::as_str).unwrap_or_default();
        let detail_type = payload.get("detail-type").and_then(Value::as_str).unwrap_or_default();
        let step = match (source, detail_type) {
            (GOVERNANCE_SOURCE, BREAK_GLASS_DETAIL_TYPE) => match detail::<BreakGlassRequest>(&payload, detail_type) {
                // The bus carries automation's requests; a person's come signed, to the function URL.
                Ok(request) if request.requested_by.is_human() => {
                    let error = DecodeError::Malformed {
                        detail_type: detail_type.to_owned(),
                        path: "detail.requestedBy".into(),
                        message: "a person's request comes signed to the break-glass function URL, not over the bus"
                            .into(),
                    };
                    return self.reject(&error, &payload, &self.executor.actor).await;
                }
                Ok(request) => self.drive(&request, Input::Look).await?,
                Err(error) => return self.reject(&error, &payload, &self.executor.actor).await,
            },
            // Whoever can put events on the bus could name any approver: approvals come only signed.
            (GOVERNANCE_SOURCE, APPROVAL_DETAIL_TYPE) => {
                let error = DecodeError::Malformed {
                    detail_type: detail_type.to_owned(),
                    path: "detail-type".into(),
                    message: "approvals come signed by the approver to the break-glass function URL, never over \
                              the bus"
                        .into(),
                };
                return self.reject(&error, &payload, &self.executor.actor).await;
            }
            ("aws.sagemaker", "SageMaker Endpoint State Change") => {
                let Some(name) = payload.pointer("/detail/EndpointName").and_then(Value::as_str) else {
                    let error = DecodeError::Malformed {
                        detail_type: detail_type.to_owned(),
                        path: "detail.EndpointName".into(),
                        message: "missing".into(),
                    };
                    return self.reject(&error, &payload, &self.executor.actor).await;
                };
                match self.executor.request_holding(name).await? {
                    Some(request) => self.drive(&request, Input::Look).await?,
                    None => return Ok(json!({"status": "ignored", "endpoint": name, "reason": "no action in flight"})),
                }
            }
            // A misrouted event (check the event rule).
            _ => {
                let error = DecodeError::Unsupported { event_source: shown(source), detail_type: shown(detail_type) };
                return self.reject(&error, &payload, &self.executor.actor).await;
            }
        };
        Ok(outcome(&step))
    }

    /// A person's signed request at the function URL: answered with an HTTP response (the step, or why not).
    async fn handle_url(&self, payload: &Value) -> Result<Value, BreakGlassInvocationError> {
        let text = |pointer: &str| payload.pointer(pointer).and_then(Value::as_str);
        // What the ledger keeps of a refused request: who, and a digest of what they sent (never the headers,
        // which carry the signature and session token).
        let envelope = json!({
            "id": text("/requestContext/requestId").unwrap_or_default(),
            "source": FUNCTION_URL_SOURCE,
            "detail-type": "Break-Glass Ask",
        });
        let refuse = |status: u16, path: &str, message: String| {
            let error =
                DecodeError::Malformed { detail_type: "function URL request".into(), path: path.into(), message };
            (status, error)
        };
        let body = text("/body").unwrap_or_default();
        let Some(caller) = text("/requestContext/authorizer/iam/userArn") else {
            // No IAM authorizer: the URL is not `AWS_IAM`, and nobody can say who is asking.
            let (status, error) = refuse(
                403,
                "requestContext.authorizer.iam",
                "no signed caller: the function URL must use AuthType AWS_IAM".into(),
            );
            return self.refuse_url(status, &error, body, &envelope, &self.executor.actor).await;
        };
        let actor = match person_of(caller, &self.person_roles) {
            Ok(actor) => actor,
            Err(refused) => {
                let (status, error) = refuse(403, "requestContext.authorizer.iam.userArn", refused.to_string());
                return self
                    .refuse_url(status, &error, &format!("{caller}\n{body}"), &envelope, &self.executor.actor)
                    .await;
            }
        };
        let signed = format!("{caller}\n{body}");
        let method = text("/requestContext/http/method").unwrap_or_default();
        let checked = if method != "POST" {
            Err(refuse(405, "requestContext.http.method", format!("{} instead of POST", shown(method))))
        } else if payload.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
            Err(refuse(415, "body", "send the body as JSON (content-type: application/json)".into()))
        } else if body.len() > MAX_ASK_BYTES {
            Err(refuse(413, "body", format!("{} bytes; an ask is at most {MAX_ASK_BYTES}", body.len())))
        } else {
            serde_json::from_str::<PersonAsk>(body)
                .map_err(|e| refuse(400, "body", bounded(&e.to_string(), 256)))
                .and_then(|ask| ask.check().map(|()| ask).map_err(|why| refuse(400, "body", why)))
        };
        let ask = match checked {
            Ok(ask) => ask,
            Err((status, error)) => return self.refuse_url(status, &error, &signed, &envelope, &actor).await,
        };
        let (request, input) = match &ask {
            PersonAsk::KillSwitch { on, reason } => {
                // Only a person stops or resumes every function: automation and chosen session names may not.
                if !matches!(actor, Actor::Person(_)) {
                    let message = format!("{actor} may not set the kill switch: only a person may");
                    let (status, error) = refuse(403, "requestContext.authorizer.iam.userArn", message);
                    return self.refuse_url(status, &error, &signed, &envelope, &actor).await;
                }
                let ledger = &self.executor.ledger;
                return match crate::switches::set_kill_switch(ledger, *on, reason, actor.clone(), now()).await {
                    Ok(switch) => {
                        tracing::warn!(caller = %actor, on, "kill switch set");
                        Ok(http(200, serde_json::to_value(&switch).unwrap_or_default()))
                    }
                    // Someone set it at the same moment: their setting stands; look, then decide again.
                    Err(warden_core::ledger::LedgerError::Conflict(why)) => {
                        Ok(http(409, json!({"error": format!("the kill switch changed meanwhile: {why}")})))
                    }
                    Err(warden_core::ledger::LedgerError::Invalid(why)) => {
                        let (status, error) = refuse(400, "body.reason", why);
                        self.refuse_url(status, &error, &signed, &envelope, &actor).await
                    }
                    Err(e) => Err(BreakGlassError::from(e).into()),
                };
            }
            // Automation requests over the governance bus; at the URL a request whose asker no one can tell apart
            // from its approver would let one person be both.
            PersonAsk::Request { .. } if !matches!(actor, Actor::Person(_)) => {
                let message = format!(
                    "{actor} may not ask through the function URL: only people do (automation requests over the \
                     governance bus)"
                );
                let (status, error) = refuse(403, "requestContext.authorizer.iam.userArn", message);
                return self.refuse_url(status, &error, &signed, &envelope, &actor).await;
            }
            PersonAsk::Request { action, target, config, reason } => {
                (BreakGlassRequest::by_hand(*action, target, config.clone(), reason, actor.clone(), now()), Input::Look)
            }
            PersonAsk::Approve { request_id } | PersonAsk::Resume { request_id } => {
                let request = match self.executor.request_by_id(request_id).await {
                    Ok(request) => request,
                    Err(BreakGlassError::UnknownRequest(id)) => {
                        let message = format!("no break-glass request {:?} on record", bounded(&id, 128));
                        let (status, error) = refuse(404, "body.requestId", message);
                        return self.refuse_url(status, &error, &signed, &envelope, &actor).await;
                    }
                    Err(e) => return Err(e.into()),
                };
                // An approval that cannot count is refused and recorded, not quietly left waiting.
                if matches!(ask, PersonAsk::Approve { .. }) && !approval_counts(&actor, &request.requested_by) {
                    let message = format!(
                        "{actor} cannot be the second person for a request {} made: a person who is not the requester \
                         (and a requester Warden can tell apart) approves",
                        request.requested_by
                    );
                    let (status, error) = refuse(403, "requestContext.authorizer.iam.userArn", message);
                    return self.refuse_url(status, &error, &signed, &envelope, &actor).await;
                }
                let input = match ask {
                    PersonAsk::Approve { .. } => Input::Approve { by: &actor },
                    PersonAsk::Request { .. } | PersonAsk::Resume { .. } | PersonAsk::KillSwitch { .. } => Input::Look,
                };
                (request, input)
            }
        };
        tracing::info!(caller = %actor, request_id = %request.request_id, "signed break-glass ask");
        match self.drive(&request, input).await {
            Ok(step) => Ok(http(200, outcome(&step))),
            // No redelivery for a person's call: they carry on with `resume` when the endpoint is free.
            Err(BreakGlassError::RetryLater(why)) => Ok(http(
                503,
                json!({"request_id": request.request_id, "retry": why,
                       "resume": format!("warden break-glass resume {} --url URL", request.request_id)}),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Records a refused function URL request like any rejected input, and answers it.
    async fn refuse_url(
        &self,
        status: u16,
        error: &DecodeError,
        signed: &str,
        envelope: &Value,
        by: &Actor,
    ) -> Result<Value, BreakGlassInvocationError> {
        let mut recorded = self.record_rejection(error, signed.as_bytes(), envelope, by).await?;
        recorded["statusCode"] = json!(status);
        Ok(http(status, recorded))
    }

    /// Records an input this function cannot act on, as the detectors do (the error and a digest of the body,
    /// once per body), and alerts once: someone's break-glass request may have gone nowhere.
    async fn reject(
        &self,
        error: &DecodeError,
        payload: &Value,
        by: &Actor,
    ) -> Result<Value, BreakGlassInvocationError> {
        let body = serde_json::to_vec(payload).unwrap_or_default();
        self.record_rejection(error, &body, payload, by).await
    }

    async fn record_rejection(
        &self,
        error: &DecodeError,
        body: &[u8],
        envelope: &Value,
        by: &Actor,
    ) -> Result<Value, BreakGlassInvocationError> {
        let executor = &self.executor;
        let (commit, mut report) = plan_rejection(error, body, by, now(), envelope);
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

/// A function URL response: Lambda returns `statusCode` and `body` to the caller as given.
fn http(status: u16, body: Value) -> Value {
    json!({"statusCode": status, "headers": {"content-type": "application/json"}, "body": body.to_string()})
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

/// The roles whose sessions count as people (`WARDEN_PERSON_ROLES`, comma-separated; empty: none).
pub fn person_roles(lookup: &impl Fn(&str) -> Option<String>) -> Vec<String> {
    lookup(ENV_PERSON_ROLES)
        .map(|text| text.split(',').map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}
