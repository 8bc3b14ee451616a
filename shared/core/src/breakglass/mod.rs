//! Break-glass: carrying out one action on SageMaker safely, provably and reversibly. Pure.
//!
//! An action moves through phases, each written to the ledger *before* the SageMaker call it leads to:
//!
//! ```text
//! requested ──> executing ──> verifying ──> done | failed
//!     │  ^          (resume looks at the endpoint first, never re-runs blindly)
//!     │  └── awaiting-approval (a destructive step waits for a second person)
//!     └────> refused (scope, kill switch, busy, cooldown, breaker) | shadowed (would have done)
//! ```
//!
//! [`decide`] takes what the ledger holds (the action, the endpoint's lock, the rate windows, the last change)
//! and what SageMaker shows now, and returns the next [`Move`]: the new state and record writes, plus the one
//! SageMaker [`Change`] to make, if any. The [`executor`] runs it against the ports.

pub mod alerts;
#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used)]
mod machine_tests;
pub mod request;
pub mod status;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::action::{Change, LastChange, Mode, Operation, Phase, VariantWeight};
use crate::event::sagemaker::{ApprovalStatus, EndpointStatus};
use crate::inventory::Model;
use crate::ledger::{Actor, Record, RecordWrite};
use crate::policy::Settings;
use crate::time::Timestamp;
pub use request::{BreakGlassApproval, BreakGlassRequest};

/// Endpoint tag that names the variant a cutoff shifts all traffic to.
pub const TAG_FALLBACK_VARIANT: &str = "warden:fallback-variant";
/// Endpoint tag that names the endpoint config a cutoff switches to when there is no fallback variant.
pub const TAG_MAINTENANCE_CONFIG: &str = "warden:maintenance-config";
/// The `source` of the ledger entries break-glass writes.
pub const BREAK_GLASS_SOURCE: &str = "warden.breakglass";

/// An endpoint as DescribeEndpoint and ListTags show it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointView {
    pub name: String,
    pub status: EndpointStatus,
    pub config: String,
    /// The config an update in progress is deploying.
    pub pending_config: Option<String>,
    pub variants: Vec<VariantWeight>,
    pub failure_reason: Option<String>,
    /// The endpoint's tags, or why they could not be read (scope checks fail closed).
    pub tags: Result<BTreeMap<String, String>, String>,
}

impl EndpointView {
    fn in_progress(&self) -> bool {
        matches!(
            self.status,
            EndpointStatus::Creating
                | EndpointStatus::Updating
                | EndpointStatus::SystemUpdating
                | EndpointStatus::RollingBack
        )
    }

    fn tag(&self, name: &str) -> Option<&str> {
        self.tags.as_ref().ok().and_then(|t| t.get(name)).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

/// A model package as DescribeModelPackage shows it, with its group's tags.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageView {
    pub arn: String,
    pub approval: ApprovalStatus,
    pub tags: Result<BTreeMap<String, String>, String>,
}

/// What SageMaker shows about the target now.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    Endpoint(EndpointView),
    Package(PackageView),
    /// The endpoint or package does not exist.
    Missing,
    /// SageMaker refused to describe it (no permission, a malformed name): Warden cannot see, so it does not act.
    Unreadable(String),
}

impl Observation {
    fn tags(&self) -> Result<&BTreeMap<String, String>, String> {
        match self {
            Self::Endpoint(e) => e.tags.as_ref().map_err(Clone::clone),
            Self::Package(p) => p.tags.as_ref().map_err(Clone::clone),
            Self::Missing => Err("the target does not exist".into()),
            Self::Unreadable(why) => Err(format!("cannot read the target: {why}")),
        }
    }
}

/// What verification waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "expect", rename_all = "kebab-case")]
pub enum Expectation {
    /// InService on this config.
    InServiceOn {
        config: String,
    },
    /// InService with these weights.
    Weights {
        weights: Vec<VariantWeight>,
    },
    /// The endpoint is gone.
    Gone,
    Approval {
        status: ApprovalStatus,
    },
}

/// Where verification stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Confirmed(String),
    Pending(String),
    /// The change did not hold; `silent_rollback` when SageMaker returned the endpoint to another config.
    Broken {
        reason: String,
        silent_rollback: bool,
    },
}

impl Expectation {
    /// Judges what SageMaker shows against what the change should have produced.
    pub fn judge(&self, observed: &Observation) -> Verdict {
        match (self, observed) {
            (Self::Gone, Observation::Missing) => Verdict::Confirmed("the endpoint is deleted".into()),
            (Self::Gone, Observation::Endpoint(e)) => Verdict::Pending(format!("the endpoint is {}", e.status)),
            (Self::Approval { status }, Observation::Package(p)) if p.approval == *status => {
                Verdict::Confirmed(format!("the package is {status}"))
            }
            (Self::Approval { status }, Observation::Package(p)) => Verdict::Broken {
                reason: format!("the package is {}, not {status}", p.approval),
                silent_rollback: false,
            },
            (_, Observation::Missing) => {
                Verdict::Broken { reason: "the target no longer exists".into(), silent_rollback: false }
            }
            (Self::InServiceOn { config }, Observation::Endpoint(e)) => match &e.status {
                EndpointStatus::InService if e.config == *config => {
                    Verdict::Confirmed(format!("the endpoint is InService on {config}"))
                }
                EndpointStatus::InService => Verdict::Broken {
                    reason: format!(
                        "silent rollback: the endpoint is InService on {}, not on {config}{}",
                        e.config,
                        e.failure_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
                    ),
                    silent_rollback: true,
                },
                EndpointStatus::Failed | EndpointStatus::UpdateRollbackFailed => Verdict::Broken {
                    reason: format!(
                        "the endpoint is {}: {}",
                        e.status,
                        e.failure_reason.as_deref().unwrap_or("no reason given")
                    ),
                    silent_rollback: false,
                },
                other => Verdict::Pending(format!("the endpoint is {other}")),
            },
            (Self::Weights { weights }, Observation::Endpoint(e)) => match &e.status {
                EndpointStatus::InService if weights_match(&e.variants, weights) => {
                    Verdict::Confirmed("the endpoint is InService with the intended weights".into())
                }
                EndpointStatus::InService => Verdict::Broken {
                    reason: format!("the endpoint is InService with weights {}", describe_weights(&e.variants)),
                    silent_rollback: true,
                },
                EndpointStatus::Failed | EndpointStatus::UpdateRollbackFailed => {
                    Verdict::Broken { reason: format!("the endpoint is {}", e.status), silent_rollback: false }
                }
                other => Verdict::Pending(format!("the endpoint is {other}")),
            },
            (expectation, other) => Verdict::Broken {
                reason: format!("expected {expectation:?} but SageMaker shows {other:?}"),
                silent_rollback: false,
            },
        }
    }

    /// Whether SageMaker already shows the change (or is applying it), so a resumed action must not call again.
    fn underway(&self, observed: &Observation) -> bool {
        match (self, observed) {
            (Self::Gone, Observation::Missing) => true,
            (Self::Gone, Observation::Endpoint(e)) => e.status == EndpointStatus::Deleting,
            (Self::InServiceOn { config }, Observation::Endpoint(e)) => {
                e.config == *config || e.pending_config.as_deref() == Some(config)
            }
            (Self::Weights { weights }, Observation::Endpoint(e)) => {
                weights_match(&e.variants, weights) || e.status == EndpointStatus::Updating
            }
            (Self::Approval { status }, Observation::Package(p)) => p.approval == *status,
            _ => false,
        }
    }
}

fn weights_match(current: &[VariantWeight], wanted: &[VariantWeight]) -> bool {
    wanted.iter().all(|w| current.iter().any(|c| c.variant == w.variant && (c.weight - w.weight).abs() < 1e-3))
}

fn describe_weights(weights: &[VariantWeight]) -> String {
    weights.iter().map(|w| format!("{}={}", w.variant, w.weight)).collect::<Vec<_>>().join(", ")
}

/// The ledger's record of one action (record key `action#<request id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRecord {
    pub request: BreakGlassRequest,
    pub phase: Phase,
    /// The SageMaker call this action makes (or would have made).
    pub change: Option<Change>,
    /// The call that undoes it.
    pub reverse: Option<Change>,
    /// Why it is in this phase (the refusal, the failure, what it waits for).
    pub note: String,
    #[serde(default)]
    pub approved_by: Option<Actor>,
    pub approval_expires_at: Option<Timestamp>,
    /// SageMaker calls made so far (a resume after a crash may call again, after looking).
    pub calls: u32,
    /// Failed because SageMaker returned the endpoint to another config on its own (alerted as critical).
    #[serde(default)]
    pub silent_rollback: bool,
    pub updated_at: Timestamp,
    /// The idempotency key of the transition that wrote this state (its alert's delivery is marked there).
    pub transition_key: String,
}

impl ActionRecord {
    pub fn operation(&self) -> Operation {
        self.request.action
    }
}

/// An endpoint's or package's lock (record key `lock#<target>`): who holds it, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    pub request_id: String,
    pub expires_at: Timestamp,
    /// How long each step of progress extends it.
    pub hold_minutes: u32,
}

/// Times of recent actions (record keys `window#<target>` and `window#_account`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub times: Vec<Timestamp>,
}

impl Window {
    fn count_since(&self, since: Timestamp) -> usize {
        self.times.iter().filter(|t| **t > since).count()
    }

    fn with(&self, now: Timestamp, keep_since: Timestamp) -> Self {
        let mut times: Vec<Timestamp> = self.times.iter().copied().filter(|t| *t > keep_since).collect();
        times.push(now);
        Self { times }
    }
}

impl Change {
    /// What SageMaker shows once this change has taken effect (what verification waits for).
    pub fn expectation(&self) -> Expectation {
        match self {
            Self::UpdateEndpoint { config, .. } | Self::CreateEndpoint { config, .. } => {
                Expectation::InServiceOn { config: config.clone() }
            }
            Self::SetWeights { weights, .. } => Expectation::Weights { weights: weights.clone() },
            Self::DeleteEndpoint { .. } => Expectation::Gone,
            Self::SetApproval { status, .. } => Expectation::Approval { status: *status },
        }
    }
}

pub fn action_key(request_id: &str) -> String {
    format!("action#{request_id}")
}
pub fn lock_key(target: &str) -> String {
    format!("lock#{target}")
}
pub fn window_key(target: &str) -> String {
    format!("window#{target}")
}
pub const ACCOUNT_WINDOW_KEY: &str = "window#_account";
pub fn change_key(target: &str) -> String {
    format!("change#{target}")
}

/// A record value with the version it was read at.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub version: u64,
    pub value: T,
}

impl<T: serde::de::DeserializeOwned> Versioned<T> {
    pub fn from_record(key: &str, record: &Record) -> Result<Self, String> {
        serde_json::from_value(record.value.clone())
            .map(|value| Self { version: record.version, value })
            .map_err(|e| format!("record {key}: {e}"))
    }

    /// The record under `key` among those read, if there is one.
    pub fn read(records: &BTreeMap<String, Record>, key: &str) -> Result<Option<Self>, String> {
        records.get(key).map(|r| Self::from_record(key, r)).transpose()
    }
}

/// Everything the ledger holds that the next move depends on.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub record: Option<Versioned<ActionRecord>>,
    pub lock: Option<Versioned<Lock>>,
    pub target_window: Option<Versioned<Window>>,
    pub account_window: Option<Versioned<Window>>,
    pub last_change: Option<Versioned<LastChange>>,
    /// The model that owns the target, if the inventory knows it.
    pub model: Option<Model>,
}

impl Facts {
    /// The record keys to read for a request on `target`.
    pub fn keys(request_id: &str, target: &str) -> Vec<String> {
        vec![
            action_key(request_id),
            lock_key(target),
            window_key(target),
            ACCOUNT_WINDOW_KEY.to_owned(),
            change_key(target),
        ]
    }

    pub fn from_records(
        request_id: &str,
        target: &str,
        records: &BTreeMap<String, Record>,
        model: Option<Model>,
    ) -> Result<Self, String> {
        Ok(Self {
            record: Versioned::read(records, &action_key(request_id))?,
            lock: Versioned::read(records, &lock_key(target))?,
            target_window: Versioned::read(records, &window_key(target))?,
            account_window: Versioned::read(records, ACCOUNT_WINDOW_KEY)?,
            last_change: Versioned::read(records, &change_key(target))?,
            model,
        })
    }
}

/// What the executor does next, after writing the move.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Nothing more: the action is finished, or waits for a person.
    Stop,
    /// Make this SageMaker call, then report it with [`after_call`].
    Call(Change),
    /// Look again shortly (verification in progress).
    Poll,
    /// Try again later (the endpoint is busy); the request must be redelivered.
    RetryLater(String),
}

/// The next state and what to write for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    /// The action's new state (`None`: nothing to write). The executor writes it at the version read.
    pub record: Option<ActionRecord>,
    /// The other record writes that go with it (lock, windows, last change), committed atomically.
    pub writes: Vec<RecordWrite>,
    pub next: Next,
}

impl Move {
    fn to(record: ActionRecord, writes: impl IntoIterator<Item = Option<RecordWrite>>, next: Next) -> Self {
        Self { record: Some(record), writes: writes.into_iter().flatten().collect(), next }
    }
}

/// An input that moves an action along.
#[derive(Debug, Clone, PartialEq)]
pub enum Input<'a> {
    /// A request was (re)delivered, or the endpoint changed: look and move on.
    Look,
    /// A person approved the destructive step.
    Approve { by: &'a Actor },
}

/// The switches that apply right now.
#[derive(Debug, Clone, PartialEq)]
pub struct Switches<'a> {
    pub settings: &'a Settings,
    pub kill_switch: bool,
}

/// Decides the next move of `request`. Pure.
pub fn decide(
    request: &BreakGlassRequest,
    input: &Input<'_>,
    facts: &Facts,
    observed: &Observation,
    switches: &Switches<'_>,
    now: Timestamp,
) -> Move {
    let current = facts.record.as_ref();
    let Some(current) = current else {
        return start(request, facts, observed, switches, now);
    };
    let record = &current.value;
    match (record.phase, input) {
        (phase, _) if phase.is_terminal() => stay(Next::Stop),
        // An action under way never concludes from a failed look: it waits, and the lock's expiry bounds that.
        (_, _) if matches!(observed, Observation::Unreadable(_)) => {
            let why = observed.tags().err().unwrap_or_default();
            stay(Next::RetryLater(why))
        }
        (Phase::AwaitingApproval, Input::Approve { by }) => approve(record, by, facts, observed, switches, now),
        (Phase::AwaitingApproval, Input::Look) => match record.approval_expires_at {
            Some(expires) if now > expires => {
                let note = format!("refused: the approval window closed at {expires} without a second person");
                finish(record, facts, Phase::Refused, note, now)
            }
            _ => stay(Next::Stop),
        },
        (Phase::Requested, _) => proceed(record, facts, observed, switches, now),
        (Phase::Executing, _) => resume(record, facts, observed, now),
        (Phase::Verifying, _) => verify(record, facts, observed, now),
        _ => stay(Next::Stop),
    }
}

/// Reports the SageMaker call's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallResult {
    Accepted,
    /// `ValidationException: Cannot update in-progress endpoint`.
    InProgress(String),
    /// Will not succeed as asked (missing config, no permission, ...).
    Rejected(String),
}

/// The move after the call an `executing` record asked for.
pub fn after_call(record: &ActionRecord, facts: &Facts, result: &CallResult, now: Timestamp) -> Move {
    match result {
        CallResult::Accepted => {
            let mut next = record.clone();
            next.phase = Phase::Verifying;
            next.note = "called SageMaker; waiting for the endpoint to confirm".into();
            next.updated_at = now;
            Move::to(next, [refresh_lock(record, facts, now)], Next::Poll)
        }
        CallResult::InProgress(message) => {
            let mut next = record.clone();
            next.phase = Phase::Requested;
            next.note = format!("waiting: the endpoint is busy ({message}); will try again");
            next.updated_at = now;
            Move::to(next, [refresh_lock(record, facts, now)], Next::RetryLater(message.clone()))
        }
        CallResult::Rejected(message) => {
            finish(record, facts, Phase::Failed, format!("SageMaker refused the call: {message}"), now)
        }
    }
}

fn stay(next: Next) -> Move {
    Move { record: None, writes: Vec::new(), next }
}

fn lock_until(settings_minutes: u32, now: Timestamp) -> Timestamp {
    Timestamp::from_millis(now.millis() + i64::from(settings_minutes) * 60_000).unwrap_or(now)
}

/// Keeps holding the lock a little longer, while the action makes progress.
fn refresh_lock(record: &ActionRecord, facts: &Facts, now: Timestamp) -> Option<RecordWrite> {
    let lock = facts.lock.as_ref().filter(|l| l.value.request_id == record.request.request_id)?;
    let renewed = Lock { expires_at: lock_until(lock.value.hold_minutes, now), ..lock.value.clone() };
    Some(RecordWrite {
        key: lock_key(&record.request.target),
        expected: Some(lock.version),
        value: serde_json::to_value(renewed).ok(),
    })
}

fn release_lock(record: &ActionRecord, facts: &Facts) -> Option<RecordWrite> {
    let lock = facts.lock.as_ref().filter(|l| l.value.request_id == record.request.request_id)?;
    Some(RecordWrite { key: lock_key(&record.request.target), expected: Some(lock.version), value: None })
}

/// Moves to a terminal phase, releasing the lock.
fn finish(record: &ActionRecord, facts: &Facts, phase: Phase, note: String, now: Timestamp) -> Move {
    let mut next = record.clone();
    next.phase = phase;
    next.note = note;
    next.updated_at = now;
    let mut writes: Vec<RecordWrite> = release_lock(record, facts).into_iter().collect();
    if phase == Phase::Done
        && let Some(change) = &next.change
    {
        let last = LastChange {
            request_id: next.request.request_id.clone(),
            operation: next.operation(),
            change: change.clone(),
            reverse: next.reverse.clone(),
            at: now,
        };
        writes.push(RecordWrite {
            key: change_key(&next.request.target),
            expected: facts.last_change.as_ref().map(|c| c.version),
            value: serde_json::to_value(last).ok(),
        });
    }
    Move { record: Some(next), writes, next: Next::Stop }
}

fn new_record(request: &BreakGlassRequest, phase: Phase, note: String, now: Timestamp) -> ActionRecord {
    ActionRecord {
        request: request.clone(),
        phase,
        change: None,
        reverse: None,
        note,
        approved_by: None,
        approval_expires_at: None,
        calls: 0,
        silent_rollback: false,
        updated_at: now,
        transition_key: String::new(),
    }
}

/// A first look at a request: refuse it, shadow it, or take the lock and go on.
fn start(
    request: &BreakGlassRequest,
    facts: &Facts,
    observed: &Observation,
    switches: &Switches<'_>,
    now: Timestamp,
) -> Move {
    let settings = switches.settings;
    let refuse = |note: String, plan: Option<Plan>| {
        let mut record = new_record(request, Phase::Refused, note, now);
        if let Some(plan) = plan {
            record.change = Some(plan.change);
            record.reverse = plan.reverse;
        }
        Move { record: Some(record), writes: Vec::new(), next: Next::Stop }
    };
    if let Err(problem) = validate(request) {
        return refuse(format!("refused: {problem}"), None);
    }
    // Scope first, and closed: a target Warden may not touch is refused whatever else holds. An endpoint Warden
    // deleted is judged by the tags it had, which its re-creation restores.
    let recreated_tags = match (&facts.last_change, observed, request.action) {
        (Some(last), Observation::Missing, Operation::Restore) => match &last.value.reverse {
            Some(Change::CreateEndpoint { tags, .. }) => Some(tags),
            _ => None,
        },
        _ => None,
    };
    match recreated_tags.map_or_else(|| observed.tags(), Ok) {
        Err(why) => return refuse(format!("refused: out of scope ({why}; scoping fails closed)"), None),
        Ok(tags) if tags.get(&settings.scope_tag).map(|v| v.trim()) != Some(settings.scope_value.as_str()) => {
            return refuse(
                format!(
                    "refused: out of scope ({} is not tagged {}={})",
                    request.target, settings.scope_tag, settings.scope_value
                ),
                None,
            );
        }
        Ok(_) => {}
    }
    let plan = match plan(request, facts, observed) {
        Ok(plan) => plan,
        Err(problem) => return refuse(format!("refused: {problem}"), None),
    };
    // A second request for what is already so (another detector's cutoff of a cut-off endpoint) changes nothing.
    if let Verdict::Confirmed(how) = plan.change.expectation().judge(observed) {
        return refuse(format!("refused: nothing to do, {how}"), None);
    }
    if switches.kill_switch {
        let note = format!("refused: kill switch on; would have: {}", plan.change.describe());
        return refuse(note, Some(plan));
    }
    if settings.mode == Mode::Shadow {
        let mut m = refuse(format!("shadow mode; would have: {}", plan.change.describe()), Some(plan));
        if let Some(record) = m.record.as_mut() {
            record.phase = Phase::Shadowed;
        }
        return m;
    }
    let busy = facts.lock.as_ref().filter(|l| l.value.request_id != request.request_id && l.value.expires_at > now);
    if let Some(lock) = busy {
        return refuse(
            format!(
                "refused: busy: request {} holds {} until {}; one action at a time per target",
                lock.value.request_id, request.target, lock.value.expires_at
            ),
            Some(plan),
        );
    }
    if !request.action.is_reversal() {
        let since = |minutes: u32| Timestamp::from_millis(now.millis() - i64::from(minutes) * 60_000).unwrap_or(now);
        let on_target =
            facts.target_window.as_ref().map_or(0, |w| w.value.count_since(since(settings.target_window_minutes)));
        if on_target >= settings.max_actions_per_target as usize {
            return refuse(
                format!(
                    "refused: cooldown: {on_target} actions on {} in the last {} minutes (limit {})",
                    request.target, settings.target_window_minutes, settings.max_actions_per_target
                ),
                Some(plan),
            );
        }
        let in_account = facts.account_window.as_ref().map_or(0, |w| w.value.count_since(since(60)));
        if in_account >= settings.max_actions_per_hour as usize {
            return refuse(
                format!(
                    "refused: circuit breaker: {in_account} actions in the account in the last hour (limit {})",
                    settings.max_actions_per_hour
                ),
                Some(plan),
            );
        }
    }
    // Accepted: take the lock, then wait for approval, wait for the endpoint, or go.
    let mut record = new_record(request, Phase::Requested, String::new(), now);
    record.change = Some(plan.change.clone());
    record.reverse = plan.reverse.clone();
    let needs_approval = plan.change.is_destructive() && settings.delete_requires_approval;
    let hold_minutes = if needs_approval { settings.approval_expiry_minutes } else { settings.lock_minutes };
    let lock_expires = lock_until(hold_minutes, now);
    let lock = Lock { request_id: request.request_id.clone(), expires_at: lock_expires, hold_minutes };
    let mut writes = vec![RecordWrite {
        key: lock_key(&request.target),
        expected: facts.lock.as_ref().map(|l| l.version),
        value: serde_json::to_value(lock).ok(),
    }];
    let next = if needs_approval {
        record.phase = Phase::AwaitingApproval;
        record.approval_expires_at = Some(lock_expires);
        record.note =
            format!("waiting for a second person to approve: {} (expires {lock_expires})", plan.change.describe());
        Next::Stop
    } else if let Observation::Endpoint(e) = observed
        && e.in_progress()
    {
        record.note = format!("waiting: the endpoint is {}; will act when it is not", e.status);
        Next::RetryLater(format!("endpoint {} is {}", e.name, e.status))
    } else {
        record.phase = Phase::Executing;
        record.calls = 1;
        record.note = format!("calling SageMaker: {}", plan.change.describe());
        if !request.action.is_reversal() {
            writes.extend(count_action(&request.target, facts, settings, now));
        }
        Next::Call(plan.change.clone())
    };
    Move { record: Some(record), writes, next }
}

/// The cooldown and breaker windows, with this action counted.
fn count_action(target: &str, facts: &Facts, settings: &Settings, now: Timestamp) -> Vec<RecordWrite> {
    let keep = |minutes: u32| Timestamp::from_millis(now.millis() - i64::from(minutes) * 60_000).unwrap_or(now);
    let target_window = facts.target_window.as_ref().map(|w| w.value.clone()).unwrap_or_default();
    let account_window = facts.account_window.as_ref().map(|w| w.value.clone()).unwrap_or_default();
    vec![
        RecordWrite {
            key: window_key(target),
            expected: facts.target_window.as_ref().map(|w| w.version),
            value: serde_json::to_value(target_window.with(now, keep(settings.target_window_minutes))).ok(),
        },
        RecordWrite {
            key: ACCOUNT_WINDOW_KEY.to_owned(),
            expected: facts.account_window.as_ref().map(|w| w.version),
            value: serde_json::to_value(account_window.with(now, keep(60))).ok(),
        },
    ]
}

fn validate(request: &BreakGlassRequest) -> Result<(), String> {
    if request.request_id.trim().is_empty() {
        return Err("the request has no id".into());
    }
    if request.target.trim().is_empty() {
        return Err("the request names no target".into());
    }
    if request.reason.trim().is_empty() {
        return Err("a reason is required".into());
    }
    let is_package = request.target.contains(":model-package/") || !request.target.contains(':');
    if !request.action.on_endpoint() && !is_package {
        return Err(format!("{} targets a model package, not {}", request.action, request.target));
    }
    if request.action == Operation::Release && !matches!(request.requested_by, Actor::Person(_)) {
        return Err("release re-approves a model package: only a person may ask for it".into());
    }
    Ok(())
}

/// The change for a request, given what SageMaker shows.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    change: Change,
    reverse: Option<Change>,
}

fn plan(request: &BreakGlassRequest, facts: &Facts, observed: &Observation) -> Result<Plan, String> {
    let target = &request.target;
    let tag = format!("warden break-glass {} ({})", request.request_id, request.requested_by);
    match (request.action, observed) {
        (Operation::Gate | Operation::Release, Observation::Package(p)) => {
            let status = if request.action == Operation::Gate {
                ApprovalStatus::PendingManualApproval
            } else {
                ApprovalStatus::Approved
            };
            let description = format!("{tag}: {}", request.reason);
            Ok(Plan {
                change: Change::SetApproval { package: p.arn.clone(), status, description: description.clone() },
                reverse: Some(Change::SetApproval {
                    package: p.arn.clone(),
                    status: p.approval,
                    description: format!("reversal of {}", request.request_id),
                }),
            })
        }
        (Operation::Gate | Operation::Release, _) => Err(format!("model package {target} not found")),
        (Operation::Restore, observed) => {
            let last = facts.last_change.as_ref().map(|c| &c.value);
            let Some(last) = last.filter(|c| matches!(c.operation, Operation::Cutoff | Operation::Rollback)) else {
                return Err(format!("nothing to restore: Warden has no rollback or cutoff of {target} on record"));
            };
            let Some(reverse) = &last.reverse else {
                return Err(format!("request {} recorded no way to undo it", last.request_id));
            };
            if let Observation::Endpoint(e) = observed
                && e.status == EndpointStatus::Failed
                && !matches!(reverse, Change::DeleteEndpoint { .. })
            {
                return Err("the endpoint is Failed: SageMaker allows only DeleteEndpoint on it".into());
            }
            match (reverse, observed) {
                (Change::CreateEndpoint { .. }, Observation::Endpoint(_)) => {
                    Err(format!("endpoint {target} exists again; nothing to re-create"))
                }
                (Change::CreateEndpoint { .. }, Observation::Missing) => Ok(Plan {
                    change: reverse.clone(),
                    reverse: Some(Change::DeleteEndpoint { endpoint: target.clone() }),
                }),
                (_, Observation::Missing) => Err(format!("endpoint {target} not found")),
                (Change::UpdateEndpoint { .. }, Observation::Endpoint(e)) => Ok(Plan {
                    change: reverse.clone(),
                    reverse: Some(Change::UpdateEndpoint { endpoint: target.clone(), config: e.config.clone() }),
                }),
                (Change::SetWeights { .. }, Observation::Endpoint(e)) => Ok(Plan {
                    change: reverse.clone(),
                    reverse: Some(Change::SetWeights { endpoint: target.clone(), weights: e.variants.clone() }),
                }),
                (other, _) => Err(format!("cannot restore with {}", other.describe())),
            }
        }
        (_, Observation::Missing) => Err(format!("endpoint {target} not found")),
        (_, Observation::Unreadable(why)) => Err(format!("cannot read endpoint {target}: {why}")),
        (_, Observation::Package(_)) => Err(format!("{target} is a model package, not an endpoint")),
        (Operation::Rollback, Observation::Endpoint(e)) => {
            if e.status == EndpointStatus::Failed {
                return Err("the endpoint is Failed: SageMaker allows only DeleteEndpoint on it (use cutoff)".into());
            }
            let known_good = facts.model.as_ref().and_then(|m| m.endpoint(target)).and_then(|r| r.last_known_good());
            let Some(config) = request.config.clone().or_else(|| known_good.map(str::to_owned)) else {
                return Err(format!("no last known-good config on record for {target}; name one with --config"));
            };
            if config == e.config {
                return Err(format!("endpoint {target} already runs {config}"));
            }
            Ok(Plan {
                change: Change::UpdateEndpoint { endpoint: target.clone(), config: config.clone() },
                reverse: Some(Change::UpdateEndpoint { endpoint: target.clone(), config: e.config.clone() }),
            })
        }
        (Operation::Cutoff, Observation::Endpoint(e)) => Ok(cutoff_ladder(e)),
    }
}

/// Cutoff, least destructive first: all traffic to the fallback variant; else the maintenance config; else
/// delete the endpoint (its config is kept, so restore can re-create it). A Failed endpoint can only be deleted.
fn cutoff_ladder(e: &EndpointView) -> Plan {
    let endpoint = e.name.clone();
    let failed = e.status == EndpointStatus::Failed;
    let fallback =
        e.tag(TAG_FALLBACK_VARIANT).filter(|v| e.variants.len() > 1 && e.variants.iter().any(|w| w.variant == *v));
    if let (Some(variant), false) = (fallback, failed) {
        let weights: Vec<VariantWeight> = e
            .variants
            .iter()
            .map(|w| VariantWeight { variant: w.variant.clone(), weight: if w.variant == variant { 1.0 } else { 0.0 } })
            .collect();
        return Plan {
            change: Change::SetWeights { endpoint: endpoint.clone(), weights: weights.clone() },
            reverse: Some(Change::SetWeights { endpoint, weights: e.variants.clone() }),
        };
    }
    if let (Some(config), false) = (e.tag(TAG_MAINTENANCE_CONFIG).filter(|c| *c != e.config), failed) {
        return Plan {
            change: Change::UpdateEndpoint { endpoint: endpoint.clone(), config: config.to_owned() },
            reverse: Some(Change::UpdateEndpoint { endpoint, config: e.config.clone() }),
        };
    }
    Plan {
        change: Change::DeleteEndpoint { endpoint: endpoint.clone() },
        reverse: Some(Change::CreateEndpoint {
            endpoint,
            config: e.config.clone(),
            tags: e.tags.clone().unwrap_or_default(),
        }),
    }
}

/// A second person approved the destructive step.
fn approve(
    record: &ActionRecord,
    by: &Actor,
    facts: &Facts,
    observed: &Observation,
    switches: &Switches<'_>,
    now: Timestamp,
) -> Move {
    if !matches!(by, Actor::Person(_)) || *by == record.request.requested_by {
        // Not an approval that counts: record nothing, keep waiting.
        return stay(Next::Stop);
    }
    if record.approval_expires_at.is_some_and(|expires| now > expires) {
        let note = format!("refused: {by} approved after the approval window closed");
        return finish(record, facts, Phase::Refused, note, now);
    }
    let mut approved = record.clone();
    approved.approved_by = Some(by.clone());
    proceed(&approved, facts, observed, switches, now)
}

/// An accepted action whose turn has come: look at the endpoint, then call (or keep waiting).
fn proceed(
    record: &ActionRecord,
    facts: &Facts,
    observed: &Observation,
    switches: &Switches<'_>,
    now: Timestamp,
) -> Move {
    if switches.kill_switch {
        return finish(record, facts, Phase::Refused, "refused: kill switch turned on before the call".into(), now);
    }
    // Re-plan from what SageMaker shows now: the endpoint may have changed while the action waited.
    let plan = match plan(&record.request, facts, observed) {
        Ok(plan) => plan,
        Err(problem) => return finish(record, facts, Phase::Failed, format!("cannot act any more: {problem}"), now),
    };
    let mut next = record.clone();
    next.updated_at = now;
    let settings = switches.settings;
    if plan.change.is_destructive() && settings.delete_requires_approval && record.approved_by.is_none() {
        if record.phase == Phase::AwaitingApproval {
            return stay(Next::Stop);
        }
        let expires = lock_until(settings.approval_expiry_minutes, now);
        next.phase = Phase::AwaitingApproval;
        next.approval_expires_at = Some(expires);
        next.change = Some(plan.change.clone());
        next.reverse = plan.reverse;
        next.note = format!("waiting for a second person to approve: {} (expires {expires})", plan.change.describe());
        return Move::to(next, [refresh_lock(record, facts, now)], Next::Stop);
    }
    if let Observation::Endpoint(e) = observed
        && e.in_progress()
    {
        let newly_approved = facts.record.as_ref().is_some_and(|r| r.value.approved_by != record.approved_by);
        if record.phase == Phase::Requested && !newly_approved {
            return stay(Next::RetryLater(format!("endpoint {} is {}", e.name, e.status)));
        }
        next.phase = Phase::Requested;
        next.note = format!("waiting: the endpoint is {}; will act when it is not", e.status);
        let retry = Next::RetryLater(format!("endpoint {} is {}", e.name, e.status));
        return Move::to(next, [refresh_lock(record, facts, now)], retry);
    }
    next.phase = Phase::Executing;
    next.calls += 1;
    next.change = Some(plan.change.clone());
    next.reverse = plan.reverse;
    next.note = format!("calling SageMaker: {}", plan.change.describe());
    let mut writes: Vec<RecordWrite> = refresh_lock(record, facts, now).into_iter().collect();
    if !record.request.action.is_reversal() {
        writes.extend(count_action(&record.request.target, facts, settings, now));
    }
    Move { record: Some(next), writes, next: Next::Call(plan.change) }
}

/// An action found `executing` (a crash or timeout after the state was written): look before calling again.
fn resume(record: &ActionRecord, facts: &Facts, observed: &Observation, now: Timestamp) -> Move {
    let Some(change) = &record.change else {
        return finish(record, facts, Phase::Failed, "the record has no change to resume".into(), now);
    };
    let mut next = record.clone();
    next.updated_at = now;
    if change.expectation().underway(observed) {
        next.phase = Phase::Verifying;
        next.note = "resumed: SageMaker already shows the change; verifying".into();
        return Move::to(next, [refresh_lock(record, facts, now)], Next::Poll);
    }
    if let Observation::Endpoint(e) = observed
        && e.in_progress()
    {
        return stay(Next::RetryLater(format!("endpoint {} is {}", e.name, e.status)));
    }
    next.calls += 1;
    next.note = format!("resumed: SageMaker does not show the change; calling again: {}", change.describe());
    Move::to(next, [refresh_lock(record, facts, now)], Next::Call(change.clone()))
}

fn verify(record: &ActionRecord, facts: &Facts, observed: &Observation, now: Timestamp) -> Move {
    let Some(change) = &record.change else {
        return finish(record, facts, Phase::Failed, "the record has nothing to verify".into(), now);
    };
    match change.expectation().judge(observed) {
        Verdict::Confirmed(how) => finish(record, facts, Phase::Done, format!("verified: {how}"), now),
        Verdict::Pending(_) => stay(Next::Poll),
        Verdict::Broken { reason, silent_rollback } => {
            let mut m = finish(record, facts, Phase::Failed, format!("failed: {reason}"), now);
            if let Some(failed) = m.record.as_mut() {
                failed.silent_rollback = silent_rollback;
            }
            m
        }
    }
}
