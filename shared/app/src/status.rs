//! `warden status`: a target's state, read from the ledger alone.

use warden_core::action::TargetKind;
use warden_core::breakglass::status::{TargetStatus, assemble, chain, lock};
use warden_core::breakglass::{action_key, change_key, lock_key};
use warden_core::ledger::{LedgerError, UNATTRIBUTED_CHAIN, is_unattributed};
use warden_core::time::Timestamp;

use crate::ledger::Ledger;

/// Reads the target's status from the ledger: the inventory, the lock and last change, the locked action, and
/// the chain that holds the target's history.
pub async fn load<L: Ledger>(
    ledger: &L,
    target: &str,
    kind: TargetKind,
    history_limit: usize,
    now: Timestamp,
) -> Result<TargetStatus, LedgerError> {
    // Only the models the target can name: a status read costs the same with ten models or ten thousand.
    let inventory = ledger.inventory_for(&[kind.resource(target)]).await?;
    let mut records = ledger.records(&[lock_key(target), change_key(target)]).await?;
    if let Some(lock) = lock(target, &records)? {
        records.extend(ledger.records(&[action_key(&lock.request_id)]).await?);
    }
    let chain = chain(&inventory, kind, target);
    let mut entries = Vec::new();
    if is_unattributed(&chain) {
        // A target no model owns: ledgers written before the unattributed chains were spread kept its history
        // on the one `_unattributed` chain.
        entries.extend(ledger.entries(UNATTRIBUTED_CHAIN).await?);
    }
    entries.extend(ledger.entries(&chain).await?);
    assemble(target, kind, &inventory, &records, &entries, history_limit, now)
}
