//! Item mapping: attribute values in and out, and what makes a stored item readable. Every value Warden writes
//! to the table goes through here, so DynamoDB's limits are checked in one place.

// The adapter's own vocabulary (SDK types, schema, the ledger model) is the parent module's.
use super::*;

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(super) fn key(pk: String, sk: impl Into<String>) -> Item {
    Item::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

pub(super) fn text<'a>(item: &'a Item, name: &str) -> Result<&'a str, LedgerError> {
    match item.get(name) {
        Some(AttributeValue::S(value)) => Ok(value),
        _ => Err(LedgerError::Corrupt(format!("item {:?} has no string attribute {name:?}", item.get(SK)))),
    }
}

pub(super) fn number(item: &Item, name: &str) -> Result<i64, LedgerError> {
    match item.get(name) {
        Some(AttributeValue::N(value)) => value.parse().map_err(|e| LedgerError::Corrupt(format!("{name}: {e}"))),
        _ => Err(LedgerError::Corrupt(format!("item {:?} has no number attribute {name:?}", item.get(SK)))),
    }
}

pub(super) fn head_of(item: &Item) -> Result<Head, LedgerError> {
    let seq = u64::try_from(number(item, "seq")?).map_err(|e| LedgerError::Corrupt(format!("head seq: {e}")))?;
    Ok(Head { seq, hash: text(item, "hash")?.to_owned() })
}

/// The entries an entries item holds: layout 2 keeps one event's entries on a chain in one item (`entries`,
/// deflated); layout 1 kept one entry per item (`entry`), and migrated tables still hold those, byte for byte.
pub(super) fn entries_of(item: &Item) -> Result<Vec<Entry>, LedgerError> {
    match item.get("entries") {
        Some(AttributeValue::B(packed)) => unpack(packed.as_ref()),
        Some(_) => Err(LedgerError::Corrupt(format!("item {:?}: entries is not binary", item.get(SK)))),
        None => Ok(vec![json(item, "entry")?]),
    }
}

/// One event's entries on a chain repeat its envelope (keys, source, times, actor) and so deflate to about a
/// third: a typical event's item then stays under the 1 KB write unit (a transactional write costs 2 WCU per KB).
pub(super) fn pack(entries: &[Entry]) -> Result<AttributeValue, LedgerError> {
    use std::io::Write;
    let text = to_json(&entries)?;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(text.as_bytes()).map_err(|e| LedgerError::Invalid(format!("deflate: {e}")))?;
    let packed = encoder.finish().map_err(|e| LedgerError::Invalid(format!("deflate: {e}")))?;
    Ok(AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(packed)))
}

/// What one entries item may inflate to: an edited item cannot make a reader exhaust its memory.
const MAX_INFLATED_BYTES: u64 = 16 * 1024 * 1024;

fn unpack(packed: &[u8]) -> Result<Vec<Entry>, LedgerError> {
    use std::io::Read;
    let mut text = Vec::new();
    flate2::read::DeflateDecoder::new(packed)
        .take(MAX_INFLATED_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|e| LedgerError::Corrupt(format!("entries do not inflate: {e}")))?;
    if text.len() as u64 > MAX_INFLATED_BYTES {
        return Err(LedgerError::Corrupt(format!("entries inflate past {MAX_INFLATED_BYTES} bytes")));
    }
    serde_json::from_slice(&text).map_err(|e| LedgerError::Corrupt(format!("entries: {e}")))
}

pub(super) fn timestamp(millis: i64) -> Result<Timestamp, LedgerError> {
    Timestamp::from_millis(millis).ok_or_else(|| LedgerError::Corrupt(format!("timestamp {millis}")))
}

pub(super) fn json<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> Result<T, LedgerError> {
    serde_json::from_str(text(item, name)?).map_err(|e| LedgerError::Corrupt(format!("{name}: {e}")))
}

/// DynamoDB's item limit is 400 KB; keys and small attributes need the rest.
pub const MAX_JSON_ATTRIBUTE_BYTES: usize = 380 * 1024;

/// Serialises an attribute, refusing one DynamoDB would reject, with a message that says what grew too big.
pub(super) fn to_json(value: &impl serde::Serialize) -> Result<String, LedgerError> {
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

/// Whether a state item (not an entry or a model, which their own reads check) reads back.
pub(super) fn state_readable(item: &Item) -> bool {
    match text(item, SK).unwrap_or_default() {
        schema::MARKER_SK => json::<EventOutcome>(item, "outcome").is_ok(),
        schema::RECORD_SK => DynamoLedger::record_of(item).is_ok(),
        schema::LAST_ACTION_SK => number(item, "at").is_ok_and(|at| Timestamp::from_millis(at).is_some()),
        schema::LAST_ALERT_SK => {
            text(item, "level").is_ok_and(|l| l.parse::<warden_core::severity::Band>().is_ok())
                && number(item, "at").is_ok_and(|at| Timestamp::from_millis(at).is_some())
        }
        schema::HEAD_SK => head_of(item).is_ok(),
        schema::LAYOUT_SK => number(item, "version").is_ok(),
        _ => true,
    }
}
