//! The governance ledger: an append-only audit trail of hash-chained entries (one chain per model, plus one
//! for signals that affect no model), the model inventory, and the few facts decisions need.
//!
//! The ledger's model: entries, chaining and hashing, commits, records, and the pure verification of a chain. The
//! port that stores them (`Ledger`) is in `warden-app`. Every adapter commits a [`Commit`] atomically: the idempotency marker (a second
//! commit with the same key is a [`CommitOutcome::Duplicate`], not an error), the entries chained onto their
//! chains' heads, and the inventory and fact updates. Chaining and hashing live here, so every adapter seals
//! entries the same way and [`verify`] checks any of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::action::{Mode, RuleAction};
use crate::inventory::Model;
use crate::policy::{PlannedAction, SkippedAction};
use crate::resource::Resource;
use crate::severity::{Band, Severity};
use crate::signal::SignalClass;
use crate::time::Timestamp;

/// The name of the one chain for signals that affected no known model in ledgers written before layout 2, and the
/// prefix of the chains that hold them since. Model ids cannot start with `_`.
pub const UNATTRIBUTED_CHAIN: &str = "_unattributed";

/// The chain of Warden's own settings changed at run time (the shared kill switch). Model ids cannot start with `_`.
pub const WARDEN_CHAIN: &str = "_warden";

/// How many chains share the signals that affect no model: one chain would be a partition every such event
/// writes (and a head every concurrent writer contends for).
pub const UNATTRIBUTED_SHARDS: u8 = 16;

/// The chain for a signal (or break-glass target) that affects no known model: one of [`UNATTRIBUTED_SHARDS`]
/// chains, chosen by a digest of `key` so the same key always lands on the same chain.
pub fn unattributed_chain(key: &str) -> String {
    let shard = Sha256::digest(key.as_bytes())[0] % UNATTRIBUTED_SHARDS;
    format!("{UNATTRIBUTED_CHAIN}-{shard:02}")
}

/// Whether a chain holds signals about no model (rather than one model's history).
pub fn is_unattributed(chain: &str) -> bool {
    chain.starts_with(UNATTRIBUTED_CHAIN)
}

/// `prev_hash` of a chain's first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "name", rename_all = "lowercase")]
pub enum Actor {
    /// Warden itself, naming the component (`warden-cli replay`, a Lambda function).
    Automation(String),
    /// A person AWS authenticated at the break-glass function URL (SigV4), one human per identity: see
    /// [`crate::breakglass::person`]. Only a person approves a destructive step.
    Person(String),
    /// Someone acting from their own machine with their own credentials (`--here`, the kill switch from the CLI),
    /// named by STS (or by `--actor` on a local ledger). May ask for anything a person may, but never counts as
    /// one of the two people of an approval: nothing outside the function checked who they are.
    Direct(String),
}

impl Actor {
    /// A person's request, by either route (`release` and `restore` need one).
    pub fn is_human(&self) -> bool {
        matches!(self, Self::Person(_) | Self::Direct(_))
    }
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Automation(name) => write!(f, "automation:{name}"),
            Self::Person(name) => write!(f, "person:{name}"),
            Self::Direct(name) => write!(f, "direct:{name}"),
        }
    }
}

/// What an entry records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum EntryBody {
    /// An event Warden observed.
    Signal {
        class: SignalClass,
        signal_kind: String,
        summary: String,
        severity: Severity,
        resources: Vec<Resource>,
        /// The resource that links the signal to this chain's model.
        via: Option<Resource>,
    },
    /// What the policy decided.
    Decision { rule: String, alert: Option<Band>, reasons: Vec<String>, skipped: Vec<SkippedAction> },
    /// An action planned (enforce) or that would have been taken (shadow).
    Action { action: RuleAction, target: String, mode: Mode, config: Option<String>, status: ActionStatus },
    /// A break-glass action moved to a new phase (written before the SageMaker call it leads to).
    BreakGlass {
        request_id: String,
        operation: crate::action::Operation,
        target: String,
        phase: crate::action::Phase,
        change: Option<crate::action::Change>,
        reverse: Option<crate::action::Change>,
        note: String,
    },
    /// The model's inventory record changed outside an event (an inventory import).
    Inventory { summary: String },
    /// A person set one of Warden's shared switches (the kill switch), on the [`WARDEN_CHAIN`].
    Switch { name: String, on: bool, reason: String },
    /// An input that could not be decoded. Only a digest of the body is kept: it may hold sensitive data.
    Rejected { code: String, error: String, body_sha256: String, body_bytes: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionStatus {
    /// Decided, not executed (break-glass executes enforce-mode actions).
    Planned,
}

/// An entry before it is chained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEntry {
    pub chain: String,
    pub recorded_at: Timestamp,
    pub idempotency_key: String,
    pub event_id: String,
    pub source: String,
    pub detail_type: String,
    pub occurred_at: Timestamp,
    pub model_version: Option<String>,
    pub actor: Actor,
    pub reason: String,
    pub body: EntryBody,
    /// Digests of the state items this entry's commit set (a model's inventory record), so `verify` can tell an
    /// item edited or deleted outside Warden from the last one its chain committed to. Absent in older entries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seals: Vec<StateSeal>,
}

/// The digest of a state item as a commit set it: `item` names it (`model:<id>`, `record:<key>`), `sha256` is over
/// its JSON ([`StateSeal::DELETED`] for a record the commit deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateSeal {
    pub item: String,
    /// Empty for a cooldown mark, whose time (its version) is all it holds; left out of the entry then.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// A record's version after the commit (see `verify` for how versions and commit times order a record's seals).
    /// Absent for models (their chain's last seal is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
}

impl StateSeal {
    /// The digest a deleted record is sealed with.
    pub const DELETED: &'static str = "deleted";

    /// The seal of a record as `write` leaves it.
    pub fn of_record_write(write: &RecordWrite) -> Result<Self, LedgerError> {
        let version = write.next_version();
        let sha256 = match &write.value {
            Some(value) => Self::record_digest(&Record { version, value: value.clone() })?,
            None => Self::DELETED.to_owned(),
        };
        Ok(Self { item: Self::record_item(&write.key), sha256, version: Some(version) })
    }

    /// The digest of a stored record, as [`Self::of_record_write`] sealed it.
    pub fn record_digest(record: &Record) -> Result<String, LedgerError> {
        let bytes = serde_json::to_vec(record).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        Ok(hex::encode(Sha256::digest(&bytes)))
    }

    pub fn record_item(key: &str) -> String {
        format!("record:{key}")
    }

    /// The seal of a model's inventory record.
    pub fn of_model(model: &Model) -> Result<Self, LedgerError> {
        let bytes = serde_json::to_vec(model).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        Ok(Self { item: Self::model_item(&model.id), sha256: hex::encode(Sha256::digest(&bytes)), version: None })
    }

    pub fn model_item(id: &str) -> String {
        format!("model:{id}")
    }

    /// The seal of a cooldown mark: its time is its version (a mark only moves forward, so the stored one is the
    /// seal with the latest time, whichever commit landed last), and the time is all it holds: no digest.
    pub fn of_action_mark(target: &str, at: Timestamp) -> Self {
        Self {
            item: MarkItem::Action(target.to_owned()).item(),
            sha256: String::new(),
            version: Some(mark_version(at)),
        }
    }

    /// The seal of an alert's re-notify mark: the band that paged (shorter than any digest of it), and when.
    pub fn of_alert_mark(key: &str, level: Band, at: Timestamp) -> Self {
        Self {
            item: MarkItem::Alert(key.to_owned()).item(),
            sha256: level.as_str().to_owned(),
            version: Some(mark_version(at)),
        }
    }

    /// The seal of a finding opened ([`Self::OPEN`]) or closed ([`Self::DELETED`]) by a commit.
    pub fn of_finding(mark: &FindingMark) -> Self {
        let item = MarkItem::Finding { model: mark.model_id.clone(), finding: mark.finding_id.clone() }.item();
        Self { item, sha256: if mark.open { Self::OPEN } else { Self::DELETED }.to_owned(), version: None }
    }

    /// The digest an open finding is sealed with.
    pub const OPEN: &'static str = "open";
    /// The item of a marker's seal on its event's entries (the entry names the event).
    pub const MARKER: &'static str = "marker";

    /// The seal of an event's idempotency marker: what the event led to, without the effects delivered since
    /// (they are added after the commit).
    pub fn of_marker(outcome: &EventOutcome) -> Result<Self, LedgerError> {
        let decided = EventOutcome { delivered: std::collections::BTreeSet::new(), ..outcome.clone() };
        let bytes = serde_json::to_vec(&decided).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        // 128 bits of SHA-256 (as second-preimage resistant as anything here needs), so an event's entries item
        // stays under DynamoDB's 1 KB write unit.
        Ok(Self { item: Self::MARKER.to_owned(), sha256: hex::encode(&Sha256::digest(&bytes)[..16]), version: None })
    }

    /// How `verify` names an event's marker.
    pub fn marker_item(idempotency_key: &str) -> String {
        format!("{}:{idempotency_key}", Self::MARKER)
    }
}

fn mark_version(at: Timestamp) -> u64 {
    u64::try_from(at.millis()).unwrap_or(0)
}

/// What an audit of the stored state beside the chains finds: one sentence per item that cannot be read, and the
/// cooldown and alert marks no commit in the sealed set wrote (named as their seal would name them, or by their
/// storage key), each with its time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateAudit {
    pub unreadable: Vec<String>,
    pub unsealed_marks: Vec<(String, Timestamp)>,
}

/// A state item beside the chains that is not a versioned record, and that the chains seal: an endpoint's or
/// package's cooldown mark, an alert key's re-notify mark, a model's open sensitive-data finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum MarkItem {
    Action(String),
    Alert(String),
    Finding { model: String, finding: String },
}

impl MarkItem {
    /// How seals and `verify` name it.
    pub fn item(&self) -> String {
        match self {
            Self::Action(target) => format!("mark:action:{target}"),
            Self::Alert(key) => format!("mark:alert:{key}"),
            Self::Finding { model, finding } => format!("finding:{}", serde_json::json!([model, finding])),
        }
    }

    /// The item a seal names, if it is a mark or finding.
    pub fn parse(item: &str) -> Option<Self> {
        if let Some(target) = item.strip_prefix("mark:action:") {
            return Some(Self::Action(target.to_owned()));
        }
        if let Some(key) = item.strip_prefix("mark:alert:") {
            return Some(Self::Alert(key.to_owned()));
        }
        let (model, finding): (String, String) = serde_json::from_str(item.strip_prefix("finding:")?).ok()?;
        Some(Self::Finding { model, finding })
    }
}

/// A chained entry: `hash` = SHA-256 over the canonical JSON of everything else, `prev_hash` included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub prev_hash: String,
    #[serde(flatten)]
    pub entry: NewEntry,
    pub hash: String,
}

#[derive(Serialize)]
struct Hashed<'a> {
    seq: u64,
    prev_hash: &'a str,
    #[serde(flatten)]
    entry: &'a NewEntry,
}

impl Entry {
    /// Chains `entry` after `prev` (`None`: the chain's first entry).
    pub fn seal(entry: NewEntry, prev: Option<&Head>) -> Result<Self, LedgerError> {
        let (seq, prev_hash) = prev.map_or((1, GENESIS_HASH.to_owned()), |h| (h.seq + 1, h.hash.clone()));
        let hash = content_hash(seq, &prev_hash, &entry)?;
        Ok(Self { seq, prev_hash, entry, hash })
    }

    /// Recomputes the hash from the content.
    pub fn computed_hash(&self) -> Result<String, LedgerError> {
        content_hash(self.seq, &self.prev_hash, &self.entry)
    }

    pub fn head(&self) -> Head {
        Head { seq: self.seq, hash: self.hash.clone() }
    }

    pub fn chain(&self) -> &str {
        &self.entry.chain
    }
}

fn content_hash(seq: u64, prev_hash: &str, entry: &NewEntry) -> Result<String, LedgerError> {
    let bytes =
        serde_json::to_vec(&Hashed { seq, prev_hash, entry }).map_err(|e| LedgerError::Corrupt(e.to_string()))?;
    Ok(hex::encode(Sha256::digest(&bytes)))
}

/// The newest entry of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

/// What an event led to, kept with its idempotency marker so a duplicate reports the original outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventOutcome {
    pub models: Vec<String>,
    pub alert: Option<Band>,
    pub actions: Vec<PlannedAction>,
    pub summary: String,
    /// Whether the alert pages (false inside the re-notify window).
    #[serde(default)]
    pub notify: bool,
    /// Effects already delivered for this decision (`alert`, `bus`), so a retry sends only the rest.
    #[serde(default)]
    pub delivered: std::collections::BTreeSet<String>,
    /// What the alert needs to be rebuilt on a retry.
    #[serde(default)]
    pub context: crate::context::AlertContext,
}

/// A Macie sensitive-data finding opened or closed on a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingMark {
    pub model_id: String,
    pub finding_id: String,
    pub open: bool,
}

/// Everything one event writes, committed atomically.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit {
    pub idempotency_key: String,
    pub outcome: EventOutcome,
    pub entries: Vec<NewEntry>,
    /// Inventory records to write (whole records; the last write wins).
    pub models: Vec<Model>,
    /// When an action last targeted an endpoint or package (for the cooldown).
    pub action_marks: Vec<(String, Timestamp)>,
    /// The severity band that paged about an alert key, and when (for the re-notify window).
    pub alert_marks: Vec<(String, Band, Timestamp)>,
    pub findings: Vec<FindingMark>,
    /// Versioned records to create, replace or delete, each only if it still has the version read.
    pub records: Vec<RecordWrite>,
}

impl Commit {
    /// Binds every record this commit writes to the chains: the commit's first entry carries each record's seal
    /// (version and digest, or its deletion), so `verify` names a record edited, deleted or re-created outside
    /// Warden. Both ledgers call it before sealing the entries; a commit without entries writes no records.
    /// So is the event's idempotency marker (its outcome). Marks and findings are sealed as this commit proposes them: a mark only moves forward, so `verify` takes
    /// the latest time among its seals.
    pub fn seal_state(&mut self) -> Result<(), LedgerError> {
        let mut seals = vec![StateSeal::of_marker(&self.outcome)?];
        seals.extend(self.records.iter().map(StateSeal::of_record_write).collect::<Result<Vec<_>, _>>()?);
        seals.extend(self.action_marks.iter().map(|(target, at)| StateSeal::of_action_mark(target, *at)));
        seals.extend(self.alert_marks.iter().map(|(key, level, at)| StateSeal::of_alert_mark(key, *level, *at)));
        // A finding the commit names twice ends as its last mark says (as both ledgers write it).
        let mut findings: BTreeMap<(&str, &str), &FindingMark> = BTreeMap::new();
        for mark in &self.findings {
            findings.insert((&mark.model_id, &mark.finding_id), mark);
        }
        seals.extend(findings.into_values().map(StateSeal::of_finding));
        if let Some(first) = self.entries.first_mut() {
            for seal in seals {
                if !first.seals.contains(&seal) {
                    first.seals.push(seal);
                }
            }
        }
        Ok(())
    }
}

/// A small mutable document kept beside the chains (a break-glass action's state, an endpoint's lock, a
/// breaker window). Every write names the version it replaces, so two writers cannot both win: the loser's
/// commit is a [`LedgerError::Conflict`] and it re-reads. The history lives in the chains; records hold only
/// the current state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 1 for a new record, then +1 per write.
    pub version: u64,
    pub value: serde_json::Value,
}

/// One record change in a commit.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordWrite {
    pub key: String,
    /// The version read (`None`: the record must not exist).
    pub expected: Option<u64>,
    /// The new value (`None`: delete the record).
    pub value: Option<serde_json::Value>,
}

impl RecordWrite {
    /// The version the record has after this write.
    pub fn next_version(&self) -> u64 {
        self.expected.map_or(1, |v| v + 1)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CommitOutcome {
    Committed { entries: Vec<Entry> },
    Duplicate { original: EventOutcome },
}

/// Ledger failures: retryable ones may succeed later; the rest will not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger unavailable (retryable): {0}")]
    Unavailable(String),
    /// Another writer moved a chain head or a fact this commit was planned against: re-read and re-plan.
    #[error("ledger write conflict (retryable): {0}")]
    Conflict(String),
    #[error("ledger storage failed: {0}")]
    Storage(String),
    #[error("ledger data is corrupt: {0}")]
    Corrupt(String),
    #[error("invalid ledger request: {0}")]
    Invalid(String),
}

impl LedgerError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::Conflict(_))
    }
}

/// What decisions need to know about the affected models, in one read.
#[derive(Debug, Clone, Default)]
pub struct FactQuery {
    pub models: Vec<String>,
    pub targets: Vec<String>,
    pub alert_keys: Vec<String>,
}

/// Assigns each new entry its place on its chain, given the chains' current heads. Shared by adapters.
pub fn seal_all(entries: Vec<NewEntry>, heads: &mut BTreeMap<String, Option<Head>>) -> Result<Vec<Entry>, LedgerError> {
    entries
        .into_iter()
        .map(|entry| {
            let head = heads.entry(entry.chain.clone()).or_insert(None);
            let sealed = Entry::seal(entry, head.as_ref())?;
            *head = Some(sealed.head());
            Ok(sealed)
        })
        .collect()
}

/// What is wrong with a chain, at the first entry that does not verify.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "kebab-case")]
pub enum Problem {
    /// The entry's content no longer matches its hash.
    Edited,
    /// An entry is missing before this one (sequence gap or broken link).
    Missing { expected_seq: u64 },
    /// The entry is not where it says it is, or links to the wrong predecessor (reordered).
    Reordered { stored_seq: u64 },
    /// The chain's head does not point at its last entry (entries deleted from the end, or head moved).
    HeadMismatch { head_seq: u64, last_seq: u64 },
    /// Stored data that cannot be read back (damaged, or written by something other than Warden).
    Unreadable { error: String },
    /// The entry's event has no idempotency marker: deleted, so a replay would apply the event again.
    MarkerMissing { idempotency_key: String },
    /// A state item (`model:<id>`) differs from what this entry's commit set: edited outside Warden.
    StateEdited { item: String },
    /// A state item this entry's commit set is gone: deleted outside Warden.
    StateDeleted { item: String },
    /// A state item no commit set (a cooldown or alert mark dated after marks were first sealed): added outside
    /// Warden.
    StateAdded { item: String },
    /// The entry differs from what a signed digest recorded: the chain was rewritten and its hashes recomputed.
    DigestMismatch { digest: u64 },
    /// A signed digest recorded entries up to `seq`; the chain now ends before it (truncated or deleted).
    DigestBeyond { digest: u64, seq: u64 },
    /// A stored digest cannot be trusted (unreadable, wrongly signed, missing from the sequence, or not linked to
    /// the one before).
    Digest { error: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyFailure {
    pub chain: String,
    /// The position (1-based) of the first entry that does not verify.
    pub position: u64,
    #[serde(flatten)]
    pub problem: Problem,
}

impl std::fmt::Display for VerifyFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (chain, at) = (&self.chain, self.position);
        match &self.problem {
            Problem::Edited => write!(f, "chain {chain}: entry {at} was edited (its hash no longer matches)"),
            Problem::Missing { expected_seq } => {
                write!(f, "chain {chain}: entry {expected_seq} is missing (found at position {at})")
            }
            Problem::Reordered { stored_seq } => {
                write!(
                    f,
                    "chain {chain}: entry at position {at} is entry {stored_seq} or links to the wrong predecessor (reordered)"
                )
            }
            Problem::HeadMismatch { head_seq, last_seq } => {
                write!(
                    f,
                    "chain {chain}: head points at entry {head_seq} but the last entry is {last_seq} (entries deleted)"
                )
            }
            Problem::Unreadable { error } => write!(f, "chain {chain}: cannot be read: {error}"),
            Problem::StateEdited { item } => {
                write!(f, "chain {chain}: {item} differs from what entry {at} set (edited outside Warden)")
            }
            Problem::StateDeleted { item } => {
                write!(f, "chain {chain}: {item}, set by entry {at}, is gone (deleted outside Warden)")
            }
            Problem::StateAdded { item } => write!(f, "{chain}: {item} was set by no commit (added outside Warden)"),
            Problem::DigestMismatch { digest } => write!(
                f,
                "chain {chain}: entry {at} is not what signed digest {digest} recorded (it or an entry before it was \
                 rewritten, and the hashes recomputed)"
            ),
            Problem::DigestBeyond { digest, seq } => write!(
                f,
                "chain {chain}: signed digest {digest} recorded {seq} entries, but the chain has {at} (entries deleted)"
            ),
            Problem::Digest { error } => write!(f, "{chain}: {error}"),
            Problem::MarkerMissing { idempotency_key } => write!(
                f,
                "chain {chain}: entry {at} belongs to event {idempotency_key}, whose idempotency marker is missing \
                 (deleted: a replay would apply the event again)"
            ),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub chains: usize,
    pub entries: usize,
    pub failures: Vec<VerifyFailure>,
    /// How many signed digests the chains were checked against (0: the chains' own hashes only).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub digests: usize,
    /// When the newest of them was written: entries after it are anchored only by the next digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anchored_at: Option<Timestamp>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.failures.is_empty()
    }
}

/// Verifies a chain read while writers may append to it: `before` is the head read before the entries, `after` the
/// head read after them. Entries past `before` are accepted only as far as `after` reaches (appended meanwhile:
/// writers commit an entry and its head together), so live writes never look like tampering, while entries past
/// every head (a forged tail) and a chain shorter than `before` (a truncated one) are still reported.
pub fn verify_chain_between(
    chain: &str,
    entries: &[Entry],
    before: Option<&Head>,
    after: Option<&Head>,
) -> Result<Option<VerifyFailure>, LedgerError> {
    let stored = entries.len() as u64;
    let before_seq = before.map_or(0, |h| h.seq);
    let after_seq = after.map_or(0, |h| h.seq);
    if stored <= before_seq || stored > after_seq {
        return verify_chain(chain, entries, if stored <= before_seq { before } else { after });
    }
    // Appended between the two reads: the prefix must end at the first head, and the rest must link to it.
    let prefix = usize::try_from(before_seq).map_err(|e| LedgerError::Corrupt(e.to_string()))?;
    if let Some(failure) = verify_chain(chain, &entries[..prefix], before)? {
        return Ok(Some(failure));
    }
    let tail = entries.last().map(Entry::head);
    verify_chain(chain, entries, tail.as_ref())
}

/// Checks one chain; pure.
pub fn verify_chain(chain: &str, entries: &[Entry], head: Option<&Head>) -> Result<Option<VerifyFailure>, LedgerError> {
    let present: std::collections::BTreeSet<u64> = entries.iter().map(|e| e.seq).collect();
    let mut prev_hash = GENESIS_HASH.to_owned();
    for (index, entry) in entries.iter().enumerate() {
        let position = index as u64 + 1;
        let fail = |problem| Ok(Some(VerifyFailure { chain: chain.to_owned(), position, problem }));
        if entry.computed_hash()? != entry.hash {
            return fail(Problem::Edited);
        }
        if entry.seq != position && !present.contains(&position) {
            return fail(Problem::Missing { expected_seq: position });
        }
        if entry.entry.chain != chain || entry.seq != position || entry.prev_hash != prev_hash {
            return fail(Problem::Reordered { stored_seq: entry.seq });
        }
        prev_hash.clone_from(&entry.hash);
    }
    let last = entries.last().map(Entry::head);
    match (head, last) {
        (None, None) => Ok(None),
        (Some(h), Some(l)) if *h == l => Ok(None),
        (h, l) => Ok(Some(VerifyFailure {
            chain: chain.to_owned(),
            position: entries.len() as u64,
            problem: Problem::HeadMismatch { head_seq: h.map_or(0, |h| h.seq), last_seq: l.map_or(0, |l| l.seq) },
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<Entry> {
        let mut heads = BTreeMap::new();
        let entries = (0..n)
            .map(|i| NewEntry {
                chain: "m".into(),
                recorded_at: Timestamp::from_millis(1_790_000_000_000).unwrap_or_else(|| unreachable!()),
                idempotency_key: format!("k{i}"),
                event_id: String::new(),
                source: "test".into(),
                detail_type: "Test".into(),
                occurred_at: Timestamp::from_millis(1_790_000_000_000).unwrap_or_else(|| unreachable!()),
                model_version: None,
                actor: Actor::Automation("test".into()),
                reason: format!("entry {i}"),
                body: EntryBody::Inventory { summary: String::new() },
                seals: Vec::new(),
            })
            .collect();
        seal_all(entries, &mut heads).unwrap_or_default()
    }

    #[test]
    fn a_chain_read_during_appends_verifies_but_a_forged_or_cut_tail_does_not() {
        let entries = chain(5);
        let head = |n: usize| Some(entries[n - 1].head());
        let check = |stored: &[Entry], before: Option<Head>, after: Option<Head>| {
            verify_chain_between("m", stored, before.as_ref(), after.as_ref()).unwrap_or_else(|e| panic!("{e}"))
        };
        // Two entries appended between the head reads: intact.
        assert_eq!(check(&entries, head(3), head(5)), None);
        // Nothing appended: the one head decides.
        assert_eq!(check(&entries, head(5), head(5)), None);
        // Entries past every head (a forged tail, written without moving the head).
        assert!(
            matches!(check(&entries, head(3), head(3)), Some(f) if matches!(f.problem, Problem::HeadMismatch { .. }))
        );
        // A chain shorter than the head read first (cut from the end).
        assert!(
            matches!(check(&entries[..3], head(5), head(5)), Some(f) if matches!(f.problem, Problem::HeadMismatch { .. }))
        );
        // An appended entry that does not link to the first head's entry.
        let mut forged = entries.clone();
        forged[3].prev_hash = GENESIS_HASH.into();
        assert!(check(&forged, head(3), head(5)).is_some());
    }
}
