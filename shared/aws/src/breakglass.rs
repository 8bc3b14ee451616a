//! The `warden-breakglass` function's wiring: `warden-app`'s inbox with the AWS adapters, served by the Lambda
//! runtime loop.

use std::time::Duration;

use serde_json::Value;
use warden_app::breakglass::BreakGlass;
use warden_app::config::{ConfigError, common_config};
use warden_app::effects::Notifier;
use warden_app::inbox::{BreakGlassHandler, FUNCTION_NAME, person_roles, verify_polls};
use warden_app::ledger::Ledger;
use warden_app::sagemaker::SageMaker;
use warden_core::ledger::Actor;

use crate::dynamodb::DynamoLedger;
use crate::function::{Invoke, diagnostic};
use crate::sagemaker::SageMakerClient;
use crate::sns::SnsNotifier;

pub type AwsBreakGlassHandler = BreakGlassHandler<DynamoLedger, SageMakerClient, SnsNotifier>;

/// Builds the AWS handler from the environment; a bad configuration fails the cold start.
pub async fn aws_handler() -> Result<AwsBreakGlassHandler, ConfigError> {
    let lookup = |name: &str| std::env::var(name).ok();
    let (table, topic_arn, policy) = common_config(&lookup)?;
    let polls = verify_polls(&lookup)?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let executor = BreakGlass::from_policy(
        DynamoLedger::new(aws_sdk_dynamodb::Client::new(&sdk), table),
        SageMakerClient::new(aws_sdk_sagemaker::Client::new(&sdk)),
        SnsNotifier::new(aws_sdk_sns::Client::new(&sdk), topic_arn),
        &policy,
        Actor::Automation(FUNCTION_NAME.to_owned()),
    );
    Ok(BreakGlassHandler {
        executor,
        polls,
        poll_interval: Duration::from_secs(3),
        person_roles: person_roles(&lookup),
    })
}

impl<L: Ledger, S: SageMaker, N: Notifier> Invoke for BreakGlassHandler<L, S, N> {
    type Output = Value;
    async fn invoke(
        &self,
        payload: Value,
        _deadline: Option<std::time::SystemTime>,
    ) -> Result<Value, lambda_runtime::Diagnostic> {
        self.handle(payload).await.map_err(|e| diagnostic(e.kind(), &e))
    }
}

/// Runs the break-glass function.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    crate::function::serve(aws_handler()).await
}
