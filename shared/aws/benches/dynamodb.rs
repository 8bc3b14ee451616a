//! DynamoDB ledger figures against DynamoDB Local: writes and WCU per event kind, append latency p50/p99, and
//! replay throughput. Run with `scripts/bench.sh` (which starts the emulator), or with
//! WARDEN_TEST_DYNAMODB_ENDPOINT set: `cargo bench -p warden-aws --features conformance`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use serde_json::Value;
use warden_app::ingest::Engine;
use warden_aws::dynamodb::DynamoLedger;
use warden_core::inventory::InventoryFile;
use warden_core::ledger::Actor;
use warden_core::policy::Policy;
use warden_core::time::Timestamp;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn fixture(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(events_dir().join(name)).unwrap()).unwrap()
}

fn now() -> Timestamp {
    Timestamp::now()
}

async fn engine(endpoint: &str, table: &str) -> Engine<DynamoLedger> {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "bench"))
        .build();
    let ledger = DynamoLedger::new(aws_sdk_dynamodb::Client::from_conf(config), table);
    ledger.create_table().await.unwrap();
    let engine = Engine::new(ledger, Policy::builtin().unwrap(), Actor::Automation("bench".into()));
    let text = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap();
    engine.import_inventory(&InventoryFile::parse(&text).unwrap(), "bench", now()).await.unwrap();
    engine
}

/// A distinct copy of a GuardDuty fixture: finding id and time from `n`.
fn guardduty(template: &Value, n: usize) -> Vec<u8> {
    let mut event = template.clone();
    event["id"] = Value::from(format!("bench-{n}"));
    event["detail"]["id"] = Value::from(format!("{n:032x}"));
    // Two hours apart, so the cooldown never suppresses an action.
    let at = Timestamp::from_millis(1_793_600_000_000 + i64::try_from(n).unwrap() * 7_200_000).unwrap();
    event["detail"]["updatedAt"] = Value::from(at.to_string());
    serde_json::to_vec(&event).unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn main() {
    let Ok(endpoint) = std::env::var("WARDEN_TEST_DYNAMODB_ENDPOINT") else {
        eprintln!("WARDEN_TEST_DYNAMODB_ENDPOINT is not set: run scripts/bench.sh, which starts DynamoDB Local");
        std::process::exit(2);
    };
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list; there is nothing to list.
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let suffix = std::process::id();
        println!("DynamoDB ledger against DynamoDB Local at {endpoint}");

        // Cost per event kind: writes (items in the transaction), WCU as DynamoDB Local reports them and as
        // computed from item sizes by AWS's rules, and what a duplicate of each costs to read.
        const KINDS: usize = 50;
        let unrelated_alarm = fixture("aws/cloudwatch-alarm-state-change-anomaly-detection-ec2-cpu.json");
        let paging = fixture("guardduty-finding-low-severity-info.json");
        let mut planning = fixture("guardduty-finding-role-high-risk-cutoff.json");
        planning["detail"]["resource"]["accessKeyDetails"]["userName"] = Value::from("fraud-sagemaker-exec");
        // A distinct copy of a fixture: a GuardDuty finding by its id and time, an alarm by its name.
        let distinct = |template: &Value, n: usize| {
            if template["source"] == "aws.cloudwatch" {
                let mut alarm = template.clone();
                alarm["detail"]["alarmName"] = Value::from(format!("bench-alarm-{n}"));
                serde_json::to_vec(&alarm).unwrap()
            } else {
                guardduty(template, n)
            }
        };
        #[allow(clippy::cast_precision_loss)]
        let per = |after: f64, before: f64| (after - before) / KINDS as f64;
        println!("  goals: record-only <= 6 WCU, acting <= 10 WCU, a duplicate <= one strongly consistent read");
        for (label, template) in [
            ("record-only (an alarm about no model: recorded, never pages)", &unrelated_alarm),
            ("pages (a finding on no model, info alert: + its re-notify mark)", &paging),
            ("acts (a cutoff on a high-risk model)", &planning),
        ] {
            let engine = engine(&endpoint, &format!("bench-cost-{suffix}-{}", label.len())).await;
            let before = engine.ledger().write_counts();
            for n in 0..KINDS {
                engine.ingest_bytes(&distinct(template, n), now()).await.unwrap();
            }
            let after = engine.ledger().write_counts();
            #[allow(clippy::cast_precision_loss)]
            let (items, wcu, computed, index) = (
                per(after.items as f64, before.items as f64),
                per(after.wcu, before.wcu),
                per(after.computed_wcu as f64, before.computed_wcu as f64),
                per(after.computed_index_wcu as f64, before.computed_index_wcu as f64),
            );
            println!(
                "  {label}: {items:.1} write requests/event, {wcu:.1} WCU/event reported, {computed:.1} WCU/event computed from item sizes (+ {index:.1} for the index's copies, not reported by DynamoDB Local); largest item so far {} bytes",
                after.largest_item
            );
            for n in 0..KINDS {
                engine.ingest_bytes(&distinct(template, n), now()).await.unwrap();
            }
            let again = engine.ledger().write_counts();
            #[allow(clippy::cast_precision_loss)]
            let (reads, rcu, writes) = (
                per(again.reads as f64, after.reads as f64),
                per(again.rcu, after.rcu),
                per(again.wcu, after.wcu),
            );
            println!("    its duplicate: {reads:.1} read requests, {rcu:.1} RCU, {writes:.1} WCU per event");
        }

        // Append latency: sequential ingests of distinct events (read inventory + facts + transaction).
        const LATENCY: usize = 500;
        let engine = engine(&endpoint, &format!("bench-latency-{suffix}")).await;
        let template = fixture("guardduty-finding-s3-bucket-medium-risk-alert.json");
        let mut times = Vec::with_capacity(LATENCY);
        for n in 0..LATENCY {
            let body = guardduty(&template, n);
            let start = Instant::now();
            engine.ingest_bytes(&body, now()).await.unwrap();
            times.push(start.elapsed());
        }
        times.sort();
        println!(
            "  ingest latency over {LATENCY} events: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            percentile(&times, 0.5).as_secs_f64() * 1000.0,
            percentile(&times, 0.99).as_secs_f64() * 1000.0,
            times.last().unwrap().as_secs_f64() * 1000.0
        );

        let total: Duration = times.iter().sum();
        #[allow(clippy::cast_precision_loss)]
        let sequential = LATENCY as f64 / total.as_secs_f64();
        println!("  sequential replay throughput (distinct events): {sequential:.0} events/s");

        // The bundled fixtures (valid and invalid) replayed twice: the first pass applies, the second is all
        // duplicates (semantic keys), which costs one read of the inventory and facts plus one failed transaction.
        let mut files: Vec<PathBuf> = std::fs::read_dir(events_dir())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let bodies: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).unwrap()).collect();
        let engine = engine_for_replay(&endpoint, suffix).await;
        for pass in ["first pass", "duplicate pass"] {
            let start = Instant::now();
            for body in &bodies {
                engine.ingest_bytes(body, now()).await.unwrap();
            }
            let elapsed = start.elapsed();
            #[allow(clippy::cast_precision_loss)]
            let rate = bodies.len() as f64 / elapsed.as_secs_f64();
            println!(
                "  bundled fixtures, {pass}: {} inputs in {:.3} s ({rate:.0} inputs/s)",
                bodies.len(),
                elapsed.as_secs_f64()
            );
        }
        let counts = engine.ledger().write_counts();
        println!(
            "  that replay: {} transactions, {} items, {:.1} WCU, {} conflicts",
            counts.transactions, counts.items, counts.wcu, counts.conflicts
        );
    });
}

async fn engine_for_replay(endpoint: &str, suffix: u32) -> Engine<DynamoLedger> {
    engine(endpoint, &format!("bench-replay-{suffix}")).await
}
