//! The ledger table's one-table design: the single source of truth for its keys, index and item layout, used by
//! the adapter, by `warden ledger init` and `warden ledger migrate`, and (through `warden ledger schema`) checked
//! against the SAM and CDK templates. `docs/ledger-table.md` explains the access patterns.
//!
//! Layout 2 (this one) has no partition that every event touches:
//!
//! | item | pk | sk | other attributes |
//! |---|---|---|---|
//! | layout | `LAYOUT` | `VERSION` | `version` (2), `migrating` (while `warden ledger migrate` runs) |
//! | one event's entries on one chain | `CHAIN#<chain>` | `ENTRY#<first seq, 20 digits>` | `entries` (the entries' JSON array, raw-deflated), `gsi1pk` = `DAY#<yyyy-mm-dd>#<shard of chain>`, `gsi1sk` = `<recorded_at>` (earlier items also `first`, `last`, and `#<chain>#<first seq>` after the time) |
//! | chain head | `CHAIN#<chain>` | `HEAD` | `seq`, `hash` |
//! | idempotency marker | `EVENT#<idempotency key>` | `MARKER` | `outcome` (JSON), `delivered` (string set of effects) |
//! | model | `MODELS#<shard of id>` | `MODEL#<id>` | `model` (JSON) |
//! | model lookup | `LOOKUP#<kind>:<name>` | `MODEL#<id>` | (the key finds that model: an endpoint, config, bucket, role, package or group) |
//! | open data finding | `FINDINGS#<model id>` | `FINDING#<finding id>` | |
//! | last action on a target | `TARGET#<endpoint or package>` | `LAST_ACTION` | `at` (epoch ms) |
//! | last alert that paged about a finding or alarm | `ALERT#<alert key>` | `LAST_ALERT` | `level`, `at` (epoch ms) |
//! | versioned record (break-glass action, lock, breaker window) | `RECORD#<key>` | `RECORD` | `value` (JSON), `version` |
//!
//! Layout 1 kept every head in one `HEADS` partition, every model in one `INVENTORY` partition, one item per
//! entry (`entry`, `seq`, `hash`) and one index partition per day; `warden ledger migrate` moves a table from it
//! (entries keep their bytes: only their index key changes).

use serde_json::{Value, json};
use warden_core::digest::content_digest;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";

/// The layout this adapter reads and writes.
pub const LAYOUT_VERSION: i64 = 2;
pub const LAYOUT_PK: &str = "LAYOUT";
pub const LAYOUT_SK: &str = "VERSION";
pub const HEAD_SK: &str = "HEAD";
/// Model items and the time index are spread over this many partitions each.
pub const SHARDS: u8 = 32;
/// Layout 1's partitions, read only by `warden ledger migrate` (and by the check that refuses a layout-1 table).
pub const V1_HEADS_PK: &str = "HEADS";
pub const V1_INVENTORY_PK: &str = "INVENTORY";
pub const MARKER_SK: &str = "MARKER";
pub const LAST_ACTION_SK: &str = "LAST_ACTION";
pub const LAST_ALERT_SK: &str = "LAST_ALERT";
pub const RECORD_SK: &str = "RECORD";

pub fn chain_pk(chain: &str) -> String {
    format!("CHAIN#{chain}")
}

/// Zero-padded so entries sort by sequence number.
pub fn entry_sk(seq: u64) -> String {
    format!("ENTRY#{seq:020}")
}

/// Layout 1's head item's sort key (in the `HEADS` partition).
pub fn v1_head_sk(chain: &str) -> String {
    format!("CHAIN#{chain}")
}

/// A stable shard number for a key (the first byte of its SHA-256), so the same chain or model always lands in
/// the same partition.
pub fn shard_of(key: &str) -> u8 {
    let first_byte = u8::from_str_radix(&content_digest(key.as_bytes())[..2], 16).unwrap_or(0);
    first_byte % SHARDS
}

/// The partition of a model's item.
pub fn models_pk(model: &str) -> String {
    format!("MODELS#{:02}", shard_of(model))
}

/// Every model partition, for a read of the whole inventory.
pub fn all_models_pks() -> impl Iterator<Item = String> {
    (0..SHARDS).map(|shard| format!("MODELS#{shard:02}"))
}

/// The longest name kept as it is in a key. DynamoDB limits a partition key to 2,048 bytes and a sort key to 1,024,
/// and names from events are bounded in characters (1,024), not bytes: a longer one is keyed by its digest, so any
/// name Warden accepts can key an item.
pub const MAX_KEY_PART_BYTES: usize = 1000;

fn key_part(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= MAX_KEY_PART_BYTES {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(format!("sha256:{}", content_digest(text.as_bytes())))
    }
}

/// The lookup item of a key from [`warden_core::inventory::lookup_keys_of`].
pub fn lookup_pk(lookup_key: &str) -> String {
    format!("LOOKUP#{}", key_part(lookup_key))
}

pub fn marker_pk(key: &str) -> String {
    format!("EVENT#{}", key_part(key))
}

pub fn model_sk(id: &str) -> String {
    format!("MODEL#{id}")
}

pub fn findings_pk(model: &str) -> String {
    format!("FINDINGS#{model}")
}

pub fn finding_sk(finding: &str) -> String {
    format!("FINDING#{}", key_part(finding))
}

pub fn target_pk(target: &str) -> String {
    format!("TARGET#{}", key_part(target))
}

pub fn record_pk(key: &str) -> String {
    format!("RECORD#{}", key_part(key))
}

pub fn alert_pk(key: &str) -> String {
    format!("ALERT#{}", key_part(key))
}

/// The time-range index partition of a chain's entries on a day: a day's entries are spread over [`SHARDS`]
/// partitions by chain, so no index partition takes every entry of a day (a range read queries each shard).
pub fn day_pk(rfc3339: &str, chain: &str) -> String {
    format!("DAY#{}#{:02}", rfc3339.get(..10).unwrap_or(rfc3339), shard_of(chain))
}

/// The table definition as CloudFormation/CreateTable-shaped JSON: key schema, attributes and the GSI.
/// Billing, encryption and recovery settings are the templates' business; keys and indexes come from here.
pub fn table_definition() -> Value {
    json!({
        "AttributeDefinitions": [
            {"AttributeName": PK, "AttributeType": "S"},
            {"AttributeName": SK, "AttributeType": "S"},
            {"AttributeName": GSI1_PK, "AttributeType": "S"},
            {"AttributeName": GSI1_SK, "AttributeType": "S"}
        ],
        "KeySchema": [
            {"AttributeName": PK, "KeyType": "HASH"},
            {"AttributeName": SK, "KeyType": "RANGE"}
        ],
        "GlobalSecondaryIndexes": [{
            "IndexName": GSI1,
            "KeySchema": [
                {"AttributeName": GSI1_PK, "KeyType": "HASH"},
                {"AttributeName": GSI1_SK, "KeyType": "RANGE"}
            ],
            "Projection": {"ProjectionType": "ALL"}
        }],
        "BillingMode": "PAY_PER_REQUEST"
    })
}
