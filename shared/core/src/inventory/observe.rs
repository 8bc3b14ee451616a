//! Keeping the inventory current from SageMaker and Config events: endpoint configs, package versions, training
//! lineage, role ids, and `warden:*` tags, which may only associate and fill in.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{Inventory, Model, PackageVersion, RiskTier, is_valid_model_id};
use crate::event::sagemaker::EndpointStatus;
use crate::event::{Detail, Event};
use crate::placement::Placement;
use crate::resource::{Resource, TAG_MODEL, TAG_OWNER, TAG_RISK};

impl Inventory {
    /// Keeps the inventory current from a SageMaker event: endpoint configs, package versions and approvals,
    /// training lineage, and `warden:*` tags (which may only associate and fill in: see [`TagConflict`]). Only
    /// models that run where the event happened learn from it (an unplaced model runs at `home`).
    pub fn observe(&mut self, event: &Event, home: &Placement) -> Observation {
        let mut seen = Observation::default();
        let place = &event.placement();
        let changed = &mut seen.changed;
        match &event.detail {
            Detail::EndpointStateChange(d) | Detail::EndpointDeploymentStateChange(d) => {
                let endpoint = Resource::Endpoint(d.endpoint_name.clone());
                let bound = self.endpoint_owner(&d.endpoint_name, place, home);
                let owner = self.apply_tags(&d.tags, &endpoint, bound, (place, home), changed, &mut seen.conflicts);
                let Some(model_id) = owner else {
                    return seen;
                };
                let Some(model) = self.models.get_mut(&model_id) else {
                    return seen;
                };
                let before = model.clone();
                let endpoint = model.endpoint_mut(&d.endpoint_name);
                match d.endpoint_status {
                    // A deployment event's EndpointConfigName is the old config; only an endpoint event
                    // that is InService says which config is serving.
                    EndpointStatus::InService if d.pending_deployment_summary.is_none() => {
                        endpoint.deployed(&d.endpoint_config_name, d.last_modified_time.or(Some(event.time)));
                    }
                    EndpointStatus::Failed | EndpointStatus::UpdateRollbackFailed => {
                        endpoint.mark_suspect(&d.endpoint_config_name);
                    }
                    _ => {}
                }
                if *model != before {
                    changed.insert(model_id);
                }
            }
            Detail::ModelPackageStateChange(d) => {
                let group = &d.model_package_group_name;
                let here = |m: &&Model| m.runs_at(place, home);
                let known = self
                    .models
                    .values()
                    .filter(here)
                    .find(|m| m.model_package_group.as_deref() == Some(group))
                    .or_else(|| self.models.get(group).filter(here))
                    .map(|m| m.id.clone());
                // An unknown group becomes an unclassified model named after it, if its name can be a model id.
                let Some(model_id) = known.or_else(|| is_valid_model_id(group).then(|| group.clone())) else {
                    return seen;
                };
                // A model of that name elsewhere is another model: ids are global, so the group stays unattributed.
                let elsewhere = self.models.get(&model_id).is_some_and(|m| !m.runs_at(place, home));
                if self.unreadable.contains(&model_id) || elsewhere {
                    return seen;
                }
                let model =
                    self.models.entry(model_id.clone()).or_insert_with(|| Model::new_at(&model_id, place, home));
                let before = model.clone();
                model.model_package_group.get_or_insert_with(|| group.clone());
                let version = PackageVersion {
                    arn: d.model_package_arn.clone(),
                    version: d.model_package_version,
                    approval: d.model_approval_status,
                    updated_at: d.last_modified_time.or(d.creation_time),
                };
                match model.package_versions.iter_mut().find(|p| p.arn == version.arn) {
                    Some(existing) if existing.updated_at <= version.updated_at => *existing = version,
                    Some(_) => {} // an older event arriving late does not roll the status back
                    None => model.package_versions.push(version),
                }
                if *model != before {
                    changed.insert(model_id);
                }
            }
            Detail::TrainingJobStateChange(d) => {
                let job = Resource::TrainingJob(d.training_job_name.clone());
                let Some(model_id) = self.apply_tags(&d.tags, &job, None, (place, home), changed, &mut seen.conflicts)
                else {
                    return seen;
                };
                let Some(model) = self.models.get_mut(&model_id) else {
                    return seen;
                };
                let before = model.clone();
                model.roles.extend(d.role_arn.iter().cloned());
                let buckets = d
                    .input_data_config
                    .iter()
                    .filter_map(|c| c.data_source.as_ref()?.s3_data_source.as_ref())
                    .filter_map(|s| s.s3_uri.strip_prefix("s3://")?.split('/').next().map(str::to_owned))
                    .filter(|b| !b.is_empty());
                model.data_buckets.extend(buckets);
                if *model != before {
                    changed.insert(model_id);
                }
            }
            Detail::ConfigItemChange(d) => {
                // Config names roles by their unique id (`AROA...`) in compliance changes; its configuration items
                // carry both the id and the ARN. Learn the id for every model that uses the role.
                let Some((id, arn)) = d
                    .item()
                    .filter(|item| item.resource_type == "AWS::IAM::Role")
                    .and_then(|item| Some((item.resource_id.as_str(), item.arn.as_deref()?)))
                else {
                    return seen;
                };
                if id.is_empty() || id.contains(['/', ':']) {
                    return seen;
                }
                for model in self.models.values_mut().filter(|m| m.runs_at(place, home) && m.uses_role(arn)) {
                    if model.roles.insert(id.to_owned()) {
                        changed.insert(model.id.clone());
                    }
                }
            }
            _ => {}
        }
        seen
    }

    fn endpoint_owner(&self, endpoint: &str, place: &Placement, home: &Placement) -> Option<String> {
        self.models.values().find(|m| m.runs_at(place, home) && m.endpoint(endpoint).is_some()).map(|m| m.id.clone())
    }

    /// Applies a resource's `warden:*` tags, which may associate a resource bound to no model and fill in fields the
    /// inventory left unset, never more: a tag that would move a bound resource, or change a tier or owner already
    /// set, is not applied and becomes a [`TagConflict`]. Returns the model the resource belongs to afterwards.
    fn apply_tags(
        &mut self,
        tags: &BTreeMap<String, String>,
        resource: &Resource,
        bound: Option<String>,
        (place, home): (&Placement, &Placement),
        changed: &mut BTreeSet<String>,
        conflicts: &mut Vec<TagConflict>,
    ) -> Option<String> {
        let Some(tagged) = tags.get(TAG_MODEL).map(|t| t.trim()) else {
            return bound;
        };
        let conflict = |model_id: &str, tag: &str, recorded: String| TagConflict {
            model_id: model_id.to_owned(),
            resource: resource.clone(),
            tag: tag.to_owned(),
            recorded,
            refused_model: (tag == TAG_MODEL).then(|| tagged.to_owned()),
        };
        if !is_valid_model_id(tagged) {
            if let Some(owner) = &bound {
                conflicts.push(conflict(owner, TAG_MODEL, "a tag value that is not a valid model id".into()));
            }
            return bound;
        }
        if let Some(owner) = bound.filter(|owner| owner != tagged) {
            conflicts.push(conflict(&owner, TAG_MODEL, format!("bound to model {owner}")));
            return Some(owner);
        }
        if self.unreadable.contains(tagged) {
            return None;
        }
        // A resource in one account tagged with a model of another: never associated (it would let anyone who can
        // tag in one account steer actions against another's endpoints), and news for that model.
        if let Some(model) = self.models.get(tagged).filter(|m| !m.runs_at(place, home)) {
            let recorded = format!("model {tagged} runs in {}, not in {place}", model.placement().or_home(home));
            conflicts.push(conflict(tagged, TAG_MODEL, recorded));
            return None;
        }
        let model = self.models.entry(tagged.to_owned()).or_insert_with(|| Model::new_at(tagged, place, home));
        let before = model.clone();
        if let Some(value) = tags.get(TAG_RISK) {
            match (RiskTier::parse(value), model.risk) {
                (Some(risk), None) => model.risk = Some(risk),
                (Some(risk), Some(recorded)) if risk == recorded => {}
                (_, recorded) => conflicts.push(conflict(
                    tagged,
                    TAG_RISK,
                    recorded.map_or("no valid tier".to_owned(), |r| format!("risk tier {r}")),
                )),
            }
        }
        if let Some(value) = tags.get(TAG_OWNER).map(|o| o.trim()).filter(|o| !o.is_empty()) {
            match &model.owner {
                None if is_plain_text(value) => model.owner = Some(value.to_owned()),
                Some(recorded) if recorded == value => {}
                recorded => conflicts.push(conflict(
                    tagged,
                    TAG_OWNER,
                    recorded.as_ref().map_or("no valid owner".to_owned(), |o| format!("owner {o}")),
                )),
            }
        }
        if *model != before {
            changed.insert(tagged.to_owned());
        }
        Some(tagged.to_owned())
    }
}

/// What an event taught the inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observation {
    /// Models whose record changed.
    pub changed: BTreeSet<String>,
    /// Tags that disagreed with the inventory and were not applied.
    pub conflicts: Vec<TagConflict>,
}

/// A `warden:*` tag that disagrees with the inventory: it would move a resource bound to a model, or change a tier
/// or owner the inventory set. Not applied (tagging is an ordinary SageMaker permission; downgrading a model must
/// not be), but recorded on the model's chain and alerted as a governance anomaly. Only the inventory file or
/// `warden inventory`, by a person on record, changes these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagConflict {
    /// The model whose record the tag disagrees with.
    pub model_id: String,
    pub resource: Resource,
    pub tag: String,
    /// What the inventory holds, for people.
    pub recorded: String,
    /// For a refused `warden:model` tag, the model it named: the event must not reach that model either.
    pub refused_model: Option<String>,
}

impl fmt::Display for TagConflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "governance anomaly: tag {} on {} disagrees with the inventory ({}); not applied",
            self.tag, self.resource, self.recorded
        )
    }
}

/// Text a person wrote, safe to show and record: at most 256 characters, no control characters, and none of the
/// invisible or direction-changing ones that make one name look like another.
fn is_plain_text(text: &str) -> bool {
    let deceptive =
        |c: char| matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}');
    text.chars().count() <= 256 && !text.chars().any(|c| c.is_control() || deceptive(c))
}
