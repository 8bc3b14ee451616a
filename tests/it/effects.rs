//! Delivering alerts and bus events: once per decision, and after a partial failure only what is missing.

use warden_app::effects::{EffectError, MemoryNotifier, MemoryPublisher, deliver};
use warden_app::ingest::Engine;
use warden_core::action::RuleAction;
use warden_core::breakglass::BreakGlassRequest;
use warden_core::bus::{BREAK_GLASS_DETAIL_TYPE, DECISION_DETAIL_TYPE};
use warden_core::engine::Status;
use warden_core::inventory::InventoryFile;
use warden_core::ledger::Actor;
use warden_core::policy::Policy;
use warden_core::time::Timestamp;
use warden_embedded::EmbeddedLedger;
use warden_tests::{events_dir, read};

fn now() -> Timestamp {
    Timestamp::now()
}

async fn engine(dir: &std::path::Path) -> Engine<EmbeddedLedger> {
    let engine =
        Engine::new(EmbeddedLedger::open(dir).unwrap(), Policy::builtin().unwrap(), Actor::Automation("fn".into()));
    let text = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap();
    engine.import_inventory(&InventoryFile::parse(&text).unwrap(), "sample", now()).await.unwrap();
    engine
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

#[test]
fn a_cutoff_sends_one_alert_one_decision_and_one_break_glass_request() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        let (notifier, publisher) = (MemoryNotifier::default(), MemoryPublisher::default());
        let body = read(&events_dir().join("guardduty-finding-role-high-risk-cutoff.json"));
        let actor = Actor::Automation("fn".into());
        for _ in 0..2 {
            let report = engine.ingest_bytes(&body, now()).await.unwrap();
            deliver(&report, engine.ledger(), &notifier, &publisher, &actor, now()).await.unwrap();
        }
        assert_eq!(notifier.sent().len(), 1, "a duplicate delivery does not page again");
        let published = publisher.published();
        let types: Vec<&str> = published.iter().map(|e| e.detail_type).collect();
        assert_eq!(types, [DECISION_DETAIL_TYPE, BREAK_GLASS_DETAIL_TYPE]);
        let request: BreakGlassRequest = serde_json::from_value(published[1].detail.clone()).unwrap();
        assert_eq!((request.action, request.target.as_str()), (RuleAction::Cutoff.into(), "fraud-detector-prod"));
        assert_eq!(request.model_id.as_deref(), Some("fraud-detector"));
        assert_eq!(published[0].detail["decisionId"], request.decision_id);
        assert_eq!(notifier.sent()[0].attributes["decision_id"], request.decision_id);
    });
}

#[test]
fn a_retry_after_a_failed_publish_sends_only_what_is_missing() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        let (notifier, publisher) = (MemoryNotifier::default(), MemoryPublisher::default());
        let actor = Actor::Automation("fn".into());
        let body = read(&events_dir().join("cloudwatch-drift-alarm-high-risk-rollback.json"));
        publisher.fail_next(EffectError::Retryable("FailedEntryCount 1".into()));
        let first = engine.ingest_bytes(&body, now()).await.unwrap();
        let error = deliver(&first, engine.ledger(), &notifier, &publisher, &actor, now()).await.unwrap_err();
        assert!(error.is_retryable());
        assert_eq!((notifier.sent().len(), publisher.published().len()), (1, 0), "alert out, bus failed");

        // Lambda retries the invocation: the ledger says duplicate, the alert is marked, the bus is not.
        let retry = engine.ingest_bytes(&body, now()).await.unwrap();
        assert_eq!(retry.status, Status::Duplicate);
        let delivery = deliver(&retry, engine.ledger(), &notifier, &publisher, &actor, now()).await.unwrap();
        assert!(!delivery.alerted);
        assert_eq!(delivery.published, 2);
        assert_eq!(notifier.sent().len(), 1, "never paged twice for one decision");

        // A third delivery of the same event sends nothing.
        let again = engine.ingest_bytes(&body, now()).await.unwrap();
        assert_eq!(
            deliver(&again, engine.ledger(), &notifier, &publisher, &actor, now()).await.unwrap(),
            Default::default()
        );
    });
}

#[test]
fn a_failed_alert_is_retried_and_nothing_is_published_before_it() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        let (notifier, publisher) = (MemoryNotifier::default(), MemoryPublisher::default());
        let actor = Actor::Automation("fn".into());
        let body = read(&events_dir().join("macie-finding-sensitive-data-training-bucket-gate.json"));
        notifier.fail_next(EffectError::Retryable("throttled".into()));
        let first = engine.ingest_bytes(&body, now()).await.unwrap();
        assert!(deliver(&first, engine.ledger(), &notifier, &publisher, &actor, now()).await.is_err());
        let retry = engine.ingest_bytes(&body, now()).await.unwrap();
        deliver(&retry, engine.ledger(), &notifier, &publisher, &actor, now()).await.unwrap();
        assert_eq!((notifier.sent().len(), publisher.published().len()), (1, 2));
    });
}

#[test]
fn recorded_only_events_publish_a_decision_and_page_nobody() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine(dir.path()).await;
        let (notifier, publisher) = (MemoryNotifier::default(), MemoryPublisher::default());
        let body = read(&events_dir().join("sagemaker-endpoint-inservice-records-config.json"));
        let report = engine.ingest_bytes(&body, now()).await.unwrap();
        deliver(&report, engine.ledger(), &notifier, &publisher, &Actor::Automation("fn".into()), now()).await.unwrap();
        assert!(notifier.sent().is_empty());
        assert_eq!(publisher.published().iter().map(|e| e.detail_type).collect::<Vec<_>>(), [DECISION_DETAIL_TYPE]);
    });
}
