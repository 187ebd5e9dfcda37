//! What each route does, one file each: the read tools (`read/`), the write tools
//! (`write/`), agent insight and the agent's portal link, the recovery queue, approvals
//! (the agents' list and decision, the visitor's requests), the audience tags, the Stripe
//! webhook, and the permission probe of `tenantctl connect-key`. [`registry`] is the one table of them.
pub mod agent_insight;
pub mod agent_portal;
pub mod agent_recovery;
pub mod approvals;
pub mod probe;
pub mod read;
pub mod registry;
pub mod stripe_webhook;
pub mod visitor_tags;
pub mod write;
