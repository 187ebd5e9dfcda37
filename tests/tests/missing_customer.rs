//! A visitor whose customer Stripe no longer has (deleted in the dashboard, or a token
//! naming one that never was) hears "no billing account found" from every tool that reads
//! their lists, not an empty history. Stripe answers a list filtered by a customer it does
//! not have with `resource_missing` naming `customer` (400), and the tools map that to
//! `customer_not_found`.
use integration::{Harness, visitor_claims};
use serde_json::json;
use shared::endpoints::read::{
    GetAvailablePlans, GetInvoiceHistory, GetPaymentHistory, GetSubscriptionStatus,
    GetUpcomingInvoice,
};

#[tokio::test]
async fn every_list_reading_tool_says_the_customer_is_gone() {
    let h = Harness::new().await;
    let token = h.token(visitor_claims(
        "ghost",
        json!({"stripe_customer_id": "cus_NeverExisted42"}),
    ));
    let answers = [
        h.call(&GetInvoiceHistory, Some(&token), "{}").await,
        h.call(&GetPaymentHistory, Some(&token), "{}").await,
        h.call(&GetSubscriptionStatus, Some(&token), "{}").await,
        h.call(&GetUpcomingInvoice, Some(&token), "{}").await,
        h.call(&GetAvailablePlans, Some(&token), "{}").await,
    ];
    for (status, body) in answers {
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("customer_not_found")),
            "{body}"
        );
    }
}
