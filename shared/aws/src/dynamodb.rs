//! The DynamoDB ledger: the [`Ledger`] port on one table (see [`crate::schema`]).
//!
//! A commit is one `TransactWriteItems`: the idempotency marker (must not exist), each entry (must not exist),
//! each chain head (must still be the head we chained to), the inventory records, the facts, and each cooldown
//! mark (must still hold the value we read). A marker that exists is a duplicate; any other failed condition is
//! a [`LedgerError::Conflict`], and the engine re-reads and re-plans after a jittered back-off.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use warden_app::ledger::Ledger;
use warden_core::digest::content_digest;
use warden_core::inventory::{Inventory, Model};
use warden_core::ledger::{Commit, CommitOutcome, Entry, EventOutcome, FactQuery, Head, LedgerError, Record, seal_all};
use warden_core::policy::DecisionContext;
use warden_core::time::Timestamp;

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
}

/// What commits cost, counted since the ledger was created (for metrics and benchmarks).
#[derive(Debug, Default)]
pub struct WriteStats {
    transactions: AtomicU64,
    items: AtomicU64,
    /// Write capacity units as DynamoDB reports them, in thousandths.
    milli_wcu: AtomicU64,
    conflicts: AtomicU64,
}

/// A snapshot of [`WriteStats`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WriteCounts {
    pub transactions: u64,
    pub items: u64,
    pub wcu: f64,
    pub conflicts: u64,
}

impl WriteStats {
    pub fn snapshot(&self) -> WriteCounts {
        #[allow(clippy::cast_precision_loss)]
        let wcu = self.milli_wcu.load(Ordering::Relaxed) as f64 / 1000.0;
        WriteCounts {
            transactions: self.transactions.load(Ordering::Relaxed),
            items: self.items.load(Ordering::Relaxed),
            wcu,
            conflicts: self.conflicts.load(Ordering::Relaxed),
        }
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: String, sk: impl Into<String>) -> Item {
    Item::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn text<'a>(item: &'a Item, name: &str) -> Result<&'a str, LedgerError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(LedgerError::Corrupt(format!("item {:?} has no string attribute {name:?}", item.get(SK)))),
    }
}

fn number(item: &Item, name: &str) -> Result<i64, LedgerError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|e| LedgerError::Corrupt(format!("{name}: {e}"))),
        _ => Err(LedgerError::Corrupt(format!("item {:?} has no number attribute {name:?}", item.get(SK)))),
    }
}

fn head_of(item: &Item) -> Result<Head, LedgerError> {
    let seq = u64::try_from(number(item, "seq")?).map_err(|e| LedgerError::Corrupt(format!("head seq: {e}")))?;
    Ok(Head { seq, hash: text(item, "hash")?.to_owned() })
}

fn timestamp(millis: i64) -> Result<Timestamp, LedgerError> {
    Timestamp::from_millis(millis).ok_or_else(|| LedgerError::Corrupt(format!("timestamp {millis}")))
}

fn json<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> Result<T, LedgerError> {
    serde_json::from_str(text(item, name)?).map_err(|e| LedgerError::Corrupt(format!("{name}: {e}")))
}

/// DynamoDB's item limit is 400 KB; keys and small attributes need the rest.
pub const MAX_JSON_ATTRIBUTE_BYTES: usize = 380 * 1024;

/// Serialises an attribute, refusing one DynamoDB would reject, with a message that says what grew too big.
fn to_json(value: &impl serde::Serialize) -> Result<String, LedgerError> {
    let text = serde_json::to_string(value).map_err(|e| LedgerError::Invalid(e.to_string()))?;
    if text.len() > MAX_JSON_ATTRIBUTE_BYTES {
        let head: String = text.chars().take(120).collect();
        return Err(LedgerError::Invalid(format!(
            "a ledger item of {} bytes exceeds DynamoDB's 400 KB item limit: {head}...",
            text.len()
        )));
    }
    Ok(text)
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
        Self { client, table: table.into(), stats: std::sync::Arc::default() }
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
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().code() == Some("ResourceInUseException") => Ok(false),
            Err(e) => Err(sdk_error("CreateTable", &self.table, e)),
        }
    }

    async fn get(&self, key: Item) -> Result<Option<Item>, LedgerError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem", &self.table, e))?;
        Ok(output.item)
    }

    /// Every item of a partition (optionally with a sort-key prefix), strongly consistent, all pages.
    async fn query(&self, pk: String, sk_prefix: Option<&str>, limit: Option<i32>) -> Result<Vec<Item>, LedgerError> {
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
            let output = request.send().await.map_err(|e| sdk_error("Query", &self.table, e))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(next) if limit.is_none() => start = Some(next),
                _ => return Ok(items),
            }
        }
    }

    fn entry_item(entry: &Entry) -> Result<Item, LedgerError> {
        let recorded = entry.entry.recorded_at.to_rfc3339();
        let mut item = key(schema::chain_pk(entry.chain()), schema::entry_sk(entry.seq));
        item.insert("entry".into(), s(to_json(entry)?));
        item.insert("seq".into(), n(entry.seq));
        item.insert("hash".into(), s(entry.hash.clone()));
        item.insert(GSI1_PK.into(), s(schema::day_pk(&recorded)));
        item.insert(GSI1_SK.into(), s(format!("{recorded}#{}#{:020}", entry.chain(), entry.seq)));
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

    fn put(&self, item: Item, condition: Condition) -> Result<TransactWriteItem, LedgerError> {
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match condition {
            Condition::Always => put,
            Condition::New => {
                put.condition_expression("attribute_not_exists(#pk)").expression_attribute_names("#pk", PK)
            }
            Condition::Equals(attribute, value) => put
                .condition_expression("#attr = :expected")
                .expression_attribute_names("#attr", attribute)
                .expression_attribute_values(":expected", value),
        };
        Ok(TransactWriteItem::builder().put(put.build().map_err(build_error)?).build())
    }

    fn commit_items(
        &self,
        commit: &Commit,
        sealed: &[Entry],
        heads: &BTreeMap<String, Option<Head>>,
        marks: &[MarkWrite],
    ) -> Result<Vec<TransactWriteItem>, LedgerError> {
        let mut items = Vec::new();
        let mut marker = key(schema::marker_pk(&commit.idempotency_key), schema::MARKER_SK);
        marker.insert("outcome".into(), s(to_json(&commit.outcome)?));
        items.push(self.put(marker, Condition::New)?);
        for entry in sealed {
            items.push(self.put(Self::entry_item(entry)?, Condition::New)?);
        }
        let mut new_heads: BTreeMap<&str, Head> = BTreeMap::new();
        for entry in sealed {
            new_heads.insert(entry.chain(), entry.head());
        }
        for (chain, head) in new_heads {
            let mut item = key(schema::HEADS_PK.to_owned(), schema::head_sk(chain));
            item.insert("seq".into(), n(head.seq));
            item.insert("hash".into(), s(head.hash));
            // The head must still be the one we chained to: another writer may have moved it.
            let condition = match heads.get(chain).and_then(Option::as_ref) {
                None => Condition::New,
                Some(previous) => Condition::Equals("hash", s(previous.hash.clone())),
            };
            items.push(self.put(item, condition)?);
        }
        for model in &commit.models {
            let mut item = key(schema::INVENTORY_PK.to_owned(), schema::model_sk(&model.id));
            item.insert("model".into(), s(to_json(model)?));
            items.push(self.put(item, Condition::Always)?);
        }
        for mark in marks {
            if mark.previous.is_some_and(|p| p >= mark.at) {
                continue; // a newer mark is already there
            }
            let mut item = mark.key.clone();
            item.insert("at".into(), n(mark.at));
            item.extend(mark.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
            // The mark must still hold what we read: a concurrent writer may have moved it.
            let condition = match mark.previous {
                None => Condition::New,
                Some(p) => Condition::Equals("at", n(p)),
            };
            items.push(self.put(item, condition)?);
        }
        let mut findings: BTreeMap<(&str, &str), bool> = BTreeMap::new();
        for mark in &commit.findings {
            findings.insert((mark.model_id.as_str(), mark.finding_id.as_str()), mark.open);
        }
        for ((model, finding), open) in findings {
            let item_key = key(schema::findings_pk(model), schema::finding_sk(finding));
            items.push(if open {
                self.put(item_key, Condition::Always)?
            } else {
                let delete =
                    Delete::builder().table_name(&self.table).set_key(Some(item_key)).build().map_err(build_error)?;
                TransactWriteItem::builder().delete(delete).build()
            });
        }
        for write in &commit.records {
            items.push(self.record_write(write)?);
        }
        if items.len() > MAX_TRANSACTION_ITEMS {
            return Err(LedgerError::Invalid(format!(
                "one event would write {} items; a DynamoDB transaction takes at most {MAX_TRANSACTION_ITEMS}",
                items.len()
            )));
        }
        Ok(items)
    }

    async fn read_head(&self, chain: &str) -> Result<Option<Head>, LedgerError> {
        match self.get(key(schema::HEADS_PK.to_owned(), schema::head_sk(chain))).await? {
            Some(item) => Ok(Some(head_of(&item)?)),
            None => Ok(None),
        }
    }

    /// Strongly consistent BatchGetItem of up to 100 keys, following unprocessed keys.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, LedgerError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = Vec::new();
        let mut pending = keys;
        for attempt in 0..8_u32 {
            if pending.is_empty() {
                return Ok(found);
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(true)
                .build()
                .map_err(build_error)?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", &self.table, e))?;
            found.extend(output.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
            pending =
                output.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).map(|k| k.keys).unwrap_or_default();
            if !pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
            }
        }
        Err(LedgerError::Unavailable(format!("BatchGetItem left {} keys unprocessed", pending.len())))
    }

    async fn read_mark(&self, target: &str) -> Result<Option<i64>, LedgerError> {
        match self.get(key(schema::target_pk(target), schema::LAST_ACTION_SK)).await? {
            Some(item) => Ok(Some(number(&item, "at")?)),
            None => Ok(None),
        }
    }

    async fn commit_once(&self, commit: Commit) -> Result<CommitOutcome, LedgerError> {
        if commit.idempotency_key.is_empty() {
            return Err(LedgerError::Invalid("empty idempotency key".into()));
        }
        // Newest wins, per mark item, within the commit and against what is stored.
        let mut newest: BTreeMap<(String, &'static str), MarkWrite> = BTreeMap::new();
        let mut propose = |pk: String, sk: &'static str, at: Timestamp, extra: Vec<(String, AttributeValue)>| {
            let mark = MarkWrite { key: key(pk.clone(), sk), at: at.millis(), extra, previous: None };
            match newest.get(&(pk.clone(), sk)) {
                Some(existing) if existing.at >= mark.at => {}
                _ => {
                    newest.insert((pk, sk), mark);
                }
            }
        };
        for (target, at) in &commit.action_marks {
            propose(schema::target_pk(target), schema::LAST_ACTION_SK, *at, Vec::new());
        }
        for (alert_key, level, at) in &commit.alert_marks {
            propose(
                schema::alert_pk(alert_key),
                schema::LAST_ALERT_SK,
                *at,
                vec![("level".to_owned(), s(level.as_str()))],
            );
        }
        let mut marks: Vec<MarkWrite> = newest.into_values().collect();
        let chains: std::collections::BTreeSet<&str> = commit.entries.iter().map(|e| e.chain.as_str()).collect();
        // One strongly consistent read for every head and mark the transaction is conditioned on: the shorter
        // the gap between this read and the write, the fewer conflicts under concurrent writers.
        let mut keys: Vec<Item> = chains.iter().map(|c| key(schema::HEADS_PK.to_owned(), schema::head_sk(c))).collect();
        keys.extend(marks.iter().map(|m| m.key.clone()));
        let current = self.batch_get(keys).await?;
        let found = |item_key: &Item| {
            current.iter().find(|item| item.get(PK) == item_key.get(PK) && item.get(SK) == item_key.get(SK))
        };
        let mut heads: BTreeMap<String, Option<Head>> = BTreeMap::new();
        for chain in chains {
            let head = match found(&key(schema::HEADS_PK.to_owned(), schema::head_sk(chain))) {
                Some(item) => Some(head_of(item)?),
                None => None,
            };
            heads.insert(chain.to_owned(), head);
        }
        for mark in &mut marks {
            mark.previous = match found(&mark.key) {
                Some(item) => Some(number(item, "at")?),
                None => None,
            };
        }
        let read_heads = heads.clone();
        let sealed = seal_all(commit.entries.clone(), &mut heads)?;
        let items = self.commit_items(&commit, &sealed, &read_heads, &marks)?;
        let item_count = items.len() as u64;
        // The token makes an SDK-level resend of this exact request idempotent for ten minutes. DynamoDB scopes
        // tokens per account, so it must identify the request itself: table, event and every sealed entry.
        let identity: Vec<&str> = [self.table.as_str(), commit.idempotency_key.as_str()]
            .into_iter()
            .chain(sealed.iter().map(|e| e.hash.as_str()))
            .collect();
        let token = content_digest(identity.join("#").as_bytes());
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(&token[..36])
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(output) => {
                let wcu: f64 = output.consumed_capacity().iter().filter_map(|c| c.capacity_units()).sum();
                self.stats.transactions.fetch_add(1, Ordering::Relaxed);
                self.stats.items.fetch_add(item_count, Ordering::Relaxed);
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                self.stats.milli_wcu.fetch_add((wcu * 1000.0).round() as u64, Ordering::Relaxed);
                Ok(CommitOutcome::Committed { entries: sealed })
            }
            Err(SdkError::ServiceError(service)) => match service.err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    let codes: Vec<&str> =
                        cancelled.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None")).collect();
                    if codes.first() == Some(&"ConditionalCheckFailed") {
                        return self.duplicate(&commit.idempotency_key).await;
                    }
                    if codes.iter().any(|c| *c == "ConditionalCheckFailed" || *c == "TransactionConflict") {
                        self.stats.conflicts.fetch_add(1, Ordering::Relaxed);
                        return Err(LedgerError::Conflict(format!(
                            "TransactWriteItems cancelled: {}",
                            codes.join(", ")
                        )));
                    }
                    if codes.iter().any(|c| c.contains("Throughput") || c.contains("Throttl")) {
                        return Err(LedgerError::Unavailable(format!(
                            "TransactWriteItems cancelled: {}",
                            codes.join(", ")
                        )));
                    }
                    Err(LedgerError::Storage(format!("TransactWriteItems cancelled: {}", codes.join(", "))))
                }
                TransactWriteItemsError::IdempotentParameterMismatchException(_) => {
                    Err(LedgerError::Conflict("a different request used this client token".into()))
                }
                _ => Err(sdk_error("TransactWriteItems", &self.table, SdkError::ServiceError(service))),
            },
            Err(other) => Err(sdk_error("TransactWriteItems", &self.table, other)),
        }
    }

    async fn duplicate(&self, idempotency_key: &str) -> Result<CommitOutcome, LedgerError> {
        match self.read_outcome(idempotency_key).await? {
            Some(original) => Ok(CommitOutcome::Duplicate { original }),
            None => Err(LedgerError::Conflict("idempotency marker vanished after a conflict".into())),
        }
    }

    async fn read_outcome(&self, idempotency_key: &str) -> Result<Option<EventOutcome>, LedgerError> {
        let Some(item) = self.get(key(schema::marker_pk(idempotency_key), schema::MARKER_SK)).await? else {
            return Ok(None);
        };
        let mut outcome: EventOutcome = json(&item, "outcome")?;
        if let Some(AttributeValue::Ss(delivered)) = item.get("delivered") {
            outcome.delivered.extend(delivered.iter().cloned());
        }
        Ok(Some(outcome))
    }
}

impl DynamoLedger {
    /// Every item of the table, page by page (`verify` only: an audit reads everything).
    async fn scan_all(&self) -> Result<Vec<Item>, LedgerError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let output = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("Scan", &self.table, e))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(next) => start = Some(next),
                None => return Ok(items),
            }
        }
    }
}

/// Whether a state item (not an entry or a model, which their own reads check) reads back.
fn state_readable(item: &Item) -> bool {
    match text(item, SK).unwrap_or_default() {
        schema::MARKER_SK => json::<EventOutcome>(item, "outcome").is_ok(),
        schema::RECORD_SK => DynamoLedger::record_of(item).is_ok(),
        schema::LAST_ACTION_SK => number(item, "at").is_ok_and(|at| Timestamp::from_millis(at).is_some()),
        schema::LAST_ALERT_SK => {
            text(item, "level").is_ok_and(|l| l.parse::<warden_core::severity::Band>().is_ok())
                && number(item, "at").is_ok_and(|at| Timestamp::from_millis(at).is_some())
        }
        sk if sk.starts_with("CHAIN#") && text(item, PK) == Ok(schema::HEADS_PK) => head_of(item).is_ok(),
        _ => true,
    }
}

impl Ledger for DynamoLedger {
    async fn unreadable_state(&self) -> Result<Vec<String>, LedgerError> {
        let items = self.scan_all().await?;
        Ok(items
            .iter()
            .filter(|item| !state_readable(item))
            .map(|item| format!("{} {}", text(item, PK).unwrap_or("?"), text(item, SK).unwrap_or("?")))
            .collect())
    }

    async fn commit(&self, commit: Commit) -> Result<CommitOutcome, LedgerError> {
        self.commit_once(commit).await
    }

    async fn inventory(&self) -> Result<Inventory, LedgerError> {
        let items = self.query(schema::INVENTORY_PK.to_owned(), Some("MODEL#"), None).await?;
        let mut models = Vec::new();
        let mut unreadable = std::collections::BTreeSet::new();
        for item in &items {
            match json::<Model>(item, "model") {
                Ok(model) => models.push(model),
                // One damaged record must not stop every other model's events.
                Err(_) => {
                    unreadable.insert(text(item, SK)?.trim_start_matches("MODEL#").to_owned());
                }
            }
        }
        Ok(Inventory::from_stored(models, unreadable))
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
        let items = self.query(schema::HEADS_PK.to_owned(), Some("CHAIN#"), None).await?;
        let mut chains = items
            .iter()
            .map(|item| text(item, SK).map(|sk| sk.trim_start_matches("CHAIN#").to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        chains.sort();
        Ok(chains)
    }

    async fn entries(&self, chain: &str) -> Result<Vec<Entry>, LedgerError> {
        let items = self.query(schema::chain_pk(chain), Some("ENTRY#"), None).await?;
        items.iter().map(|item| json::<Entry>(item, "entry")).collect()
    }

    async fn head(&self, chain: &str) -> Result<Option<Head>, LedgerError> {
        self.read_head(chain).await
    }

    async fn records(&self, keys: &[String]) -> Result<BTreeMap<String, Record>, LedgerError> {
        let mut found = BTreeMap::new();
        for batch in keys.chunks(100) {
            let items =
                self.batch_get(batch.iter().map(|k| key(schema::record_pk(k), schema::RECORD_SK)).collect()).await?;
            for item in &items {
                let pk = text(item, PK)?;
                let record_key = pk.strip_prefix("RECORD#").unwrap_or(pk).to_owned();
                found.insert(record_key, Self::record_of(item)?);
            }
        }
        Ok(found)
    }

    async fn outcome(&self, idempotency_key: &str) -> Result<Option<EventOutcome>, LedgerError> {
        self.read_outcome(idempotency_key).await
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

/// Direct edits of stored entries, to prove `verify` catches tampering (tests only).
#[cfg(feature = "conformance")]
impl warden_app::conformance::Tamper for DynamoLedger {
    async fn overwrite_entry(&self, chain: &str, position: u64, entry: Option<&Entry>) -> Result<(), LedgerError> {
        let item_key = key(schema::chain_pk(chain), schema::entry_sk(position));
        match entry {
            Some(entry) => {
                let mut item = Self::entry_item(entry)?;
                item.extend(item_key);
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .send()
                    .await
                    .map_err(|e| sdk_error("PutItem", &self.table, e))?;
            }
            None => {
                self.client
                    .delete_item()
                    .table_name(&self.table)
                    .set_key(Some(item_key))
                    .send()
                    .await
                    .map_err(|e| sdk_error("DeleteItem", &self.table, e))?;
            }
        }
        Ok(())
    }
}
