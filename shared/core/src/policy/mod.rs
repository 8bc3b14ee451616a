//! Policy as code: rules that weigh a signal's class and severity against the affected model's risk tier, and
//! the pure decision they produce.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::action::{Mode, RuleAction};
use crate::inventory::{Model, RiskTier};
use crate::severity::{Band, Severity};
use crate::signal::{Signal, SignalClass};
use crate::time::Timestamp;

mod decide;

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

    /// The built-in policy (`shared/core/src/policy/default-policy.toml`).
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
    /// The shared kill switch (set with `warden kill-switch`) is on: every action is shadow only, as with the policy's
    /// own `kill_switch`, which this can only add to.
    pub kill_switch: bool,
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
