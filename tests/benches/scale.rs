//! The DynamoDB ledger at scale, against DynamoDB Local (run with `scripts/bench.sh`, which starts it):
//! - flat in the number of models: per-event read requests, read units and latency with 10 models and with 10,000
//!   (goal: within 1.5x);
//! - bursts and hot partitions: 10,000 distinct events across 1,000 models from 16 concurrent writers: throughput,
//!   conflict retries per event, write units per event, and the share of writes and of reads that the hottest
//!   partition key of the table or its index receives (goal: under 5%).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::cast_precision_loss)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use warden_app::ingest::Engine;
use warden_aws::dynamodb::DynamoLedger;
use warden_core::ledger::Actor;
use warden_core::policy::Policy;
use warden_core::time::Timestamp;
use warden_tests::{fresh_dynamo_ledger, generated_finding, generated_inventory};

fn engine(ledger: DynamoLedger) -> Engine<DynamoLedger> {
    Engine::new(ledger, Policy::builtin().unwrap(), Actor::Automation("bench".into()))
}

/// A ledger on a fresh table holding `models` generated models, counting from after the import.
async fn with_models(models: usize) -> DynamoLedger {
    let created = fresh_dynamo_ledger("bench-scale").await;
    engine(created.clone())
        .import_inventory(&generated_inventory(models), "generated", Timestamp::now())
        .await
        .unwrap();
    DynamoLedger::new(created.client().clone(), created.table()).counting_partitions()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` asks for a list; there is nothing to list.
    }
    if std::env::var("WARDEN_TEST_DYNAMODB_ENDPOINT").is_err() {
        eprintln!("WARDEN_TEST_DYNAMODB_ENDPOINT is not set: run scripts/bench.sh, which starts DynamoDB Local");
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).enable_all().build().unwrap();
    runtime.block_on(async {
        println!("DynamoDB ledger at scale, against DynamoDB Local");

        // Flat in the number of models: the same 300 events, sequentially, with 10 and with 10,000 models.
        const EVENTS: usize = 300;
        let mut figures = Vec::new();
        for models in [10, 10_000] {
            let engine = engine(with_models(models).await);
            let before = engine.ledger().write_counts();
            let mut times = Vec::with_capacity(EVENTS);
            for n in 0..EVENTS {
                let body = generated_finding(n, models);
                let start = Instant::now();
                engine.ingest_bytes(&body, Timestamp::now()).await.unwrap();
                times.push(start.elapsed());
            }
            times.sort();
            let after = engine.ledger().write_counts();
            let reads = (after.reads - before.reads) as f64 / EVENTS as f64;
            let rcu = (after.rcu - before.rcu) / EVENTS as f64;
            let p50 = percentile(&times, 0.5);
            println!(
                "  {models:>6} models: {reads:.2} read requests/event, {rcu:.2} RCU/event, p50 {p50:.2} ms, p99 {:.2} ms",
                percentile(&times, 0.99)
            );
            figures.push((reads, rcu, p50));
        }
        let ratio = |f: fn(&(f64, f64, f64)) -> f64| f(&figures[1]) / f(&figures[0]);
        println!(
            "  10,000 / 10 models: read requests x{:.2}, RCU x{:.2}, p50 latency x{:.2} (goal: each within x1.5)",
            ratio(|f| f.0),
            ratio(|f| f.1),
            ratio(|f| f.2)
        );

        // A burst: 10,000 events across 1,000 models from 16 concurrent writers.
        const WRITERS: usize = 16;
        const BURST: usize = 10_000;
        const MODELS: usize = 1_000;
        let engine = Arc::new(engine(with_models(MODELS).await));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for writer in 0..WRITERS {
            let engine = Arc::clone(&engine);
            tasks.push(tokio::spawn(async move {
                for n in (writer..BURST).step_by(WRITERS) {
                    engine.ingest_bytes(&generated_finding(n, MODELS), Timestamp::now()).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let elapsed = start.elapsed().as_secs_f64();
        let counts = engine.ledger().write_counts();
        println!(
            "  burst: {BURST} events, {MODELS} models, {WRITERS} writers: {:.0} events/s, {:.3} conflict retries/event, \
             {:.2} WCU/event reported, {:.2} computed",
            BURST as f64 / elapsed,
            counts.conflicts as f64 / BURST as f64,
            counts.wcu / BURST as f64,
            counts.computed_wcu as f64 / BURST as f64
        );
        let partitions = engine.ledger().partition_counts();
        let writes: u64 = partitions.values().map(|c| c.writes).sum();
        let reads: u64 = partitions.values().map(|c| c.reads).sum();
        let (hot_write, most_writes) = partitions.iter().map(|(k, c)| (k, c.writes)).max_by_key(|(_, w)| *w).unwrap();
        let (hot_read, most_reads) = partitions.iter().map(|(k, c)| (k, c.reads)).max_by_key(|(_, r)| *r).unwrap();
        println!(
            "  hottest partition key: {:.2}% of {writes} writes ({hot_write}), {:.2}% of {reads} reads ({hot_read}) \
             (goal: under 5%)",
            100.0 * most_writes as f64 / writes as f64,
            100.0 * most_reads as f64 / reads as f64
        );
    });
}
