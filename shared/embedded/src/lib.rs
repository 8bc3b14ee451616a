//! The embedded ledger: one redb file, Warden's local default.
//!
//! Why redb: pure Rust (no C toolchain, quick to build on two cores), ACID with crash-safe commits, and one
//! write transaction can cover everything an event writes (idempotency marker, entries, chain heads,
//! inventory, facts), which is exactly the atomicity the ledger port promises. SQLite would do too, but adds a
//! C build and SQL for what is a handful of key-value tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use warden_app::ledger::Ledger;
use warden_core::inventory::{Inventory, InventoryIndex, Model};
use warden_core::ledger::{Commit, CommitOutcome, Entry, EventOutcome, FactQuery, Head, LedgerError, Record, seal_all};
use warden_core::policy::DecisionContext;
use warden_core::resource::Resource;
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
    /// Write transactions between two durable ones: 1 (the default) makes every commit durable when it returns.
    /// A replay raises it (group commit): each input's commit stays atomic, and a crash loses at most the
    /// commits since the last durable one, which replaying again redoes (idempotency makes that safe).
    group: AtomicU32,
    since_durable: AtomicU32,
    /// The decoded inventory, kept current by this ledger's own commits (redb lets one process open the file, so
    /// nothing else writes it): reading it no longer decodes every model for every event.
    inventory: Mutex<Option<(Inventory, InventoryIndex)>>,
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
            since_durable: AtomicU32::new(0),
            inventory: Mutex::new(None),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn db(&self) -> Result<&Database, LedgerError> {
        self.db.as_ref().ok_or_else(|| LedgerError::Storage("the embedded ledger is closed".into()))
    }

    /// Makes every `n`th write transaction durable and the ones between not (group commit); `flush` or dropping
    /// the ledger makes the rest durable. `n = 1` is every commit durable.
    pub fn set_group_commit(&self, n: u32) {
        self.group.store(n.max(1), Ordering::Relaxed);
    }

    /// Makes every commit so far durable.
    pub fn flush(&self) -> Result<(), LedgerError> {
        if self.since_durable.load(Ordering::Relaxed) == 0 {
            return Ok(());
        }
        let txn = self.db()?.begin_write().map_err(redb_error)?;
        txn.commit().map_err(redb_error)?;
        self.since_durable.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// A write transaction, durable or not as the group commit says, and whether it is durable. The count of
    /// transactions since the last durable one is reset only by [`Self::committed`]: a durable transaction that is
    /// dropped (a duplicate, a conflict) leaves the next one durable instead.
    fn begin_write(&self) -> Result<(redb::WriteTransaction, bool), LedgerError> {
        let mut txn = self.db()?.begin_write().map_err(redb_error)?;
        let pending = self.since_durable.fetch_add(1, Ordering::Relaxed) + 1;
        let durable = pending >= self.group.load(Ordering::Relaxed);
        if !durable {
            txn.set_durability(redb::Durability::None).map_err(|e| storage(e.to_string()))?;
        }
        Ok((txn, durable))
    }

    /// Commits a transaction from [`Self::begin_write`].
    fn committed(&self, txn: redb::WriteTransaction, durable: bool) -> Result<(), LedgerError> {
        txn.commit().map_err(redb_error)?;
        if durable {
            self.since_durable.store(0, Ordering::Relaxed);
        }
        Ok(())
    }

    fn commit_sync(&self, commit: Commit) -> Result<CommitOutcome, LedgerError> {
        if commit.idempotency_key.is_empty() {
            return Err(LedgerError::Invalid("empty idempotency key".into()));
        }
        let (txn, durable) = self.begin_write()?;
        let sealed = {
            let mut markers = txn.open_table(MARKERS).map_err(redb_error)?;
            if let Some(existing) = markers.get(commit.idempotency_key.as_str()).map_err(redb_error)? {
                let original: EventOutcome =
                    serde_json::from_slice(existing.value()).map_err(|e| corrupt("marker", e))?;
                return Ok(CommitOutcome::Duplicate { original });
            }
            let outcome = serde_json::to_vec(&commit.outcome).map_err(storage)?;
            markers.insert(commit.idempotency_key.as_str(), outcome.as_slice()).map_err(redb_error)?;

            let mut heads_table = txn.open_table(HEADS).map_err(redb_error)?;
            let mut entries = txn.open_table(ENTRIES).map_err(redb_error)?;
            let mut heads: BTreeMap<String, Option<Head>> = BTreeMap::new();
            for entry in &commit.entries {
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
            let sealed = seal_all(commit.entries, &mut heads)?;
            for entry in &sealed {
                let bytes = serde_json::to_vec(entry).map_err(storage)?;
                // Never over an existing entry (a head moved back by hand): the transaction is dropped, not committed.
                if entries.insert((entry.chain(), entry.seq), bytes.as_slice()).map_err(redb_error)?.is_some() {
                    return Err(LedgerError::Corrupt(format!(
                        "chain {} already holds an entry at {}: its head is behind its entries (`warden ledger verify` \
                         names the damage); nothing was written",
                        entry.chain(),
                        entry.seq
                    )));
                }
            }
            for (chain, head) in &heads {
                if let Some(head) = head {
                    let bytes = serde_json::to_vec(head).map_err(storage)?;
                    heads_table.insert(chain.as_str(), bytes.as_slice()).map_err(redb_error)?;
                }
            }
            let mut models = txn.open_table(MODELS).map_err(redb_error)?;
            for model in &commit.models {
                let bytes = serde_json::to_vec(model).map_err(storage)?;
                models.insert(model.id.as_str(), bytes.as_slice()).map_err(redb_error)?;
            }
            let mut marks = txn.open_table(ACTION_MARKS).map_err(redb_error)?;
            for (target, at) in &commit.action_marks {
                let newer = marks.get(target.as_str()).map_err(redb_error)?.is_none_or(|m| m.value() < at.millis());
                if newer {
                    marks.insert(target.as_str(), at.millis()).map_err(redb_error)?;
                }
            }
            let mut alerts = txn.open_table(ALERT_MARKS).map_err(redb_error)?;
            for (key, level, at) in &commit.alert_marks {
                let previous =
                    alerts.get(key.as_str()).map_err(redb_error)?.map(|v| decode_alert_mark(v.value())).transpose()?;
                if previous.is_none_or(|(_, last)| last <= *at) {
                    let bytes = serde_json::to_vec(&(level, at.millis())).map_err(storage)?;
                    alerts.insert(key.as_str(), bytes.as_slice()).map_err(redb_error)?;
                }
            }
            let mut records = txn.open_table(RECORDS).map_err(redb_error)?;
            for write in &commit.records {
                let stored = records
                    .get(write.key.as_str())
                    .map_err(redb_error)?
                    .map(|v| serde_json::from_slice::<Record>(v.value()))
                    .transpose()
                    .map_err(|e| corrupt("record", e))?;
                let version = stored.map(|r| r.version);
                if version != write.expected {
                    // Dropping the transaction without committing discards everything written above.
                    return Err(LedgerError::Conflict(format!(
                        "record {} is at version {version:?}, not {:?}",
                        write.key, write.expected
                    )));
                }
                match &write.value {
                    Some(value) => {
                        let record = Record { version: write.next_version(), value: value.clone() };
                        let bytes = serde_json::to_vec(&record).map_err(storage)?;
                        records.insert(write.key.as_str(), bytes.as_slice()).map_err(redb_error)?;
                    }
                    None => {
                        records.remove(write.key.as_str()).map_err(redb_error)?;
                    }
                }
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
            sealed
        };
        self.committed(txn, durable)?;
        if let Ok(mut cached) = self.inventory.lock()
            && let Some((inventory, index)) = cached.as_mut()
        {
            for model in commit.models {
                index.update(&model);
                inventory.upsert(model);
            }
        }
        Ok(CommitOutcome::Committed { entries: sealed })
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
        if cached.is_none() {
            let inventory = self.read_inventory()?;
            let index = InventoryIndex::of(&inventory);
            *cached = Some((inventory, index));
        }
        cached.as_ref().map(|(inventory, index)| read(inventory, index)).ok_or_else(|| storage("no inventory"))
    }

    fn read_inventory(&self) -> Result<Inventory, LedgerError> {
        let txn = self.db()?.begin_read().map_err(redb_error)?;
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
    }

    fn facts_sync(&self, query: &FactQuery) -> Result<DecisionContext, LedgerError> {
        let txn = self.db()?.begin_read().map_err(redb_error)?;
        let findings = txn.open_table(OPEN_FINDINGS).map_err(redb_error)?;
        // Open findings hold no value, but walking them reads their pages.
        for row in txn.open_table(OPEN_FINDINGS).map_err(redb_error)?.iter().map_err(redb_error)? {
            row.map_err(redb_error)?;
        }
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
                let at = Timestamp::from_millis(mark.value()).ok_or_else(|| corrupt("action mark", mark.value()))?;
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
    }

    fn chains_sync(&self) -> Result<Vec<String>, LedgerError> {
        let txn = self.db()?.begin_read().map_err(redb_error)?;
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
    }

    fn entries_sync(&self, chain: &str) -> Result<Vec<Entry>, LedgerError> {
        let txn = self.db()?.begin_read().map_err(redb_error)?;
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
    }

    fn head_sync(&self, chain: &str) -> Result<Option<Head>, LedgerError> {
        let txn = self.db()?.begin_read().map_err(redb_error)?;
        let table = txn.open_table(HEADS).map_err(redb_error)?;
        table
            .get(chain)
            .map_err(redb_error)?
            .map(|h| serde_json::from_slice(h.value()).map_err(|e| corrupt("head", e)))
            .transpose()
    }
}

fn decode_alert_mark(bytes: &[u8]) -> Result<(warden_core::severity::Band, Timestamp), LedgerError> {
    let (level, millis): (warden_core::severity::Band, i64) =
        serde_json::from_slice(bytes).map_err(|e| corrupt("alert mark", e))?;
    Ok((level, Timestamp::from_millis(millis).ok_or_else(|| corrupt("alert mark", millis))?))
}

impl EmbeddedLedger {
    fn records_sync(&self, keys: &[String]) -> Result<BTreeMap<String, Record>, LedgerError> {
        let txn = self.db()?.begin_read().map_err(redb_error)?;
        let table = txn.open_table(RECORDS).map_err(redb_error)?;
        let mut found = BTreeMap::new();
        for key in keys {
            if let Some(value) = table.get(key.as_str()).map_err(redb_error)? {
                let record: Record = serde_json::from_slice(value.value()).map_err(|e| corrupt("record", e))?;
                found.insert(key.clone(), record);
            }
        }
        Ok(found)
    }

    fn outcome_sync(&self, key: &str) -> Result<Option<EventOutcome>, LedgerError> {
        let txn = self.db()?.begin_read().map_err(redb_error)?;
        let table = txn.open_table(MARKERS).map_err(redb_error)?;
        table
            .get(key)
            .map_err(redb_error)?
            .map(|v| serde_json::from_slice(v.value()).map_err(|e| corrupt("marker", e)))
            .transpose()
    }

    fn state_problems_sync(&self) -> Result<Vec<String>, LedgerError> {
        let txn = self.db()?.begin_read().map_err(redb_error)?;
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
    }

    fn mark_delivered_sync(&self, key: &str, effect: &str) -> Result<(), LedgerError> {
        let (txn, durable) = self.begin_write()?;
        {
            let mut markers = txn.open_table(MARKERS).map_err(redb_error)?;
            let current = markers.get(key).map_err(redb_error)?.map(|v| v.value().to_vec());
            let Some(current) = current else {
                return Err(LedgerError::Invalid(format!("no event with idempotency key {key:?}")));
            };
            let mut outcome: EventOutcome = serde_json::from_slice(&current).map_err(|e| corrupt("marker", e))?;
            if outcome.delivered.insert(effect.to_owned()) {
                let bytes = serde_json::to_vec(&outcome).map_err(storage)?;
                markers.insert(key, bytes.as_slice()).map_err(redb_error)?;
            }
        }
        self.committed(txn, durable)
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

    async fn state_problems(&self) -> Result<Vec<String>, LedgerError> {
        guarded(|| self.state_problems_sync())
    }
}

/// Direct edits of stored entries, to prove `verify` catches tampering.
#[cfg(feature = "conformance")]
impl warden_app::conformance::Tamper for EmbeddedLedger {
    async fn overwrite_entry(&self, chain: &str, position: u64, entry: Option<&Entry>) -> Result<(), LedgerError> {
        let txn = self.db()?.begin_write().map_err(redb_error)?;
        {
            let mut table = txn.open_table(ENTRIES).map_err(redb_error)?;
            match entry {
                Some(entry) => {
                    let bytes = serde_json::to_vec(entry).map_err(storage)?;
                    table.insert((chain, position), bytes.as_slice()).map_err(redb_error)?;
                }
                None => {
                    table.remove((chain, position)).map_err(redb_error)?;
                }
            }
        }
        txn.commit().map_err(redb_error)
    }
}
