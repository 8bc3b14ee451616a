//! The ledger port: what the use cases need from storage, and `verify`, which walks any ledger. The embedded
//! (`warden-embedded`) and DynamoDB (`warden-aws`) adapters implement it and pass one conformance suite
//! (`conformance`, behind the feature of that name).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use warden_core::anchor::{LedgerDigest, check_chain_against, recorded_chains};
use warden_core::inventory::Inventory;
use warden_core::ledger::{
    Commit, CommitOutcome, Entry, EventOutcome, FactQuery, Head, LedgerError, MarkItem, Problem, Record, StateAudit,
    StateSeal, VerifyFailure, VerifyReport, verify_chain_between,
};
use warden_core::policy::DecisionContext;
use warden_core::resource::Resource;
use warden_core::time::Timestamp;

/// The ledger port. Futures are `Send` so adapters work in multi-threaded Lambda runtimes.
pub trait Ledger {
    /// Commits atomically, or reports a duplicate idempotency key and writes nothing.
    fn commit(&self, commit: Commit) -> impl Future<Output = Result<CommitOutcome, LedgerError>> + Send;
    /// The whole model inventory.
    fn inventory(&self) -> impl Future<Output = Result<Inventory, LedgerError>> + Send;
    /// The models `resources` may concern (at least those; the whole inventory is a correct answer): what one
    /// event reads, so an adapter that indexes its inventory makes the cost of an event independent of the
    /// number of models.
    fn inventory_for(&self, resources: &[Resource]) -> impl Future<Output = Result<Inventory, LedgerError>> + Send {
        let _ = resources;
        self.inventory()
    }
    /// Open data findings of the models and last action times of the targets.
    fn facts(&self, query: &FactQuery) -> impl Future<Output = Result<DecisionContext, LedgerError>> + Send;
    /// Every chain id, sorted.
    fn chains(&self) -> impl Future<Output = Result<Vec<String>, LedgerError>> + Send;
    /// A chain's entries in storage order (by sequence number).
    fn entries(&self, chain: &str) -> impl Future<Output = Result<Vec<Entry>, LedgerError>> + Send;
    /// A chain's head as stored.
    fn head(&self, chain: &str) -> impl Future<Output = Result<Option<Head>, LedgerError>> + Send;
    /// Records that an effect of the event with this idempotency key was delivered (idempotent).
    fn mark_delivered(
        &self,
        idempotency_key: &str,
        effect: &str,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;
    /// The records stored under `keys` (absent keys are left out).
    fn records(&self, keys: &[String]) -> impl Future<Output = Result<BTreeMap<String, Record>, LedgerError>> + Send;
    /// What the event with this idempotency key led to, with the effects delivered so far.
    fn outcome(&self, idempotency_key: &str) -> impl Future<Output = Result<Option<EventOutcome>, LedgerError>> + Send;
    /// The seals of these marks and findings as stored now (absent: not stored), for `verify` to compare with
    /// the seals the chains carry.
    fn stored_marks(
        &self,
        items: &[MarkItem],
    ) -> impl Future<Output = Result<BTreeMap<MarkItem, StateSeal>, LedgerError>> + Send;
    /// One read of all the stored state beside the chains (idempotency markers, records, action and alert marks,
    /// chain heads, and any index the adapter keeps): what cannot be read, one sentence each naming the item, and
    /// the cooldown and alert marks that are none of `sealed_marks`. Reads everything, so it is for audits, not
    /// for the per-event path.
    fn audit_state(
        &self,
        sealed_marks: &BTreeSet<MarkItem>,
    ) -> impl Future<Output = Result<StateAudit, LedgerError>> + Send;
    /// Waits before the engine re-plans after a [`LedgerError::Conflict`] (attempt 1, 2, ...). Adapters that can
    /// conflict back off with jitter; a single-writer store never conflicts and need not wait.
    fn pause_before_retry(&self, attempt: u32) -> impl Future<Output = ()> + Send {
        let _ = attempt;
        async {}
    }
}

/// A shared reference is a ledger too, so one ledger can serve the engine and break-glass side by side.
impl<L: Ledger + Sync> Ledger for &L {
    fn commit(&self, commit: Commit) -> impl Future<Output = Result<CommitOutcome, LedgerError>> + Send {
        (**self).commit(commit)
    }
    fn inventory(&self) -> impl Future<Output = Result<Inventory, LedgerError>> + Send {
        (**self).inventory()
    }
    fn inventory_for(&self, resources: &[Resource]) -> impl Future<Output = Result<Inventory, LedgerError>> + Send {
        (**self).inventory_for(resources)
    }
    fn facts(&self, query: &FactQuery) -> impl Future<Output = Result<DecisionContext, LedgerError>> + Send {
        (**self).facts(query)
    }
    fn chains(&self) -> impl Future<Output = Result<Vec<String>, LedgerError>> + Send {
        (**self).chains()
    }
    fn entries(&self, chain: &str) -> impl Future<Output = Result<Vec<Entry>, LedgerError>> + Send {
        (**self).entries(chain)
    }
    fn head(&self, chain: &str) -> impl Future<Output = Result<Option<Head>, LedgerError>> + Send {
        (**self).head(chain)
    }
    fn mark_delivered(
        &self,
        idempotency_key: &str,
        effect: &str,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send {
        (**self).mark_delivered(idempotency_key, effect)
    }
    fn records(&self, keys: &[String]) -> impl Future<Output = Result<BTreeMap<String, Record>, LedgerError>> + Send {
        (**self).records(keys)
    }
    fn outcome(&self, idempotency_key: &str) -> impl Future<Output = Result<Option<EventOutcome>, LedgerError>> + Send {
        (**self).outcome(idempotency_key)
    }
    fn stored_marks(
        &self,
        items: &[MarkItem],
    ) -> impl Future<Output = Result<BTreeMap<MarkItem, StateSeal>, LedgerError>> + Send {
        (**self).stored_marks(items)
    }
    fn audit_state(
        &self,
        sealed_marks: &BTreeSet<MarkItem>,
    ) -> impl Future<Output = Result<StateAudit, LedgerError>> + Send {
        (**self).audit_state(sealed_marks)
    }
    fn pause_before_retry(&self, attempt: u32) -> impl Future<Output = ()> + Send {
        (**self).pause_before_retry(attempt)
    }
}

/// Every seal of each record, by item: the commit's time, the version, the digest (or deletion), and the chain
/// and position that carry it.
type RecordSeals = BTreeMap<String, Vec<RecordSeal>>;

#[derive(Debug, Clone)]
struct RecordSeal {
    at: i64,
    version: u64,
    sha256: String,
    chain: String,
    seq: u64,
}

/// Every seal of each mark and finding: the commit's time and the seal's place in its entry (a finding's order),
/// the mark's time (its version), the digest, and the chain and position that carry it.
type MarkSeals = BTreeMap<MarkItem, Vec<MarkSeal>>;

#[derive(Debug, Clone)]
struct MarkSeal {
    at: (i64, usize),
    version: Option<u64>,
    sha256: String,
    chain: String,
    seq: u64,
}

/// The seals of the state beside the chains that the walk collected.
#[derive(Debug, Default)]
struct Sealed {
    records: RecordSeals,
    marks: MarkSeals,
}

impl Sealed {
    /// Takes in the record, mark and finding seals an entry carries.
    fn collect(&mut self, chain: &str, entry: &Entry) {
        let at = entry.entry.recorded_at.millis();
        for (index, seal) in entry.entry.seals.iter().enumerate() {
            if let Some(item) = MarkItem::parse(&seal.item) {
                let sealed = MarkSeal {
                    at: (at, index),
                    version: seal.version,
                    sha256: seal.sha256.clone(),
                    chain: chain.to_owned(),
                    seq: entry.seq,
                };
                self.marks.entry(item).or_default().push(sealed);
                continue;
            }
            let Some(version) = seal.version.filter(|_| seal.item.starts_with("record:")) else { continue };
            let sealed =
                RecordSeal { at, version, sha256: seal.sha256.clone(), chain: chain.to_owned(), seq: entry.seq };
            self.records.entry(seal.item.clone()).or_default().push(sealed);
        }
    }
}

fn unreadable_state(what: &str, error: &LedgerError) -> VerifyFailure {
    VerifyFailure {
        chain: "state".into(),
        position: 0,
        problem: Problem::Unreadable { error: format!("{what}: {error}") },
    }
}

/// Each sealed record must be one of the states the chains sealed. A stored record must match a seal of its own
/// version (versions restart at 1 when a record is created again after a deletion, so a version says which seals
/// to compare with, not which is the latest); an absent one must have been deleted by its latest write, the one
/// with the latest commit time and then version. An edit (a breaker window reset, a lock taken over, the kill
/// switch turned off), a deletion or a re-creation outside Warden is named.
async fn record_problems<L: Ledger>(ledger: &L, sealed: &RecordSeals) -> Result<Vec<VerifyFailure>, LedgerError> {
    let keys: Vec<String> = sealed.keys().map(|item| item.trim_start_matches("record:").to_owned()).collect();
    let records = match ledger.records(&keys).await {
        Ok(records) => records,
        Err(error @ LedgerError::Unavailable(_)) => return Err(error),
        Err(error) => return Ok(vec![unreadable_state("records", &error)]),
    };
    let mut problems = Vec::new();
    for (item, seals) in sealed {
        let Some(latest) = seals.iter().max_by_key(|s| (s.at, s.version)) else { continue };
        let problem = match records.get(item.trim_start_matches("record:")) {
            None if latest.sha256 == StateSeal::DELETED => continue,
            None => Problem::StateDeleted { item: item.clone() },
            Some(record) => {
                let digest = StateSeal::record_digest(record)?;
                if seals.iter().any(|s| s.version == record.version && s.sha256 == digest) {
                    continue;
                }
                Problem::StateEdited { item: item.clone() }
            }
        };
        problems.push(VerifyFailure { chain: latest.chain.clone(), position: latest.seq, problem });
    }
    Ok(problems)
}

/// Each sealed mark and finding must be as the chains last left it. A mark only moves forward (each commit keeps
/// the later of the stored time and its own), so the stored one is the seal with the latest time, whichever commit
/// landed last: a cooldown pushed into the future (no containment for days), an alert window moved (a page
/// silenced) or a mark deleted is named. A finding is open or closed as its latest seal says: an open finding
/// deleted (a model it gates could deploy) or a closed one re-opened is named.
async fn mark_problems<L: Ledger>(ledger: &L, sealed: &MarkSeals) -> Result<Vec<VerifyFailure>, LedgerError> {
    let items: Vec<MarkItem> = sealed.keys().cloned().collect();
    let stored = match ledger.stored_marks(&items).await {
        Ok(stored) => stored,
        Err(error @ LedgerError::Unavailable(_)) => return Err(error),
        Err(error) => return Ok(vec![unreadable_state("marks and findings", &error)]),
    };
    // A mark an earlier Warden stored unsealed, newer than every seal since, keeps its time; it can only be that
    // if its time is before this ledger's first commit that sealed any mark (moved later by hand, it is named).
    let sealing_began = sealing_began(sealed);
    let mut problems = Vec::new();
    for (item, seals) in sealed {
        let stored = stored.get(item);
        let problem = match item {
            MarkItem::Finding { .. } => {
                let Some(latest) = seals.iter().max_by_key(|s| s.at) else { continue };
                match (latest.sha256 == StateSeal::OPEN, stored) {
                    (true, None) => Some((latest, Problem::StateDeleted { item: item.item() })),
                    (false, Some(_)) => Some((latest, Problem::StateEdited { item: item.item() })),
                    _ => None,
                }
            }
            MarkItem::Action(_) | MarkItem::Alert(_) => {
                let Some(latest) = seals.iter().max_by_key(|s| (s.version, s.at)) else { continue };
                match stored {
                    None => Some((latest, Problem::StateDeleted { item: item.item() })),
                    Some(now)
                        if now.version == latest.version
                            && seals.iter().any(|s| s.version == now.version && s.sha256 == now.sha256) =>
                    {
                        None
                    }
                    Some(now) if now.version > latest.version && now.version < sealing_began => None,
                    Some(_) => Some((latest, Problem::StateEdited { item: item.item() })),
                }
            }
        };
        if let Some((latest, problem)) = problem {
            problems.push(VerifyFailure { chain: latest.chain.clone(), position: latest.seq, problem });
        }
    }
    Ok(problems)
}

/// When this ledger's commits began sealing marks: the earliest commit time of any mark seal.
fn sealing_began(sealed: &MarkSeals) -> Option<u64> {
    sealed.values().flatten().map(|s| s.at.0).min().and_then(|t| u64::try_from(t).ok())
}

async fn sealed_problems<L: Ledger>(ledger: &L, sealed: &Sealed) -> Result<Vec<VerifyFailure>, LedgerError> {
    let mut problems = record_problems(ledger, &sealed.records).await?;
    problems.extend(mark_problems(ledger, &sealed.marks).await?);
    Ok(problems)
}

/// Takes in the seals of entries appended since the walk; whether there were any.
async fn collect_appended<L: Ledger>(
    ledger: &L,
    sealed: &mut Sealed,
    walked: &mut BTreeMap<String, u64>,
) -> Result<bool, LedgerError> {
    let mut moved = false;
    for chain in ledger.chains().await? {
        let seen = walked.get(&chain).copied().unwrap_or(0);
        if ledger.head(&chain).await?.is_some_and(|h| h.seq <= seen) {
            continue;
        }
        let Ok(entries) = ledger.entries(&chain).await else { continue };
        for entry in entries.iter().filter(|e| e.seq > seen) {
            sealed.collect(&chain, entry);
            moved = true;
        }
        walked.insert(chain, entries.last().map_or(seen, |e| e.seq));
    }
    Ok(moved)
}

/// [`sealed_problems`], allowing for writers that committed while the chains were walked: a record or mark newer
/// than every seal the walk saw is checked again with the seals appended since (up to three times while the chains
/// keep moving), so a live ledger does not look tampered with. Returns the seals it ended with.
async fn sealed_problems_settled<L: Ledger>(
    ledger: &L,
    mut sealed: Sealed,
    walked: &mut BTreeMap<String, u64>,
) -> Result<(Vec<VerifyFailure>, Sealed), LedgerError> {
    let mut problems = sealed_problems(ledger, &sealed).await?;
    for _ in 0..3 {
        if problems.is_empty() || !collect_appended(ledger, &mut sealed, walked).await? {
            break;
        }
        problems = sealed_problems(ledger, &sealed).await?;
    }
    Ok((problems, sealed))
}

/// The stored state beside the chains, read once: what cannot be read, and the marks no commit sealed. Such a mark
/// is an earlier Warden's when dated before this ledger began sealing marks, and otherwise added by hand (an
/// alert mark in the future for a key that never paged silences it), unless a writer sealed it while verify ran:
/// those are looked for once more.
async fn state_audit_problems<L: Ledger>(
    ledger: &L,
    mut sealed: Sealed,
    walked: &mut BTreeMap<String, u64>,
) -> Result<Vec<VerifyFailure>, LedgerError> {
    let state = |problem| VerifyFailure { chain: "state".into(), position: 0, problem };
    let mut audit = ledger.audit_state(&sealed.marks.keys().cloned().collect()).await?;
    let added = |audit: &StateAudit, began: Option<u64>| -> Vec<String> {
        let Some(began) = began else { return Vec::new() };
        let after = |at: &Timestamp| u64::try_from(at.millis()).is_ok_and(|at| at >= began);
        audit.unsealed_marks.iter().filter(|(_, at)| after(at)).map(|(item, _)| item.clone()).collect()
    };
    let mut suspects = added(&audit, sealing_began(&sealed.marks));
    if !suspects.is_empty() && collect_appended(ledger, &mut sealed, walked).await? {
        audit = ledger.audit_state(&sealed.marks.keys().cloned().collect()).await?;
        suspects = added(&audit, sealing_began(&sealed.marks));
    }
    let mut problems: Vec<VerifyFailure> =
        audit.unreadable.into_iter().map(|error| state(Problem::Unreadable { error })).collect();
    problems.extend(suspects.into_iter().map(|item| state(Problem::StateAdded { item })));
    Ok(problems)
}

/// Walks every chain and reports, per chain, the first entry that does not verify. A chain or inventory record
/// that cannot be read is reported and the walk goes on: one damaged item never hides the state of the rest.
/// Only a ledger that cannot be reached at all is an error.
pub async fn verify<L: Ledger>(ledger: &L) -> Result<VerifyReport, LedgerError> {
    verify_anchored(ledger, &[]).await
}

/// [`verify`], and each chain against the heads that trusted signed digests recorded (see `crate::anchor`): the
/// chains' own hashes catch an edit, the digests catch an edit whose hashes were recomputed.
pub async fn verify_anchored<L: Ledger>(ledger: &L, digests: &[LedgerDigest]) -> Result<VerifyReport, LedgerError> {
    let mut report = VerifyReport {
        digests: digests.len(),
        anchored_at: digests.iter().map(|d| d.written_at).max(),
        ..VerifyReport::default()
    };
    let mut unanchored = recorded_chains(digests);
    let unreadable = |chain: &str, error: LedgerError| VerifyFailure {
        chain: chain.to_owned(),
        position: 0,
        problem: Problem::Unreadable { error: error.to_string() },
    };
    // Every event that wrote entries left its idempotency marker: the first entry of each event, to check below.
    let mut events: BTreeMap<String, (String, u64)> = BTreeMap::new();
    // What each event's marker was sealed as (its outcome), by idempotency key.
    let mut marker_seals: BTreeMap<String, String> = BTreeMap::new();
    // The last seal each chain holds for a state item (a model record): what that item must still be.
    let mut seals: BTreeMap<String, (String, u64, String)> = BTreeMap::new();
    // Records (break-glass state, locks, breaker windows, the kill switch), marks and findings, by every seal the
    // chains hold.
    let mut sealed = Sealed::default();
    // How far each chain was walked: state written after it is checked against what was appended since.
    let mut walked: BTreeMap<String, u64> = BTreeMap::new();
    for chain in ledger.chains().await? {
        report.chains += 1;
        unanchored.remove(chain.as_str());
        // The head, then the entries, then the head again: writers may append meanwhile (see
        // `verify_chain_between`), and a live ledger must not look tampered with.
        let read = async {
            let before = ledger.head(&chain).await?;
            let entries = ledger.entries(&chain).await?;
            let appended = entries.len() as u64 > before.as_ref().map_or(0, |h| h.seq);
            let after = if appended { ledger.head(&chain).await? } else { before.clone() };
            Ok::<_, LedgerError>((entries, before, after))
        };
        match read.await {
            Ok((entries, before, after)) => {
                report.entries += entries.len();
                for entry in &entries {
                    events.entry(entry.entry.idempotency_key.clone()).or_insert_with(|| (chain.clone(), entry.seq));
                    if let Some(seal) = entry.entry.seals.iter().find(|s| s.item == StateSeal::MARKER) {
                        marker_seals.insert(entry.entry.idempotency_key.clone(), seal.sha256.clone());
                    }
                    sealed.collect(&chain, entry);
                    for seal in entry.entry.seals.iter().filter(|s| s.item.starts_with("model:")) {
                        seals.insert(seal.item.clone(), (chain.clone(), entry.seq, seal.sha256.clone()));
                    }
                }
                walked.insert(chain.clone(), entries.last().map_or(0, |e| e.seq));
                if let Some(failure) = verify_chain_between(&chain, &entries, before.as_ref(), after.as_ref())? {
                    report.failures.push(failure);
                } else if let Some(failure) = check_chain_against(&chain, &entries, digests) {
                    report.failures.push(failure);
                }
            }
            Err(error @ LedgerError::Unavailable(_)) => return Err(error),
            Err(error) => report.failures.push(unreadable(&chain, error)),
        }
    }
    // Chains a digest recorded that the ledger no longer lists: deleted whole.
    for (chain, digest) in unanchored {
        let seq = digests.iter().rev().find_map(|d| d.heads.get(chain)).map_or(0, |h| h.seq);
        report.failures.push(VerifyFailure {
            chain: chain.to_owned(),
            position: 0,
            problem: Problem::DigestBeyond { digest, seq },
        });
    }
    for (key, (chain, seq)) in events {
        match ledger.outcome(&key).await {
            // Edited outside Warden (actions or an alert taken out, so a retry would not send them)?
            Ok(Some(outcome)) => {
                let sealed = marker_seals.get(&key);
                if sealed.is_some_and(|sha256| StateSeal::of_marker(&outcome).is_ok_and(|s| s.sha256 != *sha256)) {
                    report.failures.push(VerifyFailure {
                        chain,
                        position: seq,
                        problem: Problem::StateEdited { item: StateSeal::marker_item(&key) },
                    });
                }
            }
            Ok(None) => report.failures.push(VerifyFailure {
                chain,
                position: seq,
                problem: Problem::MarkerMissing { idempotency_key: key },
            }),
            Err(error @ LedgerError::Unavailable(_)) => return Err(error),
            Err(error) => report.failures.push(unreadable(&chain, error)),
        }
    }
    match ledger.inventory().await {
        Ok(inventory) => {
            report.failures.extend(inventory.unreadable().iter().map(|id| VerifyFailure {
                chain: id.clone(),
                position: 0,
                problem: Problem::Unreadable { error: format!("the inventory record of model {id} cannot be read") },
            }));
            // Each model record must be what its chain last committed to: an edit or a deletion outside Warden
            // (which could disable a cutoff, or point a rollback elsewhere) shows here.
            for model in inventory.models() {
                let Some((chain, seq, sha256)) = seals.remove(&StateSeal::model_item(&model.id)) else { continue };
                if StateSeal::of_model(model)?.sha256 != sha256 {
                    report.failures.push(VerifyFailure {
                        chain,
                        position: seq,
                        problem: Problem::StateEdited { item: StateSeal::model_item(&model.id) },
                    });
                }
            }
            for (item, (chain, seq, _)) in seals {
                let id = item.trim_start_matches("model:");
                if !inventory.unreadable().contains(id) {
                    report.failures.push(VerifyFailure {
                        chain,
                        position: seq,
                        problem: Problem::StateDeleted { item },
                    });
                }
            }
        }
        Err(error @ LedgerError::Unavailable(_)) => return Err(error),
        Err(error) => report.failures.push(unreadable("inventory", error)),
    }
    let (problems, sealed) = sealed_problems_settled(ledger, sealed, &mut walked).await?;
    report.failures.extend(problems);
    match state_audit_problems(ledger, sealed, &mut walked).await {
        Ok(problems) => report.failures.extend(problems),
        Err(error @ LedgerError::Unavailable(_)) => return Err(error),
        Err(error) => report.failures.push(unreadable("state", error)),
    }
    Ok(report)
}
