//! `warden break-glass ...` and `warden status`: a person acting on an endpoint or model package, approving a
//! pending step, or looking before they act. Wiring only: the request, the state machine and the status come
//! from `warden-core`; AWS from `warden-aws`.

use std::io::Write;
use std::time::Duration;

use serde::Serialize;
use warden_app::breakglass::{BreakGlass, BreakGlassError, Step, recorded_request};
use warden_app::effects::{EffectError, MemoryNotifier, Notifier, Publisher};
use warden_app::ledger::Ledger;
use warden_aws::clients::AwsClients;
use warden_aws::sns::SnsNotifier;
use warden_core::action::{Operation, Phase};
use warden_core::breakglass::alerts::status_command;
use warden_core::breakglass::{BreakGlassApproval, BreakGlassRequest};
use warden_core::breakglass::{Input, Next};
use warden_core::bus::BusEvent;
use warden_core::ledger::Actor;
use warden_core::notify::Alert;

use crate::commands::{CommandResult, Failure, describe_ledger, engine, now};
use crate::{Delivery, EXIT_REJECTED, Global};

/// What a person submits.
pub enum Submission {
    /// A new request.
    Request(BreakGlassRequest),
    /// A second person's approval of a recorded request.
    Approval(BreakGlassApproval),
    /// Carrying on with a recorded request (one `--here` stopped waiting for, or one that stalled), by `by`.
    Resume { request: BreakGlassRequest, by: Actor },
}

impl Submission {
    fn event(&self) -> BusEvent {
        match self {
            Self::Request(request) | Self::Resume { request, .. } => request.event(),
            Self::Approval(approval) => approval.event(),
        }
    }

    fn request_id(&self) -> &str {
        match self {
            Self::Request(request) | Self::Resume { request, .. } => &request.request_id,
            Self::Approval(approval) => &approval.request_id,
        }
    }

    /// Who the ledger records for the steps this submission moves.
    fn actor(&self) -> &Actor {
        match self {
            Self::Request(request) => &request.requested_by,
            Self::Approval(approval) => &approval.approved_by,
            Self::Resume { by, .. } => by,
        }
    }
}

/// The request `request_id` names, from the command's ledger.
async fn recorded<L: Ledger>(global: &Global, ledger: &L, request_id: &str) -> Result<BreakGlassRequest, Failure> {
    recorded_request(ledger, request_id).await.map_err(|e| match e {
        BreakGlassError::UnknownRequest(id) => {
            Failure::Message(format!("no request {id:?} in the ledger ({})", describe_ledger(global)))
        }
        other => Failure::Message(other.to_string()),
    })
}

/// How to carry on with a request that is recorded but not finished.
fn resume_hint(request: &BreakGlassRequest) -> String {
    format!(
        "request {} is recorded (see `{}`); carry on with `warden break-glass resume {} --here`",
        request.request_id,
        status_command(request.action, &request.target),
        request.request_id
    )
}

/// `warden break-glass rollback|cutoff|restore|gate|release`.
pub async fn request(
    global: &Global,
    operation: Operation,
    target: &str,
    config: Option<String>,
    reason: &str,
    send: &Delivery,
) -> CommandResult {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Failure::Message("--reason must say why (it goes into the ledger and the alerts)".into()));
    }
    if target.trim().is_empty() {
        return Err(Failure::Message(format!("{operation} needs a target: the endpoint or model package is empty")));
    }
    let clients = AwsClients::from_env().await;
    let actor = who(global, &clients).await?;
    let request = BreakGlassRequest::by_hand(operation, target, config, reason, actor, now());
    submit(global, send, &clients, Submission::Request(request)).await
}

/// `warden break-glass approve REQUEST_ID`.
pub async fn approve(global: &Global, request_id: &str, send: &Delivery) -> CommandResult {
    if request_id.trim().is_empty() {
        return Err(Failure::Message("approve needs the request id the alert names".into()));
    }
    let clients = AwsClients::from_env().await;
    let actor = who(global, &clients).await?;
    let approval = BreakGlassApproval::new(request_id.trim(), actor, now());
    submit(global, send, &clients, Submission::Approval(approval)).await
}

/// `warden break-glass resume REQUEST_ID`: the recorded request again, with the same id (never a second action).
pub async fn resume(global: &Global, request_id: &str, send: &Delivery) -> CommandResult {
    // The ledger is opened only to read the request: `--here` opens it again (the embedded one allows one opener).
    let request = {
        let engine = engine(global).await?;
        recorded(global, engine.ledger(), request_id.trim()).await?
    };
    let clients = AwsClients::from_env().await;
    let by = who(global, &clients).await?;
    submit(global, send, &clients, Submission::Resume { request, by }).await
}

/// The person acting: `--actor`, else the caller's AWS identity. Never automation: the ledger must name them.
async fn who(global: &Global, clients: &AwsClients) -> Result<Actor, Failure> {
    if let Some(name) = &global.actor {
        return Ok(Actor::Person(name.clone()));
    }
    clients.caller_arn().await.map(Actor::Person).map_err(|e| {
        Failure::Message(format!("cannot tell who is acting: pass --actor NAME, or configure AWS credentials ({e})"))
    })
}

/// Where the submission goes: printed, sent to the break-glass function's bus, or carried out from here.
async fn submit(global: &Global, send: &Delivery, clients: &AwsClients, submission: Submission) -> CommandResult {
    if send.print {
        // A resumed request keeps its event id: EventBridge consumers see a redelivery, not a new event.
        let id = match &submission {
            Submission::Request(request) | Submission::Resume { request, .. } => request.request_id.clone(),
            Submission::Approval(approval) => format!("approval-{}", approval.request_id),
        };
        let envelope = submission.event().envelope(&id, now());
        println!("{}", if global.json { envelope.to_string() } else { serde_json::to_string_pretty(&envelope)? });
        return Ok(0);
    }
    if send.here {
        return carry_out(global, send, clients, submission).await;
    }
    let Some(bus) = send.bus.as_deref().filter(|b| !b.trim().is_empty()) else {
        return Err(Failure::Message(
            "say where the request goes: --bus NAME (or WARDEN_EVENT_BUS_NAME) sends it to the break-glass \
             function, --here carries it out from this machine, --print only prints it"
                .into(),
        ));
    };
    let event = submission.event();
    clients
        .publisher(bus)
        .publish(std::slice::from_ref(&event))
        .await
        .map_err(|e| Failure::Message(format!("not sent: {e}")))?;
    let follow = follow_up(&submission);
    if global.json {
        println!(
            "{}",
            serde_json::json!({"sent": event.detail_type, "bus": bus, "request_id": submission.request_id(), "follow": follow})
        );
    } else {
        println!("sent {} for request {} to bus {bus}", event.detail_type, submission.request_id());
        if let Some(follow) = follow {
            println!("follow it: {follow}");
        }
    }
    Ok(0)
}

fn follow_up(submission: &Submission) -> Option<String> {
    match submission {
        Submission::Request(request) | Submission::Resume { request, .. } => {
            Some(status_command(request.action, &request.target))
        }
        Submission::Approval(_) => None,
    }
}

/// Alerts of an action carried out from here: to the team's topic, or printed.
enum Alerts {
    Topic(SnsNotifier),
    Printed(MemoryNotifier),
}

impl Notifier for Alerts {
    async fn notify(&self, alert: &Alert) -> Result<(), EffectError> {
        match self {
            Self::Topic(sns) => sns.notify(alert).await,
            Self::Printed(memory) => memory.notify(alert).await,
        }
    }
}

/// One line of `--here --json`.
#[derive(Serialize)]
struct Carried<'a> {
    request_id: &'a str,
    operation: Operation,
    target: &'a str,
    phase: Option<Phase>,
    note: Option<&'a str>,
    still_verifying: bool,
    alerts: Vec<&'a str>,
}

/// Runs the break-glass state machine from here: against this command's ledger and the caller's SageMaker,
/// with the same locks, limits and records as the function, so the two never act twice on one endpoint.
async fn carry_out(global: &Global, send: &Delivery, clients: &AwsClients, submission: Submission) -> CommandResult {
    // Checked before anything is recorded: a bad topic found at the first alert would leave the action half told.
    if let Some(topic) = send.topic.as_deref().filter(|t| !t.starts_with("arn:")) {
        return Err(Failure::Message(format!("--topic {topic:?} is not an SNS topic ARN")));
    }
    let engine = engine(global).await?;
    let policy = engine.policy();
    let alerts = match &send.topic {
        Some(topic) => Alerts::Topic(clients.notifier(topic)),
        None => Alerts::Printed(MemoryNotifier::default()),
    };
    let executor =
        BreakGlass::from_policy(engine.ledger(), clients.sagemaker(), &alerts, policy, submission.actor().clone());
    let (request, input) = match &submission {
        Submission::Request(request) | Submission::Resume { request, .. } => (request.clone(), Input::Look),
        Submission::Approval(approval) => (
            recorded(global, engine.ledger(), &approval.request_id).await?,
            Input::Approve { by: &approval.approved_by },
        ),
    };
    let interval = Duration::from_secs_f64(send.poll_seconds);
    let pause = |_| tokio::time::sleep(interval);
    // A busy endpoint (another update in progress) is waited for here, as Lambda's redelivery does for the function.
    let mut waited = 0;
    let step = loop {
        match executor.drive(&request, input.clone(), now, pause, send.polls).await {
            Err(BreakGlassError::RetryLater(why)) if waited < send.polls => {
                waited += 1;
                if !global.json {
                    eprintln!("waiting: {why}");
                }
                tokio::time::sleep(interval).await;
            }
            // The action stays recorded (and holds the endpoint's lock): a new request would find it busy.
            Err(BreakGlassError::RetryLater(why)) => {
                return Err(Failure::Message(format!(
                    "stopped waiting after {waited} looks ({why}); nothing changed on SageMaker yet; {}",
                    resume_hint(&request)
                )));
            }
            Err(e) => return Err(Failure::Message(format!("{e}; {}", resume_hint(&request)))),
            Ok(step) => break step,
        }
    };
    let printed = match &alerts {
        Alerts::Printed(memory) => memory.sent(),
        Alerts::Topic(_) => Vec::new(),
    };
    report(global, &request, &step, &printed)
}

fn report(global: &Global, request: &BreakGlassRequest, step: &Step, printed: &[Alert]) -> CommandResult {
    let record = step.record.as_ref();
    let phase = record.map(|r| r.phase);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if global.json {
        let line = Carried {
            request_id: &request.request_id,
            operation: request.action,
            target: &request.target,
            phase,
            note: record.map(|r| r.note.as_str()),
            still_verifying: step.next == Next::Poll,
            alerts: printed.iter().map(|a| a.subject.as_str()).collect(),
        };
        serde_json::to_writer(&mut out, &line)?;
        writeln!(out)?;
    } else {
        for alert in printed {
            writeln!(out, "=== alert: {}\n{}\n", alert.subject, alert.body)?;
        }
        let phase_text = phase.map_or("nothing recorded", Phase::as_str);
        let note = record.map(|r| format!(" ({})", r.note)).unwrap_or_default();
        writeln!(out, "request {}: {} {}: {phase_text}{note}", request.request_id, request.action, request.target)?;
        if step.next == Next::Poll {
            let status = status_command(request.action, &request.target);
            writeln!(out, "still verifying: the endpoint's next state change finishes it; {status}")?;
        }
    }
    out.flush()?;
    Ok(match phase {
        Some(Phase::Failed | Phase::Refused) => EXIT_REJECTED,
        _ => 0,
    })
}
