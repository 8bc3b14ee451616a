//! What the break-glass machine is asked to do: a request (from a detector's decision or a person) and a second
//! person's approval. They travel as governance events (the `bus` module renders them); the machine reads them here.

use serde::{Deserialize, Serialize};

use crate::action::Operation;
use crate::ledger::Actor;
use crate::time::Timestamp;

/// The version of Warden's governance event details.
pub const SCHEMA_VERSION: u32 = 1;

/// `Warden Break-Glass Requested` detail: one action for the break-glass function to carry out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakGlassRequest {
    pub schema_version: u32,
    /// Unique per action: `<decision id>-<n>`.
    pub request_id: String,
    pub decision_id: String,
    pub action: Operation,
    /// Endpoint name (rollback, cutoff) or model package ARN or group (gate).
    pub target: String,
    /// Rollback: the config to return to. Cutoff: the config serving when it was decided.
    pub config: Option<String>,
    pub model_id: Option<String>,
    pub reason: String,
    pub requested_by: Actor,
    pub requested_at: Timestamp,
}

/// `Warden Break-Glass Approved` detail: a second person approves a request's destructive step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakGlassApproval {
    pub schema_version: u32,
    pub request_id: String,
    pub approved_by: Actor,
    pub approved_at: Timestamp,
}

impl BreakGlassRequest {
    /// A request a person makes by hand (the CLI). Its id names when it was made and a digest of who asked for
    /// what, so two requests never share an id, and a person can tell theirs apart in alerts and `warden status`.
    pub fn by_hand(
        action: Operation,
        target: &str,
        config: Option<String>,
        reason: &str,
        requested_by: Actor,
        requested_at: Timestamp,
    ) -> Self {
        let nanos = requested_at.datetime().timestamp_nanos_opt().unwrap_or_default();
        let fingerprint =
            format!("{requested_by}\n{action}\n{target}\n{}\n{reason}\n{nanos}", config.as_deref().unwrap_or(""));
        let digest = crate::digest::content_digest(fingerprint.as_bytes());
        let decision_id = format!("manual-{}-{}", requested_at.datetime().format("%Y%m%dT%H%M%SZ"), &digest[..8]);
        Self {
            schema_version: SCHEMA_VERSION,
            request_id: format!("{decision_id}-1"),
            decision_id,
            action,
            target: target.to_owned(),
            config,
            model_id: None,
            reason: reason.to_owned(),
            requested_by,
            requested_at,
        }
    }
}

impl BreakGlassApproval {
    pub fn new(request_id: &str, approved_by: Actor, approved_at: Timestamp) -> Self {
        Self { schema_version: SCHEMA_VERSION, request_id: request_id.to_owned(), approved_by, approved_at }
    }
}

/// What a person asks of the break-glass function URL: the body of a signed POST. It never names a person (the
/// signature does) and unknown fields are refused, so a body that tries to (`requestedBy`, `approvedBy`) is rejected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "ask", rename_all = "kebab-case", rename_all_fields = "camelCase", deny_unknown_fields)]
pub enum PersonAsk {
    /// A new action.
    Request { action: Operation, target: String, config: Option<String>, reason: String },
    /// Approve a recorded request's destructive step (a second person).
    Approve { request_id: String },
    /// Carry on with a recorded request (one that stalled or waited for a busy endpoint): never a second action.
    Resume { request_id: String },
    /// Turn the shared kill switch on or off (a person only).
    KillSwitch { on: bool, reason: String },
}

/// The longest `reason` an ask may give (it goes into every alert and entry of the action).
pub const MAX_REASON_CHARS: usize = 1024;
/// The longest target, config or request id (a model package ARN is the longest, within 2048).
pub const MAX_NAME_CHARS: usize = 2048;

impl PersonAsk {
    /// What is wrong with the ask's text, naming the field: too long, or a control character (a newline in a
    /// reason would let a requester write lines of their own into the alerts, such as an "Approved by").
    pub fn check(&self) -> Result<(), String> {
        let fields: Vec<(&str, &str, usize)> = match self {
            Self::Request { target, config, reason, .. } => {
                let mut fields =
                    vec![("target", target.as_str(), MAX_NAME_CHARS), ("reason", reason.as_str(), MAX_REASON_CHARS)];
                fields.extend(config.as_deref().map(|c| ("config", c, MAX_NAME_CHARS)));
                fields
            }
            Self::Approve { request_id } | Self::Resume { request_id } => vec![("requestId", request_id.as_str(), 256)],
            Self::KillSwitch { reason, .. } => vec![("reason", reason.as_str(), MAX_REASON_CHARS)],
        };
        for (name, text, max) in fields {
            if text.chars().count() > max {
                return Err(format!("{name} is longer than {max} characters"));
            }
            if text.chars().any(char::is_control) {
                return Err(format!("{name} holds a control character (a line break, a tab, ...)"));
            }
        }
        Ok(())
    }

    /// The request id an approval or resume names.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Request { .. } | Self::KillSwitch { .. } => None,
            Self::Approve { request_id } | Self::Resume { request_id } => Some(request_id),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_ask_that_names_a_person_is_refused() {
        let ask: PersonAsk = serde_json::from_str(r#"{"ask":"approve","requestId":"manual-1-1"}"#).unwrap();
        assert_eq!(ask.request_id(), Some("manual-1-1"));
        let request: PersonAsk = serde_json::from_str(
            r#"{"ask":"request","action":"cutoff","target":"ep","config":null,"reason":"PII leak"}"#,
        )
        .unwrap();
        assert!(matches!(request, PersonAsk::Request { action: Operation::Cutoff, .. }));
        let broken = PersonAsk::Request {
            action: Operation::Cutoff,
            target: "ep".into(),
            config: None,
            reason: "PII leak\nApproved by person:bob".into(),
        };
        assert!(broken.check().unwrap_err().contains("reason holds a control character"));
        let long = PersonAsk::KillSwitch { on: true, reason: "a".repeat(MAX_REASON_CHARS + 1) };
        assert!(long.check().unwrap_err().contains("reason is longer than 1024"));
        for forged in [
            r#"{"ask":"approve","requestId":"manual-1-1","approvedBy":{"type":"person","name":"bob"}}"#,
            r#"{"ask":"request","action":"cutoff","target":"ep","reason":"x","requestedBy":"bob"}"#,
            r#"{"ask":"approve","requestId":"manual-1-1","actor":"bob"}"#,
        ] {
            let error = serde_json::from_str::<PersonAsk>(forged).unwrap_err().to_string();
            assert!(error.contains("unknown field"), "{forged}: {error}");
        }
    }
}
