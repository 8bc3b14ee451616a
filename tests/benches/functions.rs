//! Per-function figures: cold start (process start to its first Runtime API poll), warm duration per event
//! against the emulators, in-process duration with in-memory ports, stripped binary size and peak RSS.
//! Run with `scripts/bench.sh`, which builds the release binaries and starts the emulators.
//!
//! The Lambda Runtime API here is a minimal in-process server (GET `next`, POST `response`/`error`), so the
//! instants measured are the ones the runtime itself sees, not a wrapper's.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;
use warden_app::detector::{FunctionSpec, Handler};
use warden_app::effects::{MemoryNotifier, MemoryPublisher};
use warden_app::ingest::Engine;
use warden_core::inventory::InventoryFile;
use warden_core::ledger::Actor;
use warden_core::policy::Policy;
use warden_core::time::Timestamp;
use warden_embedded::EmbeddedLedger;
use warden_tests::{FUNCTIONS, events_dir, json_files, lambda_command, read, stack_resources};

#[derive(Default)]
struct Queue {
    events: VecDeque<(String, Vec<u8>)>,
    first_poll: Option<Instant>,
    dispatched: Vec<(String, Instant)>,
}

/// A minimal Lambda Runtime API: hands out queued events on `next`, reports responses on a channel.
struct RuntimeApi {
    port: u16,
    queue: Arc<(Mutex<Queue>, Condvar)>,
    responses: mpsc::Receiver<(String, Instant, bool)>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((method, path, body))
}

fn serve(stream: TcpStream, queue: Arc<(Mutex<Queue>, Condvar)>, responses: mpsc::Sender<(String, Instant, bool)>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    while let Some((method, path, _body)) = read_request(&mut reader) {
        if method == "GET" && path.ends_with("/runtime/invocation/next") {
            let (lock, ready) = &*queue;
            let mut state = lock.lock().unwrap();
            state.first_poll.get_or_insert_with(Instant::now);
            while state.events.is_empty() {
                state = ready.wait(state).unwrap();
            }
            let (id, event) = state.events.pop_front().unwrap();
            state.dispatched.push((id.clone(), Instant::now()));
            drop(state);
            let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:111122223333:function:bench\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\nContent-Length: {}\r\n\r\n",
                event.len()
            );
            writer.write_all(head.as_bytes()).unwrap();
            writer.write_all(&event).unwrap();
        } else {
            let ok = path.ends_with("/response");
            if let Some(id) = path.split('/').rev().nth(1) {
                let _ = responses.send((id.to_owned(), Instant::now(), ok));
            }
            writer.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n").unwrap();
        }
    }
}

impl RuntimeApi {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let queue: Arc<(Mutex<Queue>, Condvar)> = Arc::default();
        let (sender, responses) = mpsc::channel();
        let shared = Arc::clone(&queue);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (queue, sender) = (Arc::clone(&shared), sender.clone());
                std::thread::spawn(move || serve(stream, queue, sender));
            }
        });
        Self { port, queue, responses }
    }

    fn send(&self, id: &str, event: Vec<u8>) {
        let (lock, ready) = &*self.queue;
        lock.lock().unwrap().events.push_back((id.to_owned(), event));
        ready.notify_all();
    }

    /// Sends one event and returns how long the function took, from handing it out to its response.
    fn invoke(&self, id: &str, event: Vec<u8>) -> Duration {
        self.send(id, event);
        let (done_id, done_at, ok) =
            self.responses.recv_timeout(Duration::from_secs(60)).expect("no response within 60 s");
        assert_eq!(done_id, id);
        assert!(ok, "invocation {id} failed");
        let dispatched =
            self.queue.0.lock().unwrap().dispatched.iter().find(|(d, _)| d == id).map(|(_, at)| *at).unwrap();
        done_at - dispatched
    }
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn fixtures(spec: &FunctionSpec) -> Vec<Vec<u8>> {
    json_files(&events_dir())
        .iter()
        .map(|f| read(f))
        .filter(|b| {
            let v: Value = serde_json::from_slice(b).unwrap();
            spec.sources.contains(&v["source"].as_str().unwrap_or_default())
        })
        .collect()
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn release_dir() -> PathBuf {
    PathBuf::from(std::env::var("WARDEN_BENCH_FUNCTIONS_DIR").unwrap_or_else(|_| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release").to_string_lossy().into_owned()
    }))
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "{:<18} {:>9} {:>10} {:>11} {:>12} {:>13} {:>9}",
        "function", "size MiB", "cold* ms", "warm ms p50", "dup ms p50", "in-process ms", "RSS MiB"
    );
    let resources = stack_resources();
    for spec in FUNCTIONS {
        let binary = release_dir().join(spec.name);
        #[allow(clippy::cast_precision_loss)]
        let size = std::fs::metadata(&binary)
            .map(|m| m.len() as f64 / 1_048_576.0)
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        let api = RuntimeApi::start();
        let mut command = lambda_command(&binary, &format!("http://127.0.0.1:{}", api.port), spec.name, &resources);
        command.env("AWS_LAMBDA_LOG_LEVEL", "WARN").stdout(Stdio::null()).stderr(Stdio::null());
        // As the templates do: point the TLS roots at the bundle file, so the SDK does not open every file of
        // the certificate directory at cold start (about 3 ms of 7 here).
        if Path::new(CA_BUNDLE).exists() {
            command.env("SSL_CERT_FILE", CA_BUNDLE);
        }
        let started = Instant::now();
        let mut child = command.spawn().unwrap();
        while api.queue.0.lock().unwrap().first_poll.is_none() {
            std::thread::sleep(Duration::from_micros(100));
        }
        let cold = api.queue.0.lock().unwrap().first_poll.unwrap() - started;
        let events = fixtures(spec);
        let warm: Vec<Duration> =
            events.iter().enumerate().map(|(i, e)| api.invoke(&format!("first-{i}"), e.clone())).collect();
        let duplicates: Vec<Duration> =
            events.iter().enumerate().map(|(i, e)| api.invoke(&format!("dup-{i}"), e.clone())).collect();
        let rss = peak_rss_kib(child.id());
        let _ = child.kill();
        let _ = child.wait();
        let in_process = in_process(spec, &events);
        #[allow(clippy::cast_precision_loss)]
        let rss_mib = rss as f64 / 1024.0;
        println!(
            "{:<18} {size:>9.2} {:>10.2} {:>11.2} {:>12.2} {:>13.3} {rss_mib:>9.1}",
            spec.name,
            ms(cold),
            ms(median(warm)),
            ms(median(duplicates)),
            ms(in_process),
        );
    }
    println!("(cold*: measured through this harness, which adds its own latency; scripts/cold-start.py measures the");
    println!(
        " binaries' process start to first Runtime API poll alone. warm and dup: against DynamoDB Local and moto on"
    );
    println!(" this machine; in-process: in-memory ledger and ports,");
    println!(" mean over {IN_PROCESS_ROUNDS} rounds of the function's fixtures, each round on a fresh ledger)");
}

const IN_PROCESS_ROUNDS: usize = 50;

/// Debian's CA bundle (Amazon Linux 2023, as in Lambda: /etc/pki/tls/certs/ca-bundle.crt).
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Mean handling time per event with the in-memory ledger, notifier and publisher.
fn in_process(spec: &FunctionSpec, events: &[Vec<u8>]) -> Duration {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let text = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap();
    let inventory = InventoryFile::parse(&text).unwrap();
    let payloads: Vec<Value> = events.iter().map(|e| serde_json::from_slice(e).unwrap()).collect();
    let mut total = Duration::ZERO;
    runtime.block_on(async {
        for _ in 0..IN_PROCESS_ROUNDS {
            let engine = Engine::new(
                EmbeddedLedger::in_memory().unwrap(),
                Policy::builtin().unwrap(),
                Actor::Automation(spec.name.into()),
            );
            engine.import_inventory(&inventory, "bench", Timestamp::now()).await.unwrap();
            let mut handler = Handler::new(*spec, engine, MemoryNotifier::default(), MemoryPublisher::default());
            handler.metrics = |_| {};
            for payload in &payloads {
                let start = Instant::now();
                handler.handle(payload.clone()).await.unwrap();
                total += start.elapsed();
            }
        }
    });
    total / u32::try_from(IN_PROCESS_ROUNDS * payloads.len()).unwrap()
}
