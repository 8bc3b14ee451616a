//! The break-glass state machine, table-driven and pure: every phase × every input it can receive × what
//! SageMaker can show, with no ledger, executor or SageMaker involved. Invariants hold in every cell; the cells that
//! decide the action's fate are pinned one by one.

use std::collections::BTreeMap;

use super::*;
use crate::action::{Change, Operation, Phase};
use crate::event::sagemaker::EndpointStatus;

const REQUEST: &str = "req-1";
const ENDPOINT: &str = "credit-scoring-prod";

fn at(minute: i64) -> Timestamp {
    Timestamp::from_millis(1_793_664_000_000 + minute * 60_000).unwrap_or(Timestamp::MIN)
}

fn alice() -> Actor {
    Actor::Person("alice".into())
}

fn request() -> BreakGlassRequest {
    BreakGlassRequest {
        schema_version: 1,
        request_id: REQUEST.into(),
        decision_id: "wd-1".into(),
        action: Operation::Rollback,
        target: ENDPOINT.into(),
        config: Some("cfg-good".into()),
        model_id: Some("credit-scoring".into()),
        reason: "drift".into(),
        requested_by: alice(),
        requested_at: at(0),
    }
}

fn change() -> Change {
    Change::UpdateEndpoint { endpoint: ENDPOINT.into(), config: "cfg-good".into() }
}

fn record(phase: Phase) -> ActionRecord {
    ActionRecord {
        request: request(),
        phase,
        change: Some(change()),
        reverse: Some(Change::UpdateEndpoint { endpoint: ENDPOINT.into(), config: "cfg-bad".into() }),
        note: String::new(),
        approved_by: None,
        approval_expires_at: (phase == Phase::AwaitingApproval).then(|| at(30)),
        calls: u32::from(matches!(phase, Phase::Executing | Phase::Verifying)),
        silent_rollback: false,
        updated_at: at(0),
        transition_key: "t".into(),
    }
}

fn facts(phase: Phase) -> Facts {
    Facts {
        record: Some(Versioned { version: 3, value: record(phase) }),
        lock: Some(Versioned {
            version: 1,
            value: Lock { request_id: REQUEST.into(), expires_at: at(15), hold_minutes: 15 },
        }),
        target_window: None,
        account_window: None,
        last_change: None,
        model: Some(model()),
        kill_switch: false,
    }
}

/// The model the request names: it owns the endpoint, which has served the good and the bad config.
fn model() -> crate::inventory::Model {
    let mut model = crate::inventory::Model::new("credit-scoring");
    let mut endpoint = crate::inventory::EndpointRecord::new(ENDPOINT);
    for config in ["cfg-good", "cfg-bad"] {
        endpoint.history.push(crate::inventory::ConfigDeployment {
            config: config.into(),
            in_service_at: None,
            suspect: false,
        });
    }
    endpoint.current_config = Some("cfg-bad".into());
    model.endpoints.push(endpoint);
    model
}

fn endpoint(status: EndpointStatus, config: &str, pending: Option<&str>) -> Observation {
    Observation::Endpoint(EndpointView {
        name: ENDPOINT.into(),
        status,
        config: config.into(),
        pending_config: pending.map(str::to_owned),
        variants: Vec::new(),
        failure_reason: None,
        tags: Ok(BTreeMap::from([("warden:managed".to_owned(), "true".to_owned())])),
    })
}

/// What SageMaker can show, by name.
fn observations() -> Vec<(&'static str, Observation)> {
    vec![
        ("in service on the bad config", endpoint(EndpointStatus::InService, "cfg-bad", None)),
        ("in service on the good config", endpoint(EndpointStatus::InService, "cfg-good", None)),
        ("updating to the good config", endpoint(EndpointStatus::Updating, "cfg-bad", Some("cfg-good"))),
        ("updating to another config", endpoint(EndpointStatus::Updating, "cfg-bad", Some("cfg-other"))),
        ("in service on another config", endpoint(EndpointStatus::InService, "cfg-other", None)),
        ("missing", Observation::Missing),
        ("unreadable", Observation::Unreadable("AccessDenied".into())),
    ]
}

const PHASES: [Phase; 8] = [
    Phase::Requested,
    Phase::AwaitingApproval,
    Phase::Executing,
    Phase::Verifying,
    Phase::Done,
    Phase::Failed,
    Phase::Refused,
    Phase::Shadowed,
];

fn bob() -> Actor {
    Actor::Person("bob".into())
}

fn automation() -> Actor {
    Actor::Automation("warden-drift".into())
}

/// Every input the machine can receive.
fn inputs(actors: &[Actor; 5]) -> Vec<(&'static str, Input<'_>)> {
    let [bob, alice, automation, bob_direct, alice_direct] = actors;
    vec![
        ("look", Input::Look),
        ("approval by a second person", Input::Approve { by: bob }),
        ("approval by the requester", Input::Approve { by: alice }),
        ("approval by automation", Input::Approve { by: automation }),
        // `--here` names its caller from STS: never one of the two people, whoever it is.
        ("approval by a second person acting directly", Input::Approve { by: bob_direct }),
        ("approval by the requester acting directly", Input::Approve { by: alice_direct }),
    ]
}

fn actors() -> [Actor; 5] {
    [bob(), alice(), automation(), Actor::Direct("bob".into()), Actor::Direct("alice".into())]
}

fn releases_the_lock(m: &Move) -> bool {
    m.writes.iter().any(|w| w.key == lock_key(ENDPOINT) && w.value.is_none())
}

#[test]
fn every_phase_input_and_observation_keeps_the_invariants() {
    let settings = Settings::default();
    let switches = Switches { settings: &settings, kill_switch: false };
    let actors = actors();
    let bob = bob();
    let mut cells = 0;
    for phase in PHASES {
        for (input_name, input) in inputs(&actors) {
            for (seen, observed) in observations() {
                cells += 1;
                let cell = format!("{phase} × {input_name} × {seen}");
                let m = decide(&request(), &input, &facts(phase), &observed, &switches, at(5));
                let busy = matches!(&observed, Observation::Endpoint(e) if e.in_progress());
                if phase.is_terminal() {
                    assert_eq!((m.record.is_none(), m.writes.is_empty(), &m.next), (true, true, &Next::Stop), "{cell}");
                    continue;
                }
                if matches!(observed, Observation::Unreadable(_)) {
                    assert!(
                        m.record.is_none() && matches!(m.next, Next::RetryLater(_)),
                        "{cell}: never concludes blind"
                    );
                }
                if let Next::Call(call) = &m.next {
                    assert!(!busy, "{cell}: never calls a busy endpoint");
                    let written = m.record.as_ref().map(|r| (r.phase, r.calls));
                    assert!(
                        matches!(written, Some((Phase::Executing, calls)) if calls > record(phase).calls),
                        "{cell}: the call is recorded before it is made: {written:?}"
                    );
                    assert_eq!(call, &change(), "{cell}");
                }
                if let Some(next) = &m.record {
                    if next.phase.is_terminal() {
                        assert!(releases_the_lock(&m), "{cell}: a finished action releases its endpoint");
                    }
                    assert!(
                        next.approved_by.as_ref().is_none_or(|by| *by == bob),
                        "{cell}: only a second person approves"
                    );
                }
                if phase == Phase::AwaitingApproval && !matches!(input, Input::Approve { by } if *by == bob) {
                    assert!(m.record.is_none() && !matches!(m.next, Next::Call(_)), "{cell}: still waiting");
                }
            }
        }
    }
    assert_eq!(cells, 8 * 6 * 7);
}

#[test]
fn the_cells_that_decide_an_action_s_fate() {
    let settings = Settings::default();
    let switches = Switches { settings: &settings, kill_switch: false };
    let bob = bob();
    let look = Input::Look;
    let cases: Vec<(Phase, &Input<'_>, usize, Option<Phase>, &str)> = vec![
        (Phase::Requested, &look, 0, Some(Phase::Executing), "call"),
        (Phase::Requested, &look, 2, None, "retry"),
        (Phase::Requested, &look, 3, None, "retry"),
        (Phase::Executing, &look, 0, Some(Phase::Executing), "call"),
        (Phase::Executing, &look, 1, Some(Phase::Verifying), "poll"),
        (Phase::Executing, &look, 2, Some(Phase::Verifying), "poll"),
        (Phase::Executing, &look, 3, None, "retry"),
        (Phase::Verifying, &look, 1, Some(Phase::Done), "stop"),
        (Phase::Verifying, &look, 2, None, "poll"),
        (Phase::Verifying, &look, 4, Some(Phase::Failed), "stop"),
        (Phase::AwaitingApproval, &look, 0, None, "stop"),
    ];
    let approve = Input::Approve { by: &bob };
    let approved: Vec<(Phase, &Input<'_>, usize, Option<Phase>, &str)> =
        vec![(Phase::AwaitingApproval, &approve, 0, Some(Phase::Executing), "call")];
    let observations = observations();
    for (phase, input, seen, expected_phase, expected_next) in cases.into_iter().chain(approved) {
        let (name, observed) = &observations[seen];
        let m = decide(&request(), input, &facts(phase), observed, &switches, at(5));
        let next = match m.next {
            Next::Stop => "stop",
            Next::Call(_) => "call",
            Next::Poll => "poll",
            Next::RetryLater(_) => "retry",
        };
        assert_eq!((m.record.map(|r| r.phase), next), (expected_phase, expected_next), "{phase} × {name}");
    }
}

#[test]
fn in_service_on_another_config_while_verifying_is_a_silent_rollback() {
    let settings = Settings::default();
    let switches = Switches { settings: &settings, kill_switch: false };
    let observed = endpoint(EndpointStatus::InService, "cfg-other", None);
    let m = decide(&request(), &Input::Look, &facts(Phase::Verifying), &observed, &switches, at(5));
    let failed = m.record.unwrap_or_else(|| record(Phase::Requested));
    assert_eq!((failed.phase, failed.silent_rollback), (Phase::Failed, true));
}

#[test]
fn the_kill_switch_refuses_before_the_call_and_an_expired_approval_refuses_on_the_next_look() {
    let settings = Settings::default();
    let observed = endpoint(EndpointStatus::InService, "cfg-bad", None);
    let killed = Switches { settings: &settings, kill_switch: true };
    let m = decide(&request(), &Input::Look, &facts(Phase::Requested), &observed, &killed, at(5));
    assert_eq!(m.record.map(|r| r.phase), Some(Phase::Refused));
    assert!(!matches!(m.next, Next::Call(_)));
    let switches = Switches { settings: &settings, kill_switch: false };
    let late = decide(&request(), &Input::Look, &facts(Phase::AwaitingApproval), &observed, &switches, at(31));
    assert_eq!(late.record.map(|r| r.phase), Some(Phase::Refused));
    let bob = bob();
    let late_approval =
        decide(&request(), &Input::Approve { by: &bob }, &facts(Phase::AwaitingApproval), &observed, &switches, at(31));
    assert_eq!(late_approval.record.map(|r| r.phase), Some(Phase::Refused));
}

#[test]
fn only_a_human_releases_or_restores_and_a_role_s_chosen_session_name_is_not_one() {
    let role = crate::breakglass::person::person_of("arn:aws:sts::111122223333:assumed-role/Deployer/alice", &[]);
    let cases = [
        (Actor::Person("sso/alice".into()), true),
        (Actor::Direct("sso/alice".into()), true),
        (automation(), false),
        (role.unwrap_or_else(|e| panic!("{e}")), false),
    ];
    for (operation, target) in [
        (Operation::Release, "arn:aws:sagemaker:us-east-1:111122223333:model-package/credit/3"),
        (Operation::Restore, ENDPOINT),
    ] {
        for (by, allowed) in &cases {
            let asked = BreakGlassRequest {
                action: operation,
                target: target.into(),
                config: None,
                requested_by: by.clone(),
                ..request()
            };
            assert_eq!(validate(&asked).is_ok(), *allowed, "{operation} by {by}: {:?}", validate(&asked));
        }
    }
}

#[test]
fn a_request_from_a_caller_no_one_can_tell_apart_cannot_be_approved_by_anyone() {
    let bob = bob();
    let unidentified = Actor::Direct("arn:aws:sts::111122223333:assumed-role/HereOperator/x".into());
    assert!(!approval_counts(&bob, &unidentified), "it may have been bob's own");
    assert!(approval_counts(&bob, &Actor::Direct("alice".into())));
    assert!(approval_counts(&bob, &automation()));
    assert!(!approval_counts(&bob, &Actor::Direct("bob".into())));
    assert!(!approval_counts(&Actor::Direct("carol".into()), &alice()));
}
