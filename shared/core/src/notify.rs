//! Alerts for people: a subject SNS accepts (ASCII, one line, at most 100 characters), a body an on-call
//! engineer can act on at 3 a.m., a machine-readable JSON part, and attributes subscribers filter on. Pure.

use std::collections::BTreeMap;

use crate::action::{Mode, RuleAction};
use crate::engine::{Report, Status};
use crate::inventory::RiskTier;
use crate::policy::PlannedAction;
use crate::severity::Band;

/// SNS rejects subjects of 100 characters or more.
pub const MAX_SUBJECT_CHARS: usize = 99;

/// An alert, ready for any notifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub level: Band,
    pub subject: String,
    pub body: String,
    /// Filterable attributes: `level`, `model`, `source`, `risk_tier`, `decision_id`.
    pub attributes: BTreeMap<String, String>,
}

/// The alert for a report, or `None` when the report does not page.
pub fn compose(report: &Report) -> Option<Alert> {
    let level = match report.status {
        // Retrying cannot fix a rejected input: tell someone, quietly unless the input may be real news (a value
        // out of its documented range).
        Status::Rejected => report.alert.unwrap_or(Band::Low),
        _ if report.notify => report.alert?,
        _ => return None,
    };
    let context = &report.context;
    let model = context.models.first().map_or("no known model", |m| m.id.as_str());
    let headline = match report.status {
        Status::Rejected => format!("rejected {}", report.detail_type.as_deref().unwrap_or("input")),
        _ => report.summary.clone(),
    };
    // Level, model and what Warden did come first: a long headline is what gets cut.
    let action = report.actions.first().map(|a| format!(" {}", short_action(a))).unwrap_or_default();
    let subject = subject_line(&format!("[{}] {model}{action}: {headline}", level.as_str().to_ascii_uppercase()));

    let mut body = Vec::new();
    body.push(format!("{} alert from Warden. Decision {}.", level.as_str().to_ascii_uppercase(), report.decision_id));
    body.push(String::new());
    body.push(format!("What happened: {}", report.summary));
    if let Some(error) = &report.error {
        body.push(format!("Why it was rejected: {error}"));
        body.push("The input is recorded in the ledger as a digest; fix the sender or the event rule.".into());
    }
    let when = report.occurred_at.map(|t| t.to_string()).unwrap_or_else(|| "unknown".into());
    let place = match (&context.account, &context.region) {
        (Some(account), Some(region)) => format!(" in account {account}, {region}"),
        (Some(account), None) => format!(" in account {account}"),
        _ => String::new(),
    };
    body.push(format!("When: {when}{place}"));
    body.push(format!(
        "Source: {} / {}",
        report.source.as_deref().unwrap_or("unknown"),
        report.detail_type.as_deref().unwrap_or("unknown")
    ));
    if context.models.is_empty() && report.status != Status::Rejected {
        body.push("Model: none known. Add the resource to the inventory if a model depends on it.".into());
    }
    for m in &context.models {
        body.push(format!(
            "Model: {} (risk {}, owner {}), endpoints: {}; linked through {}",
            m.id,
            m.risk.map_or("UNCLASSIFIED", RiskTier::as_str),
            m.owner.as_deref().unwrap_or("NONE"),
            if m.endpoints.is_empty() { "none".to_owned() } else { m.endpoints.join(", ") },
            m.via
        ));
    }
    if let Some(url) = &context.console_url {
        body.push(format!("In the console: {url}"));
    }
    body.push(String::new());
    if report.actions.is_empty() {
        body.push("Warden took no action: this alert is for a person to judge.".into());
    } else {
        body.push("What Warden did:".into());
        for action in &report.actions {
            body.push(format!("  - {} ({} mode)", action.describe(), action.mode));
        }
    }
    for skipped in &report.skipped {
        let target = skipped.target.as_deref().map(|t| format!(" on {t}")).unwrap_or_default();
        body.push(format!("  - no {}{target}: {}", skipped.kind, skipped.reason));
    }
    let commands = commands(report);
    if !commands.is_empty() {
        body.push(String::new());
        body.push("Commands:".into());
        body.extend(commands.iter().map(|c| format!("  {c}")));
    }
    if let Some(m) = context.models.first() {
        body.push(format!("  warden ledger show --model {}", m.id));
    }
    body.push(String::new());
    body.push("--- machine-readable ---".into());
    body.push(serde_json::to_string(&machine_part(report, level)).unwrap_or_default());

    let mut attributes = BTreeMap::new();
    attributes.insert("level".to_owned(), level.as_str().to_owned());
    attributes.insert("model".to_owned(), context.models.first().map_or("none", |m| m.id.as_str()).to_owned());
    attributes.insert("source".to_owned(), report.source.clone().unwrap_or_else(|| "unknown".into()));
    let risk = context.models.iter().filter_map(|m| m.risk).max();
    let risk = match (risk, context.models.is_empty()) {
        (Some(tier), _) => tier.as_str(),
        (None, true) => "none",
        (None, false) => "unclassified",
    };
    attributes.insert("risk_tier".to_owned(), risk.to_owned());
    attributes.insert("decision_id".to_owned(), report.decision_id.clone());
    Some(Alert { level, subject, body: body.join("\n"), attributes })
}

fn short_action(action: &PlannedAction) -> String {
    let verb = match (action.kind, action.mode) {
        (RuleAction::Cutoff, Mode::Enforce) => "CUT OFF",
        (RuleAction::Rollback, Mode::Enforce) => "ROLLED BACK",
        (RuleAction::Gate, Mode::Enforce) => "GATED",
        (_, Mode::Shadow) => "would act",
    };
    verb.to_owned()
}

/// The exact commands to undo what Warden did, or to act by hand when it did not.
fn commands(report: &Report) -> Vec<String> {
    let reason = format!("\"decision {}: <why>\"", report.decision_id);
    let mut commands = Vec::new();
    for action in &report.actions {
        let t = &action.target;
        commands.push(match (action.kind, action.mode) {
            (RuleAction::Cutoff | RuleAction::Rollback, Mode::Enforce) => {
                format!("undo: warden break-glass restore --endpoint {t} --reason {reason}")
            }
            (RuleAction::Gate, Mode::Enforce) => {
                format!("release: warden break-glass release --model-package {t} --reason {reason}")
            }
            (RuleAction::Cutoff, Mode::Shadow) => {
                format!("act: warden break-glass cutoff --endpoint {t} --reason {reason}")
            }
            (RuleAction::Rollback, Mode::Shadow) => {
                format!("act: warden break-glass rollback --endpoint {t} --reason {reason}")
            }
            (RuleAction::Gate, Mode::Shadow) => {
                format!("act: warden break-glass gate --model-package {t} --reason {reason}")
            }
        });
    }
    if report.actions.is_empty() && report.status == Status::Applied {
        for m in report.context.models.iter().filter(|m| m.risk == Some(RiskTier::High)) {
            for endpoint in &m.endpoints {
                commands.push(format!("if needed: warden break-glass cutoff --endpoint {endpoint} --reason {reason}"));
            }
        }
    }
    commands
}

fn machine_part(report: &Report, level: Band) -> serde_json::Value {
    serde_json::json!({
        "decision_id": report.decision_id,
        "level": level,
        "status": report.status,
        "event_id": report.event_id,
        "source": report.source,
        "detail_type": report.detail_type,
        "occurred_at": report.occurred_at,
        "summary": report.summary,
        "models": report.context.models,
        "actions": report.actions,
        "rules": report.rules,
        "console_url": report.context.console_url,
        "error": report.error,
    })
}

/// One printable-ASCII line of at most [`MAX_SUBJECT_CHARS`], cut at a word where it can be.
pub fn subject_line(text: &str) -> String {
    let ascii: String = text
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_ascii() && !c.is_ascii_control() => c,
            _ => '?',
        })
        .collect();
    if ascii.len() <= MAX_SUBJECT_CHARS {
        return ascii;
    }
    let cut = &ascii[..MAX_SUBJECT_CHARS - 3];
    let cut = cut.rfind(' ').filter(|i| *i > MAX_SUBJECT_CHARS / 2).map_or(cut, |i| &cut[..i]);
    format!("{}...", cut.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_fit_sns() {
        let long = "[CRITICAL] fraud-detector: GuardDuty UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS (severity 8) on access key ASIA -> CUT OFF";
        let subject = subject_line(long);
        assert!(subject.len() <= MAX_SUBJECT_CHARS, "{} chars", subject.len());
        assert!(subject.ends_with("..."));
        assert_eq!(subject_line("ünïcode\nline"), "?n?code line");
    }
}
