//! The model inventory: what each model is, who owns it, how risky it is, and where it runs; kept current from
//! SageMaker events, and used to correlate a signal's resources with the models they affect.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::event::sagemaker::{ApprovalStatus, EndpointStatus};
use crate::event::{Detail, Event};
use crate::resource::{Resource, TAG_MODEL, TAG_OWNER, TAG_RISK, arn_name, package_group_of};
use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskTier {
    Low,
    Medium,
    High,
}

impl RiskTier {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "high" => Some(Self::High),
            "medium" => Some(Self::Medium),
            "low" => Some(Self::Low),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }
}

impl fmt::Display for RiskTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One config an endpoint ran, in the order it reached InService.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigDeployment {
    pub config: String,
    pub in_service_at: Option<Timestamp>,
    /// Acted against or failed while current: never a rollback target.
    #[serde(default)]
    pub suspect: bool,
}

/// An endpoint and the configs it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    pub name: String,
    pub current_config: Option<String>,
    #[serde(default)]
    pub history: Vec<ConfigDeployment>,
}

impl EndpointRecord {
    pub fn new(name: impl Into<String>) -> Self {
        Self { name: name.into(), current_config: None, history: Vec::new() }
    }

    /// The most recent config, other than the current one, that ran InService and was never suspect.
    pub fn last_known_good(&self) -> Option<&str> {
        self.history
            .iter()
            .rev()
            .find(|d| !d.suspect && Some(&d.config) != self.current_config.as_ref())
            .map(|d| d.config.as_str())
    }

    /// Records that the endpoint reached InService on `config`. Returns whether anything changed.
    fn deployed(&mut self, config: &str, at: Option<Timestamp>) -> bool {
        if self.current_config.as_deref() == Some(config) {
            return false;
        }
        // Keep one history entry per config, in deployment order; a redeploy moves it to the end.
        let previous = self.history.iter().position(|d| d.config == config).map(|i| self.history.remove(i));
        self.history.push(ConfigDeployment {
            config: config.to_owned(),
            in_service_at: at,
            suspect: previous.is_some_and(|p| p.suspect),
        });
        self.current_config = Some(config.to_owned());
        true
    }

    /// Marks a config as suspect (it failed, or Warden acted against it).
    fn mark_suspect(&mut self, config: &str) -> bool {
        match self.history.iter_mut().find(|d| d.config == config) {
            Some(d) if !d.suspect => {
                d.suspect = true;
                true
            }
            Some(_) => false,
            None => {
                self.history.push(ConfigDeployment { config: config.to_owned(), in_service_at: None, suspect: true });
                true
            }
        }
    }

    fn ran(&self, config: &str) -> bool {
        self.current_config.as_deref() == Some(config) || self.history.iter().any(|d| d.config == config)
    }
}

/// One registered model package version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageVersion {
    pub arn: String,
    pub version: Option<u32>,
    pub approval: ApprovalStatus,
    pub updated_at: Option<Timestamp>,
}

/// A governed model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    pub id: String,
    pub purpose: Option<String>,
    /// `None`: not yet classified.
    pub risk: Option<RiskTier>,
    pub owner: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<EndpointRecord>,
    pub model_package_group: Option<String>,
    #[serde(default)]
    pub package_versions: Vec<PackageVersion>,
    #[serde(default)]
    pub data_buckets: BTreeSet<String>,
    /// Execution roles, as ARNs or names.
    #[serde(default)]
    pub roles: BTreeSet<String>,
}

impl Model {
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            purpose: None,
            risk: None,
            owner: None,
            endpoints: Vec::new(),
            model_package_group: None,
            package_versions: Vec::new(),
            data_buckets: BTreeSet::new(),
            roles: BTreeSet::new(),
        }
    }

    pub fn endpoint(&self, name: &str) -> Option<&EndpointRecord> {
        self.endpoints.iter().find(|e| e.name == name)
    }

    fn endpoint_mut(&mut self, name: &str) -> &mut EndpointRecord {
        if let Some(index) = self.endpoints.iter().position(|e| e.name == name) {
            &mut self.endpoints[index]
        } else {
            self.endpoints.push(EndpointRecord::new(name));
            let last = self.endpoints.len() - 1;
            &mut self.endpoints[last]
        }
    }

    /// The newest registered package version (by version number, then by update time).
    pub fn latest_package(&self) -> Option<&PackageVersion> {
        self.package_versions.iter().max_by_key(|p| (p.version, p.updated_at))
    }

    fn uses_role(&self, role: &str) -> bool {
        let wanted = arn_name(role);
        self.roles.iter().any(|r| r == role || arn_name(r) == wanted)
    }

    fn package_group(&self) -> &str {
        self.model_package_group.as_deref().unwrap_or(&self.id)
    }

    /// Whether `resource` belongs to this model.
    pub fn owns(&self, resource: &Resource) -> bool {
        match resource {
            Resource::Model(id) => *id == self.id,
            Resource::Endpoint(name) => self.endpoint(name).is_some(),
            Resource::EndpointConfig(config) => self.endpoints.iter().any(|e| e.ran(config)),
            Resource::ModelPackage(arn) => {
                package_group_of(arn) == Some(self.package_group())
                    || self.package_versions.iter().any(|p| p.arn == *arn)
            }
            Resource::ModelPackageGroup(group) => group == self.package_group(),
            Resource::S3Bucket(bucket) => self.data_buckets.contains(bucket),
            Resource::IamRole(role) => self.uses_role(role),
            _ => false,
        }
    }
}

/// A model a signal affects, and the resource that links them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affected {
    pub model_id: String,
    pub via: Resource,
}

/// Every governed model, by id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    models: BTreeMap<String, Model>,
    /// Ids of stored records that could not be read (damaged or tampered with). Left out, so every other model is
    /// governed as usual, and never re-created from an event: that would silently replace, say, a high-risk
    /// record with an unclassified one. An inventory import by a person repairs them.
    #[serde(skip)]
    unreadable: BTreeSet<String>,
}

impl Inventory {
    pub fn from_models(models: impl IntoIterator<Item = Model>) -> Self {
        Self { models: models.into_iter().map(|m| (m.id.clone(), m)).collect(), unreadable: BTreeSet::new() }
    }

    /// The readable models, with the ids of the records that could not be read.
    pub fn from_stored(models: impl IntoIterator<Item = Model>, unreadable: BTreeSet<String>) -> Self {
        Self { unreadable, ..Self::from_models(models) }
    }

    pub fn unreadable(&self) -> &BTreeSet<String> {
        &self.unreadable
    }

    pub fn get(&self, id: &str) -> Option<&Model> {
        self.models.get(id)
    }

    pub fn models(&self) -> impl Iterator<Item = &Model> {
        self.models.values()
    }

    pub fn len(&self) -> usize {
        self.models.len()
    }

    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }

    pub fn upsert(&mut self, model: Model) {
        self.models.insert(model.id.clone(), model);
    }

    /// The models a signal's resources belong to, each once, with the first resource that links them.
    pub fn affected(&self, resources: &[Resource]) -> Vec<Affected> {
        self.models
            .values()
            .filter_map(|model| {
                resources
                    .iter()
                    .find(|r| model.owns(r))
                    .map(|via| Affected { model_id: model.id.clone(), via: via.clone() })
            })
            .collect()
    }

    /// Merges an inventory file: its fields override, endpoints and lineage are added, history is kept.
    /// Returns the ids of the models that changed.
    pub fn import(&mut self, file: &InventoryFile) -> BTreeSet<String> {
        let mut changed = BTreeSet::new();
        for spec in &file.model {
            let model = self.models.entry(spec.id.clone()).or_insert_with(|| Model::new(&spec.id));
            let before = model.clone();
            model.purpose = spec.purpose.clone().or(model.purpose.take());
            model.risk = spec.risk.or(model.risk);
            model.owner = spec.owner.clone().or(model.owner.take());
            model.model_package_group = spec.model_package_group.clone().or(model.model_package_group.take());
            for endpoint in &spec.endpoints {
                let record = model.endpoint_mut(endpoint);
                for config in spec.endpoint_configs.get(endpoint).into_iter().flatten() {
                    record.deployed(config, None);
                }
            }
            model.data_buckets.extend(spec.data_buckets.iter().cloned());
            model.roles.extend(spec.roles.iter().cloned());
            if *model != before {
                changed.insert(spec.id.clone());
            }
        }
        changed
    }

    /// Keeps the inventory current from a SageMaker event: endpoint configs, package versions and approvals,
    /// training lineage, and `warden:*` tags (which may only associate and fill in: see [`TagConflict`]).
    pub fn observe(&mut self, event: &Event) -> Observation {
        let mut seen = Observation::default();
        let changed = &mut seen.changed;
        match &event.detail {
            Detail::EndpointStateChange(d) | Detail::EndpointDeploymentStateChange(d) => {
                let endpoint = Resource::Endpoint(d.endpoint_name.clone());
                let bound = self.endpoint_owner(&d.endpoint_name);
                let owner = self.apply_tags(&d.tags, &endpoint, bound, changed, &mut seen.conflicts);
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
                let known = self
                    .models
                    .values()
                    .find(|m| m.model_package_group.as_deref() == Some(group))
                    .or_else(|| self.models.get(group))
                    .map(|m| m.id.clone());
                // An unknown group becomes an unclassified model named after it, if its name can be a model id.
                let Some(model_id) = known.or_else(|| is_valid_model_id(group).then(|| group.clone())) else {
                    return seen;
                };
                if self.unreadable.contains(&model_id) {
                    return seen;
                }
                let model = self.models.entry(model_id.clone()).or_insert_with(|| Model::new(&model_id));
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
                let Some(model_id) = self.apply_tags(&d.tags, &job, None, changed, &mut seen.conflicts) else {
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
                for model in self.models.values_mut().filter(|m| m.uses_role(arn)) {
                    if model.roles.insert(id.to_owned()) {
                        changed.insert(model.id.clone());
                    }
                }
            }
            _ => {}
        }
        seen
    }

    /// Marks an endpoint's current config suspect, because Warden acted against it.
    pub fn mark_current_suspect(&mut self, model_id: &str, endpoint: &str) -> bool {
        let Some(model) = self.models.get_mut(model_id) else {
            return false;
        };
        let Some(record) = model.endpoints.iter_mut().find(|e| e.name == endpoint) else {
            return false;
        };
        match record.current_config.clone() {
            Some(current) => record.mark_suspect(&current),
            None => false,
        }
    }

    fn endpoint_owner(&self, endpoint: &str) -> Option<String> {
        self.models.values().find(|m| m.endpoint(endpoint).is_some()).map(|m| m.id.clone())
    }

    /// Applies a resource's `warden:*` tags, which may associate a resource bound to no model and fill in fields the
    /// inventory left unset, never more: a tag that would move a bound resource, or change a tier or owner already
    /// set, is not applied and becomes a [`TagConflict`]. Returns the model the resource belongs to afterwards.
    fn apply_tags(
        &mut self,
        tags: &BTreeMap<String, String>,
        resource: &Resource,
        bound: Option<String>,
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
        let model = self.models.entry(tagged.to_owned()).or_insert_with(|| Model::new(tagged));
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

/// The longest model id: ids name ledger chains and keys.
pub const MAX_MODEL_ID_CHARS: usize = 128;

/// Model ids are non-empty, at most [`MAX_MODEL_ID_CHARS`] printable ASCII characters (no spaces), and never
/// start with `_` (reserved for Warden's own chains, such as `_unattributed`). Checked on every path that creates
/// one: the inventory file, `warden:model` tags and model package groups.
pub fn is_valid_model_id(id: &str) -> bool {
    // Printable ASCII only: no lookalike (`fraud-detector` followed by a zero-width space) can pass for another id.
    !id.is_empty() && id.len() <= MAX_MODEL_ID_CHARS && !id.starts_with('_') && id.chars().all(|c| c.is_ascii_graphic())
}

/// The inventory file users write by hand (TOML, `[[model]]` tables).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InventoryFile {
    #[serde(default)]
    pub model: Vec<ModelSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub id: String,
    pub purpose: Option<String>,
    pub risk: Option<RiskTier>,
    pub owner: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<String>,
    /// Configs each endpoint has run, oldest first; the last is the current one. Seeds rollback history
    /// for endpoints deployed before Warden watched them.
    #[serde(default)]
    pub endpoint_configs: BTreeMap<String, Vec<String>>,
    pub model_package_group: Option<String>,
    #[serde(default)]
    pub data_buckets: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

/// Why an inventory file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    #[error("invalid inventory TOML: {0}")]
    Syntax(String),
    #[error("invalid inventory: model #{index}: {message}")]
    Invalid { index: usize, message: String },
}

impl InventoryFile {
    /// Parses and validates an inventory file.
    pub fn parse(text: &str) -> Result<Self, InventoryError> {
        let file: Self = toml::from_str(text).map_err(|e| InventoryError::Syntax(e.to_string()))?;
        file.validate()?;
        Ok(file)
    }

    fn validate(&self) -> Result<(), InventoryError> {
        let mut ids = BTreeSet::new();
        let mut endpoint_owner: BTreeMap<&str, &str> = BTreeMap::new();
        for (index, spec) in self.model.iter().enumerate() {
            let index = index + 1;
            let invalid = |message: String| InventoryError::Invalid { index, message };
            if !is_valid_model_id(&spec.id) {
                return Err(invalid(format!(
                    "id {:?} must be 1 to {MAX_MODEL_ID_CHARS} printable ASCII characters with no spaces, and not start with '_' (reserved)",
                    spec.id
                )));
            }
            if !ids.insert(spec.id.as_str()) {
                return Err(invalid(format!("duplicate model id {:?}", spec.id)));
            }
            for endpoint in &spec.endpoints {
                if endpoint.trim().is_empty() {
                    return Err(invalid(format!("model {:?} lists an empty endpoint name", spec.id)));
                }
                if let Some(other) = endpoint_owner.insert(endpoint, &spec.id) {
                    return Err(invalid(format!(
                        "endpoint {endpoint:?} is listed by both {other:?} and {:?}",
                        spec.id
                    )));
                }
            }
            for (endpoint, configs) in &spec.endpoint_configs {
                if !spec.endpoints.contains(endpoint) {
                    return Err(invalid(format!(
                        "endpoint_configs names {endpoint:?}, which is not in endpoints of {:?}",
                        spec.id
                    )));
                }
                if configs.iter().any(|c| c.trim().is_empty()) {
                    return Err(invalid(format!("endpoint_configs of {endpoint:?} lists an empty config name")));
                }
            }
            for bucket in &spec.data_buckets {
                if bucket.trim().is_empty() || bucket.starts_with("s3://") || bucket.contains('/') {
                    return Err(invalid(format!("data bucket {bucket:?} of {:?} must be a bare bucket name", spec.id)));
                }
            }
            if spec.roles.iter().any(|r| r.trim().is_empty()) {
                return Err(invalid(format!("model {:?} lists an empty role", spec.id)));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_known_good_skips_current_and_suspect() {
        let mut e = EndpointRecord::new("ep");
        assert_eq!(e.last_known_good(), None);
        e.deployed("v1", None);
        assert_eq!(e.last_known_good(), None);
        e.deployed("v2", None);
        assert_eq!(e.last_known_good(), Some("v1"));
        e.mark_suspect("v2");
        e.deployed("v3", None);
        assert_eq!(e.last_known_good(), Some("v1"), "v2 is suspect");
        e.deployed("v1", None);
        assert_eq!(e.last_known_good(), Some("v3"));
        assert!(!e.deployed("v1", None), "same config again changes nothing");
    }

    #[test]
    fn rejects_bad_inventory_files() {
        let cases = [
            ("[[model]]\nid = \"\"", "1 to 128 printable ASCII characters"),
            ("[[model]]\nid = \"fraud detector\"", "no spaces"),
            ("[[model]]\nid = \"_unattributed\"", "reserved"),
            ("[[model]]\nid = \"a\"\n[[model]]\nid = \"a\"", "duplicate model id"),
            ("[[model]]\nid = \"a\"\nrisk = \"extreme\"", "unknown variant"),
            ("[[model]]\nid = \"a\"\nendpoints=[\"e\"]\n[[model]]\nid = \"b\"\nendpoints=[\"e\"]", "listed by both"),
            ("[[model]]\nid = \"a\"\ndata_buckets=[\"s3://b/x\"]", "bare bucket name"),
            ("[[model]]\nid = \"a\"\ncolour = \"red\"", "unknown field"),
            ("[[model]]\nid = \"a\"\n[model.endpoint_configs]\nep = [\"v1\"]", "not in endpoints"),
            ("[[model]\nid = \"a\"", "invalid inventory TOML"),
        ];
        for (text, expected) in cases {
            let err = InventoryFile::parse(text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(expected), "{text:?}: got {err:?}, expected {expected:?}");
        }
    }
}
