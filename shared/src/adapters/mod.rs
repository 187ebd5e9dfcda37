//! Adapters: the ports implemented on AWS (DynamoDB, Secrets Manager + KMS) and, for tests,
//! in memory. `crate::wiring` chooses them.
pub mod absent;
pub mod dynamo;
#[cfg(any(test, feature = "fakes"))]
pub mod memory;
pub mod outbox;
pub mod secrets;
