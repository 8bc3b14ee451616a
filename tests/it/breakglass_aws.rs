//! Break-glass against real AWS protocols: the SageMaker adapter on moto server (extended by
//! tools/emulators/moto_ext.py with UpdateEndpoint, state transitions, in-progress errors and silent rollbacks)
//! and the ledger on DynamoDB Local. The in-memory SageMaker passes the same endpoint checks.

use std::time::Duration;

use aws_sdk_sagemaker::types::Tag;
use warden_app::breakglass::BreakGlass;
use warden_app::effects::MemoryNotifier;
use warden_app::ledger::verify;
use warden_app::sagemaker::{MemorySageMaker, SageMaker, SageMakerError};
use warden_aws::sagemaker::SageMakerClient;
use warden_core::action::{Change, Operation, Phase};
use warden_core::breakglass::BreakGlassRequest;
use warden_core::breakglass::{Input, Observation};
use warden_core::event::sagemaker::EndpointStatus;
use warden_core::ledger::Actor;
use warden_core::policy::Settings;
use warden_core::time::Timestamp;
use warden_tests::{fresh_dynamo_ledger, moto_endpoint_named, sagemaker_client, settle};

fn config_of(observed: &Observation) -> String {
    match observed {
        Observation::Endpoint(e) => e.config.clone(),
        other => panic!("not an endpoint: {other:?}"),
    }
}

/// What AWS documents, checked on any SageMaker: Updating then InService on the new config, the in-progress
/// error while updating, a missing config refused, tags readable, delete leaves nothing.
async fn endpoint_semantics<S: SageMaker>(sagemaker: &S, name: &str) {
    assert_eq!(config_of(&settle(sagemaker, name).await), format!("{name}-a"));
    let update = Change::UpdateEndpoint { endpoint: name.into(), config: format!("{name}-b") };
    sagemaker.apply(&update).await.unwrap();
    match sagemaker.observe_endpoint(name).await.unwrap() {
        Observation::Endpoint(e) => {
            assert_eq!(e.status, EndpointStatus::Updating);
            assert_eq!(e.pending_config.as_deref(), Some(format!("{name}-b").as_str()));
            assert_eq!(e.tags.unwrap().get("warden:managed").map(String::as_str), Some("true"));
        }
        other => panic!("{other:?}"),
    }
    match sagemaker.apply(&update).await {
        Err(SageMakerError::InProgress(message)) => {
            assert!(message.contains("Cannot update in-progress endpoint"), "{message}")
        }
        other => panic!("a second update while updating gave {other:?}"),
    }
    assert_eq!(config_of(&settle(sagemaker, name).await), format!("{name}-b"));
    let missing = Change::UpdateEndpoint { endpoint: name.into(), config: "no-such-config".into() };
    match sagemaker.apply(&missing).await {
        Err(SageMakerError::Rejected(message)) => {
            assert!(message.contains("Could not find endpoint configuration"), "{message}")
        }
        other => panic!("an update to a missing config gave {other:?}"),
    }
    sagemaker.apply(&Change::DeleteEndpoint { endpoint: name.into() }).await.unwrap();
    assert_eq!(settle(sagemaker, name).await, Observation::Missing);
}

#[tokio::test]
async fn the_aws_adapter_on_extended_moto_and_the_memory_sagemaker_behave_alike() {
    let client = sagemaker_client();
    moto_endpoint_named(&client, "conformance-ep", &[("warden:managed", "true")]).await;
    endpoint_semantics(&SageMakerClient::new(client), "conformance-ep").await;

    let memory = MemorySageMaker::new(2);
    memory.add_config("conformance-ep-a", &["blue"]);
    memory.add_config("conformance-ep-b", &["blue"]);
    memory.add_endpoint("conformance-ep", "conformance-ep-a", &[("warden:managed", "true")]);
    endpoint_semantics(&memory, "conformance-ep").await;
}

fn request(id: &str, action: Operation, target: &str, config: Option<&str>) -> BreakGlassRequest {
    BreakGlassRequest {
        schema_version: 1,
        request_id: id.into(),
        decision_id: format!("wd-{id}"),
        action,
        target: target.into(),
        config: config.map(str::to_owned),
        model_id: None,
        reason: "test".into(),
        requested_by: Actor::Person("alice".into()),
        requested_at: Timestamp::now(),
    }
}

#[tokio::test]
async fn rollback_restore_and_a_silent_rollback_on_dynamodb_and_moto() {
    let client = sagemaker_client();
    moto_endpoint_named(&client, "e2e-ep", &[("warden:managed", "true")]).await;
    settle(&SageMakerClient::new(client.clone()), "e2e-ep").await;
    let ledger = fresh_dynamo_ledger("breakglass").await;
    warden_tests::endpoint_with_history(&ledger, "e2e-model", "e2e-ep", &["e2e-ep-b", "e2e-ep-a"]).await;
    let notifier = MemoryNotifier::default();
    let bg = BreakGlass {
        ledger: &ledger,
        sagemaker: SageMakerClient::new(client.clone()),
        notifier: &notifier,
        settings: Settings::default(),
        kill_switch: false,
        actor: Actor::Automation("warden-breakglass".into()),
    };
    let clock = || Timestamp::now();
    let pause = |_| tokio::time::sleep(Duration::from_millis(100));

    let rollback = request("e2e-1", Operation::Rollback, "e2e-ep", Some("e2e-ep-b"));
    let step = bg.drive(&rollback, Input::Look, clock, pause, 50).await.unwrap();
    let record = step.record.unwrap();
    assert_eq!(record.phase, Phase::Done, "{}", record.note);
    let restore = request("e2e-2", Operation::Restore, "e2e-ep", None);
    let step = bg.drive(&restore, Input::Look, clock, pause, 50).await.unwrap();
    assert_eq!(step.record.map(|r| r.phase), Some(Phase::Done));

    // moto_ext: the tag makes the next UpdateEndpoint end InService on the old config.
    let arn = client.describe_endpoint().endpoint_name("e2e-ep").send().await.unwrap().endpoint_arn.unwrap();
    client
        .add_tags()
        .resource_arn(arn)
        .tags(Tag::builder().key("warden-test:silent-rollback").value("true").build())
        .send()
        .await
        .unwrap();
    let silent = request("e2e-3", Operation::Rollback, "e2e-ep", Some("e2e-ep-b"));
    let step = bg.drive(&silent, Input::Look, clock, pause, 50).await.unwrap();
    let record = step.record.unwrap();
    assert_eq!(record.phase, Phase::Failed, "{}", record.note);
    assert!(record.silent_rollback, "{}", record.note);
    assert!(notifier.sent().last().is_some_and(|a| a.subject.starts_with("[CRITICAL]")));
    assert!(verify(&ledger).await.unwrap().ok());
}

/// Runs `warden` on the emulators with a DynamoDB ledger; returns the exit code and the JSON lines it printed.
fn cli(table: &str, args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let output = warden_tests::warden_cli()
        .args(["--table", table, "--json"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run warden: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let lines = stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    (output.status.code().unwrap_or(-1), lines, stderr)
}

const FAST: [&str; 4] = ["--polls", "60", "--poll-seconds", "0.2"];

#[tokio::test]
async fn on_call_breaks_glass_from_the_cli_here_and_over_the_bus() {
    let client = sagemaker_client();
    moto_endpoint_named(&client, "cli-ep", &[("warden:managed", "true")]).await;
    settle(&SageMakerClient::new(client.clone()), "cli-ep").await;
    let ledger = fresh_dynamo_ledger("cli").await;
    warden_tests::endpoint_with_history(&ledger, "cli-model", "cli-ep", &["cli-ep-b", "cli-ep-a"]).await;
    let table = ledger.table().to_owned();
    let here = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.push("--here");
        all.extend(FAST);
        cli(&table, &all)
    };

    // Rolled back by alice from her terminal, verified on the endpoint.
    let (code, lines, stderr) = here(&[
        "--actor",
        "alice",
        "break-glass",
        "rollback",
        "--endpoint",
        "cli-ep",
        "--config",
        "cli-ep-b",
        "--reason",
        "bad scores",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines[0]["phase"], "done", "{lines:?}");
    assert_eq!(config_of(&settle(&SageMakerClient::new(client.clone()), "cli-ep").await), "cli-ep-b");

    // Status shows what restore would undo, and who did what.
    let (code, lines, stderr) = cli(&table, &["status", "--endpoint", "cli-ep"]);
    assert_eq!(code, 0, "{stderr}");
    let status = &lines[0];
    assert_eq!(status["last_change"]["operation"], "rollback", "{status}");
    assert!(status["in_flight"].is_null(), "{status}");
    assert_eq!(status["history"][0]["phase"], "done", "newest first: {status}");
    assert_eq!(status["history"][0]["operation"], "rollback");

    // Restored without --actor: the caller is named by STS (moto's identity).
    let (code, lines, stderr) = here(&["break-glass", "restore", "--endpoint", "cli-ep", "--reason", "false alarm"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines[0]["phase"], "done", "{lines:?}");
    assert_eq!(config_of(&settle(&SageMakerClient::new(client.clone()), "cli-ep").await), "cli-ep-a");
    let (_, lines, _) = cli(&table, &["status", "--endpoint", "cli-ep"]);
    let requester = &lines[0]["history"][0]["actor"];
    assert!(requester["name"].as_str().is_some_and(|n| n.starts_with("arn:aws:")), "{requester}");

    // No fallback tags: a cutoff deletes, which waits for a second person; the requester cannot approve it.
    let (code, lines, stderr) =
        here(&["--actor", "alice", "break-glass", "cutoff", "--endpoint", "cli-ep", "--reason", "leaking PII"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines[0]["phase"], "awaiting-approval", "{lines:?}");
    let request_id = lines[0]["request_id"].as_str().unwrap().to_owned();
    let (_, lines, _) = cli(&table, &["status", "--endpoint", "cli-ep"]);
    assert_eq!(lines[0]["in_flight"]["phase"], "awaiting-approval", "{}", lines[0]);
    assert_eq!(lines[0]["in_flight"]["request_id"], request_id.as_str());
    let (_, lines, _) = here(&["--actor", "alice", "break-glass", "approve", &request_id]);
    assert_eq!(lines[0]["phase"], "awaiting-approval", "self-approval is ignored: {lines:?}");
    let (code, lines, stderr) = here(&["--actor", "bob", "break-glass", "approve", &request_id]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines[0]["phase"], "done", "{lines:?}");
    let gone = SageMakerClient::new(client.clone()).observe_endpoint("cli-ep").await.unwrap();
    assert!(matches!(gone, Observation::Missing), "{gone:?}");

    // An unknown request id and an empty reason are errors that say so, and change nothing.
    let (code, _, stderr) = here(&["--actor", "bob", "break-glass", "approve", "manual-nope-1"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no request \"manual-nope-1\""), "{stderr}");
    let (code, _, stderr) = here(&["--actor", "bob", "break-glass", "cutoff", "--endpoint", "x", "--reason", " "]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--reason"), "{stderr}");

    // A busy endpoint: `--here` stops waiting without a second action, and `resume` carries the same request on.
    let slow = [("warden:managed", "true"), ("warden-test:transition-seconds", "3")];
    moto_endpoint_named(&client, "cli-busy", &slow).await;
    warden_tests::endpoint_with_history(&ledger, "cli-busy-model", "cli-busy", &["cli-busy-b", "cli-busy-a"]).await;
    let busy = [
        "--actor",
        "alice",
        "break-glass",
        "rollback",
        "--endpoint",
        "cli-busy",
        "--config",
        "cli-busy-b",
        "--reason",
        "drift",
        "--here",
        "--polls",
        "0",
    ];
    let (code, _, stderr) = cli(&table, &busy);
    assert_eq!(code, 2, "{stderr}");
    let waiting_id = stderr.split("request ").nth(1).and_then(|rest| rest.split(' ').next()).unwrap().to_owned();
    assert!(stderr.contains(&format!("warden break-glass resume {waiting_id} --here")), "{stderr}");
    let (_, lines, _) = cli(&table, &["status", "--endpoint", "cli-busy"]);
    assert_eq!(lines[0]["in_flight"]["request_id"], waiting_id.as_str(), "{}", lines[0]);
    let (code, lines, stderr) = here(&["--actor", "bob", "break-glass", "resume", &waiting_id]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        (lines[0]["request_id"].as_str(), lines[0]["phase"].as_str()),
        (Some(waiting_id.as_str()), Some("done"))
    );
    assert_eq!(config_of(&settle(&SageMakerClient::new(client.clone()), "cli-busy").await), "cli-busy-b");

    // The normal way: the request goes to the break-glass function's bus, as the function will receive it.
    let pipes = warden_tests::plumbing(&warden_tests::moto_config()).await;
    let (code, lines, stderr) = cli(
        &table,
        &[
            "--actor",
            "carol",
            "break-glass",
            "gate",
            "--model-package",
            "arn:aws:sagemaker:us-east-1:123456789012:model-package/credit/3",
            "--reason",
            "bias",
            "--bus",
            &pipes.bus_name,
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    let sent_id = lines[0]["request_id"].as_str().unwrap().to_owned();
    let delivered = warden_tests::drain(&pipes.sqs, &pipes.bus_url).await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    assert_eq!(delivered[0]["detail-type"], "Warden Break-Glass Requested");
    let request: BreakGlassRequest = serde_json::from_value(delivered[0]["detail"].clone()).unwrap();
    assert_eq!(request.request_id, sent_id);
    assert_eq!((request.action, request.requested_by), (Operation::Gate, Actor::Person("carol".into())));

    assert!(verify(&ledger).await.unwrap().ok());
}
