//! Runs break-glass actions against the ports: read the ledger's facts and look at SageMaker, [`decide`], commit
//! the new phase (with its ledger entry, lock and windows) *before* calling SageMaker, alert, call, commit the
//! result. A write conflict (another worker moved the action or took the lock) re-reads and decides again.

use std::future::Future;

use warden_core::action::Phase;
use warden_core::breakglass::BreakGlassRequest;
use warden_core::breakglass::{
    ActionRecord, BREAK_GLASS_SOURCE, CallResult, Facts, Input, Move, Next, Observation, Switches, Versioned,
    action_key, after_call, alerts, decide, lock_key,
};
use warden_core::inventory::Model;
use warden_core::ledger::{
    Actor, Commit, CommitOutcome, EntryBody, EventOutcome, LedgerError, NewEntry, RecordWrite, unattributed_chain,
};
use warden_core::policy::Settings;
use warden_core::time::Timestamp;

use crate::effects::{ALERT_EFFECT, EffectError, Notifier};
use crate::ingest::MAX_CONFLICT_RETRIES;
use crate::ledger::Ledger;
use crate::sagemaker::{SageMaker, SageMakerError};

/// Why a step could not finish. Retryable ones leave the action where a later delivery resumes it.
#[derive(Debug, thiserror::Error)]
pub enum BreakGlassError {
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error("SageMaker: {0}")]
    SageMaker(#[from] SageMakerError),
    #[error("alert: {0}")]
    Alert(#[from] EffectError),
    /// The endpoint is busy: the action waits, and the request must come again.
    #[error("waiting: {0}")]
    RetryLater(String),
    #[error("no break-glass request {0} on record")]
    UnknownRequest(String),
}

impl BreakGlassError {
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Ledger(e) => e.is_retryable(),
            Self::SageMaker(e) => matches!(e, SageMakerError::Unavailable(_) | SageMakerError::InProgress(_)),
            Self::Alert(e) => e.is_retryable(),
            Self::RetryLater(_) => true,
            Self::UnknownRequest(_) => false,
        }
    }
}

/// Where an action stands after a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub record: Option<ActionRecord>,
    pub next: Next,
    /// Alerts sent during the step.
    pub alerts: usize,
}

/// The break-glass executor: the only component that changes SageMaker.
#[derive(Debug)]
pub struct BreakGlass<L, S, N> {
    pub ledger: L,
    pub sagemaker: S,
    pub notifier: N,
    pub settings: Settings,
    pub kill_switch: bool,
    /// Who writes the entries of automatic steps (verification, resumes).
    pub actor: Actor,
}

impl<L, S, N> BreakGlass<L, S, N> {
    /// The executor as the policy (with its switches applied: [`crate::config::with_switches`]) configures it: the
    /// one construction the function and the CLI's `--here` share, so both honour the same limits and switches.
    pub fn from_policy(
        ledger: L,
        sagemaker: S,
        notifier: N,
        policy: &warden_core::policy::Policy,
        actor: Actor,
    ) -> Self {
        Self {
            ledger,
            sagemaker,
            notifier,
            settings: policy.break_glass.clone(),
            kill_switch: policy.kill_switch,
            actor,
        }
    }
}

impl<L: Ledger, S: SageMaker, N: Notifier> BreakGlass<L, S, N> {
    /// Moves the action along until it needs nothing more now: finished, waiting for a person, waiting for the
    /// endpoint (an error, so the request comes again), or still verifying after `polls` looks.
    pub async fn drive<C, P, F>(
        &self,
        request: &BreakGlassRequest,
        input: Input<'_>,
        clock: C,
        pause: P,
        polls: u32,
    ) -> Result<Step, BreakGlassError>
    where
        C: Fn() -> Timestamp,
        P: Fn(u32) -> F,
        F: Future<Output = ()>,
    {
        let model = self.model_for(request).await?;
        let mut step = self.step_with(request, input, model.as_ref(), true, clock()).await?;
        let mut alerts = step.alerts;
        let mut looked = 0;
        while step.next == Next::Poll && looked < polls {
            looked += 1;
            pause(looked).await;
            step = self.step_with(request, Input::Look, model.as_ref(), false, clock()).await?;
            alerts += step.alerts;
        }
        step.alerts = alerts;
        match &step.next {
            Next::RetryLater(why) => Err(BreakGlassError::RetryLater(why.clone())),
            _ => Ok(step),
        }
    }

    /// One move: decide, commit, alert, and make the SageMaker call the move asks for (committing its result).
    pub async fn step(
        &self,
        request: &BreakGlassRequest,
        input: Input<'_>,
        now: Timestamp,
    ) -> Result<Step, BreakGlassError> {
        let model = self.model_for(request).await?;
        self.step_with(request, input, model.as_ref(), true, now).await
    }

    /// A step with the owning model already read (once per invocation). `first`: also resend an alert a crash
    /// left undelivered (only the first step of an invocation can find one).
    async fn step_with(
        &self,
        request: &BreakGlassRequest,
        input: Input<'_>,
        model: Option<&Model>,
        first: bool,
        now: Timestamp,
    ) -> Result<Step, BreakGlassError> {
        let mut attempt = 0;
        let mut alerts = 0;
        loop {
            let facts = self.facts(request, model).await?;
            // The deploy-time switch is a floor the shared one (read with the facts, every step) can only raise.
            let switches = Switches { settings: &self.settings, kill_switch: self.kill_switch || facts.kill_switch };
            if first && attempt == 0 {
                alerts += self.resend_pending_alert(&facts).await?;
            }
            let observed = self.observe(request, model).await?;
            let decided = decide(request, &input, &facts, &observed, &switches, now);
            let actor = match (&input, &facts.record) {
                (Input::Approve { by }, _) => (*by).clone(),
                (_, None) => request.requested_by.clone(),
                _ => self.actor.clone(),
            };
            let Move { record: Some(record), writes, next } = decided else {
                return Ok(Step { record: facts.record.map(|r| r.value), next: decided.next, alerts });
            };
            let record = match self.commit(&facts, record, writes, &actor, now).await {
                Err(LedgerError::Conflict(_)) if attempt < MAX_CONFLICT_RETRIES => {
                    attempt += 1;
                    self.ledger.pause_before_retry(attempt).await;
                    continue;
                }
                other => other?,
            };
            alerts += self.alert(&record, facts.model.as_ref()).await?;
            let Next::Call(change) = &next else {
                return Ok(Step { record: Some(record), next, alerts });
            };
            let result = match self.sagemaker.apply(change).await {
                Ok(()) => CallResult::Accepted,
                Err(SageMakerError::InProgress(message)) => CallResult::InProgress(message),
                Err(SageMakerError::Rejected(message)) => CallResult::Rejected(message),
                // Unknown whether the call took effect: leave the action executing; the retry looks first.
                Err(unavailable @ SageMakerError::Unavailable(_)) => return Err(unavailable.into()),
            };
            let (record, next, sent) = self.record_call(request, model, &result, now).await?;
            return Ok(Step { record: Some(record), next, alerts: alerts + sent });
        }
    }

    /// Commits what the call did (verifying, waiting again, or failed).
    async fn record_call(
        &self,
        request: &BreakGlassRequest,
        model: Option<&Model>,
        result: &CallResult,
        now: Timestamp,
    ) -> Result<(ActionRecord, Next, usize), BreakGlassError> {
        let mut attempt = 0;
        loop {
            let facts = self.facts(request, model).await?;
            let Some(current) = facts.record.as_ref().filter(|r| r.value.phase == Phase::Executing) else {
                // Another worker already moved it on.
                let record = facts
                    .record
                    .map(|r| r.value)
                    .ok_or_else(|| BreakGlassError::UnknownRequest(request.request_id.clone()))?;
                return Ok((record, Next::Stop, 0));
            };
            let Move { record, writes, next } = after_call(&current.value, &facts, result, now);
            let Some(record) = record else { return Ok((current.value.clone(), next, 0)) };
            match self.commit(&facts, record, writes, &self.actor, now).await {
                Err(LedgerError::Conflict(_)) if attempt < MAX_CONFLICT_RETRIES => {
                    attempt += 1;
                    self.ledger.pause_before_retry(attempt).await;
                }
                Err(e) => return Err(e.into()),
                Ok(record) => {
                    let sent = self.alert(&record, facts.model.as_ref()).await?;
                    return Ok((record, next, sent));
                }
            }
        }
    }

    /// The request an id refers to (approvals name only the id).
    pub async fn request_by_id(&self, request_id: &str) -> Result<BreakGlassRequest, BreakGlassError> {
        recorded_request(&self.ledger, request_id).await
    }

    /// The request holding a target's lock, if any (an endpoint's state change nudges its in-flight action).
    pub async fn request_holding(&self, target: &str) -> Result<Option<BreakGlassRequest>, BreakGlassError> {
        let key = lock_key(target);
        let records = self.ledger.records(std::slice::from_ref(&key)).await?;
        let Some(record) = records.get(&key) else { return Ok(None) };
        let lock: Versioned<warden_core::breakglass::Lock> =
            Versioned::from_record(&key, record).map_err(LedgerError::Corrupt)?;
        match self.request_by_id(&lock.value.request_id).await {
            Ok(request) => Ok(Some(request)),
            Err(BreakGlassError::UnknownRequest(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The model that owns the target: only the models the request's model id and target can name are read.
    async fn model_for(&self, request: &BreakGlassRequest) -> Result<Option<Model>, LedgerError> {
        let mut resources = vec![request.action.target_kind().resource(&request.target)];
        resources.extend(request.model_id.iter().map(|id| warden_core::resource::Resource::Model(id.clone())));
        Ok(owning_model(&self.ledger.inventory_for(&resources).await?, request))
    }

    async fn facts(&self, request: &BreakGlassRequest, model: Option<&Model>) -> Result<Facts, LedgerError> {
        let keys = Facts::keys(&request.request_id, &request.target);
        let records = self.ledger.records(&keys).await?;
        Facts::from_records(&request.request_id, &request.target, &records, model.cloned())
            .map_err(LedgerError::Corrupt)
    }

    /// What SageMaker shows. A refusal to describe (no permission) is an observation, so a new request is
    /// refused and recorded rather than lost; only a retryable failure is an error.
    async fn observe(&self, request: &BreakGlassRequest, model: Option<&Model>) -> Result<Observation, SageMakerError> {
        if let Some(why) = warden_core::breakglass::outside_home(&request.target, model) {
            return Ok(Observation::Unreadable(why));
        }
        let observed = if request.action.on_endpoint() {
            self.sagemaker.observe_endpoint(&request.target).await
        } else {
            self.sagemaker.observe_package(&request.target).await
        };
        match observed {
            Err(SageMakerError::Rejected(why)) => Ok(Observation::Unreadable(why)),
            other => other,
        }
    }

    /// Commits a new phase: the action record at the version read, the other record writes, and one entry.
    async fn commit(
        &self,
        facts: &Facts,
        mut record: ActionRecord,
        mut writes: Vec<RecordWrite>,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<ActionRecord, LedgerError> {
        let expected = facts.record.as_ref().map(|r| r.version);
        let version = expected.map_or(1, |v| v + 1);
        let request = &record.request;
        let key = format!("breakglass#{}#{version}", request.request_id);
        record.transition_key = key.clone();
        let value = serde_json::to_value(&record).map_err(|e| LedgerError::Invalid(e.to_string()))?;
        writes.insert(0, RecordWrite { key: action_key(&request.request_id), expected, value: Some(value) });
        let chain = facts.model.as_ref().map_or_else(|| unattributed_chain(&request.target), |m| m.id.clone());
        let entry = NewEntry {
            chain,
            recorded_at: now,
            idempotency_key: key.clone(),
            event_id: request.request_id.clone(),
            source: BREAK_GLASS_SOURCE.to_owned(),
            detail_type: format!("Break-Glass {}", record.phase),
            occurred_at: now,
            model_version: None,
            actor: actor.clone(),
            reason: request.reason.clone(),
            body: EntryBody::BreakGlass {
                request_id: request.request_id.clone(),
                operation: request.action,
                target: request.target.clone(),
                phase: record.phase,
                change: record.change.clone(),
                reverse: record.reverse.clone(),
                note: record.note.clone(),
            },
            seals: Vec::new(),
        };
        let commit = Commit {
            idempotency_key: key,
            outcome: EventOutcome {
                models: facts.model.iter().map(|m| m.id.clone()).collect(),
                summary: format!("{} {}: {} ({})", request.action, request.target, record.phase, record.note),
                notify: alerts::compose(&record, facts.model.as_ref()).is_some(),
                ..EventOutcome::default()
            },
            entries: vec![entry],
            records: writes,
            ..Commit::default()
        };
        match self.ledger.commit(commit).await? {
            CommitOutcome::Committed { .. } => Ok(record),
            // Another worker wrote this very transition: re-read and carry on from there.
            CommitOutcome::Duplicate { .. } => Err(LedgerError::Conflict("transition already written".into())),
        }
    }

    async fn alert(&self, record: &ActionRecord, model: Option<&Model>) -> Result<usize, BreakGlassError> {
        let Some(alert) = alerts::compose(record, model) else { return Ok(0) };
        self.notifier.notify(&alert).await?;
        self.ledger.mark_delivered(&record.transition_key, ALERT_EFFECT).await?;
        Ok(1)
    }

    /// A crash between a commit and its alert leaves the alert undelivered: send it before moving on.
    async fn resend_pending_alert(&self, facts: &Facts) -> Result<usize, BreakGlassError> {
        let Some(current) = &facts.record else { return Ok(0) };
        let record = &current.value;
        if record.transition_key.is_empty() {
            return Ok(0);
        }
        match self.ledger.outcome(&record.transition_key).await? {
            Some(outcome) if outcome.notify && !outcome.delivered.contains(ALERT_EFFECT) => {
                self.alert(record, facts.model.as_ref()).await
            }
            _ => Ok(0),
        }
    }
}

/// The request a ledger has on record under `request_id`.
pub async fn recorded_request<L: Ledger>(ledger: &L, request_id: &str) -> Result<BreakGlassRequest, BreakGlassError> {
    let key = action_key(request_id);
    let records = ledger.records(std::slice::from_ref(&key)).await?;
    let record = records.get(&key).ok_or_else(|| BreakGlassError::UnknownRequest(request_id.to_owned()))?;
    let versioned: Versioned<ActionRecord> = Versioned::from_record(&key, record).map_err(LedgerError::Corrupt)?;
    Ok(versioned.value.request)
}

/// The model that owns the request's target: the one the request names, else the one whose inventory lists the
/// endpoint or package.
fn owning_model(inventory: &warden_core::inventory::Inventory, request: &BreakGlassRequest) -> Option<Model> {
    let kind = request.action.target_kind();
    if let Some(model) =
        request.model_id.as_deref().and_then(|id| inventory.get(id)).filter(|m| m.owns_target(kind, &request.target))
    {
        return Some(model.clone());
    }
    warden_core::breakglass::status::owning_model(inventory, request.action.target_kind(), &request.target).cloned()
}
