//! The read tools, one module each: they answer from Stripe and change nothing (but
//! `resend_invoice` and `email_invoices`, which send an email).
mod available_plans;
mod billing_info;
pub mod common;
mod credit_balance;
mod email_invoices;
mod invoice_history;
pub(crate) mod payment_history;
mod portal_link;
mod resend_invoice;
pub(crate) mod subscription_status;
mod upcoming_invoice;

pub use available_plans::GetAvailablePlans;
pub use billing_info::{GetBillingInfo, NoArgs};
pub use credit_balance::GetCreditBalance;
pub use email_invoices::{EmailInvoices, EmailInvoicesArgs};
pub use invoice_history::{GetInvoiceHistory, InvoiceHistoryArgs};
pub use payment_history::{GetPaymentHistory, PaymentHistoryArgs};
pub use portal_link::{GetBillingPortalLink, PortalFlow, PortalLinkArgs};
pub use resend_invoice::{ResendInvoice, ResendInvoiceArgs};
pub use subscription_status::{GetSubscriptionStatus, SubscriptionStatusArgs};
pub use upcoming_invoice::{GetUpcomingInvoice, UpcomingInvoiceArgs};

pub(crate) use common::fetch_customer;
