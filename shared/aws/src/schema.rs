//! The ledger table's one-table design: the single source of truth for its keys, index and item layout, used by
//! the adapter, by `warden ledger init`, and (through `warden ledger schema`) checked against the SAM and CDK
//! templates. `docs/ledger-table.md` explains the access patterns.
//!
//! | item | pk | sk | other attributes |
//! |---|---|---|---|
//! | entry | `CHAIN#<chain>` | `ENTRY#<seq, 20 digits>` | `entry` (JSON), `seq`, `hash`, `gsi1pk` = `DAY#<yyyy-mm-dd>`, `gsi1sk` = `<recorded_at>#<chain>#<seq>` |
//! | chain head | `HEADS` | `CHAIN#<chain>` | `seq`, `hash` |
//! | idempotency marker | `EVENT#<idempotency key>` | `MARKER` | `outcome` (JSON), `delivered` (string set of effects) |
//! | model | `INVENTORY` | `MODEL#<id>` | `model` (JSON) |
//! | open data finding | `FINDINGS#<model id>` | `FINDING#<finding id>` | |
//! | last action on a target | `TARGET#<endpoint or package>` | `LAST_ACTION` | `at` (epoch ms) |
//! | last alert that paged about a finding or alarm | `ALERT#<alert key>` | `LAST_ALERT` | `level`, `at` (epoch ms) |
//! | versioned record (break-glass action, lock, breaker window) | `RECORD#<key>` | `RECORD` | `value` (JSON), `version` |
//!
//! Heads and the inventory each live in one partition so they can be read with strong consistency in one Query;
//! Warden's write rate (governance events) is far below a partition's limits.

use serde_json::{Value, json};

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";

pub const HEADS_PK: &str = "HEADS";
pub const INVENTORY_PK: &str = "INVENTORY";
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

pub fn head_sk(chain: &str) -> String {
    format!("CHAIN#{chain}")
}

pub fn marker_pk(key: &str) -> String {
    format!("EVENT#{key}")
}

pub fn model_sk(id: &str) -> String {
    format!("MODEL#{id}")
}

pub fn findings_pk(model: &str) -> String {
    format!("FINDINGS#{model}")
}

pub fn finding_sk(finding: &str) -> String {
    format!("FINDING#{finding}")
}

pub fn target_pk(target: &str) -> String {
    format!("TARGET#{target}")
}

pub fn record_pk(key: &str) -> String {
    format!("RECORD#{key}")
}

pub fn alert_pk(key: &str) -> String {
    format!("ALERT#{key}")
}

/// The day partition of the time-range index.
pub fn day_pk(rfc3339: &str) -> String {
    format!("DAY#{}", rfc3339.get(..10).unwrap_or(rfc3339))
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
