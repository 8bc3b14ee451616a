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
//! SageMaker [`Change`] to make, if any. `warden-app`'s executor runs it against the ports.
//!
//! Layout: [`request`] (what is asked, and approved), [`observation`] (what SageMaker shows, and what verification
//! concludes), [`records`] (what the ledger keeps: the action, the lock, the windows), `planning` (which change
//! carries a request out), this module (the state machine), [`status`] (what `warden status` shows) and
//! [`alerts`] (what each phase tells people).

pub mod alerts;
#[cfg(test)]
#[allow(clippy::panic, clippy::unwrap_used)]
mod machine_tests;
pub mod observation;
pub mod person;
mod planning;
pub mod records;
pub mod request;
pub mod status;

use crate::action::{Change, LastChange, Mode, Operation, Phase};
use crate::ledger::{Actor, RecordWrite};
use crate::policy::Settings;
use crate::time::Timestamp;
pub use observation::{EndpointView, Expectation, Observation, PackageView, Verdict};
use planning::{Plan, plan_change};
pub use records::{
    ACCOUNT_WINDOW_KEY, ActionRecord, Facts, KILL_SWITCH_KEY, KillSwitch, Lock, Versioned, Window, action_key,
    change_key, lock_key, window_key,
};
pub use request::{BreakGlassApproval, BreakGlassRequest, PersonAsk};

/// Endpoint tag that names the variant a cutoff shifts all traffic to.
pub const TAG_FALLBACK_VARIANT: &str = "warden:fallback-variant";
/// Endpoint tag that names the endpoint config a cutoff switches to when there is no fallback variant.
pub const TAG_MAINTENANCE_CONFIG: &str = "warden:maintenance-config";
/// The `source` of the ledger entries break-glass writes.
pub const BREAK_GLASS_SOURCE: &str = "warden.breakglass";

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
    let plan = match plan_change(request, facts, observed) {
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
    if let Some(refusal) = over_limits(request, facts, settings, now) {
        return refuse(format!("refused: {refusal}"), Some(plan));
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

/// Whether another action on the target, or in the account, would pass the cooldown or the circuit breaker: checked
/// when a request starts and again at the moment of its call (actions that waited count then). Undoing is never
/// held back.
fn over_limits(request: &BreakGlassRequest, facts: &Facts, settings: &Settings, now: Timestamp) -> Option<String> {
    if request.action.is_reversal() {
        return None;
    }
    let since = |minutes: u32| Timestamp::from_millis(now.millis() - i64::from(minutes) * 60_000).unwrap_or(now);
    let on_target =
        facts.target_window.as_ref().map_or(0, |w| w.value.count_since(since(settings.target_window_minutes)));
    if on_target >= settings.max_actions_per_target as usize {
        return Some(format!(
            "cooldown: {on_target} actions on {} in the last {} minutes (limit {})",
            request.target, settings.target_window_minutes, settings.max_actions_per_target
        ));
    }
    let in_account = facts.account_window.as_ref().map_or(0, |w| w.value.count_since(since(60)));
    if in_account >= settings.max_actions_per_hour as usize {
        return Some(format!(
            "circuit breaker: {in_account} actions in the account in the last hour (limit {})",
            settings.max_actions_per_hour
        ));
    }
    None
}

/// The fence before a SageMaker call: SageMaker cannot check a token, so the move that leads to the call holds the
/// lease in the same conditional ledger write ("I still hold lease N", renewed). A lease that expired while the
/// action waited is taken back if no one else took it; if another request holds it, this one must not call.
fn fence(record: &ActionRecord, facts: &Facts, now: Timestamp) -> Result<RecordWrite, String> {
    let target = &record.request.target;
    let ours = |hold_minutes: u32| Lock {
        request_id: record.request.request_id.clone(),
        expires_at: lock_until(hold_minutes, now),
        hold_minutes,
    };
    let (expected, lock) = match &facts.lock {
        Some(held) if held.value.request_id == record.request.request_id => {
            (Some(held.version), ours(held.value.hold_minutes))
        }
        Some(held) if held.value.expires_at > now => {
            return Err(format!(
                "request {} took the lock on {target} while this one waited (its lease had expired); nothing was called",
                held.value.request_id
            ));
        }
        Some(held) => (Some(held.version), ours(held.value.hold_minutes)),
        None => (None, ours(DEFAULT_LEASE_MINUTES)),
    };
    Ok(RecordWrite { key: lock_key(target), expected, value: serde_json::to_value(lock).ok() })
}

/// The lease taken back by an action whose lock record is gone (an action's own lease keeps its length).
const DEFAULT_LEASE_MINUTES: u32 = 15;

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
    if request.action == Operation::Release && !request.requested_by.is_human() {
        return Err("release re-approves a model package: only a person may ask for it".into());
    }
    // Automation may contain (gate, roll back, cut off) as the policy allows; undoing a containment is a person's.
    if request.action == Operation::Restore && !request.requested_by.is_human() {
        return Err("restore undoes a containment: only a person may ask for it".into());
    }
    Ok(())
}

/// Whether `by` may be the second person for a request `requested_by` made: a person, who is not the requester,
/// for a request from automation or from a human Warden can tell apart (a request `--here` from a caller STS could
/// not tie to one person may have been the approver's own).
pub fn approval_counts(by: &Actor, requested_by: &Actor) -> bool {
    matches!(by, Actor::Person(_))
        && !by.same_human(requested_by)
        && (matches!(requested_by, Actor::Automation(_)) || requested_by.is_identified())
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
    if !approval_counts(by, &record.request.requested_by) {
        // Not an approval that counts (automation, someone acting directly, the requester, or anyone when the
        // requester could not be told apart from them): record nothing, keep waiting.
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
    let plan = match plan_change(&record.request, facts, observed) {
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
    if let Some(refusal) = over_limits(&record.request, facts, settings, now) {
        return finish(record, facts, Phase::Refused, format!("refused at the moment of the call: {refusal}"), now);
    }
    let fence = match fence(record, facts, now) {
        Ok(fence) => fence,
        Err(lost) => return finish(record, facts, Phase::Refused, format!("refused: {lost}"), now),
    };
    next.phase = Phase::Executing;
    next.calls += 1;
    next.change = Some(plan.change.clone());
    next.reverse = plan.reverse;
    next.note = format!("calling SageMaker: {}", plan.change.describe());
    let mut writes = vec![fence];
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
    let fence = match fence(record, facts, now) {
        Ok(fence) => fence,
        Err(lost) => return finish(record, facts, Phase::Failed, format!("cannot call again: {lost}"), now),
    };
    next.calls += 1;
    next.note = format!("resumed: SageMaker does not show the change; calling again: {}", change.describe());
    Move::to(next, [Some(fence)], Next::Call(change.clone()))
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

/// Why break-glass cannot act on a target from here: an endpoint or package group named by ARN (see
/// [`crate::inventory::Model::endpoint_target`]), or any target of a model placed outside home (its package
/// versions' ARNs too), is another account's or region's, and acting there takes Warden's role in that account, which
/// this version does not assume. Refused before any SageMaker call: the home account's SageMaker must never be asked
/// about a name that belongs elsewhere.
pub fn outside_home(target: &str, model: Option<&crate::inventory::Model>) -> Option<String> {
    let refusal = |what: String| {
        format!(
            "{what}: acting outside the home account needs Warden's member role there, which this version does not \
             assume; nothing was called"
        )
    };
    if let Some(model) = model.filter(|m| m.is_placed()) {
        return Some(refusal(format!("model {} runs in {}", model.id, model.placement())));
    }
    let (service, place, resource) = crate::placement::arn_parts(target)?;
    let placed =
        service == "sagemaker" && (resource.starts_with("endpoint/") || resource.starts_with("model-package-group/"));
    placed.then(|| refusal(format!("{resource} runs in {place}")))
}
