//! The inventory in layout 2: each model in one of [`schema::SHARDS`] partitions, read by key, and one lookup
//! item per key a model is found by (`LOOKUP#endpoint:fraud-prod` / `MODEL#fraud-detector`), so an event reads
//! only the models its resources name: its cost does not grow with the number of models, and no partition is
//! read by every event.
//!
//! Lookup items are derived data, written outside the commit's transaction: new keys before it, keys a model no
//! longer has after it. A lookup that outlives its key (a crash between the two) only makes an event read one
//! model more, which planning then finds unrelated: `inventory_for` may return more models, never fewer.

use std::collections::BTreeSet;

use warden_core::inventory::{lookup_keys_for, lookup_keys_of};

// The adapter's own vocabulary (SDK types, schema, the ledger model) is the parent module's.
use super::*;

/// The key of a model's item.
pub(super) fn model_key(id: &str) -> Item {
    key(schema::models_pk(id), schema::model_sk(id))
}

/// The lookup keys that need an item: `model:<id>` is the model item's own key.
fn stored_lookup_keys(model: &Model) -> BTreeSet<String> {
    lookup_keys_of(model).into_iter().filter(|k| !k.starts_with("model:")).collect()
}

fn lookup_key(lookup: &str, model: &str) -> Item {
    key(schema::lookup_pk(lookup), schema::model_sk(model))
}

/// Every lookup item of a model.
pub(super) fn lookup_items(model: &Model) -> Vec<Item> {
    stored_lookup_keys(model).iter().map(|k| lookup_key(k, &model.id)).collect()
}

/// The lookup items to put and to remove when `model` replaces `stored` (`None`: a new model, or one whose stored
/// record cannot be read, so every key is put). Only keys the model gains are put: a model is rewritten by every
/// action that makes its endpoint's config suspect, and putting all its keys again cost a write unit per key each
/// time. A lookup lost (deleted by hand) is named by `verify` and put back by `warden ledger migrate`.
pub(super) fn lookup_changes(stored: Option<&Model>, model: &Model) -> (Vec<Item>, Vec<Item>) {
    let new = stored_lookup_keys(model);
    let Some(stored) = stored else { return (lookup_items(model), Vec::new()) };
    let old = stored_lookup_keys(stored);
    let put = new.difference(&old).map(|k| lookup_key(k, &model.id)).collect();
    let remove = old.difference(&new).map(|k| lookup_key(k, &model.id)).collect();
    (put, remove)
}

/// The model lookups that `items` (a whole table) should hold and do not, each named with the model it would find:
/// an event naming that key would miss the model. For `verify`.
pub(super) fn missing_lookups(items: &[Item]) -> Vec<String> {
    let present: BTreeSet<(&str, &str)> = items
        .iter()
        .filter_map(|item| Some((text(item, PK).ok()?, text(item, SK).ok()?)))
        .filter(|(pk, _)| pk.starts_with("LOOKUP#"))
        .collect();
    let mut missing = Vec::new();
    for item in items.iter().filter(|i| text(i, PK).is_ok_and(|pk| pk.starts_with("MODELS#"))) {
        let Ok(model) = json::<Model>(item, "model") else { continue };
        for lookup in stored_lookup_keys(&model) {
            let (pk, sk) = (schema::lookup_pk(&lookup), schema::model_sk(&model.id));
            if !present.contains(&(pk.as_str(), sk.as_str())) {
                missing.push(format!(
                    "model lookup {lookup} -> {} is missing: events naming it would not find the model (`warden ledger \
                     migrate` restores lookups)",
                    model.id
                ));
            }
        }
    }
    missing
}

impl DynamoLedger {
    /// Models and unreadable ids from model items.
    fn inventory_of(items: &[Item]) -> Result<Inventory, LedgerError> {
        let mut models = Vec::new();
        let mut unreadable = BTreeSet::new();
        for item in items {
            match json::<Model>(item, "model") {
                Ok(model) => models.push(model),
                // One damaged record must not stop every other model's events.
                Err(_) => {
                    unreadable.insert(text(item, SK)?.trim_start_matches("MODEL#").to_owned());
                }
            }
        }
        Ok(Inventory::from_stored(models, unreadable))
    }

    /// Every model: one query per model partition (imports, listings and audits; never the per-event path).
    pub(super) async fn whole_inventory(&self) -> Result<Inventory, LedgerError> {
        let mut items = Vec::new();
        for pk in schema::all_models_pks() {
            items.extend(self.query(pk, Some("MODEL#"), None).await?);
        }
        Self::inventory_of(&items)
    }

    /// The models `resources` can concern: their lookup items, then those models by key.
    pub(super) async fn inventory_by_lookup(&self, resources: &[Resource]) -> Result<Inventory, LedgerError> {
        let mut ids = BTreeSet::new();
        let mut lookups = BTreeSet::new();
        for lookup in resources.iter().flat_map(lookup_keys_for) {
            match lookup.strip_prefix("model:") {
                Some(id) => ids.insert(id.to_owned()),
                None => lookups.insert(lookup),
            };
        }
        for lookup in lookups {
            for item in self.query(schema::lookup_pk(&lookup), Some("MODEL#"), None).await? {
                ids.insert(text(&item, SK)?.trim_start_matches("MODEL#").to_owned());
            }
        }
        let items = self.batch_get(ids.iter().map(|id| model_key(id)).collect()).await?;
        Self::inventory_of(&items)
    }

    /// Writes lookup items (before a commit: new keys; after it: removals). Idempotent.
    pub(super) async fn write_lookups(&self, add: Vec<Item>, remove: Vec<Item>) -> Result<(), LedgerError> {
        let mut requests = Vec::with_capacity(add.len() + remove.len());
        for item in add {
            requests.push(put_request(item)?);
        }
        for item_key in remove {
            requests.push(delete_request(item_key)?);
        }
        self.batch_write(requests).await
    }
}
