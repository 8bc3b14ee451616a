//! The DynamoDB ledger against Amazon DynamoDB Local (started by scripts/test.sh): the conformance suite,
//! concurrent writers on one chain, duplicate and out-of-order delivery, an endpoint that goes away, and the
//! same per-event results as the embedded ledger.

use std::sync::Arc;

use serde_json::Value;
use warden_app::conformance;
use warden_app::ingest::Engine;
use warden_app::ledger::{Ledger, verify};
use warden_aws::dynamodb::DynamoLedger;
use warden_core::engine::{Report, Status};
use warden_core::inventory::InventoryFile;
use warden_core::ledger::{Actor, EntryBody, LedgerError};
use warden_core::policy::Policy;
use warden_core::time::Timestamp;
use warden_embedded::EmbeddedLedger;
use warden_tests::{dynamodb_client, events_dir, fresh_dynamo_ledger, json_files, read};

fn now() -> Timestamp {
    Timestamp::now()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap()
}

fn engine_without_inventory<L: Ledger>(ledger: L) -> Engine<L> {
    Engine::new(ledger, Policy::builtin().unwrap(), Actor::Automation("test".into()))
}

async fn engine<L: Ledger>(ledger: L) -> Engine<L> {
    let engine = Engine::new(ledger, Policy::builtin().unwrap(), Actor::Automation("test".into()));
    let text = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap();
    engine.import_inventory(&InventoryFile::parse(&text).unwrap(), "sample", now()).await.unwrap();
    engine
}

#[test]
fn dynamodb_ledger_passes_the_conformance_suite() {
    let failures = runtime().block_on(conformance::run(|| fresh_dynamo_ledger("conformance")));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A GuardDuty finding on fraud-detector's role, made distinct by `n`.
fn finding(n: usize) -> Vec<u8> {
    let mut event: Value =
        serde_json::from_slice(&read(&events_dir().join("guardduty-finding-low-severity-info.json"))).unwrap();
    event["id"] = Value::from(format!("concurrent-{n}"));
    event["detail"]["id"] = Value::from(format!("{n:032x}"));
    event["detail"]["resource"] = serde_json::json!({
        "resourceType": "AccessKey",
        "accessKeyDetails": {"accessKeyId": "ASIAEXAMPLE", "userName": "fraud-sagemaker-exec", "userType": "AssumedRole"}
    });
    serde_json::to_vec(&event).unwrap()
}

/// Two deliveries of one event that arrive together plan identical entries from the same head. Exactly one may be
/// applied: a client token derived from the commit's content made DynamoDB answer the second "succeeded" too, so
/// one event counted as applied twice (found by the sixteen-writer test, once in CI).
#[test]
fn simultaneous_deliveries_of_one_event_are_applied_once() {
    const EVENTS: usize = 40;
    runtime().block_on(async {
        let engine = engine(fresh_dynamo_ledger("twins").await).await;
        for n in 0..EVENTS {
            let at = now();
            let event = finding(n);
            let (first, second) = tokio::join!(engine.ingest_bytes(&event, at), engine.ingest_bytes(&event, at));
            let statuses = [first.unwrap().status, second.unwrap().status];
            let applied = statuses.iter().filter(|s| **s == Status::Applied).count();
            assert_eq!(applied, 1, "event {n}: {statuses:?}");
        }
        let report = verify(engine.ledger()).await.unwrap();
        assert!(report.ok(), "{report:?}");
    });
}

#[test]
fn concurrent_writers_on_one_chain_lose_and_double_nothing() {
    const WRITERS: usize = 8;
    const EVENTS: usize = 50;
    runtime().block_on(async {
        let engine = Arc::new(engine(fresh_dynamo_ledger("concurrent").await).await);
        let before = engine.ledger().entries("fraud-detector").await.unwrap().len();
        let mut tasks = Vec::new();
        for writer in 0..WRITERS {
            let engine = Arc::clone(&engine);
            tasks.push(tokio::spawn(async move {
                let mut statuses = Vec::new();
                for i in 0..EVENTS {
                    // Each writer also re-delivers one event another writer owns: duplicates under contention.
                    let n = writer * EVENTS + i;
                    let report = engine.ingest_bytes(&finding(n), now()).await.unwrap();
                    statuses.push((n, report.status));
                    if i == 0 {
                        let other = ((writer + 1) % WRITERS) * EVENTS;
                        let again = engine.ingest_bytes(&finding(other), now()).await.unwrap();
                        statuses.push((other, again.status));
                    }
                }
                statuses
            }));
        }
        // Every distinct event is applied exactly once, by whichever of its deliveries came first.
        let mut applied = std::collections::BTreeMap::<usize, usize>::new();
        for task in tasks {
            for (n, status) in task.await.unwrap() {
                match status {
                    Status::Applied => *applied.entry(n).or_default() += 1,
                    Status::Duplicate => {
                        applied.entry(n).or_default();
                    }
                    Status::Rejected => panic!("event {n} rejected"),
                }
            }
        }
        assert_eq!(applied.len(), WRITERS * EVENTS);
        assert!(applied.values().all(|count| *count == 1), "applied counts: {applied:?}");
        let entries = engine.ledger().entries("fraud-detector").await.unwrap();
        let signals = entries.iter().filter(|e| matches!(e.entry.body, EntryBody::Signal { .. })).count();
        let mut keys: Vec<&str> = entries
            .iter()
            .filter(|e| matches!(e.entry.body, EntryBody::Signal { .. }))
            .map(|e| e.entry.idempotency_key.as_str())
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let total = WRITERS * EVENTS;
        assert_eq!(signals, total, "one signal entry per distinct event");
        assert_eq!(keys.len(), total, "no event recorded twice");
        assert_eq!(entries.len(), before + 2 * total, "a signal and a decision per event");
        let report = verify(engine.ledger()).await.unwrap();
        assert!(report.ok(), "{report:?}");
    });
}

#[test]
fn out_of_order_and_duplicate_delivery_keep_the_newest_config_history() {
    runtime().block_on(async {
        let engine = engine(fresh_dynamo_ledger("order").await).await;
        let failed = read(&events_dir().join("sagemaker-endpoint-failed-alert.json"));
        let rejected = read(&events_dir().join("sagemaker-model-package-rejected.json"));
        let pending = read(&events_dir().join("sagemaker-model-package-pending-manual-approval.json"));
        // Version 8 (newer) before version 7, twice each.
        for body in [&pending, &rejected, &pending, &failed, &rejected, &failed] {
            engine.ingest_bytes(body, now()).await.unwrap();
        }
        let inventory = engine.ledger().inventory().await.unwrap();
        let churn = inventory.get("churn-predictor").unwrap();
        let versions: Vec<_> = churn.package_versions.iter().map(|p| (p.version, p.approval.to_string())).collect();
        assert_eq!(versions.len(), 2, "{versions:?}");
        assert!(versions.contains(&(Some(8), "PendingManualApproval".into())));
        let signals = warden_tests::signal_count(engine.ledger(), "churn-predictor").await;
        assert_eq!(signals, 3, "three distinct events, each once");
        assert!(verify(engine.ledger()).await.unwrap().ok());
    });
}

#[test]
fn an_endpoint_that_goes_away_gives_a_retryable_error_and_a_consistent_ledger() {
    runtime().block_on(async {
        let ledger = fresh_dynamo_ledger("outage").await;
        let table = ledger.table().to_owned();
        let engine = engine(ledger).await;
        engine
            .ingest_bytes(&read(&events_dir().join("guardduty-finding-role-high-risk-cutoff.json")), now())
            .await
            .unwrap();
        // The same table, through an endpoint nobody listens on.
        let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = dead.local_addr().unwrap();
        drop(dead);
        let gone = Engine::new(
            DynamoLedger::new(dynamodb_client(&format!("http://{address}")), table),
            Policy::builtin().unwrap(),
            Actor::Automation("test".into()),
        );
        let body = read(&events_dir().join("cloudwatch-drift-alarm-high-risk-rollback.json"));
        match gone.ingest_bytes(&body, now()).await {
            Err(error @ LedgerError::Unavailable(_)) => assert!(error.is_retryable()),
            other => panic!("expected a retryable error, got {other:?}"),
        }
        // Back again: the retry applies once and the ledger verifies.
        let report = engine.ingest_bytes(&body, now()).await.unwrap();
        assert_eq!(report.status, Status::Applied);
        assert!(verify(engine.ledger()).await.unwrap().ok());
    });
}

fn comparable(report: &Report) -> (Status, Vec<String>, Option<warden_core::severity::Band>, String) {
    (report.status, report.models.clone(), report.alert, serde_json::to_string(&report.actions).unwrap())
}

#[test]
fn replay_gives_the_same_results_on_dynamodb_and_embedded() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let embedded = engine(EmbeddedLedger::open(dir.path()).unwrap()).await;
        let dynamo = engine(fresh_dynamo_ledger("parity").await).await;
        let mut files = warden_tests::event_files();
        files.extend(json_files(&warden_tests::invalid_dir()));
        files.extend(warden_tests::event_files());
        for file in &files {
            let body = read(file);
            let (a, b) =
                (embedded.ingest_bytes(&body, now()).await.unwrap(), dynamo.ingest_bytes(&body, now()).await.unwrap());
            assert_eq!(comparable(&a), comparable(&b), "{}", file.display());
        }
        assert_eq!(embedded.ledger().inventory().await.unwrap(), dynamo.ledger().inventory().await.unwrap());
        assert!(verify(dynamo.ledger()).await.unwrap().ok());
    });
}

/// On DynamoDB too, a rejection of an event carrying a 250 KB field is recorded (it used to make a 400 KB item that
/// DynamoDB refused, so the event went to the DLQ unrecorded), small and without the value; and a year-10000
/// timestamp never reaches the table.
#[test]
fn hostile_inputs_are_recorded_as_small_rejections_on_dynamodb() {
    runtime().block_on(async {
        let engine = engine(fresh_dynamo_ledger("hostile").await).await;
        let huge = "4111111111111111 ".repeat(250 * 1024 / 17);
        let base: Value =
            serde_json::from_slice(&read(&events_dir().join("guardduty-finding-role-high-risk-cutoff.json"))).unwrap();
        let mut wrong_type = base.clone();
        wrong_type["detail"]["severity"] = Value::from(huge.clone());
        let mut long_id = base.clone();
        long_id["id"] = Value::from("i".repeat(250 * 1024));
        long_id["detail"]["severity"] = Value::from(11);
        let mut far_future = base.clone();
        far_future["detail"]["updatedAt"] = Value::from(253_402_300_800_000_u64);
        for event in [wrong_type, long_id, far_future] {
            let report = engine
                .ingest_value(event.clone(), event.to_string().as_bytes(), now())
                .await
                .unwrap_or_else(|e| panic!("the rejection must be recorded, not fail: {e}"));
            assert_eq!(report.status, Status::Rejected);
        }
        let rejected = warden_tests::unattributed_entries(engine.ledger()).await;
        assert_eq!(rejected.len(), 3);
        for entry in &rejected {
            let text = serde_json::to_string(entry).unwrap();
            assert!(text.len() < 8 * 1024 && !text.contains("4111111111111111"), "{} bytes", text.len());
        }
        assert!(verify(engine.ledger()).await.unwrap().ok());
    });
}

/// An inventory of 10,000 models imports into DynamoDB (each call within BatchGetItem's 100 keys and
/// TransactWriteItems' 100 items: it used to fail with "Too many items requested"), reads back, and an import
/// interrupted part-way resumes by importing again.
#[test]
fn ten_thousand_models_import_into_dynamodb() {
    runtime().block_on(async {
        let engine = engine_without_inventory(fresh_dynamo_ledger("inventory10k").await);
        let file = warden_tests::generated_inventory(10_000);
        // Interrupted: the first 1,000 models imported alone, then the whole file.
        let part = InventoryFile { model: file.model[..1_000].to_vec() };
        assert_eq!(engine.import_inventory(&part, "generated", now()).await.unwrap().changed.len(), 1_000);
        let rest = engine.import_inventory(&file, "generated", now()).await.unwrap();
        assert_eq!((rest.changed.len(), rest.models), (9_000, 10_000));
        assert_eq!(engine.ledger().inventory().await.unwrap().len(), 10_000);
        assert!(engine.import_inventory(&file, "generated", now()).await.unwrap().changed.is_empty());
    });
}

/// A duplicate costs one read: its marker is read with the heads and marks the commit needs, so no transaction is
/// sent (it used to cost a cancelled transaction and a marker read, more than a new event).
#[test]
fn a_duplicate_sends_no_transaction() {
    runtime().block_on(async {
        let engine = engine(fresh_dynamo_ledger("duplicate-cost").await).await;
        let body = read(&events_dir().join("guardduty-finding-role-high-risk-cutoff.json"));
        let first = engine.ingest_bytes(&body, now()).await.unwrap();
        assert_eq!(first.status, Status::Applied);
        let before = engine.ledger().write_counts();
        let again = engine.ingest_bytes(&body, now()).await.unwrap();
        assert_eq!((again.status, again.actions.len()), (Status::Duplicate, first.actions.len()));
        let after = engine.ledger().write_counts();
        assert_eq!((after.sent, after.wcu), (before.sent, before.wcu), "no transaction sent for a duplicate");
    });
}

/// A distinct copy of the event in `name`: a GuardDuty finding by its id and time (two hours after the one
/// before, so no cooldown holds it), an alarm by its name.
fn distinct_event(name: &str, n: usize) -> Vec<u8> {
    let mut event: Value = serde_json::from_slice(&read(&events_dir().join(name))).unwrap();
    if event["source"] == "aws.cloudwatch" {
        event["detail"]["alarmName"] = Value::from(format!("cost-alarm-{n}"));
    } else {
        event["id"] = Value::from(format!("cost-{n}"));
        event["detail"]["id"] = Value::from(format!("{n:032x}"));
        let at = Timestamp::from_millis(1_793_600_000_000 + i64::try_from(n).unwrap() * 7_200_000).unwrap();
        event["detail"]["updatedAt"] = Value::from(at.to_string());
        event["detail"]["resource"]["accessKeyDetails"]["userName"] = Value::from("fraud-sagemaker-exec");
    }
    serde_json::to_vec(&event).unwrap()
}

/// Issue 12's cost goals, per event and not on average, by AWS's rules (1 write unit per KB of each item, twice
/// in a transaction): an event recorded about no model at most 6, an event that plans a cutoff at most 10. The
/// acting model's entries item carries the signal, the decision, the action and their seals; it sat 36 bytes over
/// a KB while it also repeated its chain and sequence numbers in index keys and attributes. The first cutoff of an
/// endpoint also rewrites its model (the config it cut off is no longer a rollback target): that record and its seal
/// may add 4 units, and no more (it used to put every one of the model's lookup items again too: 20 units).
#[test]
fn recording_costs_at_most_six_write_units_and_acting_ten() {
    runtime().block_on(async {
        let engine = engine(fresh_dynamo_ledger("cost").await).await;
        let cases = [
            ("an alarm about no model", "aws/cloudwatch-alarm-state-change-anomaly-detection-ec2-cpu.json", 6, 6),
            ("a cutoff on a high-risk model", "guardduty-finding-role-high-risk-cutoff.json", 14, 10),
        ];
        for (what, name, first_goal, goal) in cases {
            for n in 0..10 {
                let before = engine.ledger().write_counts();
                let report = engine.ingest_bytes(&distinct_event(name, n), now()).await.unwrap();
                let after = engine.ledger().write_counts();
                assert_eq!(report.status, Status::Applied, "{what} #{n}");
                let acts = !report.actions.is_empty();
                assert_eq!((report.models.is_empty(), acts), (goal == 6, goal == 10), "{what} #{n}: {report:?}");
                let (units, largest) = (after.computed_wcu - before.computed_wcu, after.largest_item);
                let goal = if n == 0 { first_goal } else { goal };
                assert!(units <= goal, "{what} #{n}: {units} write units, goal {goal} (largest item {largest} bytes)");
            }
        }
    });
}

/// A table written by the version before layout 2 (`tests/fixtures/golden/dynamodb-layout-1.jsonl`: the bundled
/// events replayed into DynamoDB Local with the sample inventory, dumped by `scripts/dump-table.py`) is refused,
/// naming the fix, until `migrate` moves it: every entry keeps its bytes, the chains verify, every event it
/// recorded is a duplicate, and new events are found by the new model lookups. A migration found part-way (a
/// crash) is finished by running it again.
#[test]
fn a_layout_1_table_migrates_without_rewriting_any_entry() {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    runtime().block_on(async {
        let created = fresh_dynamo_ledger("layout1").await;
        let (client, table) = (created.client().clone(), created.table().to_owned());
        let fixture =
            std::fs::read_to_string(warden_tests::root().join("tests/fixtures/golden/dynamodb-layout-1.jsonl"))
                .unwrap();
        let old_items = warden_tests::dynamodb_items(&fixture);
        for batch in old_items.chunks(25) {
            let requests = batch
                .iter()
                .map(|item| {
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(item.clone())).build().unwrap())
                        .build()
                })
                .collect();
            client.batch_write_item().request_items(&table, requests).send().await.unwrap();
        }

        // Refused, naming the command: a layout-2 reader would see an empty inventory and restart every chain.
        let refused = engine_without_inventory(DynamoLedger::new(client.clone(), &table));
        let error = refused.ingest_bytes(&finding(1), now()).await.unwrap_err().to_string();
        assert!(error.contains("layout 1") && error.contains("warden ledger migrate --table"), "{error}");

        // A crash part-way: the layout item says so, one head already moved (and its old item still there).
        let migrating = std::collections::HashMap::from([
            ("pk".to_owned(), AttributeValue::S("LAYOUT".into())),
            ("sk".to_owned(), AttributeValue::S("VERSION".into())),
            ("version".to_owned(), AttributeValue::N("1".into())),
            ("migrating".to_owned(), AttributeValue::Bool(true)),
        ]);
        let mut moved_head = old_items.iter().find(|i| i["pk"] == AttributeValue::S("HEADS".into())).unwrap().clone();
        let chain = moved_head["sk"].as_s().unwrap().trim_start_matches("CHAIN#").to_owned();
        moved_head.insert("pk".into(), AttributeValue::S(format!("CHAIN#{chain}")));
        moved_head.insert("sk".into(), AttributeValue::S("HEAD".into()));
        for item in [migrating, moved_head] {
            client.put_item().table_name(&table).set_item(Some(item)).send().await.unwrap();
        }
        let error = DynamoLedger::new(client.clone(), &table).chains().await.unwrap_err().to_string();
        assert!(error.contains("part-way through a migration"), "{error}");

        let migration = DynamoLedger::new(client.clone(), &table).migrate().await.unwrap();
        assert_eq!(
            (migration.from, migration.to, migration.heads_moved, migration.models_moved, migration.entries_reindexed),
            // One head was moved before the crash: it is not moved again.
            (1, 2, 9, 9, 123),
            "{migration:?}"
        );
        assert!(migration.lookups_written > 9, "{migration:?}");

        // Every entry attribute is byte for byte what layout 1 stored; only the index key moved to a shard.
        let stored = client.scan().table_name(&table).consistent_read(true).send().await.unwrap().items.unwrap();
        for old in old_items.iter().filter(|i| i.contains_key("entry")) {
            let now_stored = stored.iter().find(|i| i["pk"] == old["pk"] && i["sk"] == old["sk"]).unwrap();
            assert_eq!(now_stored["entry"], old["entry"], "{:?}", old["sk"]);
            let index = now_stored["gsi1pk"].as_s().unwrap();
            assert!(index.starts_with(old["gsi1pk"].as_s().unwrap()) && index.matches('#').count() == 2, "{index}");
        }
        assert!(!stored.iter().any(|i| matches!(i["pk"].as_s().map(String::as_str), Ok("HEADS" | "INVENTORY"))));

        let engine = engine(DynamoLedger::new(client.clone(), &table)).await;
        let report = verify(engine.ledger()).await.unwrap();
        assert!(report.ok() && (report.chains, report.entries) == (10, 123), "{report:?}");
        assert_eq!(engine.ledger().inventory().await.unwrap().len(), 9);
        for file in warden_tests::event_files() {
            let report = engine.ingest_bytes(&read(&file), now()).await.unwrap();
            assert_eq!(report.status, Status::Duplicate, "{}", file.display());
        }
        let new = engine.ingest_bytes(&finding(1), now()).await.unwrap();
        assert_eq!((new.status, new.models.clone()), (Status::Applied, vec!["fraud-detector".to_owned()]));
        assert!(verify(engine.ledger()).await.unwrap().ok());
        let again = DynamoLedger::new(client, &table).migrate().await.unwrap();
        assert_eq!((again.from, again.to, again.heads_moved), (2, 2, 0));
    });
}

/// An entries item edited into a deflate bomb (20 MB of zeros in 20 KB) is reported by `verify` as unreadable: the
/// reader stops inflating at 16 MB instead of exhausting its memory, and the other chains still verify.
#[test]
fn an_entries_item_edited_into_a_deflate_bomb_is_reported_not_inflated() {
    use std::io::Write;
    runtime().block_on(async {
        let engine = engine(fresh_dynamo_ledger("bomb").await).await;
        engine.ingest_bytes(&finding(1), now()).await.unwrap();
        let (client, table) = (engine.ledger().client().clone(), engine.ledger().table().to_owned());
        let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&vec![b' '; 20 * 1024 * 1024]).unwrap();
        let bomb = encoder.finish().unwrap();
        assert!(bomb.len() < 64 * 1024);
        client
            .update_item()
            .table_name(&table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("CHAIN#fraud-detector".into()))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(format!("ENTRY#{:020}", 1)))
            .update_expression("SET entries = :bomb")
            .expression_attribute_values(":bomb", aws_sdk_dynamodb::types::AttributeValue::B(bomb.into()))
            .send()
            .await
            .unwrap();
        let report = verify(engine.ledger()).await.unwrap();
        assert_eq!(report.failures.len(), 1, "{report:?}");
        assert_eq!(report.failures[0].chain, "fraud-detector");
        assert!(report.failures[0].to_string().contains("inflate past"), "{}", report.failures[0]);
    });
}

/// 10,000 distinct findings on 1,000 models from 16 concurrent writers, each also re-sending events other writers
/// own: every event is applied exactly once, every chain verifies, and no partition key of the table or its index
/// takes 5% or more of the writes or of the reads (layout 1's one `HEADS` partition took a quarter of all writes,
/// and its `INVENTORY` partition a third of all reads).
#[test]
fn sixteen_writers_apply_ten_thousand_events_once_with_no_hot_partition() {
    const WRITERS: usize = 16;
    const EVENTS: usize = 10_000;
    const MODELS: usize = 1_000;
    runtime().block_on(async {
        let created = fresh_dynamo_ledger("scale").await;
        let importer = engine_without_inventory(created.clone());
        importer.import_inventory(&warden_tests::generated_inventory(MODELS), "generated", now()).await.unwrap();
        // Counted from here: the events, not the import.
        let ledger = DynamoLedger::new(created.client().clone(), created.table()).counting_partitions();
        let engine = Arc::new(engine_without_inventory(ledger));
        let mut tasks = Vec::new();
        for writer in 0..WRITERS {
            let engine = Arc::clone(&engine);
            tasks.push(tokio::spawn(async move {
                let mut applied = Vec::new();
                for n in (writer..EVENTS).step_by(WRITERS) {
                    // Every 25th event, the next writer's next event too: a redelivery racing its owner.
                    let sends = if n % 25 == 0 { vec![n, (n + 1) % EVENTS] } else { vec![n] };
                    for m in sends {
                        let report = engine.ingest_bytes(&warden_tests::generated_finding(m, MODELS), now()).await;
                        match report.unwrap_or_else(|e| panic!("event {m}: {e}")).status {
                            Status::Applied => applied.push(m),
                            Status::Duplicate => {}
                            other => panic!("event {m}: {other:?}"),
                        }
                    }
                }
                applied
            }));
        }
        let mut applied = Vec::new();
        for task in tasks {
            applied.extend(task.await.unwrap());
        }
        applied.sort_unstable();
        assert_eq!(applied, (0..EVENTS).collect::<Vec<_>>(), "each event applied exactly once");

        let report = verify(engine.ledger()).await.unwrap();
        assert!(report.ok(), "{report:?}");
        assert_eq!(
            (report.chains, report.entries),
            (MODELS, MODELS + 2 * EVENTS),
            "an import entry, then signal and decision"
        );

        let counts = engine.ledger().partition_counts();
        let total_writes: u64 = counts.values().map(|c| c.writes).sum();
        let total_reads: u64 = counts.values().map(|c| c.reads).sum();
        let (hot_write, writes) = counts.iter().map(|(k, c)| (k, c.writes)).max_by_key(|(_, w)| *w).unwrap();
        let (hot_read, reads) = counts.iter().map(|(k, c)| (k, c.reads)).max_by_key(|(_, r)| *r).unwrap();
        #[allow(clippy::cast_precision_loss)]
        let share = |part: u64, total: u64| part as f64 / total as f64;
        assert!(share(writes, total_writes) < 0.05, "{hot_write} takes {writes} of {total_writes} writes");
        assert!(share(reads, total_reads) < 0.05, "{hot_read} takes {reads} of {total_reads} reads");
    });
}

fn item_key(pk: &str, sk: &str) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue;
    std::collections::HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk.into())),
        ("sk".to_owned(), AttributeValue::S(sk.into())),
    ])
}

/// Someone with table access deletes a chain's head and a model's lookup item: `verify` names both (the chain is
/// listed from its entries, the lookup is checked against the models), the next event for the model is neither
/// blocked (it chains onto the last entry) nor misrouted once `migrate` has restored the lookup.
#[test]
fn a_deleted_head_or_lookup_is_reported_and_blocks_nothing() {
    runtime().block_on(async {
        let engine = engine(fresh_dynamo_ledger("deleted").await).await;
        assert_eq!(engine.ingest_bytes(&finding(1), now()).await.unwrap().models, ["fraud-detector"]);
        let (client, table) = (engine.ledger().client().clone(), engine.ledger().table().to_owned());
        for (pk, sk) in [("CHAIN#fraud-detector", "HEAD"), ("LOOKUP#role:fraud-sagemaker-exec", "MODEL#fraud-detector")]
        {
            client.delete_item().table_name(&table).set_key(Some(item_key(pk, sk))).send().await.unwrap();
        }
        let report = verify(engine.ledger()).await.unwrap();
        let text: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
        assert_eq!(report.failures.len(), 2, "{text:?}");
        assert!(
            report.failures.iter().any(|f| f.chain == "fraud-detector"
                && matches!(f.problem, warden_core::ledger::Problem::HeadMismatch { head_seq: 0, .. })),
            "{text:?}"
        );
        assert!(
            text.iter().any(|t| t.contains("model lookup role:fraud-sagemaker-exec -> fraud-detector is missing")),
            "{text:?}"
        );

        // The head's loss blocks nothing: a deployment on the model's endpoint chains onto its last entry.
        let deployment = read(&events_dir().join("sagemaker-endpoint-inservice-records-config.json"));
        let mut deployment: Value = serde_json::from_slice(&deployment).unwrap();
        deployment["detail"]["EndpointName"] = Value::from("fraud-detector-prod");
        deployment["detail"]["EndpointArn"] =
            Value::from("arn:aws:sagemaker:us-east-1:111122223333:endpoint/fraud-detector-prod");
        let applied = engine.ingest_value(deployment.clone(), deployment.to_string().as_bytes(), now()).await.unwrap();
        assert_eq!((applied.status, applied.models.clone()), (Status::Applied, vec!["fraud-detector".to_owned()]));

        let repaired = DynamoLedger::new(client.clone(), &table).migrate().await.unwrap();
        assert_eq!((repaired.from, repaired.to, repaired.heads_moved), (2, 2, 0), "{repaired:?}");
        assert!(verify(engine.ledger()).await.unwrap().ok());
        assert_eq!(engine.ingest_bytes(&finding(2), now()).await.unwrap().models, ["fraud-detector"]);
    });
}

/// A layout-1 item written into a layout-2 table (an earlier Warden still running) is refused, naming the fix, and
/// migrating again never puts its stale head over the newer one.
#[test]
fn an_earlier_writer_on_a_migrated_table_is_caught_and_cannot_roll_a_head_back() {
    use aws_sdk_dynamodb::types::AttributeValue;
    runtime().block_on(async {
        let created = fresh_dynamo_ledger("mixed").await;
        let engine = engine(created.clone()).await;
        engine.ingest_bytes(&finding(1), now()).await.unwrap();
        let (client, table) = (created.client().clone(), created.table().to_owned());
        let head = engine.ledger().head("fraud-detector").await.unwrap().unwrap();
        let mut stale = item_key("HEADS", "CHAIN#fraud-detector");
        stale.insert("seq".into(), AttributeValue::N("1".into()));
        stale.insert("hash".into(), AttributeValue::S("0".repeat(64)));
        client.put_item().table_name(&table).set_item(Some(stale)).send().await.unwrap();

        let error = DynamoLedger::new(client.clone(), &table).chains().await.unwrap_err().to_string();
        assert!(error.contains("an earlier Warden still writing") && error.contains("ledger migrate"), "{error}");
        let migration = DynamoLedger::new(client.clone(), &table).migrate().await.unwrap();
        assert_eq!(migration.heads_moved, 0, "the stale head is older: {migration:?}");
        let fresh = DynamoLedger::new(client, &table);
        assert_eq!(fresh.head("fraud-detector").await.unwrap(), Some(head));
        assert!(verify(&fresh).await.unwrap().ok());
    });
}

/// Names are bounded in characters, DynamoDB keys in bytes: a 1,000-character multibyte role name (2,000 bytes,
/// over a sort key's limit and near a partition key's) is looked up and recorded, never a validation error.
#[test]
fn a_long_multibyte_name_keys_its_items_by_digest() {
    runtime().block_on(async {
        let engine = engine(fresh_dynamo_ledger("multibyte").await).await;
        let mut event: Value = serde_json::from_slice(&finding(7)).unwrap();
        event["detail"]["resource"]["accessKeyDetails"]["userName"] = Value::from("é".repeat(1_000));
        event["detail"]["id"] = Value::from("é".repeat(1_000));
        let report = engine
            .ingest_value(event.clone(), event.to_string().as_bytes(), now())
            .await
            .unwrap_or_else(|e| panic!("recorded, not refused by DynamoDB: {e}"));
        assert!(matches!(report.status, Status::Applied | Status::Rejected), "{report:?}");
        let again = engine.ingest_value(event.clone(), event.to_string().as_bytes(), now()).await.unwrap();
        assert!(matches!(again.status, Status::Duplicate | Status::Rejected), "{again:?}");
        assert!(verify(engine.ledger()).await.unwrap().ok());
    });
}

/// `verify` while another writer appends to the same chain, on both ledgers: never a false "entries deleted" (it
/// read the entries, then a head that had moved on: 18 false reports in 25 runs before).
#[test]
fn verify_is_consistent_while_a_writer_appends() {
    async fn run<L: Ledger + Send + Sync + 'static>(engine: Arc<Engine<L>>) {
        let writer = {
            let engine = Arc::clone(&engine);
            tokio::spawn(async move {
                for n in 0..150 {
                    engine.ingest_bytes(&finding(10_000 + n), now()).await.unwrap();
                }
            })
        };
        let mut runs = 0;
        while !writer.is_finished() || runs < 25 {
            let report = verify(engine.ledger()).await.unwrap();
            assert!(report.ok(), "run {runs}: {:?}", report.failures);
            runs += 1;
        }
        writer.await.unwrap();
    }
    runtime().block_on(async {
        run(Arc::new(engine(fresh_dynamo_ledger("live-verify").await).await)).await;
        let dir = tempfile::tempdir().unwrap();
        run(Arc::new(engine(EmbeddedLedger::open(dir.path()).unwrap()).await)).await;
    });
}

/// On DynamoDB too, a deleted idempotency marker is named by `verify` (a replay would apply its event again).
#[test]
fn a_deleted_marker_is_caught_by_verify_on_dynamodb() {
    runtime().block_on(async {
        let engine = engine(fresh_dynamo_ledger("marker").await).await;
        let key = engine.ingest_bytes(&finding(3), now()).await.unwrap().idempotency_key;
        let (client, table) = (engine.ledger().client().clone(), engine.ledger().table().to_owned());
        let pk = warden_aws::schema::marker_pk(&key);
        client.delete_item().table_name(&table).set_key(Some(item_key(&pk, "MARKER"))).send().await.unwrap();
        let report = verify(engine.ledger()).await.unwrap();
        assert_eq!(report.failures.len(), 1, "{report:?}");
        assert!(matches!(&report.failures[0].problem, warden_core::ledger::Problem::MarkerMissing { idempotency_key } if *idempotency_key == key));
    });
}

/// A marker whose outcome was edited outside Warden (its alert taken out, so a redelivery would not send it) is
/// caught: the event's first entry seals what the marker held; effects delivered since are not part of it.
#[test]
fn an_edited_marker_is_caught_by_verify_on_dynamodb() {
    use aws_sdk_dynamodb::types::AttributeValue;
    runtime().block_on(async {
        let engine = engine(fresh_dynamo_ledger("edited-marker").await).await;
        let key = engine.ingest_bytes(&finding(3), now()).await.unwrap().idempotency_key;
        engine.ledger().mark_delivered(&key, "alert").await.unwrap();
        assert!(verify(engine.ledger()).await.unwrap().ok(), "a delivered effect is no edit");
        let (client, table) = (engine.ledger().client().clone(), engine.ledger().table().to_owned());
        let marker = item_key(&warden_aws::schema::marker_pk(&key), "MARKER");
        let item = client.get_item().table_name(&table).set_key(Some(marker)).send().await.unwrap().item.unwrap();
        let mut outcome: serde_json::Value = serde_json::from_str(item["outcome"].as_s().unwrap()).unwrap();
        assert!(!outcome["alert"].is_null(), "{outcome}");
        outcome["alert"] = serde_json::Value::Null;
        let mut item = item;
        item.insert("outcome".into(), AttributeValue::S(outcome.to_string()));
        client.put_item().table_name(&table).set_item(Some(item)).send().await.unwrap();
        let report = verify(engine.ledger()).await.unwrap();
        assert_eq!(report.failures.len(), 1, "{report:?}");
        let edited = warden_core::ledger::StateSeal::marker_item(&key);
        assert!(
            matches!(&report.failures[0].problem, warden_core::ledger::Problem::StateEdited { item } if *item == edited)
        );
    });
}

/// On DynamoDB too, a model record edited outside Warden is caught by `verify`.
#[test]
fn an_edited_model_record_is_caught_by_verify_on_dynamodb() {
    use aws_sdk_dynamodb::types::AttributeValue;
    runtime().block_on(async {
        let engine = engine(fresh_dynamo_ledger("edited-model").await).await;
        let (client, table) = (engine.ledger().client().clone(), engine.ledger().table().to_owned());
        let key = item_key(&warden_aws::schema::models_pk("fraud-detector"), "MODEL#fraud-detector");
        let item = client.get_item().table_name(&table).set_key(Some(key.clone())).send().await.unwrap().item.unwrap();
        let edited = item["model"].as_s().unwrap().replace("\"high\"", "\"low\"");
        let mut item = item;
        item.insert("model".into(), AttributeValue::S(edited));
        client.put_item().table_name(&table).set_item(Some(item)).send().await.unwrap();
        let report = verify(engine.ledger()).await.unwrap();
        assert_eq!(report.failures.len(), 1, "{report:?}");
        assert!(matches!(&report.failures[0].problem, warden_core::ledger::Problem::StateEdited { item } if item == "model:fraud-detector"));
    });
}
