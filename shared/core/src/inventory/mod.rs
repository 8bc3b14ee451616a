//! The model inventory: what each model is, who owns it, how risky it is, and where it runs; kept current from
//! SageMaker events, and used to correlate a signal's resources with the models they affect.
//!
//! Layout: this module (models, endpoints, correlation, imports), `observe` (what events teach it, and the tags
//! that may not), `file` (the TOML file people write).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::event::sagemaker::ApprovalStatus;
use crate::placement::Placement;
use crate::resource::{Resource, arn_name, package_group_of};
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
    /// The account and region the model runs in; `None`: the home (central) account and region. Left out of the
    /// record when unset, so records written before there were accounts keep their bytes and seals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
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
            account: None,
            region: None,
        }
    }

    /// A new model, placed where the event that named it happened when that is not home. With no home known (a
    /// local replay) it is unplaced, as every model was before accounts.
    fn new_at(id: impl Into<String>, place: &Placement, home: &Placement) -> Self {
        let elsewhere = !home.is_unknown() && place.or_home(home) != *home;
        let (account, region) = if elsewhere { (place.account.clone(), place.region.clone()) } else { (None, None) };
        Self { account, region, ..Self::new(id) }
    }

    /// Where the model runs (unset parts: home's).
    pub fn placement(&self) -> Placement {
        Placement::new(self.account.clone(), self.region.clone())
    }

    /// Whether the model names its account or region (it runs outside the home account or region).
    pub fn is_placed(&self) -> bool {
        self.account.is_some() || self.region.is_some()
    }

    /// What an action on one of this model's endpoints targets: the bare name at home, the endpoint's ARN for a
    /// placed model, so cooldowns, locks and limits of `prod` in two accounts never meet and nothing that acts
    /// can mistake one for the other.
    pub fn endpoint_target(&self, endpoint: &str) -> String {
        self.qualified("endpoint", endpoint)
    }

    /// What a gate on this model's package group targets (as [`Model::endpoint_target`]).
    pub fn group_target(&self, group: &str) -> String {
        self.qualified("model-package-group", group)
    }

    fn qualified(&self, kind: &str, name: &str) -> String {
        crate::placement::target_at(&self.placement(), kind, name)
    }

    /// Whether an action target (as [`Model::endpoint_target`] and [`Model::group_target`] make them, or a package
    /// version's ARN) is this model's: a bare name is a home model's only, so a request naming `prod` never finds
    /// the member model that also has an endpoint called `prod`.
    pub fn owns_target(&self, kind: crate::action::TargetKind, target: &str) -> bool {
        match kind {
            crate::action::TargetKind::Endpoint => self.endpoint_by_target(target).is_some(),
            crate::action::TargetKind::ModelPackage => {
                target == self.group_target(self.package_group())
                    || self.package_versions.iter().any(|p| p.arn == target)
                    || package_group_of(target) == Some(self.package_group()) && self.arn_is_here(target)
            }
        }
    }

    /// Whether an ARN's account and region are this model's (unplaced: any, as names were before accounts).
    fn arn_is_here(&self, arn: &str) -> bool {
        !self.is_placed()
            || crate::placement::arn_parts(arn).is_some_and(|(_, place, _)| self.placement().admits(&place))
    }

    /// The endpoint an action target names, if it is one of this model's.
    pub fn endpoint_by_target(&self, target: &str) -> Option<&EndpointRecord> {
        self.endpoints.iter().find(|e| self.endpoint_target(&e.name) == target)
    }

    /// Whether a resource at `place` can be this model's: the same endpoint or bucket name in another account is
    /// another resource.
    pub fn runs_at(&self, place: &Placement, home: &Placement) -> bool {
        self.placement().or_home(home).admits(place)
    }

    /// Whether `resource`, reported at `place`, can be this model's. S3 bucket names are unique across every
    /// account (a data-lake account's Macie finding about a model's bucket is about that bucket), and IAM roles
    /// are global within their account (stolen credentials are used from any region); the rest are regional.
    pub fn holds_at(&self, resource: &Resource, place: &Placement, home: &Placement) -> bool {
        match resource {
            Resource::S3Bucket(_) => true,
            Resource::IamRole(_) => {
                self.runs_at(&Placement::new(place.account.clone(), None), &Placement::new(home.account.clone(), None))
            }
            _ => self.runs_at(place, home),
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

    pub(crate) fn package_group(&self) -> &str {
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
        self.unreadable.remove(&model.id);
        self.models.insert(model.id.clone(), model);
    }

    /// The models placed where the signal's resources are (`place`; an unplaced model runs at `home`) that the
    /// resources belong to, each once, with the first resource that links them.
    pub fn affected(&self, resources: &[Resource], place: &Placement, home: &Placement) -> Vec<Affected> {
        self.models
            .values()
            .filter_map(|model| {
                resources
                    .iter()
                    .find(|r| model.owns(r) && model.holds_at(r, place, home))
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
            // The file says where the model runs (unset: home), whatever an event or tag from another account
            // created it with: a member account must not keep a model id the home inventory claims.
            model.account = spec.account.clone();
            model.region = spec.region.clone();
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

    /// Marks an endpoint's current config suspect, because Warden acted against it.
    pub fn mark_current_suspect(&mut self, model_id: &str, target: &str) -> bool {
        let Some(model) = self.models.get_mut(model_id) else {
            return false;
        };
        let Some(index) = model.endpoints.iter().position(|e| model.endpoint_target(&e.name) == target) else {
            return false;
        };
        let record = &mut model.endpoints[index];
        match record.current_config.clone() {
            Some(current) => record.mark_suspect(&current),
            None => false,
        }
    }
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

pub use file::{InventoryError, InventoryFile, ModelSpec};
pub use index::{InventoryIndex, lookup_keys_for, lookup_keys_of};
pub use observe::{Observation, TagConflict};

mod file;
mod index;
mod observe;

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
    fn the_same_endpoint_name_may_run_in_two_accounts_or_regions() {
        let text = "[[model]]\nid = \"a\"\nendpoints = [\"prod\"]\n\n[[model]]\nid = \"b\"\naccount = \"444455556666\"\n\
                    region = \"us-east-1\"\nendpoints = [\"prod\"]\n\n[[model]]\nid = \"c\"\naccount = \"111122223333\"\n\
                    region = \"eu-west-1\"\nendpoints = [\"prod\"]";
        let file = InventoryFile::parse(text).unwrap_or_else(|e| panic!("{e}"));
        let mut inventory = Inventory::default();
        inventory.import(&file);
        let b = inventory.get("b").map(Model::placement);
        assert_eq!(b, Some(Placement::new(Some("444455556666".into()), Some("us-east-1".into()))));
        // A record with no account keeps the bytes it had before models had accounts.
        let a = serde_json::to_string(&inventory.get("a")).unwrap_or_default();
        assert!(!a.contains("account") && !a.contains("region"), "{a}");
    }

    /// The file says where a model runs: a model a member account's tag or package group created first under an
    /// id the home inventory claims is moved home by the import; a spelled-out home is home; a file that places
    /// models needs a home; half a placement is refused.
    #[test]
    fn the_inventory_file_decides_where_a_model_runs() {
        let home = Placement::new(Some("111122223333".into()), Some("us-east-1".into()));
        let mut squatted = Model::new("churn");
        squatted.account = Some("444455556666".into());
        squatted.region = Some("us-east-1".into());
        let mut inventory = Inventory::from_models([squatted]);
        let file = InventoryFile::parse("[[model]]\nid = \"churn\"\nendpoints = [\"churn-prod\"]")
            .unwrap_or_else(|e| panic!("{e}"));
        inventory.import(&file.relative_to(&home).unwrap_or_else(|e| panic!("{e}")));
        assert!(!inventory.get("churn").is_some_and(Model::is_placed), "{:?}", inventory.get("churn"));

        let spelled = "[[model]]\nid = \"a\"\nendpoints = [\"prod\"]\n[[model]]\nid = \"b\"\n\
                       account = \"111122223333\"\nregion = \"us-east-1\"\nendpoints = [\"prod\"]";
        let parsed = InventoryFile::parse(spelled).unwrap_or_else(|e| panic!("{e}"));
        let err = parsed.relative_to(&home).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("listed by both"), "{err}");
        let err = parsed.relative_to(&Placement::default()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("WARDEN_HOME_ACCOUNT and WARDEN_HOME_REGION"), "{err}");
        let half = InventoryFile::parse("[[model]]\nid = \"a\"\naccount = \"444455556666\"");
        assert!(half.err().is_some_and(|e| e.to_string().contains("both its account and its region")));
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
            ("[[model]]\nid = \"a\"\naccount = \"1234\"\nregion = \"us-east-1\"", "not a 12-digit AWS account id"),
            ("[[model]]\nid = \"a\"\naccount = \"444455556666\"\nregion = \"moon-base\"", "not an AWS region name"),
            (
                "[[model]]\nid = \"a\"\naccount = \"444455556666\"\nregion = \"us-east-1\"\nendpoints=[\"e\"]\n[[model]]\nid = \"b\"\naccount = \"444455556666\"\nregion = \"us-east-1\"\nendpoints=[\"e\"]",
                "in the same account and region",
            ),
        ];
        for (text, expected) in cases {
            let err = InventoryFile::parse(text).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(expected), "{text:?}: got {err:?}, expected {expected:?}");
        }
    }
}
