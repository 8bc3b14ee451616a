//! The `warden-digest` function's wiring: on a schedule, the next signed digest of the DynamoDB ledger, signed in
//! KMS and kept in S3 (see `warden_app::anchor`).

use serde_json::{Value, json};
use warden_app::anchor::{DIGEST_PREFIX, DigestConfig, scheduled_digest};
use warden_app::config::ConfigError;
use warden_core::time::Timestamp;

use crate::anchor::{KmsSigner, S3DigestStore};
use crate::dynamodb::DynamoLedger;
use crate::function::{Invoke, diagnostic};
use crate::sns::SnsNotifier;

#[derive(Debug)]
pub struct DigestHandler {
    ledger: DynamoLedger,
    signer: KmsSigner,
    store: S3DigestStore,
    notifier: SnsNotifier,
}

/// Builds the handler from the environment; a bad configuration fails the cold start.
pub async fn aws_handler() -> Result<DigestHandler, ConfigError> {
    let config = DigestConfig::from_lookup(|name| std::env::var(name).ok())?;
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Ok(DigestHandler {
        ledger: DynamoLedger::new(aws_sdk_dynamodb::Client::new(&sdk), config.table),
        signer: KmsSigner::new(aws_sdk_kms::Client::new(&sdk), config.key_id),
        store: S3DigestStore::new(crate::anchor::s3_client(&sdk), config.bucket, DIGEST_PREFIX),
        notifier: SnsNotifier::new(aws_sdk_sns::Client::new(&sdk), config.topic_arn),
    })
}

impl Invoke for DigestHandler {
    type Output = Value;
    /// Any payload (the schedule's event) asks for the next digest.
    async fn invoke(
        &self,
        _payload: Value,
        _deadline: Option<std::time::SystemTime>,
    ) -> Result<Value, lambda_runtime::Diagnostic> {
        let digest = scheduled_digest(&self.ledger, &self.signer, &self.store, &self.notifier, Timestamp::now())
            .await
            .map_err(|e| diagnostic("WardenDigestRefused", &e))?;
        tracing::info!(number = digest.number, chains = digest.heads.len(), "signed digest written");
        Ok(json!({"digest": digest.number, "chains": digest.heads.len(), "written_at": digest.written_at}))
    }
}

/// Runs the digest writer.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    crate::function::serve(aws_handler()).await
}
