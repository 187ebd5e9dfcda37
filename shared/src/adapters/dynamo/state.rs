//! [`BillingState`] in one DynamoDB table (`pk`, `sk`, TTL on `ttl`):
//! - `{tenant}#events` / event id: an applied event, kept 4 days (Stripe retries for 3);
//! - `{tenant}#{customer}` / `fact#{key}`: a fact, its JSON and its stamp, written by a
//!   conditional put that holds only for a newer stamp; `told` once what follows it was
//!   done;
//! - `{tenant}#recovery` / `{customer}#{invoice}`: a recovery record, changed by
//!   compare-and-set on its version `v`, so concurrent deliveries never lose an update;
//! - `{tenant}#approval` / `apr_{customer}.{hex}`: an approval, changed the same way, so
//!   of racing decisions exactly one is written;
//! - `{tenant}#paylink` / the token's SHA-256: a pay link, spent by compare-and-set;
//! - `{tenant}#renewal` / subscription id: its next renewal, for the expiring-card scan;
//! - `{tenant}#webhook` / `last`: the last event received.
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::ports::error::StoreError;
use crate::ports::notices::{PayLink, Renewal, WebhookSeen};
use crate::ports::state::{
    Approval, ApprovalChange, BillingState, Fact, Put, Recovery, RecoveryStatus, Stamp, is_open,
    listed, merged_open, merged_renewal, merged_resolve,
};

pub struct DynamoState {
    client: Client,
    table: String,
}

/// Attempts of a recovery's compare-and-set before giving up (the event is then retried
/// by Stripe).
const CAS_ATTEMPTS: usize = 8;

use super::{conditional, unavailable};

fn sdk<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

type Item = std::collections::HashMap<String, AttributeValue>;

fn text<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn number(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

impl DynamoState {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        Ok(out.item)
    }

    /// The `body` (JSON) of every item of partition `pk`, of those whose sort key starts
    /// with `prefix` when given.
    async fn bodies<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        prefix: Option<String>,
        consistent: bool,
    ) -> Result<Vec<T>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(consistent)
            .expression_attribute_values(":pk", s(pk));
        // DynamoDB refuses an empty key value, so a whole partition is a plain read.
        let query = match prefix {
            Some(p) => query
                .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
                .expression_attribute_values(":p", s(p)),
            None => query.key_condition_expression("pk = :pk"),
        };
        let items = query
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(sdk)?;
        items
            .iter()
            .filter_map(|i| text(i, "body"))
            .map(|b| serde_json::from_str(b).map_err(|e| StoreError::Malformed(e.to_string())))
            .collect()
    }

    /// Reads, changes and writes back one record (`body` as JSON), retrying when another
    /// writer got there first: what is stored afterwards, and whether this call wrote it.
    async fn compare_and_set<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
        ttl: impl Fn(&T) -> Option<i64>,
        change: impl Fn(Option<&T>) -> Option<T>,
    ) -> Result<(Option<T>, bool), StoreError> {
        for _ in 0..CAS_ATTEMPTS {
            let item = self.get(pk, sk).await?;
            let version = item.as_ref().and_then(|i| number(i, "v"));
            let stored = match item.as_ref().and_then(|i| text(i, "body")) {
                Some(body) => Some(
                    serde_json::from_str::<T>(body)
                        .map_err(|e| StoreError::Malformed(e.to_string()))?,
                ),
                None => None,
            };
            let Some(next) = change(stored.as_ref()) else {
                return Ok((stored, false));
            };
            let body =
                serde_json::to_string(&next).map_err(|e| StoreError::Malformed(e.to_string()))?;
            let mut put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(pk))
                .item("sk", s(sk))
                .item("body", s(body))
                .item("v", n(version.unwrap_or(0) + 1));
            if let Some(ttl) = ttl(&next) {
                put = put.item("ttl", n(ttl));
            }
            put = match version {
                Some(v) => put
                    .condition_expression("v = :v")
                    .expression_attribute_values(":v", n(v)),
                None => put.condition_expression("attribute_not_exists(pk)"),
            };
            match put.send().await {
                Ok(_) => return Ok((Some(next), true)),
                Err(e) if conditional(&e) => continue,
                Err(e) => return Err(sdk(e)),
            }
        }
        Err(StoreError::Unavailable(format!("{pk} {sk} kept changing")))
    }

    async fn change_recovery(
        &self,
        tenant: &str,
        r: &Recovery,
        change: impl Fn(Option<Recovery>) -> Option<Recovery>,
    ) -> Result<Option<Recovery>, StoreError> {
        let pk = format!("{tenant}#recovery");
        let sk = format!("{}#{}", r.customer, r.invoice);
        self.compare_and_set(
            &pk,
            &sk,
            |_| None,
            |stored: Option<&Recovery>| change(stored.cloned()),
        )
        .await
        .map(|(stored, _)| stored)
    }
}

#[async_trait]
impl BillingState for DynamoState {
    async fn claim_event(
        &self,
        tenant: &str,
        event: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("{tenant}#events")))
            .item("sk", s(event))
            .item("ttl", n(expires_at))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if conditional(&e) => Ok(false),
            Err(e) => Err(sdk(e)),
        }
    }

    async fn claim_window(
        &self,
        tenant: &str,
        key: &str,
        now: i64,
        window_secs: i64,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("{tenant}#events")))
            .item("sk", s(key))
            .item("at", n(now))
            .item("ttl", n(now + window_secs))
            // DynamoDB's TTL deletes late: the time decides, not the item's presence.
            .condition_expression("attribute_not_exists(pk) OR #at <= :cutoff")
            .expression_attribute_names("#at", "at")
            .expression_attribute_values(":cutoff", n(now - window_secs))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if conditional(&e) => Ok(false),
            Err(e) => Err(sdk(e)),
        }
    }

    async fn release_event(&self, tenant: &str, event: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(format!("{tenant}#events")))
            .key("sk", s(event))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    async fn put_fact(
        &self,
        tenant: &str,
        customer: &str,
        fact: &Fact,
        settle_tie: bool,
    ) -> Result<Put, StoreError> {
        let pk = format!("{tenant}#{customer}");
        let sk = format!("fact#{}", fact.key);
        let value =
            serde_json::to_string(&fact.value).map_err(|e| StoreError::Malformed(e.to_string()))?;
        let newer = if settle_tie {
            "attribute_not_exists(pk) OR (#c <= :c AND #e <> :e)"
        } else {
            "attribute_not_exists(pk) OR #c < :c"
        };
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(&pk))
            .item("sk", s(&sk))
            .item("value", s(value))
            .item("created", n(fact.stamp.created))
            .item("event", s(&fact.stamp.event))
            .condition_expression(newer)
            .expression_attribute_names("#c", "created")
            .expression_attribute_values(":c", n(fact.stamp.created));
        let out = if settle_tie {
            out.expression_attribute_names("#e", "event")
                .expression_attribute_values(":e", s(&fact.stamp.event))
        } else {
            out
        }
        .send()
        .await;
        match out {
            Ok(_) => Ok(Put::Written),
            Err(e) if conditional(&e) => {
                // Refused: older, or the same second from another event (a tie).
                let stored = self.get(&pk, &sk).await?;
                let created = stored.as_ref().and_then(|i| number(i, "created"));
                let event = stored.as_ref().and_then(|i| text(i, "event"));
                let same_second = created == Some(fact.stamp.created);
                let same_event = event == Some(fact.stamp.event.as_str());
                let told = stored.as_ref().is_some_and(|i| i.contains_key("told"));
                Ok(match (same_second, same_event) {
                    (true, true) if told => Put::Told,
                    (true, true) => Put::Again,
                    (true, false) if !settle_tie => Put::Tie,
                    _ => Put::Older,
                })
            }
            Err(e) => Err(sdk(e)),
        }
    }

    async fn fact_told(&self, tenant: &str, customer: &str, fact: &Fact) -> Result<(), StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("{tenant}#{customer}")))
            .key("sk", s(format!("fact#{}", fact.key)))
            .update_expression("SET told = :t")
            // Only over this very fact: a later event's fact is its own to tell.
            .condition_expression("#e = :e AND #c = :c")
            .expression_attribute_names("#e", "event")
            .expression_attribute_names("#c", "created")
            .expression_attribute_values(":e", s(&fact.stamp.event))
            .expression_attribute_values(":c", n(fact.stamp.created))
            .expression_attribute_values(":t", AttributeValue::Bool(true))
            .send()
            .await;
        match out {
            Ok(_) => Ok(()),
            Err(e) if conditional(&e) => Ok(()),
            Err(e) => Err(sdk(e)),
        }
    }

    async fn facts(&self, tenant: &str, customer: &str) -> Result<Vec<Fact>, StoreError> {
        let items = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :f)")
            .expression_attribute_values(":pk", s(format!("{tenant}#{customer}")))
            .expression_attribute_values(":f", s("fact#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(sdk)?;
        items
            .iter()
            .map(|i| {
                let key = text(i, "sk")
                    .unwrap_or_default()
                    .trim_start_matches("fact#");
                let value = serde_json::from_str(text(i, "value").unwrap_or("null"))
                    .map_err(|e| StoreError::Malformed(e.to_string()))?;
                Ok(Fact {
                    key: key.to_string(),
                    value,
                    stamp: Stamp {
                        created: number(i, "created").unwrap_or(0),
                        event: text(i, "event").unwrap_or_default().to_string(),
                    },
                })
            })
            .collect()
    }

    async fn open_recovery(&self, tenant: &str, r: &Recovery) -> Result<bool, StoreError> {
        let after = self
            .change_recovery(tenant, r, |stored| merged_open(stored, r))
            .await?;
        Ok(is_open(after.as_ref()))
    }

    async fn resolve_recovery(&self, tenant: &str, r: &Recovery) -> Result<bool, StoreError> {
        // What the attempt that wrote saw (a compare-and-set may try more than once).
        let was_open = std::sync::atomic::AtomicBool::new(false);
        self.change_recovery(tenant, r, |stored| {
            was_open.store(
                is_open(stored.as_ref()),
                std::sync::atomic::Ordering::SeqCst,
            );
            Some(merged_resolve(stored, r))
        })
        .await?;
        Ok(was_open.load(std::sync::atomic::Ordering::SeqCst))
    }

    async fn recoveries(
        &self,
        tenant: &str,
        status: RecoveryStatus,
        customer: Option<&str>,
    ) -> Result<Vec<Recovery>, StoreError> {
        // Not consistent: a queue an agent reads may lag a delivery by a moment.
        let all = self
            .bodies(
                &format!("{tenant}#recovery"),
                customer.map(|c| format!("{c}#")),
                false,
            )
            .await?;
        Ok(listed(all, status))
    }

    async fn change_approval(
        &self,
        tenant: &str,
        id: &str,
        change: ApprovalChange<'_>,
    ) -> Result<(Option<Approval>, bool), StoreError> {
        // Kept 90 days past its life, so the visitor can still read how it ended.
        let ttl = |a: &Approval| Some(a.expires_at + 90 * 86_400);
        self.compare_and_set(&format!("{tenant}#approval"), id, ttl, change)
            .await
    }

    async fn approvals(
        &self,
        tenant: &str,
        customer: Option<&str>,
    ) -> Result<Vec<Approval>, StoreError> {
        // Consistent: a decision just written is what the next read shows.
        let mut all: Vec<Approval> = self
            .bodies(
                &format!("{tenant}#approval"),
                customer.map(|c| format!("apr_{c}.")),
                true,
            )
            .await?;
        all.sort_by_key(|a| std::cmp::Reverse(a.asked_at));
        Ok(all)
    }
    async fn put_pay_link(&self, tenant: &str, link: &PayLink) -> Result<(), StoreError> {
        // Kept a week past its life, so a late click is told it expired, not "unknown".
        let ttl = |l: &PayLink| Some(l.expires_at + 7 * 86_400);
        let (_, wrote) = self
            .compare_and_set(&format!("{tenant}#paylink"), &link.id, ttl, |stored| {
                stored.is_none().then(|| link.clone())
            })
            .await?;
        if wrote {
            Ok(())
        } else {
            Err(StoreError::Unavailable("pay link id taken".into()))
        }
    }

    async fn pay_link(&self, tenant: &str, id: &str) -> Result<Option<PayLink>, StoreError> {
        let item = self.get(&format!("{tenant}#paylink"), id).await?;
        item.as_ref()
            .and_then(|i| text(i, "body"))
            .map(|b| serde_json::from_str(b).map_err(|e| StoreError::Malformed(e.to_string())))
            .transpose()
    }

    async fn spend_pay_link(&self, tenant: &str, id: &str, now: i64) -> Result<bool, StoreError> {
        let ttl = |l: &PayLink| Some(l.expires_at + 7 * 86_400);
        let (_, wrote) = self
            .compare_and_set(
                &format!("{tenant}#paylink"),
                id,
                ttl,
                |stored: Option<&PayLink>| {
                    let l = stored?;
                    (l.used_at.is_none() && l.expires_at > now).then(|| PayLink {
                        used_at: Some(now),
                        ..l.clone()
                    })
                },
            )
            .await?;
        Ok(wrote)
    }

    async fn unspend_pay_link(&self, tenant: &str, id: &str) -> Result<(), StoreError> {
        let ttl = |l: &PayLink| Some(l.expires_at + 7 * 86_400);
        self.compare_and_set(
            &format!("{tenant}#paylink"),
            id,
            ttl,
            |stored: Option<&PayLink>| {
                let l = stored?;
                l.used_at.is_some().then(|| PayLink {
                    used_at: None,
                    ..l.clone()
                })
            },
        )
        .await
        .map(drop)
    }

    async fn put_renewal(&self, tenant: &str, r: &Renewal) -> Result<(), StoreError> {
        self.compare_and_set(
            &format!("{tenant}#renewal"),
            &r.subscription,
            |_| None,
            |stored: Option<&Renewal>| Some(merged_renewal(stored, r)),
        )
        .await
        .map(drop)
    }

    async fn renewals(&self, tenant: &str) -> Result<Vec<Renewal>, StoreError> {
        self.bodies(&format!("{tenant}#renewal"), None, false).await
    }

    async fn renewal_checked(
        &self,
        tenant: &str,
        subscription: &str,
        period_end: i64,
    ) -> Result<(), StoreError> {
        self.compare_and_set(
            &format!("{tenant}#renewal"),
            subscription,
            |_| None,
            |stored: Option<&Renewal>| {
                stored
                    .filter(|r| r.period_end == period_end && r.checked != Some(period_end))
                    .map(|r| Renewal {
                        checked: Some(period_end),
                        ..r.clone()
                    })
            },
        )
        .await
        .map(drop)
    }

    async fn webhook_seen(&self, tenant: &str, seen: &WebhookSeen) -> Result<(), StoreError> {
        let body = serde_json::to_string(seen).map_err(|e| StoreError::Malformed(e.to_string()))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("{tenant}#webhook")))
            .item("sk", s("last"))
            .item("body", s(body))
            .send()
            .await
            .map_err(sdk)?;
        Ok(())
    }

    async fn last_webhook(&self, tenant: &str) -> Result<Option<WebhookSeen>, StoreError> {
        let item = self.get(&format!("{tenant}#webhook"), "last").await?;
        item.as_ref()
            .and_then(|i| text(i, "body"))
            .map(|b| serde_json::from_str(b).map_err(|e| StoreError::Malformed(e.to_string())))
            .transpose()
    }
}
