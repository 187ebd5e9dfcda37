//! DynamoDB adapters of the ports: tenant config and contacts, audit, the write ledger,
//! and what webhooks keep. The SDK finds local endpoints through `AWS_ENDPOINT_URL`, so
//! there is no code path for "local".
pub mod audit;
pub mod ledger;
pub mod state;
pub mod tenants;

use crate::ports::error::StoreError;

pub(crate) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A conditional write refused because its condition did not hold (not a failure).
pub(crate) fn conditional<E, R>(e: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    e.as_service_error()
        .and_then(|se| se.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

pub(crate) fn dynamo_err<E>(e: aws_sdk_dynamodb::error::SdkError<E>) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
    aws_sdk_dynamodb::error::SdkError<E>: std::error::Error,
{
    unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e))
}
