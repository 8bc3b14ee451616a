//! Ingest: one event (or an inventory file) through the pure pipeline and into a ledger, re-planning when another
//! writer moved what the plan was based on.

use std::collections::BTreeMap;

use serde_json::Value;
use warden_core::action::LastChange;
use warden_core::breakglass::{Versioned, change_key};
use warden_core::engine::{
    Report, describe_model, duplicate_report, envelope_fields, inventory_lookup, plan_commit, plan_rejection,
    prepare_signal,
};
use warden_core::event::{self, DecodeError};
use warden_core::ledger::{Actor, Commit, CommitOutcome, EntryBody, EventOutcome, LedgerError, NewEntry};
use warden_core::placement::Placement;
use warden_core::policy::Policy;
use warden_core::signal::Signal;
use warden_core::time::Timestamp;

use crate::ledger::Ledger;

/// How many models one import commit holds: each writes its record, an entry and its chain's head, and a
/// DynamoDB transaction takes at most 100 items (the marker is one more).
pub const IMPORT_MODELS_PER_COMMIT: usize = 25;

/// How often an event is re-planned after write conflicts before the conflict is returned (as retryable).
pub const MAX_CONFLICT_RETRIES: u32 = 20;

/// Runs the pipeline against a ledger.
#[derive(Debug)]
pub struct Engine<L> {
    ledger: L,
    policy: Policy,
    actor: Actor,
    /// The shared kill switch, read at most every few seconds.
    switch: crate::switches::CachedSwitch,
    /// Where models with no account or region run (unknown: they match events from anywhere).
    home: Placement,
}

impl<L: Ledger> Engine<L> {
    pub fn new(ledger: L, policy: Policy, actor: Actor) -> Self {
        Self { ledger, policy, actor, switch: crate::switches::CachedSwitch::default(), home: Placement::default() }
    }

    /// Governs from `home`: models with no account or region run there, and events from elsewhere never reach
    /// them.
    #[must_use]
    pub fn with_home(mut self, home: Placement) -> Self {
        self.home = home;
        self
    }

    pub fn ledger(&self) -> &L {
        &self.ledger
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Ingests raw bytes: one JSON event.
    pub async fn ingest_bytes(&self, body: &[u8], recorded_at: Timestamp) -> Result<Report, LedgerError> {
        match serde_json::from_slice::<Value>(body) {
            Ok(value) => self.ingest_value(value, body, recorded_at).await,
            Err(e) => self.reject(&DecodeError::NotJson(e.to_string()), body, &Value::Null, recorded_at).await,
        }
    }

    /// Ingests a parsed event; `body` is its original bytes (only digested, for rejections).
    pub async fn ingest_value(&self, value: Value, body: &[u8], recorded_at: Timestamp) -> Result<Report, LedgerError> {
        let envelope = envelope_fields(&value);
        let event = match event::decode_value(value, recorded_at) {
            Ok(event) => event,
            Err(error) => return self.reject(&error, body, &envelope, recorded_at).await,
        };
        let signal = Signal::from_event_at(&event, &self.home);
        if let Some(what) = signal.oversized() {
            let error = DecodeError::Malformed {
                detail_type: event.detail_type.clone(),
                path: "detail".into(),
                message: format!(
                    "{what} longer than {} characters, which no AWS name or id is",
                    warden_core::signal::MAX_RESOURCE_CHARS
                ),
            };
            return self.reject(&error, body, &envelope, recorded_at).await;
        }
        // A redelivery (at-least-once delivery makes them common) costs one read: its marker.
        if let Some(original) = self.ledger.outcome(&signal.idempotency_key).await? {
            return Ok(duplicate_report(&event, &signal, original));
        }
        // Decisions depend on what the ledger holds; if another writer changes it between our read and our
        // commit, re-read and decide again rather than commit a stale plan.
        let lookup = inventory_lookup(&event, &signal);
        let mut attempt = 0;
        loop {
            let inventory = self.ledger.inventory_for(&lookup).await?;
            let prepared = prepare_signal(event.clone(), signal.clone(), inventory, &self.home);
            let query = prepared.fact_query();
            let mut context = self.ledger.facts(&query).await?;
            context.kill_switch = self.switch.kill_switch_on(&self.ledger).await?;
            if prepared.signal.may_report_warden_change() {
                context.warden_changes = self.warden_changes(&query.targets).await?;
            }
            let (commit, report) = plan_commit(prepared, &self.policy, &context, &self.actor, recorded_at);
            match self.commit(commit, report, &event, &signal).await {
                Err(LedgerError::Conflict(_)) if attempt < MAX_CONFLICT_RETRIES => {
                    attempt += 1;
                    self.ledger.pause_before_retry(attempt).await;
                }
                other => return other,
            }
        }
    }

    /// Warden's last break-glass change to each of `targets` (the `change#<target>` records).
    async fn warden_changes(&self, targets: &[String]) -> Result<BTreeMap<String, LastChange>, LedgerError> {
        let keys: Vec<String> = targets.iter().map(|t| change_key(t)).collect();
        let records = self.ledger.records(&keys).await?;
        let mut changes = BTreeMap::new();
        for (target, key) in targets.iter().zip(&keys) {
            if let Some(change) = Versioned::<LastChange>::read(&records, key).map_err(LedgerError::Corrupt)? {
                changes.insert(target.clone(), change.value);
            }
        }
        Ok(changes)
    }

    /// Records an input that cannot be processed (once per body) and reports it rejected.
    pub async fn reject(
        &self,
        error: &DecodeError,
        body: &[u8],
        envelope: &Value,
        recorded_at: Timestamp,
    ) -> Result<Report, LedgerError> {
        let (commit, report) = plan_rejection(error, body, &self.actor, recorded_at, envelope);
        // A rejected input stays rejected on every delivery; the ledger keeps one record of it, and a redelivery
        // costs the read of its marker.
        if self.ledger.outcome(&commit.idempotency_key).await?.is_none() {
            self.ledger.commit(commit).await?;
        }
        Ok(report)
    }

    /// Commits a plan; a delivery that raced another to the ledger reports what the first decided, as the marker
    /// read before planning does.
    async fn commit(
        &self,
        commit: Commit,
        report: Report,
        event: &event::Event,
        signal: &Signal,
    ) -> Result<Report, LedgerError> {
        match self.ledger.commit(commit).await? {
            CommitOutcome::Committed { .. } => Ok(report),
            CommitOutcome::Duplicate { original } => Ok(duplicate_report(event, signal, original)),
        }
    }

    /// Merges an inventory file into the ledger's inventory, recording each changed model on its chain.
    pub async fn import_inventory(
        &self,
        file: &warden_core::inventory::InventoryFile,
        file_digest: &str,
        recorded_at: Timestamp,
    ) -> Result<ImportResult, LedgerError> {
        let mut attempt = 0;
        loop {
            match self.import_once(file, file_digest, recorded_at).await {
                Err(LedgerError::Conflict(_)) if attempt < MAX_CONFLICT_RETRIES => {
                    attempt += 1;
                    self.ledger.pause_before_retry(attempt).await;
                }
                other => return other,
            }
        }
    }

    /// One pass of an import: the models the file changes, committed [`IMPORT_MODELS_PER_COMMIT`] at a time. Each
    /// commit is keyed by the file and the models it holds, so a pass interrupted part-way resumes by importing
    /// again: the models already imported no longer change, and the rest form new commits.
    async fn import_once(
        &self,
        file: &warden_core::inventory::InventoryFile,
        file_digest: &str,
        recorded_at: Timestamp,
    ) -> Result<ImportResult, LedgerError> {
        let mut inventory = self.ledger.inventory().await?;
        let file = file.relative_to(&self.home).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        let changed: Vec<String> = inventory.import(&file).into_iter().collect();
        let models = inventory.len();
        let mut imported = Vec::new();
        for ids in changed.chunks(IMPORT_MODELS_PER_COMMIT) {
            let key = format!(
                "inventory-import#{file_digest}#{}",
                &warden_core::digest::content_digest(ids.join("\n").as_bytes())[..16]
            );
            let entries = ids
                .iter()
                .map(|id| NewEntry {
                    chain: id.clone(),
                    recorded_at,
                    idempotency_key: key.clone(),
                    event_id: String::new(),
                    source: "warden.inventory".into(),
                    detail_type: "Inventory Import".into(),
                    occurred_at: recorded_at,
                    model_version: None,
                    actor: self.actor.clone(),
                    reason: format!("inventory file sha256:{file_digest}"),
                    body: EntryBody::Inventory { summary: describe_model(inventory.get(id)) },
                    // The record this import writes, bound to the model's chain (see `verify`).
                    seals: inventory
                        .get(id)
                        .and_then(|m| warden_core::ledger::StateSeal::of_model(m).ok())
                        .into_iter()
                        .collect(),
                })
                .collect();
            let commit = Commit {
                idempotency_key: key,
                outcome: EventOutcome {
                    models: ids.to_vec(),
                    summary: "inventory import".into(),
                    ..EventOutcome::default()
                },
                entries,
                models: ids.iter().filter_map(|id| inventory.get(id).cloned()).collect(),
                ..Commit::default()
            };
            if let CommitOutcome::Committed { .. } = self.ledger.commit(commit).await? {
                imported.extend(ids.iter().cloned());
            }
        }
        Ok(ImportResult { changed: imported, models })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportResult {
    pub changed: Vec<String>,
    pub models: usize,
}
