//! Who is calling, proven: visitors (a JWT the merchant signs, or the legacy user hash),
//! agents (a JWT with the agent secret), Stripe (the signature over the raw body).
pub mod caller;
pub mod identity;
pub mod signature;
