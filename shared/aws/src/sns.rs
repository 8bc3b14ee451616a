//! Alerts over SNS: subject, body, and string message attributes subscribers filter on.

use aws_sdk_sns::Client;
use aws_sdk_sns::types::MessageAttributeValue;
use warden_app::effects::{EffectError, Notifier};
use warden_core::notify::Alert;

use crate::errors::{Failure, classify};

const RETRYABLE_CODES: &[&str] = &["Throttled", "InternalError", "KMSThrottling", "ServiceUnavailable"];

#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self { client, topic_arn: topic_arn.into() }
    }
}

impl Notifier for SnsNotifier {
    async fn notify(&self, alert: &Alert) -> Result<(), EffectError> {
        let mut request = self.client.publish().topic_arn(&self.topic_arn).subject(&alert.subject).message(&alert.body);
        for (name, value) in &alert.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| EffectError::Permanent(format!("message attribute {name}: {e}")))?;
            request = request.message_attributes(name, attribute);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(error) => Err(match classify("SNS Publish", &error, RETRYABLE_CODES) {
                Failure::Retryable(detail) => EffectError::Retryable(detail),
                Failure::NotFound(detail) => {
                    EffectError::Permanent(format!("{detail} (is WARDEN_ALERT_TOPIC_ARN right?)"))
                }
                Failure::Permanent(detail) => EffectError::Permanent(detail),
            }),
        }
    }
}
