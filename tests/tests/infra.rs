//! The SAM template agrees with the code: a function per crate with its binary, every environment variable its
//! configuration reads (and none it ignores), rules for exactly the events its decoder supports, the ledger
//! table's schema, the break-glass timeout under the lock's lifetime, and SageMaker changes allowed to the
//! break-glass role alone. Reads the JSON that `scripts/infra-check.sh` writes (WARDEN_TEST_INFRA_DIR).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use warden_tests::{FUNCTIONS, root};

fn infra_json(name: &str) -> Value {
    let dir = std::env::var("WARDEN_TEST_INFRA_DIR").unwrap_or_else(|_| {
        panic!("WARDEN_TEST_INFRA_DIR is not set: run ./scripts/test.sh, which runs scripts/infra-check.sh")
    });
    let path = PathBuf::from(dir).join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Function resources by the binary they run.
fn functions_by_binary(template: &Value) -> BTreeMap<String, (String, Value)> {
    let resources = template["Resources"].as_object().unwrap();
    resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(logical, r)| {
            assert_eq!(r["Metadata"]["BuildMethod"], "rust-cargolambda", "{logical}");
            let binary = r["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_else(|| panic!("{logical}"));
            (binary.to_owned(), (logical.clone(), r.clone()))
        })
        .collect()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn every_function_crate_is_deployed_with_its_binary_on_arm64() {
    let template = infra_json("template.json");
    let functions = functions_by_binary(&template);
    assert_eq!(functions.keys().cloned().collect::<BTreeSet<_>>(), function_crates());
    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Architectures"], serde_json::json!(["arm64"]));
    // CodeUri is the workspace root (cargo-lambda builds there), relative to the template.
    let code = root().join("infra/sam").join(globals["CodeUri"].as_str().unwrap());
    let manifest = std::fs::read_to_string(code.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("[workspace]"), "CodeUri must be the workspace root");
}

#[test]
fn every_function_gets_exactly_the_environment_its_configuration_reads() {
    let template = infra_json("template.json");
    let global = keys(&template["Globals"]["Function"]["Environment"]["Variables"]);
    for (binary, (logical, resource)) in functions_by_binary(&template) {
        let mut set = global.clone();
        set.extend(keys(&resource["Properties"]["Environment"]["Variables"]));
        let reads: &[&str] = if binary == warden_aws::breakglass::FUNCTION_NAME {
            warden_aws::breakglass::ENV_VARS
        } else {
            warden_aws::function::ENV_VARS
        };
        let mut expected: BTreeSet<String> = reads.iter().map(|v| (*v).to_owned()).collect();
        // Not read by Warden: tells rustls where the Lambda image keeps its CA bundle.
        expected.insert("SSL_CERT_FILE".into());
        assert_eq!(set, expected, "{logical} ({binary})");
    }
}

/// `(bus, source, detail-type)` routed to a function by its EventBridge rules.
fn routes(resource: &Value) -> BTreeSet<(String, String, String)> {
    let mut routes = BTreeSet::new();
    for (name, event) in resource["Properties"]["Events"].as_object().unwrap() {
        assert_eq!(event["Type"], "EventBridgeRule", "{name}");
        let properties = &event["Properties"];
        assert!(properties["DeadLetterConfig"].is_object(), "{name}: undeliverable events must be kept");
        let bus = match &properties["EventBusName"] {
            Value::Null => "default".to_owned(),
            Value::Object(r) if r.get("Ref") == Some(&Value::String("GovernanceBus".into())) => "governance".into(),
            other => panic!("{name}: unexpected bus {other}"),
        };
        let pattern = &properties["Pattern"];
        for source in strings(&pattern["source"]) {
            for detail_type in strings(&pattern["detail-type"]) {
                routes.insert((bus.clone(), source.clone(), detail_type));
            }
        }
    }
    routes
}

fn bus_of(source: &str) -> &'static str {
    if source.starts_with("aws.") { "default" } else { "governance" }
}

#[test]
fn rules_route_exactly_the_events_each_function_decodes_from_the_right_bus() {
    let template = infra_json("template.json");
    let functions = functions_by_binary(&template);
    for spec in FUNCTIONS {
        let (logical, resource) = &functions[spec.name];
        let expected: BTreeSet<(String, String, String)> = warden_core::event::SUPPORTED
            .iter()
            .filter(|(source, _)| spec.sources.contains(source))
            .map(|(source, detail_type)| (bus_of(source).to_owned(), (*source).to_owned(), (*detail_type).to_owned()))
            .collect();
        assert_eq!(routes(resource), expected, "{logical}");
    }
    let (logical, breakglass) = &functions[warden_aws::breakglass::FUNCTION_NAME];
    let expected: BTreeSet<(String, String, String)> = [
        ("governance", warden_core::bus::GOVERNANCE_SOURCE, warden_core::bus::BREAK_GLASS_DETAIL_TYPE),
        ("governance", warden_core::bus::GOVERNANCE_SOURCE, warden_core::bus::APPROVAL_DETAIL_TYPE),
        ("default", "aws.sagemaker", "SageMaker Endpoint State Change"),
    ]
    .iter()
    .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
    .collect();
    assert_eq!(routes(breakglass), expected, "{logical}");
}

#[test]
fn the_ledger_table_has_the_schema_the_code_uses_and_is_protected() {
    let template = infra_json("template.json");
    let table = &template["Resources"]["LedgerTable"];
    let definition = warden_aws::schema::table_definition();
    for field in ["AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode"] {
        assert_eq!(table["Properties"][field], definition[field], "{field}");
    }
    assert_eq!(table["DeletionPolicy"], "Retain");
    assert_eq!(table["Properties"]["DeletionProtectionEnabled"], true);
    assert_eq!(table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true);
    assert_eq!(table["Properties"]["SSESpecification"]["KMSMasterKeyId"]["Ref"], "WardenKey");
}

#[test]
fn break_glass_finishes_an_invocation_before_its_lock_could_expire() {
    let template = infra_json("template.json");
    let (logical, breakglass) = &functions_by_binary(&template)[warden_aws::breakglass::FUNCTION_NAME];
    let timeout = breakglass["Properties"]["Timeout"].as_u64().unwrap();
    let lock = u64::from(warden_core::policy::Policy::builtin().unwrap().break_glass.lock_minutes) * 60;
    assert!(timeout < lock, "{logical}: timeout {timeout} s must stay under the lock's {lock} s");
    assert!(breakglass["Properties"]["ReservedConcurrentExecutions"].as_u64().is_some(), "{logical}");
}

/// Allowed actions per IAM role or managed policy of the translated template.
fn allowed_actions(translated: &Value) -> BTreeMap<String, BTreeSet<String>> {
    let mut allowed = BTreeMap::new();
    for (logical, resource) in translated["Resources"].as_object().unwrap() {
        let documents: Vec<&Value> = match resource["Type"].as_str() {
            Some("AWS::IAM::Role") => resource["Properties"]["Policies"]
                .as_array()
                .map(|p| p.iter().map(|p| &p["PolicyDocument"]).collect())
                .unwrap_or_default(),
            Some("AWS::IAM::ManagedPolicy") => vec![&resource["Properties"]["PolicyDocument"]],
            _ => continue,
        };
        let actions: &mut BTreeSet<String> = allowed.entry(logical.clone()).or_default();
        for statement in documents.iter().filter_map(|d| d["Statement"].as_array()).flatten() {
            if statement["Effect"] == "Allow" {
                actions.extend(strings(&statement["Action"]));
            }
        }
    }
    allowed
}

#[test]
fn only_the_break_glass_role_may_change_sagemaker_and_no_policy_allows_wildcard_actions() {
    let allowed = allowed_actions(&infra_json("translated.json"));
    assert!(allowed.contains_key("BreakGlassRole"), "{:?}", allowed.keys());
    for (owner, actions) in &allowed {
        for action in actions {
            assert!(!action.contains('*'), "{owner} allows the wildcard action {action}");
            let changes_sagemaker = action.starts_with("sagemaker:")
                && !action.starts_with("sagemaker:Describe")
                && action != "sagemaker:ListTags";
            assert!(!changes_sagemaker || owner == "BreakGlassRole", "{owner} may call {action}");
        }
    }
    let breakglass = &allowed["BreakGlassRole"];
    for needed in [
        "sagemaker:UpdateEndpoint",
        "sagemaker:UpdateEndpointWeightsAndCapacities",
        "sagemaker:DeleteEndpoint",
        "sagemaker:CreateEndpoint",
        "sagemaker:UpdateModelPackage",
        "sagemaker:DescribeEndpoint",
        "sagemaker:DescribeModelPackage",
        "sagemaker:ListTags",
    ] {
        assert!(breakglass.contains(needed), "the break-glass role lacks {needed}");
    }
}
