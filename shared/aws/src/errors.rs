//! One classification of SDK failures for every adapter: what is worth retrying, what is not.

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// How an SDK failure should be treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Throttling, a server error, a timeout or a lost connection: retrying can succeed.
    Retryable(String),
    /// The resource does not exist (a table, topic or bus), with the service's error code.
    NotFound(String),
    /// The request is wrong or not allowed: retrying the same request cannot succeed.
    Permanent(String),
}

/// Classifies a failed call. `retryable_codes` are the service's own throttling and transient error codes.
pub fn classify<E, R>(operation: &str, error: &SdkError<E, R>, retryable_codes: &[&str]) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let detail = format!("{operation}: {}", DisplayErrorContext(error));
    match error {
        SdkError::ServiceError(service) => match service.err().code() {
            Some(code) if retryable_codes.contains(&code) || code.contains("Throttl") || code == "InternalFailure" => {
                Failure::Retryable(detail)
            }
            Some(code) if code.contains("NotFound") => Failure::NotFound(detail),
            _ => Failure::Permanent(detail),
        },
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Failure::Retryable(detail)
        }
        _ => Failure::Permanent(detail),
    }
}
