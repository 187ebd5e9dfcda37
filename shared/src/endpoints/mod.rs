//! What each route does, one file each: the read tools (`read/`), the write tools
//! (`write/`), agent insight and the agent's portal link, the recovery queue, approvals
//! (the agents' list and decision, the visitor's requests), the audience tags, the Stripe
//! webhook and the notices it raises (`reach`), the pay-now page (`pay_link`), and the permission probe of `tenantctl connect-key`. [`registry`] is the one table of them.
pub mod agent_insight;
pub mod agent_portal;
pub mod agent_recovery;
pub mod approvals;
pub mod card_expiry;
pub mod checkout;
pub mod pay_link;
pub mod probe;
pub mod reach;
pub mod read;
pub mod registry;
pub mod stripe_webhook;
pub mod visitor_tags;
pub mod write;
