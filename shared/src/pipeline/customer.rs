//! Which Stripe customer the visitor is, in the contract's order, never guessing.
use std::collections::BTreeMap;

use crate::auth::identity::Visitor;
use crate::error::{ApiError, Candidate};
use crate::ports::tenants::{TenantConfig, TenantStore};
use crate::stripe::StripeSession;
use crate::stripe::api;
use crate::stripe::ids::valid_customer_id;
use crate::stripe::types::{Customer, List};
use crate::timefmt::rfc3339;

/// The customer known without asking Stripe: the token's `stripe_customer_id`, then the
/// tenant's contact mapping. Known early, so even a refused call is audited under it.
pub async fn known(
    store: &dyn TenantStore,
    config: &TenantConfig,
    visitor: &Visitor,
) -> Result<Option<String>, ApiError> {
    if let Some(id) = &visitor.stripe_customer_id {
        return Ok(Some(id.clone()));
    }
    if visitor.user_id.is_empty() {
        return Ok(None);
    }
    let mapped = store
        .contact(&config.tenant, &visitor.user_id)
        .await
        .map_err(ApiError::from)?;
    // The mapping is the merchant's data: checked like any id before it reaches a URL.
    match mapped {
        Some(id) if !valid_customer_id(&id) => {
            tracing::warn!(tenant = %config.tenant, "contact mapping holds a malformed customer id");
            Err(ApiError::customer_not_found())
        }
        other => Ok(other),
    }
}

/// The [`known`] customer, or else the token's verified email matched case-insensitively.
/// Two or more matches is an error, never a pick.
pub async fn resolve(
    stripe: &StripeSession<'_>,
    config: &TenantConfig,
    visitor: &Visitor,
    known: Option<String>,
) -> Result<String, ApiError> {
    if let Some(id) = known {
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
    let found = matching(stripe, config, email).await?;
    if found.len() > 1 {
        let matched = found
            .into_values()
            .map(|c| Candidate {
                id: c.id,
                name: c.name,
                created: c.created.and_then(rfc3339),
            })
            .collect();
        return Err(ApiError::ambiguous_customer(matched));
    }
    found
        .into_keys()
        .next()
        .ok_or_else(ApiError::customer_not_found)
}

/// The ids of the tenant's customers with `email` (case-insensitively, as a visitor is
/// found by it).
pub async fn with_email(
    stripe: &StripeSession<'_>,
    config: &TenantConfig,
    email: &str,
) -> Result<Vec<String>, ApiError> {
    Ok(matching(stripe, config, email).await?.into_keys().collect())
}

async fn matching(
    stripe: &StripeSession<'_>,
    config: &TenantConfig,
    email: &str,
) -> Result<BTreeMap<String, Customer>, ApiError> {
    // The list filter is exact and current; Search is case-insensitive but lags writes.
    // Asking both at once costs one round trip and misses neither.
    let exact_req = api::customers_by_email(email).limit(3);
    let exact = stripe.get(&exact_req);
    let found: BTreeMap<String, Customer> = if config.customer_search {
        let query = format!(
            "email:'{}'",
            email.replace('\\', "\\\\").replace('\'', "\\'")
        );
        let search_req = api::search_customers(&query).limit(3);
        let search = stripe.get(&search_req);
        let (exact, search) = futures::join!(exact, search);
        let exact = exact?;
        let search = search?;
        live(exact).chain(live(search)).collect()
    } else {
        // Without Search, the list filter is exact: ask for the email as signed and in
        // lower case at once, so two customers differing only in case are found together
        // (and refused as ambiguous) rather than one picked.
        let lower = email.to_lowercase();
        if lower == email {
            live(exact.await?).collect()
        } else {
            let lower_req = api::customers_by_email(&lower).limit(3);
            let (exact, lowered) = futures::join!(exact, stripe.get(&lower_req));
            live(exact?).chain(live(lowered?)).collect()
        }
    };
    Ok(found)
}

fn live(list: List<Customer>) -> impl Iterator<Item = (String, Customer)> {
    list.data
        .into_iter()
        .filter(|c| !c.deleted)
        .map(|c| (c.id.clone(), c))
}
