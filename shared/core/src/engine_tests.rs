//! Decision planning, pure: what `plan_commit` writes for one event, table-driven over who the event concerns,
//! with no ledger involved.

use super::*;
use crate::action::RuleAction;
use crate::event::decode_value;
use crate::inventory::{EndpointRecord, RiskTier};
use crate::ledger::UNATTRIBUTED_CHAIN;

fn at() -> Timestamp {
    Timestamp::parse("2026-11-03T00:00:00Z").unwrap_or(Timestamp::MIN)
}

fn guardduty(role: &str, severity: f64, sample: bool) -> Event {
    let event = serde_json::json!({
        "version": "0", "id": "e-1", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
        "account": "111122223333", "time": "2026-11-02T09:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {
            "id": format!("finding-{role}-{severity}-{sample}"), "type": "UnauthorizedAccess:IAMUser/Test",
            "severity": severity, "updatedAt": "2026-11-02T09:00:00Z",
            "resource": {"resourceType": "AccessKey", "accessKeyDetails": {
                "accessKeyId": "ASIA1", "userName": role, "userType": "AssumedRole"}},
            "service": {"count": 1, "additionalInfo": {"sample": sample}}
        }
    });
    decode_value(event, at()).unwrap_or_else(|e| panic!("{e}"))
}

fn inventory() -> Inventory {
    let model = |id: &str, risk: RiskTier, role: &str, endpoint: &str| {
        let mut m = Model::new(id);
        m.risk = Some(risk);
        m.owner = Some("team".into());
        m.roles.insert(role.into());
        let mut e = EndpointRecord::new(endpoint);
        e.current_config = Some(format!("{endpoint}-cfg"));
        m.endpoints.push(e);
        m
    };
    Inventory::from_models([
        model("high", RiskTier::High, "high-role", "high-ep"),
        model("low", RiskTier::Low, "low-role", "low-ep"),
        model("shared-high", RiskTier::High, "shared-role", "shared-high-ep"),
        model("shared-low", RiskTier::Low, "shared-role", "shared-low-ep"),
    ])
}

/// (role, severity, sample) -> (chains written, actions, alert).
type Case = (&'static str, f64, bool, &'static [&'static str], &'static [(&'static str, RuleAction)], Option<Band>);

#[test]
fn what_one_event_writes_for_the_models_it_concerns() {
    let policy = Policy::builtin().unwrap_or_else(|e| panic!("{e}"));
    let actor = Actor::Automation("test".into());
    let cases: [Case; 5] = [
        ("high-role", 8.0, false, &["high"], &[("high-ep", RuleAction::Cutoff)], Some(Band::Critical)),
        ("low-role", 8.0, false, &["low"], &[], Some(Band::High)),
        (
            "shared-role",
            8.0,
            false,
            &["shared-high", "shared-low"],
            &[("shared-high-ep", RuleAction::Cutoff)],
            Some(Band::Critical),
        ),
        ("nobody-role", 8.0, false, &[UNATTRIBUTED_CHAIN], &[], Some(Band::High)),
        ("high-role", 8.0, true, &["high"], &[], Some(Band::Info)),
    ];
    for (role, severity, sample, chains, actions, alert) in cases {
        let case = format!("{role} {severity} sample={sample}");
        let (commit, report) = plan_commit(
            prepare(guardduty(role, severity, sample), inventory()),
            &policy,
            &DecisionContext::default(),
            &actor,
            at(),
        );
        // A signal about no model goes to the unattributed chain its idempotency key picks.
        let logical = |chain: &str| {
            if crate::ledger::is_unattributed(chain) {
                assert_eq!(chain, crate::ledger::unattributed_chain(&commit.idempotency_key), "{case}");
                UNATTRIBUTED_CHAIN.to_owned()
            } else {
                chain.to_owned()
            }
        };
        let written: std::collections::BTreeSet<String> = commit.entries.iter().map(|e| logical(&e.chain)).collect();
        assert_eq!(written, chains.iter().map(|c| (*c).to_owned()).collect(), "{case}");
        // Each model's chain gets the signal and the decision, then one entry per action.
        for chain in chains {
            let kinds: Vec<&str> = commit
                .entries
                .iter()
                .filter(|e| logical(&e.chain) == *chain)
                .map(|e| match e.body {
                    EntryBody::Signal { .. } => "signal",
                    EntryBody::Decision { .. } => "decision",
                    EntryBody::Action { .. } => "action",
                    _ => "other",
                })
                .collect();
            assert_eq!(&kinds[..2], ["signal", "decision"], "{case}: {chain}");
        }
        let planned: Vec<(&str, RuleAction)> = report.actions.iter().map(|a| (a.target.as_str(), a.kind)).collect();
        assert_eq!(planned, actions, "{case}");
        assert_eq!(report.alert, alert, "{case}");
        // Every action marks its target for the cooldown, and makes the config it acted against suspect.
        assert_eq!(commit.action_marks.len(), actions.len(), "{case}");
        for (target, _) in actions {
            let owner = commit.models.iter().find(|m| m.endpoint(target).is_some());
            let current = owner.and_then(|m| m.endpoint(target)).and_then(|e| e.history.iter().find(|d| d.suspect));
            assert!(current.is_some(), "{case}: {target}'s current config is no rollback target any more");
        }
        assert_eq!(commit.idempotency_key, report.idempotency_key, "{case}");
        assert!(commit.entries.iter().all(|e| e.idempotency_key == commit.idempotency_key), "{case}");
    }
}

#[test]
fn a_duplicate_alert_inside_the_window_is_recorded_but_does_not_page() {
    let policy = Policy::builtin().unwrap_or_else(|e| panic!("{e}"));
    let actor = Actor::Automation("test".into());
    let event = guardduty("low-role", 8.0, false);
    let key = Signal::from_event(&event).alert_key().unwrap_or_default();
    let mut context = DecisionContext::default();
    context.last_alerts.insert(key, (Band::High, at()));
    let (commit, report) = plan_commit(prepare(event, inventory()), &policy, &context, &actor, at());
    assert_eq!((report.alert, report.notify), (Some(Band::High), false));
    assert!(commit.alert_marks.is_empty() && !commit.entries.is_empty());
}
