//! The ledger conformance suite: every adapter (embedded, DynamoDB) must pass it.
//!
//! Call [`run`] with a factory that returns a fresh, empty ledger each time. Each check returns an error
//! describing the first broken promise instead of panicking, so adapter tests can report it cleanly.

use std::future::Future;

use warden_core::inventory::Model;
use warden_core::ledger::{
    Actor, Commit, CommitOutcome, Entry, EntryBody, EventOutcome, FactQuery, FindingMark, Head, LedgerError, MarkItem,
    NewEntry, Problem, Record, RecordWrite, UNATTRIBUTED_CHAIN,
};
use warden_core::severity::Band;
use warden_core::time::Timestamp;

use crate::anchor::{DigestStore, LocalSigningKey, MemoryStore, verify_with_digests, write_digest};
use crate::ledger::{Ledger, verify};

/// Writes stored entries directly, bypassing the ledger's rules (tests only).
pub trait Tamper {
    /// Replaces the entry stored at `position` of `chain` (`None`: deletes it).
    fn overwrite_entry(
        &self,
        chain: &str,
        position: u64,
        entry: Option<&Entry>,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;
    /// Replaces a chain's stored head.
    fn overwrite_head(&self, chain: &str, head: &Head) -> impl Future<Output = Result<(), LedgerError>> + Send;
    /// Replaces a record (`None`: deletes it), version and all.
    fn overwrite_record(
        &self,
        key: &str,
        record: Option<&Record>,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;
    /// Sets a mark to `at` (an alert mark with band low), or opens a finding; `None` deletes either.
    fn overwrite_mark(
        &self,
        item: &MarkItem,
        at: Option<Timestamp>,
    ) -> impl Future<Output = Result<(), LedgerError>> + Send;
}

type Check = Result<(), String>;

fn ensure(condition: bool, message: impl FnOnce() -> String) -> Check {
    if condition { Ok(()) } else { Err(message()) }
}

fn at(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis).unwrap_or(Timestamp::MIN)
}

/// A minimal entry for `chain`.
pub fn sample_entry(chain: &str, key: &str, n: u64) -> NewEntry {
    NewEntry {
        chain: chain.to_owned(),
        recorded_at: at(1_717_000_000_000 + n as i64),
        idempotency_key: key.to_owned(),
        event_id: format!("event-{n}"),
        source: "aws.guardduty".into(),
        detail_type: "GuardDuty Finding".into(),
        occurred_at: at(1_717_000_000_000),
        model_version: Some("3".into()),
        actor: Actor::Automation("conformance".into()),
        reason: format!("entry {n}"),
        body: EntryBody::Decision { rule: "r".into(), alert: Some(Band::High), reasons: vec![], skipped: vec![] },
        seals: Vec::new(),
    }
}

/// A commit of `count` entries on each of `chains` under `key`.
pub fn sample_commit(key: &str, chains: &[&str], count: u64) -> Commit {
    let entries = chains.iter().flat_map(|c| (0..count).map(move |n| sample_entry(c, key, n))).collect();
    Commit {
        idempotency_key: key.to_owned(),
        outcome: EventOutcome {
            models: chains.iter().map(|c| (*c).to_owned()).collect(),
            alert: Some(Band::High),
            ..EventOutcome::default()
        },
        entries,
        ..Commit::default()
    }
}

async fn committed<L: Ledger>(ledger: &L, commit: Commit) -> Result<Vec<Entry>, String> {
    match ledger.commit(commit).await.map_err(|e| e.to_string())? {
        CommitOutcome::Committed { entries } => Ok(entries),
        CommitOutcome::Duplicate { .. } => Err("a new key was reported as a duplicate".into()),
    }
}

/// Appends chain entries with consecutive sequence numbers and linked hashes, per chain.
pub async fn appends_chain_entries<L: Ledger>(ledger: &L) -> Check {
    let first = committed(ledger, sample_commit("k1", &["model-a", "model-b"], 2)).await?;
    let second = committed(ledger, sample_commit("k2", &["model-a"], 1)).await?;
    ensure(first.len() == 4 && second.len() == 1, || "wrong number of sealed entries".into())?;
    let chain = ledger.entries("model-a").await.map_err(|e| e.to_string())?;
    let seqs: Vec<u64> = chain.iter().map(|e| e.seq).collect();
    ensure(seqs == [1, 2, 3], || format!("model-a seqs {seqs:?}, expected [1, 2, 3]"))?;
    ensure(chain[2].prev_hash == chain[1].hash, || "entry 3 does not link to entry 2".into())?;
    let head = ledger.head("model-a").await.map_err(|e| e.to_string())?;
    ensure(head == Some(chain[2].head()), || format!("head {head:?} is not the last entry"))?;
    let chains = ledger.chains().await.map_err(|e| e.to_string())?;
    ensure(chains == ["model-a", "model-b"], || format!("chains {chains:?}"))?;
    let report = verify(ledger).await.map_err(|e| e.to_string())?;
    ensure(report.ok() && report.entries == 5, || format!("clean ledger does not verify: {report:?}"))
}

/// A second commit with the same key writes nothing and returns the original outcome.
pub async fn duplicates_write_nothing<L: Ledger>(ledger: &L) -> Check {
    committed(ledger, sample_commit("dup", &[UNATTRIBUTED_CHAIN], 2)).await?;
    let mut again = sample_commit("dup", &[UNATTRIBUTED_CHAIN], 3);
    again.outcome.summary = "different".into();
    match ledger.commit(again).await.map_err(|e| e.to_string())? {
        CommitOutcome::Duplicate { original } => {
            ensure(original.summary.is_empty() && original.alert == Some(Band::High), || {
                format!("original outcome lost: {original:?}")
            })?;
        }
        CommitOutcome::Committed { .. } => return Err("a repeated key was committed again".into()),
    }
    let entries = ledger.entries(UNATTRIBUTED_CHAIN).await.map_err(|e| e.to_string())?;
    ensure(entries.len() == 2, || format!("{} entries after a duplicate, expected 2", entries.len()))
}

/// Models, action marks and findings are written with the commit and read back.
pub async fn stores_inventory_and_facts<L: Ledger>(ledger: &L) -> Check {
    let mut model = Model::new("fraud");
    model.owner = Some("team".into());
    let mut commit = sample_commit("facts", &["fraud"], 1);
    commit.models = vec![model.clone(), Model::new("other")];
    commit.action_marks = vec![("endpoint-x".into(), at(5_000)), ("endpoint-x".into(), at(4_000))];
    commit.alert_marks =
        vec![("finding#a".into(), Band::Medium, at(3_000)), ("finding#a".into(), Band::High, at(2_000))];
    commit.findings = vec![
        FindingMark { model_id: "fraud".into(), finding_id: "f1".into(), open: true },
        FindingMark { model_id: "other".into(), finding_id: "f2".into(), open: true },
        FindingMark { model_id: "other".into(), finding_id: "f2".into(), open: false },
    ];
    committed(ledger, commit).await?;
    let inventory = ledger.inventory().await.map_err(|e| e.to_string())?;
    ensure(inventory.get("fraud") == Some(&model) && inventory.len() == 2, || format!("inventory {inventory:?}"))?;
    let query = FactQuery {
        alert_keys: vec!["finding#a".into(), "finding#none".into()],
        models: vec!["fraud".into(), "other".into(), "fra".into()],
        targets: vec!["endpoint-x".into(), "none".into()],
    };
    let facts = ledger.facts(&query).await.map_err(|e| e.to_string())?;
    ensure(facts.open_data_findings.iter().eq(["fraud"].iter()), || {
        format!("open findings {:?}", facts.open_data_findings)
    })?;
    ensure(facts.last_actions.get("endpoint-x") == Some(&at(5_000)) && facts.last_actions.len() == 1, || {
        format!("last actions {:?} (the newest mark must win)", facts.last_actions)
    })?;
    ensure(
        facts.last_alerts.get("finding#a") == Some(&(Band::Medium, at(3_000))) && facts.last_alerts.len() == 1,
        || format!("last alerts {:?} (the newest mark must win)", facts.last_alerts),
    )?;
    // A later commit with an older alert mark does not move it back.
    let mut older = sample_commit("facts-older", &["fraud"], 1);
    older.alert_marks = vec![("finding#a".into(), Band::Critical, at(1_000))];
    committed(ledger, older).await?;
    let facts = ledger.facts(&query).await.map_err(|e| e.to_string())?;
    ensure(facts.last_alerts.get("finding#a") == Some(&(Band::Medium, at(3_000))), || {
        format!("an older alert mark replaced a newer one: {:?}", facts.last_alerts)
    })
}

/// Delivery marks accumulate on the marker, are idempotent, and a duplicate reports them.
pub async fn records_delivered_effects<L: Ledger>(ledger: &L) -> Check {
    committed(ledger, sample_commit("effects", &["m"], 1)).await?;
    for effect in ["alert", "bus", "alert"] {
        ledger.mark_delivered("effects", effect).await.map_err(|e| e.to_string())?;
    }
    match ledger.commit(sample_commit("effects", &["m"], 1)).await.map_err(|e| e.to_string())? {
        CommitOutcome::Duplicate { original } => {
            let delivered: Vec<&str> = original.delivered.iter().map(String::as_str).collect();
            ensure(delivered == ["alert", "bus"], || format!("delivered {delivered:?}"))?;
        }
        CommitOutcome::Committed { .. } => return Err("a repeated key was committed again".into()),
    }
    match ledger.mark_delivered("no-such-event", "alert").await {
        Err(LedgerError::Invalid(_)) => Ok(()),
        other => Err(format!("marking an unknown event gave {other:?}")),
    }
}

/// Records are created once, replaced only at the version read, deleted the same way; a stale write fails the
/// whole commit (no entries, no marker) as a conflict.
pub async fn records_are_versioned<L: Ledger>(ledger: &L) -> Check {
    let write = |key: &str, expected: Option<u64>, value: Option<serde_json::Value>| RecordWrite {
        key: key.to_owned(),
        expected,
        value,
    };
    let with = |key: &str, records: Vec<RecordWrite>| Commit { records, ..sample_commit(key, &["rec"], 1) };
    let lock = "lock#endpoint/fraud-prod".to_owned();
    committed(ledger, with("r1", vec![write(&lock, None, Some(serde_json::json!({"holder": "a"})))])).await?;
    let read = ledger.records(std::slice::from_ref(&lock)).await.map_err(|e| e.to_string())?;
    ensure(read.get(&lock).map(|r| r.version) == Some(1), || format!("after create: {read:?}"))?;
    for (key, stale) in [("r2", None), ("r3", Some(7))] {
        match ledger.commit(with(key, vec![write(&lock, stale, Some(serde_json::json!({"holder": "b"})))])).await {
            Err(LedgerError::Conflict(_)) => {}
            other => return Err(format!("a write expecting version {stale:?} of a version-1 record gave {other:?}")),
        }
        let marker = ledger.outcome(key).await.map_err(|e| e.to_string())?;
        ensure(marker.is_none(), || format!("the conflicting commit {key} left its marker"))?;
    }
    let entries = ledger.entries("rec").await.map_err(|e| e.to_string())?;
    ensure(entries.len() == 1, || format!("conflicting commits appended entries: {} on the chain", entries.len()))?;
    committed(ledger, with("r2", vec![write(&lock, Some(1), Some(serde_json::json!({"holder": "b"})))])).await?;
    let read = ledger.records(&[lock.clone(), "absent".to_owned()]).await.map_err(|e| e.to_string())?;
    ensure(read.len() == 1, || format!("absent keys must be left out: {read:?}"))?;
    ensure(read.get(&lock).is_some_and(|r| r.version == 2 && r.value["holder"] == "b"), || format!("{read:?}"))?;
    match ledger.commit(with("r4", vec![write(&lock, Some(1), None)])).await {
        Err(LedgerError::Conflict(_)) => {}
        other => return Err(format!("a stale delete gave {other:?}")),
    }
    committed(ledger, with("r4", vec![write(&lock, Some(2), None)])).await?;
    let read = ledger.records(std::slice::from_ref(&lock)).await.map_err(|e| e.to_string())?;
    ensure(read.is_empty(), || format!("after delete: {read:?}"))?;
    let outcome = ledger.outcome("r4").await.map_err(|e| e.to_string())?;
    ensure(outcome.is_some_and(|o| o.models == ["rec"]), || "outcome() did not return the marker's outcome".into())
}

/// An empty idempotency key is refused.
pub async fn refuses_empty_keys<L: Ledger>(ledger: &L) -> Check {
    match ledger.commit(sample_commit("", &["m"], 1)).await {
        Err(LedgerError::Invalid(_)) => Ok(()),
        other => Err(format!("empty key gave {other:?}")),
    }
}

/// `verify` names the first edited, deleted and swapped entry.
pub async fn verify_catches_tampering<L: Ledger + Tamper>(ledger: &L) -> Check {
    for n in 0..5 {
        committed(ledger, sample_commit(&format!("t{n}"), &["edited", "deleted", "swapped", "truncated"], 1)).await?;
    }
    // A ledger that lost entries must fail the check, not panic the suite.
    let five = |chain: &'static str| async move {
        let entries = ledger.entries(chain).await.map_err(|e| e.to_string())?;
        ensure(entries.len() == 5, || format!("{chain} has {} entries after 5 commits", entries.len()))?;
        Ok::<_, String>(entries)
    };
    let mut edited = five("edited").await?[2].clone();
    edited.entry.reason = "nothing to see here".into();
    ledger.overwrite_entry("edited", 3, Some(&edited)).await.map_err(|e| e.to_string())?;
    ledger.overwrite_entry("deleted", 2, None).await.map_err(|e| e.to_string())?;
    let swapped = five("swapped").await?;
    ledger.overwrite_entry("swapped", 2, Some(&swapped[3])).await.map_err(|e| e.to_string())?;
    ledger.overwrite_entry("swapped", 4, Some(&swapped[1])).await.map_err(|e| e.to_string())?;
    ledger.overwrite_entry("truncated", 5, None).await.map_err(|e| e.to_string())?;

    let report = verify(ledger).await.map_err(|e| e.to_string())?;
    let failure = |chain: &str| report.failures.iter().find(|f| f.chain == chain).cloned();
    ensure(report.failures.len() == 4, || format!("expected 4 failing chains: {report:?}"))?;
    ensure(matches!(failure("edited"), Some(f) if f.position == 3 && f.problem == Problem::Edited), || {
        format!("edited: {:?}", failure("edited"))
    })?;
    ensure(matches!(failure("deleted"), Some(f) if f.problem == Problem::Missing { expected_seq: 2 }), || {
        format!("deleted: {:?}", failure("deleted"))
    })?;
    ensure(
        matches!(failure("swapped"), Some(f) if f.position == 2 && matches!(f.problem, Problem::Reordered { stored_seq: 4 })),
        || format!("swapped: {:?}", failure("swapped")),
    )?;
    ensure(
        matches!(failure("truncated"), Some(f) if matches!(f.problem, Problem::HeadMismatch { head_seq: 5, last_seq: 4 })),
        || format!("truncated: {:?}", failure("truncated")),
    )
}

/// The insider's forgery: entry 2 edited and every hash and the head after it recomputed. The chain alone verifies;
/// against a signed digest written before the edit it does not.
pub async fn digests_catch_a_recomputed_rewrite<L: Ledger + Tamper>(ledger: &L) -> Check {
    committed(ledger, sample_commit("before", &["model-a"], 4)).await?;
    let key = LocalSigningKey::generate();
    let store = MemoryStore::default();
    let (digest, last) =
        write_digest(ledger, &key, &store, None, at(1_717_000_100_000)).await.map_err(|e| e.to_string())?;
    ensure(digest.heads.get("model-a").map(|h| h.seq) == Some(4), || format!("digest heads {:?}", digest.heads))?;
    let entries = ledger.entries("model-a").await.map_err(|e| e.to_string())?;
    let mut previous = entries.first().map(Entry::head);
    for stored in entries.iter().skip(1) {
        let mut forged = stored.entry.clone();
        if stored.seq == 2 {
            forged.reason = "approved by the risk committee".into();
        }
        let sealed = Entry::seal(forged, previous.as_ref()).map_err(|e| e.to_string())?;
        ledger.overwrite_entry("model-a", sealed.seq, Some(&sealed)).await.map_err(|e| e.to_string())?;
        previous = Some(sealed.head());
    }
    if let Some(head) = &previous {
        ledger.overwrite_head("model-a", head).await.map_err(|e| e.to_string())?;
    }
    let alone = verify(ledger).await.map_err(|e| e.to_string())?;
    ensure(alone.ok(), || format!("the recomputed chain should pass on its own: {alone:?}"))?;
    let anchored = verify_with_digests(ledger, &store, &key.public()).await.map_err(|e| e.to_string())?;
    ensure(
        anchored
            .failures
            .iter()
            .any(|f| f.chain == "model-a" && matches!(f.problem, Problem::DigestMismatch { digest: 1 })),
        || format!("the digest did not catch the rewrite: {anchored:?}"),
    )?;
    // Nor will the signer put its name under it: the head it recorded has changed.
    let refused = write_digest(ledger, &key, &store, Some(&last), at(1_717_000_200_000)).await;
    ensure(
        matches!(&refused, Err(LedgerError::Invalid(m)) if m.contains("no longer ends where digest 1 recorded")),
        || format!("a digest was signed over the rewrite: {refused:?}"),
    )?;
    ensure(store.list().await.map_err(|e| e.to_string())?.len() == 1, || "a second digest was stored".into())
}

/// Every record a commit writes is sealed on the chains: a record edited, deleted or re-created outside Warden is
/// named by `verify` (the kill switch turned off by hand, a breaker window reset, a lock taken over), while the
/// records' own history (created, replaced, deleted by commits) verifies clean.
pub async fn records_edited_outside_warden_are_caught<L: Ledger + Tamper>(ledger: &L) -> Check {
    // Each commit a second after the one before, as commits are in time.
    let with = |key: &str, write: RecordWrite| {
        let mut commit = Commit { records: vec![write], ..sample_commit(key, &["_warden"], 1) };
        let second: i64 = key.trim_start_matches('s').parse().unwrap_or(0);
        for entry in &mut commit.entries {
            entry.recorded_at = at(1_717_000_000_000 + second * 1000);
        }
        commit
    };
    let switch = "switch#kill".to_owned();
    let on = serde_json::json!({"on": true, "reason": "incident 42"});
    let create = RecordWrite { key: switch.clone(), expected: None, value: Some(on.clone()) };
    committed(ledger, with("s1", create)).await?;
    let lock = "lock#endpoint/fraud-prod".to_owned();
    let taken = RecordWrite { key: lock.clone(), expected: None, value: Some(serde_json::json!({"holder": "a"})) };
    committed(ledger, with("s2", taken)).await?;
    committed(ledger, with("s3", RecordWrite { key: lock.clone(), expected: Some(1), value: None })).await?;
    // Taken again by a later action: a record created anew starts over at version 1, below the deletion's 2.
    let again = RecordWrite { key: lock.clone(), expected: None, value: Some(serde_json::json!({"holder": "c"})) };
    committed(ledger, with("s4", again)).await?;
    let retaken = verify(ledger).await.map_err(|e| e.to_string())?;
    ensure(retaken.ok(), || format!("a lock taken again after its release must verify: {retaken:?}"))?;
    committed(ledger, with("s5", RecordWrite { key: lock.clone(), expected: Some(1), value: None })).await?;
    let clean = verify(ledger).await.map_err(|e| e.to_string())?;
    ensure(clean.ok(), || format!("records written by commits must verify: {clean:?}"))?;

    let failed = |report: &warden_core::ledger::VerifyReport, item: &str, edited: bool| {
        report.failures.iter().any(|f| match &f.problem {
            Problem::StateEdited { item: i } => edited && i == item,
            Problem::StateDeleted { item: i } => !edited && i == item,
            _ => false,
        })
    };
    // The switch turned off by hand, version and all.
    let off = Record { version: 1, value: serde_json::json!({"on": false, "reason": "incident 42"}) };
    ledger.overwrite_record(&switch, Some(&off)).await.map_err(|e| e.to_string())?;
    let report = verify(ledger).await.map_err(|e| e.to_string())?;
    ensure(failed(&report, "record:switch#kill", true), || format!("an edited kill switch passed: {report:?}"))?;
    // Deleted by hand.
    ledger.overwrite_record(&switch, None).await.map_err(|e| e.to_string())?;
    let report = verify(ledger).await.map_err(|e| e.to_string())?;
    ensure(failed(&report, "record:switch#kill", false), || format!("a deleted kill switch passed: {report:?}"))?;
    // A released lock put back by hand.
    let back = Record { version: 1, value: serde_json::json!({"holder": "b"}) };
    ledger.overwrite_record(&lock, Some(&back)).await.map_err(|e| e.to_string())?;
    let report = verify(ledger).await.map_err(|e| e.to_string())?;
    ensure(failed(&report, "record:lock#endpoint/fraud-prod", true), || format!("a re-created lock passed: {report:?}"))
}

/// Marks and findings are bound to the chains like records: a cooldown mark pushed into the future (containment
/// held back), an alert mark deleted (a page repeated or, moved forward, silenced) and an open finding deleted (a
/// model it gates could deploy) are each named by `verify`; marks written out of order (an older event after a
/// newer one) are not.
pub async fn marks_and_findings_edited_outside_warden_are_caught<L: Ledger + Tamper>(ledger: &L) -> Check {
    let target = "endpoint/fraud-prod".to_owned();
    let finding = FindingMark { model_id: "model-a".into(), finding_id: "macie-1".into(), open: true };
    let newer = Commit {
        action_marks: vec![(target.clone(), at(1_717_000_060_000))],
        alert_marks: vec![("model-a#rule".into(), Band::High, at(1_717_000_060_000))],
        findings: vec![finding.clone(), FindingMark { finding_id: "macie-2".into(), ..finding.clone() }],
        ..sample_commit("m1", &["model-a"], 1)
    };
    committed(ledger, newer).await?;
    // An older event after it: the stored marks keep the newer times, and that is no edit.
    let older = Commit {
        action_marks: vec![(target.clone(), at(1_717_000_000_000))],
        alert_marks: vec![("model-a#rule".into(), Band::Critical, at(1_717_000_000_000))],
        findings: vec![FindingMark { open: false, ..finding.clone() }],
        ..sample_commit("m2", &["model-a"], 1)
    };
    committed(ledger, older).await?;
    // A mark an earlier Warden stored without a seal, then an older event's mark after the upgrade: the stored one
    // stays, and is no edit (its time is before the first commit that sealed it).
    let legacy = "endpoint/legacy".to_owned();
    ledger
        .overwrite_mark(&MarkItem::Action(legacy.clone()), Some(at(1_716_999_000_000)))
        .await
        .map_err(|e| e.to_string())?;
    let after_upgrade =
        Commit { action_marks: vec![(legacy, at(1_716_998_000_000))], ..sample_commit("m3", &["model-a"], 1) };
    committed(ledger, after_upgrade).await?;
    let clean = verify(ledger).await.map_err(|e| e.to_string())?;
    ensure(clean.ok(), || format!("marks and findings written by commits must verify: {clean:?}"))?;

    let named = |report: &warden_core::ledger::VerifyReport, item: &MarkItem, edited: bool| {
        report.failures.iter().any(|f| match &f.problem {
            Problem::StateEdited { item: i } => edited && *i == item.item(),
            Problem::StateDeleted { item: i } => !edited && *i == item.item(),
            _ => false,
        })
    };
    // A mark for a key that never paged, dated 2100: it would silence that key's pages, and no commit set it.
    let silencer = MarkItem::Alert("model-b#rule".into());
    ledger.overwrite_mark(&silencer, Some(at(4_102_444_800_000))).await.map_err(|e| e.to_string())?;
    let report = verify(ledger).await.map_err(|e| e.to_string())?;
    let added = report.failures.iter().filter(|f| matches!(f.problem, Problem::StateAdded { .. })).count();
    ensure(added == 1, || {
        format!("an alert mark added by hand passed (or the legacy one was called added): {report:?}")
    })?;
    ledger.overwrite_mark(&silencer, None).await.map_err(|e| e.to_string())?;

    let cooldown = MarkItem::Action(target);
    ledger.overwrite_mark(&cooldown, Some(at(4_102_444_800_000))).await.map_err(|e| e.to_string())?;
    let report = verify(ledger).await.map_err(|e| e.to_string())?;
    ensure(named(&report, &cooldown, true), || format!("a cooldown pushed into 2100 passed: {report:?}"))?;
    let alert = MarkItem::Alert("model-a#rule".into());
    ledger.overwrite_mark(&alert, None).await.map_err(|e| e.to_string())?;
    let report = verify(ledger).await.map_err(|e| e.to_string())?;
    ensure(named(&report, &alert, false), || format!("a deleted alert mark passed: {report:?}"))?;
    let open = MarkItem::Finding { model: "model-a".into(), finding: "macie-2".into() };
    ledger.overwrite_mark(&open, None).await.map_err(|e| e.to_string())?;
    let report = verify(ledger).await.map_err(|e| e.to_string())?;
    ensure(named(&report, &open, false), || format!("a deleted open finding passed: {report:?}"))?;
    let closed = MarkItem::Finding { model: "model-a".into(), finding: "macie-1".into() };
    ledger.overwrite_mark(&closed, Some(at(0))).await.map_err(|e| e.to_string())?;
    let report = verify(ledger).await.map_err(|e| e.to_string())?;
    ensure(named(&report, &closed, true), || format!("a closed finding re-opened by hand passed: {report:?}"))
}

/// Runs every check against fresh ledgers from `make`; returns the failures, named.
pub async fn run<L, F, Fut>(make: F) -> Vec<String>
where
    L: Ledger + Tamper,
    F: Fn() -> Fut,
    Fut: Future<Output = L>,
{
    let mut failures = Vec::new();
    macro_rules! check {
        ($name:ident) => {
            if let Err(message) = $name(&make().await).await {
                failures.push(format!("{}: {message}", stringify!($name)));
            }
        };
    }
    check!(appends_chain_entries);
    check!(duplicates_write_nothing);
    check!(stores_inventory_and_facts);
    check!(refuses_empty_keys);
    check!(records_delivered_effects);
    check!(verify_catches_tampering);
    check!(records_are_versioned);
    check!(digests_catch_a_recomputed_rewrite);
    check!(records_edited_outside_warden_are_caught);
    check!(marks_and_findings_edited_outside_warden_are_caught);
    failures
}
