//! `warden status`: what an on-call engineer needs to know about one endpoint or model package before acting.
//! What the inventory says runs there, what Warden is doing to it now, what `restore` would undo, and what was
//! done lately. Read from the ledger only, so it works on the embedded ledger and without SageMaker access.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{ActionRecord, Lock, Versioned, action_key, change_key, lock_key};
use crate::action::{LastChange, Operation, Phase, TargetKind};
use crate::inventory::{Inventory, Model};
use crate::ledger::{Actor, Entry, EntryBody, LedgerError, Record, unattributed_chain};
use crate::time::Timestamp;

/// The model that owns a target, as the inventory knows it.
pub fn owning_model<'a>(inventory: &'a Inventory, kind: TargetKind, target: &str) -> Option<&'a Model> {
    inventory.models().find(|m| m.owns_target(kind, target))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelBrief {
    pub id: String,
    pub risk: Option<String>,
    pub owner: Option<String>,
}

/// The action holding the target's lock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InFlight {
    pub request_id: String,
    /// These are `None` when the lock names an action the ledger has no record of (shown, not hidden).
    pub operation: Option<Operation>,
    pub phase: Option<Phase>,
    pub note: Option<String>,
    pub requested_by: Option<Actor>,
    pub requested_at: Option<Timestamp>,
    pub approval_expires_at: Option<Timestamp>,
    pub lock_expires_at: Timestamp,
    /// The lock is past its expiry: the next request may take it over.
    pub lock_expired: bool,
}

/// One phase of a past or present action, from the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryItem {
    pub recorded_at: Timestamp,
    pub request_id: String,
    pub operation: Operation,
    pub phase: Phase,
    pub actor: Actor,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetStatus {
    pub target: String,
    pub kind: TargetKind,
    /// `None`: no model in the inventory owns the target.
    pub model: Option<ModelBrief>,
    /// Endpoints: the config the inventory last saw InService, and the one a rollback without `--config` uses.
    pub current_config: Option<String>,
    pub last_known_good: Option<String>,
    /// Model packages: the approval the inventory last saw (a package group: its newest version's).
    pub approval: Option<String>,
    pub in_flight: Option<InFlight>,
    /// Warden's last change to the target: what `restore` (or `release`) undoes.
    pub last_change: Option<LastChange>,
    /// The most recent phases, newest first.
    pub history: Vec<HistoryItem>,
}

impl TargetStatus {
    /// Warden knows nothing of the target: no model owns it and it has no break-glass record or history (usually
    /// a misspelt name, or the wrong ledger).
    pub fn is_unknown(&self) -> bool {
        self.model.is_none() && self.in_flight.is_none() && self.last_change.is_none() && self.history.is_empty()
    }
}

/// The chain that holds the target's history.
pub fn chain(inventory: &Inventory, kind: TargetKind, target: &str) -> String {
    owning_model(inventory, kind, target).map_or_else(|| unattributed_chain(target), |m| m.id.clone())
}

/// The lock on the target, if any (to find the action record to read next).
pub fn lock(target: &str, records: &BTreeMap<String, Record>) -> Result<Option<Lock>, LedgerError> {
    read(records, &lock_key(target))
}

fn read<T: serde::de::DeserializeOwned>(
    records: &BTreeMap<String, Record>,
    key: &str,
) -> Result<Option<T>, LedgerError> {
    Ok(Versioned::<T>::read(records, key).map_err(LedgerError::Corrupt)?.map(|v| v.value))
}

/// Puts the status together from what was read: the inventory, the target's records (lock, last change and the
/// locked action), and the entries of its chain.
pub fn assemble(
    target: &str,
    kind: TargetKind,
    inventory: &Inventory,
    records: &BTreeMap<String, Record>,
    chain_entries: &[Entry],
    history_limit: usize,
    now: Timestamp,
) -> Result<TargetStatus, LedgerError> {
    let model = owning_model(inventory, kind, target);
    let endpoint = model.filter(|_| kind == TargetKind::Endpoint).and_then(|m| m.endpoint(target));
    let approval = match kind {
        TargetKind::Endpoint => None,
        TargetKind::ModelPackage => model.and_then(|m| {
            m.package_versions.iter().find(|p| p.arn == target).or_else(|| m.latest_package()).map(|p| p.approval)
        }),
    };
    let in_flight = match lock(target, records)? {
        Some(lock) => {
            let action: Option<ActionRecord> = read(records, &action_key(&lock.request_id))?;
            // A lock left on a finished action guards nothing; only an unfinished one is in flight.
            if action.as_ref().is_some_and(|a| a.phase.is_terminal()) {
                None
            } else {
                Some(InFlight {
                    operation: action.as_ref().map(ActionRecord::operation),
                    phase: action.as_ref().map(|a| a.phase),
                    note: action.as_ref().map(|a| a.note.clone()),
                    requested_by: action.as_ref().map(|a| a.request.requested_by.clone()),
                    requested_at: action.as_ref().map(|a| a.request.requested_at),
                    approval_expires_at: action.as_ref().and_then(|a| a.approval_expires_at),
                    lock_expired: lock.expires_at <= now,
                    lock_expires_at: lock.expires_at,
                    request_id: lock.request_id,
                })
            }
        }
        None => None,
    };
    let mut history: Vec<HistoryItem> = chain_entries
        .iter()
        .filter_map(|entry| match &entry.entry.body {
            EntryBody::BreakGlass { request_id, operation, target: t, phase, note, .. } if t == target => {
                Some(HistoryItem {
                    recorded_at: entry.entry.recorded_at,
                    request_id: request_id.clone(),
                    operation: *operation,
                    phase: *phase,
                    actor: entry.entry.actor.clone(),
                    note: note.clone(),
                })
            }
            _ => None,
        })
        .collect();
    history.reverse();
    history.truncate(history_limit);
    Ok(TargetStatus {
        target: target.to_owned(),
        kind,
        model: model.map(|m| ModelBrief {
            id: m.id.clone(),
            risk: m.risk.map(|r| r.as_str().to_owned()),
            owner: m.owner.clone(),
        }),
        current_config: endpoint.and_then(|e| e.current_config.clone()),
        last_known_good: endpoint.and_then(|e| e.last_known_good().map(str::to_owned)),
        approval: approval.map(|a| a.to_string()),
        in_flight,
        last_change: read(records, &change_key(target))?,
        history,
    })
}
