//! What every Warden Lambda function shares: typed configuration read once from the environment, the handler
//! (decode → decide → record → deliver effects → metrics), and `run`, which each function's `main.rs` calls.
//!
//! Failure semantics:
//! - a malformed, unsupported or misrouted event is recorded as rejected (a digest, never the body), alerted at
//!   low level, and the invocation *succeeds*: retrying cannot fix it;
//! - a ledger or delivery failure returns an error, so Lambda retries and the event finally reaches the
//!   dead-letter queue or on-failure destination: nothing is lost;
//! - a retry after partial effects is safe: the ledger reports the event as a duplicate and only undelivered
//!   effects are sent.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::{Value, json};
use warden_app::effects::{Delivery, EffectError, Notifier, Publisher, deliver};
use warden_app::ingest::Engine;
use warden_app::ledger::Ledger;
use warden_core::engine::{Report, Status};
use warden_core::event::DecodeError;
use warden_core::ledger::{Actor, LedgerError};
use warden_core::policy::Policy;
use warden_core::time::Timestamp;

use crate::dynamodb::DynamoLedger;
use crate::eventbridge::EventBridgePublisher;
use crate::sns::SnsNotifier;

/// A function: its binary name and the event sources it accepts.
#[derive(Debug, Clone, Copy)]
pub struct FunctionSpec {
    pub name: &'static str,
    pub sources: &'static [&'static str],
}

/// Environment variables every function reads (the SAM and CDK stacks set exactly these).
pub const ENV_TABLE: &str = "WARDEN_TABLE_NAME";
pub const ENV_TOPIC: &str = "WARDEN_ALERT_TOPIC_ARN";
pub const ENV_BUS: &str = "WARDEN_EVENT_BUS_NAME";
/// Optional: a whole policy as TOML (the built-in policy when absent).
pub const ENV_POLICY: &str = "WARDEN_POLICY";
/// Optional: `true` turns every action into shadow, whatever the policy says.
pub const ENV_KILL_SWITCH: &str = "WARDEN_KILL_SWITCH";
/// Optional: `shadow` makes every action shadow (observe-only rollout); `policy` (the default) acts as the policy says.
pub const ENV_MODE: &str = "WARDEN_MODE";
/// Every variable a function reads, for the infrastructure consistency test.
pub const ENV_VARS: &[&str] = &[ENV_TABLE, ENV_TOPIC, ENV_BUS, ENV_POLICY, ENV_KILL_SWITCH, ENV_MODE];

/// A configuration problem that must fail the cold start, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table: String,
    pub topic_arn: String,
    pub bus_name: String,
    pub policy: Policy,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let (table, topic_arn, policy) = common_config(&lookup)?;
        let bus_name = required(&lookup, ENV_BUS)?;
        Ok(Self { table, topic_arn, bus_name, policy })
    }
}

fn required(lookup: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ConfigError> {
    lookup(name).filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name)).map(|v| v.trim().to_owned())
}

/// The table, the alert topic and the policy (with the kill switch applied): what every function reads.
pub fn common_config(lookup: &impl Fn(&str) -> Option<String>) -> Result<(String, String, Policy), ConfigError> {
    let table = required(lookup, ENV_TABLE)?;
    let topic_arn = required(lookup, ENV_TOPIC)?;
    if !topic_arn.starts_with("arn:") {
        return Err(ConfigError::Invalid { name: ENV_TOPIC, reason: format!("{topic_arn:?} is not an ARN") });
    }
    let mut policy = match lookup(ENV_POLICY).filter(|v| !v.trim().is_empty()) {
        Some(text) => {
            Policy::parse(&text).map_err(|e| ConfigError::Invalid { name: ENV_POLICY, reason: e.to_string() })?
        }
        None => Policy::builtin().map_err(|e| ConfigError::Invalid { name: ENV_POLICY, reason: e.to_string() })?,
    };
    match lookup(ENV_KILL_SWITCH).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("false") => {}
        Some("true") => policy.kill_switch = true,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: ENV_KILL_SWITCH,
                reason: format!("{other:?} is not true or false"),
            });
        }
    }
    match lookup(ENV_MODE).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("policy") => {}
        Some("shadow") => policy.force_shadow(),
        Some(other) => {
            return Err(ConfigError::Invalid { name: ENV_MODE, reason: format!("{other:?} is not policy or shadow") });
        }
    }
    Ok((table, topic_arn, policy))
}

/// Everything a handler needs, built once per sandbox.
#[derive(Debug)]
pub struct Handler<L, N, P> {
    pub spec: FunctionSpec,
    pub engine: Engine<L>,
    pub notifier: N,
    pub publisher: P,
    pub actor: Actor,
    /// Where EMF lines go: stdout in Lambda (CloudWatch reads them from the log stream).
    pub metrics: fn(&str),
}

fn print_line(line: &str) {
    println!("{line}");
}

/// Why an invocation failed (Lambda retries it).
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
    #[error("effects: {0}")]
    Effects(#[from] EffectError),
}

impl InvocationError {
    /// A stable name for the kind of failure, reported to Lambda as the error type.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ledger(e) if e.is_retryable() => "WardenLedgerUnavailable",
            Self::Ledger(_) => "WardenLedgerFailure",
            Self::Effects(e) if e.is_retryable() => "WardenDeliveryUnavailable",
            Self::Effects(_) => "WardenDeliveryFailure",
        }
    }
}

impl From<InvocationError> for lambda_runtime::Diagnostic {
    fn from(error: InvocationError) -> Self {
        Self { error_type: error.kind().to_owned(), error_message: error.to_string() }
    }
}

/// The invocation's result, also its log line.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub decision_id: String,
    pub status: Status,
    pub models: Vec<String>,
    pub alert: Option<warden_core::signal::Band>,
    pub actions: usize,
    pub alerted: bool,
    pub published: usize,
}

impl<L: Ledger, N: Notifier, P: Publisher> Handler<L, N, P> {
    pub fn new(spec: FunctionSpec, engine: Engine<L>, notifier: N, publisher: P) -> Self {
        Self { spec, engine, notifier, publisher, actor: Actor::Automation(spec.name.to_owned()), metrics: print_line }
    }

    /// Handles one event. A rejected input succeeds (after recording and alerting); a ledger or delivery
    /// failure is an error for Lambda to retry.
    pub async fn handle(&self, payload: Value) -> Result<Outcome, InvocationError> {
        let started = Instant::now();
        let body = serde_json::to_vec(&payload).unwrap_or_default();
        let now = Timestamp::now();
        let source = payload.get("source").and_then(Value::as_str).unwrap_or_default().to_owned();
        let result = if !source.is_empty() && !self.spec.sources.contains(&source.as_str()) {
            // A misrouted event (an event rule sending the wrong source here) is rejected, not processed.
            let detail_type = payload.get("detail-type").and_then(Value::as_str).unwrap_or_default().to_owned();
            let error = DecodeError::Unsupported {
                event_source: warden_core::event::shown(&source),
                detail_type: warden_core::event::shown(&detail_type),
            };
            self.engine.reject(&error, &body, &payload, now).await
        } else {
            self.engine.ingest_value(payload, &body, now).await
        };
        let report = match result {
            Ok(report) => report,
            Err(error) => {
                self.record(&source, None, true, started);
                tracing::error!(error = %error, retryable = error.is_retryable(), "ledger failure; the invocation will be retried");
                return Err(error.into());
            }
        };
        let delivery = match deliver(&report, self.engine.ledger(), &self.notifier, &self.publisher, &self.actor, now)
            .await
        {
            Ok(delivery) => delivery,
            Err(error) => {
                self.record(&source, Some(&report), true, started);
                tracing::error!(decision_id = %report.decision_id, error = %error, "delivery failure; the invocation will be retried");
                return Err(error.into());
            }
        };
        self.record(&source, Some(&report), false, started);
        let outcome = outcome(&report, &delivery);
        tracing::info!(
            decision_id = %outcome.decision_id,
            status = ?outcome.status,
            models = ?outcome.models,
            alert = ?outcome.alert,
            actions = outcome.actions,
            alerted = outcome.alerted,
            published = outcome.published,
            error = report.error.as_deref().unwrap_or(""),
            "handled"
        );
        Ok(outcome)
    }
}

impl<L, N, P> Handler<L, N, P> {
    fn record(&self, source: &str, report: Option<&Report>, error: bool, started: Instant) {
        let millis = started.elapsed().as_secs_f64() * 1000.0;
        (self.metrics)(&emf_line(self.spec.name, source, report, error, millis, Timestamp::now()));
    }
}

fn outcome(report: &Report, delivery: &Delivery) -> Outcome {
    Outcome {
        decision_id: report.decision_id.clone(),
        status: report.status,
        models: report.models.clone(),
        alert: report.alert,
        actions: report.actions.len(),
        alerted: delivery.alerted,
        published: delivery.published,
    }
}

/// One CloudWatch Embedded Metric Format line: namespace `Warden`, dimensions function and source.
pub fn emf_line(
    function: &str,
    source: &str,
    report: Option<&Report>,
    error: bool,
    millis: f64,
    at: Timestamp,
) -> String {
    let mut values: BTreeMap<&str, f64> = BTreeMap::new();
    values.insert("Events", 1.0);
    values.insert("Errors", if error { 1.0 } else { 0.0 });
    values.insert("Rejections", report.map_or(0.0, |r| if r.status == Status::Rejected { 1.0 } else { 0.0 }));
    values.insert("Duplicates", report.map_or(0.0, |r| if r.status == Status::Duplicate { 1.0 } else { 0.0 }));
    values.insert("Decisions", report.map_or(0.0, |r| if r.status == Status::Applied { 1.0 } else { 0.0 }));
    values.insert("Alerts", report.map_or(0.0, |r| if r.notify && r.status == Status::Applied { 1.0 } else { 0.0 }));
    #[allow(clippy::cast_precision_loss)]
    let actions = report.map_or(0.0, |r| if r.status == Status::Applied { r.actions.len() as f64 } else { 0.0 });
    values.insert("Actions", actions);
    let mut line = json!({
        "_aws": {
            "Timestamp": at.millis(),
            "CloudWatchMetrics": [{
                "Namespace": "Warden",
                "Dimensions": [["Function", "Source"], ["Function"]],
                "Metrics": values.keys().map(|name| json!({"Name": name, "Unit": "Count"}))
                    .chain(std::iter::once(json!({"Name": "DurationMs", "Unit": "Milliseconds"})))
                    .collect::<Vec<_>>(),
            }]
        },
        "Function": function,
        "Source": if source.is_empty() { "unknown" } else { source },
        "DurationMs": millis,
    });
    if let Some(object) = line.as_object_mut() {
        for (name, value) in values {
            object.insert(name.to_owned(), json!(value));
        }
        if let Some(r) = report {
            // A property, not a dimension: searchable in Logs Insights without multiplying metric costs.
            object.insert("DecisionId".to_owned(), json!(r.decision_id));
        }
    }
    line.to_string()
}

/// The AWS-backed handler: DynamoDB ledger, SNS alerts, EventBridge bus, all from one SDK config.
pub type AwsHandler = Handler<DynamoLedger, SnsNotifier, EventBridgePublisher>;

/// Builds the AWS handler from the environment; a bad configuration fails here, at cold start.
pub async fn aws_handler(spec: FunctionSpec) -> Result<AwsHandler, ConfigError> {
    let config = Config::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ledger = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&sdk), config.table);
    let engine = Engine::new(ledger, config.policy, Actor::Automation(spec.name.to_owned()));
    let notifier = SnsNotifier::new(aws_sdk_sns::Client::new(&sdk), config.topic_arn);
    let publisher = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&sdk), config.bus_name);
    Ok(Handler::new(spec, engine, notifier, publisher))
}

/// A handler the Lambda runtime loop can serve.
pub trait Invoke {
    type Output: serde::Serialize;
    type Error: Into<lambda_runtime::Diagnostic> + std::fmt::Debug;
    fn invoke(&self, payload: Value) -> impl std::future::Future<Output = Result<Self::Output, Self::Error>>;
}

impl<L: Ledger, N: Notifier, P: Publisher> Invoke for Handler<L, N, P> {
    type Output = Outcome;
    type Error = InvocationError;
    fn invoke(&self, payload: Value) -> impl std::future::Future<Output = Result<Outcome, InvocationError>> {
        self.handle(payload)
    }
}

/// Serves a handler: tracing as Lambda configures it (JSON or text, level), the handler built once (a bad
/// configuration fails the cold start, naming the variable), then the runtime loop. Every function runs this.
pub async fn serve<H: Invoke>(
    build: impl std::future::Future<Output = Result<H, ConfigError>>,
) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // Boxed: the SDK's futures nest deeply, and each binary's `main` would otherwise need a higher
    // recursion limit to lay them out. One allocation per cold start and per invocation.
    let handler = match Box::pin(build).await {
        Ok(handler) => handler,
        Err(error) => {
            tracing::error!(error = %error, "configuration error: the function cannot start");
            return Err(error.into());
        }
    };
    let handler = &handler;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<Value>| async move {
        Box::pin(handler.invoke(event.payload)).await
    }))
    .await
}

/// Runs a detector function.
pub async fn run(spec: FunctionSpec) -> Result<(), lambda_runtime::Error> {
    serve(aws_handler(spec)).await
}
