//! Both deployment stacks agree with the code. Read as plain CloudFormation (the SAM template after the SAM
//! translator, and the CDK app's synthesised template), each must have: a function per crate running its binary on
//! arm64, every environment variable its configuration reads (and none it ignores), rules for exactly the events
//! its decoder supports on the right bus with a dead-letter queue, the ledger table with the code's schema and its
//! protections, the break-glass timeout under the action lock's lifetime, and SageMaker changes allowed to the
//! break-glass role alone, with no wildcard action anywhere. Reads the JSON `scripts/infra-check.sh` writes to
//! WARDEN_TEST_INFRA_DIR.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;
use warden_tests::{FUNCTIONS, root};

/// The stacks, as `scripts/infra-check.sh` writes them.
const STACKS: &[&str] = &["sam-translated.json", "cdk.json"];

fn infra_json(name: &str) -> Value {
    let dir = std::env::var("WARDEN_TEST_INFRA_DIR").unwrap_or_else(|_| {
        panic!("WARDEN_TEST_INFRA_DIR is not set: run ./scripts/test.sh, which runs scripts/infra-check.sh")
    });
    let path = PathBuf::from(dir).join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn resources<'a>(stack: &'a Value, kind: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
    stack["Resources"].as_object().unwrap().iter().filter(move |(_, r)| r["Type"] == kind)
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// `{"Ref": X}` or `{"Fn::GetAtt": [X, ...]}` -> X.
fn referenced(value: &Value) -> Option<&str> {
    value.get("Ref").and_then(Value::as_str).or_else(|| value.get("Fn::GetAtt").and_then(|a| a[0].as_str()))
}

/// A deployed function: its logical id, binary, properties.
struct Function<'a> {
    logical: &'a str,
    binary: String,
    properties: &'a Value,
}

/// Functions by binary: SAM names it in `BuildProperties.Binary`, the CDK app in `warden:binary`.
fn functions(stack: &Value) -> BTreeMap<String, Function<'_>> {
    resources(stack, "AWS::Lambda::Function")
        .map(|(logical, r)| {
            let metadata = &r["Metadata"];
            let binary = metadata["BuildProperties"]["Binary"]
                .as_str()
                .or_else(|| metadata["warden:binary"].as_str())
                .unwrap_or_else(|| panic!("{logical}: which binary does it run?"));
            (binary.to_owned(), Function { logical, binary: binary.to_owned(), properties: &r["Properties"] })
        })
        .collect()
}

fn function_crates() -> BTreeSet<String> {
    std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn every_function_crate_runs_its_binary_on_arm64_in_both_stacks() {
    for name in STACKS {
        let stack = infra_json(name);
        let functions = functions(&stack);
        assert_eq!(functions.keys().cloned().collect::<BTreeSet<_>>(), function_crates(), "{name}");
        for f in functions.values() {
            assert_eq!(f.properties["Runtime"], "provided.al2023", "{name} {}", f.logical);
            assert_eq!(f.properties["Architectures"], serde_json::json!(["arm64"]), "{name} {}", f.logical);
            assert_eq!(f.properties["TracingConfig"]["Mode"], "Active", "{name} {}", f.logical);
            assert_eq!(f.properties["LoggingConfig"]["LogFormat"], "JSON", "{name} {}", f.logical);
            assert!(f.properties["ReservedConcurrentExecutions"].is_u64(), "{name} {}", f.logical);
            assert!(f.properties["KmsKeyArn"].is_object(), "{name} {}: environment encrypted", f.logical);
        }
    }
}

#[test]
fn the_sam_build_runs_cargo_lambda_in_the_workspace_root() {
    let template = infra_json("sam-template.json");
    let globals = &template["Globals"]["Function"];
    let code = root().join("infra/sam").join(globals["CodeUri"].as_str().unwrap());
    let manifest = std::fs::read_to_string(code.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("[workspace]"), "CodeUri must be the workspace root");
    for (logical, r) in resources(&template, "AWS::Serverless::Function") {
        assert_eq!(r["Metadata"]["BuildMethod"], "rust-cargolambda", "{logical}");
    }
}

#[test]
fn every_function_gets_exactly_the_environment_its_configuration_reads() {
    for name in STACKS {
        let stack = infra_json(name);
        for f in functions(&stack).values() {
            let reads: &[&str] = match f.binary.as_str() {
                warden_app::inbox::FUNCTION_NAME => warden_app::inbox::ENV_VARS,
                warden_app::anchor::FUNCTION_NAME => warden_app::anchor::ENV_VARS,
                _ => warden_app::config::ENV_VARS,
            };
            let mut expected: BTreeSet<String> = reads.iter().map(|v| (*v).to_owned()).collect();
            // Not read by Warden: tells rustls where the Lambda image keeps its CA bundle.
            expected.insert("SSL_CERT_FILE".into());
            assert_eq!(keys(&f.properties["Environment"]["Variables"]), expected, "{name} {}", f.logical);
        }
    }
}

/// The function reading each queue (by logical id), from the event source mappings.
fn queue_readers(stack: &Value) -> BTreeMap<String, String> {
    resources(stack, "AWS::Lambda::EventSourceMapping")
        .map(|(_, mapping)| {
            let properties = &mapping["Properties"];
            (
                referenced(&properties["EventSourceArn"]).unwrap().to_owned(),
                referenced(&properties["FunctionName"]).unwrap().to_owned(),
            )
        })
        .collect()
}

/// `(bus, source, detail-type)` routed to each function, by function logical id: directly, or through the queue
/// the function reads.
fn routes(stack: &Value) -> BTreeMap<String, BTreeSet<(String, String, String)>> {
    let readers = queue_readers(stack);
    let mut routes: BTreeMap<String, BTreeSet<(String, String, String)>> = BTreeMap::new();
    for (logical, rule) in resources(stack, "AWS::Events::Rule") {
        let properties = &rule["Properties"];
        let bus = match referenced(&properties["EventBusName"]) {
            None => "default".to_owned(),
            Some(bus) if bus.starts_with("GovernanceBus") => "governance".into(),
            Some(bus) if bus.starts_with("IngestBus") => "ingest".into(),
            Some(other) => panic!("{logical}: unexpected bus {other}"),
        };
        let pattern = &properties["EventPattern"];
        for target in properties["Targets"].as_array().unwrap() {
            assert!(target["DeadLetterConfig"]["Arn"].is_object(), "{logical}: undeliverable events must be kept");
            let target = referenced(&target["Arn"]).unwrap();
            let function = readers.get(target).map_or(target, String::as_str).to_owned();
            for source in strings(&pattern["source"]) {
                for detail_type in strings(&pattern["detail-type"]) {
                    routes.entry(function.clone()).or_default().insert((bus.clone(), source.clone(), detail_type));
                }
            }
        }
    }
    routes
}

/// Where each source's events arrive: AWS's on the default bus, producers outside Warden (drift monitors) on the
/// ingest bus, Warden's own on the governance bus.
fn bus_of(source: &str) -> &'static str {
    match source {
        s if s.starts_with("aws.") => "default",
        "warden.monitor" => "ingest",
        _ => "governance",
    }
}

fn owned(routes: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    routes.iter().map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned())).collect()
}

#[test]
fn rules_route_exactly_the_events_each_function_decodes_from_the_right_bus() {
    for name in STACKS {
        let stack = infra_json(name);
        let functions = functions(&stack);
        let routes = routes(&stack);
        for spec in FUNCTIONS {
            let logical = functions[spec.name].logical;
            let expected: Vec<(&str, &str, &str)> = warden_core::event::SUPPORTED
                .iter()
                .filter(|(source, _)| spec.sources.contains(source))
                .map(|(source, detail_type)| (bus_of(source), *source, *detail_type))
                .collect();
            assert_eq!(routes.get(logical).cloned().unwrap_or_default(), owned(&expected), "{name} {logical}");
        }
        let logical = functions[warden_app::inbox::FUNCTION_NAME].logical;
        let expected = owned(&[
            ("governance", warden_core::bus::GOVERNANCE_SOURCE, warden_core::bus::BREAK_GLASS_DETAIL_TYPE),
            ("governance", warden_core::bus::GOVERNANCE_SOURCE, warden_core::bus::APPROVAL_DETAIL_TYPE),
            ("default", "aws.sagemaker", "SageMaker Endpoint State Change"),
        ]);
        assert_eq!(routes.get(logical).cloned().unwrap_or_default(), expected, "{name} {logical}");
    }
}

/// Every detector reads its events through its own queue, so a burst waits instead of being throttled into a
/// dead-letter queue: batches with partial batch failures reported (the handler returns `batchItemFailures`),
/// concurrency capped within the function's reservation, a visibility timeout of at least six times the function's
/// timeout, a redrive to the failed-invocations queue, encryption with the stack's key; and only the break-glass
/// function is invoked by rules directly.
#[test]
fn every_detector_reads_a_queue_with_partial_batch_failures_and_a_dead_letter_queue() {
    for name in STACKS {
        let stack = infra_json(name);
        let all = stack["Resources"].as_object().unwrap();
        let functions = functions(&stack);
        let readers = queue_readers(&stack);
        for spec in FUNCTIONS {
            let function = &functions[spec.name];
            let queues: Vec<&String> = readers.iter().filter(|(_, f)| *f == function.logical).map(|(q, _)| q).collect();
            assert_eq!(queues.len(), 1, "{name}: {} reads one queue", spec.name);
            let mapping = resources(&stack, "AWS::Lambda::EventSourceMapping")
                .map(|(_, m)| &m["Properties"])
                .find(|p| referenced(&p["FunctionName"]) == Some(function.logical))
                .unwrap();
            assert_eq!(mapping["FunctionResponseTypes"], serde_json::json!(["ReportBatchItemFailures"]), "{name}");
            let batch = mapping["BatchSize"].as_u64().unwrap();
            assert!((1..=10).contains(&batch), "{name}: batch size {batch}");
            let reserved = function.properties["ReservedConcurrentExecutions"].as_u64().unwrap();
            let maximum = mapping["ScalingConfig"]["MaximumConcurrency"].as_u64().unwrap();
            assert!((2..=reserved).contains(&maximum), "{name}: maximum concurrency {maximum}, reserved {reserved}");
            let queue = &all[queues[0].as_str()]["Properties"];
            let timeout = function.properties["Timeout"].as_u64().unwrap_or(3);
            assert!(queue["VisibilityTimeout"].as_u64().unwrap() >= 6 * timeout, "{name}: {queue}");
            assert!(queue["KmsMasterKeyId"].is_object(), "{name}: {} is encrypted with the stack's key", queues[0]);
            let redrive = &queue["RedrivePolicy"];
            assert!(
                referenced(&redrive["deadLetterTargetArn"]).is_some_and(|q| q.starts_with("FailedInvocationsQueue")),
                "{name}: {redrive}"
            );
            assert!(redrive["maxReceiveCount"].as_u64().is_some_and(|n| (2..=10).contains(&n)), "{name}: {redrive}");
        }
        let breakglass = functions[warden_app::inbox::FUNCTION_NAME].logical;
        let digest = functions[warden_app::anchor::FUNCTION_NAME].logical;
        for (logical, rule) in resources(&stack, "AWS::Events::Rule") {
            let scheduled = rule["Properties"]["ScheduleExpression"].is_string();
            for target in rule["Properties"]["Targets"].as_array().unwrap() {
                let target = referenced(&target["Arn"]).unwrap();
                assert!(
                    target == breakglass || readers.contains_key(target) || (scheduled && target == digest),
                    "{name}: {logical} invokes {target} directly"
                );
            }
        }
    }
}

/// Only Warden puts events on the governance bus, which break-glass trusts: its policy denies `PutEvents` to every
/// principal but the detectors' roles (people sign their requests to the function URL instead); break-glass's own
/// role, which publishes nothing, is not among them. Producers outside Warden have their own ingest bus, routed to detectors only.
#[test]
fn only_warden_may_put_events_on_the_governance_bus() {
    for name in STACKS {
        let stack = infra_json(name);
        let functions = functions(&stack);
        let policies: Vec<&Value> = resources(&stack, "AWS::Events::EventBusPolicy")
            .map(|(_, p)| &p["Properties"])
            .filter(|p| referenced(&p["EventBusName"]).is_some_and(|b| b.starts_with("GovernanceBus")))
            .collect();
        assert_eq!(policies.len(), 1, "{name}: one policy on the governance bus");
        let statement = &policies[0]["Statement"];
        assert_eq!(
            (&statement["Effect"], &statement["Principal"], &statement["Action"]),
            (&"Deny".into(), &"*".into(), &"events:PutEvents".into()),
            "{name}"
        );
        let allowed = statement["Condition"]["ArnNotEquals"]["aws:PrincipalArn"].as_array().unwrap();
        let roles: BTreeSet<&str> = allowed.iter().filter_map(referenced).collect();
        let detector_roles: BTreeSet<&str> =
            FUNCTIONS.iter().map(|spec| referenced(&functions[spec.name].properties["Role"]).unwrap()).collect();
        assert_eq!(roles, detector_roles, "{name}: exactly the detectors' roles");
        assert_eq!(allowed.len(), roles.len(), "{name}: nobody besides, not even the operator role: {allowed:?}");
        let breakglass_role = referenced(&functions[warden_app::inbox::FUNCTION_NAME].properties["Role"]).unwrap();
        assert!(!roles.contains(breakglass_role), "{name}: break-glass publishes nothing");
    }
}

/// Defence in depth on the audit trail: every function's role is denied updating or deleting any item in a chain's
/// partition (`dynamodb:LeadingKeys` `CHAIN#*`), in both stacks. (IAM cannot force a condition on a put: verify, not
/// IAM, is the control.)
#[test]
fn no_function_may_update_or_delete_audit_entries() {
    for name in STACKS {
        let stack = infra_json(name);
        let allowed = allowed_actions(&stack);
        let writers: BTreeSet<&String> = allowed
            .iter()
            .filter(|(_, actions)| {
                actions.iter().any(|a| a.starts_with("dynamodb:") && !READ_ONLY.contains(&a.as_str()))
            })
            .map(|(binary, _)| binary)
            .collect();
        assert_eq!(writers.len(), FUNCTIONS.len() + 1, "{name}: the detectors and break-glass write the ledger");
        for (binary, statements) in statements(&stack, "Deny").into_iter().filter(|(b, _)| writers.contains(b)) {
            let guard = statements
                .iter()
                .find(|s| {
                    s["Condition"]["ForAnyValue:StringLike"]["dynamodb:LeadingKeys"] == serde_json::json!(["CHAIN#*"])
                })
                .unwrap_or_else(|| panic!("{name}: {binary} has no deny on chain partitions"));
            let actions: BTreeSet<String> = strings(&guard["Action"]).into_iter().collect();
            for action in ["dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"] {
                assert!(actions.contains(action), "{name}: {binary} may still {action} audit entries");
            }
        }
    }
}

/// The ledger reads the digest writer needs; it writes nothing to the table.
const READ_ONLY: &[&str] = &["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"];

/// Order-free comparison of a table property (CloudFormation does not care about the order of definitions).
fn as_set(value: &Value) -> BTreeSet<String> {
    value.as_array().map(|items| items.iter().map(Value::to_string).collect()).unwrap_or_default()
}

#[test]
fn the_ledger_table_has_the_code_s_schema_and_is_protected_in_both_stacks() {
    let definition = warden_aws::schema::table_definition();
    for name in STACKS {
        let stack = infra_json(name);
        let tables: Vec<_> = resources(&stack, "AWS::DynamoDB::Table").collect();
        assert_eq!(tables.len(), 1, "{name}: one ledger table");
        let (logical, table) = tables[0];
        let properties = &table["Properties"];
        for field in ["AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes"] {
            assert_eq!(as_set(&properties[field]), as_set(&definition[field]), "{name} {logical} {field}");
        }
        assert_eq!(properties["BillingMode"], definition["BillingMode"], "{name}");
        assert_eq!(table["DeletionPolicy"], "Retain", "{name}");
        assert_eq!(properties["DeletionProtectionEnabled"], true, "{name}");
        assert_eq!(properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true, "{name}");
        assert_eq!(properties["SSESpecification"]["SSEType"], "KMS", "{name}");
        assert!(properties["SSESpecification"]["KMSMasterKeyId"].is_object(), "{name}: the stack's own key");
    }
}

#[test]
fn break_glass_finishes_an_invocation_before_its_lock_could_expire() {
    let lock = u64::from(warden_core::policy::Policy::builtin().unwrap().break_glass.lock_minutes) * 60;
    for name in STACKS {
        let stack = infra_json(name);
        let functions = functions(&stack);
        let breakglass = &functions[warden_app::inbox::FUNCTION_NAME];
        let timeout = breakglass.properties["Timeout"].as_u64().unwrap();
        assert!(timeout < lock, "{name}: timeout {timeout} s must stay under the lock's {lock} s");
    }
}

/// Allowed actions per function, from its role's inline policies, attached managed policies and AWS::IAM::Policy.
fn allowed_actions(stack: &Value) -> BTreeMap<String, BTreeSet<String>> {
    statements(stack, "Allow")
        .into_iter()
        .map(|(binary, s)| (binary, s.iter().flat_map(|s| strings(&s["Action"])).collect()))
        .collect()
}

/// Every statement with `effect` in each function's role's policies, by binary.
fn statements<'a>(stack: &'a Value, effect: &str) -> BTreeMap<String, Vec<&'a Value>> {
    let all = stack["Resources"].as_object().unwrap();
    let mut documents: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for (logical, role) in resources(stack, "AWS::IAM::Role") {
        let role_documents = documents.entry(logical.as_str()).or_default();
        for policy in role["Properties"]["Policies"].as_array().into_iter().flatten() {
            role_documents.push(&policy["PolicyDocument"]);
        }
        for arn in role["Properties"]["ManagedPolicyArns"].as_array().into_iter().flatten() {
            if let Some(managed) = referenced(arn).and_then(|m| all.get(m)) {
                role_documents.push(&managed["Properties"]["PolicyDocument"]);
            }
        }
    }
    for (_, policy) in resources(stack, "AWS::IAM::Policy") {
        for role in policy["Properties"]["Roles"].as_array().into_iter().flatten() {
            documents.entry(referenced(role).unwrap()).or_default().push(&policy["Properties"]["PolicyDocument"]);
        }
    }
    functions(stack)
        .into_values()
        .map(|f| {
            let role = referenced(&f.properties["Role"]).unwrap();
            let found = documents
                .get(role)
                .into_iter()
                .flatten()
                .filter_map(|d| d["Statement"].as_array())
                .flatten()
                .filter(|s| s["Effect"] == effect)
                .collect();
            (f.binary, found)
        })
        .collect()
}

#[test]
fn only_break_glass_may_change_sagemaker_and_no_function_may_use_wildcard_actions() {
    for name in STACKS {
        let allowed = allowed_actions(&infra_json(name));
        for (binary, actions) in &allowed {
            for action in actions {
                assert!(!action.contains('*'), "{name}: {binary} may use the wildcard action {action}");
                let observes = action.starts_with("sagemaker:Describe") || action == "sagemaker:ListTags";
                let changes_sagemaker = action.starts_with("sagemaker:") && !observes;
                assert!(!changes_sagemaker || binary == warden_app::inbox::FUNCTION_NAME, "{name}: {binary} {action}");
            }
            let publishes = actions.contains("events:PutEvents");
            let detector = FUNCTIONS.iter().any(|f| f.name == binary);
            assert_eq!(publishes, detector, "{name}: {binary} PutEvents");
            assert!(!actions.contains("kms:Sign"), "{name}: {binary} may sign only through the key's own policy");
            if binary == warden_app::anchor::FUNCTION_NAME {
                // The digest writer reads the ledger and writes digests, nothing else.
                let ledger: BTreeSet<&str> =
                    actions.iter().filter(|a| a.starts_with("dynamodb:")).map(String::as_str).collect();
                assert_eq!(ledger, READ_ONLY.iter().copied().collect(), "{name}: {binary}");
                for needed in ["s3:PutObject", "s3:GetObject", "s3:ListBucket", "sns:Publish", "kms:Decrypt"] {
                    assert!(actions.contains(needed), "{name}: {binary} lacks {needed}");
                }
                continue;
            }
            // What the ledger adapter calls (TransactWriteItems is authorised per item: Put/Update/Delete/
            // ConditionCheck), the alert, the dead-letter queue, and the key that encrypts all three.
            for needed in [
                "dynamodb:GetItem",
                "dynamodb:BatchGetItem",
                "dynamodb:BatchWriteItem",
                "dynamodb:Query",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
                "dynamodb:ConditionCheckItem",
                "sns:Publish",
                "sqs:SendMessage",
                "kms:Decrypt",
                "kms:GenerateDataKey",
            ] {
                assert!(actions.contains(needed), "{name}: {binary} lacks {needed}");
            }
        }
        let breakglass = &allowed[warden_app::inbox::FUNCTION_NAME];
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
            assert!(breakglass.contains(needed), "{name}: the break-glass role lacks {needed}");
        }
    }
}

/// Matches events against an EventBridge pattern with moto's matcher, extended for arrays of objects as EventBridge
/// matches them (`tools/emulators/event_pattern.py`; moto's server has no TestEventPattern).
fn pattern_matches(pattern: &Value, events: &[Value]) -> Vec<bool> {
    use std::io::Write;
    let python = root().join("tools/emulators/.venv/bin/python");
    let mut child = std::process::Command::new(&python)
        .arg(root().join("tools/emulators/event_pattern.py"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e} (scripts/emulators.sh installs it)", python.display()));
    let request = serde_json::json!({"pattern": pattern, "events": events});
    child.stdin.take().unwrap().write_all(request.to_string().as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Both stacks filter alarms by content: exactly the code's filter, which passes every bundled alarm the decoder ties
/// to a model (metric math and composites by the naming convention included) and none of the others (EC2, metric
/// math over EC2, anomaly detection, composites over such alarms).
#[test]
fn the_alarm_rule_invokes_the_function_only_for_alarms_about_a_model() {
    use warden_core::signal::{Signal, SignalClass};
    let now = warden_core::time::Timestamp::now();
    let alarms: Vec<(String, Value, bool)> = warden_tests::event_files()
        .into_iter()
        .filter_map(|file| {
            let event: Value = serde_json::from_slice(&warden_tests::read(&file)).ok()?;
            let decoded = warden_core::event::decode_value(event.clone(), now).ok()?;
            (decoded.detail_type == "CloudWatch Alarm State Change").then(|| {
                let about_a_model = Signal::from_event(&decoded).class != SignalClass::UnrelatedAlarm;
                (file.display().to_string(), event, about_a_model)
            })
        })
        .collect();
    assert!(alarms.iter().filter(|(_, _, about)| *about).count() >= 6, "alarms about models");
    assert!(alarms.iter().filter(|(_, _, about)| !*about).count() >= 4, "alarms about nothing");
    for name in STACKS {
        let stack = infra_json(name);
        let rules: Vec<&Value> = resources(&stack, "AWS::Events::Rule")
            .map(|(_, rule)| &rule["Properties"]["EventPattern"])
            .filter(|pattern| strings(&pattern["source"]) == ["aws.cloudwatch"])
            .collect();
        assert_eq!(rules.len(), 1, "{name}: one alarm rule");
        assert_eq!(rules[0]["detail"], warden_core::event::cloudwatch::alarm_rule_detail_filter(), "{name}");
        let events: Vec<Value> = alarms.iter().map(|(_, event, _)| event.clone()).collect();
        for ((file, _, about), matched) in alarms.iter().zip(pattern_matches(rules[0], &events)) {
            assert_eq!(matched, *about, "{name}: {file} (about a model: {about})");
        }
    }
}

/// The signed digests' protections, in both stacks: the signing key is an asymmetric P-256 key whose own policy lets
/// only the digest writer sign (the account administers it but cannot sign; no IAM policy grants `kms:Sign`); the
/// bucket keeps every digest under Object Lock in compliance mode, versioned; its policy lets only the digest writer
/// put and nobody delete; and the writer runs hourly with exactly that key and bucket.
#[test]
fn only_the_digest_writer_signs_digests_and_nobody_can_delete_them() {
    for name in STACKS {
        let stack = infra_json(name);
        let functions = functions(&stack);
        let writer = &functions[warden_app::anchor::FUNCTION_NAME];
        let role = referenced(&writer.properties["Role"]).unwrap();
        let variables = &writer.properties["Environment"]["Variables"];
        let key_id = referenced(&variables[warden_app::anchor::ENV_DIGEST_KEY]).unwrap();
        let bucket_id = referenced(&variables[warden_app::anchor::ENV_DIGEST_BUCKET]).unwrap();
        let all = stack["Resources"].as_object().unwrap();

        let key = &all[key_id]["Properties"];
        assert_eq!((&key["KeySpec"], &key["KeyUsage"]), (&"ECC_NIST_P256".into(), &"SIGN_VERIFY".into()), "{name}");
        for statement in key["KeyPolicy"]["Statement"].as_array().unwrap() {
            let signs = strings(&statement["Action"]).iter().any(|a| a == "kms:Sign" || a == "kms:*");
            let not_sign = strings(&statement["NotAction"]).contains(&"kms:Sign".to_owned());
            if statement["Effect"] == "Allow" && statement["NotAction"].is_null() {
                assert!(!signs || referenced(&statement["Principal"]["AWS"]) == Some(role), "{name}: {statement}");
            } else {
                assert!(not_sign || statement["Effect"] == "Deny", "{name}: {statement}");
            }
        }

        // Nor may anyone hand signing on through a grant.
        let no_grants =
            key["KeyPolicy"]["Statement"].as_array().unwrap().iter().any(|s| {
                s["Effect"] == "Deny" && strings(&s["Action"]) == ["kms:CreateGrant"] && s["Condition"].is_null()
            });
        assert!(no_grants, "{name}: the signing key must refuse grants");

        let bucket = &all[bucket_id]["Properties"];
        assert_eq!(bucket["ObjectLockEnabled"], true, "{name}");
        assert_eq!(bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Mode"], "COMPLIANCE", "{name}");
        assert_eq!(bucket["VersioningConfiguration"]["Status"], "Enabled", "{name}");
        let policy = resources(&stack, "AWS::S3::BucketPolicy")
            .map(|(_, p)| &p["Properties"])
            .find(|p| referenced(&p["Bucket"]) == Some(bucket_id))
            .unwrap_or_else(|| panic!("{name}: the digest bucket has no policy"));
        let denies: Vec<&Value> = policy["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Effect"] == "Deny" && (s["Principal"] == "*" || s["Principal"]["AWS"] == "*"))
            .collect();
        let puts = denies.iter().find(|s| !s["Condition"]["ArnNotEquals"].is_null()).unwrap();
        assert_eq!(strings(&puts["Action"]), ["s3:PutObject"], "{name}");
        assert_eq!(referenced(&puts["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]), Some(role), "{name}");
        let new_only = denies.iter().any(|s| s["Condition"]["Null"]["s3:if-none-match"] == "true");
        assert!(new_only, "{name}: a digest is never overwritten by a plain put");
        let deletes = denies.iter().find(|s| strings(&s["Action"]).contains(&"s3:DeleteObject".to_owned())).unwrap();
        assert!(deletes["Condition"].is_null(), "{name}: nobody deletes: {deletes}");
        assert!(strings(&deletes["Action"]).contains(&"s3:DeleteObjectVersion".to_owned()), "{name}");

        let schedules: Vec<&Value> = resources(&stack, "AWS::Events::Rule")
            .map(|(_, r)| &r["Properties"])
            .filter(|r| r["Targets"].as_array().unwrap().iter().any(|t| referenced(&t["Arn"]) == Some(writer.logical)))
            .collect();
        assert_eq!(schedules.len(), 1, "{name}");
        assert!(
            schedules[0]["ScheduleExpression"].as_str().is_some_and(|e| e == "rate(1 hour)" || e == "rate(60 minutes)"),
            "{name}: {}",
            schedules[0]
        );
    }
}

/// People reach break-glass only through its function URL with `AuthType: AWS_IAM`, so the actor is the caller
/// Lambda verified. Only the operator role may call it, and its `lambda:InvokeFunction` holds only through the URL
/// (`InvokedViaFunctionUrl`): invoking the function directly, with a request context of the caller's own making,
/// is not granted. Nobody else gets a resource-based permission on the function but EventBridge.
#[test]
fn people_reach_break_glass_only_through_its_signed_function_url() {
    for name in STACKS {
        let stack = infra_json(name);
        let functions = functions(&stack);
        let breakglass = functions[warden_app::inbox::FUNCTION_NAME].logical;
        let urls: Vec<&Value> = resources(&stack, "AWS::Lambda::Url").map(|(_, r)| &r["Properties"]).collect();
        assert_eq!(urls.len(), 1, "{name}: one function URL");
        assert_eq!(urls[0]["AuthType"], "AWS_IAM", "{name}");
        assert_eq!(referenced(&urls[0]["TargetFunctionArn"]), Some(breakglass), "{name}");
        let mut granted = BTreeSet::new();
        for (logical, permission) in resources(&stack, "AWS::Lambda::Permission") {
            let p = &permission["Properties"];
            if referenced(&p["FunctionName"]) != Some(breakglass) {
                continue;
            }
            if p["Principal"] == "events.amazonaws.com" {
                assert_eq!(p["Action"], "lambda:InvokeFunction", "{name} {logical}");
                continue;
            }
            assert_eq!(
                referenced(&p["Principal"]),
                Some("OperatorRoleArn"),
                "{name} {logical}: only the operator role"
            );
            assert_eq!(permission["Condition"], "HasOperatorRole", "{name} {logical}");
            match p["Action"].as_str() {
                Some("lambda:InvokeFunctionUrl") => assert_eq!(p["FunctionUrlAuthType"], "AWS_IAM", "{name} {logical}"),
                Some("lambda:InvokeFunction") => {
                    assert_eq!(p["InvokedViaFunctionUrl"], true, "{name} {logical}: only through the URL")
                }
                other => panic!("{name} {logical}: unexpected {other:?}"),
            }
            granted.insert(p["Action"].as_str().unwrap_or_default().to_owned());
        }
        let expected: BTreeSet<String> = ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"].map(String::from).into();
        assert_eq!(granted, expected, "{name}: both grants a function URL caller needs");
        assert!(stack["Outputs"].get("BreakGlassUrl").is_some(), "{name}: the URL is an output");
        assert!(stack["Parameters"].get("PersonRoles").is_some(), "{name}");
    }
}
