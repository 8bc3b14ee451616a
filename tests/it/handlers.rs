//! The Lambda handler over every fixture, with the embedded ledger and in-memory notifier and publisher: the
//! functions' routing, failure semantics, configuration and metrics, without AWS.

use serde_json::Value;
use warden_app::config::{
    Config, ConfigError, ENV_BUS, ENV_HOME_ACCOUNT, ENV_HOME_REGION, ENV_KILL_SWITCH, ENV_MODE, ENV_POLICY, ENV_TABLE,
    ENV_TOPIC,
};
use warden_app::detector::{FunctionSpec, Handler, emf_line};
use warden_app::effects::{EffectError, MemoryNotifier, MemoryPublisher};
use warden_app::ingest::Engine;
use warden_core::engine::Status;
use warden_core::inventory::InventoryFile;
use warden_core::ledger::{Actor, EntryBody};
use warden_core::policy::Policy;
use warden_core::severity::Band;
use warden_core::time::Timestamp;
use warden_embedded::EmbeddedLedger;
use warden_tests::{FUNCTIONS, events_dir, json_files, read};

type TestHandler = Handler<EmbeddedLedger, MemoryNotifier, MemoryPublisher>;

async fn handler(dir: &std::path::Path, spec: FunctionSpec) -> TestHandler {
    let engine = Engine::new(
        EmbeddedLedger::open(dir).unwrap(),
        Policy::builtin().unwrap(),
        Actor::Automation(spec.name.into()),
    );
    let text = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap();
    engine.import_inventory(&InventoryFile::parse(&text).unwrap(), "sample", Timestamp::now()).await.unwrap();
    Handler::new(spec, engine, MemoryNotifier::default(), MemoryPublisher::default())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn payload(file: &std::path::Path) -> Value {
    serde_json::from_slice(&read(file))
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&read(file)).into_owned()))
}

#[test]
fn every_fixture_is_handled_by_its_function() {
    runtime().block_on(async {
        for spec in FUNCTIONS {
            let dir = tempfile::tempdir().unwrap();
            let handler = handler(dir.path(), *spec).await;
            let mine: Vec<_> = warden_tests::event_files()
                .into_iter()
                .filter(|f| spec.sources.contains(&payload(f)["source"].as_str().unwrap_or_default()))
                .collect();
            assert!(!mine.is_empty(), "{} has no fixture", spec.name);
            for file in mine {
                let outcome =
                    handler.handle(payload(&file)).await.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                assert_eq!(outcome.status, Status::Applied, "{}", file.display());
                // First alerts page; a repeat of the same finding at the same severity does not (re-notify window).
                let repeat = file.to_string_lossy().contains("repeat");
                assert_eq!(outcome.alerted, outcome.alert.is_some() && !repeat, "{}", file.display());
                assert!(outcome.published >= 1, "{}: a decision event", file.display());
            }
        }
    });
}

#[test]
fn malformed_events_are_recorded_alerted_low_and_succeed() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let handler = handler(dir.path(), FUNCTIONS[3]).await;
        let invalid = json_files(&warden_tests::invalid_dir());
        for file in &invalid {
            let outcome = handler.handle(payload(file)).await.unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert_eq!(outcome.status, Status::Rejected, "{}", file.display());
            assert!(outcome.alerted, "{}: rejected inputs alert", file.display());
        }
        assert!(handler.notifier.sent().iter().all(|a| a.level == Band::Low));
        assert!(handler.publisher.published().is_empty(), "rejections are not governance decisions");
        let rejected = warden_tests::unattributed_entries(handler.engine.ledger()).await;
        assert_eq!(
            rejected.iter().filter(|e| matches!(e.entry.body, EntryBody::Rejected { .. })).count(),
            invalid.len()
        );
    });
}

#[test]
fn a_misrouted_event_is_rejected_not_processed() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let macie = handler(dir.path(), FUNCTIONS[2]).await;
        let outcome =
            macie.handle(payload(&events_dir().join("guardduty-finding-role-high-risk-cutoff.json"))).await.unwrap();
        assert_eq!(outcome.status, Status::Rejected);
        assert_eq!(outcome.actions, 0, "the GuardDuty cutoff must not run in the Macie function");
        assert!(
            macie.notifier.sent()[0].body.contains("unsupported event: source \"aws.guardduty\""),
            "{}",
            macie.notifier.sent()[0].body
        );
    });
}

#[test]
fn a_delivery_failure_fails_the_invocation_and_the_retry_completes_it() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let handler = handler(dir.path(), FUNCTIONS[4]).await;
        let event = payload(&events_dir().join("cloudwatch-drift-alarm-high-risk-rollback.json"));
        handler.publisher.fail_next(EffectError::Retryable("FailedEntryCount 2".into()));
        let error = handler.handle(event.clone()).await.unwrap_err();
        assert_eq!(error.kind(), "WardenDeliveryUnavailable");
        let retry = handler.handle(event).await.unwrap();
        assert_eq!((retry.status, retry.alerted, retry.published), (Status::Duplicate, false, 2));
        assert_eq!(handler.notifier.sent().len(), 1);
    });
}

fn lookup(pairs: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    let map: std::collections::BTreeMap<&str, &str> = pairs.iter().copied().collect();
    move |name| map.get(name).map(|v| (*v).to_owned())
}

#[test]
fn configuration_errors_name_the_variable() {
    let good = [
        (ENV_TABLE, "warden-ledger"),
        (ENV_TOPIC, "arn:aws:sns:us-east-1:111122223333:warden-alerts"),
        (ENV_BUS, "warden-governance"),
    ];
    let config = Config::from_lookup(lookup(&good)).unwrap();
    assert!(!config.policy.kill_switch);
    assert_eq!(Config::from_lookup(lookup(&good[1..])).unwrap_err(), ConfigError::Missing(ENV_TABLE));
    let cases: [(&'static str, &'static str, &str); 7] = [
        (ENV_TOPIC, "warden-alerts", "is not an ARN"),
        (ENV_KILL_SWITCH, "maybe", "is not true or false"),
        (ENV_MODE, "enforce-everything", "is not policy or shadow"),
        (ENV_POLICY, "version = 7", "invalid policy"),
        (ENV_HOME_ACCOUNT, "1111-2222-3333", "is not a 12-digit AWS account id"),
        // Half a home would let unplaced models match every region of the home account (or the reverse).
        (ENV_HOME_ACCOUNT, "111122223333", "is not set"),
        (ENV_HOME_REGION, "us-east-1", "is not set"),
    ];
    for (name, value, message) in cases {
        let mut pairs = good.to_vec();
        pairs.retain(|(n, _)| *n != name);
        pairs.push((name, value));
        let error = Config::from_lookup(lookup(&pairs)).unwrap_err();
        let named = match name {
            // A lone home variable names the one missing.
            ENV_HOME_ACCOUNT if message == "is not set" => ENV_HOME_REGION,
            ENV_HOME_REGION => ENV_HOME_ACCOUNT,
            _ => name,
        };
        assert!(error.to_string().starts_with(named) && error.to_string().contains(message), "{error}");
    }
    let mut pairs = good.to_vec();
    pairs.extend([(ENV_HOME_ACCOUNT, "111122223333"), (ENV_HOME_REGION, "us-east-1")]);
    let home = Config::from_lookup(lookup(&pairs)).unwrap().home;
    assert_eq!((home.account.as_deref(), home.region.as_deref()), (Some("111122223333"), Some("us-east-1")));
    let mut pairs = good.to_vec();
    pairs.push((ENV_KILL_SWITCH, "TRUE"));
    assert!(Config::from_lookup(lookup(&pairs)).unwrap().policy.kill_switch);

    // Observe-only rollout: every rule and break-glass in shadow; the built-in policy has enforce rules.
    assert!(config.policy.rules.iter().any(|r| r.mode == Some(warden_core::action::Mode::Enforce)));
    let mut pairs = good.to_vec();
    pairs.push((ENV_MODE, "shadow"));
    let shadow = Config::from_lookup(lookup(&pairs)).unwrap().policy;
    assert!(shadow.rules.iter().all(|r| r.mode == Some(warden_core::action::Mode::Shadow)));
    assert_eq!(shadow.break_glass.mode, warden_core::action::Mode::Shadow);
}

#[test]
fn metrics_are_embedded_metric_format() {
    let line = emf_line("warden-guardduty", "aws.guardduty", None, true, 1.5, Timestamp::from_millis(1).unwrap());
    let value: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(value["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Warden");
    assert_eq!(value["Errors"], 1.0);
    assert_eq!(value["Function"], "warden-guardduty");
    let names: Vec<&str> = value["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect();
    for name in names {
        assert!(value.get(name).is_some(), "metric {name} has no value");
    }
}

#[test]
fn function_crates_declare_the_same_specs_as_this_test() {
    for spec in FUNCTIONS {
        let main = std::fs::read_to_string(warden_tests::root().join("functions").join(spec.name).join("src/main.rs"))
            .unwrap();
        let sources = spec.sources.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(", ");
        assert!(main.contains(&format!("name: \"{}\", sources: &[{sources}]", spec.name)), "{}: {main}", spec.name);
    }
    // The detectors share one handler; break-glass (the one function that changes SageMaker) has its own.
    let breakglass = warden_app::inbox::FUNCTION_NAME;
    let main = std::fs::read_to_string(warden_tests::root().join("functions").join(breakglass).join("src/main.rs"));
    assert!(main.unwrap().contains("warden_aws::breakglass::run()"));
    let digest = warden_app::anchor::FUNCTION_NAME;
    let main = std::fs::read_to_string(warden_tests::root().join("functions").join(digest).join("src/main.rs"));
    assert!(main.unwrap().contains("warden_aws::digest::run()"));
    let crates = std::fs::read_dir(warden_tests::root().join("functions")).unwrap().count();
    assert_eq!(crates, FUNCTIONS.len() + 2, "every function crate is listed here, or is {breakglass} or {digest}");
}

/// An SQS batch (how the stacks deliver events to the detectors): each message is one event; a message whose
/// delivery failed is reported alone in `batchItemFailures` (so only it returns to the queue), a body that is not an
/// event is recorded as rejected and succeeds, and the redelivered message completes as a duplicate.
#[test]
fn a_queue_batch_reports_only_the_failed_message() {
    use warden_aws::function::Invoke;
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let handler = handler(dir.path(), FUNCTIONS[4]).await;
        let alarm = |name: &str| String::from_utf8(read(&events_dir().join(name))).unwrap();
        let message = |id: &str, body: String| {
            serde_json::json!({"messageId": id, "receiptHandle": "r", "body": body, "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:warden-drift", "awsRegion": "us-east-1",
                "attributes": {}, "messageAttributes": {}})
        };
        let first = message("m1", alarm("cloudwatch-drift-alarm-high-risk-rollback.json"));
        let batch = serde_json::json!({"Records": [
            first.clone(),
            message("m2", "not an event {".into()),
            message("m3", alarm("cloudwatch-drift-alarm-medium-risk-alert.json")),
        ]});
        handler.publisher.fail_next(EffectError::Retryable("FailedEntryCount 2".into()));
        // With too little time left, nothing is started and every message goes back to the queue.
        let now = std::time::SystemTime::now();
        let late = handler.invoke(batch.clone(), Some(now + std::time::Duration::from_secs(2))).await.unwrap();
        let ids: Vec<&str> = late["batchItemFailures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["itemIdentifier"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["m1", "m2", "m3"]);
        assert!(warden_tests::unattributed_entries(handler.engine.ledger()).await.is_empty(), "nothing was started");

        let response = handler.invoke(batch, Some(now + std::time::Duration::from_secs(60))).await.unwrap();
        assert_eq!(response, serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m1"}]}));
        let rejected = warden_tests::unattributed_entries(handler.engine.ledger()).await;
        assert_eq!(rejected.iter().filter(|e| matches!(e.entry.body, EntryBody::Rejected { .. })).count(), 1);

        let published = handler.publisher.published().len();
        let redelivered = handler.invoke(serde_json::json!({"Records": [first]}), None).await.unwrap();
        assert_eq!(redelivered, serde_json::json!({"batchItemFailures": []}));
        assert!(handler.publisher.published().len() > published, "the redelivery sends what had failed");
    });
}
