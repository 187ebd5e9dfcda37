//! The ports: what the pipeline needs from storage, as traits with their own types and
//! errors. They know nothing of HTTP or of the contract; adapters (`crate::adapters`)
//! implement them.
pub mod audit;
pub mod error;
pub mod history;
pub mod ledger;
pub mod notices;
pub mod state;
pub mod tenants;
