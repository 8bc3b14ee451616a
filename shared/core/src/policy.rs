//! Policy as code: rules that weigh a signal's class and severity against the affected model's risk tier, and
//! the pure decision they produce.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::action::{Change, ECHO_WINDOW_MINUTES, LastChange, Mode, RuleAction};
use crate::event::sagemaker::EndpointStatus;
use crate::inventory::{Model, RiskTier};
use crate::resource::Resource;
use crate::severity::{Band, Severity};
use crate::signal::{Signal, SignalClass};
use crate::time::Timestamp;

const DEFAULT_POLICY: &str = include_str!("default-policy.toml");

/// The risk a rule matches: a tier, a model not yet classified, or no model at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskMatch {
    High,
    Medium,
    Low,
    Unclassified,
    /// The signal affects no known model.
    None,
}

impl RiskMatch {
    fn of(model: Option<&Model>) -> Self {
        match model.map(|m| m.risk) {
            None => Self::None,
            Some(None) => Self::Unclassified,
            Some(Some(RiskTier::High)) => Self::High,
            Some(Some(RiskTier::Medium)) => Self::Medium,
            Some(Some(RiskTier::Low)) => Self::Low,
        }
    }
}

/// Facts about the affected model a rule can require (any one of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    ModelUnowned,
    ModelUnclassified,
    /// The model has an open Macie sensitive-data finding on its training data.
    OpenDataFinding,
    /// The endpoint the signal names went InService on its current config within `recent_deployment_minutes`
    /// before the signal: a fault right after a change is the change's fault.
    RecentDeployment,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    pub description: Option<String>,
    /// Empty: any class.
    #[serde(default)]
    pub class: Vec<SignalClass>,
    /// Severity bands; empty: any.
    #[serde(default)]
    pub severity: Vec<Band>,
    /// Risk of the affected model; empty: any.
    #[serde(default)]
    pub risk: Vec<RiskMatch>,
    /// The source's own kind (finding type, status); empty: any.
    #[serde(default)]
    pub kind: Vec<String>,
    /// At least one must hold; empty: no requirement.
    #[serde(default)]
    pub when: Vec<Condition>,
    /// Alert level; none: record only.
    pub alert: Option<Band>,
    #[serde(default)]
    pub actions: Vec<RuleAction>,
    /// Required when `actions` is not empty.
    pub mode: Option<Mode>,
    /// What a rollback becomes when no known-good config exists.
    pub rollback_fallback: Option<RuleAction>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftThresholds {
    pub high: f64,
    pub medium: f64,
    pub low: f64,
    pub unclassified: f64,
}

impl DriftThresholds {
    pub fn for_risk(&self, risk: Option<RiskTier>) -> f64 {
        match risk {
            Some(RiskTier::High) => self.high,
            Some(RiskTier::Medium) => self.medium,
            Some(RiskTier::Low) => self.low,
            None => self.unclassified,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    /// Unmatched signals alert at their band from this band up.
    pub min_alert: Band,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub version: u32,
    #[serde(default)]
    pub kill_switch: bool,
    pub cooldown_minutes: u32,
    /// A repeated finding or alarm pages again only after this window, or when its level rises.
    pub renotify_minutes: u32,
    /// How long after an endpoint's config went InService (a deployment, or a rollback) a signal about it meets the
    /// `recent-deployment` condition.
    #[serde(default = "default_recent_deployment_minutes")]
    pub recent_deployment_minutes: u32,
    pub drift_thresholds: DriftThresholds,
    pub fallback: Fallback,
    /// Limits and switches for carrying actions out (break-glass).
    #[serde(default)]
    pub break_glass: crate::policy::Settings,
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
}

fn default_recent_deployment_minutes() -> u32 {
    60
}

/// Why a policy file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("invalid policy TOML: {0}")]
    Syntax(String),
    #[error("invalid policy: {0}")]
    Invalid(String),
}

impl Policy {
    /// Observe-only: every rule plans its actions as shadow and break-glass records what it would have done.
    /// Unlike the kill switch (an emergency stop that refuses), this is how a new installation starts.
    pub fn force_shadow(&mut self) {
        for rule in &mut self.rules {
            rule.mode = Some(Mode::Shadow);
        }
        self.break_glass.mode = Mode::Shadow;
    }

    /// The built-in policy (`shared/core/src/default-policy.toml`).
    pub fn builtin() -> Result<Self, PolicyError> {
        Self::parse(DEFAULT_POLICY)
    }

    pub fn builtin_text() -> &'static str {
        DEFAULT_POLICY
    }

    /// Parses and validates a policy file.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        let policy: Self = toml::from_str(text).map_err(|e| PolicyError::Syntax(e.to_string()))?;
        policy.validate()?;
        Ok(policy)
    }

    fn validate(&self) -> Result<(), PolicyError> {
        let invalid = |m: String| Err(PolicyError::Invalid(m));
        if self.version != 1 {
            return invalid(format!("version {} is not supported (expected 1)", self.version));
        }
        let t = &self.drift_thresholds;
        for (tier, value) in [("high", t.high), ("medium", t.medium), ("low", t.low), ("unclassified", t.unclassified)]
        {
            if !value.is_finite() || value <= 0.0 {
                return invalid(format!("drift_thresholds.{tier} must be a positive number, not {value}"));
            }
        }
        self.break_glass.validate().map_err(PolicyError::Invalid)?;
        let mut names = BTreeSet::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let at = format!("rule #{} ({:?})", index + 1, rule.name);
            if rule.name.trim().is_empty() {
                return invalid(format!("rule #{} has an empty name", index + 1));
            }
            if !names.insert(rule.name.as_str()) {
                return invalid(format!("{at}: duplicate rule name"));
            }
            if !rule.actions.is_empty() && rule.mode.is_none() {
                return invalid(format!("{at}: has actions but no mode (set mode = \"enforce\" or \"shadow\")"));
            }
            if rule.actions.is_empty() && rule.mode.is_some() {
                return invalid(format!("{at}: sets a mode but has no actions"));
            }
            if rule.risk.contains(&RiskMatch::None) && !rule.actions.is_empty() {
                return invalid(format!("{at}: actions need a model, but risk includes \"none\""));
            }
            match rule.rollback_fallback {
                Some(_) if !rule.actions.contains(&RuleAction::Rollback) => {
                    return invalid(format!("{at}: rollback_fallback without a rollback action"));
                }
                Some(RuleAction::Cutoff) | None => {}
                Some(other) => {
                    return invalid(format!("{at}: rollback_fallback must be \"cutoff\", not {other:?}"));
                }
            }
            let unique: BTreeSet<_> = rule.actions.iter().collect();
            if unique.len() != rule.actions.len() {
                return invalid(format!("{at}: lists an action twice"));
            }
            if rule.kind.iter().any(|k| k.trim().is_empty()) {
                return invalid(format!("{at}: has an empty kind"));
            }
            let matches_everything = rule.class.is_empty()
                && rule.severity.is_empty()
                && rule.risk.is_empty()
                && rule.kind.is_empty()
                && rule.when.is_empty();
            if matches_everything && index + 1 < self.rules.len() {
                return invalid(format!(
                    "{at}: matches every signal, so rule {:?} after it can never match",
                    self.rules[index + 1].name
                ));
            }
        }
        Ok(())
    }

    fn cooldown_millis(&self) -> i64 {
        i64::from(self.cooldown_minutes) * 60_000
    }

    /// Whether an alert about something last paged at `previous` (severity band, time) should page again now,
    /// at `severity`: when the severity rose or the re-notify window has passed.
    pub fn should_notify(&self, severity: Band, at: Timestamp, previous: Option<&(Band, Timestamp)>) -> bool {
        match previous {
            None => true,
            Some((last_severity, last_at)) => {
                severity > *last_severity || at.millis() - last_at.millis() >= i64::from(self.renotify_minutes) * 60_000
            }
        }
    }
}

/// The rule name recorded for an event that reports Warden's own break-glass change.
pub const ECHO_RULE: &str = "warden-own-change";
/// The built-in rule for sample findings: recorded as samples, at most an info alert, never an action, whatever
/// the policy and mode say.
pub const SAMPLE_RULE: &str = "sample-finding";

/// Break-glass limits and switches (`[break_glass]` in the policy).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// `shadow`: record what would have been done and touch nothing.
    pub mode: Mode,
    /// Only resources carrying this tag (endpoints; a package's group) are touched. Fails closed: a missing tag,
    /// another value or tags that cannot be read refuse the action.
    pub scope_tag: String,
    pub scope_value: String,
    /// Cooldown: at most this many actions per endpoint or package within `target_window_minutes`.
    pub max_actions_per_target: u32,
    pub target_window_minutes: u32,
    /// Circuit breaker: at most this many actions in the account per hour.
    pub max_actions_per_hour: u32,
    /// Whether deleting an endpoint (the last cutoff step) waits for a second person's approval.
    pub delete_requires_approval: bool,
    pub approval_expiry_minutes: u32,
    /// How long an in-flight action holds its endpoint's lock without progress; a lock past it can be taken over.
    pub lock_minutes: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: Mode::Enforce,
            scope_tag: "warden:managed".into(),
            scope_value: "true".into(),
            max_actions_per_target: 3,
            target_window_minutes: 60,
            max_actions_per_hour: 10,
            delete_requires_approval: true,
            approval_expiry_minutes: 30,
            lock_minutes: 15,
        }
    }
}

impl Settings {
    pub fn validate(&self) -> Result<(), String> {
        if self.scope_tag.trim().is_empty() {
            return Err("break_glass.scope_tag must name a tag (scoping cannot be switched off)".into());
        }
        for (name, value) in [
            ("max_actions_per_target", self.max_actions_per_target),
            ("target_window_minutes", self.target_window_minutes),
            ("max_actions_per_hour", self.max_actions_per_hour),
            ("approval_expiry_minutes", self.approval_expiry_minutes),
            ("lock_minutes", self.lock_minutes),
        ] {
            if value == 0 {
                return Err(format!("break_glass.{name} must be at least 1"));
            }
        }
        Ok(())
    }
}

/// Recognising SageMaker's report of Warden's own change is a decision about a signal, so it lives here.
impl LastChange {
    /// Whether `signal` is SageMaker reporting this change's result (its echo) rather than something new: the
    /// package in the approval Warden set, or the endpoint InService on the config Warden set, soon after.
    pub fn echoed_by(&self, signal: &Signal) -> bool {
        let since_millis = signal.occurred_at.millis() - self.at.millis();
        // A minute of clock skew before the change: SageMaker's times and ours come from different clocks.
        if !(-60_000..=ECHO_WINDOW_MINUTES * 60_000).contains(&since_millis) {
            return false;
        }
        let names = |resource: Resource| signal.resources.contains(&resource);
        match (&self.change, signal.class) {
            (Change::SetApproval { package, status, .. }, SignalClass::ModelApproval) => {
                signal.kind == status.to_string() && names(Resource::ModelPackage(package.clone()))
            }
            (
                Change::UpdateEndpoint { endpoint, config } | Change::CreateEndpoint { endpoint, config, .. },
                SignalClass::Endpoint,
            ) => {
                signal.kind == EndpointStatus::InService.to_string()
                    && names(Resource::Endpoint(endpoint.clone()))
                    && names(Resource::EndpointConfig(config.clone()))
            }
            _ => false,
        }
    }
}

/// Ledger facts the decision needs, fetched by the caller.
#[derive(Debug, Clone, Default)]
pub struct DecisionContext {
    /// Models with an open Macie sensitive-data finding.
    pub open_data_findings: BTreeSet<String>,
    /// When an action last targeted each endpoint or model package.
    pub last_actions: BTreeMap<String, Timestamp>,
    /// The last alert that paged about each alert key (see `Signal::alert_key`): its severity band and time.
    pub last_alerts: BTreeMap<String, (Band, Timestamp)>,
    /// Warden's own last break-glass change to each target (read only for signals such a change can cause).
    pub warden_changes: BTreeMap<String, crate::action::LastChange>,
}

impl DecisionContext {
    /// Warden's change that `signal` reports the result of, if it is such an echo.
    pub fn echoed_change(&self, signal: &Signal) -> Option<&crate::action::LastChange> {
        self.warden_changes.values().find(|change| change.echoed_by(signal))
    }
}

/// An action the decision plans. Warden's core never executes it; break-glass does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedAction {
    pub kind: RuleAction,
    /// The endpoint name (rollback, cutoff) or model package ARN or group (gate).
    pub target: String,
    pub mode: Mode,
    /// Rollback: the config to return to. Cutoff: the config serving when it was decided (to restore).
    pub config: Option<String>,
}

impl PlannedAction {
    /// "would roll back endpoint fraud-prod to fraud-cfg-v2".
    pub fn describe(&self) -> String {
        let verb = match self.mode {
            Mode::Enforce => "will",
            Mode::Shadow => "would",
        };
        match (self.kind, &self.config) {
            (RuleAction::Rollback, Some(config)) => {
                format!("{verb} roll back endpoint {} to {config}", self.target)
            }
            (RuleAction::Rollback, None) => format!("{verb} roll back endpoint {}", self.target),
            (RuleAction::Cutoff, _) => {
                format!("{verb} cut off traffic to endpoint {}", self.target)
            }
            (RuleAction::Gate, _) => {
                format!("{verb} hold approval of model package {}", self.target)
            }
        }
    }
}

/// An action the rule asked for that Warden will not plan, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedAction {
    pub kind: RuleAction,
    pub target: Option<String>,
    pub reason: String,
}

/// What Warden decided about one signal for one model (or for no model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub model_id: Option<String>,
    /// The rule that matched, or `fallback`.
    pub rule: String,
    /// The severity this decision weighed (a drift measurement is judged against the model's threshold).
    pub severity: Severity,
    pub alert: Option<Band>,
    pub actions: Vec<PlannedAction>,
    pub skipped: Vec<SkippedAction>,
    pub reasons: Vec<String>,
}

impl Policy {
    /// Decides what to do about `signal` for `model` (`None`: it affects no known model). Pure.
    pub fn decide(&self, signal: &Signal, model: Option<&Model>, context: &DecisionContext) -> Decision {
        let mut reasons = Vec::new();
        let severity = self.effective_severity(signal, model, &mut reasons);
        // SageMaker reporting what Warden itself just did (a gate, a person's release, a rollback) is recorded,
        // never acted on again: re-gating a package a person released would undo their decision.
        if let Some(change) = context.echoed_change(signal) {
            reasons.push(format!(
                "the result of Warden's own {} (request {}) at {}",
                change.operation, change.request_id, change.at
            ));
            return Decision {
                model_id: model.map(|m| m.id.clone()),
                rule: ECHO_RULE.into(),
                severity,
                alert: None,
                actions: Vec::new(),
                skipped: Vec::new(),
                reasons,
            };
        }
        if signal.sample {
            reasons.push(
                "a sample finding (made by create-sample-findings or Macie's sample findings), not a real one".into(),
            );
            return Decision {
                model_id: model.map(|m| m.id.clone()),
                rule: SAMPLE_RULE.into(),
                severity,
                alert: Some(Band::Info),
                actions: Vec::new(),
                skipped: Vec::new(),
                reasons,
            };
        }
        let risk = RiskMatch::of(model);
        let facts = model.map(|m| self.model_facts(m, signal, context)).unwrap_or_default();
        let matched = self.rules.iter().find(|rule| {
            (rule.class.is_empty() || rule.class.contains(&signal.class))
                && (rule.severity.is_empty() || rule.severity.contains(&severity.band()))
                && (rule.risk.is_empty() || rule.risk.contains(&risk))
                && (rule.kind.is_empty() || rule.kind.contains(&signal.kind))
                && (rule.when.is_empty() || rule.when.iter().any(|c| facts.contains(c)))
        });
        let Some(rule) = matched else {
            let alert = (severity.band() >= self.fallback.min_alert).then_some(severity.band());
            reasons.push(format!("no rule matched; {} severity", severity.band()));
            return Decision {
                model_id: model.map(|m| m.id.clone()),
                rule: "fallback".into(),
                severity,
                alert,
                actions: Vec::new(),
                skipped: Vec::new(),
                reasons,
            };
        };
        reasons.push(format!(
            "rule {} matched ({} {} severity, {} risk)",
            rule.name,
            signal.class,
            severity.band(),
            risk_label(risk)
        ));
        if !rule.when.is_empty() {
            let held: Vec<_> = rule.when.iter().filter(|c| facts.contains(c)).map(|c| condition_label(*c)).collect();
            reasons.push(format!("because {}", held.join(", ")));
        }
        let mode = if self.kill_switch { Mode::Shadow } else { rule.mode.unwrap_or(Mode::Shadow) };
        if self.kill_switch && !rule.actions.is_empty() {
            reasons.push("kill switch on: actions are shadow only".into());
        }
        let mut actions = Vec::new();
        let mut skipped = Vec::new();
        if let Some(model) = model {
            for kind in &rule.actions {
                self.plan_action(*kind, rule, mode, signal, model, context, &mut actions, &mut skipped);
            }
        }
        Decision {
            model_id: model.map(|m| m.id.clone()),
            rule: rule.name.clone(),
            severity,
            alert: rule.alert,
            actions,
            skipped,
            reasons,
        }
    }

    fn model_facts(&self, model: &Model, signal: &Signal, context: &DecisionContext) -> Vec<Condition> {
        let mut facts = Vec::new();
        if model.owner.is_none() {
            facts.push(Condition::ModelUnowned);
        }
        if model.risk.is_none() {
            facts.push(Condition::ModelUnclassified);
        }
        if context.open_data_findings.contains(&model.id) {
            facts.push(Condition::OpenDataFinding);
        }
        let window = i64::from(self.recent_deployment_minutes) * 60_000;
        let recent = signal.endpoints().filter_map(|name| model.endpoint(name)).any(|endpoint| {
            let current = endpoint.current_config.as_deref();
            endpoint
                .history
                .iter()
                .filter(|d| Some(d.config.as_str()) == current)
                .filter_map(|d| d.in_service_at)
                .any(|at| (0..=window).contains(&(signal.occurred_at.millis() - at.millis())))
        });
        if recent {
            facts.push(Condition::RecentDeployment);
        }
        facts
    }

    /// Drift measurements have no severity of their own: they breach (high) or not (info) against the
    /// threshold for the model's risk tier.
    fn effective_severity(&self, signal: &Signal, model: Option<&Model>, reasons: &mut Vec<String>) -> Severity {
        let Some(drift) = &signal.drift else {
            return signal.severity;
        };
        let risk = model.and_then(|m| m.risk);
        let threshold = self.drift_thresholds.for_risk(risk);
        let breached = drift.value >= threshold;
        reasons.push(format!(
            "{} = {} is {} the {} threshold {threshold}",
            drift.metric,
            drift.value,
            if breached { "at or over" } else { "under" },
            risk.map_or("unclassified", RiskTier::as_str)
        ));
        if breached { Severity::HIGH } else { Severity::INFO }
    }

    #[allow(clippy::too_many_arguments)]
    fn plan_action(
        &self,
        kind: RuleAction,
        rule: &Rule,
        mode: Mode,
        signal: &Signal,
        model: &Model,
        context: &DecisionContext,
        actions: &mut Vec<PlannedAction>,
        skipped: &mut Vec<SkippedAction>,
    ) {
        let mut candidates = Vec::new();
        match kind {
            RuleAction::Gate => match gate_target(signal, model) {
                Some(target) => candidates.push(PlannedAction { kind, target, mode, config: None }),
                None => skipped.push(SkippedAction {
                    kind,
                    target: None,
                    reason: "the model has no model package to gate".into(),
                }),
            },
            RuleAction::Rollback | RuleAction::Cutoff => {
                let endpoints = target_endpoints(signal, model);
                if endpoints.is_empty() {
                    skipped.push(SkippedAction {
                        kind,
                        target: None,
                        reason: "the model has no known endpoint".into(),
                    });
                }
                for endpoint in endpoints {
                    let record = model.endpoint(endpoint);
                    let current = record.and_then(|r| r.current_config.clone());
                    let known_good = record.and_then(|r| r.last_known_good()).map(str::to_owned);
                    match (kind, known_good, rule.rollback_fallback) {
                        (RuleAction::Rollback, Some(good), _) => {
                            candidates.push(PlannedAction {
                                kind,
                                target: endpoint.to_owned(),
                                mode,
                                config: Some(good),
                            });
                        }
                        (RuleAction::Rollback, None, Some(fallback)) => {
                            skipped.push(SkippedAction {
                                kind,
                                target: Some(endpoint.to_owned()),
                                reason: format!("no last known-good config; falling back to {fallback}"),
                            });
                            candidates.push(PlannedAction {
                                kind: fallback,
                                target: endpoint.to_owned(),
                                mode,
                                config: current,
                            });
                        }
                        (RuleAction::Rollback, None, None) => skipped.push(SkippedAction {
                            kind,
                            target: Some(endpoint.to_owned()),
                            reason: "no last known-good config to roll back to".into(),
                        }),
                        _ => {
                            candidates.push(PlannedAction { kind, target: endpoint.to_owned(), mode, config: current })
                        }
                    }
                }
            }
        }
        for action in candidates {
            let cooling = context.last_actions.get(&action.target).filter(|last| {
                let elapsed = signal.occurred_at.millis() - last.millis();
                (0..self.cooldown_millis()).contains(&elapsed)
            });
            if let Some(last) = cooling {
                skipped.push(SkippedAction {
                    kind: action.kind,
                    target: Some(action.target.clone()),
                    reason: format!(
                        "cooldown: an action targeted it at {last}, within {} minutes",
                        self.cooldown_minutes
                    ),
                });
            } else if !actions.iter().any(|a: &PlannedAction| a.target == action.target && a.kind == action.kind) {
                actions.push(action);
            }
        }
    }
}

fn condition_label(condition: Condition) -> &'static str {
    match condition {
        Condition::ModelUnowned => "the model has no owner",
        Condition::ModelUnclassified => "the model has no risk tier",
        Condition::OpenDataFinding => "the model has an open sensitive-data finding",
        Condition::RecentDeployment => "the endpoint's config changed recently",
    }
}

fn risk_label(risk: RiskMatch) -> &'static str {
    match risk {
        RiskMatch::High => "high",
        RiskMatch::Medium => "medium",
        RiskMatch::Low => "low",
        RiskMatch::Unclassified => "unclassified",
        RiskMatch::None => "no model",
    }
}

/// The endpoints an endpoint action targets: those the signal names that belong to the model, else all of them.
fn target_endpoints<'a>(signal: &'a Signal, model: &'a Model) -> Vec<&'a str> {
    let named: Vec<&str> = signal.endpoints().filter(|e| model.endpoint(e).is_some()).collect();
    if named.is_empty() { model.endpoints.iter().map(|e| e.name.as_str()).collect() } else { named }
}

/// The package a gate holds: the one the signal names, else the model's newest version, else its group.
fn gate_target(signal: &Signal, model: &Model) -> Option<String> {
    signal
        .resources
        .iter()
        .find_map(|r| match r {
            Resource::ModelPackage(arn) if model.owns(r) => Some(arn.clone()),
            _ => None,
        })
        .or_else(|| model.latest_package().map(|p| p.arn.clone()))
        .or_else(|| model.model_package_group.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_policy_is_valid() {
        assert!(Policy::builtin().is_ok(), "{:?}", Policy::builtin().err());
    }

    #[test]
    fn invalid_policies_name_the_problem() {
        let base = "version = 1\ncooldown_minutes = 5\nrenotify_minutes = 60\n[drift_thresholds]\nhigh=0.1\nmedium=0.2\nlow=0.3\nunclassified=0.2\n[fallback]\nmin_alert=\"low\"\n";
        let cases = [
            ("[[rule]]\nname=\"a\"\nactions=[\"cutoff\"]", "no mode"),
            (
                "[[rule]]\nname=\"a\"\nclass=[\"drift\"]\n[[rule]]\nname=\"a\"\nclass=[\"threat\"]",
                "duplicate rule name",
            ),
            ("[[rule]]\nname=\"a\"\n[[rule]]\nname=\"b\"\nclass=[\"threat\"]", "can never match"),
            ("[[rule]]\nname=\"a\"\nclass=[\"earthquake\"]", "unknown variant"),
            ("[[rule]]\nname=\"a\"\nalert=\"urgent\"", "unknown variant"),
            ("[[rule]]\nname=\"a\"\nrisk=[\"none\"]\nactions=[\"gate\"]\nmode=\"enforce\"", "need a model"),
            (
                "[[rule]]\nname=\"a\"\nactions=[\"gate\"]\nmode=\"enforce\"\nrollback_fallback=\"cutoff\"",
                "without a rollback",
            ),
            ("[[rule]]\nname=\"a\"\nseverity=[\"high\"]\nmode=\"enforce\"", "no actions"),
            ("[[rule]]\nname=\"a\"\nfrobnicate=true", "unknown field"),
        ];
        for (rules, expected) in cases {
            let err = Policy::parse(&format!("{base}{rules}")).err().map(|e| e.to_string()).unwrap_or_default();
            assert!(err.contains(expected), "{rules:?}: got {err:?}, expected {expected:?}");
        }
        let err = Policy::parse(&base.replace("version = 1", "version = 2")).err().map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("version 2"));
        let err = Policy::parse(&base.replace("high=0.1", "high=-1.0")).err().map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("drift_thresholds.high"));
    }
}
