//! Evidence export: ledger entries flattened into rows an auditor can read, each with the duty it evidences
//! and whether its chain verified. Pure: the caller reads the ledger and runs `verify`.

use serde::Serialize;

use crate::ledger::{Actor, Entry, EntryBody, VerifyReport, is_unattributed};
use crate::severity::Band;
use crate::time::Timestamp;

/// Which entries to export.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this model's chain.
    pub model: Option<String>,
    /// Only entries about events that happened at or after this time.
    pub since: Option<Timestamp>,
}

/// One exported entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceRow {
    pub chain: String,
    pub seq: u64,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
    /// `signal`, `decision`, `action`, `inventory` or `rejected`.
    pub record: &'static str,
    pub model: Option<String>,
    pub model_version: Option<String>,
    pub source: String,
    pub detail_type: String,
    pub event_id: String,
    pub actor: String,
    pub reason: String,
    /// What happened, was decided or was done, in one line.
    pub summary: String,
    pub alert: Option<Band>,
    pub action: Option<String>,
    pub target: Option<String>,
    pub mode: Option<String>,
    pub hash: String,
    /// Whether the entry's whole chain verified when exported.
    pub chain_verified: bool,
    /// The record-keeping or oversight duty this entry evidences (indicative, not legal advice).
    pub evidences: &'static str,
}

/// The duty an entry evidences, mapped to the EU AI Act's record-keeping (Art. 12), human oversight (Art. 14)
/// and technical documentation (Art. 11) provisions.
pub fn duty(body: &EntryBody, actor: &Actor) -> &'static str {
    match (body, actor) {
        (EntryBody::Signal { .. }, _) => {
            "EU AI Act Art. 12(1)-(2): automatic recording of events relevant to risk and post-market monitoring"
        }
        (EntryBody::Decision { .. }, _) => {
            "EU AI Act Art. 12(2) and Art. 14(4)(a): the monitoring outcome and the rule that decided it"
        }
        (EntryBody::Action { .. } | EntryBody::BreakGlass { .. }, Actor::Person(_) | Actor::Direct(_)) => {
            "EU AI Act Art. 14(4)(d)-(e): a person overriding, intervening in or stopping the system"
        }
        (EntryBody::Action { .. } | EntryBody::BreakGlass { .. }, Actor::Automation(_)) => {
            "EU AI Act Art. 14(4)(e): intervening in or stopping the system, under a recorded rule"
        }
        (EntryBody::Switch { .. }, _) => {
            "EU AI Act Art. 14(4)(e): a person stopping (or resuming) the system's automated interventions"
        }
        (EntryBody::Inventory { .. }, _) => {
            "EU AI Act Art. 11 and Annex IV(1): intended purpose, risk classification and responsible owner"
        }
        (EntryBody::Rejected { .. }, _) => {
            "EU AI Act Art. 12(1): a complete event record, including inputs that could not be processed"
        }
    }
}

fn row(entry: &Entry, chain_verified: bool) -> EvidenceRow {
    let e = &entry.entry;
    let (record, summary, alert, action, target, mode) = match &e.body {
        EntryBody::Signal { summary, severity, .. } => {
            ("signal", format!("{summary} ({} severity)", severity.band()), None, None, None, None)
        }
        EntryBody::Decision { rule, alert, reasons, .. } => {
            let why = if reasons.is_empty() { format!("rule {rule}") } else { reasons.join("; ") };
            ("decision", why, *alert, None, None, None)
        }
        EntryBody::Action { action, target, mode, config, status } => {
            let config = config.as_deref().map(|c| format!(" (config {c})")).unwrap_or_default();
            (
                "action",
                format!("{action} {target}{config}, {mode}, {status:?}"),
                None,
                Some(action.to_string()),
                Some(target.clone()),
                Some(mode.to_string()),
            )
        }
        EntryBody::BreakGlass { request_id, operation, target, phase, note, .. } => (
            "break-glass",
            format!("{operation} {target}: {phase}; {note} (request {request_id})"),
            None,
            Some(operation.to_string()),
            Some(target.clone()),
            Some(if *phase == crate::action::Phase::Shadowed { "shadow" } else { "enforce" }.to_owned()),
        ),
        EntryBody::Inventory { summary } => ("inventory", summary.clone(), None, None, None, None),
        EntryBody::Switch { name, on, reason } => {
            let state = if *on { "on" } else { "off" };
            ("switch", format!("{name} turned {state}: {reason}"), None, None, None, None)
        }
        EntryBody::Rejected { code, error, body_sha256, .. } => {
            ("rejected", format!("{code}: {error} (body sha256:{body_sha256})"), None, None, None, None)
        }
    };
    EvidenceRow {
        chain: e.chain.clone(),
        seq: entry.seq,
        occurred_at: e.occurred_at,
        recorded_at: e.recorded_at,
        record,
        model: (!is_unattributed(&e.chain)).then(|| e.chain.clone()),
        model_version: e.model_version.clone(),
        source: e.source.clone(),
        detail_type: e.detail_type.clone(),
        event_id: e.event_id.clone(),
        actor: e.actor.to_string(),
        reason: e.reason.clone(),
        summary,
        alert,
        action,
        target,
        mode,
        hash: entry.hash.clone(),
        chain_verified,
        evidences: duty(&e.body, &e.actor),
    }
}

/// Rows for the chains' entries that pass the filter, in chain then sequence order.
pub fn rows(chains: &[(String, Vec<Entry>)], verification: &VerifyReport, filter: &Filter) -> Vec<EvidenceRow> {
    chains
        .iter()
        .filter(|(chain, _)| filter.model.as_ref().is_none_or(|m| m == chain))
        .flat_map(|(chain, entries)| {
            let verified = !verification.failures.iter().any(|f| f.chain == *chain);
            entries
                .iter()
                .filter(|e| filter.since.is_none_or(|since| e.entry.occurred_at >= since))
                .map(move |e| row(e, verified))
        })
        .collect()
}

/// An export document: what was exported, whether the ledger verified, then the rows.
#[derive(Debug, Serialize)]
pub struct Export<'a> {
    pub generated_at: Timestamp,
    pub ledger: String,
    pub model: Option<&'a str>,
    pub since: Option<Timestamp>,
    pub verification: &'a VerifyReport,
    pub verified: bool,
    pub entries: &'a [EvidenceRow],
}

/// The CSV columns, in order.
pub const CSV_COLUMNS: &[&str] = &[
    "chain",
    "seq",
    "occurred_at",
    "recorded_at",
    "record",
    "model",
    "model_version",
    "source",
    "detail_type",
    "event_id",
    "actor",
    "reason",
    "summary",
    "alert",
    "action",
    "target",
    "mode",
    "hash",
    "chain_verified",
    "evidences",
];

/// Quotes a CSV field when it holds a comma, quote or line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text.to_owned() }
}

impl EvidenceRow {
    /// The row as one RFC 4180 CSV line (no line break), columns as [`CSV_COLUMNS`].
    pub fn to_csv(&self) -> String {
        let opt = |v: &Option<String>| v.clone().unwrap_or_default();
        [
            self.chain.clone(),
            self.seq.to_string(),
            self.occurred_at.to_string(),
            self.recorded_at.to_string(),
            self.record.to_owned(),
            opt(&self.model),
            opt(&self.model_version),
            self.source.clone(),
            self.detail_type.clone(),
            self.event_id.clone(),
            self.actor.clone(),
            self.reason.clone(),
            self.summary.clone(),
            self.alert.map(|a| a.to_string()).unwrap_or_default(),
            opt(&self.action),
            opt(&self.target),
            opt(&self.mode),
            self.hash.clone(),
            self.chain_verified.to_string(),
            self.evidences.to_owned(),
        ]
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }
}
