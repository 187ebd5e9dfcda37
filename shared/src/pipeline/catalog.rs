//! Product names, cached per tenant for a bounded time. Stripe's `expand[]` stops at four
//! levels, one short of `data.items.data.price.product` on a subscription list, and names
//! rarely change: a warm Lambda asks for each product once, not once per call.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::stripe::api;
use crate::stripe::types::{Expandable, Subscription};
use crate::stripe::{StripeError, StripeSession};

pub struct Catalog {
    ttl: Duration,
    names: Mutex<HashMap<(String, String), (Instant, String)>>,
}

impl Catalog {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            names: Mutex::new(HashMap::new()),
        }
    }

    /// The names of the products of `subs`' items: those the response carried (remembered),
    /// the rest from the cache or one request.
    pub async fn of_subscriptions(
        &self,
        tenant: &str,
        stripe: &StripeSession<'_>,
        subs: &[Subscription],
    ) -> Result<HashMap<String, String>, StripeError> {
        let mut ids = Vec::new();
        for item in subs.iter().flat_map(|s| &s.items.data) {
            match &item.price.product {
                Expandable::Object(p) => self.remember(tenant, &p.id, &p.name),
                Expandable::Id(id) => ids.push(id.as_str()),
            }
        }
        let mut names = self.names(tenant, stripe, &ids).await?;
        for item in subs.iter().flat_map(|s| &s.items.data) {
            if let Expandable::Object(p) = &item.price.product {
                names.insert(p.id.clone(), p.name.clone());
            }
        }
        Ok(names)
    }

    /// Remembers names a response already carried (an expanded product).
    pub fn remember(&self, tenant: &str, product_id: &str, name: &str) {
        if let Ok(mut map) = self.names.lock() {
            map.insert(
                (tenant.into(), product_id.into()),
                (Instant::now(), name.into()),
            );
        }
    }

    /// Names for `ids`, asking Stripe once for all the ones not cached.
    pub async fn names(
        &self,
        tenant: &str,
        stripe: &StripeSession<'_>,
        ids: &[&str],
    ) -> Result<HashMap<String, String>, StripeError> {
        let mut found = HashMap::new();
        let mut missing = Vec::new();
        if let Ok(map) = self.names.lock() {
            for id in ids {
                match map.get(&(tenant.to_string(), id.to_string())) {
                    Some((at, name)) if at.elapsed() < self.ttl => {
                        found.insert(id.to_string(), name.clone());
                    }
                    _ if !missing.contains(id) => missing.push(*id),
                    _ => {}
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let req = missing
            .iter()
            .fold(api::products().limit(100), |r, id| r.set("ids[]", id));
        let list = stripe.get(&req).await?;
        for product in list.data {
            self.remember(tenant, &product.id, &product.name);
            found.insert(product.id, product.name);
        }
        Ok(found)
    }
}
