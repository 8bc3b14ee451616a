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
    cli_as(table, ("test", "test"), args)
}

/// `cli`, signing with these AWS keys.
fn cli_as(table: &str, (key, secret): (&str, &str), args: &[&str]) -> (i32, Vec<serde_json::Value>, String) {
    let output = warden_tests::warden_cli()
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret)
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

const ALICE: (&str, &str) = ("AKIAALICEEXAMPLE", "alice-secret");
const BOB: (&str, &str) = ("AKIABOBEXAMPLE", "bob-secret");

/// The break-glass function behind a function URL stand-in that checks SigV4 (`warden_tests::function_url`): the
/// function itself against DynamoDB Local and moto, as Lambda would invoke it for a signed request.
fn break_glass_url(ledger: &warden_aws::dynamodb::DynamoLedger) -> String {
    // Clients of its own: a client's connections live on the runtime that opened them, and the test's is busy
    // waiting for the CLI while the function runs.
    let client = warden_tests::dynamodb_client(&warden_tests::dynamodb_endpoint());
    let handler = warden_app::inbox::BreakGlassHandler {
        executor: BreakGlass {
            ledger: warden_aws::dynamodb::DynamoLedger::new(client, ledger.table().to_owned()),
            sagemaker: SageMakerClient::new(sagemaker_client()),
            notifier: MemoryNotifier::default(),
            settings: Settings::default(),
            kill_switch: false,
            actor: Actor::Automation("warden-breakglass".into()),
        },
        polls: 60,
        poll_interval: Duration::from_millis(200),
        person_roles: Vec::new(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let people = [("alice", ALICE), ("bob", BOB)];
    let callers = people
        .iter()
        .map(|(name, (key, secret))| warden_tests::function_url::Caller {
            access_key: (*key).to_owned(),
            secret: (*secret).to_owned(),
            user_arn: format!("arn:aws:iam::123456789012:user/{name}"),
        })
        .collect();
    warden_tests::function_url::serve(callers, move |event| {
        runtime
            .block_on(handler.handle(event))
            .unwrap_or_else(|e| serde_json::json!({"statusCode": 502, "body": e.to_string()}))
    })
}

#[tokio::test]
async fn on_call_breaks_glass_signed_to_the_function_url_and_here_as_a_last_resort() {
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

    // Rolled back from the on-call's terminal (the last resort), verified on the endpoint.
    let (code, lines, stderr) =
        here(&["break-glass", "rollback", "--endpoint", "cli-ep", "--config", "cli-ep-b", "--reason", "bad scores"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines[0]["phase"], "done", "{lines:?}");
    assert_eq!(config_of(&settle(&SageMakerClient::new(client.clone()), "cli-ep").await), "cli-ep-b");
    // `--here` records the caller STS names, as a direct action: `--actor` cannot rename it.
    let (code, _, stderr) =
        here(&["--actor", "alice", "break-glass", "restore", "--endpoint", "cli-ep", "--reason", "x"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--actor cannot name who acts with --here"), "{stderr}");

    // Status shows what restore would undo, and who did what.
    let (code, lines, stderr) = cli(&table, &["status", "--endpoint", "cli-ep"]);
    assert_eq!(code, 0, "{stderr}");
    let status = &lines[0];
    assert_eq!(status["last_change"]["operation"], "rollback", "{status}");
    assert!(status["in_flight"].is_null(), "{status}");
    assert_eq!(status["history"][0]["phase"], "done", "newest first: {status}");
    assert_eq!(status["history"][0]["operation"], "rollback");
    let requester = &status["history"][0]["actor"];
    assert_eq!(requester["type"], "direct", "{requester}");
    assert!(requester["name"].as_str().is_some_and(|n| n.starts_with("arn:aws:")), "{requester}");

    // Restored by alice, signed to the function URL: the function records the person AWS authenticated.
    let url = break_glass_url(&ledger);
    let signed = |who: (&str, &str), args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--url", url.as_str()]);
        cli_as(&table, who, &all)
    };
    let (code, lines, stderr) =
        signed(ALICE, &["break-glass", "restore", "--endpoint", "cli-ep", "--reason", "false alarm"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines[0]["phase"], "done", "{lines:?}");
    assert_eq!(config_of(&settle(&SageMakerClient::new(client.clone()), "cli-ep").await), "cli-ep-a");
    let (_, lines, _) = cli(&table, &["status", "--endpoint", "cli-ep"]);
    let history = lines[0]["history"].as_array().unwrap();
    let restored_by: Vec<_> = history.iter().filter(|h| h["operation"] == "restore").map(|h| &h["actor"]).collect();
    let alice = serde_json::json!({"type": "person", "name": "iam-user/123456789012/alice"});
    assert!(restored_by.contains(&&alice), "{restored_by:?}");

    // No fallback tags: a cutoff deletes, which waits for a second person. Alice cannot approve it (signed or
    // --here), a request signed with a key that does not match its secret never reaches the function, and Bob's
    // signed approval carries it out.
    let (code, lines, stderr) =
        signed(ALICE, &["break-glass", "cutoff", "--endpoint", "cli-ep", "--reason", "leaking PII"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines[0]["phase"], "awaiting-approval", "{lines:?}");
    let request_id = lines[0]["request_id"].as_str().unwrap().to_owned();
    let (_, lines, _) = cli(&table, &["status", "--endpoint", "cli-ep"]);
    assert_eq!(lines[0]["in_flight"]["phase"], "awaiting-approval", "{}", lines[0]);
    assert_eq!(lines[0]["in_flight"]["request_id"], request_id.as_str());
    assert_eq!(lines[0]["in_flight"]["requested_by"], alice);
    let (code, _, stderr) = signed(ALICE, &["break-glass", "approve", &request_id]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("cannot be the second person"), "self-approval is refused: {stderr}");
    let (code, _, stderr) = here(&["break-glass", "approve", &request_id]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("never one of the two people"), "{stderr}");
    let (code, _, stderr) = signed((BOB.0, "not-bob-secret"), &["break-glass", "approve", &request_id]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("refused your signature (403)"), "{stderr}");
    let (code, lines, stderr) = signed(BOB, &["break-glass", "approve", &request_id]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines[0]["phase"], "done", "{lines:?}");
    let gone = SageMakerClient::new(client.clone()).observe_endpoint("cli-ep").await.unwrap();
    assert!(matches!(gone, Observation::Missing), "{gone:?}");

    // An unknown request id and an empty reason are errors that say so, and change nothing.
    let (code, _, stderr) = signed(BOB, &["break-glass", "approve", "manual-nope-1"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no break-glass request \"manual-nope-1\""), "{stderr}");
    let (code, _, stderr) = signed(BOB, &["break-glass", "cutoff", "--endpoint", "x", "--reason", " "]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--reason"), "{stderr}");

    // A busy endpoint: `--here` stops waiting without a second action, and `resume` carries the same request on.
    let slow = [("warden:managed", "true"), ("warden-test:transition-seconds", "3")];
    moto_endpoint_named(&client, "cli-busy", &slow).await;
    warden_tests::endpoint_with_history(&ledger, "cli-busy-model", "cli-busy", &["cli-busy-b", "cli-busy-a"]).await;
    let busy = [
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
    let (code, lines, stderr) = here(&["break-glass", "resume", &waiting_id]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        (lines[0]["request_id"].as_str(), lines[0]["phase"].as_str()),
        (Some(waiting_id.as_str()), Some("done"))
    );
    assert_eq!(config_of(&settle(&SageMakerClient::new(client.clone()), "cli-busy").await), "cli-busy-b");

    // --print shows the body the function URL receives: it names no person.
    let (code, lines, _) =
        cli(&table, &["break-glass", "gate", "--model-package", "credit", "--reason", "bias", "--print"]);
    assert_eq!(code, 0);
    assert_eq!(
        lines[0],
        serde_json::json!({"ask": "request", "action": "gate", "target": "credit", "config": null, "reason": "bias"})
    );

    assert!(verify(&ledger).await.unwrap().ok());
}
