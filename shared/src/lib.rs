//! Stripe billing tools for support chatbots, in layers whose arrows run one way
//! (docs/ARCHITECTURE.md): `edge` (Lambda and HTTP) → `endpoints` (what each route does,
//! and the one table of them) → `pipeline` (tenant, identity, limits, input, customer, the
//! two-phase write and its policy) → `billing`, `auth`, `stripe` → `ports`; `adapters`
//! implement the ports and `wiring` chooses them for a function's role.
pub mod adapters;
pub mod auth;
pub mod billing;
pub mod config;
pub mod edge;
pub mod endpoints;
pub mod error;
pub mod pipeline;
pub mod ports;
pub mod secret;
pub mod stripe;
pub mod timefmt;
pub mod wiring;
