//! What a decision is about, for people: the place (account, region, console link) and a summary of each affected
//! model. Kept with a decision's outcome in the ledger, so a retried delivery rebuilds the same alert.

use serde::{Deserialize, Serialize};

use crate::inventory::{Affected, Inventory, RiskTier};
use crate::resource::Resource;

/// What an alert says about one affected model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSummary {
    pub id: String,
    pub risk: Option<RiskTier>,
    pub owner: Option<String>,
    pub endpoints: Vec<String>,
    #[serde(default)]
    pub model_package_group: Option<String>,
    /// The resource that links the signal to the model.
    pub via: Resource,
    /// Where the model runs, when not at home.
    #[serde(default, skip_serializing_if = "crate::placement::Placement::is_unknown")]
    pub placement: crate::placement::Placement,
}

impl ModelSummary {
    /// What an action on the named endpoint or package group of this model targets (see
    /// [`crate::inventory::Model::endpoint_target`]).
    pub fn target(&self, kind: &str, name: &str) -> String {
        crate::placement::target_at(&self.placement, kind, name)
    }
}

/// Where and to what the decision applies, kept with the outcome so a retry can rebuild the same alert.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertContext {
    pub account: Option<String>,
    pub region: Option<String>,
    pub console_url: Option<String>,
    pub models: Vec<ModelSummary>,
}

impl AlertContext {
    pub fn summarise(affected: &[Affected], inventory: &Inventory) -> Vec<ModelSummary> {
        affected
            .iter()
            .filter_map(|a| {
                let model = inventory.get(&a.model_id)?;
                Some(ModelSummary {
                    id: model.id.clone(),
                    risk: model.risk,
                    owner: model.owner.clone(),
                    endpoints: model.endpoints.iter().map(|e| e.name.clone()).collect(),
                    model_package_group: model.model_package_group.clone(),
                    via: a.via.clone(),
                    placement: model.placement(),
                })
            })
            .collect()
    }
}
