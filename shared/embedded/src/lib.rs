//! The embedded ledger: one redb file, Warden's local default.
//!
//! Why redb: pure Rust (no C toolchain, quick to build on two cores), ACID with crash-safe commits, and one
//! write transaction can cover everything an event writes (idempotency marker, entries, chain heads,
//! inventory, facts), which is exactly the atomicity the ledger port promises. SQLite would do too, but adds a
//! C build and SQL for what is a handful of key-value tables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use warden_app::ledger::Ledger;
use warden_core::inventory::{Inventory, InventoryIndex, Model};
use warden_core::ledger::{
    Commit, CommitOutcome, Entry, EventOutcome, FactQuery, FindingMark, Head, LedgerError, MarkItem, Record,
    StateAudit, StateSeal, seal_all,
};
use warden_core::policy::DecisionContext;
use warden_core::resource::Resource;
use warden_core::severity::Band;
use warden_core::time::Timestamp;

/// The storage layout, public so tests (and forensics) can read the file directly.
pub mod tables {
    use redb::TableDefinition;

    /// (chain, seq) -> entry JSON.
    pub const ENTRIES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("entries");
    /// chain -> head JSON.
    pub const HEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("heads");
    /// idempotency key -> outcome JSON.
    pub const MARKERS: TableDefinition<&str, &[u8]> = TableDefinition::new("markers");
    /// model id -> model JSON.
    pub const MODELS: TableDefinition<&str, &[u8]> = TableDefinition::new("models");
    /// endpoint or package -> epoch ms of the last action that targeted it.
    pub const ACTION_MARKS: TableDefinition<&str, i64> = TableDefinition::new("action_marks");
    /// alert key -> JSON [level, epoch ms] of the last alert that paged about it.
    pub const ALERT_MARKS: TableDefinition<&str, &[u8]> = TableDefinition::new("alert_marks");
    /// (model id, finding id) -> () for open sensitive-data findings.
    pub const OPEN_FINDINGS: TableDefinition<(&str, &str), ()> = TableDefinition::new("open_findings");
    /// record key -> record JSON (version and value).
    pub const RECORDS: TableDefinition<&str, &[u8]> = TableDefinition::new("records");
}

use tables::{ACTION_MARKS, ALERT_MARKS, ENTRIES, HEADS, MARKERS, MODELS, OPEN_FINDINGS, RECORDS};

/// The file inside the ledger folder.
pub const LEDGER_FILE: &str = "ledger.redb";

#[derive(Debug)]
pub struct EmbeddedLedger {
    /// `None` only while being dropped.
    db: Option<Database>,
    path: PathBuf,
    /// Commits per write transaction: 1 (the default) makes every commit its own durable transaction. A replay
    /// raises it (group commit, see [`Self::set_group_commit`]).
    group: AtomicU32,
    /// The write transaction that grouped commits share until it is committed, and the reads see meanwhile.
    /// Boxed: an open write transaction is large, and most ledgers never group.
    batch: Mutex<Option<Box<Batch>>>,
    /// The decoded inventory, kept current by this ledger's own commits (redb lets one process open the file, so
    /// nothing else writes it): reading it no longer decodes every model for every event.
    inventory: Mutex<Option<(Inventory, InventoryIndex)>>,
    /// Set when grouped commits were dropped: the cached inventory may hold their models and is read again.
    inventory_stale: AtomicBool,
    /// Batches dropped so far: a commit that saw it change meanwhile does not update the cached inventory.
    generation: AtomicU64,
    /// Commits a panic dropped with their batch, not yet reported.
    dropped: AtomicU32,
}

/// A write transaction kept open across grouped commits, and how many commits it holds.
struct Batch {
    txn: redb::WriteTransaction,
    commits: u32,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch").field("commits", &self.commits).finish_non_exhaustive()
    }
}

/// Runs `$body` with `$txn` bound to the open batch's write transaction (so a replay reads its own grouped
/// commits) or, with no batch open, to a new read transaction. A macro because the two transaction types differ
/// but offer the same `open_table`, and their tables the same reads.
macro_rules! reading {
    ($ledger:expr, |$txn:ident| $body:expr) => {{
        let batch = $ledger.lock_batch();
        if let Some(open) = batch.as_ref() {
            let $txn = &open.txn;
            $body
        } else {
            drop(batch);
            let $txn = &$ledger.db()?.begin_read().map_err(redb_error)?;
            $body
        }
    }};
}

impl Drop for EmbeddedLedger {
    /// redb writes its allocator state when the file closes, and can panic there on a damaged file: contain it, so
    /// a command that already reported the damage does not end in a crash.
    fn drop(&mut self) {
        // Whatever a batch left non-durable is made durable now.
        let _ = guarded(|| self.flush());
        let db = self.db.take();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(db)));
    }
}

fn storage(error: impl std::fmt::Display) -> LedgerError {
    LedgerError::Storage(error.to_string())
}

/// redb's own report of a damaged file is corruption (the data cannot be trusted), not a passing storage failure.
fn redb_error(error: impl Into<redb::Error>) -> LedgerError {
    match error.into() {
        redb::Error::Corrupted(message) => {
            LedgerError::Corrupt(format!("the embedded ledger file is damaged: {message}"))
        }
        // Warden creates every table at open with these definitions: a table the file says is of another type, or
        // missing, is damage in its table directory (or a file written by something else).
        error @ (redb::Error::TableTypeMismatch { .. }
        | redb::Error::TypeDefinitionChanged { .. }
        | redb::Error::TableIsMultimap(_)
        | redb::Error::TableIsNotMultimap(_)
        | redb::Error::TableDoesNotExist(_)) => {
            LedgerError::Corrupt(format!("the embedded ledger file is damaged: {error}"))
        }
        // A length or offset in the file pointing past its end, or bytes that decode to nothing valid.
        redb::Error::Io(io)
            if matches!(io.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::InvalidData) =>
        {
            LedgerError::Corrupt(format!("the embedded ledger file is damaged: {io}"))
        }
        other => LedgerError::Storage(other.to_string()),
    }
}

/// Runs one operation on the file, turning a panic inside redb (it asserts on some damaged pages) into a
/// corruption error, so a damaged file is reported, never a crash.
fn guarded<T>(operation: impl FnOnce() -> Result<T, LedgerError>) -> Result<T, LedgerError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(operation)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|m| (*m).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(LedgerError::Corrupt(format!("the embedded ledger file is damaged (storage engine failed: {message})")))
    })
}

fn corrupt(what: &str, error: impl std::fmt::Display) -> LedgerError {
    LedgerError::Corrupt(format!("{what}: {error}"))
}

impl EmbeddedLedger {
    /// Opens (or creates) the ledger in `dir`, creating the folder if needed.
    pub fn open(dir: &Path) -> Result<Self, LedgerError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| storage(format!("cannot create ledger folder {}: {e}", dir.display())))?;
        let path = dir.join(LEDGER_FILE);
        let db = guarded(|| {
            Database::create(&path).map_err(|e| match e {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    LedgerError::Unavailable(format!("{} is in use by another process", path.display()))
                }
                other => match redb_error(other) {
                    LedgerError::Corrupt(message) => LedgerError::Corrupt(format!("{}: {message}", path.display())),
                    error => storage(format!("cannot open {}: {error}", path.display())),
                },
            })
        })?;
        guarded(|| Self::with_tables(db, path))
    }

    /// A ledger held in memory only (tests, benchmarks, trying policies): same code, no file.
    pub fn in_memory() -> Result<Self, LedgerError> {
        let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new()).map_err(redb_error)?;
        Self::with_tables(db, PathBuf::from(":memory:"))
    }

    /// Creates the tables, so every read transaction finds them.
    fn with_tables(db: Database, path: PathBuf) -> Result<Self, LedgerError> {
        let txn = db.begin_write().map_err(redb_error)?;
        {
            txn.open_table(ENTRIES).map_err(redb_error)?;
            txn.open_table(HEADS).map_err(redb_error)?;
            txn.open_table(MARKERS).map_err(redb_error)?;
            txn.open_table(MODELS).map_err(redb_error)?;
            txn.open_table(ACTION_MARKS).map_err(redb_error)?;
            txn.open_table(ALERT_MARKS).map_err(redb_error)?;
            txn.open_table(OPEN_FINDINGS).map_err(redb_error)?;
            txn.open_table(RECORDS).map_err(redb_error)?;
        }
        txn.commit().map_err(redb_error)?;
        Ok(Self {
            db: Some(db),
            path,
            group: AtomicU32::new(1),
            batch: Mutex::new(None),
            inventory: Mutex::new(None),
            inventory_stale: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            dropped: AtomicU32::new(0),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> Result<&Database, LedgerError> {
        self.db.as_ref().ok_or_else(|| LedgerError::Storage("the embedded ledger is closed".into()))
    }

    /// Groups `n` commits into one durable write transaction (group commit): each input's commit stays atomic
    /// (all of it or none), reads see the grouped commits, and `flush` or dropping the ledger commits the rest. A
    /// crash loses at most the commits of the open batch, which replaying again redoes (idempotency makes that
    /// safe). `n = 1` (the default): every commit is its own durable transaction (an open batch is committed by
    /// the next write).
    pub fn set_group_commit(&self, n: u32) {
        self.group.store(n.max(1), Ordering::Relaxed);
    }

    /// Commits the open batch, if any.
    pub fn flush(&self) -> Result<(), LedgerError> {
        let mut batch = self.lock_batch();
        self.take_dropped()?;
        match batch.take() {
            // Committed while the lock is held: a reader never sees the batch gone and its commits not yet stored.
            Some(full) => {
                let commits = full.commits;
                full.txn.commit().map_err(|e| self.lost(&redb_error(e), commits))
            }
            None => Ok(()),
        }
    }

    /// The open batch, if any. A panic inside redb while a batch was in use leaves its state unknown: the batch is
    /// dropped, as a crash would drop it, and the next write or flush says how many commits went with it.
    fn lock_batch(&self) -> MutexGuard<'_, Option<Box<Batch>>> {
        self.batch.lock().unwrap_or_else(|poisoned| {
            self.batch.clear_poison();
            let mut guard = poisoned.into_inner();
            if let Some(dropped) = guard.take() {
                self.dropped.fetch_add(dropped.commits, Ordering::Relaxed);
                self.forget_batch();
            }
            guard
        })
    }

    /// Fails once for the commits a panic dropped with their batch, so a replay stops instead of reporting them
    /// recorded.
    fn take_dropped(&self) -> Result<(), LedgerError> {
        match self.dropped.swap(0, Ordering::Relaxed) {
            0 => Ok(()),
            dropped => Err(LedgerError::Storage(format!(
                "the storage engine failed while {dropped} commits were grouped into one transaction, and they were \
                 not kept (replaying again redoes them)"
            ))),
        }
    }

    /// A batch was dropped: what the cached inventory learned from its commits is forgotten.
    fn forget_batch(&self) {
        self.generation.fetch_add(1, Ordering::Relaxed);
        self.inventory_stale.store(true, Ordering::Relaxed);
    }

    /// Runs `write` in a write transaction of its own and commits it, or, while commits are grouped, in the open
    /// batch, committed every `group` commits. `write` sets `writing` before its first insert: an error before that
    /// leaves the transaction as it was (a duplicate, a conflict, damaged data under this input's keys), while one
    /// after it may leave half an input written, so the batch is dropped whole and the error says so.
    fn write<T>(
        &self,
        write: impl FnOnce(&redb::WriteTransaction, &mut bool) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let group = self.group.load(Ordering::Relaxed);
        let mut batch = self.lock_batch();
        self.take_dropped()?;
        if group <= 1 && batch.is_none() {
            drop(batch);
            let txn = self.db()?.begin_write().map_err(redb_error)?;
            // Returning early drops the transaction uncommitted, which discards whatever it wrote.
            let value = write(&txn, &mut false)?;
            txn.commit().map_err(redb_error)?;
            return Ok(value);
        }
        let open = match batch.as_mut() {
            Some(open) => open,
            None => batch.insert(Box::new(Batch { txn: self.db()?.begin_write().map_err(redb_error)?, commits: 0 })),
        };
        let mut writing = false;
        match write(&open.txn, &mut writing) {
            Ok(value) => {
                if writing {
                    open.commits += 1;
                }
                // Committed while the lock is held (see `flush`).
                if open.commits >= group
                    && let Some(full) = batch.take()
                {
                    let commits = full.commits;
                    full.txn.commit().map_err(|e| self.lost(&redb_error(e), commits))?;
                }
                Ok(value)
            }
            Err(error) if !writing => Err(error),
            Err(error) => {
                let commits = batch.take().map_or(0, |b| b.commits);
                Err(self.lost(&error, commits))
            }
        }
    }

    /// The error for a failed write that took its batch with it: the batch's `lost` earlier commits are gone
    /// too. Always a storage failure, never mere damage, so a replay stops here instead of reporting them recorded.
    fn lost(&self, error: &LedgerError, lost: u32) -> LedgerError {
        self.forget_batch();
        if lost == 0 {
            return LedgerError::Storage(error.to_string());
        }
        LedgerError::Storage(format!(
            "{error}; the {lost} commits grouped with it into one transaction were not kept (replaying again redoes \
             them)"
        ))
    }

    fn commit_sync(&self, mut commit: Commit) -> Result<CommitOutcome, LedgerError> {
        if commit.idempotency_key.is_empty() {
            return Err(LedgerError::Invalid("empty idempotency key".into()));
        }
        commit.seal_state()?;
        let new_entries = std::mem::take(&mut commit.entries);
        let generation = self.generation.load(Ordering::Relaxed);
        let outcome = self.write(|txn, writing| {
            // Everything is read and checked before the first insert: a refusal leaves the transaction untouched,
            // which a batch shared with other inputs' commits relies on.
            let mut markers = txn.open_table(MARKERS).map_err(redb_error)?;
            if let Some(existing) = markers.get(commit.idempotency_key.as_str()).map_err(redb_error)? {
                let original: EventOutcome =
                    serde_json::from_slice(existing.value()).map_err(|e| corrupt("marker", e))?;
                return Ok(CommitOutcome::Duplicate { original });
            }
            let mut heads_table = txn.open_table(HEADS).map_err(redb_error)?;
            let mut entries = txn.open_table(ENTRIES).map_err(redb_error)?;
            let mut heads: BTreeMap<String, Option<Head>> = BTreeMap::new();
            for entry in &new_entries {
                if !heads.contains_key(&entry.chain) {
                    let stored = heads_table
                        .get(entry.chain.as_str())
                        .map_err(redb_error)?
                        .map(|h| serde_json::from_slice::<Head>(h.value()))
                        .transpose()
                        .map_err(|e| corrupt("head", e))?;
                    // A chain whose head was deleted chains onto its last entry: the loss blocks nothing and
                    // overwrites nothing (`verify` reports it until this commit writes the head again).
                    let head = match stored {
                        Some(head) => Some(head),
                        None => last_entry_head(&entries, &entry.chain)?,
                    };
                    heads.insert(entry.chain.clone(), head);
                }
            }
            let sealed = seal_all(new_entries, &mut heads)?;
            for entry in &sealed {
                // Never over an existing entry (a head moved back by hand).
                if entries.get((entry.chain(), entry.seq)).map_err(redb_error)?.is_some() {
                    return Err(LedgerError::Corrupt(format!(
                        "chain {} already holds an entry at {}: its head is behind its entries (`warden ledger verify` \
                         names the damage); nothing was written",
                        entry.chain(),
                        entry.seq
                    )));
                }
            }
            let mut marks = txn.open_table(ACTION_MARKS).map_err(redb_error)?;
            // Marks as this commit leaves them: the newest of the stored one and this commit's own wins.
            let mut newer_marks: BTreeMap<&str, i64> = BTreeMap::new();
            for (target, at) in &commit.action_marks {
                let last = match newer_marks.get(target.as_str()) {
                    Some(planned) => Some(*planned),
                    None => marks.get(target.as_str()).map_err(redb_error)?.map(|m| m.value()),
                };
                if last.is_none_or(|last| last < at.millis()) {
                    newer_marks.insert(target.as_str(), at.millis());
                }
            }
            let mut alerts = txn.open_table(ALERT_MARKS).map_err(redb_error)?;
            let mut newer_alerts: BTreeMap<&str, (Band, Timestamp)> = BTreeMap::new();
            for (key, level, at) in &commit.alert_marks {
                let last = match newer_alerts.get(key.as_str()) {
                    Some(planned) => Some(*planned),
                    None => alerts
                        .get(key.as_str())
                        .map_err(redb_error)?
                        .map(|v| decode_alert_mark(v.value()))
                        .transpose()?,
                };
                if last.is_none_or(|(_, last)| last <= *at) {
                    newer_alerts.insert(key.as_str(), (*level, *at));
                }
            }
            let alert_bytes = newer_alerts
                .into_iter()
                .map(|(key, (level, at))| serde_json::to_vec(&(level, at.millis())).map(|bytes| (key, bytes)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(storage)?;
            let mut records = txn.open_table(RECORDS).map_err(redb_error)?;
            // Versions as this commit leaves them, so a key written twice in one commit is checked against the first.
            let mut versions: BTreeMap<&str, Option<u64>> = BTreeMap::new();
            let mut record_writes = Vec::new();
            for write in &commit.records {
                let version = match versions.get(write.key.as_str()) {
                    Some(version) => *version,
                    None => records
                        .get(write.key.as_str())
                        .map_err(redb_error)?
                        .map(|v| serde_json::from_slice::<Record>(v.value()))
                        .transpose()
                        .map_err(|e| corrupt("record", e))?
                        .map(|r| r.version),
                };
                if version != write.expected {
                    return Err(LedgerError::Conflict(format!(
                        "record {} is at version {version:?}, not {:?}",
                        write.key, write.expected
                    )));
                }
                let bytes = match &write.value {
                    Some(value) => {
                        let record = Record { version: write.next_version(), value: value.clone() };
                        versions.insert(write.key.as_str(), Some(record.version));
                        Some(serde_json::to_vec(&record).map_err(storage)?)
                    }
                    None => {
                        versions.insert(write.key.as_str(), None);
                        None
                    }
                };
                record_writes.push((write.key.as_str(), bytes));
            }
            let entry_bytes = sealed
                .iter()
                .map(|entry| serde_json::to_vec(entry).map(|bytes| ((entry.chain(), entry.seq), bytes)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(storage)?;
            let head_bytes = heads
                .iter()
                .filter_map(|(chain, head)| head.as_ref().map(|head| (chain.as_str(), head)))
                .map(|(chain, head)| serde_json::to_vec(head).map(|bytes| (chain, bytes)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(storage)?;
            let model_bytes = commit
                .models
                .iter()
                .map(|model| serde_json::to_vec(model).map(|bytes| (model.id.as_str(), bytes)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(storage)?;
            let outcome = serde_json::to_vec(&commit.outcome).map_err(storage)?;

            *writing = true;
            markers.insert(commit.idempotency_key.as_str(), outcome.as_slice()).map_err(redb_error)?;
            for (key, bytes) in &entry_bytes {
                entries.insert(*key, bytes.as_slice()).map_err(redb_error)?;
            }
            for (chain, bytes) in &head_bytes {
                heads_table.insert(*chain, bytes.as_slice()).map_err(redb_error)?;
            }
            let mut models = txn.open_table(MODELS).map_err(redb_error)?;
            for (id, bytes) in &model_bytes {
                models.insert(*id, bytes.as_slice()).map_err(redb_error)?;
            }
            for (target, millis) in newer_marks {
                marks.insert(target, millis).map_err(redb_error)?;
            }
            for (key, bytes) in &alert_bytes {
                alerts.insert(*key, bytes.as_slice()).map_err(redb_error)?;
            }
            for (key, bytes) in &record_writes {
                match bytes {
                    Some(bytes) => records.insert(*key, bytes.as_slice()).map_err(redb_error)?,
                    None => records.remove(*key).map_err(redb_error)?,
                };
            }
            let mut findings = txn.open_table(OPEN_FINDINGS).map_err(redb_error)?;
            for mark in &commit.findings {
                let key = (mark.model_id.as_str(), mark.finding_id.as_str());
                if mark.open {
                    findings.insert(key, ()).map_err(redb_error)?;
                } else {
                    findings.remove(key).map_err(redb_error)?;
                }
            }
            Ok(CommitOutcome::Committed { entries: sealed })
        })?;
        if matches!(outcome, CommitOutcome::Committed { .. })
            && !commit.models.is_empty()
            && let Ok(mut cached) = self.inventory.lock()
            && let Some((inventory, index)) = cached.as_mut()
        {
            if self.generation.load(Ordering::Relaxed) == generation {
                for model in commit.models {
                    index.update(&model);
                    inventory.upsert(model);
                }
            } else {
                self.inventory_stale.store(true, Ordering::Relaxed);
            }
        }
        Ok(outcome)
    }

    fn inventory_sync(&self) -> Result<Inventory, LedgerError> {
        self.with_inventory(|inventory, _| inventory.clone())
    }

    fn inventory_for_sync(&self, resources: &[Resource]) -> Result<Inventory, LedgerError> {
        self.with_inventory(|inventory, index| inventory.subset(&index.models_for(resources)))
    }

    /// Runs `read` on the cached inventory and its index, reading and decoding them first if need be.
    fn with_inventory<T>(&self, read: impl FnOnce(&Inventory, &InventoryIndex) -> T) -> Result<T, LedgerError> {
        let mut cached = self.inventory.lock().map_err(|_| storage("the inventory cache is poisoned"))?;
        if self.inventory_stale.swap(false, Ordering::Relaxed) || cached.is_none() {
            let inventory = self.read_inventory()?;
            let index = InventoryIndex::of(&inventory);
            *cached = Some((inventory, index));
        }
        cached.as_ref().map(|(inventory, index)| read(inventory, index)).ok_or_else(|| storage("no inventory"))
    }

    fn read_inventory(&self) -> Result<Inventory, LedgerError> {
        reading!(self, |txn| {
            let table = txn.open_table(MODELS).map_err(redb_error)?;
            let mut models = Vec::new();
            let mut unreadable = std::collections::BTreeSet::new();
            for row in table.iter().map_err(redb_error)? {
                let (key, value) = row.map_err(redb_error)?;
                match serde_json::from_slice::<Model>(value.value()) {
                    Ok(model) => models.push(model),
                    // One damaged record must not stop every other model's events.
                    Err(_) => {
                        unreadable.insert(key.value().to_owned());
                    }
                }
            }
            Ok(Inventory::from_stored(models, unreadable))
        })
    }

    fn facts_sync(&self, query: &FactQuery) -> Result<DecisionContext, LedgerError> {
        reading!(self, |txn| {
            let findings = txn.open_table(OPEN_FINDINGS).map_err(redb_error)?;
            let marks = txn.open_table(ACTION_MARKS).map_err(redb_error)?;
            let mut context = DecisionContext::default();
            for model in &query.models {
                let mut open = findings.range((model.as_str(), "")..).map_err(redb_error)?;
                if let Some(row) = open.next() {
                    let (key, _) = row.map_err(redb_error)?;
                    if key.value().0 == model.as_str() {
                        context.open_data_findings.insert(model.clone());
                    }
                }
            }
            for target in &query.targets {
                if let Some(mark) = marks.get(target.as_str()).map_err(redb_error)? {
                    let at =
                        Timestamp::from_millis(mark.value()).ok_or_else(|| corrupt("action mark", mark.value()))?;
                    context.last_actions.insert(target.clone(), at);
                }
            }
            let alerts = txn.open_table(ALERT_MARKS).map_err(redb_error)?;
            for key in &query.alert_keys {
                if let Some(mark) = alerts.get(key.as_str()).map_err(redb_error)? {
                    context.last_alerts.insert(key.clone(), decode_alert_mark(mark.value())?);
                }
            }
            Ok(context)
        })
    }

    fn chains_sync(&self) -> Result<Vec<String>, LedgerError> {
        reading!(self, |txn| {
            let heads = txn.open_table(HEADS).map_err(redb_error)?;
            let entries = txn.open_table(ENTRIES).map_err(redb_error)?;
            let mut chains = std::collections::BTreeSet::new();
            for row in heads.iter().map_err(redb_error)? {
                chains.insert(row.map_err(redb_error)?.0.value().to_owned());
            }
            // Chains whose head was removed still have entries to verify.
            for row in entries.iter().map_err(redb_error)? {
                chains.insert(row.map_err(redb_error)?.0.value().0.to_owned());
            }
            Ok(chains.into_iter().collect())
        })
    }

    fn entries_sync(&self, chain: &str) -> Result<Vec<Entry>, LedgerError> {
        reading!(self, |txn| {
            let table = txn.open_table(ENTRIES).map_err(redb_error)?;
            let mut entries = Vec::new();
            for row in table.range((chain, 0)..=(chain, u64::MAX)).map_err(redb_error)? {
                let (key, value) = row.map_err(redb_error)?;
                let (chain, seq) = key.value();
                let entry: Entry =
                    serde_json::from_slice(value.value()).map_err(|e| corrupt(&format!("entry {chain}/{seq}"), e))?;
                entries.push(entry);
            }
            Ok(entries)
        })
    }

    fn head_sync(&self, chain: &str) -> Result<Option<Head>, LedgerError> {
        reading!(self, |txn| {
            let table = txn.open_table(HEADS).map_err(redb_error)?;
            table
                .get(chain)
                .map_err(redb_error)?
                .map(|h| serde_json::from_slice(h.value()).map_err(|e| corrupt("head", e)))
                .transpose()
        })
    }
}

fn decode_alert_mark(bytes: &[u8]) -> Result<(warden_core::severity::Band, Timestamp), LedgerError> {
    let (level, millis): (warden_core::severity::Band, i64) =
        serde_json::from_slice(bytes).map_err(|e| corrupt("alert mark", e))?;
    Ok((level, Timestamp::from_millis(millis).ok_or_else(|| corrupt("alert mark", millis))?))
}

impl EmbeddedLedger {
    fn records_sync(&self, keys: &[String]) -> Result<BTreeMap<String, Record>, LedgerError> {
        reading!(self, |txn| {
            let table = txn.open_table(RECORDS).map_err(redb_error)?;
            let mut found = BTreeMap::new();
            for key in keys {
                if let Some(value) = table.get(key.as_str()).map_err(redb_error)? {
                    let record: Record = serde_json::from_slice(value.value()).map_err(|e| corrupt("record", e))?;
                    found.insert(key.clone(), record);
                }
            }
            Ok(found)
        })
    }

    fn stored_marks_sync(&self, items: &[MarkItem]) -> Result<BTreeMap<MarkItem, StateSeal>, LedgerError> {
        reading!(self, |txn| {
            let actions = txn.open_table(ACTION_MARKS).map_err(redb_error)?;
            let alerts = txn.open_table(ALERT_MARKS).map_err(redb_error)?;
            let findings = txn.open_table(OPEN_FINDINGS).map_err(redb_error)?;
            let mut found = BTreeMap::new();
            for item in items {
                let seal = match item {
                    MarkItem::Action(target) => actions
                        .get(target.as_str())
                        .map_err(redb_error)?
                        .map(|at| {
                            let millis = at.value();
                            Timestamp::from_millis(millis).ok_or_else(|| corrupt("action mark", millis))
                        })
                        .transpose()?
                        .map(|at| StateSeal::of_action_mark(target, at)),
                    MarkItem::Alert(key) => alerts
                        .get(key.as_str())
                        .map_err(redb_error)?
                        .map(|mark| decode_alert_mark(mark.value()))
                        .transpose()?
                        .map(|(level, at)| StateSeal::of_alert_mark(key, level, at)),
                    MarkItem::Finding { model, finding } => {
                        findings.get((model.as_str(), finding.as_str())).map_err(redb_error)?.map(|_| {
                            StateSeal::of_finding(&FindingMark {
                                model_id: model.clone(),
                                finding_id: finding.clone(),
                                open: true,
                            })
                        })
                    }
                };
                if let Some(seal) = seal {
                    found.insert(item.clone(), seal);
                }
            }
            Ok(found)
        })
    }

    fn other_marks_sync(&self, sealed: &BTreeSet<MarkItem>) -> Result<Vec<(String, Timestamp)>, LedgerError> {
        reading!(self, |txn| {
            let mut others = Vec::new();
            for row in txn.open_table(ACTION_MARKS).map_err(redb_error)?.iter().map_err(redb_error)? {
                let (target, millis) = row.map_err(redb_error)?;
                let item = MarkItem::Action(target.value().to_owned());
                if !sealed.contains(&item) {
                    let at =
                        Timestamp::from_millis(millis.value()).ok_or_else(|| corrupt("action mark", millis.value()))?;
                    others.push((item.item(), at));
                }
            }
            for row in txn.open_table(ALERT_MARKS).map_err(redb_error)?.iter().map_err(redb_error)? {
                let (key, mark) = row.map_err(redb_error)?;
                let item = MarkItem::Alert(key.value().to_owned());
                if !sealed.contains(&item) {
                    others.push((item.item(), decode_alert_mark(mark.value())?.1));
                }
            }
            Ok(others)
        })
    }

    fn outcome_sync(&self, key: &str) -> Result<Option<EventOutcome>, LedgerError> {
        reading!(self, |txn| {
            let table = txn.open_table(MARKERS).map_err(redb_error)?;
            table
                .get(key)
                .map_err(redb_error)?
                .map(|v| serde_json::from_slice(v.value()).map_err(|e| corrupt("marker", e)))
                .transpose()
        })
    }

    fn state_problems_sync(&self) -> Result<Vec<String>, LedgerError> {
        reading!(self, |txn| {
            let mut unreadable = Vec::new();
            let mut check = |name: &str, table: TableDefinition<&str, &[u8]>, readable: fn(&[u8]) -> bool| {
                let table = txn.open_table(table).map_err(redb_error)?;
                for row in table.iter().map_err(redb_error)? {
                    let (key, value) = row.map_err(redb_error)?;
                    if !readable(value.value()) {
                        unreadable.push(format!("stored state {name} {} cannot be read", key.value()));
                    }
                }
                Ok::<_, LedgerError>(())
            };
            check("marker", MARKERS, |b| serde_json::from_slice::<EventOutcome>(b).is_ok())?;
            check("record", RECORDS, |b| serde_json::from_slice::<Record>(b).is_ok())?;
            check("head", HEADS, |b| serde_json::from_slice::<Head>(b).is_ok())?;
            check("alert mark", ALERT_MARKS, |b| decode_alert_mark(b).is_ok())?;
            // Open findings hold no value, but walking them reads their pages.
            for row in txn.open_table(OPEN_FINDINGS).map_err(redb_error)?.iter().map_err(redb_error)? {
                row.map_err(redb_error)?;
            }
            let marks = txn.open_table(ACTION_MARKS).map_err(redb_error)?;
            for row in marks.iter().map_err(redb_error)? {
                let (key, value) = row.map_err(redb_error)?;
                if Timestamp::from_millis(value.value()).is_none() {
                    unreadable.push(format!("stored state action mark {} cannot be read", key.value()));
                }
            }
            Ok(unreadable)
        })
    }

    fn mark_delivered_sync(&self, key: &str, effect: &str) -> Result<(), LedgerError> {
        self.write(|txn, writing| {
            let mut markers = txn.open_table(MARKERS).map_err(redb_error)?;
            let current = markers.get(key).map_err(redb_error)?.map(|v| v.value().to_vec());
            let Some(current) = current else {
                return Err(LedgerError::Invalid(format!("no event with idempotency key {key:?}")));
            };
            let mut outcome: EventOutcome = serde_json::from_slice(&current).map_err(|e| corrupt("marker", e))?;
            if outcome.delivered.insert(effect.to_owned()) {
                let bytes = serde_json::to_vec(&outcome).map_err(storage)?;
                *writing = true;
                markers.insert(key, bytes.as_slice()).map_err(redb_error)?;
            }
            Ok(())
        })
    }
}

/// The head a chain's last stored entry gives (`None`: no entries).
fn last_entry_head(entries: &redb::Table<'_, (&str, u64), &[u8]>, chain: &str) -> Result<Option<Head>, LedgerError> {
    let last = entries.range((chain, 0)..=(chain, u64::MAX)).map_err(redb_error)?.next_back();
    match last {
        Some(row) => {
            let (_, value) = row.map_err(redb_error)?;
            let entry: Entry = serde_json::from_slice(value.value()).map_err(|e| corrupt("entry", e))?;
            tracing::warn!(chain, "the chain has entries but no head: chained onto its last entry");
            Ok(Some(entry.head()))
        }
        None => Ok(None),
    }
}

impl Ledger for EmbeddedLedger {
    async fn mark_delivered(&self, idempotency_key: &str, effect: &str) -> Result<(), LedgerError> {
        guarded(|| self.mark_delivered_sync(idempotency_key, effect))
    }

    async fn commit(&self, commit: Commit) -> Result<CommitOutcome, LedgerError> {
        guarded(|| self.commit_sync(commit))
    }

    async fn inventory(&self) -> Result<Inventory, LedgerError> {
        guarded(|| self.inventory_sync())
    }

    async fn inventory_for(&self, resources: &[Resource]) -> Result<Inventory, LedgerError> {
        guarded(|| self.inventory_for_sync(resources))
    }

    async fn facts(&self, query: &FactQuery) -> Result<DecisionContext, LedgerError> {
        guarded(|| self.facts_sync(query))
    }

    async fn chains(&self) -> Result<Vec<String>, LedgerError> {
        guarded(|| self.chains_sync())
    }

    async fn entries(&self, chain: &str) -> Result<Vec<Entry>, LedgerError> {
        guarded(|| self.entries_sync(chain))
    }

    async fn head(&self, chain: &str) -> Result<Option<Head>, LedgerError> {
        guarded(|| self.head_sync(chain))
    }

    async fn records(&self, keys: &[String]) -> Result<BTreeMap<String, Record>, LedgerError> {
        guarded(|| self.records_sync(keys))
    }

    async fn outcome(&self, idempotency_key: &str) -> Result<Option<EventOutcome>, LedgerError> {
        guarded(|| self.outcome_sync(idempotency_key))
    }

    async fn stored_marks(&self, items: &[MarkItem]) -> Result<BTreeMap<MarkItem, StateSeal>, LedgerError> {
        guarded(|| self.stored_marks_sync(items))
    }

    async fn audit_state(&self, sealed_marks: &BTreeSet<MarkItem>) -> Result<StateAudit, LedgerError> {
        guarded(|| {
            Ok(StateAudit {
                unreadable: self.state_problems_sync()?,
                unsealed_marks: self.other_marks_sync(sealed_marks)?,
            })
        })
    }
}

/// Direct edits of stored entries, to prove `verify` catches tampering.
#[cfg(feature = "conformance")]
impl warden_app::conformance::Tamper for EmbeddedLedger {
    async fn overwrite_entry(&self, chain: &str, position: u64, entry: Option<&Entry>) -> Result<(), LedgerError> {
        self.write(|txn, writing| {
            let mut table = txn.open_table(ENTRIES).map_err(redb_error)?;
            *writing = true;
            match entry {
                Some(entry) => {
                    let bytes = serde_json::to_vec(entry).map_err(storage)?;
                    table.insert((chain, position), bytes.as_slice()).map_err(redb_error)?;
                }
                None => {
                    table.remove((chain, position)).map_err(redb_error)?;
                }
            }
            Ok(())
        })
    }

    async fn overwrite_record(&self, key: &str, record: Option<&Record>) -> Result<(), LedgerError> {
        self.write(|txn, writing| {
            let mut table = txn.open_table(RECORDS).map_err(redb_error)?;
            *writing = true;
            match record {
                Some(record) => {
                    let bytes = serde_json::to_vec(record).map_err(storage)?;
                    table.insert(key, bytes.as_slice()).map_err(redb_error)?;
                }
                None => {
                    table.remove(key).map_err(redb_error)?;
                }
            }
            Ok(())
        })
    }

    async fn overwrite_mark(&self, item: &MarkItem, at: Option<Timestamp>) -> Result<(), LedgerError> {
        self.write(|txn, writing| {
            *writing = true;
            match item {
                MarkItem::Action(target) => {
                    let mut table = txn.open_table(ACTION_MARKS).map_err(redb_error)?;
                    match at {
                        Some(at) => table.insert(target.as_str(), at.millis()).map(drop),
                        None => table.remove(target.as_str()).map(drop),
                    }
                    .map_err(redb_error)?;
                }
                MarkItem::Alert(key) => {
                    let mut table = txn.open_table(ALERT_MARKS).map_err(redb_error)?;
                    match at {
                        Some(at) => {
                            let bytes = serde_json::to_vec(&(Band::Low, at.millis())).map_err(storage)?;
                            table.insert(key.as_str(), bytes.as_slice()).map(drop)
                        }
                        None => table.remove(key.as_str()).map(drop),
                    }
                    .map_err(redb_error)?;
                }
                MarkItem::Finding { model, finding } => {
                    let mut table = txn.open_table(OPEN_FINDINGS).map_err(redb_error)?;
                    let key = (model.as_str(), finding.as_str());
                    match at {
                        Some(_) => table.insert(key, ()).map(drop),
                        None => table.remove(key).map(drop),
                    }
                    .map_err(redb_error)?;
                }
            }
            Ok(())
        })
    }

    async fn overwrite_head(&self, chain: &str, head: &warden_core::ledger::Head) -> Result<(), LedgerError> {
        self.write(|txn, writing| {
            let mut table = txn.open_table(HEADS).map_err(redb_error)?;
            let bytes = serde_json::to_vec(head).map_err(storage)?;
            *writing = true;
            table.insert(chain, bytes.as_slice()).map_err(redb_error)?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use warden_core::ledger::{Actor, EntryBody, NewEntry};

    fn commit(key: &str) -> Commit {
        let at = Timestamp::from_millis(1_700_000_000_000).unwrap();
        Commit {
            idempotency_key: key.to_owned(),
            entries: vec![NewEntry {
                chain: "model-a".into(),
                recorded_at: at,
                idempotency_key: key.to_owned(),
                event_id: key.to_owned(),
                source: "test".into(),
                detail_type: "test".into(),
                occurred_at: at,
                model_version: None,
                actor: Actor::Automation("test".into()),
                reason: "test".into(),
                body: EntryBody::Decision { rule: "r".into(), alert: None, reasons: vec![], skipped: vec![] },
                seals: Vec::new(),
            }],
            ..Commit::default()
        }
    }

    /// A panic while a batch is in use (redb asserts on some damaged pages) drops the batch; the next write fails,
    /// naming how many commits went with it, instead of the replay reporting them recorded.
    #[test]
    fn a_batch_dropped_by_a_panic_is_reported_by_the_next_write() {
        let ledger = EmbeddedLedger::in_memory().unwrap();
        ledger.set_group_commit(100);
        for key in ["a", "b", "c"] {
            assert!(matches!(ledger.commit_sync(commit(key)).unwrap(), CommitOutcome::Committed { .. }));
        }
        let poisoned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _batch = ledger.batch.lock();
            panic!("storage engine assertion");
        }));
        assert!(poisoned.is_err());
        let error = ledger.commit_sync(commit("d")).unwrap_err();
        assert!(matches!(&error, LedgerError::Storage(m) if m.contains("3 commits")), "{error}");
        // Reported once; the ledger goes on, without the dropped commits.
        assert!(matches!(ledger.commit_sync(commit("d")).unwrap(), CommitOutcome::Committed { .. }));
        ledger.flush().unwrap();
        assert!(ledger.outcome_sync("a").unwrap().is_none());
        assert_eq!(ledger.entries_sync("model-a").unwrap().len(), 1);
    }

    /// Turning grouping off with a batch open commits the batch with the next write (it used to wait forever on
    /// redb's one write transaction).
    #[test]
    fn ungrouping_with_a_batch_open_neither_hangs_nor_loses_it() {
        let ledger = EmbeddedLedger::in_memory().unwrap();
        ledger.set_group_commit(100);
        ledger.commit_sync(commit("a")).unwrap();
        ledger.set_group_commit(1);
        ledger.commit_sync(commit("b")).unwrap();
        assert_eq!(ledger.entries_sync("model-a").unwrap().len(), 2);
        assert!(ledger.lock_batch().is_none(), "the batch was committed");
    }
}
