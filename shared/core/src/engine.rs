//! The governance pipeline's pure part: normalise, update the inventory, correlate, decide, and describe the
//! [`Commit`] to write. Given an event, the inventory and the ledger facts, [`plan_commit`] returns the commit and the
//! report; `warden-app`'s ingest adds the ledger reads and the commit around it, so the same decision runs in
//! the CLI, in a Lambda function and in a unit test.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::AlertContext;
use crate::event::{self, DecodeError, Event};
use crate::inventory::{Affected, Inventory, Model};
use crate::ledger::{
    ActionStatus, Actor, Commit, EntryBody, EventOutcome, FactQuery, FindingMark, NewEntry, unattributed_chain,
};
use crate::placement::Placement;
use crate::policy::{Decision, DecisionContext, PlannedAction, Policy, SkippedAction};
use crate::resource::{Resource, package_group_of};
use crate::severity::Band;
use crate::signal::{Signal, SignalClass};
use crate::time::Timestamp;

/// What happened to one input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Applied,
    Duplicate,
    Rejected,
}

/// A short, stable id for the decision about an event: alerts and bus events carry it, so subscribers can
/// drop repeats and people can find it in the ledger.
pub fn decision_id(idempotency_key: &str) -> String {
    format!("wd-{}", &crate::digest::content_digest(idempotency_key.as_bytes())[..20])
}

/// The result of ingesting one input, for people and machines.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub decision_id: String,
    pub idempotency_key: String,
    /// Whether the alert pages now (false when there is no alert, or inside the re-notify window).
    pub notify: bool,
    /// Effects already delivered for this decision (on a duplicate after a partial failure).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub delivered: BTreeSet<String>,
    pub event_id: Option<String>,
    pub source: Option<String>,
    pub detail_type: Option<String>,
    pub status: Status,
    pub occurred_at: Option<Timestamp>,
    pub summary: String,
    pub models: Vec<String>,
    pub alert: Option<Band>,
    pub actions: Vec<PlannedAction>,
    pub skipped: Vec<SkippedAction>,
    pub rules: Vec<String>,
    pub error: Option<String>,
    /// Account, region, console link and the affected models' owners and tiers, for alerts.
    pub context: AlertContext,
}

/// An event after the inventory has seen it, ready for the ledger facts and the policy.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub event: Event,
    pub signal: Signal,
    pub inventory: Inventory,
    /// Models whose inventory record this event changed.
    pub changed: BTreeSet<String>,
    /// `warden:*` tags that disagreed with the inventory and were not applied.
    pub conflicts: Vec<crate::inventory::TagConflict>,
    pub affected: Vec<Affected>,
}

/// Updates the inventory from the event and finds the models the signal affects. Pure.
pub fn prepare(event: Event, inventory: Inventory, home: &Placement) -> Prepared {
    let signal = Signal::from_event_at(&event, home);
    prepare_signal(event, signal, inventory, home)
}

/// Every resource `prepare` may look a model up by: the signal's, and what the inventory's own updates consult (an
/// IAM role's ARN in its configuration item). A ledger that indexes its inventory reads only these models.
pub fn inventory_lookup(event: &Event, signal: &Signal) -> Vec<Resource> {
    let mut lookup = signal.resources.clone();
    if let crate::event::Detail::ConfigItemChange(change) = &event.detail {
        lookup.extend(change.item().and_then(|item| item.arn.clone()).map(Resource::IamRole));
    }
    lookup
}

/// [`prepare`], with the event's signal already made. `home` is the account and region Warden governs from, where
/// models with no account or region run (unknown parts match any).
pub fn prepare_signal(event: Event, mut signal: Signal, mut inventory: Inventory, home: &Placement) -> Prepared {
    let observation = inventory.observe(&event, home);
    // A refused `warden:model` tag does not reach the model it named: tagging must not write to any model's chain.
    let refused: Vec<&str> = observation.conflicts.iter().filter_map(|c| c.refused_model.as_deref()).collect();
    signal.resources.retain(|r| !matches!(r, Resource::Model(id) if refused.contains(&id.as_str())));
    let mut affected = inventory.affected(&signal.resources, &signal.placement, home);
    // A conflict is news for the model whose record it disagrees with, even if the signal does not name it, if that
    // model runs where the event happened: a model elsewhere is never decided on (its endpoints could be acted on);
    // the conflict goes with the unattributed record instead.
    for conflict in &observation.conflicts {
        let here = inventory.get(&conflict.model_id).is_some_and(|m| m.runs_at(&signal.placement, home));
        if here && !affected.iter().any(|a| a.model_id == conflict.model_id) {
            affected.push(Affected { model_id: conflict.model_id.clone(), via: conflict.resource.clone() });
        }
    }
    Prepared { event, signal, inventory, changed: observation.changed, conflicts: observation.conflicts, affected }
}

impl Prepared {
    /// The ledger facts the decision needs.
    pub fn fact_query(&self) -> FactQuery {
        // Only what an action could target: the model's endpoints, the package the signal names, the newest
        // package and the group (so the read stays small however many versions a model accumulates).
        let mut targets = BTreeSet::new();
        for model in self.affected.iter().filter_map(|a| self.inventory.get(&a.model_id)) {
            targets.extend(model.endpoints.iter().map(|e| model.endpoint_target(&e.name)));
            targets.extend(model.latest_package().map(|p| p.arn.clone()));
            targets.extend(model.model_package_group.as_deref().map(|group| model.group_target(group)));
            targets.extend(self.signal.resources.iter().filter_map(|r| match r {
                Resource::ModelPackage(arn) if model.owns(r) => Some(arn.clone()),
                _ => None,
            }));
        }
        FactQuery {
            models: self.affected.iter().map(|a| a.model_id.clone()).collect(),
            targets: targets.into_iter().collect(),
            alert_keys: self.signal.alert_key().into_iter().collect(),
        }
    }
}

/// Decides and describes everything to record. Pure.
pub fn plan_commit(
    prepared: Prepared,
    policy: &Policy,
    context: &DecisionContext,
    actor: &Actor,
    recorded_at: Timestamp,
) -> (Commit, Report) {
    let Prepared { event, mut signal, mut inventory, mut changed, conflicts, affected } = prepared;
    let mut decisions: Vec<(Option<&Affected>, Decision)> = if affected.is_empty() {
        vec![(None, policy.decide(&signal, None, context))]
    } else {
        affected.iter().map(|a| (Some(a), policy.decide(&signal, inventory.get(&a.model_id), context))).collect()
    };
    // A tag that disagreed with the inventory is a governance anomaly: recorded with the decision, alerted at
    // medium at least, whatever the rule said.
    for (link, decision) in &mut decisions {
        // A conflict about a model no decision is about (a tag naming a model of another account) goes with every
        // decision: it must not vanish because the event also concerned some other model.
        let undecided = |c: &&crate::inventory::TagConflict| !affected.iter().any(|a| a.model_id == c.model_id);
        for conflict in conflicts.iter().filter(|c| link.is_none_or(|a| a.model_id == c.model_id) || undecided(c)) {
            decision.reasons.push(conflict.to_string());
            decision.alert = decision.alert.max(Some(Band::Medium));
        }
    }
    if let Some(first) = conflicts.first() {
        signal.summary =
            crate::event::bounded(&format!("{}; {first}", signal.summary), crate::signal::MAX_SUMMARY_CHARS);
    }

    let mut commit = Commit { idempotency_key: signal.idempotency_key.clone(), ..Commit::default() };
    for (link, decision) in &decisions {
        let model = link.and_then(|a| inventory.get(&a.model_id));
        let chain = link.map_or_else(|| unattributed_chain(&signal.idempotency_key), |a| a.model_id.clone());
        let version = model.and_then(|m| model_version(&signal, m));
        let entry = |reason: String, body: EntryBody| {
            signal_entry(&signal, chain.clone(), version.clone(), actor, recorded_at, reason, body)
        };
        commit.entries.push(entry(
            signal.summary.clone(),
            EntryBody::Signal {
                class: signal.class,
                signal_kind: signal.kind.clone(),
                summary: signal.summary.clone(),
                severity: decision.severity,
                resources: signal.resources.clone(),
                via: link.map(|a| a.via.clone()),
            },
        ));
        commit.entries.push(entry(
            decision.reasons.join("; "),
            EntryBody::Decision {
                rule: decision.rule.clone(),
                alert: decision.alert,
                reasons: decision.reasons.clone(),
                skipped: decision.skipped.clone(),
            },
        ));
        for action in &decision.actions {
            commit.entries.push(entry(
                format!("rule {}: {}", decision.rule, signal.summary),
                EntryBody::Action {
                    action: action.kind,
                    target: action.target.clone(),
                    mode: action.mode,
                    config: action.config.clone(),
                    status: ActionStatus::Planned,
                },
            ));
            commit.action_marks.push((action.target.clone(), signal.occurred_at));
        }
    }

    // After acting against an endpoint's config, it is no longer a rollback target.
    for (link, decision) in &decisions {
        let Some(link) = link else { continue };
        for action in decision.actions.iter().filter(|a| a.kind != crate::action::RuleAction::Gate) {
            if inventory.mark_current_suspect(&link.model_id, &action.target) {
                changed.insert(link.model_id.clone());
            }
        }
        // A sample finding never opens anything: it would hold the model's next approval.
        if let (SignalClass::SensitiveData, Some(finding), false) = (signal.class, &signal.finding, signal.sample) {
            commit.findings.push(FindingMark {
                model_id: link.model_id.clone(),
                finding_id: finding.id.clone(),
                open: !finding.archived,
            });
        }
    }
    commit.models = changed.iter().filter_map(|id| inventory.get(id).cloned()).collect();
    seal_models(&mut commit, &signal, actor, recorded_at);

    let actions: Vec<PlannedAction> = decisions.iter().flat_map(|(_, d)| d.actions.iter().cloned()).collect();
    let alert = decisions.iter().filter_map(|(_, d)| d.alert).max();
    let models: Vec<String> = affected.iter().map(|a| a.model_id.clone()).collect();
    // Page on the first alert about a finding or alarm, then again only when its severity rises or the window
    // has passed. The mark keeps the severity band weighed, not the alert level a rule pinned.
    let severity = decisions.iter().map(|(_, d)| d.severity.band()).max().unwrap_or(Band::Info);
    let notify = match (alert, signal.alert_key()) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(_), Some(key)) => {
            let page = policy.should_notify(severity, signal.occurred_at, context.last_alerts.get(&key));
            if page {
                commit.alert_marks.push((key, severity, signal.occurred_at));
            }
            page
        }
    };
    // Where the resources are: a delegated administrator's finding about a member names the member.
    let context = AlertContext {
        account: signal.placement.account.clone(),
        region: signal.placement.region.clone(),
        console_url: signal.console_url.clone(),
        models: AlertContext::summarise(&affected, &inventory),
    };
    commit.outcome = EventOutcome {
        models: models.clone(),
        alert,
        actions: actions.clone(),
        summary: signal.summary.clone(),
        notify,
        delivered: BTreeSet::new(),
        context: context.clone(),
    };
    let report = Report {
        decision_id: decision_id(&signal.idempotency_key),
        idempotency_key: signal.idempotency_key.clone(),
        notify,
        delivered: BTreeSet::new(),
        event_id: Some(event.id),
        source: Some(event.source),
        detail_type: Some(event.detail_type),
        status: Status::Applied,
        occurred_at: Some(signal.occurred_at),
        summary: signal.summary,
        models,
        alert,
        actions,
        skipped: decisions.iter().flat_map(|(_, d)| d.skipped.iter().cloned()).collect(),
        rules: decisions.iter().map(|(_, d)| d.rule.clone()).collect(),
        error: None,
        context,
    };
    (commit, report)
}

/// An entry about `signal` on `chain`: the envelope every entry of one event shares.
fn signal_entry(
    signal: &Signal,
    chain: String,
    model_version: Option<String>,
    actor: &Actor,
    recorded_at: Timestamp,
    reason: String,
    body: EntryBody,
) -> NewEntry {
    NewEntry {
        chain,
        recorded_at,
        idempotency_key: signal.idempotency_key.clone(),
        event_id: signal.event_id.clone(),
        source: signal.source.clone(),
        detail_type: signal.detail_type.clone(),
        occurred_at: signal.occurred_at,
        model_version,
        actor: actor.clone(),
        reason,
        body,
        seals: Vec::new(),
    }
}

/// Binds each model record the commit writes to its chain: the first entry on the model's chain in this commit
/// carries the record's digest (a model changed without one gets an inventory entry to carry it), so `verify` tells
/// a record edited or deleted outside Warden from the one its chain committed to.
fn seal_models(commit: &mut Commit, signal: &Signal, actor: &Actor, recorded_at: Timestamp) {
    for model in &commit.models {
        let Ok(seal) = crate::ledger::StateSeal::of_model(model) else { continue };
        match commit.entries.iter_mut().find(|e| e.chain == model.id) {
            Some(entry) => entry.seals.push(seal),
            None => {
                let reason = format!("inventory record updated: {}", signal.summary);
                let body = EntryBody::Inventory { summary: format!("updated by {}", signal.summary) };
                let mut entry = signal_entry(signal, model.id.clone(), None, actor, recorded_at, reason, body);
                entry.seals.push(seal);
                commit.entries.push(entry);
            }
        }
    }
}

/// The report of an event the ledger already holds: what it led to the first time (`original`), with this
/// delivery's envelope. Pure, so a duplicate costs the ledger one read (its marker) and nothing else.
pub fn duplicate_report(event: &Event, signal: &Signal, original: EventOutcome) -> Report {
    Report {
        decision_id: decision_id(&signal.idempotency_key),
        idempotency_key: signal.idempotency_key.clone(),
        notify: original.notify,
        delivered: original.delivered,
        event_id: Some(event.id.clone()),
        source: Some(event.source.clone()),
        detail_type: Some(event.detail_type.clone()),
        status: Status::Duplicate,
        occurred_at: Some(signal.occurred_at),
        summary: original.summary,
        models: original.models,
        alert: original.alert,
        actions: original.actions,
        skipped: Vec::new(),
        rules: Vec::new(),
        error: None,
        context: original.context,
    }
}

/// The package version the entry is about: the one the signal names, else the model's newest.
fn model_version(signal: &Signal, model: &Model) -> Option<String> {
    let named = signal.resources.iter().find_map(|r| match r {
        Resource::ModelPackage(arn) if package_group_of(arn).is_some() && model.owns(r) => {
            arn.rsplit('/').next().map(str::to_owned)
        }
        _ => None,
    });
    named.or_else(|| model.latest_package().and_then(|p| p.version.map(|v| v.to_string())))
}

/// Describes a rejected input: recorded on the unattributed chain, keyed by the digest of its body.
pub fn plan_rejection(
    error: &DecodeError,
    body: &[u8],
    actor: &Actor,
    recorded_at: Timestamp,
    envelope: &Value,
) -> (Commit, Report) {
    let digest = crate::digest::content_digest(body);
    let key = format!("rejected#{digest}");
    // The envelope's fields are the sender's: kept short, so a rejection always fits one ledger item.
    let text = |field: &str| envelope.get(field).and_then(Value::as_str).map(|t| event::bounded(t, 256));
    // A source or detail-type is repeated only when it looks like one.
    let name = |field: &str| envelope.get(field).and_then(Value::as_str).map(event::shown);
    let summary = format!("rejected input: {error}");
    let alert = error.alert_level();
    let entry = NewEntry {
        chain: unattributed_chain(&key),
        recorded_at,
        idempotency_key: key.clone(),
        event_id: text("id").unwrap_or_default(),
        source: name("source").unwrap_or_default(),
        detail_type: name("detail-type").unwrap_or_default(),
        occurred_at: recorded_at,
        model_version: None,
        actor: actor.clone(),
        reason: error.to_string(),
        body: EntryBody::Rejected {
            code: error.code().to_owned(),
            error: error.to_string(),
            body_sha256: digest,
            body_bytes: body.len(),
        },
        seals: Vec::new(),
    };
    let commit = Commit {
        idempotency_key: key.clone(),
        outcome: EventOutcome { summary: summary.clone(), alert: Some(alert), ..EventOutcome::default() },
        entries: vec![entry],
        ..Commit::default()
    };
    let report = Report {
        decision_id: decision_id(&key),
        idempotency_key: key.clone(),
        notify: false,
        delivered: BTreeSet::new(),
        event_id: text("id"),
        source: name("source"),
        detail_type: name("detail-type"),
        status: Status::Rejected,
        occurred_at: None,
        summary,
        models: Vec::new(),
        alert: Some(alert),
        actions: Vec::new(),
        skipped: Vec::new(),
        rules: Vec::new(),
        error: Some(error.to_string()),
        context: AlertContext::default(),
    };
    (commit, report)
}

/// One line describing a model's record, for its inventory entries.
pub fn describe_model(model: Option<&Model>) -> String {
    let Some(m) = model else { return String::new() };
    format!(
        "risk {}, owner {}, endpoints [{}], data buckets [{}], roles [{}]",
        m.risk.map_or("unclassified", |r| r.as_str()),
        m.owner.as_deref().unwrap_or("none"),
        m.endpoints.iter().map(|e| e.name.as_str()).collect::<Vec<_>>().join(", "),
        m.data_buckets.iter().map(String::as_str).collect::<Vec<_>>().join(", "),
        m.roles.iter().map(String::as_str).collect::<Vec<_>>().join(", "),
    )
}

/// The envelope fields a rejection can still report, when the input was a JSON object.
pub fn envelope_fields(value: &Value) -> Value {
    let mut fields = serde_json::Map::new();
    for name in ["id", "source", "detail-type"] {
        if let Some(text) = value.get(name).filter(|v| v.is_string()) {
            fields.insert(name.to_owned(), text.clone());
        }
    }
    Value::Object(fields)
}

#[cfg(test)]
#[allow(clippy::panic)]
#[path = "engine_tests.rs"]
mod tests;
