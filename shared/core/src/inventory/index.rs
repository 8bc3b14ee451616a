//! Which models a set of resources can concern, without walking every model: the keys each model is found by
//! (its id, endpoints, configs, package group and versions, buckets, roles), kept beside a whole inventory by the
//! ledger that caches one. An event then reads only the models it can touch, so its cost does not grow with the
//! number of models.

use std::collections::{BTreeMap, BTreeSet};

use super::{Inventory, Model};
use crate::resource::{Resource, arn_name, package_group_of};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InventoryIndex {
    /// Lookup key -> ids of the models found by it.
    models_by_key: BTreeMap<String, BTreeSet<String>>,
    /// Model id -> its keys (to drop them when the model changes).
    keys_by_model: BTreeMap<String, Vec<String>>,
}

/// The keys a model is found by (`<kind>:<name>`, e.g. `endpoint:fraud-prod`, `model:<id>`). Must cover
/// every way [`Model::owns`] and the inventory's own updates (`observe`) look a model up. A ledger that stores its
/// inventory keeps one lookup item per key (the DynamoDB ledger) or this index in memory (the embedded one).
pub fn lookup_keys_of(model: &Model) -> Vec<String> {
    let mut keys = vec![format!("model:{}", model.id), format!("group:{}", model.package_group())];
    for endpoint in &model.endpoints {
        keys.push(format!("endpoint:{}", endpoint.name));
        keys.extend(endpoint.current_config.iter().map(|c| format!("config:{c}")));
        keys.extend(endpoint.history.iter().map(|d| format!("config:{}", d.config)));
    }
    keys.extend(model.package_versions.iter().map(|p| format!("package:{}", p.arn)));
    keys.extend(model.data_buckets.iter().map(|b| format!("bucket:{b}")));
    keys.extend(model.roles.iter().map(|r| format!("role:{}", arn_name(r))));
    keys.sort();
    keys.dedup();
    keys
}

/// The keys under which the models a resource may belong to are found (see [`lookup_keys_of`]).
pub fn lookup_keys_for(resource: &Resource) -> Vec<String> {
    match resource {
        Resource::Model(id) => vec![format!("model:{id}")],
        Resource::Endpoint(name) => vec![format!("endpoint:{name}")],
        Resource::EndpointConfig(config) => vec![format!("config:{config}")],
        Resource::ModelPackage(arn) => {
            let mut keys = vec![format!("package:{arn}")];
            keys.extend(package_group_of(arn).map(|g| format!("group:{g}")));
            keys
        }
        // A package group names its model, or is the id of an unclassified model registered from it.
        Resource::ModelPackageGroup(group) => vec![format!("group:{group}"), format!("model:{group}")],
        Resource::S3Bucket(bucket) => vec![format!("bucket:{bucket}")],
        Resource::IamRole(role) => vec![format!("role:{}", arn_name(role))],
        _ => Vec::new(),
    }
}

impl InventoryIndex {
    pub fn of(inventory: &Inventory) -> Self {
        let mut index = Self::default();
        for model in inventory.models() {
            index.update(model);
        }
        index
    }

    /// Re-keys one model after it was written.
    pub fn update(&mut self, model: &Model) {
        for key in self.keys_by_model.remove(&model.id).unwrap_or_default() {
            if let Some(ids) = self.models_by_key.get_mut(&key) {
                ids.remove(&model.id);
            }
        }
        let keys = lookup_keys_of(model);
        for key in &keys {
            self.models_by_key.entry(key.clone()).or_default().insert(model.id.clone());
        }
        self.keys_by_model.insert(model.id.clone(), keys);
    }

    /// The ids of every model any of `resources` may concern.
    pub fn models_for(&self, resources: &[Resource]) -> BTreeSet<String> {
        resources
            .iter()
            .flat_map(lookup_keys_for)
            .filter_map(|key| self.models_by_key.get(&key))
            .flat_map(|ids| ids.iter().cloned())
            .collect()
    }
}

impl Inventory {
    /// The models with these ids (and what could not be read), for an event that can touch only them.
    pub fn subset(&self, ids: &BTreeSet<String>) -> Inventory {
        let models = ids.iter().filter_map(|id| self.get(id).cloned());
        Inventory::from_stored(models, self.unreadable().clone())
    }
}
