//! The default policy's outcomes, table-driven over the bundled fixtures and sample inventory. Pure: no ledger.

use warden_core::action::{Mode, RuleAction};
use warden_core::engine::{plan_commit, prepare};
use warden_core::event;
use warden_core::ledger::Actor;
use warden_core::placement::Placement;
use warden_core::policy::{DecisionContext, Policy};
use warden_core::severity::Band;
use warden_core::time::Timestamp;
use warden_tests::{events_dir, read, sample_inventory};

struct Case {
    fixture: &'static str,
    models: &'static [&'static str],
    alert: Option<Band>,
    /// (kind, target, config)
    actions: &'static [(RuleAction, &'static str, Option<&'static str>)],
}

const GATE_FRAUD_GROUP: (RuleAction, &str, Option<&str>) = (RuleAction::Gate, "fraud-detector", None);

fn cases() -> Vec<Case> {
    use Band::{Critical, High, Info, Low, Medium};
    use RuleAction::{Cutoff, Gate, Rollback};
    vec![
        // GuardDuty >= 7 on a high-risk model: cutoff, critical.
        Case {
            fixture: "guardduty-finding-role-high-risk-cutoff.json",
            models: &["fraud-detector"],
            alert: Some(Critical),
            actions: &[(Cutoff, "fraud-detector-prod", Some("fraud-cfg-v2"))],
        },
        // ... on a medium-risk model: high alert, no action.
        Case {
            fixture: "guardduty-finding-s3-bucket-medium-risk-alert.json",
            models: &["churn-predictor"],
            alert: Some(High),
            actions: &[],
        },
        Case {
            fixture: "guardduty-malware-scan-threats-found-medium-risk.json",
            models: &["churn-predictor"],
            alert: Some(High),
            actions: &[],
        },
        // Severity < 4: recorded, at most info.
        Case { fixture: "guardduty-finding-low-severity-info.json", models: &[], alert: Some(Info), actions: &[] },
        Case {
            fixture: "guardduty-malware-scan-no-threats.json",
            models: &["fraud-detector"],
            alert: Some(Info),
            actions: &[],
        },
        // Unmatched: alerted by severity, never dropped.
        Case {
            fixture: "guardduty-finding-unmodelled-resource-type.json",
            models: &[],
            alert: Some(Medium),
            actions: &[],
        },
        Case {
            fixture: "guardduty-finding-ai-protection-endpoint-medium.json",
            models: &["credit-scoring"],
            alert: Some(Medium),
            actions: &[],
        },
        // Macie sensitive data in a training bucket: gate, high.
        Case {
            fixture: "macie-finding-sensitive-data-training-bucket-gate.json",
            models: &["fraud-detector"],
            alert: Some(High),
            actions: &[GATE_FRAUD_GROUP],
        },
        Case {
            fixture: "macie-finding-sensitive-data-unrelated-bucket.json",
            models: &[],
            alert: Some(High),
            actions: &[],
        },
        Case {
            fixture: "macie-finding-policy-public-access-high-risk-bucket.json",
            models: &["credit-scoring"],
            alert: Some(Medium),
            actions: &[],
        },
        // Config: NON_COMPLIANT on a model's resource: at least medium; COMPLIANT: recorded.
        Case {
            fixture: "config-compliance-noncompliant-endpoint-config-high-risk.json",
            models: &["credit-scoring"],
            alert: Some(High),
            actions: &[],
        },
        Case {
            fixture: "config-compliance-noncompliant-training-bucket-medium-risk.json",
            models: &["churn-predictor"],
            alert: Some(Medium),
            actions: &[],
        },
        Case {
            fixture: "config-compliance-compliant-training-bucket.json",
            models: &["fraud-detector"],
            alert: None,
            actions: &[],
        },
        Case {
            fixture: "config-compliance-noncompliant-unrelated-iam-user.json",
            models: &[],
            alert: Some(Medium),
            actions: &[],
        },
        Case {
            fixture: "config-configuration-item-change-endpoint-tagged.json",
            models: &["fraud-detector"],
            alert: None,
            actions: &[],
        },
        // Approvals: gated when the model has no owner or risk tier (unknown groups included).
        Case {
            fixture: "sagemaker-model-package-approved-governed.json",
            models: &["credit-scoring"],
            alert: None,
            actions: &[],
        },
        Case {
            fixture: "sagemaker-model-package-approved-unowned-model-gate.json",
            models: &["recsys-experimental"],
            alert: Some(High),
            actions: &[(Gate, "arn:aws:sagemaker:us-east-1:111122223333:model-package/recsys/2", None)],
        },
        Case {
            fixture: "sagemaker-model-package-approved-unknown-group-gate.json",
            models: &["shadow-llm-finetune"],
            alert: Some(High),
            actions: &[(Gate, "arn:aws:sagemaker:us-east-1:111122223333:model-package/shadow-llm-finetune/1", None)],
        },
        Case {
            fixture: "sagemaker-model-package-rejected.json",
            models: &["churn-predictor"],
            alert: None,
            actions: &[],
        },
        // Drift on a high-risk model: rollback to the known-good config, else cutoff.
        Case {
            fixture: "cloudwatch-drift-alarm-high-risk-rollback.json",
            models: &["credit-scoring"],
            alert: Some(Critical),
            actions: &[(Rollback, "credit-scoring-prod", Some("credit-cfg-v1"))],
        },
        Case {
            fixture: "cloudwatch-drift-alarm-high-risk-no-known-good-cutoff.json",
            models: &["aml-screening"],
            alert: Some(Critical),
            actions: &[(Cutoff, "aml-screening-prod", None)],
        },
        Case {
            fixture: "cloudwatch-drift-alarm-medium-risk-alert.json",
            models: &["churn-predictor"],
            alert: Some(High),
            actions: &[],
        },
        Case {
            fixture: "cloudwatch-drift-alarm-low-risk-alert.json",
            models: &["support-summarizer"],
            alert: Some(Medium),
            actions: &[],
        },
        Case {
            fixture: "cloudwatch-drift-alarm-recovered-ok.json",
            models: &["credit-scoring"],
            alert: None,
            actions: &[],
        },
        // Warden drift events are judged against the tier's threshold.
        Case {
            fixture: "warden-drift-under-threshold-recorded.json",
            models: &["churn-predictor"],
            alert: None,
            actions: &[],
        },
        Case {
            fixture: "warden-drift-breach-medium-risk-alert.json",
            models: &["churn-predictor"],
            alert: Some(High),
            actions: &[],
        },
        Case {
            fixture: "warden-drift-bias-breach-low-risk-alert.json",
            models: &["support-summarizer"],
            alert: Some(Medium),
            actions: &[],
        },
        // Endpoints: Failed alerts, InService is recorded.
        Case {
            fixture: "sagemaker-endpoint-failed-alert.json",
            models: &["churn-predictor"],
            alert: Some(High),
            actions: &[],
        },
        Case {
            fixture: "sagemaker-endpoint-inservice-records-config.json",
            models: &["support-summarizer"],
            alert: None,
            actions: &[],
        },
        Case {
            fixture: "sagemaker-endpoint-inservice-tagged-new-model.json",
            models: &["doc-classifier"],
            alert: None,
            actions: &[],
        },
        Case {
            fixture: "sagemaker-endpoint-deployment-bluegreen-baking.json",
            models: &["support-summarizer"],
            alert: None,
            actions: &[],
        },
        // Jobs: failures alert low; Model Monitor violations alert medium.
        Case {
            fixture: "sagemaker-training-job-failed.json",
            models: &["credit-scoring"],
            alert: Some(Low),
            actions: &[],
        },
        Case {
            fixture: "sagemaker-training-job-completed-records-lineage.json",
            models: &["churn-predictor"],
            alert: None,
            actions: &[],
        },
        Case {
            fixture: "sagemaker-processing-job-monitor-violations.json",
            models: &["credit-scoring"],
            alert: Some(Medium),
            actions: &[],
        },
        Case { fixture: "sagemaker-pipeline-execution-failed.json", models: &[], alert: Some(Low), actions: &[] },
        Case { fixture: "sagemaker-model-card-approved.json", models: &[], alert: None, actions: &[] },
    ]
}

fn decide(fixture: &str, policy: &Policy, context: &DecisionContext) -> warden_core::engine::Report {
    let now = Timestamp::parse("2026-11-03T00:00:00Z").unwrap_or_else(|| panic!("time"));
    let event =
        event::decode_slice(&read(&events_dir().join(fixture)), now).unwrap_or_else(|e| panic!("{fixture}: {e}"));
    let prepared = prepare(event, sample_inventory(), &Placement::default());
    plan_commit(prepared, policy, context, &Actor::Automation("test".into()), now).1
}

#[test]
fn default_policy_outcomes() {
    let policy = Policy::builtin().unwrap_or_else(|e| panic!("{e}"));
    let mut failures = Vec::new();
    for case in cases() {
        let report = decide(case.fixture, &policy, &DecisionContext::default());
        let actions: Vec<(RuleAction, String, Option<String>)> =
            report.actions.iter().map(|a| (a.kind, a.target.clone(), a.config.clone())).collect();
        let expected: Vec<(RuleAction, String, Option<String>)> =
            case.actions.iter().map(|(k, t, c)| (*k, (*t).to_owned(), c.map(str::to_owned))).collect();
        if report.models != case.models || report.alert != case.alert || actions != expected {
            failures.push(format!(
                "{}: got models {:?} alert {:?} actions {actions:?}; expected {:?} {:?} {expected:?} (rules {:?})",
                case.fixture, report.models, report.alert, case.models, case.alert, report.rules
            ));
        }
        assert!(report.actions.iter().all(|a| a.mode == Mode::Enforce), "{}: default actions enforce", case.fixture);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn an_open_data_finding_gates_an_approval_of_an_owned_classified_model() {
    let policy = Policy::builtin().unwrap_or_else(|e| panic!("{e}"));
    let fixture = "sagemaker-model-package-approved-open-data-finding-gate.json";
    let clean = decide(fixture, &policy, &DecisionContext::default());
    assert!(clean.actions.is_empty() && clean.alert.is_none(), "no finding, no gate: {clean:?}");
    let mut context = DecisionContext::default();
    context.open_data_findings.insert("fraud-detector".into());
    let gated = decide(fixture, &policy, &context);
    assert_eq!(gated.alert, Some(Band::High));
    assert_eq!(gated.actions.len(), 1);
    assert_eq!(gated.actions[0].kind, RuleAction::Gate);
    assert!(gated.actions[0].target.ends_with("model-package/fraud-detector/8"), "{:?}", gated.actions);
}

#[test]
fn kill_switch_turns_every_action_into_shadow() {
    let text = Policy::builtin_text().replace("kill_switch = false", "kill_switch = true");
    let policy = Policy::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let report = decide("guardduty-finding-role-high-risk-cutoff.json", &policy, &DecisionContext::default());
    assert_eq!(report.actions.len(), 1);
    assert_eq!(report.actions[0].mode, Mode::Shadow);
    assert!(report.actions[0].describe().starts_with("would cut off"), "{}", report.actions[0].describe());
}

#[test]
fn shadow_rules_record_what_would_have_been_done() {
    let text = Policy::builtin_text().replacen(
        "actions = [\"cutoff\"]\nmode = \"enforce\"",
        "actions = [\"cutoff\"]\nmode = \"shadow\"",
        1,
    );
    let policy = Policy::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let report = decide("guardduty-finding-role-high-risk-cutoff.json", &policy, &DecisionContext::default());
    assert_eq!(report.actions.iter().map(|a| a.mode).collect::<Vec<_>>(), [Mode::Shadow]);
    let drift = decide("cloudwatch-drift-alarm-high-risk-rollback.json", &policy, &DecisionContext::default());
    assert_eq!(
        drift.actions.iter().map(|a| a.mode).collect::<Vec<_>>(),
        [Mode::Enforce],
        "other rules keep their mode"
    );
}

#[test]
fn cooldown_suppresses_a_second_action_on_the_same_endpoint() {
    let policy = Policy::builtin().unwrap_or_else(|e| panic!("{e}"));
    let mut context = DecisionContext::default();
    let ten_minutes_before = Timestamp::parse("2026-11-02T08:50:00Z").unwrap_or_else(|| panic!("time"));
    context.last_actions.insert("fraud-detector-prod".into(), ten_minutes_before);
    let report = decide("guardduty-finding-role-high-risk-cutoff.json", &policy, &context);
    assert!(report.actions.is_empty(), "{:?}", report.actions);
    assert_eq!(report.alert, Some(Band::Critical), "still alerted");
    assert!(report.skipped.iter().any(|s| s.reason.starts_with("cooldown")), "{:?}", report.skipped);
    let two_hours_before = Timestamp::parse("2026-11-02T07:00:00Z").unwrap_or_else(|| panic!("time"));
    context.last_actions.insert("fraud-detector-prod".into(), two_hours_before);
    assert_eq!(decide("guardduty-finding-role-high-risk-cutoff.json", &policy, &context).actions.len(), 1);
}

/// The indexed inventory read gives the same decisions as the whole inventory: for every bundled event, planning
/// against only the models the event's resources can concern (`inventory_lookup` through `InventoryIndex`)
/// writes the same commit and reports the same outcome as planning against every model.
#[test]
fn planning_against_the_indexed_models_equals_planning_against_all_of_them() {
    use warden_core::engine::{inventory_lookup, prepare_signal};
    use warden_core::inventory::InventoryIndex;
    use warden_core::signal::Signal;
    let policy = Policy::builtin().unwrap();
    let now = Timestamp::parse("2026-11-03T00:00:00Z").unwrap();
    let actor = Actor::Automation("test".into());
    let full = sample_inventory();
    let index = InventoryIndex::of(&full);
    // Every bundled event, and variants of the tagged ones: a `warden:model` tag naming existing models, padded
    // (tags are trimmed where the inventory reads them; a subset that missed the model would overwrite it).
    let mut events: Vec<(String, serde_json::Value)> = warden_tests::event_files()
        .iter()
        .map(|f| (f.display().to_string(), serde_json::from_slice(&read(f)).unwrap()))
        .collect();
    let tagged: Vec<(String, serde_json::Value)> =
        events.iter().filter(|(_, e)| e["detail"]["Tags"]["warden:model"].is_string()).cloned().collect();
    for (name, event) in tagged {
        for tag in [" fraud-detector", "credit-scoring ", " doc-classifier "] {
            let mut variant = event.clone();
            variant["detail"]["Tags"] = serde_json::json!({"warden:model": tag, "warden:risk-tier": "low"});
            events.push((format!("{name} tagged {tag:?}"), variant));
        }
    }
    for (file, value) in events {
        let event = event::decode_value(value, now).unwrap_or_else(|e| panic!("{file}: {e}"));
        let signal = Signal::from_event(&event);
        let subset = full.subset(&index.models_for(&inventory_lookup(&event, &signal)));
        let plan = |inventory| {
            plan_commit(
                prepare_signal(event.clone(), signal.clone(), inventory, &Placement::default()),
                &policy,
                &DecisionContext::default(),
                &actor,
                now,
            )
        };
        let (all_commit, all_report) = plan(full.clone());
        let (indexed_commit, indexed_report) = plan(subset);
        assert_eq!(indexed_report, all_report, "{file}");
        assert_eq!(indexed_commit, all_commit, "{file}");
    }
}
