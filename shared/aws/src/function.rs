//! Lambda wiring for every function: the handlers of `warden-app` built from the environment with the AWS
//! adapters, and the runtime loop that serves them.

use std::time::{Duration, SystemTime};

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use serde_json::Value;
use warden_app::config::{Config, ConfigError};
use warden_app::detector::{Handler, InvocationError};
use warden_app::effects::{Notifier, Publisher};
use warden_app::ingest::Engine;
use warden_app::ledger::Ledger;
use warden_core::ledger::Actor;

pub use warden_app::detector::FunctionSpec;

use crate::dynamodb::DynamoLedger;
use crate::eventbridge::EventBridgePublisher;
use crate::sns::SnsNotifier;

/// The AWS-backed handler: DynamoDB ledger, SNS alerts, EventBridge bus, all from one SDK config.
pub type AwsHandler = Handler<DynamoLedger, SnsNotifier, EventBridgePublisher>;

/// Builds the AWS handler from the environment; a bad configuration fails here, at cold start.
pub async fn aws_handler(spec: FunctionSpec) -> Result<AwsHandler, ConfigError> {
    let config = Config::from_env()?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let ledger = DynamoLedger::new(aws_sdk_dynamodb::Client::new(&sdk), config.table);
    let engine = Engine::new(ledger, config.policy, Actor::Automation(spec.name.to_owned())).with_home(config.home);
    let notifier = SnsNotifier::new(aws_sdk_sns::Client::new(&sdk), config.topic_arn);
    let publisher = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&sdk), config.bus_name);
    Ok(Handler::new(spec, engine, notifier, publisher))
}

/// A handler the Lambda runtime loop can serve: its failures reach Lambda as a `Diagnostic` whose type is the
/// failure's stable name (`WardenLedgerUnavailable`, ...), which alarms and retries key on.
pub trait Invoke {
    type Output: serde::Serialize;
    /// Handles one invocation; `deadline` is when Lambda ends it (`None`: no limit, as in tests).
    fn invoke(
        &self,
        payload: Value,
        deadline: Option<SystemTime>,
    ) -> impl std::future::Future<Output = Result<Self::Output, lambda_runtime::Diagnostic>>;
}

/// A message of a batch is started only while this much time is left: one event takes milliseconds, but up to
/// about 18 s when it keeps losing optimistic-concurrency races (20 jittered retries). A message not started is
/// reported as failed, so it returns to the queue unprocessed instead of the whole batch timing out.
pub const BATCH_MESSAGE_TIME_BUDGET: Duration = Duration::from_secs(10);

/// The Lambda error for a failure with a stable name.
pub fn diagnostic(kind: &str, error: &impl std::fmt::Display) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic { error_type: kind.to_owned(), error_message: error.to_string() }
}

/// A detector is invoked with an SQS batch (the stacks queue each detector's events, so a burst waits in the queue
/// instead of being throttled into a dead-letter queue) or with one EventBridge event (direct invocation, tests).
impl<L: Ledger, N: Notifier, P: Publisher> Invoke for Handler<L, N, P> {
    type Output = Value;
    async fn invoke(
        &self,
        payload: Value,
        deadline: Option<SystemTime>,
    ) -> Result<Self::Output, lambda_runtime::Diagnostic> {
        if is_queue_batch(&payload) {
            let batch: SqsEvent = serde_json::from_value(payload)
                .map_err(|e| diagnostic("WardenMalformedBatch", &format!("an SQS batch that does not decode: {e}")))?;
            let response = handle_queue_batch(self, batch, deadline).await?;
            return serde_json::to_value(response).map_err(|e| diagnostic("WardenInternal", &e));
        }
        let summary = self.handle(payload).await.map_err(|e: InvocationError| diagnostic(e.kind(), &e))?;
        serde_json::to_value(summary).map_err(|e| diagnostic("WardenInternal", &e))
    }
}

/// Whether a payload is an SQS batch (`Records` from `aws:sqs`) rather than an EventBridge event.
fn is_queue_batch(payload: &Value) -> bool {
    payload
        .get("Records")
        .and_then(Value::as_array)
        .and_then(|records| records.first())
        .is_some_and(|record| record.get("eventSource").and_then(Value::as_str) == Some("aws:sqs"))
}

/// Handles each message of a batch as one event, in order. A message whose event failed (ledger or delivery: worth
/// retrying) is reported in `batchItemFailures`, so only it returns to the queue, and after the queue's
/// `maxReceiveCount` receives it moves to the dead-letter queue; the rest are done. A body that is not an event is
/// recorded as a rejected input like any other (retrying cannot fix it). Messages left when less than
/// [`BATCH_MESSAGE_TIME_BUDGET`] remains before `deadline` are not started and reported as failed. A failed message
/// without an id cannot be reported alone: the whole batch fails, which idempotency makes safe to retry.
pub async fn handle_queue_batch<L: Ledger, N: Notifier, P: Publisher>(
    handler: &Handler<L, N, P>,
    batch: SqsEvent,
    deadline: Option<SystemTime>,
) -> Result<SqsBatchResponse, lambda_runtime::Diagnostic> {
    let mut response = SqsBatchResponse::default();
    let mut out_of_time = false;
    for message in batch.records {
        out_of_time = out_of_time
            || deadline
                .is_some_and(|d| d.duration_since(SystemTime::now()).unwrap_or_default() < BATCH_MESSAGE_TIME_BUDGET);
        let failure = if out_of_time {
            Some(diagnostic("WardenOutOfTime", &"not started: too little time left in the invocation"))
        } else {
            let body = message.body.unwrap_or_default();
            let payload = serde_json::from_str(&body).unwrap_or(Value::String(body));
            handler.handle(payload).await.err().map(|error| diagnostic(error.kind(), &error))
        };
        if let Some(failure) = failure {
            match message.message_id {
                Some(id) => response.add_failure(id),
                None => return Err(failure),
            }
        }
    }
    if out_of_time {
        tracing::warn!(
            returned = response.batch_item_failures.len(),
            "the invocation ran short of time: messages returned to the queue"
        );
    }
    Ok(response)
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
        let deadline = SystemTime::UNIX_EPOCH + Duration::from_millis(event.context.deadline);
        Box::pin(handler.invoke(event.payload, Some(deadline))).await
    }))
    .await
}

/// Runs a detector function.
pub async fn run(spec: FunctionSpec) -> Result<(), lambda_runtime::Error> {
    serve(aws_handler(spec)).await
}
