//! Events Warden publishes on its governance bus (schemas in `docs/events.md`). Pure.
//!
//! - `Warden Decision`: one per decision, whatever it was; subscribers (dashboards, ticketing, SIEM) filter on
//!   `detail.alert`, `detail.models` or `detail.actions`.
//! - `Warden Break-Glass Requested`: one per enforce-mode action; the break-glass function consumes it.
//!
//! Both carry the decision id, so a consumer can drop a repeat after Warden retried a partly failed delivery.

use serde::{Deserialize, Serialize};

use crate::action::{Mode, RuleAction};
use crate::breakglass::request::{BreakGlassApproval, BreakGlassRequest, SCHEMA_VERSION};
use crate::context::ModelSummary;
use crate::engine::{Report, Status};
use crate::ledger::Actor;
use crate::policy::PlannedAction;
use crate::severity::Band;
use crate::time::Timestamp;

pub const GOVERNANCE_SOURCE: &str = "warden.governance";
pub const DECISION_DETAIL_TYPE: &str = "Warden Decision";
pub const BREAK_GLASS_DETAIL_TYPE: &str = "Warden Break-Glass Requested";
pub const APPROVAL_DETAIL_TYPE: &str = "Warden Break-Glass Approved";

/// `Warden Decision` detail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionDetail {
    pub schema_version: u32,
    pub decision_id: String,
    pub source_event_id: Option<String>,
    pub source: Option<String>,
    pub detail_type: Option<String>,
    pub occurred_at: Option<Timestamp>,
    pub summary: String,
    pub models: Vec<ModelSummary>,
    pub alert: Option<Band>,
    /// Whether the alert paged (false inside the re-notify window).
    pub notified: bool,
    pub actions: Vec<PlannedAction>,
    pub rules: Vec<String>,
    pub account: Option<String>,
    pub region: Option<String>,
}

/// One event to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct BusEvent {
    pub detail_type: &'static str,
    pub detail: serde_json::Value,
    /// ARNs or names of what the event concerns (EventBridge `Resources`).
    pub resources: Vec<String>,
}

/// The events a report publishes: none for a rejected input; a decision, plus a request per enforce action.
pub fn events(report: &Report, requested_by: &Actor, requested_at: Timestamp) -> Vec<BusEvent> {
    if report.status == Status::Rejected {
        return Vec::new();
    }
    let decision = DecisionDetail {
        schema_version: SCHEMA_VERSION,
        decision_id: report.decision_id.clone(),
        source_event_id: report.event_id.clone(),
        source: report.source.clone(),
        detail_type: report.detail_type.clone(),
        occurred_at: report.occurred_at,
        summary: report.summary.clone(),
        models: report.context.models.clone(),
        alert: report.alert,
        notified: report.notify,
        actions: report.actions.clone(),
        rules: report.rules.clone(),
        account: report.context.account.clone(),
        region: report.context.region.clone(),
    };
    let mut events = vec![BusEvent {
        detail_type: DECISION_DETAIL_TYPE,
        detail: serde_json::to_value(&decision).unwrap_or_default(),
        resources: report.models.clone(),
    }];
    for (n, action) in report.actions.iter().enumerate().filter(|(_, a)| a.mode == Mode::Enforce) {
        let model_id = report.context.models.iter().find(|m| owns_target(m, action)).map(|m| m.id.clone());
        let request = BreakGlassRequest {
            schema_version: SCHEMA_VERSION,
            request_id: format!("{}-{}", report.decision_id, n + 1),
            decision_id: report.decision_id.clone(),
            action: action.kind.into(),
            target: action.target.clone(),
            config: action.config.clone(),
            model_id,
            reason: format!("rule {}: {}", report.rules.join(", "), report.summary),
            requested_by: requested_by.clone(),
            requested_at,
        };
        events.push(request.event());
    }
    events
}

impl BreakGlassRequest {
    /// The `Warden Break-Glass Requested` event that carries this request.
    pub fn event(&self) -> BusEvent {
        BusEvent {
            detail_type: BREAK_GLASS_DETAIL_TYPE,
            detail: serde_json::to_value(self).unwrap_or_default(),
            resources: vec![self.target.clone()],
        }
    }
}

impl BreakGlassApproval {
    /// The `Warden Break-Glass Approved` event that carries this approval.
    pub fn event(&self) -> BusEvent {
        BusEvent {
            detail_type: APPROVAL_DETAIL_TYPE,
            detail: serde_json::to_value(self).unwrap_or_default(),
            resources: Vec::new(),
        }
    }
}

impl BusEvent {
    /// The resources EventBridge carries: ARNs only (model ids and endpoint names stay in the detail).
    pub fn arn_resources(&self) -> Vec<String> {
        self.resources.iter().filter(|r| r.starts_with("arn:")).cloned().collect()
    }

    /// The event as EventBridge delivers it to a target (what the functions receive): for printing, for
    /// `sam local invoke`, and for tests.
    pub fn envelope(&self, id: &str, time: Timestamp) -> serde_json::Value {
        serde_json::json!({
            "version": "0",
            "id": id,
            "detail-type": self.detail_type,
            "source": GOVERNANCE_SOURCE,
            "time": time,
            "resources": self.arn_resources(),
            "detail": self.detail,
        })
    }
}

fn owns_target(model: &ModelSummary, action: &PlannedAction) -> bool {
    match action.kind {
        RuleAction::Rollback | RuleAction::Cutoff => {
            model.endpoints.iter().any(|e| model.target("endpoint", e) == action.target)
        }
        RuleAction::Gate => {
            let group = model.model_package_group.as_deref().unwrap_or(&model.id);
            action.target == model.target("model-package-group", group)
                || crate::resource::package_group_of(&action.target) == Some(group)
        }
    }
}
