//! No input can poison, fool or needlessly page Warden. Each test performs an attack or replays an odd but real
//! AWS input through the engine and an embedded ledger, and checks what was decided, recorded and alerted.

use serde_json::{Value, json};
use warden_app::ingest::Engine;
use warden_app::ledger::{Ledger, verify};
use warden_core::action::RuleAction;
use warden_core::engine::{Report, Status};
use warden_core::inventory::InventoryFile;
use warden_core::ledger::{Actor, EntryBody};
use warden_core::notify::compose;
use warden_core::policy::{Policy, SAMPLE_RULE};
use warden_core::severity::Band;
use warden_core::time::Timestamp;
use warden_embedded::EmbeddedLedger;
use warden_tests::{events_dir, read};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap()
}

/// When the tests record: after every bundled event, as a replay would.
fn recorded_at() -> Timestamp {
    Timestamp::parse("2026-11-03T00:00:00Z").unwrap()
}

fn fixture(name: &str) -> Value {
    serde_json::from_slice(&read(&events_dir().join(name))).unwrap()
}

async fn engine() -> Engine<EmbeddedLedger> {
    let engine =
        Engine::new(EmbeddedLedger::in_memory().unwrap(), Policy::builtin().unwrap(), Actor::Automation("test".into()));
    let text = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap();
    engine.import_inventory(&InventoryFile::parse(&text).unwrap(), "sample", recorded_at()).await.unwrap();
    engine
}

async fn ingest(engine: &Engine<EmbeddedLedger>, event: &Value) -> Report {
    let body = serde_json::to_vec(event).unwrap();
    engine.ingest_value(event.clone(), &body, recorded_at()).await.unwrap()
}

/// After any input, the whole ledger still reads back and verifies.
async fn assert_ledger_sound(engine: &Engine<EmbeddedLedger>) {
    let report = verify(engine.ledger()).await.unwrap();
    assert!(report.ok(), "{:?}", report.failures);
    engine.ledger().inventory().await.unwrap();
}

#[test]
fn a_year_10000_timestamp_is_rejected_naming_its_path_and_the_ledger_keeps_working() {
    runtime().block_on(async {
        let engine = engine().await;
        let cases = [
            (
                "sagemaker-endpoint-inservice-records-config.json",
                "/detail/LastModifiedTime",
                json!(253_402_300_800_000_u64),
                "detail.LastModifiedTime",
            ),
            (
                "warden-drift-breach-medium-risk-alert.json",
                "/detail/observedAt",
                json!("2030-01-01T00:00:00Z"),
                "detail.observedAt",
            ),
            ("guardduty-finding-role-high-risk-cutoff.json", "/time", json!("+10000-01-01T00:00:00Z"), "at time"),
            (
                "guardduty-finding-role-high-risk-cutoff.json",
                "/detail/updatedAt",
                json!("2005-12-31T00:00:00Z"),
                "detail.updatedAt",
            ),
        ];
        for (name, pointer, value, path) in cases {
            let mut event = fixture(name);
            *event.pointer_mut(pointer).unwrap() = value;
            let report = ingest(&engine, &event).await;
            assert_eq!(report.status, Status::Rejected, "{name} {pointer}");
            let error = report.error.unwrap_or_default();
            assert!(error.contains(path) && error.contains("timestamp"), "{name}: {error}");
        }
        let mut no_time = fixture("guardduty-finding-role-high-risk-cutoff.json");
        no_time.as_object_mut().unwrap().remove("time");
        let report = ingest(&engine, &no_time).await;
        assert_eq!(report.status, Status::Rejected, "an event without a time is not dated 1970");
        assert!(report.error.unwrap_or_default().contains("at time: missing field `time`"));

        // Every later event, the inventory, verify and export go on.
        let report = ingest(&engine, &fixture("guardduty-finding-role-high-risk-cutoff.json")).await;
        assert_eq!(report.status, Status::Applied);
        assert_eq!(report.actions[0].kind, RuleAction::Cutoff);
        assert_ledger_sound(&engine).await;
    });
}

#[test]
fn values_outside_their_documented_range_are_never_decided_on_and_page_high() {
    runtime().block_on(async {
        let engine = engine().await;
        let cases = [
            ("guardduty-finding-role-high-risk-cutoff.json", "/detail/severity", json!(11), "detail.severity"),
            ("guardduty-finding-role-high-risk-cutoff.json", "/detail/severity", json!(100), "detail.severity"),
            ("guardduty-finding-role-high-risk-cutoff.json", "/detail/severity", json!(1e308), "detail.severity"),
            ("guardduty-finding-role-high-risk-cutoff.json", "/detail/severity", json!(0.5), "detail.severity"),
            (
                "macie-finding-sensitive-data-training-bucket-gate.json",
                "/detail/severity/score",
                json!(11),
                "detail.severity.score",
            ),
        ];
        for (name, pointer, value, path) in cases {
            let mut event = fixture(name);
            *event.pointer_mut(pointer).unwrap() = value.clone();
            let report = ingest(&engine, &event).await;
            assert_eq!(report.status, Status::Rejected, "{name} {value}");
            assert!(report.actions.is_empty());
            let error = report.error.clone().unwrap_or_default();
            assert!(error.contains(path) && error.contains("out of range"), "{error}");
            assert!(!error.contains(&value.to_string()), "the value is not echoed: {error}");
            let alert = compose(&report).unwrap();
            assert_eq!(alert.level, Band::High, "a finding Warden cannot interpret is news: {}", alert.subject);
        }
        // A sample finding out of range is not decided on either, but a sample never pages above info.
        let mut sample = fixture("guardduty-finding-role-high-risk-cutoff.json");
        sample["detail"]["severity"] = json!(11);
        sample["detail"]["service"]["additionalInfo"] = json!({"sample": true});
        let report = ingest(&engine, &sample).await;
        assert_eq!((report.status, compose(&report).unwrap().level), (Status::Rejected, Band::Info));
        // A malformed value (not a range question) still alerts low.
        let mut event = fixture("guardduty-finding-role-high-risk-cutoff.json");
        event["detail"]["severity"] = json!("high");
        let report = ingest(&engine, &event).await;
        assert_eq!(compose(&report).unwrap().level, Band::Low);
        assert_ledger_sound(&engine).await;
    });
}

#[test]
fn sample_findings_are_recorded_as_samples_never_act_and_page_at_info() {
    runtime().block_on(async {
        let engine = engine().await;
        // The cut-off finding, as create-sample-findings would make it (both shapes of additionalInfo).
        for info in [json!({"sample": true}), json!({"value": "{\"sample\":true}", "type": "default"})] {
            let mut event = fixture("guardduty-finding-role-high-risk-cutoff.json");
            event["detail"]["service"]["additionalInfo"] = info;
            event["detail"]["id"] = json!(format!("sample-{}", event["detail"]["service"]["additionalInfo"]));
            let report = ingest(&engine, &event).await;
            assert_eq!(report.status, Status::Applied);
            assert_eq!(report.models, ["fraud-detector"]);
            assert_eq!(report.rules, [SAMPLE_RULE]);
            assert!(report.actions.is_empty(), "a sample never acts: {:?}", report.actions);
            assert_eq!(report.alert, Some(Band::Info));
        }
        // A sample Macie finding on training data neither gates nor holds the next approval.
        let mut macie = fixture("macie-finding-sensitive-data-training-bucket-gate.json");
        macie["detail"]["sample"] = json!(true);
        let report = ingest(&engine, &macie).await;
        assert_eq!(
            (report.rules.as_slice(), report.actions.len(), report.alert),
            ([SAMPLE_RULE.to_owned()].as_slice(), 0, Some(Band::Info))
        );
        let approval = ingest(&engine, &fixture("sagemaker-model-package-approved-governed.json")).await;
        assert!(approval.actions.is_empty(), "no open finding from a sample: {:?}", approval.rules);
        // The published sample findings in events/aws are samples too.
        for name in [
            "aws/guardduty-sample-finding-s3-pentest-parrotlinux.json",
            "aws/guardduty-sample-finding-iam-recon-maliciousipcaller-custom.json",
        ] {
            let report = ingest(&engine, &fixture(name)).await;
            assert_eq!(report.rules, [SAMPLE_RULE], "{name}");
        }
        assert_ledger_sound(&engine).await;
    });
}

/// An endpoint's InService event with these tags: a new event each call (a minute later than the last), so none is a
/// redelivery of another (a duplicate reports what the first delivery decided, whatever its tags).
fn endpoint_event(endpoint: &str, tags: Value) -> Value {
    static MINUTES: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
    let later = MINUTES.fetch_add(1, std::sync::atomic::Ordering::Relaxed) * 60_000;
    let mut event = fixture("sagemaker-endpoint-inservice-records-config.json");
    event["detail"]["EndpointName"] = json!(endpoint);
    event["detail"]["EndpointArn"] = json!(format!("arn:aws:sagemaker:us-east-1:111122223333:endpoint/{endpoint}"));
    event["detail"]["Tags"] = tags;
    event["detail"]["LastModifiedTime"] = json!(1_793_620_800_000_i64 + later);
    event["id"] = json!(format!("5eed0000-0000-4000-8000-{later:012}"));
    event
}

#[test]
fn tags_associate_and_fill_in_but_never_downgrade_or_move_a_model() {
    runtime().block_on(async {
        let engine = engine().await;
        let model = |id: &'static str| {
            let engine = &engine;
            async move { engine.ledger().inventory().await.unwrap().get(id).cloned() }
        };
        // Downgrade: fraud-detector's own endpoint tagged low risk and another owner.
        let downgrade = endpoint_event(
            "fraud-detector-prod",
            json!({"warden:model": "fraud-detector", "warden:risk-tier": "low", "warden:owner": "someone-else"}),
        );
        let report = ingest(&engine, &downgrade).await;
        let fraud = model("fraud-detector").await.unwrap();
        assert_eq!((fraud.risk.map(|r| r.as_str()), fraud.owner.as_deref()), (Some("high"), Some("risk-ml-team")));
        assert!(report.alert >= Some(Band::Medium), "a governance anomaly pages: {:?}", report.alert);
        assert!(report.summary.contains("governance anomaly: tag warden:risk-tier"), "{}", report.summary);
        let decision = engine.ledger().entries("fraud-detector").await.unwrap().into_iter().rev().find_map(|e| match e
            .entry
            .body
        {
            EntryBody::Decision { reasons, .. } => Some(reasons.join("; ")),
            _ => None,
        });
        assert!(decision.unwrap_or_default().contains("warden:owner"), "both conflicts are recorded");
        // Move: the same endpoint tagged with a low-risk model's id stays fraud-detector's, and writes nothing on the
        // named model's chain.
        let before = engine.ledger().entries("support-summarizer").await.unwrap().len();
        let report =
            ingest(&engine, &endpoint_event("fraud-detector-prod", json!({"warden:model": "support-summarizer"})))
                .await;
        assert_eq!(report.models, ["fraud-detector"]);
        assert_eq!(engine.ledger().entries("support-summarizer").await.unwrap().len(), before);
        assert!(report.summary.contains("governance anomaly: tag warden:model"), "{}", report.summary);
        assert!(model("support-summarizer").await.unwrap().endpoint("fraud-detector-prod").is_none());
        // So the next exfiltration finding still cuts it off.
        let cutoff = ingest(&engine, &fixture("guardduty-finding-role-high-risk-cutoff.json")).await;
        assert_eq!(
            cutoff.actions.first().map(|a| (a.kind, a.target.as_str())),
            Some((RuleAction::Cutoff, "fraud-detector-prod"))
        );

        // Association: an unbound endpoint joins a model, and fills in the tier it lacked.
        ingest(
            &engine,
            &endpoint_event("new-endpoint", json!({"warden:model": "brand-new", "warden:risk-tier": "medium"})),
        )
        .await;
        let new = model("brand-new").await.unwrap();
        assert_eq!((new.risk.map(|r| r.as_str()), new.endpoint("new-endpoint").is_some()), (Some("medium"), true));
        let report = ingest(
            &engine,
            &endpoint_event("new-endpoint", json!({"warden:model": "brand-new", "warden:risk-tier": "low"})),
        )
        .await;
        assert!(report.summary.contains("governance anomaly"), "a tier set once is not lowered by the next tag");

        // Invalid ids never become models, from tags or from package groups.
        for id in
            ["", "_unattributed", "has space", "tab\there", "ctl\u{7}", "fraud-detector\u{200b}", "r\u{e9}sum\u{e9}"]
        {
            ingest(&engine, &endpoint_event(&format!("ep-{}", id.len()), json!({"warden:model": id}))).await;
            let mut package = fixture("sagemaker-model-package-approved-unknown-group-gate.json");
            package["detail"]["ModelPackageGroupName"] = json!(id);
            ingest(&engine, &package).await;
            assert!(
                model("_unattributed").await.is_none() && engine.ledger().inventory().await.unwrap().get(id).is_none(),
                "{id:?}"
            );
        }
        assert_ledger_sound(&engine).await;
    });
}

#[test]
fn a_rejection_never_echoes_the_value_and_always_fits_one_ledger_item() {
    runtime().block_on(async {
        let engine = engine().await;
        let huge = "4111111111111111 ".repeat(250 * 1024 / 17);
        let mut cases = Vec::new();
        let mut event = fixture("guardduty-finding-role-high-risk-cutoff.json");
        event["detail"]["severity"] = json!(huge);
        cases.push(event);
        let mut event = fixture("cloudwatch-drift-alarm-recovered-ok.json");
        event["detail"]["state"]["value"] = json!(huge);
        cases.push(event);
        let mut event = fixture("warden-drift-breach-medium-risk-alert.json");
        event["detail"][huge.as_str()] = json!(1);
        cases.push(event.clone());
        let mut unsupported = fixture("warden-drift-breach-medium-risk-alert.json");
        unsupported["source"] = json!("4111111111111111");
        unsupported["detail-type"] = json!("card 4111 1111 1111 1111");
        cases.push(unsupported);
        let mut unknown_key = fixture("warden-drift-breach-medium-risk-alert.json");
        unknown_key["detail"]["4111111111111111"] = json!(1);
        cases.push(unknown_key);
        // Identifiers are kept, but cut short: a 250 KB id or detail-type still makes a small record.
        event["id"] = json!("i".repeat(250 * 1024));
        event["detail-type"] = json!("t".repeat(250 * 1024));
        cases.push(event);
        let mut event = fixture("sagemaker-endpoint-inservice-records-config.json");
        event["detail"]["EndpointName"] = json!(huge.replace(' ', "x"));
        cases.push(event);
        for event in cases {
            let report = ingest(&engine, &event).await;
            assert_eq!(report.status, Status::Rejected);
            let error = report.error.clone().unwrap_or_default();
            assert!(!error.contains("4111111111111111") && !error.contains("4111 1111"), "{error}");
            let alert = compose(&report).unwrap();
            assert!(!alert.body.contains("4111111111111111"), "{}", alert.body);
        }
        for entry in warden_tests::unattributed_entries(engine.ledger()).await {
            let size = serde_json::to_vec(&entry).unwrap().len();
            assert!(size < 8 * 1024, "a rejection of {size} bytes");
            let text = serde_json::to_string(&entry).unwrap();
            assert!(!text.contains("4111111111111111") && !text.contains("4111 1111"), "{text}");
        }
        assert_ledger_sound(&engine).await;
    });
}

/// Whatever wrote them (a bug, a disk, a person with the file), unreadable items stop nothing else: verify names
/// them and goes on, other models' events are decided as usual, and a damaged model record is never replaced by a
/// weaker one made from an event.
#[test]
fn an_unreadable_entry_or_model_record_stops_nothing_else() {
    use warden_embedded::tables::{ENTRIES, MARKERS, MODELS};
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        {
            let engine = Engine::new(
                EmbeddedLedger::open(dir.path()).unwrap(),
                Policy::builtin().unwrap(),
                Actor::Automation("test".into()),
            );
            let text = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap();
            engine.import_inventory(&InventoryFile::parse(&text).unwrap(), "sample", recorded_at()).await.unwrap();
        }
        {
            let db = redb::Database::open(dir.path().join("ledger.redb")).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut entries = txn.open_table(ENTRIES).unwrap();
                entries.insert(("fraud-detector", 1), b"{\"seq\": \"not what Warden writes\"".as_slice()).unwrap();
                let mut models = txn.open_table(MODELS).unwrap();
                models.insert("churn-predictor", b"\xff\xfe".as_slice()).unwrap();
                let mut markers = txn.open_table(MARKERS).unwrap();
                markers.insert("aws.config#damaged", b"{\"models\": 7".as_slice()).unwrap();
            }
            txn.commit().unwrap();
        }
        let engine = Engine::new(
            EmbeddedLedger::open(dir.path()).unwrap(),
            Policy::builtin().unwrap(),
            Actor::Automation("test".into()),
        );
        let report = verify(engine.ledger()).await.unwrap();
        let failing: Vec<&str> = report.failures.iter().map(|f| f.chain.as_str()).collect();
        assert_eq!(failing, ["fraud-detector", "churn-predictor", "state"], "{:?}", report.failures);
        assert!(report.failures[2].to_string().contains("marker aws.config#damaged"), "{}", report.failures[2]);
        assert!(report.chains > 2, "every other chain was walked");
        let inventory = engine.ledger().inventory().await.unwrap();
        assert!(inventory.get("credit-scoring").is_some() && inventory.unreadable().contains("churn-predictor"));

        let drift = ingest(&engine, &fixture("cloudwatch-drift-alarm-high-risk-rollback.json")).await;
        assert_eq!(
            (drift.status, drift.models.as_slice()),
            (Status::Applied, ["credit-scoring".to_owned()].as_slice())
        );
        let package = ingest(&engine, &fixture("sagemaker-model-package-pending-manual-approval.json")).await;
        assert_eq!(package.status, Status::Applied);
        assert!(
            engine.ledger().inventory().await.unwrap().get("churn-predictor").is_none(),
            "not re-created from an event"
        );
    });
}

/// Config names an IAM role by its unique id (`AROA...`) in compliance changes: Warden learns the id from the role's
/// configuration item (which carries the ARN too), then correlates compliance changes with the model using it.
#[test]
fn config_compliance_on_a_model_s_execution_role_reaches_the_model() {
    runtime().block_on(async {
        let engine = engine().await;
        let compliance = fixture("config-rules-compliance-change-noncompliant-iam-role-high-risk.json");
        let before = ingest(&engine, &compliance).await;
        assert!(before.models.is_empty(), "the id is not known yet: {:?}", before.models);
        ingest(&engine, &fixture("config-configuration-item-change-iam-role-learns-unique-id.json")).await;
        let mut again = compliance.clone();
        again["detail"]["newEvaluationResult"]["resultRecordedTime"] = json!("2026-11-02T08:30:00Z");
        let after = ingest(&engine, &again).await;
        assert_eq!(after.models, ["fraud-detector"]);
        assert_eq!(
            (after.alert, after.rules.as_slice()),
            (Some(Band::High), ["noncompliant-high-risk-model-alert".to_owned()].as_slice())
        );
        assert!(
            engine
                .ledger()
                .inventory()
                .await
                .unwrap()
                .get("fraud-detector")
                .unwrap()
                .roles
                .contains("AROAEXAMPLEFRAUD")
        );
    });
}

fn health_alarm(endpoint: &str, at: &str) -> Value {
    let mut alarm = fixture("cloudwatch-health-alarm-5xx-high-risk-alert.json");
    alarm["detail"]["alarmName"] = json!(format!("{endpoint}-5xx"));
    alarm["detail"]["state"]["timestamp"] = json!(at);
    // Metric math: the endpoint dimension is on the second metric, the first is the expression.
    let metric = alarm["detail"]["configuration"]["metrics"][0].take();
    alarm["detail"]["configuration"]["metrics"] =
        json!([{"id": "e1", "expression": "m1 * 1", "returnData": true}, metric]);
    alarm["detail"]["configuration"]["metrics"][1]["metricStat"]["metric"]["dimensions"]["EndpointName"] =
        json!(endpoint);
    alarm
}

/// Alarms mean what they are: EC2, Lambda and composite alarms about no model are recorded at info and never page;
/// SageMaker's own endpoint metrics (`EndpointName`) reach their model as health; a health alarm on a high-risk model
/// soon after its config changed rolls back (SageMaker's auto-rollback has stopped watching by then).
#[test]
fn alarms_page_only_about_models_and_health_right_after_a_change_rolls_back() {
    runtime().block_on(async {
        let engine = engine().await;
        for name in [
            "aws/cloudwatch-alarm-state-change-single-metric-ec2-cpu.json",
            "aws/cloudwatch-alarm-state-change-metric-math-network-traffic.json",
            "aws/cloudwatch-alarm-state-change-anomaly-detection-ec2-cpu.json",
            "aws/cloudwatch-alarm-state-change-composite-with-suppressor.json",
        ] {
            let report = ingest(&engine, &fixture(name)).await;
            assert_eq!((report.status, report.alert, report.notify), (Status::Applied, None, false), "{name}");
            assert!(
                report.models.is_empty() && report.summary.contains("not about a model"),
                "{name}: {}",
                report.summary
            );
        }

        let mut deployed = endpoint_event("credit-scoring-prod", Value::Null);
        deployed["detail"]["EndpointConfigName"] = json!("credit-cfg-v3");
        deployed["detail"]["LastModifiedTime"] = json!("2026-11-02T16:00:00Z");
        ingest(&engine, &deployed).await;
        let soon = ingest(&engine, &health_alarm("credit-scoring-prod", "2026-11-02T16:20:00.000+0000")).await;
        assert_eq!(soon.models, ["credit-scoring"]);
        assert_eq!(soon.rules, ["health-after-deployment-on-high-risk-model-rollback"]);
        let action = soon.actions.first().map(|a| (a.kind, a.config.clone()));
        assert_eq!(action, Some((RuleAction::Rollback, Some("credit-cfg-v2".to_owned()))));

        let later = ingest(&engine, &health_alarm("credit-scoring-prod", "2026-11-02T18:30:00.000+0000")).await;
        assert_eq!(
            (later.rules.as_slice(), later.actions.len(), later.alert),
            (["health-on-high-risk-model-alert".to_owned()].as_slice(), 0, Some(Band::High))
        );
        assert_ledger_sound(&engine).await;
    });
}

// --- Mutations: every bundled event, mutated, through the engine and a ledger ----------------------------------

/// Every path to a value inside `value`, as JSON pointers.
fn pointers(value: &Value, prefix: String, out: &mut Vec<String>) {
    out.push(prefix.clone());
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                pointers(inner, format!("{prefix}/{}", key.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                pointers(inner, format!("{prefix}/{index}"), out);
            }
        }
        _ => {}
    }
}

/// The kinds of damage a hostile or broken sender can do to one field, or to the bytes.
const MUTATIONS: usize = 16;

fn mutated(event: &Value, path: usize, choice: usize) -> Vec<u8> {
    let mut event = event.clone();
    let mut all = Vec::new();
    pointers(&event, String::new(), &mut all);
    let pointer = &all[path % all.len()];
    let replacement = match choice % MUTATIONS {
        0 => None,
        1 => Some(Value::Null),
        2 => Some(json!(-1)),
        3 => Some(json!("")),
        4 => Some(json!([1])),
        5 => Some(json!({"unexpected": true})),
        6 => Some(json!(1e300)),
        7 => Some(json!(-1e308)),
        8 => Some(json!(u64::MAX)),
        9 => Some(json!(253_402_300_800_000_u64)),
        10 => Some(json!("+10000-01-01T00:00:00Z")),
        11 => Some(json!("x".repeat(300 * 1024))),
        12 => Some(json!("\u{0}\u{202e}\u{7}ctl")),
        13 => Some((0..200).fold(json!(1), |inner, _| json!([inner]))),
        _ => None,
    };
    let parent_and_key = pointer.rsplit_once('/');
    match (choice % MUTATIONS, parent_and_key) {
        (0, Some((parent, key))) => match event.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                map.remove(&key.replace("~1", "/").replace("~0", "~"));
            }
            Some(Value::Array(items)) => {
                if let Ok(index) = key.parse::<usize>() {
                    items.remove(index);
                }
            }
            _ => {}
        },
        (_, _) => {
            if let (Some(value), Some(slot)) = (replacement, event.pointer_mut(pointer)) {
                *slot = value;
            }
        }
    }
    let mut bytes = serde_json::to_vec(&event).unwrap();
    if choice % MUTATIONS >= 14 {
        // Invalid UTF-8 (14) or a cut-off document (15), at a place chosen by the path.
        let at = path % bytes.len();
        if choice % MUTATIONS == 14 { bytes[at] = 0xff } else { bytes.truncate(at) }
    }
    bytes
}

/// What one mutated input did; panics (failing the test) if it broke a guarantee.
async fn ingest_mutated(engine: &Engine<EmbeddedLedger>, bytes: &[u8]) -> Status {
    let report = engine.ingest_bytes(bytes, recorded_at()).await.unwrap_or_else(|e| panic!("no outcome: {e}"));
    let ledger = engine.ledger();
    for chain in ledger.chains().await.unwrap() {
        for entry in ledger.entries(&chain).await.unwrap_or_else(|e| panic!("{chain} does not read back: {e}")) {
            let size = serde_json::to_vec(&entry).unwrap().len();
            assert!(size < 64 * 1024, "an entry of {size} bytes on {chain}");
        }
    }
    let verified = verify(ledger).await.unwrap();
    assert!(verified.ok(), "{:?}", verified.failures);
    report.status
}

fn bundled_events() -> Vec<Value> {
    warden_tests::event_files().iter().map(|f| serde_json::from_slice(&read(f)).unwrap()).collect()
}

async fn mutation_engine(inventory: &InventoryFile) -> Engine<EmbeddedLedger> {
    let engine =
        Engine::new(EmbeddedLedger::in_memory().unwrap(), Policy::builtin().unwrap(), Actor::Automation("test".into()));
    engine.import_inventory(inventory, "sample", recorded_at()).await.unwrap();
    engine
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 1500, ..proptest::prelude::ProptestConfig::default() })]

    /// Any one mutation of any bundled event gives exactly one outcome, never a panic, never an entry that fails
    /// to read back, and a ledger that verifies.
    #[test]
    fn mutated_bundled_events_never_poison_the_ledger(fixture in 0..1000_usize, path in 0..100_000_usize, choice in 0..MUTATIONS) {
        let events = bundled_events();
        let bytes = mutated(&events[fixture % events.len()], path, choice);
        let inventory = InventoryFile::parse(&std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap()).unwrap();
        runtime().block_on(async {
            let engine = mutation_engine(&inventory).await;
            ingest_mutated(&engine, &bytes).await;
        });
    }
}

/// The long campaign behind `scripts/mutations.sh`: WARDEN_MUTATIONS inputs (default 100,000) through one ledger,
/// every outcome counted. Ignored in the test command (the property test above is its CI share).
#[test]
#[ignore = "long: run by scripts/mutations.sh"]
fn mutation_campaign() {
    let count: usize = std::env::var("WARDEN_MUTATIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let events = bundled_events();
    let inventory =
        InventoryFile::parse(&std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap()).unwrap();
    let mut seed: u64 = 0x5eed_cafe_f00d_0001;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        usize::try_from(seed >> 16).unwrap()
    };
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let started = std::time::Instant::now();
    runtime().block_on(async {
        // A fresh ledger every 100 inputs keeps the walk of every chain after each input short; outcomes are
        // independent inputs anyway.
        let mut engine = mutation_engine(&inventory).await;
        for n in 0..count {
            if n > 0 && n % 100 == 0 {
                engine = mutation_engine(&inventory).await;
            }
            let (fixture, path, choice) = (next(), next(), next());
            let bytes = mutated(&events[fixture % events.len()], path, choice);
            let status = ingest_mutated(&engine, &bytes).await;
            *counts.entry(format!("{status:?}").to_lowercase()).or_default() += 1;
        }
    });
    let summary: Vec<String> = counts.iter().map(|(status, n)| format!("{n} {status}")).collect();
    println!(
        "mutations: {count} inputs from {} bundled events in {:.1} s: {}; 0 panics, every entry read back, every ledger verified",
        events.len(),
        started.elapsed().as_secs_f64(),
        summary.join(", ")
    );
}
