//! Decision planning, pure: what `plan_commit` writes for one event, table-driven over who the event concerns,
//! with no ledger involved.

use super::*;
use crate::action::RuleAction;
use crate::event::decode_value;
use crate::inventory::{EndpointRecord, RiskTier};
use crate::ledger::UNATTRIBUTED_CHAIN;
use crate::placement::Placement;

fn at() -> Timestamp {
    Timestamp::parse("2026-11-03T00:00:00Z").unwrap_or(Timestamp::MIN)
}

fn guardduty(role: &str, severity: f64, sample: bool) -> Event {
    let event = serde_json::json!({
        "version": "0", "id": "e-1", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
        "account": "111122223333", "time": "2026-11-02T09:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {
            "id": format!("finding-{role}-{severity}-{sample}"), "type": "UnauthorizedAccess:IAMUser/Test",
            "severity": severity, "updatedAt": "2026-11-02T09:00:00Z",
            "resource": {"resourceType": "AccessKey", "accessKeyDetails": {
                "accessKeyId": "ASIA1", "userName": role, "userType": "AssumedRole"}},
            "service": {"count": 1, "additionalInfo": {"sample": sample}}
        }
    });
    decode_value(event, at()).unwrap_or_else(|e| panic!("{e}"))
}

fn inventory() -> Inventory {
    let model = |id: &str, risk: RiskTier, role: &str, endpoint: &str| {
        let mut m = Model::new(id);
        m.risk = Some(risk);
        m.owner = Some("team".into());
        m.roles.insert(role.into());
        let mut e = EndpointRecord::new(endpoint);
        e.current_config = Some(format!("{endpoint}-cfg"));
        m.endpoints.push(e);
        m
    };
    Inventory::from_models([
        model("high", RiskTier::High, "high-role", "high-ep"),
        model("low", RiskTier::Low, "low-role", "low-ep"),
        model("shared-high", RiskTier::High, "shared-role", "shared-high-ep"),
        model("shared-low", RiskTier::Low, "shared-role", "shared-low-ep"),
    ])
}

/// (role, severity, sample) -> (chains written, actions, alert).
type Case = (&'static str, f64, bool, &'static [&'static str], &'static [(&'static str, RuleAction)], Option<Band>);

#[test]
fn what_one_event_writes_for_the_models_it_concerns() {
    let policy = Policy::builtin().unwrap_or_else(|e| panic!("{e}"));
    let actor = Actor::Automation("test".into());
    let cases: [Case; 5] = [
        ("high-role", 8.0, false, &["high"], &[("high-ep", RuleAction::Cutoff)], Some(Band::Critical)),
        ("low-role", 8.0, false, &["low"], &[], Some(Band::High)),
        (
            "shared-role",
            8.0,
            false,
            &["shared-high", "shared-low"],
            &[("shared-high-ep", RuleAction::Cutoff)],
            Some(Band::Critical),
        ),
        ("nobody-role", 8.0, false, &[UNATTRIBUTED_CHAIN], &[], Some(Band::High)),
        ("high-role", 8.0, true, &["high"], &[], Some(Band::Info)),
    ];
    for (role, severity, sample, chains, actions, alert) in cases {
        let case = format!("{role} {severity} sample={sample}");
        let (commit, report) = plan_commit(
            prepare(guardduty(role, severity, sample), inventory(), &Placement::default()),
            &policy,
            &DecisionContext::default(),
            &actor,
            at(),
        );
        // A signal about no model goes to the unattributed chain its idempotency key picks.
        let logical = |chain: &str| {
            if crate::ledger::is_unattributed(chain) {
                assert_eq!(chain, crate::ledger::unattributed_chain(&commit.idempotency_key), "{case}");
                UNATTRIBUTED_CHAIN.to_owned()
            } else {
                chain.to_owned()
            }
        };
        let written: std::collections::BTreeSet<String> = commit.entries.iter().map(|e| logical(&e.chain)).collect();
        assert_eq!(written, chains.iter().map(|c| (*c).to_owned()).collect(), "{case}");
        // Each model's chain gets the signal and the decision, then one entry per action.
        for chain in chains {
            let kinds: Vec<&str> = commit
                .entries
                .iter()
                .filter(|e| logical(&e.chain) == *chain)
                .map(|e| match e.body {
                    EntryBody::Signal { .. } => "signal",
                    EntryBody::Decision { .. } => "decision",
                    EntryBody::Action { .. } => "action",
                    _ => "other",
                })
                .collect();
            assert_eq!(&kinds[..2], ["signal", "decision"], "{case}: {chain}");
        }
        let planned: Vec<(&str, RuleAction)> = report.actions.iter().map(|a| (a.target.as_str(), a.kind)).collect();
        assert_eq!(planned, actions, "{case}");
        assert_eq!(report.alert, alert, "{case}");
        // Every action marks its target for the cooldown, and makes the config it acted against suspect.
        assert_eq!(commit.action_marks.len(), actions.len(), "{case}");
        for (target, _) in actions {
            let owner = commit.models.iter().find(|m| m.endpoint(target).is_some());
            let current = owner.and_then(|m| m.endpoint(target)).and_then(|e| e.history.iter().find(|d| d.suspect));
            assert!(current.is_some(), "{case}: {target}'s current config is no rollback target any more");
        }
        assert_eq!(commit.idempotency_key, report.idempotency_key, "{case}");
        assert!(commit.entries.iter().all(|e| e.idempotency_key == commit.idempotency_key), "{case}");
    }
}

#[test]
fn a_duplicate_alert_inside_the_window_is_recorded_but_does_not_page() {
    let policy = Policy::builtin().unwrap_or_else(|e| panic!("{e}"));
    let actor = Actor::Automation("test".into());
    let event = guardduty("low-role", 8.0, false);
    let key = Signal::from_event(&event).alert_key().unwrap_or_default();
    let mut context = DecisionContext::default();
    context.last_alerts.insert(key, (Band::High, at()));
    let (commit, report) =
        plan_commit(prepare(event, inventory(), &Placement::default()), &policy, &context, &actor, at());
    assert_eq!((report.alert, report.notify), (Some(Band::High), false));
    assert!(commit.alert_marks.is_empty() && !commit.entries.is_empty());
}

const HOME: &str = "111122223333";
const MEMBER: &str = "444455556666";

fn home() -> Placement {
    Placement::new(Some(HOME.into()), Some("us-east-1".into()))
}

/// Two models whose resources have the same names, one in the home account (unplaced) and one in a member account.
fn two_accounts() -> Inventory {
    let model = |id: &str, account: Option<&str>| {
        let mut m = Model::new(id);
        m.risk = Some(RiskTier::High);
        m.account = account.map(str::to_owned);
        m.roles.insert("exec".into());
        let mut e = EndpointRecord::new("prod");
        e.current_config = Some("prod-cfg".into());
        m.endpoints.push(e);
        m
    };
    Inventory::from_models([model("home-fraud", None), model("member-fraud", Some(MEMBER))])
}

/// A GuardDuty finding on role `exec`, received by the administrator (`envelope`) about `account` in `region`.
fn finding_about(envelope: &str, account: &str, region: &str) -> Event {
    let event = serde_json::json!({
        "version": "0", "id": format!("e-{envelope}-{account}"), "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty", "account": envelope, "time": "2026-11-02T09:00:00Z", "region": "us-east-1",
        "resources": [],
        "detail": {
            "id": "f-1", "accountId": account, "region": region, "type": "UnauthorizedAccess:IAMUser/Test",
            "severity": 8, "updatedAt": "2026-11-02T09:00:00Z",
            "resource": {"resourceType": "AccessKey", "accessKeyDetails": {
                "accessKeyId": "ASIA1", "userName": "exec", "userType": "AssumedRole"}},
            "service": {"count": 1}
        }
    });
    decode_value(event, at()).unwrap_or_else(|e| panic!("{e}"))
}

/// An endpoint called `prod` and a role called `exec` exist in both accounts: a finding is about the account it
/// names (a delegated administrator receives its members' findings under its own account), and only that account's
/// model is decided on and acted against.
#[test]
fn the_same_names_in_two_accounts_are_two_resources() {
    let policy = Policy::builtin().unwrap_or_else(|e| panic!("{e}"));
    let actor = Actor::Automation("test".into());
    let cases: [(Event, Placement, &[&str]); 6] = [
        (finding_about(HOME, MEMBER, "us-east-1"), home(), &["member-fraud"]),
        (finding_about(MEMBER, MEMBER, "us-east-1"), home(), &["member-fraud"]),
        (finding_about(HOME, HOME, "us-east-1"), home(), &["home-fraud"]),
        (finding_about(HOME, "999999999999", "us-east-1"), home(), &[]),
        // A role is global in its account: its credentials used from another region are still the home model's.
        (finding_about(HOME, HOME, "eu-west-1"), home(), &["home-fraud"]),
        // With no home configured (a local replay), a model with no account matches any account, as before.
        (finding_about(HOME, MEMBER, "us-east-1"), Placement::default(), &["home-fraud", "member-fraud"]),
    ];
    for (n, (event, home, expected)) in cases.into_iter().enumerate() {
        let context = DecisionContext::default();
        let (commit, report) = plan_commit(prepare(event, two_accounts(), &home), &policy, &context, &actor, at());
        assert_eq!(report.models, expected, "case {n}");
        let chains: BTreeSet<&str> = commit.entries.iter().map(|e| e.chain.as_str()).collect();
        if expected.is_empty() {
            assert!(chains.iter().all(|c| c.starts_with(UNATTRIBUTED_CHAIN)), "case {n}: {chains:?}");
            assert!(report.actions.is_empty(), "case {n}");
        } else {
            assert_eq!(chains, expected.iter().copied().collect(), "case {n}");
            assert_eq!(report.actions.len(), expected.len(), "case {n}: one cutoff per model: {:?}", report.actions);
        }
        if expected == ["member-fraud"] {
            assert_eq!(report.context.account.as_deref(), Some(MEMBER), "case {n}: the alert names the member");
        }
    }
}

/// Someone who can tag in a member account tags their endpoint with the id of a home-account model: the tag is not
/// applied, the home model is not decided on (its endpoints could be acted against), and the attempt is recorded
/// unattributed, at medium at least.
#[test]
fn a_tag_in_one_account_cannot_claim_a_model_of_another() {
    let policy = Policy::builtin().unwrap_or_else(|e| panic!("{e}"));
    let actor = Actor::Automation("test".into());
    let event = endpoint_failed("mine", MEMBER, "us-east-1", serde_json::json!({"warden:model": "home-fraud"}));
    let prepared = prepare(event, two_accounts(), &home());
    assert!(prepared.changed.is_empty(), "no model learns from it: {:?}", prepared.changed);
    let (commit, report) = plan_commit(prepared, &policy, &DecisionContext::default(), &actor, at());
    assert!(report.models.is_empty() && report.actions.is_empty(), "{report:?}");
    assert!(commit.entries.iter().all(|e| e.chain.starts_with(UNATTRIBUTED_CHAIN)));
    assert!(report.alert >= Some(Band::Medium), "{report:?}");
    let reasons = commit.entries.iter().find_map(|e| match &e.body {
        EntryBody::Decision { reasons, .. } => Some(reasons.join("; ")),
        _ => None,
    });
    assert!(reasons.is_some_and(|r| r.contains("home-fraud") && r.contains(MEMBER)), "{commit:?}");
}

#[test]
fn an_event_with_a_malformed_account_or_region_is_refused_naming_it() {
    for (envelope, account, region, names) in [
        ("1111", HOME, "us-east-1", "account"),
        (HOME, "44445555666x", "us-east-1", "detail.accountId"),
        (HOME, HOME, "Mars", "detail.accountId/detail.region"),
    ] {
        let mut event = serde_json::json!({
            "version": "0", "id": "e", "detail-type": "GuardDuty Finding", "source": "aws.guardduty",
            "account": envelope, "time": "2026-11-02T09:00:00Z", "region": "us-east-1", "resources": [],
            "detail": {
                "id": "f-1", "accountId": account, "region": region, "type": "T", "severity": 5,
                "updatedAt": "2026-11-02T09:00:00Z", "resource": {"resourceType": "AccessKey"}
            }
        });
        event["detail"]["service"] = serde_json::json!({"count": 1});
        let error = decode_value(event, at()).map(|_| ()).unwrap_err().to_string();
        assert!(error.contains(names), "{error}");
    }
}

/// An alarm called `endpoint-latency-high` going into ALARM in `account`, at the same moment in every account.
fn latency_alarm(account: &str) -> Event {
    let event = serde_json::json!({
        "version": "0", "id": format!("a-{account}"), "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch", "account": account, "time": "2026-11-02T09:00:00Z", "region": "us-east-1",
        "resources": [],
        "detail": {
            "alarmName": "endpoint-latency-high",
            "state": {"value": "ALARM", "reason": "r", "timestamp": "2026-11-02T09:00:00.000+0000"},
            "previousState": {"value": "OK", "reason": "r", "timestamp": "2026-11-02T08:00:00.000+0000"},
            "configuration": {"metrics": []}
        }
    });
    decode_value(event, at()).unwrap_or_else(|e| panic!("{e}"))
}

/// An alarm of the same name in two accounts is two alarms: one's page must not open a re-notify window that
/// silences the other's.
#[test]
fn same_named_alarms_in_two_accounts_page_separately() {
    let alarm = |account: &str| Signal::from_event(&latency_alarm(account)).alert_key();
    let (home, member) = (alarm(HOME), alarm(MEMBER));
    assert!(home.is_some() && member.is_some(), "{home:?} {member:?}");
    assert_ne!(home, member);
    assert_eq!(home, alarm(HOME));
}

/// A SageMaker endpoint `name` failed in `account` and `region`, with `tags`.
fn endpoint_failed(name: &str, account: &str, region: &str, tags: serde_json::Value) -> Event {
    let event = serde_json::json!({
        "version": "0", "id": format!("e-{account}-{region}"), "detail-type": "SageMaker Endpoint State Change",
        "source": "aws.sagemaker", "account": account, "time": "2026-11-02T09:00:00Z", "region": region,
        "resources": [],
        "detail": {
            "EndpointName": name, "EndpointConfigName": format!("{name}-cfg"), "EndpointStatus": "FAILED",
            "FailureReason": "x", "LastModifiedTime": 1793600000000.0, "Tags": tags
        }
    });
    decode_value(event, at()).unwrap_or_else(|e| panic!("{e}"))
}

/// Endpoints are regional: `prod` failing in another region of the home account is not the home model's `prod`.
/// The member's own `prod` is its own; and the action each plans names its endpoint so that nothing can mistake it:
/// a bare name at home, the ARN elsewhere (in the partition of its region).
#[test]
fn regional_resources_belong_to_their_region_and_targets_say_where() {
    let policy = Policy::builtin().unwrap_or_else(|e| panic!("{e}"));
    let actor = Actor::Automation("test".into());
    let prepared = prepare(endpoint_failed("prod", HOME, "eu-west-1", serde_json::json!({})), two_accounts(), &home());
    assert!(prepared.affected.is_empty(), "{:?}", prepared.affected);
    let prepared =
        prepare(endpoint_failed("prod", MEMBER, "us-east-1", serde_json::json!({})), two_accounts(), &home());
    assert_eq!(prepared.affected.iter().map(|a| a.model_id.as_str()).collect::<Vec<_>>(), ["member-fraud"]);

    let inventory = two_accounts();
    let (home_model, member) = (inventory.get("home-fraud").unwrap(), inventory.get("member-fraud").unwrap());
    let member_prod = "arn:aws:sagemaker:us-east-1:444455556666:endpoint/prod";
    // The member model names no region in this rig: a placement is both or neither in files, and the ARN keeps
    // whatever is known.
    assert_eq!(member.endpoint_target("prod"), "arn:aws:sagemaker::444455556666:endpoint/prod");
    let mut member = member.clone();
    member.region = Some("us-east-1".into());
    assert_eq!(member.endpoint_target("prod"), member_prod);
    assert_eq!(home_model.endpoint_target("prod"), "prod");
    use crate::action::TargetKind;
    assert!(
        home_model.owns_target(TargetKind::Endpoint, "prod")
            && !home_model.owns_target(TargetKind::Endpoint, member_prod)
    );
    assert!(member.owns_target(TargetKind::Endpoint, member_prod) && !member.owns_target(TargetKind::Endpoint, "prod"));
    member.region = Some("cn-north-1".into());
    assert!(member.endpoint_target("prod").starts_with("arn:aws-cn:sagemaker:cn-north-1:"));

    // The automated request for the member's cutoff keeps its model, so break-glass records it on that model's
    // chain and refuses it there (not on an unattributed one).
    let (_, report) = plan_commit(
        prepare(finding_about(HOME, MEMBER, "us-east-1"), two_accounts(), &home()),
        &policy,
        &DecisionContext::default(),
        &actor,
        at(),
    );
    let requests: Vec<serde_json::Value> = crate::bus::events(&report, &actor, at())
        .into_iter()
        .filter(|e| e.detail_type != crate::bus::DECISION_DETAIL_TYPE)
        .map(|e| e.detail)
        .collect();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["modelId"], "member-fraud", "{requests:?}");
}

/// The same alarm name and state-change time in two accounts are two events, and each keeps its own re-notify key;
/// home's keys are what they were before accounts.
#[test]
fn events_from_elsewhere_carry_their_place_in_their_idempotency_key() {
    let signal = |account: &str| Signal::from_event_at(&latency_alarm(account), &home());
    let (at_home, member) = (signal(HOME), signal(MEMBER));
    assert_eq!(at_home.idempotency_key, Signal::from_event(&latency_alarm(HOME)).idempotency_key);
    assert_ne!(at_home.idempotency_key, member.idempotency_key);
    assert!(
        member.idempotency_key.contains("444455556666/us-east-1#endpoint-latency-high#"),
        "{}",
        member.idempotency_key
    );
    assert_eq!(member.alert_key().as_deref(), Some("alarm#444455556666/us-east-1#endpoint-latency-high"));
}

/// A member's training job tagged with a home model's id, that also uses the member model's role: the member model
/// is decided on as usual, and the refused tag is in that decision's reasons, not lost.
#[test]
fn a_refused_cross_account_tag_is_recorded_even_when_another_model_is_affected() {
    let policy = Policy::builtin().unwrap_or_else(|e| panic!("{e}"));
    let actor = Actor::Automation("test".into());
    let event = serde_json::json!({
        "version": "0", "id": "e-job", "detail-type": "SageMaker Training Job State Change", "source": "aws.sagemaker",
        "account": MEMBER, "time": "2026-11-02T09:00:00Z", "region": "us-east-1", "resources": [],
        "detail": {
            "TrainingJobName": "job", "TrainingJobStatus": "Failed", "SecondaryStatus": "Failed",
            "FailureReason": "x", "RoleArn": "arn:aws:iam::444455556666:role/exec",
            "Tags": {"warden:model": "home-fraud"}
        }
    });
    let event = decode_value(event, at()).unwrap_or_else(|e| panic!("{e}"));
    let (commit, report) =
        plan_commit(prepare(event, two_accounts(), &home()), &policy, &DecisionContext::default(), &actor, at());
    assert_eq!(report.models, ["member-fraud"]);
    let reasons: Vec<String> = commit
        .entries
        .iter()
        .filter_map(|e| match &e.body {
            EntryBody::Decision { reasons, .. } => Some(reasons.join("; ")),
            _ => None,
        })
        .collect();
    assert!(reasons.iter().any(|r| r.contains("model home-fraud runs in")), "{reasons:?}");
    assert!(report.alert >= Some(Band::Medium));
}
