//! Break-glass with the in-memory SageMaker, the embedded ledger and an in-memory notifier: the action state
//! machine, the cutoff ladder, the safety checks, resumption after a crash, and verification.

use std::sync::atomic::{AtomicU32, Ordering};

use warden_app::breakglass::{BreakGlass, BreakGlassError, Step};
use warden_app::effects::MemoryNotifier;
use warden_app::ledger::{Ledger, verify};
use warden_app::sagemaker::{MemorySageMaker, SageMaker, SageMakerError};
use warden_core::action::{Change, Mode, Operation, Phase};
use warden_core::breakglass::BreakGlassRequest;
use warden_core::breakglass::{Input, Next, Observation, TAG_FALLBACK_VARIANT, TAG_MAINTENANCE_CONFIG};
use warden_core::event::sagemaker::{ApprovalStatus, EndpointStatus};
use warden_core::ledger::{Actor, EntryBody};
use warden_core::policy::Settings;
use warden_core::time::Timestamp;
use warden_embedded::EmbeddedLedger;

const MANAGED: (&str, &str) = ("warden:managed", "true");
const PACKAGE: &str = "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-scoring/12";

fn at(minute: i64) -> Timestamp {
    // After every bundled event (2026-11-02), so none of them lies in the future of the clock.
    Timestamp::from_millis(1_793_664_000_000 + minute * 60_000).unwrap()
}

fn request(id: &str, action: Operation, target: &str, by: Actor) -> BreakGlassRequest {
    BreakGlassRequest {
        schema_version: 1,
        request_id: id.to_owned(),
        decision_id: format!("wd-{id}"),
        action,
        target: target.to_owned(),
        config: None,
        model_id: None,
        reason: format!("test {id}"),
        requested_by: by,
        requested_at: at(0),
    }
}

fn alice() -> Actor {
    Actor::Person("alice".into())
}

fn bob() -> Actor {
    Actor::Person("bob".into())
}

/// An in-memory SageMaker with the fraud endpoint on cfg-v2 (two variants), and its inventory in the ledger.
async fn rig(tags: &[(&str, &str)]) -> (EmbeddedLedger, MemorySageMaker, MemoryNotifier) {
    let ledger = EmbeddedLedger::in_memory().unwrap();
    let inventory = warden_core::inventory::InventoryFile::parse(
        r#"
[[model]]
id = "fraud-detector"
risk = "high"
owner = "fraud-ml@example.com"
endpoints = ["fraud-prod"]
[model.endpoint_configs]
fraud-prod = ["fraud-cfg-v1", "fraud-cfg-v2"]
"#,
    )
    .unwrap();
    let engine = warden_app::ingest::Engine::new(
        &ledger,
        warden_core::policy::Policy::builtin().unwrap(),
        Actor::Automation("test".into()),
    );
    engine.import_inventory(&inventory, "digest", at(0)).await.unwrap();
    let sagemaker = MemorySageMaker::new(2);
    sagemaker.add_config("fraud-cfg-v1", &["blue"]);
    sagemaker.add_config("fraud-cfg-v2", &["blue", "green"]);
    sagemaker.add_config("fraud-maintenance", &["static"]);
    sagemaker.add_endpoint("fraud-prod", "fraud-cfg-v2", tags);
    sagemaker.add_package(PACKAGE, ApprovalStatus::Approved, &[MANAGED]);
    (ledger, sagemaker, MemoryNotifier::default())
}

type Executor<'a, S> = BreakGlass<&'a EmbeddedLedger, S, &'a MemoryNotifier>;

fn executor<'a, S: SageMaker>(
    ledger: &'a EmbeddedLedger,
    sagemaker: S,
    notifier: &'a MemoryNotifier,
    settings: Settings,
) -> Executor<'a, S> {
    BreakGlass {
        ledger,
        sagemaker,
        notifier,
        settings,
        kill_switch: false,
        actor: Actor::Automation("warden-breakglass".into()),
    }
}

/// Drives a request to where it rests, with a clock that moves a minute per look.
async fn run<S: SageMaker>(
    bg: &Executor<'_, S>,
    request: &BreakGlassRequest,
    input: Input<'_>,
) -> Result<Step, BreakGlassError> {
    let minute = AtomicU32::new(1);
    bg.drive(request, input, || at(i64::from(minute.fetch_add(1, Ordering::Relaxed))), |_| async {}, 10).await
}

fn phase(step: &Step) -> Phase {
    step.record.as_ref().map(|r| r.phase).expect("a record")
}

fn note(step: &Step) -> String {
    step.record.as_ref().map(|r| r.note.clone()).unwrap_or_default()
}

async fn observed(sagemaker: &MemorySageMaker) -> (EndpointStatus, String, Vec<(String, f32)>) {
    match sagemaker.observe_endpoint("fraud-prod").await.unwrap() {
        Observation::Endpoint(e) => {
            (e.status, e.config, e.variants.into_iter().map(|v| (v.variant, v.weight)).collect())
        }
        other => panic!("endpoint missing: {other:?}"),
    }
}

async fn phases_on_chain(ledger: &EmbeddedLedger, request_id: &str) -> Vec<Phase> {
    ledger
        .entries("fraud-detector")
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.entry.body {
            EntryBody::BreakGlass { request_id: id, phase, .. } if id == request_id => Some(phase),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn cutoff_shifts_traffic_to_the_fallback_variant_and_restore_puts_it_back() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED, (TAG_FALLBACK_VARIANT, "blue")]).await;
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let cutoff = request("r1", Operation::Cutoff, "fraud-prod", Actor::Automation("warden-guardduty".into()));
    let step = run(&bg, &cutoff, Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Done, "{}", note(&step));
    assert_eq!(observed(&sagemaker).await.2, vec![("blue".into(), 1.0), ("green".into(), 0.0)]);
    assert_eq!(phases_on_chain(&ledger, "r1").await, [Phase::Executing, Phase::Verifying, Phase::Done]);
    let subjects: Vec<String> = notifier.sent().into_iter().map(|a| a.subject).collect();
    assert!(subjects[0].starts_with("[HIGH] fraud-detector CUTOFF STARTED: fraud-prod"), "{subjects:?}");
    assert!(subjects[1].starts_with("[MEDIUM] fraud-detector CUTOFF VERIFIED"), "{subjects:?}");
    assert!(notifier.sent()[0].body.contains("undo: warden break-glass restore --endpoint fraud-prod"));

    let restore = request("r2", Operation::Restore, "fraud-prod", alice());
    let step = run(&bg, &restore, Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Done, "{}", note(&step));
    assert_eq!(observed(&sagemaker).await.2, vec![("blue".into(), 0.5), ("green".into(), 0.5)]);
    assert!(verify(&ledger).await.unwrap().ok());
}

#[tokio::test]
async fn cutoff_without_a_fallback_variant_switches_to_the_maintenance_config() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED, (TAG_MAINTENANCE_CONFIG, "fraud-maintenance")]).await;
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let step = run(&bg, &request("r1", Operation::Cutoff, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Done, "{}", note(&step));
    assert_eq!(observed(&sagemaker).await.1, "fraud-maintenance");
    run(&bg, &request("r2", Operation::Restore, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(observed(&sagemaker).await.1, "fraud-cfg-v2");
}

/// A request cannot choose where a rollback goes or whose chain it lands on: a config the endpoint never served
/// (IAM allows any config in the account, so it used to be deployed as given) and a model id that does not own the
/// target are refused with no SageMaker call; the refusal is on the owner's chain.
#[tokio::test]
async fn a_rollback_goes_only_to_a_served_config_and_a_request_cannot_borrow_another_model() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    sagemaker.add_config("attacker-cfg", &["blue"]);
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let mut anywhere = request("r1", Operation::Rollback, "fraud-prod", alice());
    anywhere.config = Some("attacker-cfg".into());
    let step = run(&bg, &anywhere, Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused, "{}", note(&step));
    assert!(note(&step).contains("not in the recorded config history"), "{}", note(&step));
    let mut borrowed = request("r2", Operation::Rollback, "fraud-prod", alice());
    borrowed.model_id = Some("someone-elses-model".into());
    let step = run(&bg, &borrowed, Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused, "{}", note(&step));
    assert!(note(&step).contains("belongs to model fraud-detector"), "{}", note(&step));
    assert!(sagemaker.calls().is_empty(), "no SageMaker call");
    assert_eq!(observed(&sagemaker).await.1, "fraud-cfg-v2");
    assert_eq!(phases_on_chain(&ledger, "r2").await, [Phase::Refused]);
    // A config the endpoint has served is still a rollback target.
    let mut served = request("r3", Operation::Rollback, "fraud-prod", alice());
    served.config = Some("fraud-cfg-v1".into());
    assert_eq!(phase(&run(&bg, &served, Input::Look).await.unwrap()), Phase::Done);
}

/// Automation (a detector, or anything that says it is one on the bus) may contain but never undo: its restore is
/// refused with no SageMaker call; a person's goes through.
#[tokio::test]
async fn only_a_person_may_restore() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED, (TAG_FALLBACK_VARIANT, "blue")]).await;
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let cutoff = request("c1", Operation::Cutoff, "fraud-prod", Actor::Automation("warden-guardduty".into()));
    assert_eq!(phase(&run(&bg, &cutoff, Input::Look).await.unwrap()), Phase::Done);
    let calls = sagemaker.calls().len();
    let undo = request("u1", Operation::Restore, "fraud-prod", Actor::Automation("warden-drift".into()));
    let step = run(&bg, &undo, Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused, "{}", note(&step));
    assert!(note(&step).contains("only a person may ask for it"), "{}", note(&step));
    assert_eq!(sagemaker.calls().len(), calls);
    assert_eq!(
        phase(&run(&bg, &request("u2", Operation::Restore, "fraud-prod", alice()), Input::Look).await.unwrap()),
        Phase::Done
    );
}

/// The shared kill switch, set by a person in the ledger, stops every action within seconds: a break-glass rollback
/// run from here (`--here`, whose process was started with the switch off) is refused and recorded with no SageMaker
/// call, and a detector's cutoff is shadow only; turning it off restores both. Automation cannot set it, and turning
/// it off never lowers the deploy-time switch.
#[tokio::test]
async fn the_shared_kill_switch_stops_break_glass_and_detectors_and_only_a_person_sets_it() {
    use warden_app::switches::set_kill_switch;
    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    assert!(set_kill_switch(&ledger, true, "drill", Actor::Automation("warden-drift".into()), at(1)).await.is_err());
    set_kill_switch(&ledger, true, "incident drill", alice(), at(1)).await.unwrap();
    let step = run(&bg, &request("r1", Operation::Rollback, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused, "{}", note(&step));
    assert!(note(&step).contains("kill switch"), "{}", note(&step));
    assert!(sagemaker.calls().is_empty());
    assert_eq!(phases_on_chain(&ledger, "r1").await, [Phase::Refused], "recorded");

    // A detector on a ledger with the switch on (the sample inventory: the finding cuts off fraud-detector).
    let detectors = EmbeddedLedger::in_memory().unwrap();
    let engine = warden_app::ingest::Engine::new(
        &detectors,
        warden_core::policy::Policy::builtin().unwrap(),
        Actor::Automation("warden-guardduty".into()),
    );
    let text = std::fs::read_to_string(warden_tests::events_dir().join("inventory.toml")).unwrap();
    engine
        .import_inventory(&warden_core::inventory::InventoryFile::parse(&text).unwrap(), "sample", at(0))
        .await
        .unwrap();
    set_kill_switch(&detectors, true, "incident drill", alice(), at(1)).await.unwrap();
    let finding = warden_tests::read(&warden_tests::events_dir().join("guardduty-finding-role-high-risk-cutoff.json"));
    let report = engine.ingest_bytes(&finding, at(2)).await.unwrap();
    assert!(
        !report.actions.is_empty() && report.actions.iter().all(|a| a.mode == Mode::Shadow),
        "{:?}",
        report.actions
    );

    set_kill_switch(&ledger, false, "drill over", bob(), at(3)).await.unwrap();
    let step = run(&bg, &request("r2", Operation::Rollback, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Done, "{}", note(&step));
    let floor = BreakGlass { kill_switch: true, ..executor(&ledger, &sagemaker, &notifier, Settings::default()) };
    let step = run(&floor, &request("r3", Operation::Restore, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused, "the deploy-time switch still holds: {}", note(&step));
    let entries = ledger.entries(warden_core::ledger::WARDEN_CHAIN).await.unwrap();
    assert_eq!(entries.len(), 2, "on and off, each on the _warden chain");
    assert!(verify(&ledger).await.unwrap().ok());
}

/// A second cutoff of an endpoint already cut off is "nothing to do" at every rung: it used to climb the ladder and
/// delete the endpoint (at once, with `delete_requires_approval = false`). No SageMaker call, the endpoint stays.
#[tokio::test]
async fn a_second_cutoff_never_climbs_to_delete() {
    for tags in [[MANAGED, (TAG_FALLBACK_VARIANT, "blue")], [MANAGED, (TAG_MAINTENANCE_CONFIG, "fraud-maintenance")]] {
        let (ledger, sagemaker, notifier) = rig(&tags).await;
        let settings = Settings { delete_requires_approval: false, ..Settings::default() };
        let bg = executor(&ledger, &sagemaker, &notifier, settings);
        let step = run(&bg, &request("r1", Operation::Cutoff, "fraud-prod", alice()), Input::Look).await.unwrap();
        assert_eq!(phase(&step), Phase::Done, "{}", note(&step));
        let calls = sagemaker.calls().len();
        let again = run(&bg, &request("r2", Operation::Cutoff, "fraud-prod", bob()), Input::Look).await.unwrap();
        assert_eq!(phase(&again), Phase::Refused, "{tags:?}: {}", note(&again));
        assert!(note(&again).contains("nothing to do"), "{}", note(&again));
        assert_eq!(sagemaker.calls().len(), calls, "{tags:?}: no SageMaker call");
        assert!(sagemaker.endpoint_names().contains("fraud-prod"), "{tags:?}: the endpoint is not deleted");
        assert!(verify(&ledger).await.unwrap().ok());
    }
}

#[tokio::test]
async fn the_last_cutoff_step_deletes_only_after_a_second_person_approves_and_restore_recreates() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let cutoff = request("r1", Operation::Cutoff, "fraud-prod", alice());
    let step = run(&bg, &cutoff, Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::AwaitingApproval);
    assert!(sagemaker.calls().is_empty(), "nothing may be deleted before approval");
    assert!(notifier.sent()[0].body.contains("warden break-glass approve r1 --url URL"));

    // The requester cannot approve their own request.
    let step = run(&bg, &cutoff, Input::Approve { by: &alice() }).await.unwrap();
    assert_eq!(phase(&step), Phase::AwaitingApproval);
    let step = run(&bg, &cutoff, Input::Approve { by: &bob() }).await.unwrap();
    assert_eq!(phase(&step), Phase::Done, "{}", note(&step));
    assert!(sagemaker.endpoint_names().is_empty());
    assert_eq!(step.record.as_ref().and_then(|r| r.approved_by.clone()), Some(bob()));

    let step = run(&bg, &request("r2", Operation::Restore, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Done, "{}", note(&step));
    assert_eq!(observed(&sagemaker).await.1, "fraud-cfg-v2");
}

#[tokio::test]
async fn an_approval_after_the_window_closes_is_refused() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let cutoff = request("r1", Operation::Cutoff, "fraud-prod", alice());
    bg.step(&cutoff, Input::Look, at(0)).await.unwrap();
    let step = bg.step(&cutoff, Input::Approve { by: &bob() }, at(31)).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused);
    assert!(note(&step).contains("approval window closed"), "{}", note(&step));
    assert!(sagemaker.calls().is_empty());
}

#[tokio::test]
async fn rollback_goes_to_the_last_known_good_config_and_round_trips_keep_the_chain_valid() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    for round in 0..2 {
        let rollback = request(&format!("rb{round}"), Operation::Rollback, "fraud-prod", alice());
        let step = run(&bg, &rollback, Input::Look).await.unwrap();
        assert_eq!(phase(&step), Phase::Done, "{}", note(&step));
        assert_eq!(observed(&sagemaker).await.1, "fraud-cfg-v1");
        let step = run(&bg, &request(&format!("rs{round}"), Operation::Restore, "fraud-prod", alice()), Input::Look)
            .await
            .unwrap();
        assert_eq!(phase(&step), Phase::Done, "{}", note(&step));
        assert_eq!(observed(&sagemaker).await.1, "fraud-cfg-v2");
    }
    let report = verify(&ledger).await.unwrap();
    assert!(report.ok(), "{report:?}");
}

#[tokio::test]
async fn a_silent_rollback_is_detected_failed_and_alerted_as_critical() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    sagemaker.roll_back_next_update();
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let step = run(&bg, &request("r1", Operation::Rollback, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Failed);
    assert!(step.record.as_ref().is_some_and(|r| r.silent_rollback), "{}", note(&step));
    let last = notifier.sent().pop().unwrap();
    assert!(last.subject.starts_with("[CRITICAL] fraud-detector ROLLBACK SILENTLY ROLLED BACK"), "{}", last.subject);
    assert!(last.body.contains("InService on fraud-cfg-v2, not on fraud-cfg-v1"), "{}", last.body);
}

#[tokio::test]
async fn an_endpoint_with_an_update_in_progress_is_retried_later_not_failed() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    sagemaker.set_status("fraud-prod", EndpointStatus::Updating, 3);
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let rollback = request("r1", Operation::Rollback, "fraud-prod", alice());
    let error = run(&bg, &rollback, Input::Look).await.unwrap_err();
    assert!(matches!(error, BreakGlassError::RetryLater(_)) && error.is_retryable(), "{error}");
    assert!(sagemaker.calls().is_empty());
    // Redelivered while still updating: still waiting, nothing written twice.
    assert!(run(&bg, &rollback, Input::Look).await.is_err());
    let step = run(&bg, &rollback, Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Done, "{}", note(&step));
    assert_eq!(sagemaker.calls().len(), 1);
}

#[tokio::test]
async fn a_failed_endpoint_allows_only_delete() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED, (TAG_MAINTENANCE_CONFIG, "fraud-maintenance")]).await;
    sagemaker.set_status("fraud-prod", EndpointStatus::Failed, 0);
    let settings = Settings { delete_requires_approval: false, ..Settings::default() };
    let bg = executor(&ledger, &sagemaker, &notifier, settings);
    let step = run(&bg, &request("r1", Operation::Rollback, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused);
    assert!(note(&step).contains("only DeleteEndpoint"), "{}", note(&step));
    let step = run(&bg, &request("r2", Operation::Cutoff, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Done, "{}", note(&step));
    assert!(matches!(sagemaker.calls().as_slice(), [Change::DeleteEndpoint { .. }]));
}

#[tokio::test]
async fn the_kill_switch_and_shadow_mode_touch_nothing_and_say_what_would_have_happened() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    let mut bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    bg.kill_switch = true;
    let step = run(&bg, &request("r1", Operation::Rollback, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused);
    assert!(note(&step).contains("kill switch on; would have: update endpoint fraud-prod to config fraud-cfg-v1"));
    bg.kill_switch = false;
    bg.settings.mode = warden_core::action::Mode::Shadow;
    let step = run(&bg, &request("r2", Operation::Rollback, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Shadowed);
    assert!(sagemaker.calls().is_empty());
    let subjects: Vec<String> = notifier.sent().into_iter().map(|a| a.subject).collect();
    assert!(subjects[0].contains("ROLLBACK REFUSED") && subjects[1].starts_with("[INFO]"), "{subjects:?}");
}

#[tokio::test]
async fn scope_fails_closed_on_missing_tags_and_on_unreadable_tags() {
    let (ledger, sagemaker, notifier) = rig(&[("warden:managed", "false")]).await;
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let step = run(&bg, &request("r1", Operation::Cutoff, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused);
    assert!(note(&step).contains("out of scope (fraud-prod is not tagged warden:managed=true)"), "{}", note(&step));

    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    sagemaker.break_tags();
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let step = run(&bg, &request("r1", Operation::Cutoff, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused);
    assert!(note(&step).contains("AccessDeniedException; scoping fails closed"), "{}", note(&step));
    assert!(sagemaker.calls().is_empty());
}

/// A model placed in a member account plans its actions on its endpoint's ARN. Break-glass in the home account
/// refuses them before any SageMaker call, and records why: its SageMaker is the home account's, where an endpoint
/// with the same name (`fraud-prod` here) is another endpoint.
#[tokio::test]
async fn an_endpoint_in_another_account_is_refused_before_the_home_account_is_touched() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let before = observed(&sagemaker).await;
    for (n, target) in [
        "arn:aws:sagemaker:us-east-1:444455556666:endpoint/fraud-prod",
        "arn:aws:sagemaker:eu-west-1:111122223333:endpoint/fraud-prod",
    ]
    .into_iter()
    .enumerate()
    {
        let step = run(&bg, &request(&format!("r{n}"), Operation::Cutoff, target, alice()), Input::Look).await.unwrap();
        assert_eq!(phase(&step), Phase::Refused, "{target}");
        assert!(note(&step).contains("member role there"), "{}", note(&step));
    }
    assert!(sagemaker.calls().is_empty(), "{:?}", sagemaker.calls());
    assert_eq!(observed(&sagemaker).await, before);
}

/// A gate on a placed model's package version: its ARN is no endpoint or group ARN, and the home account's
/// SageMaker might even reach it (a package group shared by resource policy), but the model runs elsewhere, so it is
/// refused before any call.
#[tokio::test]
async fn a_package_of_a_model_placed_elsewhere_is_refused_before_any_call() {
    const MEMBER_PACKAGE: &str = "arn:aws:sagemaker:us-east-1:444455556666:model-package/member-scoring/3";
    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    let home = warden_core::placement::Placement::new(Some("111122223333".into()), Some("us-east-1".into()));
    let member = warden_core::inventory::InventoryFile::parse(
        "[[model]]\nid = \"member-scoring\"\nrisk = \"high\"\naccount = \"444455556666\"\nregion = \"us-east-1\"",
    )
    .unwrap();
    let engine = warden_app::ingest::Engine::new(
        &ledger,
        warden_core::policy::Policy::builtin().unwrap(),
        Actor::Automation("test".into()),
    )
    .with_home(home);
    engine.import_inventory(&member, "member", at(0)).await.unwrap();
    sagemaker.add_package(MEMBER_PACKAGE, ApprovalStatus::Approved, &[MANAGED]);
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let mut gate = request("g-member", Operation::Gate, MEMBER_PACKAGE, Actor::Automation("warden-macie".into()));
    gate.model_id = Some("member-scoring".into());
    let step = run(&bg, &gate, Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused, "{}", note(&step));
    assert!(note(&step).contains("model member-scoring runs in 444455556666/us-east-1"), "{}", note(&step));
    assert!(sagemaker.calls().is_empty(), "{:?}", sagemaker.calls());
}

#[tokio::test]
async fn the_cooldown_and_the_breaker_refuse_beyond_their_limits_but_never_hold_back_an_undo() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED, (TAG_FALLBACK_VARIANT, "blue")]).await;
    let settings = Settings { max_actions_per_target: 2, ..Settings::default() };
    let bg = executor(&ledger, &sagemaker, &notifier, settings);
    for n in 0..2 {
        let step = run(&bg, &request(&format!("c{n}"), Operation::Cutoff, "fraud-prod", alice()), Input::Look).await;
        let step = step.unwrap();
        assert_eq!(phase(&step), Phase::Done, "cutoff {n}: {}", note(&step));
        let step = run(&bg, &request(&format!("u{n}"), Operation::Restore, "fraud-prod", alice()), Input::Look).await;
        let step = step.unwrap();
        assert_eq!(phase(&step), Phase::Done, "restore {n}: {}", note(&step));
    }
    let step = run(&bg, &request("c2", Operation::Cutoff, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused);
    assert!(note(&step).contains("cooldown: 2 actions on fraud-prod"), "{}", note(&step));

    let (ledger, sagemaker, notifier) = rig(&[MANAGED, (TAG_FALLBACK_VARIANT, "blue")]).await;
    sagemaker.add_endpoint("other-prod", "fraud-cfg-v2", &[MANAGED, (TAG_FALLBACK_VARIANT, "blue")]);
    let settings = Settings { max_actions_per_hour: 1, ..Settings::default() };
    let bg = executor(&ledger, &sagemaker, &notifier, settings);
    assert_eq!(
        phase(&run(&bg, &request("a", Operation::Cutoff, "fraud-prod", alice()), Input::Look).await.unwrap()),
        Phase::Done
    );
    let step = run(&bg, &request("b", Operation::Cutoff, "other-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused);
    assert!(note(&step).contains("circuit breaker"), "{}", note(&step));
    let undo = run(&bg, &request("c", Operation::Restore, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&undo), Phase::Done, "{}", note(&undo));
}

/// The fenced lease: A waits on a busy endpoint past its lease, B takes the lease, and when the endpoint is
/// InService only the holder calls SageMaker (both used to: two calls). A is refused, saying why.
#[tokio::test]
async fn a_request_that_lost_its_lease_while_waiting_never_calls() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED, (TAG_FALLBACK_VARIANT, "blue")]).await;
    sagemaker.set_status("fraud-prod", EndpointStatus::Updating, 1_000);
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let a = request("a", Operation::Rollback, "fraud-prod", alice());
    let b = request("b", Operation::Cutoff, "fraud-prod", bob());
    let waiting = |step: Result<Step, BreakGlassError>| step.is_ok_and(|s| phase(&s) == Phase::Requested);
    assert!(waiting(bg.step(&a, Input::Look, at(1)).await), "A waits for the busy endpoint");
    assert!(waiting(bg.step(&b, Input::Look, at(20)).await), "B takes the expired lease and waits too");
    sagemaker.set_status("fraud-prod", EndpointStatus::InService, 0);
    let step = bg.step(&a, Input::Look, at(21)).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused, "{}", note(&step));
    assert!(note(&step).contains("request b took the lock"), "{}", note(&step));
    let step = bg.step(&b, Input::Look, at(22)).await.unwrap();
    assert!(matches!(phase(&step), Phase::Verifying | Phase::Done), "{}", note(&step));
    assert_eq!(sagemaker.calls().len(), 1, "exactly one SageMaker call: {:?}", sagemaker.calls());
    assert!(verify(&ledger).await.unwrap().ok());
}

/// Limits are checked at the moment of each call, so actions queued behind busy endpoints count: five queued at
/// 9 of an hourly 10 give one action, not five (14 actions in the hour before).
#[tokio::test]
async fn queued_actions_cannot_pass_the_circuit_breaker() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED, (TAG_FALLBACK_VARIANT, "blue")]).await;
    let settings = Settings { max_actions_per_hour: 10, ..Settings::default() };
    let bg = executor(&ledger, &sagemaker, &notifier, settings);
    let names: Vec<String> = (0..14).map(|n| format!("ep-{n}")).collect();
    for name in &names {
        sagemaker.add_endpoint(name, "fraud-cfg-v2", &[MANAGED, (TAG_FALLBACK_VARIANT, "blue")]);
    }
    for name in &names[..9] {
        let step =
            bg.step(&request(&format!("done-{name}"), Operation::Cutoff, name, alice()), Input::Look, at(1)).await;
        assert_eq!(step.map(|s| phase(&s)).ok(), Some(Phase::Verifying), "{name}");
    }
    let queued: Vec<BreakGlassRequest> =
        names[9..].iter().map(|name| request(&format!("queued-{name}"), Operation::Cutoff, name, alice())).collect();
    for (request, name) in queued.iter().zip(&names[9..]) {
        sagemaker.set_status(name, EndpointStatus::Updating, 1_000);
        let step = bg.step(request, Input::Look, at(2)).await;
        assert!(step.is_ok_and(|s| phase(&s) == Phase::Requested), "{name} waits");
    }
    for name in &names[9..] {
        sagemaker.set_status(name, EndpointStatus::InService, 0);
    }
    let mut called = 0;
    for request in &queued {
        let step = bg.step(request, Input::Look, at(3)).await.unwrap();
        if phase(&step) == Phase::Refused {
            assert!(note(&step).contains("circuit breaker"), "{}", note(&step));
        } else {
            called += 1;
        }
    }
    assert_eq!(called, 1, "the tenth action only");
    assert_eq!(sagemaker.calls().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_simultaneous_requests_for_one_endpoint_give_exactly_one_action() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED, (TAG_FALLBACK_VARIANT, "blue")]).await;
    // Leaked so that tasks on other threads can share them ('static); the test process ends soon after.
    let (ledger, sagemaker, notifier) =
        (Box::leak(Box::new(ledger)), Box::leak(Box::new(sagemaker)), Box::leak(Box::new(notifier)));
    let bg: &'static Executor<'static, &'static MemorySageMaker> =
        Box::leak(Box::new(executor(ledger, &*sagemaker, notifier, Settings::default())));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..8 {
        let request = request(&format!("r{n}"), Operation::Cutoff, "fraud-prod", alice());
        tasks.spawn(async move { run(bg, &request, Input::Look).await.map(|s| phase(&s)) });
    }
    let phases: Vec<Phase> = tasks.join_all().await.into_iter().map(Result::unwrap).collect();
    let done = phases.iter().filter(|p| **p == Phase::Done).count();
    let refused = phases.iter().filter(|p| **p == Phase::Refused).count();
    assert_eq!((done, refused), (1, 7), "{phases:?}");
    assert_eq!(sagemaker.calls().len(), 1);
    assert!(verify(&*ledger).await.unwrap().ok());
}

/// A SageMaker whose next call is lost in a crash: either before reaching SageMaker or after it took effect.
struct Crashing<'a> {
    inner: &'a MemorySageMaker,
    crash_after_call: bool,
    crashes_left: AtomicU32,
}

impl SageMaker for Crashing<'_> {
    async fn observe_endpoint(&self, name: &str) -> Result<Observation, SageMakerError> {
        self.inner.observe_endpoint(name).await
    }
    async fn observe_package(&self, arn: &str) -> Result<Observation, SageMakerError> {
        self.inner.observe_package(arn).await
    }
    async fn apply(&self, change: &Change) -> Result<(), SageMakerError> {
        if self.crashes_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_err() {
            return self.inner.apply(change).await;
        }
        if self.crash_after_call {
            self.inner.apply(change).await?;
        }
        Err(SageMakerError::Unavailable("connection reset (simulated crash)".into()))
    }
}

#[tokio::test]
async fn a_crash_between_executing_and_verifying_resumes_by_looking_first() {
    for crash_after_call in [false, true] {
        let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
        let crashing = Crashing { inner: &sagemaker, crash_after_call, crashes_left: AtomicU32::new(1) };
        let bg = executor(&ledger, crashing, &notifier, Settings::default());
        let rollback = request("r1", Operation::Rollback, "fraud-prod", alice());
        let error = run(&bg, &rollback, Input::Look).await.unwrap_err();
        assert!(error.is_retryable(), "{error}");
        let stuck = ledger.records(&["action#r1".to_owned()]).await.unwrap();
        assert_eq!(stuck["action#r1"].value["phase"], "executing");
        let step = run(&bg, &rollback, Input::Look).await.unwrap();
        assert_eq!(phase(&step), Phase::Done, "{}", note(&step));
        // Exactly one UpdateEndpoint reached SageMaker, whichever side of the call the crash fell on.
        assert_eq!(sagemaker.calls().len(), 1, "crash after call: {crash_after_call}");
        let resumed = step.record.as_ref().map(|r| r.calls).unwrap_or_default();
        assert_eq!(resumed, if crash_after_call { 1 } else { 2 }, "{}", note(&step));
    }
}

#[tokio::test]
async fn gate_holds_a_package_and_only_a_person_may_release_it() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let gate = request("g1", Operation::Gate, PACKAGE, Actor::Automation("warden-macie".into()));
    let step = run(&bg, &gate, Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Done, "{}", note(&step));
    assert!(matches!(
        sagemaker.observe_package(PACKAGE).await.unwrap(),
        Observation::Package(p) if p.approval == ApprovalStatus::PendingManualApproval
    ));
    let by_automation = request("x1", Operation::Release, PACKAGE, Actor::Automation("warden-macie".into()));
    let step = run(&bg, &by_automation, Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused);
    let release = request("rel1", Operation::Release, PACKAGE, alice());
    assert_eq!(phase(&run(&bg, &release, Input::Look).await.unwrap()), Phase::Done);
    assert!(matches!(
        sagemaker.observe_package(PACKAGE).await.unwrap(),
        Observation::Package(p) if p.approval == ApprovalStatus::Approved
    ));
    assert_eq!(run(&bg, &release, Input::Look).await.unwrap().next, Next::Stop, "a redelivery changes nothing");
}

/// A SageMaker that refuses to describe anything (a role without DescribeEndpoint).
struct Blind;

impl SageMaker for Blind {
    async fn observe_endpoint(&self, _: &str) -> Result<Observation, SageMakerError> {
        Err(SageMakerError::Rejected("DescribeEndpoint: AccessDeniedException".into()))
    }
    async fn observe_package(&self, _: &str) -> Result<Observation, SageMakerError> {
        Err(SageMakerError::Rejected("DescribeModelPackage: AccessDeniedException".into()))
    }
    async fn apply(&self, _: &Change) -> Result<(), SageMakerError> {
        panic!("nothing may be called on a target Warden cannot see")
    }
}

#[tokio::test]
async fn a_target_warden_cannot_describe_is_refused_recorded_and_alerted_not_lost() {
    let (ledger, _, notifier) = rig(&[MANAGED]).await;
    let bg = executor(&ledger, Blind, &notifier, Settings::default());
    let step = run(&bg, &request("r1", Operation::Cutoff, "fraud-prod", alice()), Input::Look).await.unwrap();
    assert_eq!(phase(&step), Phase::Refused);
    assert!(note(&step).contains("cannot read the target: DescribeEndpoint: AccessDeniedException"), "{}", note(&step));
    assert_eq!(phases_on_chain(&ledger, "r1").await, [Phase::Refused]);
    assert!(notifier.sent()[0].subject.contains("CUTOFF REFUSED"));
}

/// The bundled story's approval of fraud-detector version 8 while its training data has an open Macie finding.
async fn approval_after_finding(ledger: &EmbeddedLedger, last_modified: &str) -> warden_core::engine::Report {
    let engine = warden_app::ingest::Engine::new(
        ledger,
        warden_core::policy::Policy::builtin().unwrap(),
        Actor::Automation("warden-sagemaker".into()),
    );
    let text = std::fs::read_to_string(warden_tests::events_dir().join("inventory.toml")).unwrap();
    engine
        .import_inventory(&warden_core::inventory::InventoryFile::parse(&text).unwrap(), "story", at(0))
        .await
        .unwrap();
    let finding =
        warden_tests::read(&warden_tests::events_dir().join("macie-finding-sensitive-data-training-bucket-gate.json"));
    engine.ingest_bytes(&finding, at(0)).await.unwrap();
    let approval = warden_tests::events_dir().join("sagemaker-model-package-approved-open-data-finding-gate.json");
    let mut event: serde_json::Value = serde_json::from_slice(&warden_tests::read(&approval)).unwrap();
    event["detail"]["LastModifiedTime"] = last_modified.into();
    event["id"] = format!("approval-at-{last_modified}").into();
    engine.ingest_value(event.clone(), event.to_string().as_bytes(), at(0)).await.unwrap()
}

#[tokio::test]
async fn sagemaker_reporting_a_persons_release_is_recorded_as_warden_s_own_change_not_gated_again() {
    const PACKAGE_8: &str = "arn:aws:sagemaker:us-east-1:111122223333:model-package/fraud-detector/8";
    // Without a release by Warden, the approval is gated (the open finding): the rule the echo must not re-fire.
    let baseline = approval_after_finding(&EmbeddedLedger::in_memory().unwrap(), "2026-11-02T13:05:00Z").await;
    assert!(baseline.actions.iter().any(|a| a.target == PACKAGE_8), "{:?}", baseline.actions);

    // A person releases the package through Warden at 13:04:30; SageMaker reports it Approved at 13:05.
    let ledger = EmbeddedLedger::in_memory().unwrap();
    let sagemaker = MemorySageMaker::new(1);
    sagemaker.add_package(PACKAGE_8, ApprovalStatus::PendingManualApproval, &[MANAGED]);
    let notifier = MemoryNotifier::default();
    let bg = executor(&ledger, &sagemaker, &notifier, Settings::default());
    let released_at = Timestamp::parse("2026-11-02T13:04:30Z").unwrap();
    let release = request("rel8", Operation::Release, PACKAGE_8, alice());
    let step = bg.drive(&release, Input::Look, || released_at, |_| async {}, 5).await.unwrap();
    assert_eq!(phase(&step), Phase::Done, "{}", note(&step));

    let echo = approval_after_finding(&ledger, "2026-11-02T13:05:00Z").await;
    assert!(echo.actions.is_empty(), "the release must stand: {:?}", echo.actions);
    assert_eq!((echo.alert, echo.rules.as_slice()), (None, &["warden-own-change".to_owned()][..]));

    // An approval long after the release is someone's new decision, judged as usual.
    let later = approval_after_finding(&ledger, "2026-11-02T15:00:00Z").await;
    assert!(later.actions.iter().any(|a| a.target == PACKAGE_8), "{:?}", later.actions);
    assert!(verify(&ledger).await.unwrap().ok());
}

#[test]
fn an_endpoint_in_service_on_the_config_warden_set_soon_after_is_its_echo_and_nothing_else_is() {
    use warden_core::action::{Change, LastChange};
    let fixture = warden_tests::events_dir().join("sagemaker-endpoint-inservice-records-config.json");
    let event = warden_core::event::decode_value(
        serde_json::from_slice(&warden_tests::read(&fixture)).unwrap(),
        Timestamp::now(),
    )
    .unwrap();
    let signal = warden_core::signal::Signal::from_event(&event);
    let change = |config: &str, minutes_before: i64| LastChange {
        request_id: "r1".into(),
        operation: Operation::Rollback,
        change: Change::UpdateEndpoint { endpoint: "support-summarizer-prod".into(), config: config.into() },
        reverse: None,
        at: signal.occurred_at.plus_minutes(-minutes_before).unwrap(),
    };
    assert!(change("support-cfg-v4", 1).echoed_by(&signal));
    assert!(!change("support-cfg-v3", 1).echoed_by(&signal), "another config is not the result of this change");
    assert!(!change("support-cfg-v4", 11).echoed_by(&signal), "outside the echo window");
    assert!(!change("support-cfg-v4", -2).echoed_by(&signal), "an event before the change cannot report it");
    let deleted = LastChange {
        change: Change::DeleteEndpoint { endpoint: "support-summarizer-prod".into() },
        ..change("support-cfg-v4", 1)
    };
    assert!(!deleted.echoed_by(&signal), "InService is not what a delete leads to");
}

#[tokio::test]
async fn inputs_break_glass_cannot_act_on_are_recorded_and_alerted_once_not_retried() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    let handler = warden_app::inbox::BreakGlassHandler {
        executor: executor(&ledger, &sagemaker, &notifier, Settings::default()),
        polls: 2,
        poll_interval: std::time::Duration::ZERO,
        person_roles: Vec::new(),
    };
    let request = |detail: serde_json::Value| serde_json::json!({"source": "warden.governance", "detail-type": "Warden Break-Glass Requested", "detail": detail});
    let no_target = request(serde_json::json!({"schemaVersion": 1, "requestId": "r1", "action": "cutoff"}));
    let approval_of_nothing = serde_json::json!({
        "source": "warden.governance", "detail-type": "Warden Break-Glass Approved",
        "detail": {"schemaVersion": 1, "requestId": "manual-typo-1", "approvedBy": {"type": "person", "name": "bob"},
                   "approvedAt": "2026-11-22T06:00:00Z"}
    });
    let misrouted = serde_json::json!({"source": "aws.macie", "detail-type": "Macie Finding", "detail": {}});
    let cases = [
        (no_target, "missing field"),
        (approval_of_nothing, "approvals come signed by the approver to the break-glass function URL"),
        (misrouted, "unsupported"),
    ];
    for (n, (payload, says)) in cases.iter().enumerate() {
        let outcome = handler.handle(payload.clone()).await.unwrap();
        assert_eq!(outcome["status"], "rejected", "{outcome}");
        assert!(outcome["error"].as_str().unwrap().contains(says), "{outcome}");
        assert_eq!(notifier.sent().len(), n + 1, "one alert per rejected input");
        // The same input again (a redelivery) is recorded once and alerted once.
        assert_eq!(handler.handle(payload.clone()).await.unwrap()["alerted"], false);
    }
    let rejected = warden_tests::unattributed_entries(&ledger)
        .await
        .into_iter()
        .filter(|e| matches!(e.entry.body, EntryBody::Rejected { .. }))
        .count();
    assert_eq!(rejected, 3);
    assert!(sagemaker.calls().is_empty(), "nothing was changed");
    assert!(verify(&ledger).await.unwrap().ok());
}

/// What Lambda passes the function for a request to its URL that `caller` signed (no emulator verifies SigV4, so
/// the tests inject the request context the service would).
fn signed(caller: &str, method: &str, body: &serde_json::Value) -> serde_json::Value {
    warden_tests::function_url::url_event(caller, method, &body.to_string())
}

const ALICE_ADMIN: &str = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice";
const ALICE_OPERATOR: &str = "arn:aws:sts::444455556666:assumed-role/AWSReservedSSO_Operator_fedcba9876543210/alice";
const BOB_LISTED_ROLE: &str = "arn:aws:sts::111122223333:assumed-role/BreakGlassPerson/bob";
const ROLE_NAMED_BOB: &str = "arn:aws:sts::111122223333:assumed-role/Deployer/bob";

type UrlHandler<'a> = warden_app::inbox::BreakGlassHandler<&'a EmbeddedLedger, &'a MemorySageMaker, &'a MemoryNotifier>;

fn url_handler<'a>(
    ledger: &'a EmbeddedLedger,
    sagemaker: &'a MemorySageMaker,
    notifier: &'a MemoryNotifier,
) -> UrlHandler<'a> {
    warden_app::inbox::BreakGlassHandler {
        executor: executor(ledger, sagemaker, notifier, Settings::default()),
        polls: 2,
        poll_interval: std::time::Duration::ZERO,
        person_roles: vec!["BreakGlassPerson".into()],
    }
}

/// The HTTP status and the JSON body of a function URL response.
async fn ask(handler: &UrlHandler<'_>, caller: &str, body: serde_json::Value) -> (u64, serde_json::Value) {
    let response = handler.handle(signed(caller, "POST", &body)).await.unwrap();
    let status = response["statusCode"].as_u64().unwrap();
    (status, serde_json::from_str(response["body"].as_str().unwrap()).unwrap())
}

/// The two-person rule against one person who tries to be two: approving their own request under another
/// permission set, through a role session they named after a colleague, by naming the colleague in the body, or by
/// putting an approval (or a person's request) on the bus. Each is refused and nothing is called; the colleague's
/// own signed approval carries it out.
#[tokio::test]
async fn one_person_cannot_be_two_at_the_function_url_or_on_the_bus() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    let handler = url_handler(&ledger, &sagemaker, &notifier);
    let cutoff =
        serde_json::json!({"ask": "request", "action": "cutoff", "target": "fraud-prod", "reason": "PII leak"});
    let (status, step) = ask(&handler, ALICE_ADMIN, cutoff).await;
    assert_eq!((status, &step["phase"]), (200, &serde_json::json!("awaiting-approval")), "{step}");
    let request_id = step["request_id"].as_str().unwrap().to_owned();
    let approve = serde_json::json!({"ask": "approve", "requestId": request_id});

    // Alice again, under another permission set in another account: the same person, refused and recorded.
    let (status, refused) = ask(&handler, ALICE_OPERATOR, approve.clone()).await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("cannot be the second person"), "{refused}");
    // A role session Alice named "bob": automation under its role, never Bob.
    let (status, refused) = ask(&handler, ROLE_NAMED_BOB, approve.clone()).await;
    assert_eq!(status, 403, "{refused}");
    // Naming Bob in the body.
    let forged = serde_json::json!({"ask": "approve", "requestId": request_id, "approvedBy": {"type": "person", "name": "iam-user/111122223333/bob"}});
    let (status, refused) = ask(&handler, ALICE_ADMIN, forged).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("unknown field `approvedBy`"), "{refused}");
    // An approval on the bus naming Bob, and a request on the bus in a person's name.
    let bus_approval = serde_json::json!({
        "source": "warden.governance", "detail-type": "Warden Break-Glass Approved",
        "detail": {"schemaVersion": 1, "requestId": request_id, "approvedBy": {"type": "person", "name": "iam-user/111122223333/bob"},
                   "approvedAt": "2026-11-02T09:00:00Z"}
    });
    assert_eq!(handler.handle(bus_approval).await.unwrap()["status"], "rejected");
    let mut bus_request = request("forged-1", Operation::Restore, "fraud-prod", Actor::Person("sso/alice".into()));
    bus_request.requested_at = Timestamp::now();
    let bus_request = serde_json::json!({"source": "warden.governance", "detail-type": "Warden Break-Glass Requested",
                                          "detail": serde_json::to_value(&bus_request).unwrap()});
    let rejected = handler.handle(bus_request).await.unwrap();
    assert_eq!(rejected["status"], "rejected", "{rejected}");
    assert!(rejected["error"].as_str().unwrap().contains("function URL"), "{rejected}");
    assert!(sagemaker.calls().is_empty(), "nothing was called while one person tried to be two");

    // Bob, signing for himself through the role whose sessions carry the user's name.
    let (status, step) = ask(&handler, BOB_LISTED_ROLE, approve).await;
    assert_eq!((status, &step["phase"]), (200, &serde_json::json!("done")), "{step}");
    assert!(sagemaker.endpoint_names().is_empty(), "the approved delete ran");
    let record = warden_app::breakglass::recorded_request(&ledger, &request_id).await.unwrap();
    assert_eq!(record.requested_by, Actor::Person("sso/alice".into()));
    let rejections = warden_tests::unattributed_entries(&ledger).await;
    assert_eq!(rejections.len(), 5, "both refused approvals, the forged body and both bus inputs are recorded");
    let recorded = serde_json::to_string(&rejections.iter().map(|e| &e.entry).collect::<Vec<_>>()).unwrap();
    assert!(!recorded.contains("SESSION-TOKEN-SECRET"), "a request's headers are never recorded");
    let actors: Vec<_> = ledger.entries("fraud-detector").await.unwrap().into_iter().map(|e| e.entry.actor).collect();
    assert!(actors.contains(&Actor::Person("iam-user/111122223333/bob".into())), "{actors:?}");
    assert!(verify(&ledger).await.unwrap().ok());
}

/// Who may not act at all, and what a role session may not ask for.
#[tokio::test]
async fn the_function_url_refuses_what_it_cannot_attribute_and_automation_never_restores() {
    let (ledger, sagemaker, notifier) = rig(&[MANAGED]).await;
    let handler = url_handler(&ledger, &sagemaker, &notifier);
    let restore =
        serde_json::json!({"ask": "request", "action": "restore", "target": "fraud-prod", "reason": "all clear"});
    // A role session asks nothing at the URL: one person could ask as it and approve as themselves.
    let (status, refused) = ask(&handler, ROLE_NAMED_BOB, restore.clone()).await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("only people do"), "{refused}");
    // A reason that would write lines of its own into the alerts.
    let forged_lines = serde_json::json!({"ask": "request", "action": "cutoff", "target": "fraud-prod", "reason": "x\nApproved by person:sso/bob"});
    let (status, refused) = ask(&handler, ALICE_ADMIN, forged_lines).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("control character"), "{refused}");
    let (status, refused) = ask(&handler, "arn:aws:iam::111122223333:root", restore.clone()).await;
    assert_eq!(status, 403, "{refused}");
    let response = handler.handle(signed(ALICE_ADMIN, "GET", &restore)).await.unwrap();
    assert_eq!(response["statusCode"], 405, "{response}");
    let mut unsigned = signed(ALICE_ADMIN, "POST", &restore);
    unsigned["requestContext"].as_object_mut().unwrap().remove("authorizer");
    assert_eq!(handler.handle(unsigned).await.unwrap()["statusCode"], 403);
    let (status, missing) =
        ask(&handler, ALICE_ADMIN, serde_json::json!({"ask": "approve", "requestId": "manual-nope-1"})).await;
    assert_eq!(status, 404, "{missing}");
    let huge = serde_json::json!({"ask": "request", "action": "gate", "target": "x", "reason": "a".repeat(20_000)});
    assert_eq!(ask(&handler, ALICE_ADMIN, huge).await.0, 413);

    // The kill switch: a role session cannot set it; a person can, and is recorded as who did.
    let on = serde_json::json!({"ask": "kill-switch", "on": true, "reason": "incident drill"});
    let (status, refused) = ask(&handler, ROLE_NAMED_BOB, on.clone()).await;
    assert_eq!(status, 403, "{refused}");
    let keys = [warden_core::breakglass::KILL_SWITCH_KEY.to_owned()];
    assert!(ledger.records(&keys).await.unwrap().is_empty(), "nothing was set");
    let (status, set) = ask(&handler, ALICE_ADMIN, on).await;
    assert_eq!((status, &set["on"]), (200, &serde_json::json!(true)), "{set}");
    assert_eq!(set["by"], serde_json::json!({"type": "person", "name": "sso/alice"}));
    let stored = ledger.records(&keys).await.unwrap();
    assert_eq!(stored.values().next().map(|r| r.value["on"].clone()), Some(serde_json::json!(true)));
    let (status, _) =
        ask(&handler, ALICE_ADMIN, serde_json::json!({"ask": "kill-switch", "on": false, "reason": " "})).await;
    assert_eq!(status, 400, "a reason is required");
    assert!(sagemaker.calls().is_empty());
    assert!(verify(&ledger).await.unwrap().ok());
}
