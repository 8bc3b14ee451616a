//! The compiled function binaries, run for real under cargo-lambda's Lambda Runtime API emulator: real init
//! (configuration from the same environment variables as the templates), real runtime loop, real AWS protocols
//! (DynamoDB Local, moto). scripts/test.sh builds the binaries and starts the emulators.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use warden_app::config::ENV_TOPIC;
use warden_tests::{binaries_dir, events_dir, lambda_command, stack_resources as resources};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// cargo-lambda's Lambda Runtime API emulator on a free port, stopped when the guard drops.
fn runtime_api() -> (u16, Killed) {
    let port = free_port();
    let emulator = Killed(
        Command::new("cargo-lambda")
            .args(["lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1", "-P", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cargo lambda (from tools/emulators/.venv): {e}")),
    );
    wait_for_port(port);
    (port, emulator)
}

fn function(name: &str, runtime_port: u16, env: &[(&str, String)]) -> Command {
    let binary = binaries_dir().join(name);
    assert!(binary.is_file(), "no function binary at {} (scripts/test.sh builds them)", binary.display());
    let mut command = lambda_command(&binary, &format!("http://127.0.0.1:{runtime_port}/.rt"), "_", env);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// Runs `command` to completion, killing it after `limit` so a broken binary fails the test instead of hanging it.
fn output_within(mut command: Command, limit: Duration) -> std::process::Output {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!("{command:?} did not finish within {limit:?}: {}", String::from_utf8_lossy(&output.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn invoke(runtime_port: u16, fixture: &str) -> Value {
    let mut command = Command::new("cargo-lambda");
    command.args(["lambda", "invoke", "-A", "127.0.0.1", "-P", &runtime_port.to_string(), "--data-file"]);
    command.arg(events_dir().join(fixture));
    let output = output_within(command, Duration::from_secs(60));
    assert!(output.status.success(), "invoke {fixture}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{fixture}: {e}: {}", String::from_utf8_lossy(&output.stdout)))
}

#[test]
fn each_function_binary_handles_its_events_under_the_runtime_api() {
    let (port, _emulator) = runtime_api();
    let env = resources();
    let cases = [
        ("warden-guardduty", "guardduty-finding-role-high-risk-cutoff.json", "applied"),
        ("warden-macie", "macie-finding-sensitive-data-training-bucket-gate.json", "applied"),
        ("warden-config", "config-compliance-noncompliant-endpoint-config-high-risk.json", "applied"),
        ("warden-sagemaker", "sagemaker-endpoint-inservice-records-config.json", "applied"),
        ("warden-drift", "cloudwatch-drift-alarm-high-risk-rollback.json", "applied"),
        ("warden-drift", "cloudwatch-drift-alarm-high-risk-rollback.json", "duplicate"),
        ("warden-guardduty", "macie-finding-sensitive-data-unrelated-bucket.json", "rejected"),
    ];
    for (name, fixture, status) in cases {
        let _function = Killed(function(name, port, &env).spawn().unwrap_or_else(|e| panic!("{name}: {e}")));
        let response = invoke(port, fixture);
        assert_eq!(response["status"], status, "{name} {fixture}: {response}");
    }
}

#[test]
fn a_missing_variable_fails_the_cold_start_and_names_it() {
    let port = free_port();
    let mut env = resources();
    env.retain(|(key, _)| *key != ENV_TOPIC);
    let mut child = function("warden-guardduty", port, &env).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the function did not stop on a bad configuration");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let output = child.wait_with_output().unwrap();
    let logs = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(logs.contains("WARDEN_ALERT_TOPIC_ARN is not set"), "{logs}");
}

/// The digest writer on its hourly schedule's event: each invocation signs one more digest of the ledger in KMS and
/// keeps it in S3, and the digests verify with the key's public half.
#[test]
fn the_digest_writer_signs_the_ledger_on_its_schedule() {
    use warden_app::anchor::{DIGEST_PREFIX, DigestSigner, ENV_DIGEST_BUCKET, ENV_DIGEST_KEY, verify_with_digests};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let config = warden_tests::moto_config();
    let kms = aws_sdk_kms::Client::new(&config);
    let s3 = warden_aws::anchor::s3_client(&config);
    let bucket = warden_tests::unique("warden-digests");
    let key = runtime.block_on(async {
        s3.create_bucket().bucket(&bucket).object_lock_enabled_for_bucket(true).send().await.unwrap();
        let created = kms
            .create_key()
            .key_spec(aws_sdk_kms::types::KeySpec::EccNistP256)
            .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
            .send()
            .await
            .unwrap();
        created.key_metadata().unwrap().arn().unwrap().to_owned()
    });
    let (port, _emulator) = runtime_api();
    let mut env = resources();
    let table = env.iter().find(|(k, _)| *k == warden_app::config::ENV_TABLE).unwrap().1.clone();
    env.push((ENV_DIGEST_KEY, key.clone()));
    env.push((ENV_DIGEST_BUCKET, bucket.clone()));
    let schedule = warden_tests::root().join("tests/fixtures/schedule/scheduled-event.json");
    let _function = Killed(function("warden-digest", port, &env).spawn().unwrap());
    for expected in 1..=2 {
        let response = invoke(port, schedule.to_str().unwrap());
        assert_eq!(response["digest"], expected, "{response}");
    }
    runtime.block_on(async {
        let ledger = warden_aws::dynamodb::DynamoLedger::new(
            warden_tests::dynamodb_client(&warden_tests::dynamodb_endpoint()),
            table,
        );
        let store = warden_aws::anchor::S3DigestStore::new(s3, bucket, DIGEST_PREFIX);
        let pinned = warden_aws::anchor::KmsSigner::new(kms, key).public_key().await.unwrap();
        let report = verify_with_digests(&ledger, &store, &pinned).await.unwrap();
        assert!(report.ok() && report.digests == 2, "{report:?}");
    });
}
