//! The inventory file people write (TOML), and its validation.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{MAX_MODEL_ID_CHARS, RiskTier, is_valid_model_id};
use crate::placement::placement_problem;

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
    /// The account the model runs in (12 digits); unset: the home account Warden is deployed in.
    pub account: Option<String>,
    /// The region the model runs in; unset: the home region.
    pub region: Option<String>,
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
    /// The file as Warden stores it under `home`: every model placed exactly at home becomes unplaced, so a model in
    /// the home account and region is governed by bare names whether its file leaves them out or spells them, and
    /// the file is checked again (two owners of one home endpoint, one spelled and one not, are refused). A file
    /// that places models needs a home: without one, a model with no account would match every account.
    pub fn relative_to(&self, home: &crate::placement::Placement) -> Result<Self, InventoryError> {
        let home_known = home.account.is_some() && home.region.is_some();
        let mut file = self.clone();
        for (index, spec) in file.model.iter_mut().enumerate() {
            if spec.account.is_none() && spec.region.is_none() {
                continue;
            }
            if !home_known {
                return Err(InventoryError::Invalid {
                    index: index + 1,
                    message: format!(
                        "model {:?} names an account and region, so Warden's home must be set too \
                         (WARDEN_HOME_ACCOUNT and WARDEN_HOME_REGION): without it, models with no account match \
                         every account",
                        spec.id
                    ),
                });
            }
            if spec.account == home.account && spec.region == home.region {
                spec.account = None;
                spec.region = None;
            }
        }
        file.validate()?;
        Ok(file)
    }

    /// Parses and validates an inventory file.
    pub fn parse(text: &str) -> Result<Self, InventoryError> {
        let file: Self = toml::from_str(text).map_err(|e| InventoryError::Syntax(e.to_string()))?;
        file.validate()?;
        Ok(file)
    }

    fn validate(&self) -> Result<(), InventoryError> {
        let mut ids = BTreeSet::new();
        // The same endpoint name in two accounts or regions is two endpoints; unset is the home account or region.
        let mut endpoint_owner: BTreeMap<(Option<&str>, Option<&str>, &str), &str> = BTreeMap::new();
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
            if let Some(problem) = placement_problem(spec.account.as_deref(), spec.region.as_deref()) {
                return Err(invalid(format!("model {:?}: {problem}", spec.id)));
            }
            // Half a placement would be completed by whatever home is configured later: say both or neither.
            if spec.account.is_some() != spec.region.is_some() {
                return Err(invalid(format!("model {:?}: name both its account and its region, or neither", spec.id)));
            }
            for endpoint in &spec.endpoints {
                if endpoint.trim().is_empty() {
                    return Err(invalid(format!("model {:?} lists an empty endpoint name", spec.id)));
                }
                let place = (spec.account.as_deref(), spec.region.as_deref(), endpoint.as_str());
                if let Some(other) = endpoint_owner.insert(place, &spec.id) {
                    return Err(invalid(format!(
                        "endpoint {endpoint:?} is listed by both {other:?} and {:?} in the same account and region",
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
