//! `warden break-glass ...` and `warden status`: a person acting on an endpoint or model package, approving a
//! pending step, or looking before they act. The normal way is a signed call to the break-glass function URL
//! (the function records who AWS says signed it); `--here` is the last resort, recorded as a direct action. Wiring only: the request, the state machine and the status come
//! from `warden-core`; AWS from `warden-aws`.

use std::io::Write;
use std::time::Duration;

use serde::Serialize;
use warden_app::breakglass::{BreakGlass, BreakGlassError, Step, recorded_request};
use warden_app::effects::{EffectError, MemoryNotifier, Notifier};
use warden_app::ledger::Ledger;
use warden_aws::clients::AwsClients;
use warden_aws::function_url::post_signed;
use warden_aws::sns::SnsNotifier;
use warden_core::action::{Operation, Phase};
use warden_core::breakglass::alerts::status_command;
use warden_core::breakglass::person::direct;
use warden_core::breakglass::{BreakGlassRequest, PersonAsk};
use warden_core::breakglass::{Input, Next};
use warden_core::event::bounded;
use warden_core::ledger::Actor;
use warden_core::notify::Alert;
use warden_core::placement::Placement;

use crate::commands::{CommandResult, Failure, describe_ledger, engine, now};
use crate::{Delivery, EXIT_REJECTED, Global};

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
    let ask =
        PersonAsk::Request { action: operation, target: target.trim().to_owned(), config, reason: reason.to_owned() };
    deliver(global, send, ask).await
}

/// `warden break-glass approve REQUEST_ID`.
pub async fn approve(global: &Global, request_id: &str, send: &Delivery) -> CommandResult {
    if request_id.trim().is_empty() {
        return Err(Failure::Message("approve needs the request id the alert names".into()));
    }
    deliver(global, send, PersonAsk::Approve { request_id: request_id.trim().to_owned() }).await
}

/// `warden break-glass resume REQUEST_ID`: the recorded request again, with the same id (never a second action).
pub async fn resume(global: &Global, request_id: &str, send: &Delivery) -> CommandResult {
    if request_id.trim().is_empty() {
        return Err(Failure::Message("resume needs the request id the alert or `warden status` names".into()));
    }
    deliver(global, send, PersonAsk::Resume { request_id: request_id.trim().to_owned() }).await
}

/// Where the ask goes: printed, signed to the break-glass function URL, or carried out from here.
async fn deliver(global: &Global, send: &Delivery, ask: PersonAsk) -> CommandResult {
    if send.print {
        println!("{}", if global.json { serde_json::to_string(&ask)? } else { serde_json::to_string_pretty(&ask)? });
        return Ok(0);
    }
    if let Some(url) = send.url.as_deref().filter(|u| !u.trim().is_empty()) {
        return over_url(global, url.trim(), &ask).await;
    }
    if send.here {
        return here(global, send, ask).await;
    }
    Err(Failure::Message(
        "say where it goes: --url URL (or WARDEN_BREAKGLASS_URL) signs it to the break-glass function, --here \
         carries it out from this machine (last resort), --print only prints it"
            .into(),
    ))
}

/// Sends the ask to the break-glass function URL, signed with the caller's credentials: its answer, or why not.
async fn ask_function(url: &str, ask: &PersonAsk) -> Result<serde_json::Value, Failure> {
    let body = serde_json::to_string(ask)?;
    let answer = post_signed(url, &body).await.map_err(|e| Failure::Message(format!("not sent: {e}")))?;
    let value: serde_json::Value =
        serde_json::from_str(&answer.body).unwrap_or_else(|_| serde_json::json!({"error": answer.body}));
    let text = |field: &str| value.get(field).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    match answer.status {
        200 => Ok(value),
        503 => Err(Failure::Message(format!(
            "nothing changed on SageMaker yet ({}); request {} is recorded: carry on with `warden break-glass resume {} --url {url}`",
            text("retry"),
            text("request_id"),
            text("request_id")
        ))),
        403 if value.get("error").is_none() => Err(Failure::Message(format!(
            "the function URL refused your signature (403): your role needs lambda:InvokeFunctionUrl on it, and \
             lambda:InvokeFunction only through it (the stack grants both to OperatorRoleArn) ({})",
            bounded(&answer.body, 200)
        ))),
        status => Err(Failure::Message(format!(
            "the break-glass function refused it ({status}): {}",
            Some(text("error")).filter(|e| !e.is_empty()).unwrap_or_else(|| bounded(&answer.body, 300))
        ))),
    }
}

/// Sends the ask to the break-glass function URL and prints the step it answers with.
async fn over_url(global: &Global, url: &str, ask: &PersonAsk) -> CommandResult {
    let value = ask_function(url, ask).await?;
    let text = |field: &str| value.get(field).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
    if global.json {
        println!("{value}");
    } else {
        let note = Some(text("note")).filter(|n| !n.is_empty()).map(|n| format!(" ({n})")).unwrap_or_default();
        println!("request {}: {}{note}", text("request_id"), text("phase"));
        if value["still_verifying"] == true {
            println!("still verifying: the endpoint's next state change finishes it");
        }
    }
    Ok(match text("phase").as_str() {
        "failed" | "refused" => EXIT_REJECTED,
        _ => 0,
    })
}

/// `warden kill-switch on|off --url URL`: set by the person who signs, through the break-glass function.
pub async fn kill_switch_over_url(global: &Global, url: &str, on: bool, reason: &str) -> CommandResult {
    if reason.trim().is_empty() {
        return Err(Failure::Message("--reason must say why".into()));
    }
    let value = ask_function(url, &PersonAsk::KillSwitch { on, reason: reason.trim().to_owned() }).await?;
    if global.json {
        println!("{value}");
    } else {
        let by = value["by"]["name"].as_str().unwrap_or_default();
        println!("kill switch {} (set by person:{by} through the break-glass function)", if on { "ON" } else { "off" });
    }
    Ok(0)
}

/// The last resort: the state machine run from this machine, as the caller STS names (a direct action).
async fn here(global: &Global, send: &Delivery, ask: PersonAsk) -> CommandResult {
    // Checked before anything is recorded: a bad topic found at the first alert would leave the action half told.
    if let Some(topic) = send.topic.as_deref().filter(|t| !t.starts_with("arn:")) {
        return Err(Failure::Message(format!("--topic {topic:?} is not an SNS topic ARN")));
    }
    if global.actor.is_some() {
        return Err(Failure::Message(
            "--actor cannot name who acts with --here: the ledger records the caller AWS names".into(),
        ));
    }
    let (action, target, config, reason) = match ask {
        PersonAsk::Approve { .. } => {
            return Err(Failure::Message(
                "an approval counts only when the approver signs it to the break-glass function URL (--url): one \
                 made --here is never one of the two people"
                    .into(),
            ));
        }
        // `warden kill-switch` sets it directly; break-glass commands never ask for it.
        PersonAsk::KillSwitch { .. } => return Err(Failure::Message("use `warden kill-switch on|off`".into())),
        PersonAsk::Request { action, target, config, reason } => (action, target, config, reason),
        PersonAsk::Resume { request_id } => {
            // The ledger is opened only to read the request: carrying out opens it again (one embedded opener).
            let request = {
                let engine = engine(global).await?;
                recorded(global, engine.ledger(), &request_id).await?
            };
            let clients = AwsClients::from_env().await;
            let by = direct_caller(&clients).await?;
            return carry_out(global, send, &clients, request, by).await;
        }
    };
    let clients = AwsClients::from_env().await;
    let by = direct_caller(&clients).await?;
    let request = BreakGlassRequest::by_hand(action, &target, config, &reason, by.clone(), now());
    carry_out(global, send, &clients, request, by).await
}

/// Whether `--here` acts at Warden's home: the caller's account (from their ARN) and their clients' region must be
/// home's, when a home is set. Without one, the caller is trusted to be where they mean to act.
fn here_is_home(caller_arn: &str, region: Option<&str>, home: &Placement) -> Result<(), String> {
    let caller = warden_core::placement::arn_parts(caller_arn).map(|(_, place, _)| place).unwrap_or_default();
    let account = caller.account.as_deref();
    let (wrong_account, wrong_region) = (
        home.account.is_some() && account != home.account.as_deref(),
        home.region.is_some() && region != home.region.as_deref(),
    );
    if wrong_account || wrong_region {
        return Err(format!(
            "--here acts with your credentials in account {} region {}, but Warden governs from {home}: use the home \
             account's operator role and region (targets in other accounts are not acted on from here yet)",
            account.unwrap_or("unknown"),
            region.unwrap_or("unknown")
        ));
    }
    Ok(())
}

/// Who acts directly (`--here`, the kill switch without `--url`): the caller STS names, as the person it names
/// where it names one (with the roles `WARDEN_PERSON_ROLES` lists), else its ARN; never the account root.
pub async fn direct_caller(clients: &AwsClients) -> Result<Actor, Failure> {
    let arn = clients.caller_arn().await.map_err(|e| {
        Failure::Message(format!("cannot tell who is acting: configure AWS credentials for the operator role ({e})"))
    })?;
    let lookup = |name: &str| std::env::var(name).ok();
    direct(&arn, &warden_app::inbox::person_roles(&lookup)).map_err(|e| Failure::Message(e.to_string()))
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
async fn carry_out(
    global: &Global,
    send: &Delivery,
    clients: &AwsClients,
    request: BreakGlassRequest,
    by: Actor,
) -> CommandResult {
    // The caller's SageMaker is whatever account and region their credentials point at: acting on a bare name
    // there must mean acting at Warden's home, or a same-named endpoint elsewhere is the one changed.
    let home = crate::commands::home().map_err(Failure::Message)?;
    let caller = clients.caller_arn().await.map_err(Failure::Message)?;
    here_is_home(&caller, clients.region().as_deref(), &home).map_err(Failure::Message)?;
    let engine = engine(global).await?;
    let policy = engine.policy();
    let alerts = match &send.topic {
        Some(topic) => Alerts::Topic(clients.notifier(topic)),
        None => Alerts::Printed(MemoryNotifier::default()),
    };
    let executor = BreakGlass::from_policy(engine.ledger(), clients.sagemaker(), &alerts, policy, by);
    let input = Input::Look;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn here_acts_only_from_the_home_account_and_region() {
        let home = Placement::new(Some("111122223333".into()), Some("us-east-1".into()));
        let alice = "arn:aws:sts::111122223333:assumed-role/operator/alice";
        assert!(here_is_home(alice, Some("us-east-1"), &home).is_ok());
        let elsewhere = here_is_home("arn:aws:sts::444455556666:assumed-role/operator/alice", Some("us-east-1"), &home);
        assert!(elsewhere.is_err_and(|e| e.contains("account 444455556666")));
        assert!(here_is_home(alice, Some("eu-west-1"), &home).is_err_and(|e| e.contains("region eu-west-1")));
        assert!(here_is_home(alice, None, &home).is_err());
        assert!(here_is_home(alice, Some("eu-west-1"), &Placement::default()).is_ok());
    }
}
