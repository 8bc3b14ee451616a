//! Benchmarks: decode + correlate + decide per source (pure, no I/O), and replay throughput into the embedded
//! ledger on a generated batch. Run with `cargo bench -p warden-core`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::time::Duration;
use warden_core::placement::Placement;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use warden_app::ingest::Engine;
use warden_core::engine::{plan_commit, prepare};
use warden_core::event;
use warden_core::inventory::{Inventory, InventoryFile};
use warden_core::ledger::Actor;
use warden_core::policy::{DecisionContext, Policy};
use warden_core::time::Timestamp;
use warden_embedded::EmbeddedLedger;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events")
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(events_dir().join(name)).unwrap()
}

fn inventory_file() -> InventoryFile {
    InventoryFile::parse(&std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap()).unwrap()
}

fn inventory() -> Inventory {
    let mut inventory = Inventory::default();
    inventory.import(&inventory_file());
    inventory
}

/// One representative event per source.
const PER_SOURCE: &[(&str, &str)] = &[
    ("guardduty", "guardduty-finding-role-high-risk-cutoff.json"),
    ("macie", "macie-finding-sensitive-data-training-bucket-gate.json"),
    ("config", "config-compliance-noncompliant-endpoint-config-high-risk.json"),
    ("sagemaker", "sagemaker-model-package-approved-unowned-model-gate.json"),
    ("cloudwatch", "cloudwatch-drift-alarm-high-risk-rollback.json"),
    ("warden-drift", "warden-drift-breach-medium-risk-alert.json"),
];

fn decide_per_source(c: &mut Criterion) {
    let policy = Policy::builtin().unwrap();
    let inventory = inventory();
    let context = DecisionContext::default();
    let actor = Actor::Automation("bench".into());
    let now = Timestamp::parse("2026-11-03T00:00:00Z").unwrap();
    let mut group = c.benchmark_group("decode_correlate_decide");
    for (source, file) in PER_SOURCE {
        let bytes = fixture(file);
        group.bench_function(*source, |b| {
            b.iter_batched(
                || inventory.clone(),
                |inventory| {
                    let event = event::decode_slice(&bytes, now).unwrap();
                    plan_commit(prepare(event, inventory, &Placement::default()), &policy, &context, &actor, now)
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

/// `count` distinct GuardDuty findings (distinct ids) over the sample inventory's roles and buckets.
fn generated_batch(count: usize) -> Vec<Vec<u8>> {
    let template: Value =
        serde_json::from_slice(&fixture("guardduty-finding-s3-bucket-medium-risk-alert.json")).unwrap();
    let buckets = ["customer-analytics-data", "fraud-training-data", "credit-training-data", "marketing-exports"];
    (0..count)
        .map(|n| {
            let mut event = template.clone();
            event["id"] = Value::from(format!("bench-{n}"));
            event["detail"]["id"] = Value::from(format!("{n:032x}"));
            event["detail"]["severity"] = Value::from((n % 9 + 1) as f64);
            event["detail"]["resource"]["s3BucketDetails"][0]["name"] = Value::from(buckets[n % buckets.len()]);
            serde_json::to_vec(&event).unwrap()
        })
        .collect()
}

fn replay_throughput(c: &mut Criterion) {
    const BATCH: usize = 2_000;
    let batch = generated_batch(BATCH);
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut group = c.benchmark_group("replay_embedded_ledger");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("guardduty_batch_2000", |b| {
        b.iter_batched(
            || {
                let dir = tempfile::tempdir().unwrap();
                let ledger = EmbeddedLedger::open(dir.path()).unwrap();
                let engine = Engine::new(ledger, Policy::builtin().unwrap(), Actor::Automation("bench".into()));
                runtime.block_on(engine.import_inventory(&inventory_file(), "bench", Timestamp::now())).unwrap();
                (dir, engine)
            },
            |(dir, engine)| {
                runtime.block_on(async {
                    for body in &batch {
                        engine.ingest_bytes(body, Timestamp::now()).await.unwrap();
                    }
                });
                drop(engine);
                dir
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

criterion_group!(benches, decide_per_source, replay_throughput);
criterion_main!(benches);
