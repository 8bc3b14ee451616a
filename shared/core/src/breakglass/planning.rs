//! Which SageMaker change carries out a request, given what SageMaker shows now: the rollback target, the cutoff
//! ladder (fallback variant, maintenance config, delete), the restore of the last change, the package approval.

use crate::action::{Change, Operation, VariantWeight};
use crate::event::sagemaker::{ApprovalStatus, EndpointStatus};

use super::{BreakGlassRequest, EndpointView, Facts, Observation, TAG_FALLBACK_VARIANT, TAG_MAINTENANCE_CONFIG};

/// The change for a request, given what SageMaker shows.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Plan {
    pub(super) change: Change,
    pub(super) reverse: Option<Change>,
}

pub(super) fn plan_change(request: &BreakGlassRequest, facts: &Facts, observed: &Observation) -> Result<Plan, String> {
    let target = &request.target;
    // A request names its model only to say which model it is about: one that does not own the target would put
    // the action on another model's chain and judge it by another model's history.
    if let Some(named) = &request.model_id
        && facts.model.as_ref().map(|m| &m.id) != Some(named)
    {
        let owner = facts.model.as_ref().map_or("no model in the inventory".to_owned(), |m| format!("model {}", m.id));
        return Err(format!("the request names model {named}, but {target} belongs to {owner}"));
    }
    let tag = format!("warden break-glass {} ({})", request.request_id, request.requested_by);
    match (request.action, observed) {
        (Operation::Gate | Operation::Release, Observation::Package(p)) => {
            let status = if request.action == Operation::Gate {
                ApprovalStatus::PendingManualApproval
            } else {
                ApprovalStatus::Approved
            };
            let description = format!("{tag}: {}", request.reason);
            Ok(Plan {
                change: Change::SetApproval { package: p.arn.clone(), status, description: description.clone() },
                reverse: Some(Change::SetApproval {
                    package: p.arn.clone(),
                    status: p.approval,
                    description: format!("reversal of {}", request.request_id),
                }),
            })
        }
        (Operation::Gate | Operation::Release, _) => Err(format!("model package {target} not found")),
        (Operation::Restore, observed) => {
            let last = facts.last_change.as_ref().map(|c| &c.value);
            let Some(last) = last.filter(|c| matches!(c.operation, Operation::Cutoff | Operation::Rollback)) else {
                return Err(format!("nothing to restore: Warden has no rollback or cutoff of {target} on record"));
            };
            let Some(reverse) = &last.reverse else {
                return Err(format!("request {} recorded no way to undo it", last.request_id));
            };
            if let Observation::Endpoint(e) = observed
                && e.status == EndpointStatus::Failed
                && !matches!(reverse, Change::DeleteEndpoint { .. })
            {
                return Err("the endpoint is Failed: SageMaker allows only DeleteEndpoint on it".into());
            }
            match (reverse, observed) {
                (Change::CreateEndpoint { .. }, Observation::Endpoint(_)) => {
                    Err(format!("endpoint {target} exists again; nothing to re-create"))
                }
                (Change::CreateEndpoint { .. }, Observation::Missing) => Ok(Plan {
                    change: reverse.clone(),
                    reverse: Some(Change::DeleteEndpoint { endpoint: target.clone() }),
                }),
                (_, Observation::Missing) => Err(format!("endpoint {target} not found")),
                (Change::UpdateEndpoint { .. }, Observation::Endpoint(e)) => Ok(Plan {
                    change: reverse.clone(),
                    reverse: Some(Change::UpdateEndpoint { endpoint: target.clone(), config: e.config.clone() }),
                }),
                (Change::SetWeights { .. }, Observation::Endpoint(e)) => Ok(Plan {
                    change: reverse.clone(),
                    reverse: Some(Change::SetWeights { endpoint: target.clone(), weights: e.variants.clone() }),
                }),
                (other, _) => Err(format!("cannot restore with {}", other.describe())),
            }
        }
        (_, Observation::Missing) => Err(format!("endpoint {target} not found")),
        (_, Observation::Unreadable(why)) => Err(format!("cannot read endpoint {target}: {why}")),
        (_, Observation::Package(_)) => Err(format!("{target} is a model package, not an endpoint")),
        (Operation::Rollback, Observation::Endpoint(e)) => {
            if e.status == EndpointStatus::Failed {
                return Err("the endpoint is Failed: SageMaker allows only DeleteEndpoint on it (use cutoff)".into());
            }
            let record = facts.model.as_ref().and_then(|m| m.endpoint(target));
            let known_good = record.and_then(|r| r.last_known_good());
            let Some(config) = request.config.clone().or_else(|| known_good.map(str::to_owned)) else {
                return Err(format!("no last known-good config on record for {target}; name one with --config"));
            };
            // Only back to a config the endpoint has served: a named config is not trusted as given (IAM allows
            // any endpoint config in the account).
            if !record.is_some_and(|r| r.history.iter().any(|d| d.config == config)) {
                return Err(format!(
                    "{config} is not in the recorded config history of {target}: a rollback goes only to a config the \
                     endpoint has served"
                ));
            }
            if config == e.config {
                return Err(format!("endpoint {target} already runs {config}"));
            }
            Ok(Plan {
                change: Change::UpdateEndpoint { endpoint: target.clone(), config: config.clone() },
                reverse: Some(Change::UpdateEndpoint { endpoint: target.clone(), config: e.config.clone() }),
            })
        }
        (Operation::Cutoff, Observation::Endpoint(e)) => cutoff_ladder(e),
    }
}

/// Cutoff, least destructive first: all traffic to the fallback variant; else the maintenance config; else
/// delete the endpoint (its config is kept, so restore can re-create it). A Failed endpoint can only be deleted.
/// An endpoint already cut off at a rung (serving only its fallback variant, or on or moving to its maintenance
/// config) is "nothing to do": a second cutoff never climbs to the next, more destructive rung.
fn cutoff_ladder(e: &EndpointView) -> Result<Plan, String> {
    let endpoint = e.name.clone();
    let failed = e.status == EndpointStatus::Failed;
    let fallback =
        e.tag(TAG_FALLBACK_VARIANT).filter(|v| e.variants.len() > 1 && e.variants.iter().any(|w| w.variant == *v));
    if let (Some(variant), false) = (fallback, failed) {
        let only_fallback = e.variants.iter().all(|w| (w.variant == variant) == (w.weight > 0.0));
        if only_fallback {
            return Err(format!(
                "nothing to do: endpoint {endpoint} already serves only its fallback variant {variant}"
            ));
        }
        let weights: Vec<VariantWeight> = e
            .variants
            .iter()
            .map(|w| VariantWeight { variant: w.variant.clone(), weight: if w.variant == variant { 1.0 } else { 0.0 } })
            .collect();
        return Ok(Plan {
            change: Change::SetWeights { endpoint: endpoint.clone(), weights: weights.clone() },
            reverse: Some(Change::SetWeights { endpoint, weights: e.variants.clone() }),
        });
    }
    if let (Some(config), false) = (e.tag(TAG_MAINTENANCE_CONFIG), failed) {
        if config == e.config || e.pending_config.as_deref() == Some(config) {
            return Err(format!(
                "nothing to do: endpoint {endpoint} already runs (or is moving to) its maintenance config {config}"
            ));
        }
        return Ok(Plan {
            change: Change::UpdateEndpoint { endpoint: endpoint.clone(), config: config.to_owned() },
            reverse: Some(Change::UpdateEndpoint { endpoint, config: e.config.clone() }),
        });
    }
    Ok(Plan {
        change: Change::DeleteEndpoint { endpoint: endpoint.clone() },
        reverse: Some(Change::CreateEndpoint {
            endpoint,
            config: e.config.clone(),
            tags: e.tags.clone().unwrap_or_default(),
        }),
    })
}
