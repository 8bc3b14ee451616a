//! The whole function handler on AWS protocols: the ledger on DynamoDB Local, alerts through moto's SNS read
//! back from an SNS -> SQS subscription, and bus events through an EventBridge rule -> SQS target.

use serde_json::Value;
use warden_app::detector::{FunctionSpec, Handler};
use warden_app::effects::{EffectError, Publisher};
use warden_app::ingest::Engine;
use warden_aws::eventbridge::EventBridgePublisher;
use warden_aws::sns::SnsNotifier;
use warden_core::engine::Status;
use warden_core::inventory::InventoryFile;
use warden_core::ledger::Actor;
use warden_core::policy::Policy;
use warden_core::time::Timestamp;
use warden_tests::{drain, events_dir, fresh_dynamo_ledger, moto_config, plumbing, read};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

const GUARDDUTY: FunctionSpec = FunctionSpec { name: "warden-guardduty", sources: &["aws.guardduty"] };

#[test]
fn a_cutoff_reaches_on_call_and_the_bus_once() {
    runtime().block_on(async {
        let config = moto_config();
        let pipes = plumbing(&config).await;
        let engine = Engine::new(
            fresh_dynamo_ledger("effects").await,
            Policy::builtin().unwrap(),
            Actor::Automation(GUARDDUTY.name.into()),
        );
        let text = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap();
        engine.import_inventory(&InventoryFile::parse(&text).unwrap(), "sample", Timestamp::now()).await.unwrap();
        let handler = Handler::new(
            GUARDDUTY,
            engine,
            SnsNotifier::new(aws_sdk_sns::Client::new(&config), &pipes.topic_arn),
            EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&config), &pipes.bus_name),
        );
        let event: Value =
            serde_json::from_slice(&read(&events_dir().join("guardduty-finding-role-high-risk-cutoff.json"))).unwrap();
        let outcome = handler.handle(event.clone()).await.unwrap();
        assert_eq!((outcome.status, outcome.alerted, outcome.published), (Status::Applied, true, 2));

        let alerts = drain(&pipes.sqs, &pipes.alerts_url).await;
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let alert = &alerts[0];
        let subject = alert["Subject"].as_str().unwrap();
        assert!(subject.starts_with("[CRITICAL] fraud-detector CUT OFF: GuardDuty"), "{subject}");
        assert!(subject.len() < 100);
        let body = alert["Message"].as_str().unwrap();
        assert!(
            body.contains("owner risk-ml-team")
                && body.contains("warden break-glass restore --endpoint fraud-detector-prod"),
            "{body}"
        );
        for (name, value) in
            [("level", "critical"), ("model", "fraud-detector"), ("risk_tier", "high"), ("source", "aws.guardduty")]
        {
            assert_eq!(alert["MessageAttributes"][name]["Value"], value, "{name}: {}", alert["MessageAttributes"]);
        }

        let mut published = drain(&pipes.sqs, &pipes.bus_url).await;
        published.sort_by_key(|e| e["detail-type"].as_str().unwrap_or_default().to_owned());
        let types: Vec<&str> = published.iter().map(|e| e["detail-type"].as_str().unwrap()).collect();
        assert_eq!(types, ["Warden Break-Glass Requested", "Warden Decision"], "{published:?}");
        assert!(published.iter().all(|e| e["source"] == "warden.governance"));
        assert_eq!(published[0]["detail"]["action"], "cutoff");
        assert_eq!(published[0]["detail"]["target"], "fraud-detector-prod");
        assert_eq!(published[0]["detail"]["decisionId"], published[1]["detail"]["decisionId"]);
        assert_eq!(published[1]["detail"]["decisionId"], alert["MessageAttributes"]["decision_id"]["Value"]);

        // EventBridge delivers at least once; the same event again pages nobody and publishes nothing.
        let again = handler.handle(event).await.unwrap();
        assert_eq!((again.status, again.alerted, again.published), (Status::Duplicate, false, 0));
        assert!(drain(&pipes.sqs, &pipes.alerts_url).await.is_empty());
        assert!(drain(&pipes.sqs, &pipes.bus_url).await.is_empty());
    });
}

#[test]
fn missing_topics_and_buses_are_reported_not_swallowed() {
    runtime().block_on(async {
        let config = moto_config();
        let event = warden_core::bus::BusEvent {
            detail_type: warden_core::bus::DECISION_DETAIL_TYPE,
            detail: serde_json::json!({"decisionId": "wd-test"}),
            resources: vec![],
        };
        let publisher = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&config), "no-such-bus");
        let error = publisher.publish(&[event]).await.unwrap_err();
        assert!(matches!(error, EffectError::Permanent(_)), "a missing bus will not appear by retrying: {error}");
        assert!(error.to_string().contains("WARDEN_EVENT_BUS_NAME"), "{error}");

        let notifier =
            SnsNotifier::new(aws_sdk_sns::Client::new(&config), "arn:aws:sns:us-east-1:123456789012:no-such-topic");
        let alert = warden_core::notify::Alert {
            level: warden_core::severity::Band::High,
            subject: "[HIGH] test".into(),
            body: "body".into(),
            attributes: Default::default(),
        };
        let error = warden_app::effects::Notifier::notify(&notifier, &alert).await.unwrap_err();
        assert!(!error.is_retryable(), "a missing topic will not appear by retrying: {error}");
        assert!(error.to_string().contains("WARDEN_ALERT_TOPIC_ARN"), "{error}");
    });
}

#[test]
fn entries_put_events_refuses_are_retried_alone_and_a_lasting_refusal_is_retryable() {
    runtime().block_on(async {
        let config = moto_config();
        let pipes = plumbing(&config).await;
        let publisher = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&config), &pipes.bus_name);
        // moto_ext refuses an entry marked `wardenTestFailTimes: N` the first N times (a partial failure).
        let event = |id: &str, fail_times: u32| warden_core::bus::BusEvent {
            detail_type: warden_core::bus::DECISION_DETAIL_TYPE,
            detail: serde_json::json!({"decisionId": id, "wardenTestFailTimes": fail_times}),
            resources: vec![],
        };
        let run = warden_tests::unique("partial");
        let flaky = event(&format!("{run}-flaky"), 1);
        let fine = event(&format!("{run}-fine"), 0);
        publisher.publish(&[flaky, fine]).await.unwrap();
        let mut delivered: Vec<String> = drain(&pipes.sqs, &pipes.bus_url)
            .await
            .iter()
            .map(|e| e["detail"]["decisionId"].as_str().unwrap_or_default().to_owned())
            .collect();
        delivered.sort();
        assert_eq!(delivered, [format!("{run}-fine"), format!("{run}-flaky")], "each once, the refused one retried");

        let error = publisher.publish(&[event(&format!("{run}-down"), 10)]).await.unwrap_err();
        assert!(error.is_retryable(), "the invocation is retried later: {error}");
        assert!(error.to_string().contains("1 entries failed after 3 attempts"), "{error}");
        assert!(drain(&pipes.sqs, &pipes.bus_url).await.is_empty());
    });
}
