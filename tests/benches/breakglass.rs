//! Break-glass latency: from a `Warden Break-Glass Requested` event arriving at the function's handler to the
//! SageMaker call that changes the endpoint ("time to act"), and on to the verified end ("time to done").
//! Three set-ups, each a rollback of a fresh endpoint from config `-a` to `-b`:
//! - memory: the embedded ledger in memory and the in-memory SageMaker (Warden's own cost);
//! - moto: the same ledger, the SageMaker adapter on moto server extended by tools/emulators/moto_ext.py;
//! - moto + DynamoDB Local: the ledger on DynamoDB Local too, as deployed.
//!
//! Run with `scripts/bench.sh`, which starts the emulators. Times to done on moto include moto_ext's
//! Updating -> InService delay (`WARDEN_MOTO_TRANSITION_SECONDS`) and the poll interval below, not SageMaker's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use warden_app::breakglass::BreakGlass;
use warden_app::effects::MemoryNotifier;
use warden_app::inbox::BreakGlassHandler;
use warden_app::ledger::Ledger;
use warden_app::sagemaker::{MemorySageMaker, SageMaker, SageMakerError};
use warden_aws::sagemaker::SageMakerClient;
use warden_core::action::{Change, Operation};
use warden_core::breakglass::BreakGlassRequest;
use warden_core::breakglass::Observation;
use warden_core::ledger::Actor;
use warden_core::policy::Settings;
use warden_core::time::Timestamp;
use warden_embedded::EmbeddedLedger;
use warden_tests::{fresh_dynamo_ledger, moto_endpoint_named, sagemaker_client, settle};

/// Passes calls through, counting them and noting when the first change was applied.
struct Timed<S> {
    inner: S,
    looks: AtomicU32,
    changes: AtomicU32,
    first_change: Mutex<Option<Instant>>,
}

impl<S> Timed<S> {
    fn new(inner: S) -> Self {
        Self { inner, looks: AtomicU32::new(0), changes: AtomicU32::new(0), first_change: Mutex::new(None) }
    }
}

impl<S: SageMaker + Sync> SageMaker for Timed<S> {
    async fn observe_endpoint(&self, name: &str) -> Result<Observation, SageMakerError> {
        self.looks.fetch_add(1, Ordering::Relaxed);
        self.inner.observe_endpoint(name).await
    }

    async fn observe_package(&self, arn: &str) -> Result<Observation, SageMakerError> {
        self.looks.fetch_add(1, Ordering::Relaxed);
        self.inner.observe_package(arn).await
    }

    async fn apply(&self, change: &Change) -> Result<(), SageMakerError> {
        self.changes.fetch_add(1, Ordering::Relaxed);
        self.first_change.lock().unwrap().get_or_insert_with(Instant::now);
        self.inner.apply(change).await
    }
}

/// One rollback's figures.
struct Sample {
    to_act: Duration,
    to_done: Duration,
    looks: u32,
    changes: u32,
}

fn rollback_event(endpoint: &str, n: usize) -> Value {
    let request = BreakGlassRequest::by_hand(
        Operation::Rollback,
        endpoint,
        Some(format!("{endpoint}-b")),
        "benchmark",
        Actor::Automation("bench".into()),
        Timestamp::now(),
    );
    request.event().envelope(&format!("bench-{n}"), Timestamp::now())
}

/// Handles one rollback request event and times it.
async fn run<L: Ledger, S: SageMaker + Sync>(ledger: L, sagemaker: S, event: Value, poll: Duration) -> Sample {
    let timed = Timed::new(sagemaker);
    let notifier = MemoryNotifier::default();
    let handler = BreakGlassHandler {
        executor: BreakGlass {
            ledger,
            sagemaker: &timed,
            notifier: &notifier,
            // One table serves every round: lift the account-wide breaker the rounds would otherwise trip.
            settings: Settings { max_actions_per_hour: 1_000_000, ..Settings::default() },
            kill_switch: false,
            actor: Actor::Automation("warden-breakglass".into()),
        },
        polls: 200,
        poll_interval: poll,
        person_roles: Vec::new(),
    };
    let start = Instant::now();
    let outcome = handler.handle(event).await.unwrap();
    let to_done = start.elapsed();
    assert_eq!(outcome["phase"], "done", "{outcome}");
    let first_change = timed.first_change.lock().unwrap().expect("no SageMaker change was made");
    Sample {
        to_act: first_change - start,
        to_done,
        looks: timed.looks.load(Ordering::Relaxed),
        changes: timed.changes.load(Ordering::Relaxed),
    }
}

fn percentile(values: &[Duration], p: f64) -> Duration {
    let mut sorted = values.to_vec();
    sorted.sort();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn report(name: &str, samples: &[Sample]) {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let act: Vec<Duration> = samples.iter().map(|s| s.to_act).collect();
    let done: Vec<Duration> = samples.iter().map(|s| s.to_done).collect();
    let looks = samples.iter().map(|s| s.looks).sum::<u32>() as usize / samples.len();
    let changes = samples.iter().map(|s| s.changes).sum::<u32>() as usize / samples.len();
    println!(
        "{name:<24} {:>4}  {:>9.3}  {:>9.3}  {:>9.1}  {:>9.1}  {looks:>5}  {changes:>7}",
        samples.len(),
        ms(percentile(&act, 0.5)),
        ms(percentile(&act, 0.99)),
        ms(percentile(&done, 0.5)),
        ms(percentile(&done, 0.99)),
    );
}

const MEMORY_ROUNDS: usize = 500;
const MOTO_ROUNDS: usize = 20;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    println!(
        "break-glass rollback, request event -> SageMaker change (act) -> verified InService on the new config (done)"
    );
    println!(
        "{:<24} {:>4}  {:>9}  {:>9}  {:>9}  {:>9}  {:>5}  {:>7}",
        "set-up", "n", "act p50ms", "act p99ms", "done p50", "done p99", "looks", "changes"
    );
    runtime.block_on(async {
        let mut samples = Vec::new();
        for n in 0..MEMORY_ROUNDS {
            let sagemaker = MemorySageMaker::new(1);
            sagemaker.add_config("mem-ep-a", &["blue"]);
            sagemaker.add_config("mem-ep-b", &["blue"]);
            sagemaker.add_endpoint("mem-ep", "mem-ep-a", &[("warden:managed", "true")]);
            let ledger = EmbeddedLedger::in_memory().unwrap();
            samples.push(run(ledger, sagemaker, rollback_event("mem-ep", n), Duration::ZERO).await);
        }
        report("memory", &samples);

        let client = sagemaker_client();
        let poll = Duration::from_millis(50);
        let mut samples = Vec::new();
        for n in 0..MOTO_ROUNDS {
            let name = format!("bench-moto-{}-{n}", std::process::id());
            moto_endpoint_named(&client, &name, &[("warden:managed", "true")]).await;
            settle(&SageMakerClient::new(client.clone()), &name).await;
            let ledger = EmbeddedLedger::in_memory().unwrap();
            samples.push(run(ledger, SageMakerClient::new(client.clone()), rollback_event(&name, n), poll).await);
        }
        report("moto", &samples);

        let ledger = fresh_dynamo_ledger("bench-breakglass").await;
        let mut samples = Vec::new();
        for n in 0..MOTO_ROUNDS {
            let name = format!("bench-ddb-{}-{n}", std::process::id());
            moto_endpoint_named(&client, &name, &[("warden:managed", "true")]).await;
            settle(&SageMakerClient::new(client.clone()), &name).await;
            samples.push(run(&ledger, SageMakerClient::new(client.clone()), rollback_event(&name, n), poll).await);
        }
        report("moto + DynamoDB Local", &samples);
    });
    println!("(looks: DescribeEndpoint/ListTags rounds per action; changes: SageMaker calls that change something;");
    println!(" done on moto includes moto_ext's Updating -> InService delay and the 50 ms poll interval)");
}
