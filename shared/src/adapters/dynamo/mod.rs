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

pub(crate) fn dynamo_err<E>(e: aws_sdk_dynamodb::error::SdkError<E>) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
    aws_sdk_dynamodb::error::SdkError<E>: std::error::Error,
{
    unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e))
}
