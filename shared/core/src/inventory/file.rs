//! The inventory file people write (TOML), and its validation.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{MAX_MODEL_ID_CHARS, RiskTier, is_valid_model_id};

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
