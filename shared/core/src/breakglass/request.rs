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
