//! The DynamoDB ledger: the [`Ledger`] port on one table (see [`crate::schema`]).
//!
//! A commit is one `TransactWriteItems`: the idempotency marker (must not exist), one item per chain with the
//! event's entries on it (must not exist), each chain head (must still be the head we chained to), the inventory
//! records, the facts, and each cooldown mark (must still hold the value we read). A marker found before the
//! write is a duplicate; any failed condition in the write is a [`LedgerError::Conflict`], and the engine
//! re-reads and re-plans after a jittered back-off.
//!
//! The table's layout is versioned ([`schema::LAYOUT_VERSION`]): the ledger refuses, with the command that fixes
//! it, a table of another layout (`layout`), and `warden ledger migrate` moves one written by the previous
//! version.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use warden_app::ledger::Ledger;
use warden_core::inventory::{Inventory, Model};
use warden_core::ledger::{
    Commit, CommitOutcome, Entry, EventOutcome, FactQuery, FindingMark, Head, LedgerError, MarkItem, Record,
    StateAudit, StateSeal, seal_all,
};
use warden_core::policy::DecisionContext;
use warden_core::resource::Resource;
use warden_core::time::Timestamp;

mod commit;
mod inventory;
mod items;
mod layout;

pub use items::MAX_JSON_ATTRIBUTE_BYTES;
use items::{entries_of, head_of, json, key, n, number, s, state_readable, text, timestamp, to_json};
pub use layout::Migration;

use crate::errors::{Failure, classify};
use crate::schema::{self, GSI1_PK, GSI1_SK, PK, SK};

/// What must hold for a transactional put to apply.
enum Condition {
    Always,
    /// The item must not exist yet.
    New,
    /// The item's attribute must still hold the value we read.
    Equals(&'static str, AttributeValue),
}

/// A "newest wins" mark (cooldown or re-notify) to write, with the value read for the optimistic condition.
struct MarkWrite {
    key: Item,
    at: i64,
    extra: Vec<(String, AttributeValue)>,
    previous: Option<i64>,
}

/// DynamoDB takes at most 100 writes in one transaction.
pub const MAX_TRANSACTION_ITEMS: usize = 100;
/// BatchGetItem reads at most this many keys per call.
pub const MAX_BATCH_GET_KEYS: usize = 100;
/// BatchWriteItem writes at most this many items per call.
pub const MAX_BATCH_WRITE_ITEMS: usize = 25;

type Item = std::collections::HashMap<String, AttributeValue>;

/// Error codes that mean "try again later".
const RETRYABLE_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
    "TransactionConflictException",
];

#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
    stats: std::sync::Arc<WriteStats>,
    /// Set once the table's layout was checked: once per process (per Lambda container), not per event.
    layout_checked: std::sync::Arc<tokio::sync::OnceCell<()>>,
    /// Requests per partition key, when a benchmark asked for them ([`DynamoLedger::counting_partitions`]).
    partitions: Option<std::sync::Arc<std::sync::Mutex<BTreeMap<String, PartitionCount>>>>,
}

/// How often one partition key (of the table, or `gsi1:<key>` of the index) was written and read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartitionCount {
    pub writes: u64,
    pub reads: u64,
}

/// What commits cost, counted since the ledger was created (for metrics and benchmarks).
#[derive(Debug, Default)]
pub struct WriteStats {
    /// Transactions sent, whatever their result (a cancelled one costs too).
    sent: AtomicU64,
    transactions: AtomicU64,
    items: AtomicU64,
    /// Write capacity units as DynamoDB reports them, in thousandths.
    milli_wcu: AtomicU64,
    /// Write capacity units computed from the sizes of the items written, by AWS's published rules.
    computed_wcu: AtomicU64,
    /// The same for the index's copies of them (the index projects every attribute).
    computed_index_wcu: AtomicU64,
    /// The largest item a transaction wrote, in bytes by DynamoDB's rules (how far it is from the next unit).
    largest_item: AtomicU64,
    conflicts: AtomicU64,
    /// Read requests (GetItem, Query, BatchGetItem calls) and the read capacity DynamoDB reports for them.
    reads: AtomicU64,
    milli_rcu: AtomicU64,
}

/// A snapshot of [`WriteStats`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WriteCounts {
    /// Transactions sent, cancelled ones included.
    pub sent: u64,
    /// Transactions that committed.
    pub transactions: u64,
    pub items: u64,
    /// Write capacity units as DynamoDB reports them.
    pub wcu: f64,
    /// Write capacity units computed from item sizes (AWS's rules: 1 per KB rounded up per item, twice that in a
    /// transaction).
    pub computed_wcu: u64,
    /// Write units the index's copies of the written items cost on top (1 per KB of each item that has index keys,
    /// the index projecting every attribute): DynamoDB Local does not report them.
    pub computed_index_wcu: u64,
    /// The largest item a transaction wrote, in bytes.
    pub largest_item: u64,
    pub conflicts: u64,
    pub reads: u64,
    /// Read capacity units as DynamoDB reports them.
    pub rcu: f64,
}

impl WriteStats {
    pub fn snapshot(&self) -> WriteCounts {
        #[allow(clippy::cast_precision_loss)]
        let units = |milli: &AtomicU64| milli.load(Ordering::Relaxed) as f64 / 1000.0;
        WriteCounts {
            sent: self.sent.load(Ordering::Relaxed),
            transactions: self.transactions.load(Ordering::Relaxed),
            items: self.items.load(Ordering::Relaxed),
            wcu: units(&self.milli_wcu),
            computed_wcu: self.computed_wcu.load(Ordering::Relaxed),
            computed_index_wcu: self.computed_index_wcu.load(Ordering::Relaxed),
            largest_item: self.largest_item.load(Ordering::Relaxed),
            conflicts: self.conflicts.load(Ordering::Relaxed),
            reads: self.reads.load(Ordering::Relaxed),
            rcu: units(&self.milli_rcu),
        }
    }

    /// Counts one read request and the capacity DynamoDB says it consumed.
    fn read(&self, consumed: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        let rcu = consumed.and_then(aws_sdk_dynamodb::types::ConsumedCapacity::capacity_units).unwrap_or(0.0);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        self.milli_rcu.fetch_add((rcu * 1000.0).round() as u64, Ordering::Relaxed);
    }
}

/// An item's size by DynamoDB's rules: each attribute's name plus its value (strings and binaries by their bytes,
/// numbers by about one byte per two digits plus one, sets by their members).
pub(crate) fn item_bytes(item: &Item) -> usize {
    fn value_bytes(value: &AttributeValue) -> usize {
        match value {
            AttributeValue::S(text) => text.len(),
            AttributeValue::N(number) => number.len().div_ceil(2) + 1,
            AttributeValue::B(blob) => blob.as_ref().len(),
            AttributeValue::Ss(texts) => texts.iter().map(String::len).sum(),
            AttributeValue::Ns(numbers) => numbers.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
            AttributeValue::L(values) => 3 + values.iter().map(|v| 1 + value_bytes(v)).sum::<usize>(),
            AttributeValue::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value_bytes(v)).sum::<usize>(),
            _ => 1,
        }
    }
    item.iter().map(|(name, value)| name.len() + value_bytes(value)).sum()
}

/// Write units for an item: 1 per KB, rounded up (at least 1).
pub(crate) fn write_units(item: &Item) -> u64 {
    (item_bytes(item).div_ceil(1024)).max(1) as u64
}

/// Write units the index's copy of a put item costs: none when the item has no index key (the index is sparse).
pub(crate) fn index_write_units(item: &Item) -> u64 {
    if item.contains_key(GSI1_PK) { write_units(item) } else { 0 }
}

/// Maps an SDK failure onto the ledger's errors: retryable, a missing table (named, with the fix), invalid, or
/// a storage failure.
fn sdk_error<E, R>(operation: &str, table: &str, error: SdkError<E, R>) -> LedgerError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match classify(operation, &error, RETRYABLE_CODES) {
        Failure::Retryable(detail) => LedgerError::Unavailable(detail),
        Failure::NotFound(_) => LedgerError::Storage(format!(
            "{operation}: table {table:?} not found (create it with `warden ledger init --table {table}`)"
        )),
        Failure::Permanent(detail) if detail.contains("ValidationException") => LedgerError::Invalid(detail),
        Failure::Permanent(detail) => LedgerError::Storage(detail),
    }
}

fn build_error(error: impl std::fmt::Display) -> LedgerError {
    LedgerError::Invalid(format!("cannot build request: {error}"))
}

impl DynamoLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            stats: std::sync::Arc::default(),
            layout_checked: std::sync::Arc::default(),
            partitions: None,
        }
    }

    /// Counts every item written and key read per partition key from now on (for benchmarks that look for hot
    /// partitions; off by default, since every event's marker is a new key and the map would only grow).
    #[must_use]
    pub fn counting_partitions(mut self) -> Self {
        self.partitions = Some(std::sync::Arc::default());
        self
    }

    /// The counts since [`DynamoLedger::counting_partitions`] (empty when not counting).
    pub fn partition_counts(&self) -> BTreeMap<String, PartitionCount> {
        self.partitions.as_ref().map(|p| p.lock().map(|m| m.clone()).unwrap_or_default()).unwrap_or_default()
    }

    /// Records a write of `item` (its table partition and, for entries, its index partition) or a read of a key.
    fn count(&self, item: &Item, write: bool) {
        let Some(partitions) = &self.partitions else { return };
        let Ok(mut partitions) = partitions.lock() else { return };
        let keys =
            [item.get(PK).map(|k| k.as_s().cloned()), item.get(GSI1_PK).map(|k| k.as_s().map(|v| format!("gsi1:{v}")))];
        for key in keys.into_iter().flatten().flatten() {
            let count = partitions.entry(key).or_default();
            if write { count.writes += 1 } else { count.reads += 1 }
        }
    }

    /// What commits through this ledger (and its clones) have written so far.
    pub fn write_counts(&self) -> WriteCounts {
        self.stats.snapshot()
    }

    /// Region, credentials and endpoint (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`) from the environment.
    pub async fn from_env(table: impl Into<String>) -> Self {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(Client::new(&config), table)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Creates the table from [`schema::table_definition`] (for emulators and tests; production tables come from
    /// the templates). Returns false when it already exists.
    pub async fn create_table(&self) -> Result<bool, LedgerError> {
        use aws_sdk_dynamodb::types::{
            AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
            ProjectionType, ScalarAttributeType,
        };
        let element = |name: &str, kind: KeyType| {
            KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(build_error)
        };
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_error)
        };
        let index = GlobalSecondaryIndex::builder()
            .index_name(schema::GSI1)
            .key_schema(element(GSI1_PK, KeyType::Hash)?)
            .key_schema(element(GSI1_SK, KeyType::Range)?)
            .projection(Projection::builder().projection_type(ProjectionType::All).build())
            .build()
            .map_err(build_error)?;
        let result = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(element(PK, KeyType::Hash)?)
            .key_schema(element(SK, KeyType::Range)?)
            .attribute_definitions(attribute(PK)?)
            .attribute_definitions(attribute(SK)?)
            .attribute_definitions(attribute(GSI1_PK)?)
            .attribute_definitions(attribute(GSI1_SK)?)
            .global_secondary_indexes(index)
            .send()
            .await;
        match result {
            // A new table needs no layout item: one without layout-1 items is read as the current layout.
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().code() == Some("ResourceInUseException") => Ok(false),
            Err(e) => Err(sdk_error("CreateTable", &self.table, e)),
        }
    }

    async fn get(&self, key: Item) -> Result<Option<Item>, LedgerError> {
        self.count(&key, false);
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", &self.table, e))?;
        self.stats.read(output.consumed_capacity());
        Ok(output.item)
    }

    /// Every item of a partition (optionally with a sort-key prefix), strongly consistent, all pages.
    async fn query(&self, pk: String, sk_prefix: Option<&str>, limit: Option<i32>) -> Result<Vec<Item>, LedgerError> {
        self.count(&Item::from([(PK.to_owned(), s(pk.clone()))]), false);
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":pk", s(pk.clone()))
                .set_exclusive_start_key(start.take())
                .set_limit(limit);
            request = match sk_prefix {
                Some(prefix) => request
                    .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":prefix", s(prefix)),
                None => request.key_condition_expression("#pk = :pk"),
            };
            let output = request
                .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| sdk_error("Query", &self.table, e))?;
            self.stats.read(output.consumed_capacity());
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(next) if limit.is_none() => start = Some(next),
                _ => return Ok(items),
            }
        }
    }

    /// One event's entries on one chain (consecutive, sealed): one item, keyed by the first sequence number.
    /// It carries nothing its key and entries already say (the chain, the sequence numbers): every byte over a
    /// kilobyte costs two more write units in the transaction, and the index repeats the item.
    fn entries_item(entries: &[Entry]) -> Result<Item, LedgerError> {
        let Some(first) = entries.first() else {
            return Err(LedgerError::Invalid("an entries item needs at least one entry".into()));
        };
        let chain = first.chain();
        let recorded = first.entry.recorded_at.to_rfc3339();
        let mut item = key(schema::chain_pk(chain), schema::entry_sk(first.seq));
        item.insert("entries".into(), items::pack(entries)?);
        item.insert(GSI1_PK.into(), s(schema::day_pk(&recorded, chain)));
        // Index keys need not be unique: the index's items carry the table's keys, which are.
        item.insert(GSI1_SK.into(), s(recorded));
        Ok(item)
    }

    fn record_item(key_text: &str, version: u64, value: &serde_json::Value) -> Result<Item, LedgerError> {
        let mut item = key(schema::record_pk(key_text), schema::RECORD_SK);
        item.insert("value".into(), s(to_json(value)?));
        item.insert("version".into(), n(version));
        Ok(item)
    }

    fn record_of(item: &Item) -> Result<Record, LedgerError> {
        let version = u64::try_from(number(item, "version")?)
            .map_err(|e| LedgerError::Corrupt(format!("record version: {e}")))?;
        Ok(Record { version, value: json(item, "value")? })
    }

    /// A versioned record write: put (new, or replacing the version read) or a conditional delete.
    fn record_write(&self, write: &warden_core::ledger::RecordWrite) -> Result<TransactWriteItem, LedgerError> {
        let condition = match write.expected {
            None => Condition::New,
            Some(version) => Condition::Equals("version", n(version)),
        };
        match &write.value {
            Some(value) => self.put(Self::record_item(&write.key, write.next_version(), value)?, condition),
            None => {
                let mut delete = Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key(schema::record_pk(&write.key), schema::RECORD_SK)))
                    .expression_attribute_names("#attr", "version");
                delete = match write.expected {
                    Some(version) => delete
                        .condition_expression("#attr = :expected")
                        .expression_attribute_values(":expected", n(version)),
                    None => delete.condition_expression("attribute_not_exists(#attr)"),
                };
                Ok(TransactWriteItem::builder().delete(delete.build().map_err(build_error)?).build())
            }
        }
    }
}

impl DynamoLedger {
    /// Every item of the table, page by page (`verify` only: an audit reads everything).
    async fn scan_all(&self) -> Result<Vec<Item>, LedgerError> {
        self.scan(None).await
    }

    /// The items a scan's filter keeps (`expression`, with `#name`/`:value` placeholders), page by page: for
    /// audits and migration, which read everything anyway.
    async fn scan(&self, filter: Option<ScanFilter<'_>>) -> Result<Vec<Item>, LedgerError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut request =
                self.client.scan().table_name(&self.table).consistent_read(true).set_exclusive_start_key(start.take());
            if let Some(filter) = &filter {
                request = request.filter_expression(filter.expression);
                for (name, attribute) in filter.names {
                    request = request.expression_attribute_names(*name, *attribute);
                }
                for (name, value) in filter.values {
                    request = request.expression_attribute_values(*name, value.clone());
                }
                request = request.set_projection_expression(filter.projection.map(str::to_owned));
            }
            let output = request.send().await.map_err(|e| sdk_error("Scan", &self.table, e))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(next) => start = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// Puts and deletes outside a transaction, [`MAX_BATCH_WRITE_ITEMS`] per call, retrying what DynamoDB leaves
    /// unprocessed: for derived items (model lookups) and migration, where each write is idempotent.
    async fn batch_write(&self, requests: Vec<aws_sdk_dynamodb::types::WriteRequest>) -> Result<(), LedgerError> {
        for request in &requests {
            let item = request.put_request().map(|p| p.item()).or(request.delete_request().map(|d| d.key()));
            if let Some(item) = item {
                self.count(item, true);
                self.stats.computed_wcu.fetch_add(write_units(item), Ordering::Relaxed);
            }
        }
        for batch in requests.chunks(MAX_BATCH_WRITE_ITEMS) {
            let mut pending = batch.to_vec();
            let mut attempt = 0_u32;
            while !pending.is_empty() {
                if attempt == 8 {
                    return Err(LedgerError::Unavailable(format!(
                        "BatchWriteItem left {} items unprocessed",
                        pending.len()
                    )));
                }
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
                }
                attempt += 1;
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchWriteItem", &self.table, e))?;
                pending = output.unprocessed_items.and_then(|mut u| u.remove(&self.table)).unwrap_or_default();
            }
        }
        Ok(())
    }
}

/// A scan's filter expression with its placeholders.
struct ScanFilter<'a> {
    expression: &'a str,
    names: &'a [(&'a str, &'a str)],
    values: &'a [(&'a str, AttributeValue)],
    /// Only these attributes of each matching item (`None`: whole items).
    projection: Option<&'a str>,
}

fn put_request(item: Item) -> Result<aws_sdk_dynamodb::types::WriteRequest, LedgerError> {
    let put = aws_sdk_dynamodb::types::PutRequest::builder().set_item(Some(item)).build().map_err(build_error)?;
    Ok(aws_sdk_dynamodb::types::WriteRequest::builder().put_request(put).build())
}

fn delete_request(item_key: Item) -> Result<aws_sdk_dynamodb::types::WriteRequest, LedgerError> {
    let delete =
        aws_sdk_dynamodb::types::DeleteRequest::builder().set_key(Some(item_key)).build().map_err(build_error)?;
    Ok(aws_sdk_dynamodb::types::WriteRequest::builder().delete_request(delete).build())
}

/// Where a mark or finding is stored: its partition and sort key.
fn mark_key(item: &MarkItem) -> (String, String) {
    match item {
        MarkItem::Action(target) => (schema::target_pk(target), schema::LAST_ACTION_SK.to_owned()),
        MarkItem::Alert(alert_key) => (schema::alert_pk(alert_key), schema::LAST_ALERT_SK.to_owned()),
        MarkItem::Finding { model, finding } => (schema::findings_pk(model), schema::finding_sk(finding)),
    }
}

impl Ledger for DynamoLedger {
    async fn audit_state(
        &self,
        sealed_marks: &std::collections::BTreeSet<MarkItem>,
    ) -> Result<StateAudit, LedgerError> {
        let items = self.scan_all().await?;
        let mut unreadable: Vec<String> = items
            .iter()
            .filter(|item| !state_readable(item))
            .map(|item| {
                format!(
                    "stored state {} {} cannot be read",
                    text(item, PK).unwrap_or("?"),
                    text(item, SK).unwrap_or("?")
                )
            })
            .collect();
        unreadable.extend(inventory::missing_lookups(&items));
        let known: std::collections::BTreeSet<(String, String)> = sealed_marks.iter().map(mark_key).collect();
        let mut unsealed_marks = Vec::new();
        for item in items.iter().filter(|item| state_readable(item)) {
            let (Ok(pk), Ok(sk)) = (text(item, PK), text(item, SK)) else { continue };
            if (sk == schema::LAST_ACTION_SK || sk == schema::LAST_ALERT_SK)
                && !known.contains(&(pk.to_owned(), sk.to_owned()))
            {
                // Named by its key: a long target or alert key is stored as its digest.
                unsealed_marks.push((format!("mark {pk} {sk}"), timestamp(number(item, "at")?)?));
            }
        }
        Ok(StateAudit { unreadable, unsealed_marks })
    }

    async fn commit(&self, commit: Commit) -> Result<CommitOutcome, LedgerError> {
        self.ensure_layout().await?;
        self.commit_once(commit).await
    }

    async fn inventory(&self) -> Result<Inventory, LedgerError> {
        self.ensure_layout().await?;
        self.whole_inventory().await
    }

    async fn inventory_for(&self, resources: &[Resource]) -> Result<Inventory, LedgerError> {
        self.ensure_layout().await?;
        self.inventory_by_lookup(resources).await
    }

    async fn facts(&self, query: &FactQuery) -> Result<DecisionContext, LedgerError> {
        let mut context = DecisionContext::default();
        for model in &query.models {
            if !self.query(schema::findings_pk(model), Some("FINDING#"), Some(1)).await?.is_empty() {
                context.open_data_findings.insert(model.clone());
            }
        }
        for target in &query.targets {
            if let Some(millis) = self.read_mark(target).await? {
                context.last_actions.insert(target.clone(), timestamp(millis)?);
            }
        }
        for alert_key in &query.alert_keys {
            if let Some(item) = self.get(key(schema::alert_pk(alert_key), schema::LAST_ALERT_SK)).await? {
                let level = text(&item, "level")?.parse().map_err(LedgerError::Corrupt)?;
                context.last_alerts.insert(alert_key.clone(), (level, timestamp(number(&item, "at")?)?));
            }
        }
        Ok(context)
    }

    async fn chains(&self) -> Result<Vec<String>, LedgerError> {
        self.ensure_layout().await?;
        // Heads live in their chains' partitions (no partition every event writes), so listing chains is a scan:
        // only audits, exports and the hourly digest writer list every chain. The scan reads the whole table, so its
        // cost grows with the ledger (a sparse index of heads would not; not built yet). A chain is listed from its
        // entries as well as its head, so a deleted head cannot hide a chain from `verify`.
        let chain_items = ScanFilter {
            expression: "begins_with(#pk, :chain) AND (#sk = :head OR begins_with(#sk, :entry))",
            names: &[("#pk", PK), ("#sk", SK)],
            values: &[(":chain", s("CHAIN#")), (":head", s(schema::HEAD_SK)), (":entry", s("ENTRY#"))],
            // The keys only: the hourly digest writer lists chains, and holding every entries item in its memory
            // would grow with the whole ledger.
            projection: Some("#pk"),
        };
        let items = self.scan(Some(chain_items)).await?;
        let chains = items
            .iter()
            .map(|item| text(item, PK).map(|pk| pk.trim_start_matches("CHAIN#").to_owned()))
            .collect::<Result<std::collections::BTreeSet<_>, _>>()?;
        Ok(chains.into_iter().collect())
    }

    async fn entries(&self, chain: &str) -> Result<Vec<Entry>, LedgerError> {
        self.ensure_layout().await?;
        let items = self.query(schema::chain_pk(chain), Some("ENTRY#"), None).await?;
        let mut entries = Vec::new();
        for item in &items {
            entries.extend(entries_of(item)?);
        }
        Ok(entries)
    }

    async fn head(&self, chain: &str) -> Result<Option<Head>, LedgerError> {
        self.ensure_layout().await?;
        self.read_head(chain).await
    }

    async fn records(&self, keys: &[String]) -> Result<BTreeMap<String, Record>, LedgerError> {
        let mut found = BTreeMap::new();
        let items = self.batch_get(keys.iter().map(|k| key(schema::record_pk(k), schema::RECORD_SK)).collect()).await?;
        // Matched by partition key, not parsed from it: a long key is stored as its digest.
        for record_key in keys {
            let pk = schema::record_pk(record_key);
            if let Some(item) = items.iter().find(|item| text(item, PK) == Ok(pk.as_str())) {
                found.insert(record_key.clone(), Self::record_of(item)?);
            }
        }
        Ok(found)
    }

    async fn outcome(&self, idempotency_key: &str) -> Result<Option<EventOutcome>, LedgerError> {
        self.read_outcome(idempotency_key).await
    }

    async fn stored_marks(&self, items: &[MarkItem]) -> Result<BTreeMap<MarkItem, StateSeal>, LedgerError> {
        let keys: Vec<(String, String)> = items.iter().map(mark_key).collect();
        let stored = self.batch_get(keys.iter().map(|(pk, sk)| key(pk.clone(), sk)).collect()).await?;
        let mut found = BTreeMap::new();
        for (item, (pk, sk)) in items.iter().zip(&keys) {
            // Matched by key, not parsed from it: a long key is stored as its digest.
            let Some(stored) = stored.iter().find(|i| text(i, PK) == Ok(pk.as_str()) && text(i, SK) == Ok(sk.as_str()))
            else {
                continue;
            };
            let seal = match item {
                MarkItem::Action(target) => StateSeal::of_action_mark(target, timestamp(number(stored, "at")?)?),
                MarkItem::Alert(alert_key) => {
                    let level = text(stored, "level")?.parse().map_err(LedgerError::Corrupt)?;
                    StateSeal::of_alert_mark(alert_key, level, timestamp(number(stored, "at")?)?)
                }
                MarkItem::Finding { model, finding } => StateSeal::of_finding(&FindingMark {
                    model_id: model.clone(),
                    finding_id: finding.clone(),
                    open: true,
                }),
            };
            found.insert(item.clone(), seal);
        }
        Ok(found)
    }

    async fn mark_delivered(&self, idempotency_key: &str, effect: &str) -> Result<(), LedgerError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(schema::marker_pk(idempotency_key), schema::MARKER_SK)))
            .update_expression("ADD delivered :effect")
            .condition_expression("attribute_exists(#pk)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":effect", AttributeValue::Ss(vec![effect.to_owned()]))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) if e.err().code() == Some("ConditionalCheckFailedException") => {
                Err(LedgerError::Invalid(format!("no event with idempotency key {idempotency_key:?}")))
            }
            Err(e) => Err(sdk_error("UpdateItem", &self.table, e)),
        }
    }

    async fn pause_before_retry(&self, attempt: u32) {
        // Full jitter over an exponential window: 10 ms, 20 ms, ... capped at 1.28 s.
        let window = 10_u64 << attempt.min(7);
        tokio::time::sleep(Duration::from_millis(fastrand::u64(1..=window))).await;
    }
}

/// Direct edits of stored entries, to prove `verify` catches tampering (tests only). `position` counts entries in
/// storage order (from 1), across the items that hold them, as a script editing the table would find them.
#[cfg(feature = "conformance")]
impl warden_app::conformance::Tamper for DynamoLedger {
    async fn overwrite_entry(&self, chain: &str, position: u64, entry: Option<&Entry>) -> Result<(), LedgerError> {
        let items = self.query(schema::chain_pk(chain), Some("ENTRY#"), None).await?;
        let mut before = 0_u64;
        for item in items {
            let mut stored = entries_of(&item)?;
            let count = stored.len() as u64;
            if position > before + count {
                before += count;
                continue;
            }
            let index = usize::try_from(position - before - 1).map_err(|e| LedgerError::Invalid(e.to_string()))?;
            match entry {
                Some(entry) => stored[index] = entry.clone(),
                None => {
                    stored.remove(index);
                }
            }
            let item_key = key(text(&item, PK)?.to_owned(), text(&item, SK)?);
            let request = if stored.is_empty() {
                delete_request(item_key)?
            } else {
                let mut edited = item.clone();
                match item.contains_key("entries") {
                    true => edited.insert("entries".into(), items::pack(&stored)?),
                    false => edited.insert("entry".into(), s(to_json(&stored[0])?)),
                };
                put_request(edited)?
            };
            return self.batch_write(vec![request]).await;
        }
        Err(LedgerError::Invalid(format!("chain {chain} has no entry at position {position}")))
    }

    async fn overwrite_record(&self, key_text: &str, record: Option<&Record>) -> Result<(), LedgerError> {
        let request = match record {
            Some(record) => put_request(Self::record_item(key_text, record.version, &record.value)?)?,
            None => delete_request(key(schema::record_pk(key_text), schema::RECORD_SK))?,
        };
        self.batch_write(vec![request]).await
    }

    async fn overwrite_mark(&self, item: &MarkItem, at: Option<Timestamp>) -> Result<(), LedgerError> {
        let (mut stored, extra) = match item {
            MarkItem::Action(target) => (key(schema::target_pk(target), schema::LAST_ACTION_SK), None),
            MarkItem::Alert(alert_key) => (key(schema::alert_pk(alert_key), schema::LAST_ALERT_SK), Some("low")),
            MarkItem::Finding { model, finding } => {
                (key(schema::findings_pk(model), schema::finding_sk(finding)), None)
            }
        };
        let request = match at {
            None => delete_request(stored)?,
            Some(at) => {
                if !matches!(item, MarkItem::Finding { .. }) {
                    stored.insert("at".into(), n(at.millis()));
                }
                if let Some(level) = extra {
                    stored.insert("level".into(), s(level.to_owned()));
                }
                put_request(stored)?
            }
        };
        self.batch_write(vec![request]).await
    }

    async fn overwrite_head(&self, chain: &str, head: &Head) -> Result<(), LedgerError> {
        let mut item = key(schema::chain_pk(chain), schema::HEAD_SK);
        item.insert("seq".into(), n(head.seq));
        item.insert("hash".into(), s(head.hash.clone()));
        self.batch_write(vec![put_request(item)?]).await
    }
}
