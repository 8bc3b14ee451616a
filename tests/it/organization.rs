//! One central Warden governing several accounts (issue 14), on both ledgers: the same endpoint and role names in
//! two accounts are never confused, a finding a delegated administrator receives about a member concerns only that
//! member's model, and the same finding delivered from two buses is applied once.

use serde_json::Value;
use warden_app::ingest::Engine;
use warden_app::ledger::{Ledger, verify};
use warden_core::engine::Status;
use warden_core::inventory::InventoryFile;
use warden_core::ledger::Actor;
use warden_core::placement::Placement;
use warden_core::policy::Policy;
use warden_core::time::Timestamp;
use warden_embedded::EmbeddedLedger;
use warden_tests::{events_dir, fresh_dynamo_ledger, read};

const HOME: &str = "111122223333";
const MEMBER: &str = "444455556666";

/// The sample inventory's fraud-detector runs at home; a member team runs its own copy, with the same endpoint and
/// role names, in its account.
const MEMBER_MODEL: &str = r#"
[[model]]
id = "fraud-detector-member"
risk = "high"
owner = "member-ml-team"
account = "444455556666"
region = "us-east-1"
endpoints = ["fraud-detector-prod"]
roles = ["fraud-sagemaker-exec"]

[model.endpoint_configs]
fraud-detector-prod = ["member-cfg-v1"]
"#;

fn home() -> Placement {
    Placement::new(Some(HOME.into()), Some("us-east-1".into()))
}

/// The bundled high-risk GuardDuty finding (fraud-detector's role used from outside AWS), about `account`, as
/// delivered on the bus of `envelope` (the administrator's, or the member's own) with that bus's own event id.
fn finding(envelope: &str, account: &str, finding_id: &str) -> Vec<u8> {
    let mut event: Value =
        serde_json::from_slice(&read(&events_dir().join("guardduty-finding-role-high-risk-cutoff.json"))).unwrap();
    event["account"] = Value::from(envelope);
    event["id"] = Value::from(format!("delivery-{envelope}-{finding_id}"));
    event["detail"]["id"] = Value::from(finding_id);
    event["detail"]["accountId"] = Value::from(account);
    event["detail"]["resource"]["accessKeyDetails"]["userName"] = Value::from("fraud-sagemaker-exec");
    serde_json::to_vec(&event).unwrap()
}

async fn same_names_in_two_accounts<L: Ledger>(ledger: L) {
    let now = Timestamp::now();
    let engine = Engine::new(ledger, Policy::builtin().unwrap(), Actor::Automation("test".into())).with_home(home());
    let sample = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap();
    for (text, digest) in [(sample.as_str(), "sample"), (MEMBER_MODEL, "member")] {
        engine.import_inventory(&InventoryFile::parse(text).unwrap(), digest, now).await.unwrap();
    }

    // The administrator receives the member's finding under its own account.
    let member = engine.ingest_bytes(&finding(HOME, MEMBER, "f-member"), now).await.unwrap();
    assert_eq!((member.status, member.models.clone()), (Status::Applied, vec!["fraud-detector-member".to_owned()]));
    let targets: Vec<&str> = member.actions.iter().map(|a| a.target.as_str()).collect();
    assert_eq!(targets, ["arn:aws:sagemaker:us-east-1:444455556666:endpoint/fraud-detector-prod"], "{member:?}");
    assert_eq!(member.context.account.as_deref(), Some(MEMBER), "the alert names the member's account");

    // The member's own bus delivers the same finding: one event, applied once.
    let again = engine.ingest_bytes(&finding(MEMBER, MEMBER, "f-member"), now).await.unwrap();
    assert_eq!(again.status, Status::Duplicate, "{again:?}");

    // The home account's finding about the same role name concerns the home model only, and the member's cutoff
    // (a cooldown on the member's endpoint) does not hold back the home one.
    let home_finding = engine.ingest_bytes(&finding(HOME, HOME, "f-home"), now).await.unwrap();
    assert_eq!(home_finding.models, ["fraud-detector"]);
    let targets: Vec<&str> = home_finding.actions.iter().map(|a| a.target.as_str()).collect();
    assert_eq!(targets, ["fraud-detector-prod"], "{home_finding:?}");

    // A finding about an account Warden governs no model in is recorded, about no model.
    let stranger = engine.ingest_bytes(&finding(HOME, "999999999999", "f-stranger"), now).await.unwrap();
    assert!(stranger.models.is_empty() && stranger.actions.is_empty(), "{stranger:?}");

    let report = verify(engine.ledger()).await.unwrap();
    assert!(report.ok(), "{:?}", report.failures);
}

#[tokio::test]
async fn the_same_names_in_two_accounts_are_never_confused_on_the_embedded_ledger() {
    same_names_in_two_accounts(EmbeddedLedger::in_memory().unwrap()).await;
}

#[test]
fn the_same_names_in_two_accounts_are_never_confused_on_dynamodb() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async { same_names_in_two_accounts(fresh_dynamo_ledger("organization").await).await });
}
