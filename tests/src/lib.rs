//! Shared helpers for Warden's integration tests.

// Test support: a broken fixture should fail the test loudly.
#![allow(clippy::panic)]

use std::path::{Path, PathBuf};

pub mod function_url;

use warden_core::inventory::{Inventory, InventoryFile};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

/// The project's fixtures folder.
pub fn events_dir() -> PathBuf {
    root().join("events")
}

/// Inputs Warden must reject, each with its expected error (`tests/it/decoding.rs`).
pub fn invalid_dir() -> PathBuf {
    root().join("tests/fixtures/invalid")
}

/// Every bundled event, the published AWS samples in `events/aws/` included, in the order `warden replay events`
/// reads them.
pub fn event_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![events_dir()];
    while let Some(folder) = folders.pop() {
        for path in std::fs::read_dir(&folder).into_iter().flatten().filter_map(|e| e.ok().map(|e| e.path())) {
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The reference shelf's example events, when the shelf is beside the checkout.
pub fn reference_events_dir() -> Option<PathBuf> {
    let dir = root().parent()?.join("shared/reference/events");
    dir.is_dir().then_some(dir)
}

/// Sorted `.json` files of a folder.
pub fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The bundled sample inventory, as the ledger holds it after `inventory import`.
pub fn sample_inventory() -> Inventory {
    let text = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap_or_default();
    let file = InventoryFile::parse(&text).unwrap_or_else(|e| panic!("sample inventory: {e}"));
    let mut inventory = Inventory::default();
    inventory.import(&file);
    inventory
}

/// The DynamoDB Local endpoint `scripts/test.sh` started. Tests that need it fail loudly without it: a
/// skipped adapter test would pass without testing anything.
pub fn dynamodb_endpoint() -> String {
    std::env::var("WARDEN_TEST_DYNAMODB_ENDPOINT").unwrap_or_else(|_| {
        panic!("WARDEN_TEST_DYNAMODB_ENDPOINT is not set: run ./scripts/test.sh, which starts DynamoDB Local")
    })
}

/// A DynamoDB client for `endpoint` with static test credentials and SDK retries off, so failures surface at once.
pub fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, retry::RetryConfig};
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "warden-tests"))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A ledger on a new, empty table of the test emulator.
pub async fn fresh_dynamo_ledger(name: &str) -> warden_aws::dynamodb::DynamoLedger {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let table = format!("{name}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let ledger = warden_aws::dynamodb::DynamoLedger::new(dynamodb_client(&dynamodb_endpoint()), table);
    ledger.create_table().await.unwrap_or_else(|e| panic!("create table: {e}"));
    ledger
}

/// The moto server endpoint `scripts/test.sh` started (SNS, SQS, EventBridge).
pub fn moto_endpoint() -> String {
    std::env::var("WARDEN_TEST_MOTO_ENDPOINT").unwrap_or_else(|_| {
        panic!("WARDEN_TEST_MOTO_ENDPOINT is not set: run ./scripts/test.sh, which starts moto server")
    })
}

/// What a deployed stack gives the functions, created on the emulators: a ledger table, an alert topic and a
/// governance bus, as the environment variables the templates set.
pub fn stack_resources() -> Vec<(&'static str, String)> {
    use warden_app::config::{ENV_BUS, ENV_TABLE, ENV_TOPIC};
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        let table = fresh_dynamo_ledger("stack").await.table().to_owned();
        let config = moto_config();
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("warden-stack-{}-{n}", std::process::id());
        let topic = aws_sdk_sns::Client::new(&config).create_topic().name(&name).send().await;
        let topic = topic.ok().and_then(|t| t.topic_arn).unwrap_or_else(|| panic!("cannot create topic {name}"));
        aws_sdk_eventbridge::Client::new(&config)
            .create_event_bus()
            .name(&name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("cannot create bus {name}: {e}"));
        vec![(ENV_TABLE, table), (ENV_TOPIC, topic), (ENV_BUS, name)]
    })
}

/// An SDK configuration for moto server, with static test credentials.
pub fn moto_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
            aws_sdk_sqs::config::Credentials::new("test", "test", None, None, "tests"),
        ))
        .build()
}

/// `name` made unique per test process and call.
pub fn unique(name: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{name}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// A new queue: its URL and ARN.
pub async fn queue(sqs: &aws_sdk_sqs::Client, name: &str) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let url = sqs.create_queue().queue_name(unique(name)).send().await.ok().and_then(|q| q.queue_url);
    let url = url.unwrap_or_else(|| panic!("cannot create queue {name}"));
    let attributes = sqs.get_queue_attributes().queue_url(&url).attribute_names(QueueAttributeName::QueueArn).send();
    let arn =
        attributes.await.ok().and_then(|a| a.attributes).and_then(|mut a| a.remove(&QueueAttributeName::QueueArn));
    (url.clone(), arn.unwrap_or_else(|| panic!("no ARN for queue {url}")))
}

/// Every message waiting on a queue (bodies as JSON), deleted as read.
pub async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<serde_json::Value> {
    let mut bodies = Vec::new();
    loop {
        let received = sqs.receive_message().queue_url(url).max_number_of_messages(10).wait_time_seconds(1).send();
        let messages =
            received.await.unwrap_or_else(|e| panic!("receive from {url}: {e}")).messages.unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        for message in messages {
            let body = message.body().unwrap_or_default();
            bodies.push(serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}")));
            let handle = message.receipt_handle().unwrap_or_default();
            sqs.delete_message().queue_url(url).receipt_handle(handle).send().await.unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// Where alerts and bus events land in a test: an SNS topic subscribed by a queue, and a bus whose rule for
/// `warden.governance` targets another queue.
#[derive(Debug)]
pub struct Plumbing {
    pub sqs: aws_sdk_sqs::Client,
    pub alerts_url: String,
    pub bus_url: String,
    pub topic_arn: String,
    pub bus_name: String,
}

pub async fn plumbing(config: &aws_config::SdkConfig) -> Plumbing {
    let sqs = aws_sdk_sqs::Client::new(config);
    let sns = aws_sdk_sns::Client::new(config);
    let events = aws_sdk_eventbridge::Client::new(config);
    let (alerts_url, alerts_arn) = queue(&sqs, "alerts").await;
    let (bus_url, bus_arn) = queue(&sqs, "bus").await;
    let topic = sns.create_topic().name(unique("warden-alerts")).send().await.ok().and_then(|t| t.topic_arn);
    let topic_arn = topic.unwrap_or_else(|| panic!("cannot create topic"));
    let subscribed = sns.subscribe().topic_arn(&topic_arn).protocol("sqs").endpoint(alerts_arn).send().await;
    subscribed.unwrap_or_else(|e| panic!("subscribe: {e}"));
    let bus_name = unique("warden-governance");
    events.create_event_bus().name(&bus_name).send().await.unwrap_or_else(|e| panic!("create bus: {e}"));
    let rule = unique("to-queue");
    let pattern = r#"{"source": ["warden.governance"]}"#;
    let created = events.put_rule().name(&rule).event_bus_name(&bus_name).event_pattern(pattern).send().await;
    created.unwrap_or_else(|e| panic!("put rule: {e}"));
    let target = aws_sdk_eventbridge::types::Target::builder().id("queue").arn(bus_arn).build();
    let target = target.unwrap_or_else(|e| panic!("{e}"));
    let put = events.put_targets().rule(&rule).event_bus_name(&bus_name).targets(target).send().await;
    put.unwrap_or_else(|e| panic!("put targets: {e}"));
    Plumbing { sqs, alerts_url, bus_url, topic_arn, bus_name }
}

/// A SageMaker client for moto server (extended by tools/emulators/moto_ext.py), SDK retries off.
pub fn sagemaker_client() -> aws_sdk_sagemaker::Client {
    use aws_sdk_sagemaker::config::{BehaviorVersion, Credentials, Region, retry::RetryConfig};
    let config = aws_sdk_sagemaker::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(moto_endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "warden-tests"))
        .retry_config(RetryConfig::disabled())
        .build();
    aws_sdk_sagemaker::Client::from_conf(config)
}

/// An endpoint `name` on `<name>-a`, with `<name>-b` ready, tagged as given.
pub async fn moto_endpoint_named(client: &aws_sdk_sagemaker::Client, name: &str, tags: &[(&str, &str)]) {
    let model = format!("{name}-model");
    client
        .create_model()
        .model_name(&model)
        .execution_role_arn("arn:aws:iam::123456789012:role/sagemaker")
        .primary_container(aws_sdk_sagemaker::types::ContainerDefinition::builder().image("image").build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    for config in ["a", "b"] {
        let variant = aws_sdk_sagemaker::types::ProductionVariant::builder()
            .variant_name("blue")
            .model_name(&model)
            .initial_instance_count(1)
            .instance_type(aws_sdk_sagemaker::types::ProductionVariantInstanceType::MlM5Large)
            .initial_variant_weight(1.0)
            .build();
        client
            .create_endpoint_config()
            .endpoint_config_name(format!("{name}-{config}"))
            .production_variants(variant)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create endpoint config {name}-{config}: {e}"));
    }
    let mut request = client.create_endpoint().endpoint_name(name).endpoint_config_name(format!("{name}-a"));
    for (key, value) in tags {
        request = request.tags(aws_sdk_sagemaker::types::Tag::builder().key(*key).value(*value).build());
    }
    request.send().await.unwrap_or_else(|e| panic!("create endpoint {name}: {e}"));
}

/// Waits until the endpoint is no longer Creating or Updating, and returns what SageMaker shows then.
pub async fn settle<S: warden_app::sagemaker::SageMaker>(
    sagemaker: &S,
    name: &str,
) -> warden_core::breakglass::Observation {
    for _ in 0..100 {
        let observed = sagemaker.observe_endpoint(name).await.unwrap_or_else(|e| panic!("describe {name}: {e}"));
        match &observed {
            warden_core::breakglass::Observation::Endpoint(e)
                if e.status != warden_core::event::sagemaker::EndpointStatus::InService => {}
            _ => return observed,
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{name} never settled");
}

/// Where `scripts/test.sh` built the workspace's binaries (the functions and the `warden` CLI).
pub fn binaries_dir() -> PathBuf {
    PathBuf::from(std::env::var("WARDEN_TEST_FUNCTIONS_DIR").unwrap_or_else(|_| {
        panic!("WARDEN_TEST_FUNCTIONS_DIR is not set: run ./scripts/test.sh, which builds the binaries")
    }))
}

/// Points a child process's AWS clients at the emulators, with test credentials and nothing else from this
/// machine's environment.
pub fn emulator_env(command: &mut std::process::Command) -> &mut std::process::Command {
    command
        .env_clear()
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint())
        .env("AWS_ENDPOINT_URL_SNS", moto_endpoint())
        .env("AWS_ENDPOINT_URL_EVENTBRIDGE", moto_endpoint())
        .env("AWS_ENDPOINT_URL_SAGEMAKER", moto_endpoint())
        .env("AWS_ENDPOINT_URL_STS", moto_endpoint())
        .env("AWS_ENDPOINT_URL_KMS", moto_endpoint())
        .env("AWS_ENDPOINT_URL_S3", moto_endpoint())
}

/// The `warden` CLI, on the emulators.
pub fn warden_cli() -> std::process::Command {
    let mut command = std::process::Command::new(binaries_dir().join("warden"));
    emulator_env(&mut command);
    command
}

/// The five functions, as their `main.rs` declare them (a test checks the two agree).
pub const FUNCTIONS: &[warden_app::detector::FunctionSpec] = &[
    warden_app::detector::FunctionSpec { name: "warden-sagemaker", sources: &["aws.sagemaker"] },
    warden_app::detector::FunctionSpec { name: "warden-config", sources: &["aws.config"] },
    warden_app::detector::FunctionSpec { name: "warden-macie", sources: &["aws.macie"] },
    warden_app::detector::FunctionSpec { name: "warden-guardduty", sources: &["aws.guardduty"] },
    warden_app::detector::FunctionSpec {
        name: "warden-drift",
        sources: &["aws.cloudwatch", "aws.monitoring", "warden.monitor"],
    },
];

/// A command running a function binary as Lambda would: the Runtime API at `runtime_api` (a URL), the
/// stack's resources as environment variables, AWS clients pointed at the emulators, and nothing else.
pub fn lambda_command(
    binary: &std::path::Path,
    runtime_api: &str,
    function_name: &str,
    stack: &[(&str, String)],
) -> std::process::Command {
    let mut command = std::process::Command::new(binary);
    emulator_env(&mut command)
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .env("AWS_LAMBDA_FUNCTION_NAME", function_name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON");
    for (key, value) in stack {
        command.env(key, value);
    }
    command
}

/// How many signal entries (observed events) a chain holds.
pub async fn signal_count<L: warden_app::ledger::Ledger>(ledger: &L, chain: &str) -> usize {
    let entries = ledger.entries(chain).await.unwrap_or_else(|e| panic!("entries of {chain}: {e}"));
    entries.iter().filter(|e| matches!(e.entry.body, warden_core::ledger::EntryBody::Signal { .. })).count()
}

/// A generated inventory of `count` models, each with an endpoint, a training bucket and a role of its own.
pub fn generated_inventory(count: usize) -> InventoryFile {
    let text: String = (0..count)
        .map(|n| {
            format!(
                "[[model]]\nid = \"model-{n:05}\"\nrisk = \"{}\"\nowner = \"team-{}\"\nendpoints = [\"endpoint-{n:05}\"]\n\
                 data_buckets = [\"bucket-{n:05}\"]\nroles = [\"arn:aws:iam::111122223333:role/role-{n:05}\"]\n\n",
                ["high", "medium", "low"][n % 3],
                n % 40
            )
        })
        .collect();
    InventoryFile::parse(&text).unwrap_or_else(|e| panic!("generated inventory: {e}"))
}

/// Every entry on the chains that hold signals about no model (spread over several chains since layout 2).
pub async fn unattributed_entries<L: warden_app::ledger::Ledger>(ledger: &L) -> Vec<warden_core::ledger::Entry> {
    let mut entries = Vec::new();
    for chain in ledger.chains().await.unwrap_or_else(|e| panic!("chains: {e}")) {
        if warden_core::ledger::is_unattributed(&chain) {
            entries.extend(ledger.entries(&chain).await.unwrap_or_else(|e| panic!("chain {chain}: {e}")));
        }
    }
    entries
}

/// Items in DynamoDB's JSON form (`{"pk": {"S": "..."}, "seq": {"N": "1"}}`, one per line), as
/// `scripts/dump-table.py` writes them: for loading a table written by an earlier version.
pub fn dynamodb_items(jsonl: &str) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    use aws_sdk_dynamodb::types::AttributeValue;
    jsonl
        .lines()
        .map(|line| {
            let item: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not an item: {e}: {line}"));
            item.into_iter()
                .map(|(name, typed)| {
                    let value = match (typed.get("S").and_then(|v| v.as_str()), typed.get("N").and_then(|v| v.as_str()))
                    {
                        (Some(text), _) => AttributeValue::S(text.to_owned()),
                        (_, Some(number)) => AttributeValue::N(number.to_owned()),
                        _ => panic!("attribute {name}: only S and N are expected in a layout-1 table: {typed}"),
                    };
                    (name, value)
                })
                .collect()
        })
        .collect()
}

/// A distinct low-severity GuardDuty finding (recorded, no action) on the role of generated model `n % models`
/// (see [`generated_inventory`]): for load tests and benchmarks.
pub fn generated_finding(n: usize, models: usize) -> Vec<u8> {
    let mut event: serde_json::Value =
        serde_json::from_slice(&read(&events_dir().join("guardduty-finding-low-severity-info.json")))
            .unwrap_or_else(|e| panic!("fixture: {e}"));
    event["id"] = serde_json::Value::from(format!("load-{n}"));
    event["detail"]["id"] = serde_json::Value::from(format!("{n:032x}"));
    event["detail"]["resource"] = serde_json::json!({
        "resourceType": "AccessKey",
        "accessKeyDetails": {
            "accessKeyId": "ASIALOADTEST", "userName": format!("role-{:05}", n % models), "userType": "AssumedRole"
        }
    });
    serde_json::to_vec(&event).unwrap_or_else(|e| panic!("{e}"))
}

/// Makes `model` own `endpoint`, which has served `configs` in order (the last is current), through an inventory
/// import: a rollback goes only to a config on record.
pub async fn endpoint_with_history<L: warden_app::ledger::Ledger + Sync>(
    ledger: &L,
    model: &str,
    endpoint: &str,
    configs: &[&str],
) {
    let engine = warden_app::ingest::Engine::new(
        ledger,
        warden_core::policy::Policy::builtin().unwrap_or_else(|e| panic!("{e}")),
        warden_core::ledger::Actor::Automation("test-setup".into()),
    );
    let configs: Vec<String> = configs.iter().map(|c| format!("{c:?}")).collect();
    let text = format!(
        "[[model]]\nid = \"{model}\"\nrisk = \"high\"\nendpoints = [\"{endpoint}\"]\n[model.endpoint_configs]\n{endpoint} = [{}]\n",
        configs.join(", ")
    );
    let file = InventoryFile::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    engine
        .import_inventory(&file, "setup", warden_core::time::Timestamp::now())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}
