//! The pipeline every billing tool runs on.
//!
//! A tool is a small declaration (see [`tool::Tool`]): its argument type, the Stripe
//! request(s) it makes and how it shapes the answer. Everything around it (identity,
//! tenant config and secrets, customer resolution, audit, the response envelope) lives
//! here once, in [`pipeline`].

pub mod app;
pub mod args;
pub mod audit;
pub mod aws;
pub mod billing;
pub mod caller;
pub mod catalog;
pub mod config;
pub mod cors;
pub mod customer;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod identity;
pub mod insight;
pub mod key_probe;
pub mod ledger;
pub mod limits;
pub mod mcp;
pub mod money;
pub mod pipeline;
pub mod policy;
pub mod response;
pub mod routes;
pub mod secret;
pub mod state;
pub mod stripe;
pub mod telemetry;
pub mod tenant;
pub mod timefmt;
pub mod tool;
pub mod tool_list;
pub mod tools;
pub mod webhook;
pub mod write;
pub mod writes;

pub use app::App;
pub use error::ApiError;
pub use pipeline::{serve, serve_tool};
pub use tool::{Answer, Call, Tool};
