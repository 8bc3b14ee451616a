//! Human output: a readable timeline, a summary, ledger entries and the inventory.

use std::collections::BTreeMap;
use std::io::{self, Write};

use warden_core::action::Phase;
use warden_core::action::TargetKind;
use warden_core::action::{Mode, RuleAction};
use warden_core::breakglass::status::TargetStatus;
use warden_core::engine::{Report, Status};
use warden_core::inventory::Model;
use warden_core::ledger::{Entry, EntryBody};
use warden_core::severity::Band;

/// Counts for the closing summary.
#[derive(Debug, Default)]
pub struct Summary {
    statuses: BTreeMap<&'static str, usize>,
    alerts: BTreeMap<Band, usize>,
    actions: BTreeMap<(RuleAction, &'static str), usize>,
}

fn status_label(status: Status) -> &'static str {
    match status {
        Status::Applied => "applied",
        Status::Duplicate => "duplicate",
        Status::Rejected => "rejected",
    }
}

fn mode_label(mode: Mode) -> &'static str {
    match mode {
        Mode::Enforce => "enforce",
        Mode::Shadow => "shadow",
    }
}

impl Summary {
    pub fn add(&mut self, report: &Report) {
        *self.statuses.entry(status_label(report.status)).or_default() += 1;
        // Duplicates repeat what was already counted: only new decisions count as alerts and actions.
        if report.status == Status::Applied {
            if let Some(alert) = report.alert {
                *self.alerts.entry(alert).or_default() += 1;
            }
            for action in &report.actions {
                *self.actions.entry((action.kind, mode_label(action.mode))).or_default() += 1;
            }
        }
    }

    pub fn count(&self, status: Status) -> usize {
        self.statuses.get(status_label(status)).copied().unwrap_or(0)
    }
}

pub fn timeline_header(out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{:<24}  {:<14}  {:<9}  {:<8}  WHAT HAPPENED  ->  DECISION", "TIME", "SOURCE", "STATUS", "ALERT")
}

pub fn timeline_row(out: &mut impl Write, file: &str, index: Option<usize>, report: &Report) -> io::Result<()> {
    let time = report.occurred_at.map(|t| t.to_string()).unwrap_or_else(|| "-".into());
    let source = report.source.as_deref().unwrap_or("-");
    let alert = report.alert.map_or("-", Band::as_str);
    let status = status_label(report.status);
    match report.status {
        Status::Rejected => {
            let place = index.map(|i| format!("{file}#{i}")).unwrap_or_else(|| file.to_owned());
            writeln!(
                out,
                "{time:<24}  {source:<14}  {status:<9}  {alert:<8}  {place}: {}",
                report.error.as_deref().unwrap_or("rejected")
            )
        }
        _ => {
            let models = if report.models.is_empty() {
                "no known model".to_owned()
            } else {
                format!("model {}", report.models.join(", "))
            };
            let decision = if report.actions.is_empty() {
                match report.alert {
                    Some(level) => format!("alert {level}"),
                    None => "recorded".to_owned(),
                }
            } else {
                report.actions.iter().map(|a| a.describe()).collect::<Vec<_>>().join("; ")
            };
            writeln!(
                out,
                "{time:<24}  {source:<14}  {status:<9}  {alert:<8}  {} [{models}]  ->  {decision}",
                report.summary
            )?;
            for skipped in &report.skipped {
                let target = skipped.target.as_deref().map(|t| format!(" on {t}")).unwrap_or_default();
                writeln!(out, "{:<64}  (no {}{target}: {})", "", skipped.kind, skipped.reason)?;
            }
            Ok(())
        }
    }
}

pub fn summary(out: &mut impl Write, summary: &Summary) -> io::Result<()> {
    let (applied, duplicates, rejected) =
        (summary.count(Status::Applied), summary.count(Status::Duplicate), summary.count(Status::Rejected));
    writeln!(out)?;
    writeln!(
        out,
        "{} inputs: {applied} applied, {duplicates} duplicates, {rejected} rejected",
        applied + duplicates + rejected
    )?;
    let alerts: Vec<String> =
        Band::ALL.iter().rev().filter_map(|band| summary.alerts.get(band).map(|n| format!("{n} {band}"))).collect();
    writeln!(out, "alerts: {}", if alerts.is_empty() { "none".to_owned() } else { alerts.join(", ") })?;
    let actions: Vec<String> = summary.actions.iter().map(|((kind, mode), n)| format!("{n} {kind} ({mode})")).collect();
    writeln!(out, "actions planned: {}", if actions.is_empty() { "none".to_owned() } else { actions.join(", ") })?;
    if rejected > 0 {
        writeln!(out, "some inputs were rejected: see the lines marked 'rejected' (run with --json for details)")?;
    }
    Ok(())
}

pub fn entry_row(out: &mut impl Write, entry: &Entry) -> io::Result<()> {
    let e = &entry.entry;
    let what = match &e.body {
        EntryBody::Signal { summary, severity, via, .. } => {
            let via = via.as_ref().map(|v| format!(" (via {v})")).unwrap_or_default();
            format!("signal   {summary}, {} severity{via}", severity.band())
        }
        EntryBody::Decision { rule, alert, .. } => {
            format!("decision rule {rule}, alert {}: {}", alert.map_or("none", Band::as_str), e.reason)
        }
        EntryBody::Action { action, target, mode, config, status } => {
            let config = config.as_deref().map(|c| format!(" (config {c})")).unwrap_or_default();
            format!("action   {action} {target}{config}, {mode}, {status:?}")
        }
        EntryBody::BreakGlass { request_id, operation, target, phase, note, .. } => {
            format!("break-glass {operation} {target}: {phase}, {note} (request {request_id})")
        }
        EntryBody::Inventory { summary } => format!("inventory {summary}"),
        EntryBody::Switch { name, on, reason } => format!("{name} {}: {reason}", if *on { "ON" } else { "off" }),
        EntryBody::Rejected { code, error, body_sha256, .. } => {
            format!("rejected {code}: {error} (body sha256:{})", &body_sha256[..12.min(body_sha256.len())])
        }
    };
    let version = e.model_version.as_deref().map(|v| format!(" v{v}")).unwrap_or_default();
    writeln!(out, "{}#{:<4} {}  {}{version}  {}  {what}", e.chain, entry.seq, e.occurred_at, e.actor, &entry.hash[..12])
}

pub fn model_block(out: &mut impl Write, model: &Model) -> io::Result<()> {
    writeln!(
        out,
        "{}  risk {}  owner {}{}",
        model.id,
        model.risk.map_or("UNCLASSIFIED", |r| r.as_str()),
        model.owner.as_deref().unwrap_or("NONE"),
        model.purpose.as_deref().map(|p| format!("  ({p})")).unwrap_or_default()
    )?;
    if model.is_placed() {
        writeln!(out, "  runs in {}", model.placement())?;
    }
    for endpoint in &model.endpoints {
        writeln!(
            out,
            "  endpoint {}: current {}, last known-good {}, {} configs seen",
            endpoint.name,
            endpoint.current_config.as_deref().unwrap_or("unknown"),
            endpoint.last_known_good().unwrap_or("none"),
            endpoint.history.len()
        )?;
    }
    if let Some(group) = &model.model_package_group {
        let latest = model
            .latest_package()
            .map(|p| format!(", latest {} {}", p.version.map_or("?".into(), |v| v.to_string()), p.approval))
            .unwrap_or_default();
        writeln!(out, "  model package group {group}: {} versions{latest}", model.package_versions.len())?;
    }
    if !model.data_buckets.is_empty() {
        writeln!(out, "  data buckets: {}", model.data_buckets.iter().cloned().collect::<Vec<_>>().join(", "))?;
    }
    if !model.roles.is_empty() {
        writeln!(out, "  roles: {}", model.roles.iter().cloned().collect::<Vec<_>>().join(", "))?;
    }
    Ok(())
}

pub fn status_block(out: &mut impl Write, status: &TargetStatus) -> io::Result<()> {
    let kind = kind_label(status.kind);
    writeln!(out, "{kind} {}", status.target)?;
    match &status.model {
        Some(model) => writeln!(
            out,
            "  model            {} (risk {}, owner {})",
            model.id,
            model.risk.as_deref().unwrap_or("UNCLASSIFIED"),
            model.owner.as_deref().unwrap_or("NONE")
        )?,
        None => writeln!(out, "  model            none in the inventory")?,
    }
    if status.kind == TargetKind::Endpoint {
        writeln!(out, "  current config   {}", status.current_config.as_deref().unwrap_or("unknown"))?;
        writeln!(out, "  last known-good  {}", status.last_known_good.as_deref().unwrap_or("none"))?;
    } else {
        writeln!(out, "  approval         {}", status.approval.as_deref().unwrap_or("unknown"))?;
    }
    match &status.in_flight {
        Some(action) => {
            let operation = action.operation.map_or("unknown action".to_owned(), |o| o.to_string());
            let phase = action.phase.map_or("no record", Phase::as_str);
            writeln!(out, "  in flight        {operation} {phase} (request {})", action.request_id)?;
            if let Some(note) = &action.note {
                writeln!(out, "                   {note}")?;
            }
            if let (Some(by), Some(at)) = (&action.requested_by, &action.requested_at) {
                writeln!(out, "                   requested by {by} at {at}")?;
            }
            if let Some(expires) = &action.approval_expires_at {
                writeln!(out, "                   approval expires at {expires}")?;
            }
            let lock = if action.lock_expired { "expired at" } else { "held until" };
            writeln!(out, "                   lock {lock} {}", action.lock_expires_at)?;
        }
        None => writeln!(out, "  in flight        nothing")?,
    }
    match &status.last_change {
        Some(change) => writeln!(
            out,
            "  last change      {} at {}: {} (request {}){}",
            change.operation,
            change.at,
            change.change.describe(),
            change.request_id,
            change.reverse.as_ref().map(|r| format!("; undone by: {}", r.describe())).unwrap_or_default()
        )?,
        None => writeln!(out, "  last change      none by Warden")?,
    }
    if status.history.is_empty() {
        writeln!(out, "  history          none")?;
    } else {
        writeln!(out, "  history (newest first)")?;
        for item in &status.history {
            writeln!(
                out,
                "    {}  {:<8} {:<17} {}  {} (request {})",
                item.recorded_at,
                item.operation.as_str(),
                item.phase.as_str(),
                item.actor,
                item.note,
                item.request_id
            )?;
        }
    }
    Ok(())
}

/// What a target is, for people.
pub fn kind_label(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Endpoint => "endpoint",
        TargetKind::ModelPackage => "model package",
    }
}
