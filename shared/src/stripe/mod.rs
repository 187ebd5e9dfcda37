//! Stripe over reqwest: one client per cold start, pinned version, bracketed forms,
//! `expand[]`, bounded retries where a retry is safe, and Stripe's error body kept.
pub mod api;
mod client;
mod error;
pub mod event;
pub mod ids;
mod params;
pub mod types;
pub mod writes;

pub use client::{StripeClient, StripeSession};
pub use error::StripeError;
pub use params::Params;
