//! What an on-call engineer receives: composed from the pure pipeline over the bundled fixtures.

use warden_core::engine::{Report, plan_commit, plan_rejection, prepare};
use warden_core::event::{self, DecodeError};
use warden_core::ledger::Actor;
use warden_core::notify::{Alert, MAX_SUBJECT_CHARS, compose};
use warden_core::placement::Placement;
use warden_core::policy::{DecisionContext, Policy};
use warden_core::severity::Band;
use warden_core::time::Timestamp;
use warden_tests::{events_dir, read, sample_inventory};

fn report(fixture: &str) -> Report {
    let now = Timestamp::parse("2026-11-03T00:00:00Z").unwrap();
    let event = event::decode_slice(&read(&events_dir().join(fixture)), now).unwrap();
    plan_commit(
        prepare(event, sample_inventory(), &Placement::default()),
        &Policy::builtin().unwrap(),
        &DecisionContext::default(),
        &Actor::Automation("t".into()),
        now,
    )
    .1
}

fn machine_part(alert: &Alert) -> serde_json::Value {
    let json = alert.body.split("--- machine-readable ---\n").nth(1).unwrap();
    serde_json::from_str(json).unwrap()
}

#[test]
fn a_cutoff_alert_says_what_who_where_and_how_to_undo() {
    let alert = compose(&report("guardduty-finding-role-high-risk-cutoff.json")).unwrap();
    assert_eq!(alert.level, Band::Critical);
    assert!(alert.subject.starts_with("[CRITICAL] fraud-detector CUT OFF: GuardDuty"), "{}", alert.subject);
    for needle in [
        "risk high, owner risk-ml-team",
        "endpoints: fraud-detector-prod",
        "linked through role fraud-sagemaker-exec",
        "account 111122223333, us-east-1",
        "https://us-east-1.console.aws.amazon.com/guardduty/home?region=us-east-1#/findings?macros=current&fId=a1b2c3d4e5f60718293a4b5c6d7e8f90",
        "will cut off traffic to endpoint fraud-detector-prod (enforce mode)",
        "undo: warden break-glass restore --endpoint fraud-detector-prod --reason",
        "warden ledger show --model fraud-detector",
    ] {
        assert!(alert.body.contains(needle), "missing {needle:?} in:\n{}", alert.body);
    }
    let attributes: Vec<(&str, &str)> = alert.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for expected in
        [("level", "critical"), ("model", "fraud-detector"), ("risk_tier", "high"), ("source", "aws.guardduty")]
    {
        assert!(attributes.contains(&expected), "{attributes:?}");
    }
    let machine = machine_part(&alert);
    assert_eq!(machine["actions"][0]["kind"], "cutoff");
    assert_eq!(machine["decision_id"], alert.attributes["decision_id"]);
}

#[test]
fn every_fixture_that_alerts_gives_a_valid_subject_and_parseable_json() {
    let mut alerts = 0;
    for file in warden_tests::event_files() {
        let name = file.strip_prefix(events_dir()).unwrap().to_str().unwrap().to_owned();
        let report = report(&name);
        match (report.alert, compose(&report)) {
            (Some(level), Some(alert)) => {
                alerts += 1;
                assert_eq!(alert.level, level, "{name}");
                assert!(alert.subject.len() <= MAX_SUBJECT_CHARS, "{name}: {} chars", alert.subject.len());
                assert!(
                    alert.subject.chars().all(|c| c.is_ascii() && !c.is_ascii_control()),
                    "{name}: {}",
                    alert.subject
                );
                assert_eq!(machine_part(&alert)["level"], level.as_str(), "{name}");
            }
            (None, None) => {}
            (alert, composed) => panic!("{name}: alert {alert:?} but composed {composed:?}"),
        }
    }
    assert!(alerts >= 20, "{alerts} fixtures alerted");
}

#[test]
fn alerts_never_carry_sensitive_finding_contents() {
    let alert = compose(&report("macie-finding-sensitive-data-training-bucket-gate.json")).unwrap();
    let raw =
        String::from_utf8(read(&events_dir().join("macie-finding-sensitive-data-training-bucket-gate.json"))).unwrap();
    assert!(raw.contains("customers.csv"), "the fixture holds an object key");
    for secret in ["customers.csv", "detections", "sensitiveData", "occurrences"] {
        assert!(!alert.body.contains(secret) && !alert.subject.contains(secret), "{secret} leaked:\n{}", alert.body);
    }
    assert!(alert.body.contains("hold approval of model package fraud-detector"), "{}", alert.body);
}

#[test]
fn a_shadow_or_alert_only_decision_offers_the_command_to_act_by_hand() {
    let alert = compose(&report("guardduty-finding-s3-bucket-medium-risk-alert.json")).unwrap();
    assert!(alert.body.contains("Warden took no action"), "{}", alert.body);
    let text = Policy::builtin_text().replace("kill_switch = false", "kill_switch = true");
    let now = Timestamp::parse("2026-11-03T00:00:00Z").unwrap();
    let event =
        event::decode_slice(&read(&events_dir().join("guardduty-finding-role-high-risk-cutoff.json")), now).unwrap();
    let shadow = plan_commit(
        prepare(event, sample_inventory(), &Placement::default()),
        &Policy::parse(&text).unwrap(),
        &DecisionContext::default(),
        &Actor::Automation("t".into()),
        now,
    )
    .1;
    let alert = compose(&shadow).unwrap();
    assert!(alert.subject.starts_with("[CRITICAL] fraud-detector would act: "), "{}", alert.subject);
    assert!(alert.body.contains("act: warden break-glass cutoff --endpoint fraud-detector-prod"), "{}", alert.body);
}

#[test]
fn a_rejected_input_alerts_low_with_the_reason() {
    let error = DecodeError::Unsupported {
        event_source: "aws.config".into(),
        detail_type: "Config Rules Re-evaluation Status".into(),
    };
    let now = Timestamp::parse("2026-11-03T00:00:00Z").unwrap();
    let (_, report) = plan_rejection(
        &error,
        b"{}",
        &Actor::Automation("t".into()),
        now,
        &serde_json::json!({"source": "aws.config"}),
    );
    let alert = compose(&report).unwrap();
    assert_eq!(alert.level, Band::Low);
    assert!(alert.body.contains("Why it was rejected: unsupported event"), "{}", alert.body);
}

#[test]
fn no_alert_inside_the_renotify_window() {
    let mut report = report("guardduty-finding-s3-bucket-medium-risk-alert.json");
    report.notify = false;
    assert!(compose(&report).is_none());
}
