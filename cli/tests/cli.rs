//! The `warden` binary's contract: output, JSON fields, exit codes.

// Tests fail loudly.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn warden(ledger: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(root())
        .args(args)
        .arg("--ledger")
        .arg(ledger)
        .env_remove("WARDEN_LEDGER")
        .env_remove("WARDEN_POLICY")
        .env_remove("WARDEN_HOME_ACCOUNT")
        .env_remove("WARDEN_HOME_REGION")
        .output()
        .unwrap_or_else(|e| panic!("cannot run warden: {e}"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn replay_of_the_bundled_story_succeeds_and_is_idempotent() {
    let dir = tempdir();
    let first = warden(dir.path(), &["replay", "events", "--inventory", "events/inventory.toml"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let text = stdout(&first);
    assert!(text.contains("will roll back endpoint credit-scoring-prod to credit-cfg-v1"), "{text}");
    assert!(text.contains("will cut off traffic to endpoint fraud-detector-prod"), "{text}");
    assert!(text.contains("0 duplicates, 0 rejected"), "{text}");
    let second = warden(dir.path(), &["replay", "events", "--json"]);
    assert_eq!(second.status.code(), Some(0));
    let lines = json_lines(&second);
    assert!(!lines.is_empty() && lines.iter().all(|l| l["status"] == "duplicate"), "{}", stdout(&second));
    let verified = warden(dir.path(), &["ledger", "verify"]);
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));
}

#[test]
fn json_output_follows_the_contract() {
    let dir = tempdir();
    let output = warden(
        dir.path(),
        &[
            "replay",
            "--json",
            "--inventory",
            "events/inventory.toml",
            "events/guardduty-finding-role-high-risk-cutoff.json",
            "tests/fixtures/invalid/guardduty-severity-not-a-number.json",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "a rejected input exits 1");
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 2);
    for line in &lines {
        for field in ["file", "event_id", "source", "detail_type", "status", "models", "alert", "actions", "error"] {
            assert!(line.get(field).is_some(), "missing {field}: {line}");
        }
    }
    let applied = &lines[0];
    assert_eq!(applied["status"], "applied");
    assert_eq!(applied["models"], serde_json::json!(["fraud-detector"]));
    assert_eq!(applied["alert"], "critical");
    assert_eq!(applied["actions"][0]["kind"], "cutoff");
    assert_eq!(applied["actions"][0]["target"], "fraud-detector-prod");
    assert_eq!(applied["actions"][0]["mode"], "enforce");
    assert!(applied["error"].is_null());
    let rejected = &lines[1];
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["source"], "aws.guardduty");
    assert!(rejected["error"].as_str().unwrap_or_default().contains("detail.severity"), "{rejected}");
}

#[test]
fn every_input_is_processed_even_after_a_rejection() {
    let dir = tempdir();
    let events = dir.path().join("mixed.jsonl");
    let good =
        std::fs::read_to_string(root().join("events/guardduty-finding-low-severity-info.json")).unwrap_or_default();
    let compact: Value = serde_json::from_str(&good).unwrap_or_default();
    std::fs::write(&events, format!("{compact}\n{{broken\n{}\n", serde_json::json!([1])))
        .unwrap_or_else(|e| panic!("{e}"));
    let ledger = dir.path().join("ledger");
    let output = warden(&ledger, &["replay", "--json", events.to_str().unwrap_or_default()]);
    assert_eq!(output.status.code(), Some(1));
    let statuses: Vec<String> =
        json_lines(&output).iter().map(|l| l["status"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(statuses, ["applied", "rejected", "rejected"]);
}

#[test]
fn configuration_errors_exit_2_and_change_nothing() {
    let dir = tempdir();
    let bad_policy = dir.path().join("policy.toml");
    std::fs::write(&bad_policy, "version = 1\n[[rule]]\nname = \"x\"\n").unwrap_or_else(|e| panic!("{e}"));
    let ledger = dir.path().join("ledger");
    let output = warden(&ledger, &["replay", "events", "--policy", bad_policy.to_str().unwrap_or_default()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("policy.toml"), "{}", stderr(&output));
    assert!(!ledger.exists(), "a bad policy must not create or touch the ledger");
    let missing = warden(&ledger, &["replay", "no-such-folder"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no-such-folder"));
    let usage = warden(&ledger, &["replay"]);
    assert_eq!(usage.status.code(), Some(2), "clap usage errors exit 2");
    let bad_inventory = dir.path().join("inventory.toml");
    std::fs::write(&bad_inventory, "[[model]]\nid = \"a\"\nrisk = \"extreme\"\n").unwrap_or_else(|e| panic!("{e}"));
    let output = warden(&ledger, &["inventory", "import", bad_inventory.to_str().unwrap_or_default()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unknown variant"), "{}", stderr(&output));
}

#[test]
fn policy_check_names_the_problem() {
    let dir = tempdir();
    let ok = warden(dir.path(), &["policy", "check", "shared/core/src/policy/default-policy.toml"]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stdout(&ok).contains("valid"));
    let bad = dir.path().join("p.toml");
    let text = std::fs::read_to_string(root().join("shared/core/src/policy/default-policy.toml")).unwrap_or_default();
    std::fs::write(&bad, text.replace("mode = \"enforce\"", "")).unwrap_or_else(|e| panic!("{e}"));
    let output = warden(dir.path(), &["policy", "check", bad.to_str().unwrap_or_default()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("has actions but no mode"), "{}", stderr(&output));
    let default = warden(dir.path(), &["policy", "default"]);
    assert_eq!(stdout(&default), text);
}

#[test]
fn inventory_import_and_show() {
    let dir = tempdir();
    let import = warden(dir.path(), &["inventory", "import", "events/inventory.toml"]);
    assert_eq!(import.status.code(), Some(0), "{}", stderr(&import));
    assert!(stdout(&import).contains("6 changed"), "{}", stdout(&import));
    let again = warden(dir.path(), &["inventory", "import", "events/inventory.toml"]);
    assert!(stdout(&again).contains("unchanged"), "{}", stdout(&again));
    let show = warden(dir.path(), &["inventory", "show"]);
    let text = stdout(&show);
    assert!(text.contains("recsys-experimental  risk UNCLASSIFIED  owner NONE"), "{text}");
    assert!(
        text.contains("endpoint credit-scoring-prod: current credit-cfg-v2, last known-good credit-cfg-v1"),
        "{text}"
    );
    let json = warden(dir.path(), &["inventory", "show", "--json"]);
    assert_eq!(json_lines(&json).len(), 6);
}

/// Models in other accounts say where they run; one that spells out the home account and region is a home model
/// (targeted by bare names); a malformed account is refused naming the model, and nothing is imported.
#[test]
fn inventory_models_in_other_accounts_show_where_they_run() {
    let dir = tempdir();
    let file = dir.path().join("org.toml");
    std::fs::write(
        &file,
        "[[model]]\nid = \"member\"\naccount = \"444455556666\"\nregion = \"eu-west-1\"\nendpoints = [\"prod\"]\n\n\
         [[model]]\nid = \"spelled-home\"\naccount = \"111122223333\"\nregion = \"us-east-1\"\nendpoints = [\"prod\"]\n",
    )
    .unwrap();
    let ledger = dir.path().join("ledger");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .current_dir(root())
            .args(args)
            .arg("--ledger")
            .arg(&ledger)
            .env_remove("WARDEN_LEDGER")
            .env_remove("WARDEN_POLICY")
            .env("WARDEN_HOME_ACCOUNT", "111122223333")
            .env("WARDEN_HOME_REGION", "us-east-1")
            .output()
            .unwrap()
    };
    let import = run(&["inventory", "import", file.to_str().unwrap()]);
    assert_eq!(import.status.code(), Some(0), "{}", stderr(&import));
    let text = stdout(&run(&["inventory", "show"]));
    assert!(text.contains("member  risk UNCLASSIFIED  owner NONE\n  runs in 444455556666/eu-west-1"), "{text}");
    assert!(!text.contains("111122223333"), "the home model is stored unplaced: {text}");

    std::fs::write(&file, "[[model]]\nid = \"typo\"\naccount = \"44445555666\"\n").unwrap();
    let refused = run(&["inventory", "import", file.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("model \"typo\": account \"44445555666\" is not a 12-digit AWS account id"));
    assert!(!stdout(&run(&["inventory", "show"])).contains("typo"));
}

#[test]
fn ledger_show_filters_by_model() {
    let dir = tempdir();
    warden(dir.path(), &["replay", "events", "--inventory", "events/inventory.toml"]);
    let output = warden(dir.path(), &["ledger", "show", "--model", "aml-screening", "--json"]);
    let entries = json_lines(&output);
    assert!(!entries.is_empty());
    assert!(entries.iter().all(|e| e["chain"] == "aml-screening"));
    assert!(
        entries.iter().any(|e| e["body"]["kind"] == "action" && e["body"]["action"] == "cutoff"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn verify_names_an_entry_edited_in_the_file() {
    let dir = tempdir();
    warden(dir.path(), &["replay", "events", "--inventory", "events/inventory.toml"]);
    {
        use redb::ReadableDatabase;
        use warden_embedded::{LEDGER_FILE, tables::ENTRIES};
        let db = redb::Database::open(dir.path().join(LEDGER_FILE)).unwrap_or_else(|e| panic!("{e}"));
        let key = ("fraud-detector", 3_u64);
        let original = {
            let read = db.begin_read().unwrap_or_else(|e| panic!("{e}"));
            let table = read.open_table(ENTRIES).unwrap_or_else(|e| panic!("{e}"));
            let bytes = table.get(key).unwrap_or_else(|e| panic!("{e}")).map(|v| v.value().to_vec());
            bytes.unwrap_or_else(|| panic!("entry fraud-detector#3 missing"))
        };
        let mut entry: Value = serde_json::from_slice(&original).unwrap_or_default();
        entry["reason"] = Value::from("approved by nobody");
        let edited = serde_json::to_vec(&entry).unwrap_or_default();
        let write = db.begin_write().unwrap_or_else(|e| panic!("{e}"));
        {
            let mut table = write.open_table(ENTRIES).unwrap_or_else(|e| panic!("{e}"));
            table.insert(key, edited.as_slice()).unwrap_or_else(|e| panic!("{e}"));
        }
        write.commit().unwrap_or_else(|e| panic!("{e}"));
    }
    let output = warden(dir.path(), &["ledger", "verify"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(stdout(&output).contains("chain fraud-detector: entry 3 was edited"), "{}", stdout(&output));
}

#[test]
fn options_work_after_the_subcommand_and_help_everywhere() {
    for args in [
        &["--help"][..],
        &["replay", "--help"],
        &["ledger", "verify", "--help"],
        &["inventory", "import", "--help"],
        &["policy", "check", "--help"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_warden")).args(args).output().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(output.status.code(), Some(0), "{args:?}");
        assert!(stdout(&output).contains("--ledger"), "{args:?}: global options listed");
    }
}

/// The same replay against DynamoDB Local (started by scripts/test.sh) and the embedded ledger gives the same
/// per-event results; `ledger init`, `verify` and `show` work with `--table`.
#[test]
fn replay_on_dynamodb_matches_the_embedded_ledger() {
    let endpoint = std::env::var("WARDEN_TEST_DYNAMODB_ENDPOINT")
        .unwrap_or_else(|_| panic!("WARDEN_TEST_DYNAMODB_ENDPOINT is not set: run ./scripts/test.sh"));
    let table = format!("cli-replay-{}", std::process::id());
    let dynamo = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .current_dir(root())
            .args(args)
            .args(["--table", &table])
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    let init = dynamo(&["ledger", "init"]);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    assert!(stdout(&init).contains("created ledger table"));
    assert!(stdout(&dynamo(&["ledger", "init"])).contains("already exists"));

    let dir = tempdir();
    let args = ["replay", "events", "tests/fixtures/invalid", "--inventory", "events/inventory.toml", "--json"];
    let embedded = warden(dir.path(), &args);
    let on_dynamo = dynamo(&args);
    assert_eq!(on_dynamo.status.code(), embedded.status.code(), "{}", stderr(&on_dynamo));
    assert_eq!(json_lines(&on_dynamo), json_lines(&embedded));
    let verified = dynamo(&["ledger", "verify"]);
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));
    let shown = dynamo(&["ledger", "show", "--model", "credit-scoring"]);
    assert!(stdout(&shown).contains("rollback credit-scoring-prod (config credit-cfg-v1)"), "{}", stdout(&shown));
    let inventory = dynamo(&["inventory", "show", "--json"]);
    assert_eq!(json_lines(&inventory).len(), json_lines(&warden(dir.path(), &["inventory", "show", "--json"])).len());
}

#[test]
fn ledger_init_needs_a_table_and_schema_prints_the_keys() {
    let dir = tempdir();
    let init = warden(dir.path(), &["ledger", "init"]);
    assert_eq!(init.status.code(), Some(2));
    assert!(stderr(&init).contains("--table"), "{}", stderr(&init));
    let schema: Value = serde_json::from_str(&stdout(&warden(dir.path(), &["ledger", "schema"]))).unwrap_or_default();
    assert_eq!(schema["KeySchema"][0]["AttributeName"], "pk");
    assert_eq!(schema["GlobalSecondaryIndexes"][0]["IndexName"], "gsi1");
}

#[test]
fn evidence_export_filters_and_reports_verification() {
    let dir = tempdir();
    warden(dir.path(), &["replay", "events", "--inventory", "events/inventory.toml"]);
    let json =
        warden(dir.path(), &["ledger", "export", "--model", "credit-scoring", "--since", "2026-11-02T09:59:00Z"]);
    assert_eq!(json.status.code(), Some(0), "{}", stderr(&json));
    let document: Value = serde_json::from_str(&stdout(&json)).unwrap_or_default();
    assert_eq!(document["verified"], true);
    let entries = document["entries"].as_array().cloned().unwrap_or_default();
    assert!(!entries.is_empty());
    for entry in &entries {
        assert_eq!(entry["chain"], "credit-scoring");
        assert!(entry["occurred_at"].as_str().unwrap_or_default() >= "2026-11-02T09:59:00", "{entry}");
        assert!(entry["evidences"].as_str().unwrap_or_default().starts_with("EU AI Act"), "{entry}");
    }
    assert!(
        entries
            .iter()
            .any(|e| e["record"] == "action" && e["action"] == "rollback" && e["target"] == "credit-scoring-prod")
    );

    let csv = warden(dir.path(), &["ledger", "export", "--format", "csv"]);
    let text = stdout(&csv);
    let mut lines = text.lines();
    assert!(lines.next().unwrap_or_default().starts_with("chain,seq,occurred_at,recorded_at,record,model"));
    let verified = warden(dir.path(), &["ledger", "verify", "--json"]);
    let report: Value = serde_json::from_str(&stdout(&verified)).unwrap_or_default();
    assert_eq!(lines.count() as u64, report["entries"].as_u64().unwrap_or_default(), "one CSV row per entry");

    let bad = warden(dir.path(), &["ledger", "export", "--since", "last tuesday"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("last tuesday"), "{}", stderr(&bad));
    let unknown = warden(dir.path(), &["ledger", "export", "--model", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn evidence_export_marks_chains_that_do_not_verify() {
    let dir = tempdir();
    warden(dir.path(), &["replay", "events", "--inventory", "events/inventory.toml"]);
    {
        use warden_embedded::{LEDGER_FILE, tables::ENTRIES};
        let db = redb::Database::open(dir.path().join(LEDGER_FILE)).unwrap_or_else(|e| panic!("{e}"));
        let write = db.begin_write().unwrap_or_else(|e| panic!("{e}"));
        {
            let mut table = write.open_table(ENTRIES).unwrap_or_else(|e| panic!("{e}"));
            table.remove(("aml-screening", 2_u64)).unwrap_or_else(|e| panic!("{e}"));
        }
        write.commit().unwrap_or_else(|e| panic!("{e}"));
    }
    let output = warden(dir.path(), &["ledger", "export"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("chain aml-screening: entry 2 is missing"), "{}", stderr(&output));
    let document: Value = serde_json::from_str(&stdout(&output)).unwrap_or_default();
    let entries = document["entries"].as_array().cloned().unwrap_or_default();
    assert!(entries.iter().filter(|e| e["chain"] == "aml-screening").all(|e| e["chain_verified"] == false));
    assert!(entries.iter().filter(|e| e["chain"] == "credit-scoring").all(|e| e["chain_verified"] == true));
}

#[test]
fn status_shows_what_the_inventory_knows_and_names_an_unknown_target() {
    let dir = tempdir();
    let replayed = warden(dir.path(), &["replay", "events", "--inventory", "events/inventory.toml"]);
    assert_eq!(replayed.status.code(), Some(0), "{}", stderr(&replayed));
    let output = warden(dir.path(), &["status", "--endpoint", "credit-scoring-prod"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in ["model            credit-scoring", "last known-good  credit-cfg-v1", "in flight        nothing"] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    let json = json_lines(&warden(dir.path(), &["status", "--endpoint", "credit-scoring-prod", "--json"]));
    assert_eq!(json[0]["model"]["id"], "credit-scoring");
    assert_eq!(json[0]["kind"], "endpoint");
    let unknown = warden(dir.path(), &["status", "--endpoint", "credit-scoring-prd"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("knows nothing about endpoint \"credit-scoring-prd\""), "{}", stderr(&unknown));
    let both = warden(dir.path(), &["status", "--endpoint", "a", "--model-package", "b"]);
    assert_eq!(both.status.code(), Some(2), "one target at a time");
}

#[test]
fn a_break_glass_request_prints_as_the_function_receives_it_and_says_where_it_could_go() {
    let dir = tempdir();
    let args = ["break-glass", "cutoff", "--endpoint", "fraud-detector-prod", "--reason", "PII leak"];
    let printed = warden(dir.path(), &[&args[..], &["--print", "--json"]].concat());
    assert_eq!(printed.status.code(), Some(0), "{}", stderr(&printed));
    // The body the function URL receives: what is asked, never who asks (the signature says that).
    let ask = &json_lines(&printed)[0];
    assert_eq!(
        ask,
        &serde_json::json!({"ask": "request", "action": "cutoff", "target": "fraud-detector-prod", "config": null, "reason": "PII leak"})
    );

    let nowhere =
        Command::new(env!("CARGO_BIN_EXE_warden")).args(args).env_remove("WARDEN_BREAKGLASS_URL").output().unwrap();
    assert_eq!(nowhere.status.code(), Some(2));
    assert!(stderr(&nowhere).contains("--url URL"), "{}", stderr(&nowhere));
    for not_a_url in ["ftp://example.com/", "http://abc.lambda-url.us-east-1.on.aws/"] {
        let refused = warden(dir.path(), &[&args[..], &["--url", not_a_url]].concat());
        assert_eq!(refused.status.code(), Some(2));
        assert!(stderr(&refused).contains("is not an https URL"), "{}", stderr(&refused));
    }
    let bad_topic = warden(dir.path(), &[&args[..], &["--here", "--topic", "alerts"]].concat());
    assert_eq!(bad_topic.status.code(), Some(2));
    assert!(stderr(&bad_topic).contains("--topic \"alerts\" is not an SNS topic ARN"), "{}", stderr(&bad_topic));
    let both = warden(dir.path(), &[&args[..], &["--print", "--here"]].concat());
    assert_eq!(both.status.code(), Some(2), "--print and --here exclude each other");
    let no_reason = warden(dir.path(), &["--actor", "a", "break-glass", "gate", "--model-package", "g", "--print"]);
    assert_eq!(no_reason.status.code(), Some(2));
    assert!(stderr(&no_reason).contains("--reason"), "{}", stderr(&no_reason));
}

/// Bytes flipped anywhere in the embedded store: `verify` reports storage corruption (exit 1) or, when the bytes
/// were unused, an intact ledger (exit 0); a replay into it records what it can. Never a panic, never a usage
/// error.
#[test]
fn a_damaged_embedded_store_is_reported_never_a_crash() {
    let dir = tempdir();
    let first = warden(dir.path(), &["replay", "events", "--inventory", "events/inventory.toml"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let file = dir.path().join("ledger.redb");
    let pristine = std::fs::read(&file).unwrap();
    let mut seed: u64 = 0x5eed_0000_d00d_f00d;
    let mut next = || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        seed >> 33
    };
    let mut corrupt_runs = 0;
    for _ in 0..120 {
        let mut bytes = pristine.clone();
        for _ in 0..8 {
            let at = usize::try_from(next()).unwrap() % bytes.len();
            bytes[at] ^= 1 << (next() % 8);
        }
        std::fs::write(&file, &bytes).unwrap();
        let verified = warden(dir.path(), &["ledger", "verify"]);
        let code = verified.status.code();
        assert!(matches!(code, Some(0 | 1)), "exit {code:?}: {}{}", stdout(&verified), stderr(&verified));
        assert!(!stderr(&verified).contains("RUST_BACKTRACE"), "{}", stderr(&verified));
        if code == Some(1) {
            corrupt_runs += 1;
        }
        // Ingesting into it: damaged items stop only the inputs that touch them (exit 1), never the batch.
        let replayed = warden(dir.path(), &["replay", "events"]);
        let code = replayed.status.code();
        assert!(matches!(code, Some(0 | 1)), "replay exit {code:?}: {}", stderr(&replayed));
    }
    assert!(corrupt_runs > 0, "some of 120 damaged files must be found damaged");
}

/// A replayed path must mean something: an empty folder is an error naming it; a broken pretty-printed event is one
/// rejection; AWS Config's pre-2015 SNS form is named for what it is.
#[test]
fn replay_refuses_nothing_to_do_and_reports_a_broken_file_once() {
    let dir = tempdir();
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let output = warden(dir.path(), &["replay", empty.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("holds no .json or .jsonl file"), "{}", stderr(&output));

    let pretty = std::fs::read_to_string(root().join("events/guardduty-finding-role-high-risk-cutoff.json")).unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, pretty.replacen("\"resources\": [],", "\"resources\": [],,", 1)).unwrap();
    let output = warden(dir.path(), &["replay", broken.to_str().unwrap(), "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1, "one rejection for the file: {}", stdout(&output));
    assert_eq!(lines[0]["status"], "rejected");

    let legacy = dir.path().join("legacy.json");
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("events/config-configuration-item-change-endpoint-tagged.json")).unwrap(),
    )
    .unwrap();
    let item = event["detail"]["configurationItem"].take();
    event["detail"]["configurationItem"] = Value::Array(vec![item]);
    std::fs::write(&legacy, event.to_string()).unwrap();
    let output = warden(dir.path(), &["replay", legacy.to_str().unwrap(), "--json"]);
    let lines = json_lines(&output);
    assert!(
        lines[0]["error"].as_str().unwrap_or_default().contains("pre-2015 SNS notification form"),
        "{}",
        stdout(&output)
    );
}

/// One configuration for the functions and the CLI: the switches the functions read (`WARDEN_KILL_SWITCH`,
/// `WARDEN_MODE`) are honoured by replay and `--here` too, and a bad value is a configuration error naming it.
#[test]
fn the_cli_honours_the_functions_switches() {
    let run = |name: &str, value: &str| {
        let dir = tempdir();
        Command::new(env!("CARGO_BIN_EXE_warden"))
            .current_dir(root())
            .args([
                "replay",
                "events/guardduty-finding-role-high-risk-cutoff.json",
                "--inventory",
                "events/inventory.toml",
            ])
            .args(["--json", "--ledger"])
            .arg(dir.path())
            .env_remove("WARDEN_LEDGER")
            .env_remove("WARDEN_POLICY")
            .env(name, value)
            .output()
            .unwrap()
    };
    for (name, value) in [("WARDEN_KILL_SWITCH", "true"), ("WARDEN_MODE", "shadow")] {
        let output = run(name, value);
        let lines = json_lines(&output);
        assert_eq!(lines[0]["actions"][0]["mode"], "shadow", "{name}={value}: {}", stdout(&output));
    }
    let enforce = run("WARDEN_MODE", "policy");
    assert_eq!(json_lines(&enforce)[0]["actions"][0]["mode"], "enforce");
    let bad = run("WARDEN_KILL_SWITCH", "maybe");
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("WARDEN_KILL_SWITCH"), "{}", stderr(&bad));
}

/// The replay's output over the bundled events is the golden one (tests/fixtures/golden), byte for byte: a
/// refactoring changes no decision, field or order. A change that means to alter it updates the golden file.
#[test]
fn replay_output_matches_the_golden_file() {
    let dir = tempdir();
    let output = warden(dir.path(), &["replay", "events", "--inventory", "events/inventory.toml", "--json"]);
    let golden = std::fs::read_to_string(root().join("tests/fixtures/golden/replay-events.jsonl")).unwrap();
    assert!(stdout(&output) == golden, "replay output differs from tests/fixtures/golden/replay-events.jsonl");
}

/// A ledger written before the layout change still reads and verifies: the hashes cover the serialized names.
#[test]
fn a_ledger_written_before_the_layout_change_still_verifies() {
    let dir = tempdir();
    std::fs::copy(
        root().join("tests/fixtures/golden/ledger-written-before-the-layout-change.redb"),
        dir.path().join("ledger.redb"),
    )
    .unwrap();
    let verified = warden(dir.path(), &["ledger", "verify"]);
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));
    assert!(stdout(&verified).contains("123 entries in 10 chains"), "{}", stdout(&verified));
    let replayed = warden(dir.path(), &["replay", "events", "--json"]);
    assert!(json_lines(&replayed).iter().all(|l| l["status"] == "duplicate"), "{}", stdout(&replayed));
}

/// `warden kill-switch`: a person turns it on with a reason (nobody unnamed can), every later decision's actions are
/// shadow only, `status` says who and why, the ledger verifies with the switch on its `_warden` chain, and the
/// evidence export lists it.
#[test]
fn the_kill_switch_is_set_by_a_named_person_and_shadows_every_action() {
    let dir = tempdir();
    let unnamed = warden(dir.path(), &["kill-switch", "on", "--reason", "drill"]);
    assert_eq!(unnamed.status.code(), Some(2), "{}", stderr(&unnamed));
    assert!(stderr(&unnamed).contains("--actor"), "{}", stderr(&unnamed));
    let on = warden(dir.path(), &["--actor", "alice", "kill-switch", "on", "--reason", "incident drill"]);
    assert_eq!(on.status.code(), Some(0), "{}", stderr(&on));
    let status = warden(dir.path(), &["kill-switch", "status"]);
    assert!(
        stdout(&status).contains("kill switch ON") && stdout(&status).contains("direct:alice"),
        "{}",
        stdout(&status)
    );
    let replayed = warden(
        dir.path(),
        &[
            "replay",
            "events/guardduty-finding-role-high-risk-cutoff.json",
            "--inventory",
            "events/inventory.toml",
            "--json",
        ],
    );
    let lines = json_lines(&replayed);
    let actions = lines[0]["actions"].as_array().unwrap();
    assert!(!actions.is_empty() && actions.iter().all(|a| a["mode"] == "shadow"), "{}", lines[0]);
    let verified = warden(dir.path(), &["ledger", "verify"]);
    assert_eq!(verified.status.code(), Some(0), "{}", stdout(&verified));
    let export = warden(dir.path(), &["ledger", "export", "--format", "csv"]);
    assert!(stdout(&export).contains("kill-switch turned on: incident drill"), "{}", stdout(&export));
}

/// Rewrites entry `seq` of `chain` in the ledger file and recomputes every hash and link after it, and the head:
/// the forgery an insider with write access to the file can script (issue 13).
fn forge_chain(ledger: &Path, chain: &str, seq: u64, reason: &str) {
    use redb::ReadableDatabase;
    use warden_core::ledger::{Entry, Head};
    use warden_embedded::{LEDGER_FILE, tables::ENTRIES, tables::HEADS};
    let db = redb::Database::open(ledger.join(LEDGER_FILE)).unwrap_or_else(|e| panic!("{e}"));
    let entries: Vec<Entry> = {
        let read = db.begin_read().unwrap();
        let table = read.open_table(ENTRIES).unwrap();
        table
            .range((chain, 0)..=(chain, u64::MAX))
            .unwrap()
            .map(|row| serde_json::from_slice(row.unwrap().1.value()).unwrap())
            .collect()
    };
    assert!(entries.len() as u64 >= seq, "{chain} has {} entries", entries.len());
    let write = db.begin_write().unwrap();
    {
        let mut table = write.open_table(ENTRIES).unwrap();
        let mut prev: Option<Head> = entries.iter().find(|e| e.seq == seq - 1).map(Entry::head);
        for entry in entries.into_iter().filter(|e| e.seq >= seq) {
            let mut new = entry.entry;
            if entry.seq == seq {
                new.reason = reason.to_owned();
            }
            let sealed = Entry::seal(new, prev.as_ref()).unwrap();
            table.insert((chain, sealed.seq), serde_json::to_vec(&sealed).unwrap().as_slice()).unwrap();
            prev = Some(sealed.head());
        }
        let mut heads = write.open_table(HEADS).unwrap();
        heads.insert(chain, serde_json::to_vec(&prev.unwrap()).unwrap().as_slice()).unwrap();
    }
    write.commit().unwrap();
}

/// A history rewritten with recomputed hashes passes the chains' own check (they have no key); a signed digest
/// written before the rewrite, checked with the pinned public key, names it. So do digests forged with another key.
#[test]
fn a_rewritten_history_is_caught_by_the_signed_digests_written_before_it() {
    let dir = tempdir();
    let apart = tempdir();
    let key = apart.path().join("digest.pem");
    let public = apart.path().join("digest.pem.pub");
    let digests = apart.path().join("digests");
    let (key_arg, public_arg, digests_arg) =
        (key.to_str().unwrap(), public.to_str().unwrap(), digests.to_str().unwrap());
    let replayed = warden(dir.path(), &["replay", "events", "--inventory", "events/inventory.toml"]);
    assert_eq!(replayed.status.code(), Some(0), "{}", stderr(&replayed));

    // The key and the digests must live outside the ledger folder.
    let inside = dir.path().join("digest.pem");
    let created = warden(dir.path(), &["ledger", "digest-key", "--out", inside.to_str().unwrap()]);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let refused =
        warden(dir.path(), &["ledger", "digest", "--key", inside.to_str().unwrap(), "--digests", digests_arg]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(stderr(&refused).contains("is inside the ledger folder"), "{}", stderr(&refused));

    let created = warden(dir.path(), &["ledger", "digest-key", "--out", key_arg]);
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let written = warden(dir.path(), &["ledger", "digest", "--key", key_arg, "--digests", digests_arg]);
    assert_eq!(written.status.code(), Some(0), "{}", stderr(&written));
    assert!(stdout(&written).starts_with("digest 1 written"), "{}", stdout(&written));
    // The newest digest deleted: the next one is refused (this key remembers what it signed last), not signed
    // over a history that may have been rewritten since the survivors.
    // A crash after storing digest 2 but before recording it beside the key: the next run is not a false alarm.
    let mark = apart.path().join("digest.pem.last");
    let after_first = std::fs::read(&mark).unwrap();
    let second = warden(dir.path(), &["ledger", "digest", "--key", key_arg, "--digests", digests_arg]);
    assert!(stdout(&second).starts_with("digest 2 written"), "{}{}", stdout(&second), stderr(&second));
    std::fs::write(&mark, &after_first).unwrap();
    let third = warden(dir.path(), &["ledger", "digest", "--key", key_arg, "--digests", digests_arg]);
    assert!(stdout(&third).starts_with("digest 3 written"), "{}{}", stdout(&third), stderr(&third));
    let newest = digests.join("digest-000003.json");
    let kept = std::fs::read(&newest).unwrap();
    std::fs::remove_file(&newest).unwrap();
    let refused = warden(dir.path(), &["ledger", "digest", "--key", key_arg, "--digests", digests_arg]);
    assert_ne!(refused.status.code(), Some(0));
    assert!(stderr(&refused).contains("digests were deleted or replaced"), "{}", stderr(&refused));
    std::fs::write(&newest, kept).unwrap();
    // A public key inside the digest folder pins nothing.
    let planted = digests.join("key.pub");
    std::fs::copy(&public, &planted).unwrap();
    let refused =
        warden(dir.path(), &["ledger", "verify", "--digests", digests_arg, "--public-key", planted.to_str().unwrap()]);
    assert!(stderr(&refused).contains("is inside the digest folder"), "{}", stderr(&refused));
    std::fs::remove_file(&planted).unwrap();

    let verify_args = ["ledger", "verify", "--digests", digests_arg, "--public-key", public_arg];
    let clean = warden(dir.path(), &verify_args);
    assert_eq!(clean.status.code(), Some(0), "{}", stdout(&clean));
    assert!(stdout(&clean).contains("anchored by 3 signed digests, signed by the key sha256:"), "{}", stdout(&clean));

    forge_chain(dir.path(), "fraud-detector", 2, "approved by the risk committee");
    let alone = warden(dir.path(), &["ledger", "verify"]);
    assert_eq!(alone.status.code(), Some(0), "the chains' own check cannot see it: {}", stdout(&alone));
    let anchored = warden(dir.path(), &verify_args);
    assert_eq!(anchored.status.code(), Some(1), "{}", stdout(&anchored));
    assert!(
        stdout(&anchored).contains("chain fraud-detector: entry") && stdout(&anchored).contains("signed digest"),
        "{}",
        stdout(&anchored)
    );

    // The forger replaces the digests with ones signed by a key of their own: the pinned key rejects them.
    std::fs::remove_dir_all(&digests).unwrap();
    let own = apart.path().join("forger.pem");
    warden(dir.path(), &["ledger", "digest-key", "--out", own.to_str().unwrap()]);
    let forged = warden(dir.path(), &["ledger", "digest", "--key", own.to_str().unwrap(), "--digests", digests_arg]);
    assert_eq!(forged.status.code(), Some(0), "{}", stderr(&forged));
    let rejected = warden(dir.path(), &verify_args);
    assert_eq!(rejected.status.code(), Some(1), "{}", stdout(&rejected));
    assert!(stdout(&rejected).contains("not signed by the pinned key"), "{}", stdout(&rejected));
}
