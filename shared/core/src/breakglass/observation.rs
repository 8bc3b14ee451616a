//! What SageMaker shows about a target ([`Observation`]), and what verification waits for and concludes
//! ([`Expectation`], [`Verdict`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::action::{Change, VariantWeight};
use crate::event::sagemaker::{ApprovalStatus, EndpointStatus};

/// An endpoint as DescribeEndpoint and ListTags show it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointView {
    pub name: String,
    pub status: EndpointStatus,
    pub config: String,
    /// The config an update in progress is deploying.
    pub pending_config: Option<String>,
    pub variants: Vec<VariantWeight>,
    pub failure_reason: Option<String>,
    /// The endpoint's tags, or why they could not be read (scope checks fail closed).
    pub tags: Result<BTreeMap<String, String>, String>,
}

impl EndpointView {
    pub(crate) fn in_progress(&self) -> bool {
        matches!(
            self.status,
            EndpointStatus::Creating
                | EndpointStatus::Updating
                | EndpointStatus::SystemUpdating
                | EndpointStatus::RollingBack
        )
    }

    pub(crate) fn tag(&self, name: &str) -> Option<&str> {
        self.tags.as_ref().ok().and_then(|t| t.get(name)).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

/// A model package as DescribeModelPackage shows it, with its group's tags.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageView {
    pub arn: String,
    pub approval: ApprovalStatus,
    pub tags: Result<BTreeMap<String, String>, String>,
}

/// What SageMaker shows about the target now.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    Endpoint(EndpointView),
    Package(PackageView),
    /// The endpoint or package does not exist.
    Missing,
    /// SageMaker refused to describe it (no permission, a malformed name): Warden cannot see, so it does not act.
    Unreadable(String),
}

impl Observation {
    pub(crate) fn tags(&self) -> Result<&BTreeMap<String, String>, String> {
        match self {
            Self::Endpoint(e) => e.tags.as_ref().map_err(Clone::clone),
            Self::Package(p) => p.tags.as_ref().map_err(Clone::clone),
            Self::Missing => Err("the target does not exist".into()),
            Self::Unreadable(why) => Err(format!("cannot read the target: {why}")),
        }
    }
}

/// What verification waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "expect", rename_all = "kebab-case")]
pub enum Expectation {
    /// InService on this config.
    InServiceOn {
        config: String,
    },
    /// InService with these weights.
    Weights {
        weights: Vec<VariantWeight>,
    },
    /// The endpoint is gone.
    Gone,
    Approval {
        status: ApprovalStatus,
    },
}

/// Where verification stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Confirmed(String),
    Pending(String),
    /// The change did not hold; `silent_rollback` when SageMaker returned the endpoint to another config.
    Broken {
        reason: String,
        silent_rollback: bool,
    },
}

impl Expectation {
    /// Judges what SageMaker shows against what the change should have produced.
    pub fn judge(&self, observed: &Observation) -> Verdict {
        match (self, observed) {
            (Self::Gone, Observation::Missing) => Verdict::Confirmed("the endpoint is deleted".into()),
            (Self::Gone, Observation::Endpoint(e)) => Verdict::Pending(format!("the endpoint is {}", e.status)),
            (Self::Approval { status }, Observation::Package(p)) if p.approval == *status => {
                Verdict::Confirmed(format!("the package is {status}"))
            }
            (Self::Approval { status }, Observation::Package(p)) => Verdict::Broken {
                reason: format!("the package is {}, not {status}", p.approval),
                silent_rollback: false,
            },
            (_, Observation::Missing) => {
                Verdict::Broken { reason: "the target no longer exists".into(), silent_rollback: false }
            }
            (Self::InServiceOn { config }, Observation::Endpoint(e)) => match &e.status {
                EndpointStatus::InService if e.config == *config => {
                    Verdict::Confirmed(format!("the endpoint is InService on {config}"))
                }
                EndpointStatus::InService => Verdict::Broken {
                    reason: format!(
                        "silent rollback: the endpoint is InService on {}, not on {config}{}",
                        e.config,
                        e.failure_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
                    ),
                    silent_rollback: true,
                },
                EndpointStatus::Failed | EndpointStatus::UpdateRollbackFailed => Verdict::Broken {
                    reason: format!(
                        "the endpoint is {}: {}",
                        e.status,
                        e.failure_reason.as_deref().unwrap_or("no reason given")
                    ),
                    silent_rollback: false,
                },
                other => Verdict::Pending(format!("the endpoint is {other}")),
            },
            (Self::Weights { weights }, Observation::Endpoint(e)) => match &e.status {
                EndpointStatus::InService if weights_match(&e.variants, weights) => {
                    Verdict::Confirmed("the endpoint is InService with the intended weights".into())
                }
                EndpointStatus::InService => Verdict::Broken {
                    reason: format!("the endpoint is InService with weights {}", describe_weights(&e.variants)),
                    silent_rollback: true,
                },
                EndpointStatus::Failed | EndpointStatus::UpdateRollbackFailed => {
                    Verdict::Broken { reason: format!("the endpoint is {}", e.status), silent_rollback: false }
                }
                other => Verdict::Pending(format!("the endpoint is {other}")),
            },
            (expectation, other) => Verdict::Broken {
                reason: format!("expected {expectation:?} but SageMaker shows {other:?}"),
                silent_rollback: false,
            },
        }
    }

    /// Whether SageMaker already shows the change (or is applying it), so a resumed action must not call again.
    pub(crate) fn underway(&self, observed: &Observation) -> bool {
        match (self, observed) {
            (Self::Gone, Observation::Missing) => true,
            (Self::Gone, Observation::Endpoint(e)) => e.status == EndpointStatus::Deleting,
            (Self::InServiceOn { config }, Observation::Endpoint(e)) => {
                e.config == *config || e.pending_config.as_deref() == Some(config)
            }
            (Self::Weights { weights }, Observation::Endpoint(e)) => {
                weights_match(&e.variants, weights) || e.status == EndpointStatus::Updating
            }
            (Self::Approval { status }, Observation::Package(p)) => p.approval == *status,
            _ => false,
        }
    }
}

fn weights_match(current: &[VariantWeight], wanted: &[VariantWeight]) -> bool {
    wanted.iter().all(|w| current.iter().any(|c| c.variant == w.variant && (c.weight - w.weight).abs() < 1e-3))
}

fn describe_weights(weights: &[VariantWeight]) -> String {
    weights.iter().map(|w| format!("{}={}", w.variant, w.weight)).collect::<Vec<_>>().join(", ")
}

impl Change {
    /// What SageMaker shows once this change has taken effect (what verification waits for).
    pub fn expectation(&self) -> Expectation {
        match self {
            Self::UpdateEndpoint { config, .. } | Self::CreateEndpoint { config, .. } => {
                Expectation::InServiceOn { config: config.clone() }
            }
            Self::SetWeights { weights, .. } => Expectation::Weights { weights: weights.clone() },
            Self::DeleteEndpoint { .. } => Expectation::Gone,
            Self::SetApproval { status, .. } => Expectation::Approval { status: *status },
        }
    }
}
