//! What the ledger keeps for break-glass beside the chains: the action's record, the target's lock, the rate
//! windows, their keys, and the facts the next move is decided from.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::action::{Change, LastChange, Operation, Phase};
use crate::inventory::Model;
use crate::ledger::{Actor, Record};
use crate::time::Timestamp;

use super::BreakGlassRequest;

/// The ledger's record of one action (record key `action#<request id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub request: BreakGlassRequest,
    pub phase: Phase,
    /// The SageMaker call this action makes (or would have made).
    pub change: Option<Change>,
    /// The call that undoes it.
    pub reverse: Option<Change>,
    /// Why it is in this phase (the refusal, the failure, what it waits for).
    pub note: String,
    #[serde(default)]
    pub approved_by: Option<Actor>,
    pub approval_expires_at: Option<Timestamp>,
    /// SageMaker calls made so far (a resume after a crash may call again, after looking).
    pub calls: u32,
    /// Failed because SageMaker returned the endpoint to another config on its own (alerted as critical).
    #[serde(default)]
    pub silent_rollback: bool,
    pub updated_at: Timestamp,
    /// The idempotency key of the transition that wrote this state (its alert's delivery is marked there).
    pub transition_key: String,
}

impl ActionRecord {
    pub fn operation(&self) -> Operation {
        self.request.action
    }
}

/// An endpoint's or package's lock (record key `lock#<target>`): who holds it, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub request_id: String,
    pub expires_at: Timestamp,
    /// How long each step of progress extends it.
    pub hold_minutes: u32,
}

/// Times of recent actions (record keys `window#<target>` and `window#_account`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub times: Vec<Timestamp>,
}

impl Window {
    pub(crate) fn count_since(&self, since: Timestamp) -> usize {
        self.times.iter().filter(|t| **t > since).count()
    }

    pub(crate) fn with(&self, now: Timestamp, keep_since: Timestamp) -> Self {
        let mut times: Vec<Timestamp> = self.times.iter().copied().filter(|t| *t > keep_since).collect();
        times.push(now);
        Self { times }
    }
}

pub fn action_key(request_id: &str) -> String {
    format!("action#{request_id}")
}
pub fn lock_key(target: &str) -> String {
    format!("lock#{target}")
}
pub fn window_key(target: &str) -> String {
    format!("window#{target}")
}
pub const ACCOUNT_WINDOW_KEY: &str = "window#_account";
pub fn change_key(target: &str) -> String {
    format!("change#{target}")
}

/// A record value with the version it was read at.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub version: u64,
    pub value: T,
}

impl<T: serde::de::DeserializeOwned> Versioned<T> {
    pub fn from_record(key: &str, record: &Record) -> Result<Self, String> {
        serde_json::from_value(record.value.clone())
            .map(|value| Self { version: record.version, value })
            .map_err(|e| format!("record {key}: {e}"))
    }

    /// The record under `key` among those read, if there is one.
    pub fn read(records: &BTreeMap<String, Record>, key: &str) -> Result<Option<Self>, String> {
        records.get(key).map(|r| Self::from_record(key, r)).transpose()
    }
}

/// The record of the shared kill switch: set by a person (`warden kill-switch`), read by every function within
/// seconds. It can only add to the deploy-time switch (`WARDEN_KILL_SWITCH`), never lower it.
pub const KILL_SWITCH_KEY: &str = "switch#kill";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitch {
    pub on: bool,
    pub reason: String,
    pub by: Actor,
    pub at: Timestamp,
}

impl KillSwitch {
    /// Whether the stored switch (if any) is on. One that cannot be read fails safe: on.
    pub fn is_on(records: &BTreeMap<String, Record>) -> bool {
        Versioned::<KillSwitch>::read(records, KILL_SWITCH_KEY).map_or(true, |s| s.is_some_and(|s| s.value.on))
    }
}

/// Everything the ledger holds that the next move depends on.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub record: Option<Versioned<ActionRecord>>,
    pub lock: Option<Versioned<Lock>>,
    pub target_window: Option<Versioned<Window>>,
    pub account_window: Option<Versioned<Window>>,
    pub last_change: Option<Versioned<LastChange>>,
    /// The model that owns the target, if the inventory knows it.
    pub model: Option<Model>,
    /// The shared kill switch is on.
    pub kill_switch: bool,
}

impl Facts {
    /// The record keys to read for a request on `target`.
    pub fn keys(request_id: &str, target: &str) -> Vec<String> {
        vec![
            action_key(request_id),
            lock_key(target),
            window_key(target),
            ACCOUNT_WINDOW_KEY.to_owned(),
            change_key(target),
            KILL_SWITCH_KEY.to_owned(),
        ]
    }

    pub fn from_records(
        request_id: &str,
        target: &str,
        records: &BTreeMap<String, Record>,
        model: Option<Model>,
    ) -> Result<Self, String> {
        Ok(Self {
            record: Versioned::read(records, &action_key(request_id))?,
            lock: Versioned::read(records, &lock_key(target))?,
            target_window: Versioned::read(records, &window_key(target))?,
            account_window: Versioned::read(records, ACCOUNT_WINDOW_KEY)?,
            last_change: Versioned::read(records, &change_key(target))?,
            model,
            kill_switch: KillSwitch::is_on(records),
        })
    }
}
