//! How a policy decides about one signal for one model: the built-in rules first (Warden's own change, sample
//! findings), then the first matching rule, its actions planned against the model's endpoints and packages.

use super::{
    Condition, Decision, DecisionContext, ECHO_RULE, PlannedAction, Policy, RiskMatch, Rule, SAMPLE_RULE, SkippedAction,
};
use crate::action::{Change, ECHO_WINDOW_MINUTES, LastChange, Mode, RuleAction};
use crate::event::sagemaker::EndpointStatus;
use crate::inventory::{Model, RiskTier};
use crate::resource::Resource;
use crate::severity::{Band, Severity};
use crate::signal::{Signal, SignalClass};

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
        let killed = self.kill_switch || context.kill_switch;
        let mode = if killed { Mode::Shadow } else { rule.mode.unwrap_or(Mode::Shadow) };
        if killed && !rule.actions.is_empty() {
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
                for name in endpoints {
                    let record = model.endpoint(name);
                    let target = model.endpoint_target(name);
                    let endpoint = target.as_str();
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
        .or_else(|| model.model_package_group.as_deref().map(|group| model.group_target(group)))
}
