//! Which Stripe customer the visitor is, in the contract's order, never guessing.
use std::collections::BTreeSet;

use crate::error::ApiError;
use crate::identity::Visitor;
use crate::stripe::types::{Customer, List};
use crate::stripe::{Params, StripeSession};
use crate::tenant::{TenantConfig, TenantStore};

/// First the token's `stripe_customer_id`, then the tenant's contact mapping, then the
/// token's email matched case-insensitively. Two or more matches is an error, never a pick.
pub async fn resolve(
    stripe: &StripeSession<'_>,
    store: &dyn TenantStore,
    config: &TenantConfig,
    visitor: &Visitor,
) -> Result<String, ApiError> {
    if let Some(id) = &visitor.stripe_customer_id {
        return Ok(id.clone());
    }
    if !visitor.user_id.is_empty()
        && let Some(id) = store
            .contact(&config.tenant, &visitor.user_id)
            .await
            .map_err(|e| e.to_api_error())?
    {
        return Ok(id);
    }
    match &visitor.email {
        Some(email) => by_email(stripe, config, email).await,
        None => Err(ApiError::customer_not_found()),
    }
}

async fn by_email(
    stripe: &StripeSession<'_>,
    config: &TenantConfig,
    email: &str,
) -> Result<String, ApiError> {
    if email.len() > 512 || !email.contains('@') || email.chars().any(char::is_control) {
        return Err(ApiError::customer_not_found());
    }
    // The list filter is exact and current; Search is case-insensitive but lags writes.
    // Asking both at once costs one round trip and misses neither.
    let exact_params = Params::new().set("email", email).set("limit", 3);
    let exact = stripe.get::<List<Customer>>("/v1/customers", &exact_params);
    let ids: BTreeSet<String> = if config.customer_search {
        let query = format!(
            "email:'{}'",
            email.replace('\\', "\\\\").replace('\'', "\\'")
        );
        let search_params = Params::new().set("query", query).set("limit", 3);
        let search = stripe.get::<List<Customer>>("/v1/customers/search", &search_params);
        let (exact, search) = futures::join!(exact, search);
        let exact = exact.map_err(|e| e.to_api_error())?;
        let search = search.map_err(|e| e.to_api_error())?;
        live_ids(exact).chain(live_ids(search)).collect()
    } else {
        live_ids(exact.await.map_err(|e| e.to_api_error())?).collect()
    };
    let mut ids = ids.into_iter();
    match (ids.next(), ids.next()) {
        (Some(id), None) => Ok(id),
        (None, _) => Err(ApiError::customer_not_found()),
        (Some(_), Some(_)) => Err(ApiError::ambiguous_customer()),
    }
}

fn live_ids(list: List<Customer>) -> impl Iterator<Item = String> {
    list.data.into_iter().filter(|c| !c.deleted).map(|c| c.id)
}
