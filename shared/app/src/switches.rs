//! Warden's shared switches, kept in the ledger so that one person's decision reaches every function and every
//! `--here` within seconds: today the kill switch. Setting one writes its record and an entry on the `_warden` chain
//! in one commit; reading is cached briefly, so an event does not pay a read for it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use warden_core::breakglass::{KILL_SWITCH_KEY, KillSwitch, Versioned};
use warden_core::ledger::{
    Actor, Commit, CommitOutcome, EntryBody, EventOutcome, LedgerError, NewEntry, RecordWrite, WARDEN_CHAIN,
};
use warden_core::time::Timestamp;

use crate::ledger::Ledger;

/// How long a function trusts the switch it read: the switch reaches every function within this.
pub const SWITCH_CACHE: Duration = Duration::from_secs(5);

/// The stored kill switch, if it was ever set.
pub async fn kill_switch<L: Ledger>(ledger: &L) -> Result<Option<KillSwitch>, LedgerError> {
    let records = ledger.records(&[KILL_SWITCH_KEY.to_owned()]).await?;
    Ok(Versioned::<KillSwitch>::read(&records, KILL_SWITCH_KEY).map_err(LedgerError::Corrupt)?.map(|v| v.value))
}

/// Turns the shared kill switch on or off, by a person, with a reason: the record and a `_warden` chain entry in one
/// commit (conditioned on the version read, so two people cannot both think they set it).
pub async fn set_kill_switch<L: Ledger>(
    ledger: &L,
    on: bool,
    reason: &str,
    by: Actor,
    now: Timestamp,
) -> Result<KillSwitch, LedgerError> {
    if !by.is_human() {
        return Err(LedgerError::Invalid("only a person may set the kill switch".into()));
    }
    if reason.trim().is_empty() {
        return Err(LedgerError::Invalid("a reason is required to set the kill switch".into()));
    }
    let records = ledger.records(&[KILL_SWITCH_KEY.to_owned()]).await?;
    let current = Versioned::<KillSwitch>::read(&records, KILL_SWITCH_KEY).map_err(LedgerError::Corrupt)?;
    let switch = KillSwitch { on, reason: reason.trim().to_owned(), by: by.clone(), at: now };
    let key = format!("switch#kill#{}", current.as_ref().map_or(1, |c| c.version + 1));
    let state = if on { "on" } else { "off" };
    let commit = Commit {
        idempotency_key: key.clone(),
        outcome: EventOutcome { summary: format!("kill switch {state}"), ..EventOutcome::default() },
        entries: vec![NewEntry {
            chain: WARDEN_CHAIN.to_owned(),
            recorded_at: now,
            idempotency_key: key,
            event_id: String::new(),
            source: "warden.switch".into(),
            detail_type: "Warden Kill Switch".into(),
            occurred_at: now,
            model_version: None,
            actor: by,
            reason: switch.reason.clone(),
            body: EntryBody::Switch { name: "kill-switch".into(), on, reason: switch.reason.clone() },
            seals: Vec::new(),
        }],
        records: vec![RecordWrite {
            key: KILL_SWITCH_KEY.to_owned(),
            expected: current.map(|c| c.version),
            value: Some(serde_json::to_value(&switch).map_err(|e| LedgerError::Invalid(e.to_string()))?),
        }],
        ..Commit::default()
    };
    match ledger.commit(commit).await? {
        CommitOutcome::Committed { .. } => Ok(switch),
        CommitOutcome::Duplicate { .. } => Err(LedgerError::Conflict(
            "someone else set the kill switch at the same time; read it and try again".into(),
        )),
    }
}

/// The last switch read and when, so a busy function reads the ledger at most once per [`SWITCH_CACHE`].
#[derive(Debug, Default)]
pub struct CachedSwitch {
    read: Mutex<Option<(Instant, bool)>>,
}

impl CachedSwitch {
    /// Whether the shared kill switch is on, from the cache when it is fresh.
    pub async fn kill_switch_on<L: Ledger>(&self, ledger: &L) -> Result<bool, LedgerError> {
        if let Ok(read) = self.read.lock()
            && let Some((at, on)) = *read
            && at.elapsed() < SWITCH_CACHE
        {
            return Ok(on);
        }
        let on = match kill_switch(ledger).await {
            Ok(switch) => switch.is_some_and(|s| s.on),
            // An unreadable switch fails safe: actions are shadowed, not events lost.
            Err(LedgerError::Corrupt(error)) => {
                tracing::warn!(%error, "the shared kill switch cannot be read: treated as on");
                true
            }
            Err(error) => return Err(error),
        };
        if let Ok(mut read) = self.read.lock() {
            *read = Some((Instant::now(), on));
        }
        Ok(on)
    }
}
