//! Alerts for break-glass actions: started, waiting for approval, verified, failed, refused, shadowed. Each names
//! the endpoint or package, who asked and why, what Warden did, and the command that reverses it. Pure.

use std::collections::BTreeMap;

use super::ActionRecord;
use crate::action::{Change, Operation, Phase};
use crate::inventory::Model;
use crate::notify::{Alert, subject_line};
use crate::severity::Band;

/// The alert for an action's new phase, or `None` for phases that page nobody (waiting, verifying, a resume).
pub fn compose(record: &ActionRecord, model: Option<&Model>) -> Option<Alert> {
    let request = &record.request;
    let (level, verb) = match record.phase {
        Phase::Executing if record.calls == 1 => (Band::High, "STARTED"),
        Phase::AwaitingApproval => (Band::High, "NEEDS APPROVAL"),
        Phase::Done => (Band::Medium, "VERIFIED"),
        Phase::Failed if record.silent_rollback => (Band::Critical, "SILENTLY ROLLED BACK"),
        Phase::Failed => (Band::Critical, "FAILED"),
        Phase::Refused => (Band::High, "REFUSED"),
        Phase::Shadowed => (Band::Info, "SHADOW"),
        Phase::Requested | Phase::Executing | Phase::Verifying => return None,
    };
    let model_id = model.map_or("no known model", |m| m.id.as_str());
    let operation = request.action.as_str().to_ascii_uppercase();
    let subject = subject_line(&format!(
        "[{}] {model_id} {operation} {verb}: {} ({})",
        level.as_str().to_ascii_uppercase(),
        request.target,
        request.request_id
    ));

    let mut body = Vec::new();
    body.push(format!(
        "{} break-glass alert from Warden. Request {} (decision {}).",
        level.as_str().to_ascii_uppercase(),
        request.request_id,
        request.decision_id
    ));
    body.push(String::new());
    body.push(format!("Action: {} {}", request.action, request.target));
    body.push(format!("Status: {} - {}", record.phase, record.note));
    if let Some(change) = &record.change {
        let tense = if matches!(record.phase, Phase::Refused | Phase::Shadowed) { "Would" } else { "SageMaker call" };
        body.push(format!("{tense}: {}", change.describe()));
    }
    body.push(format!("Requested by {} at {}: {}", request.requested_by, request.requested_at, request.reason));
    if matches!(request.requested_by, crate::ledger::Actor::Direct(_)) {
        body.push(
            "Carried out directly from the requester's machine (--here), not through the break-glass function: \
             the caller is the one STS named, and cannot be one of the two people of an approval."
                .into(),
        );
    }
    if let Some(approver) = &record.approved_by {
        body.push(format!("Approved by {approver}"));
    }
    match model {
        Some(m) => body.push(format!(
            "Model: {} (risk {}, owner {})",
            m.id,
            m.risk.map_or("UNCLASSIFIED", crate::inventory::RiskTier::as_str),
            m.owner.as_deref().unwrap_or("NONE")
        )),
        None => body.push("Model: none known for this target.".into()),
    }
    body.push(String::new());
    body.push("Commands:".into());
    let reason = format!("\"request {}: <why>\"", request.request_id);
    if record.phase == Phase::AwaitingApproval {
        body.push(format!(
            "  approve (a second person, signed): warden break-glass approve {} --url URL",
            request.request_id
        ));
    }
    if matches!(record.phase, Phase::Executing | Phase::Done | Phase::AwaitingApproval)
        && let Some(undo) = reversal_command(request.action, &request.target, record.reverse.as_ref(), &reason)
    {
        body.push(format!("  undo: {undo}"));
    }
    if matches!(record.phase, Phase::Refused | Phase::Shadowed | Phase::Failed) {
        body.push(format!("  retry by hand: {}", command(request.action, &request.target, &reason)));
    }
    body.push(format!("  {}", status_command(request.action, &request.target)));
    body.push(String::new());
    body.push("--- machine-readable ---".into());
    body.push(
        serde_json::json!({
            "request_id": request.request_id,
            "decision_id": request.decision_id,
            "level": level,
            "operation": request.action,
            "target": request.target,
            "phase": record.phase,
            "note": record.note,
            "change": record.change,
            "reverse": record.reverse,
            "model": model.map(|m| m.id.clone()),
        })
        .to_string(),
    );

    let mut attributes = BTreeMap::new();
    attributes.insert("level".to_owned(), level.as_str().to_owned());
    attributes.insert("model".to_owned(), model.map_or("none", |m| m.id.as_str()).to_owned());
    attributes.insert("source".to_owned(), super::BREAK_GLASS_SOURCE.to_owned());
    let risk = match model {
        Some(m) => m.risk.map_or("unclassified", crate::inventory::RiskTier::as_str),
        None => "none",
    };
    attributes.insert("risk_tier".to_owned(), risk.to_owned());
    attributes.insert("decision_id".to_owned(), request.decision_id.clone());
    attributes.insert("request_id".to_owned(), request.request_id.clone());
    attributes.insert("phase".to_owned(), record.phase.as_str().to_owned());
    Some(Alert { level, subject, body: body.join("\n"), attributes })
}

/// The CLI flag that names an operation's target.
pub fn target_flag(operation: Operation) -> &'static str {
    if operation.on_endpoint() { "--endpoint" } else { "--model-package" }
}

/// The CLI command that asks for `operation` on `target`.
pub fn command(operation: Operation, target: &str, reason: &str) -> String {
    format!("warden break-glass {operation} {} {target} --reason {reason}", target_flag(operation))
}

/// The CLI command that shows what Warden knows of the target and the action in flight.
pub fn status_command(operation: Operation, target: &str) -> String {
    format!("warden status {} {target}", target_flag(operation))
}

/// The CLI command that undoes an action.
pub fn reversal_command(operation: Operation, target: &str, reverse: Option<&Change>, reason: &str) -> Option<String> {
    Some(match (operation, reverse) {
        (Operation::Rollback | Operation::Cutoff, _) => command(Operation::Restore, target, reason),
        (Operation::Gate, _) => command(Operation::Release, target, reason),
        (Operation::Release, _) => command(Operation::Gate, target, reason),
        (Operation::Restore, Some(Change::UpdateEndpoint { config, .. })) => {
            format!("{} --config {config}", command(Operation::Rollback, target, reason))
        }
        (Operation::Restore, Some(_)) => command(Operation::Cutoff, target, reason),
        (Operation::Restore, None) => return None,
    })
}
