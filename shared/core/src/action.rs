//! The vocabulary of actions: what a rule asks for ([`RuleAction`], in a [`Mode`]), what break-glass carries out
//! ([`Operation`], through [`Phase`]s, as SageMaker [`Change`]s), on what ([`TargetKind`]), and the last change
//! Warden made to a target ([`LastChange`]). Lower than the policy, the ledger and the state machine, which all
//! speak it.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::event::sagemaker::ApprovalStatus;
use crate::resource::Resource;
use crate::time::Timestamp;

/// What a rule can do beyond recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// Hold a model package's approval (set it to PendingManualApproval).
    Gate,
    /// Update an endpoint to its last known-good config.
    Rollback,
    /// Stop an endpoint's traffic.
    Cutoff,
}

impl RuleAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gate => "gate",
            Self::Rollback => "rollback",
            Self::Cutoff => "cutoff",
        }
    }
}

impl fmt::Display for RuleAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Enforce acts; shadow records what would have been done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Enforce,
    Shadow,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Enforce => "enforce",
            Self::Shadow => "shadow",
        })
    }
}

/// What a break-glass request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// Update an endpoint to its last known-good (or a named) config.
    Rollback,
    /// Stop an endpoint's traffic: fallback variant, else maintenance config, else delete.
    Cutoff,
    /// Undo the last rollback or cutoff of an endpoint.
    Restore,
    /// Hold a model package's approval (PendingManualApproval).
    Gate,
    /// Approve a held model package again (people only).
    Release,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rollback => "rollback",
            Self::Cutoff => "cutoff",
            Self::Restore => "restore",
            Self::Gate => "gate",
            Self::Release => "release",
        }
    }

    /// Whether the target is an endpoint (else a model package).
    pub fn target_kind(self) -> TargetKind {
        if self.on_endpoint() { TargetKind::Endpoint } else { TargetKind::ModelPackage }
    }

    pub fn on_endpoint(self) -> bool {
        matches!(self, Self::Rollback | Self::Cutoff | Self::Restore)
    }

    /// Undoing reduces the blast radius, so the cooldown and the breaker do not hold it back.
    pub fn is_reversal(self) -> bool {
        matches!(self, Self::Restore | Self::Release)
    }
}

impl From<RuleAction> for Operation {
    fn from(kind: RuleAction) -> Self {
        match kind {
            RuleAction::Rollback => Self::Rollback,
            RuleAction::Cutoff => Self::Cutoff,
            RuleAction::Gate => Self::Gate,
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Accepted; waiting for the endpoint to finish an update in progress.
    Requested,
    /// A destructive step waits for a second person's approval.
    AwaitingApproval,
    /// Recorded before the SageMaker call; a resume looks at the endpoint before calling again.
    Executing,
    /// Called; waiting to see the endpoint InService on the intended config.
    Verifying,
    Done,
    Failed,
    Refused,
    /// Shadow mode: recorded what would have been done, touched nothing.
    Shadowed,
}

impl Phase {
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Done | Self::Failed | Self::Refused | Self::Shadowed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::AwaitingApproval => "awaiting-approval",
            Self::Executing => "executing",
            Self::Verifying => "verifying",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Refused => "refused",
            Self::Shadowed => "shadowed",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One variant's traffic weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantWeight {
    pub variant: String,
    pub weight: f32,
}

/// One SageMaker call Warden makes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "kebab-case")]
pub enum Change {
    UpdateEndpoint {
        endpoint: String,
        config: String,
    },
    SetWeights {
        endpoint: String,
        weights: Vec<VariantWeight>,
    },
    DeleteEndpoint {
        endpoint: String,
    },
    /// Re-creates a deleted endpoint, with the tags it had (so it stays in scope).
    CreateEndpoint {
        endpoint: String,
        config: String,
        #[serde(default)]
        tags: BTreeMap<String, String>,
    },
    SetApproval {
        package: String,
        status: ApprovalStatus,
        description: String,
    },
}

impl Change {
    pub fn describe(&self) -> String {
        match self {
            Self::UpdateEndpoint { endpoint, config } => format!("update endpoint {endpoint} to config {config}"),
            Self::SetWeights { endpoint, weights } => {
                let parts: Vec<String> = weights.iter().map(|w| format!("{}={}", w.variant, w.weight)).collect();
                format!("set the traffic weights of endpoint {endpoint} to {}", parts.join(", "))
            }
            Self::DeleteEndpoint { endpoint } => format!("delete endpoint {endpoint} (its config is kept)"),
            Self::CreateEndpoint { endpoint, config, .. } => format!("create endpoint {endpoint} on config {config}"),
            Self::SetApproval { package, status, .. } => format!("set model package {package} to {status}"),
        }
    }

    /// Whether this change removes the endpoint (and so may need a second person's approval).
    pub fn is_destructive(&self) -> bool {
        matches!(self, Self::DeleteEndpoint { .. })
    }
}

/// What a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    Endpoint,
    ModelPackage,
}

impl TargetKind {
    /// The resource a target of this kind names.
    pub fn resource(self, target: &str) -> Resource {
        match self {
            Self::Endpoint => Resource::Endpoint(target.to_owned()),
            Self::ModelPackage if target.contains(":model-package/") => Resource::ModelPackage(target.to_owned()),
            Self::ModelPackage => Resource::ModelPackageGroup(target.to_owned()),
        }
    }
}

/// The last change Warden made to a target (record key `change#<target>`): what `restore` undoes, and how the
/// detectors recognise the echo of Warden's own change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastChange {
    pub request_id: String,
    pub operation: Operation,
    pub change: Change,
    pub reverse: Option<Change>,
    pub at: Timestamp,
}

/// How long after Warden's change an event showing its result is taken as its echo. SageMaker reports within
/// seconds; the window is short so that a person's later change to the same state is not mistaken for it.
pub const ECHO_WINDOW_MINUTES: i64 = 10;
