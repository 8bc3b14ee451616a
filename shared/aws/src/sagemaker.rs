//! SageMaker for break-glass: DescribeEndpoint / DescribeModelPackage plus ListTags to observe, and exactly one
//! call per change. SageMaker's errors are mostly an unmodelled `ValidationException`; the message tells
//! "in progress" (retry later) from "not found" and the rest.

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sagemaker::types::{DesiredWeightAndCapacity, ModelApprovalStatus, Tag};
use warden_app::sagemaker::{SageMaker, SageMakerError};
use warden_core::action::{Change, VariantWeight};
use warden_core::breakglass::{EndpointView, Observation, PackageView};
use warden_core::event::sagemaker::{ApprovalStatus, EndpointStatus};

use crate::errors::{Failure, classify};

const RETRYABLE_CODES: &[&str] = &["ThrottlingException", "InternalFailure", "ServiceUnavailable"];

#[derive(Debug, Clone)]
pub struct SageMakerClient {
    client: Client,
}

impl SageMakerClient {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// Maps an SDK failure: in progress, retryable, or refused (with AWS's message).
fn failure<E, R>(operation: &str, error: &SdkError<E, R>) -> SageMakerError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if let SdkError::ServiceError(service) = error
        && service.err().message().is_some_and(|m| m.contains("in-progress"))
    {
        return SageMakerError::InProgress(format!("{operation}: {}", service.err().message().unwrap_or_default()));
    }
    match classify(operation, error, RETRYABLE_CODES) {
        Failure::Retryable(detail) => SageMakerError::Unavailable(detail),
        Failure::NotFound(detail) | Failure::Permanent(detail) => SageMakerError::Rejected(detail),
    }
}

/// Whether the error says the resource does not exist.
fn is_missing<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    match error {
        SdkError::ServiceError(service) => {
            let message = service.err().message().unwrap_or_default();
            service.err().code().is_some_and(|c| c.contains("NotFound"))
                || message.contains("Could not find")
                || message.contains("does not exist")
        }
        _ => false,
    }
}

/// `arn:...:model-package/<group>/<version>` -> `arn:...:model-package-group/<group>`.
fn group_arn(package_arn: &str) -> Option<String> {
    let (prefix, path) = package_arn.split_once(":model-package/")?;
    let group = path.split('/').next()?;
    Some(format!("{prefix}:model-package-group/{group}"))
}

impl SageMakerClient {
    async fn tags(&self, arn: &str) -> Result<std::collections::BTreeMap<String, String>, String> {
        let mut tags = std::collections::BTreeMap::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .list_tags()
                .resource_arn(arn)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| failure("ListTags", &e).to_string())?;
            for tag in page.tags() {
                if let (Some(key), Some(value)) = (tag.key(), tag.value()) {
                    tags.insert(key.to_owned(), value.to_owned());
                }
            }
            match page.next_token {
                Some(next) => token = Some(next),
                None => return Ok(tags),
            }
        }
    }
}

impl SageMaker for SageMakerClient {
    async fn observe_endpoint(&self, name: &str) -> Result<Observation, SageMakerError> {
        let described = match self.client.describe_endpoint().endpoint_name(name).send().await {
            Ok(described) => described,
            Err(e) if is_missing(&e) => return Ok(Observation::Missing),
            Err(e) => return Err(failure("DescribeEndpoint", &e)),
        };
        let tags = self.tags(described.endpoint_arn().unwrap_or_default()).await;
        Ok(Observation::Endpoint(EndpointView {
            name: name.to_owned(),
            status: EndpointStatus::parse(described.endpoint_status().map_or("", |s| s.as_str())),
            config: described.endpoint_config_name().unwrap_or_default().to_owned(),
            pending_config: described
                .pending_deployment_summary()
                .and_then(|p| p.endpoint_config_name())
                .map(str::to_owned),
            variants: described
                .production_variants()
                .iter()
                .map(|v| VariantWeight {
                    variant: v.variant_name().unwrap_or_default().to_owned(),
                    weight: v.current_weight().unwrap_or(0.0),
                })
                .collect(),
            failure_reason: described.failure_reason().map(str::to_owned),
            tags,
        }))
    }

    async fn observe_package(&self, arn: &str) -> Result<Observation, SageMakerError> {
        let described = match self.client.describe_model_package().model_package_name(arn).send().await {
            Ok(described) => described,
            Err(e) if is_missing(&e) => return Ok(Observation::Missing),
            Err(e) => return Err(failure("DescribeModelPackage", &e)),
        };
        let approval = match described.model_approval_status() {
            Some(ModelApprovalStatus::Approved) => ApprovalStatus::Approved,
            Some(ModelApprovalStatus::Rejected) => ApprovalStatus::Rejected,
            _ => ApprovalStatus::PendingManualApproval,
        };
        let tags = match group_arn(arn) {
            Some(group) => self.tags(&group).await,
            None => Err(format!("{arn} is not a versioned model package ARN")),
        };
        Ok(Observation::Package(PackageView { arn: arn.to_owned(), approval, tags }))
    }

    async fn apply(&self, change: &Change) -> Result<(), SageMakerError> {
        let c = &self.client;
        match change {
            Change::UpdateEndpoint { endpoint, config } => c
                .update_endpoint()
                .endpoint_name(endpoint)
                .endpoint_config_name(config)
                .send()
                .await
                .map(drop)
                .map_err(|e| failure("UpdateEndpoint", &e)),
            Change::SetWeights { endpoint, weights } => {
                let mut request = c.update_endpoint_weights_and_capacities().endpoint_name(endpoint);
                for w in weights {
                    let desired =
                        DesiredWeightAndCapacity::builder().variant_name(&w.variant).desired_weight(w.weight).build();
                    request = request.desired_weights_and_capacities(desired);
                }
                request.send().await.map(drop).map_err(|e| failure("UpdateEndpointWeightsAndCapacities", &e))
            }
            Change::DeleteEndpoint { endpoint } => c
                .delete_endpoint()
                .endpoint_name(endpoint)
                .send()
                .await
                .map(drop)
                .map_err(|e| failure("DeleteEndpoint", &e)),
            Change::CreateEndpoint { endpoint, config, tags } => {
                let mut request = c.create_endpoint().endpoint_name(endpoint).endpoint_config_name(config);
                for (key, value) in tags {
                    let tag = Tag::builder().key(key).value(value).build();
                    request = request.tags(tag);
                }
                request.send().await.map(drop).map_err(|e| failure("CreateEndpoint", &e))
            }
            Change::SetApproval { package, status, description } => c
                .update_model_package()
                .model_package_arn(package)
                .model_approval_status(ModelApprovalStatus::from(status.to_string().as_str()))
                .approval_description(description)
                .send()
                .await
                .map(drop)
                .map_err(|e| failure("UpdateModelPackage", &e)),
        }
    }
}
