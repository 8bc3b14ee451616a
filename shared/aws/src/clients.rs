//! The AWS clients a person's command needs (the CLI): one SDK configuration from the standard AWS environment
//! (profile, region, credentials, `AWS_ENDPOINT_URL`), and the caller's identity.

use aws_config::SdkConfig;
use aws_sdk_sts::error::DisplayErrorContext;

use crate::dynamodb::DynamoLedger;
use crate::eventbridge::EventBridgePublisher;
use crate::sagemaker::SageMakerClient;
use crate::sns::SnsNotifier;

#[derive(Debug, Clone)]
pub struct AwsClients {
    sdk: SdkConfig,
}

impl AwsClients {
    pub async fn from_env() -> Self {
        Self { sdk: aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await }
    }

    /// The caller's ARN (STS GetCallerIdentity): who a person's request and approval are recorded as.
    pub async fn caller_arn(&self) -> Result<String, String> {
        let output = aws_sdk_sts::Client::new(&self.sdk)
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| format!("STS GetCallerIdentity: {}", DisplayErrorContext(e)))?;
        output.arn().map(str::to_owned).ok_or_else(|| "STS GetCallerIdentity returned no ARN".to_owned())
    }

    /// The region the caller's configuration points the clients at.
    pub fn region(&self) -> Option<String> {
        self.sdk.region().map(ToString::to_string)
    }

    pub fn digest_signer(&self, key_id: &str) -> crate::anchor::KmsSigner {
        crate::anchor::KmsSigner::new(aws_sdk_kms::Client::new(&self.sdk), key_id)
    }

    pub fn digest_store(&self, bucket: &str, prefix: &str) -> crate::anchor::S3DigestStore {
        crate::anchor::S3DigestStore::new(crate::anchor::s3_client(&self.sdk), bucket, prefix)
    }

    pub fn ledger(&self, table: &str) -> DynamoLedger {
        DynamoLedger::new(aws_sdk_dynamodb::Client::new(&self.sdk), table)
    }

    pub fn sagemaker(&self) -> SageMakerClient {
        SageMakerClient::new(aws_sdk_sagemaker::Client::new(&self.sdk))
    }

    pub fn publisher(&self, bus: &str) -> EventBridgePublisher {
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&self.sdk), bus)
    }

    pub fn notifier(&self, topic_arn: &str) -> SnsNotifier {
        SnsNotifier::new(aws_sdk_sns::Client::new(&self.sdk), topic_arn)
    }
}
