//! The write ledger in one DynamoDB table: confirmations, counters and rolling windows, and
//! each customer's history, all changed by conditional writes.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::dynamo_err;
use crate::ports::error::StoreError;
use crate::ports::history::History;
use crate::ports::ledger::{Bound, Claim, Confirmation, Entry, Ledger, State, in_window};

/// Confirmations and bound counters in one DynamoDB table (`pk`, TTL on `ttl`).
/// A confirmation is its JSON document plus the attributes conditions need (`state`,
/// `claimed_at`); a counter is `n`.
pub struct DynamoLedger {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { client, table }
    }

    fn confirm_key(tenant: &str, id: &str) -> AttributeValue {
        AttributeValue::S(format!("confirm#{tenant}#{id}"))
    }

    fn count_key(tenant: &str, key: &str) -> AttributeValue {
        AttributeValue::S(format!("count#{tenant}#{key}"))
    }

    fn history_key(tenant: &str, customer: &str) -> AttributeValue {
        AttributeValue::S(format!("history#{tenant}#{customer}"))
    }

    /// Writes `next` as the customer's history if it is still at `expected`'s version.
    fn history_put(
        &self,
        tenant: &str,
        customer: &str,
        next: &History,
        expected: u64,
    ) -> Result<aws_sdk_dynamodb::types::Update, StoreError> {
        let doc = serde_json::to_string(next).map_err(|e| StoreError::Malformed(e.to_string()))?;
        let condition = if expected == 0 {
            "attribute_not_exists(v)"
        } else {
            "v = :v"
        };
        let mut up = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("pk", Self::history_key(tenant, customer))
            .update_expression("SET doc = :doc, v = :next, #ttl = :ttl")
            .condition_expression(condition)
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":doc", AttributeValue::S(doc))
            .expression_attribute_values(":next", AttributeValue::N((expected + 1).to_string()))
            .expression_attribute_values(":ttl", AttributeValue::N(next.expires_at().to_string()));
        if expected != 0 {
            up = up.expression_attribute_values(":v", AttributeValue::N(expected.to_string()));
        }
        Ok(up.build().expect("table, key and expression are set"))
    }

    /// Takes a write that did not happen out of the customer's history (compare-and-set,
    /// retried while other writes move the version).
    async fn history_release(&self, c: &Confirmation) -> Result<(), StoreError> {
        for _ in 0..20 {
            let h = self.history(&c.tenant, &c.customer).await?;
            if !h.entries.iter().any(|e| e.id == c.id) {
                return Ok(());
            }
            let up = self.history_put(&c.tenant, &c.customer, &h.without(&c.id), h.version)?;
            if self.apply(up).await? {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(
            "a customer's history kept changing".into(),
        ))
    }

    fn update_confirmation(&self, c: &Confirmation, now: i64) -> aws_sdk_dynamodb::types::Update {
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("pk", Self::confirm_key(&c.tenant, &c.id))
            .update_expression("SET #s = :claimed, claimed_at = :now, audit_sk = :sk")
            .condition_expression("#s = :pending")
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":claimed", AttributeValue::S("claimed".into()))
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .expression_attribute_values(
                ":sk",
                AttributeValue::S(c.audit_sk.clone().unwrap_or_default()),
            )
            .build()
            .expect("table, key and expression are set")
    }

    /// One conditional update on its own (outside a transaction): `false` when its
    /// condition does not hold.
    async fn apply(&self, up: aws_sdk_dynamodb::types::Update) -> Result<bool, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(up.table_name())
            .set_key(Some(up.key().clone()))
            .update_expression(up.update_expression())
            .set_condition_expression(up.condition_expression().map(str::to_string))
            .set_expression_attribute_names(up.expression_attribute_names().cloned())
            .set_expression_attribute_values(up.expression_attribute_values().cloned())
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(dynamo_err(e)),
        }
    }

    /// One item of the ledger by its key, read consistently (bounds and claims are decided
    /// on it).
    async fn item(
        &self,
        pk: AttributeValue,
    ) -> Result<Option<std::collections::HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk)
            .consistent_read(true)
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(out.item)
    }

    /// A rolling window's entries and version (0 when it does not exist yet).
    async fn window(&self, tenant: &str, key: &str) -> Result<(Vec<Entry>, u64), StoreError> {
        let Some(item) = self.item(Self::count_key(tenant, key)).await? else {
            return Ok((Vec::new(), 0));
        };
        let entries = item
            .get("entries")
            .and_then(|v| v.as_s().ok())
            .map(|s| serde_json::from_str(s).map_err(|e| StoreError::Malformed(e.to_string())))
            .transpose()?
            .unwrap_or_default();
        let version = item
            .get("v")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        Ok((entries, version))
    }

    /// Writes a window's entries if its version is still `version`.
    fn window_put(
        &self,
        tenant: &str,
        b: &Bound,
        entries: &[Entry],
        version: u64,
        now: i64,
    ) -> Result<aws_sdk_dynamodb::types::Update, StoreError> {
        let text =
            serde_json::to_string(entries).map_err(|e| StoreError::Malformed(e.to_string()))?;
        let expires = now + b.window_secs.unwrap_or(0) + 86_400;
        Ok(aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("pk", Self::count_key(tenant, &b.key))
            .update_expression("SET entries = :e, v = :next, #ttl = :ttl")
            .condition_expression("attribute_not_exists(v) OR v = :v")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":e", AttributeValue::S(text))
            .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
            .expression_attribute_values(":next", AttributeValue::N((version + 1).to_string()))
            .expression_attribute_values(":ttl", AttributeValue::N(expires.to_string()))
            .build()
            .expect("table, key and expression are set"))
    }

    /// Takes a refused write's entry out of its window again (compare-and-set, retried
    /// while other writes move the version).
    async fn window_release(&self, tenant: &str, b: &Bound, id: &str) -> Result<(), StoreError> {
        for _ in 0..20 {
            let (mut entries, version) = self.window(tenant, &b.key).await?;
            let before = entries.len();
            entries.retain(|(e, _, _)| e != id);
            if entries.len() == before {
                return Ok(());
            }
            let up = self.window_put(tenant, b, &entries, version, crate::timefmt::now_unix())?;
            if self.apply(up).await? {
                return Ok(());
            }
        }
        Err(StoreError::Unavailable(
            "a rolling window kept changing".into(),
        ))
    }

    fn count_up(&self, tenant: &str, b: &Bound) -> aws_sdk_dynamodb::types::Update {
        aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .key("pk", Self::count_key(tenant, &b.key))
            .update_expression("ADD n :w SET #ttl = :ttl")
            // Room for this write's weight; a weight over the cap never fits.
            .condition_expression("attribute_not_exists(n) OR n <= :room")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":w", AttributeValue::N(b.weight.to_string()))
            .expression_attribute_values(
                ":room",
                AttributeValue::N(
                    b.cap
                        .checked_sub(b.weight)
                        .map_or(-1, |r| r as i64)
                        .to_string(),
                ),
            )
            .expression_attribute_values(":ttl", AttributeValue::N(b.expires_at.to_string()))
            .build()
            .expect("table, key and expression are set")
    }
}

#[async_trait]
impl Ledger for DynamoLedger {
    async fn put(&self, c: &Confirmation) -> Result<(), StoreError> {
        let doc = serde_json::to_string(c).map_err(|e| StoreError::Malformed(e.to_string()))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", Self::confirm_key(&c.tenant, &c.id))
            .item("doc", AttributeValue::S(doc))
            .item("state", AttributeValue::S("pending".into()))
            // Kept a day past its life, so a late replay still gets the first outcome.
            .item(
                "ttl",
                AttributeValue::N((c.expires_at + 86_400).to_string()),
            )
            .send()
            .await
            .map_err(dynamo_err)?;
        Ok(())
    }

    async fn get(&self, tenant: &str, id: &str) -> Result<Option<Confirmation>, StoreError> {
        let Some(item) = self.item(Self::confirm_key(tenant, id)).await? else {
            return Ok(None);
        };
        let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let doc = text("doc").ok_or_else(|| StoreError::Malformed("no doc".into()))?;
        let mut c: Confirmation =
            serde_json::from_str(&doc).map_err(|e| StoreError::Malformed(e.to_string()))?;
        c.state = match text("state").as_deref() {
            Some("claimed") => State::Claimed,
            Some("done") => State::Done,
            _ => State::Pending,
        };
        c.claimed_at = item
            .get("claimed_at")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok());
        c.audit_sk = text("audit_sk").filter(|s| !s.is_empty());
        c.outcome = text("outcome").and_then(|o| serde_json::from_str(&o).ok());
        Ok(Some(c))
    }

    async fn history(&self, tenant: &str, customer: &str) -> Result<History, StoreError> {
        let Some(item) = self.item(Self::history_key(tenant, customer)).await? else {
            return Ok(History::default());
        };
        let mut h: History = item
            .get("doc")
            .and_then(|v| v.as_s().ok())
            .map(|s| serde_json::from_str(s).map_err(|e| StoreError::Malformed(e.to_string())))
            .transpose()?
            .unwrap_or_default();
        h.version = item
            .get("v")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        Ok(h)
    }

    async fn claim(
        &self,
        c: &Confirmation,
        now: i64,
        stale_before: i64,
        history: &History,
    ) -> Result<Claim, StoreError> {
        use aws_sdk_dynamodb::types::TransactWriteItem;
        match c.state {
            State::Done => return Ok(Claim::Taken),
            State::Claimed => {
                // Its claimer crashed: take it over, without counting it again.
                let out = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key("pk", Self::confirm_key(&c.tenant, &c.id))
                    .update_expression("SET claimed_at = :now, audit_sk = :sk")
                    .condition_expression("#s = :claimed AND claimed_at < :stale")
                    .expression_attribute_names("#s", "state")
                    .expression_attribute_values(":claimed", AttributeValue::S("claimed".into()))
                    .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
                    .expression_attribute_values(
                        ":stale",
                        AttributeValue::N(stale_before.to_string()),
                    )
                    .expression_attribute_values(
                        ":sk",
                        AttributeValue::S(c.audit_sk.clone().unwrap_or_default()),
                    )
                    .send()
                    .await;
                return match out {
                    Ok(_) => Ok(Claim::Won),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                    {
                        Ok(Claim::Taken)
                    }
                    Err(e) => Err(dynamo_err(e)),
                };
            }
            State::Pending => {}
        }
        let mut items = vec![
            TransactWriteItem::builder()
                .update(self.update_confirmation(c, now))
                .build(),
        ];
        // The rolling windows are read at once (one round trip, however many).
        let windows = futures::future::try_join_all(c.bounds.iter().map(|b| async move {
            match b.window_secs {
                Some(_) => self.window(&c.tenant, &b.key).await.map(Some),
                None => Ok(None),
            }
        }))
        .await?;
        for (b, window) in c.bounds.iter().zip(windows) {
            let update = match (b.window_secs, window) {
                (Some(secs), Some((entries, version))) => {
                    // Compare-and-set on the window's version: computed from a consistent
                    // read, applied only if no other write changed it since.
                    let (mut kept, total) = in_window(&entries, secs, now);
                    if !b.fits(total) {
                        return Ok(Claim::OverCap(b.reason.clone()));
                    }
                    kept.push((c.id.clone(), now, b.weight));
                    self.window_put(&c.tenant, b, &kept, version, now)?
                }
                _ => self.count_up(&c.tenant, b),
            };
            items.push(TransactWriteItem::builder().update(update).build());
        }
        // The write joins the customer's history as the policy judged it: only if no other
        // write changed the history since it was read.
        if let Some(entry) = c.entry(now) {
            let next = history.with(entry, now);
            let update = self.history_put(&c.tenant, &c.customer, &next, history.version)?;
            items.push(TransactWriteItem::builder().update(update).build());
        }
        let out = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match out {
            Ok(_) => Ok(Claim::Won),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                // Which condition failed: the confirmation was taken, or a bound holds.
                let now_state = self.get(&c.tenant, &c.id).await?;
                if now_state.is_none_or(|s| s.state != State::Pending) {
                    return Ok(Claim::Taken);
                }
                for b in &c.bounds {
                    if !b.fits(self.used(&c.tenant, b, now).await?) {
                        return Ok(Claim::OverCap(b.reason.clone()));
                    }
                }
                // A race on a counter that has since moved: the caller may try again.
                Ok(Claim::Taken)
            }
            Err(e) => Err(dynamo_err(e)),
        }
    }

    async fn finish(
        &self,
        c: &Confirmation,
        outcome: &Value,
        release: bool,
    ) -> Result<(), StoreError> {
        let text =
            serde_json::to_string(outcome).map_err(|e| StoreError::Malformed(e.to_string()))?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", Self::confirm_key(&c.tenant, &c.id))
            .update_expression("SET #s = :done, outcome = :o")
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":done", AttributeValue::S("done".into()))
            .expression_attribute_values(":o", AttributeValue::S(text))
            .send()
            .await
            .map_err(dynamo_err)?;
        if release {
            if c.act.is_some() {
                self.history_release(c).await?;
            }
            for b in &c.bounds {
                if b.window_secs.is_some() {
                    self.window_release(&c.tenant, b, &c.id).await?;
                    continue;
                }
                let out = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key("pk", Self::count_key(&c.tenant, &b.key))
                    .update_expression("ADD n :minus")
                    .condition_expression("n >= :w")
                    .expression_attribute_values(
                        ":minus",
                        AttributeValue::N(format!("-{}", b.weight)),
                    )
                    .expression_attribute_values(":w", AttributeValue::N(b.weight.to_string()))
                    .send()
                    .await;
                if let Err(e) = out
                    && !e
                        .as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception())
                {
                    return Err(dynamo_err(e));
                }
            }
        }
        Ok(())
    }

    async fn abandon(&self, c: &Confirmation) -> Result<(), StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", Self::confirm_key(&c.tenant, &c.id))
            .update_expression("SET claimed_at = :zero")
            .condition_expression("#s = :claimed")
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":claimed", AttributeValue::S("claimed".into()))
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await;
        match out {
            Err(e)
                if !e
                    .as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(dynamo_err(e))
            }
            _ => Ok(()),
        }
    }

    async fn take(&self, tenant: &str, bound: &Bound) -> Result<bool, StoreError> {
        self.apply(self.count_up(tenant, bound)).await
    }

    async fn take_all(&self, tenant: &str, bounds: &[Bound]) -> Result<Option<usize>, StoreError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        use aws_sdk_dynamodb::types::TransactWriteItem;
        if let [one] = bounds {
            return Ok((!self.take(tenant, one).await?).then_some(0));
        }
        // A transaction cancelled for a conflict with another on the same counters (not a
        // full one) is tried again.
        for _ in 0..4 {
            let items = bounds
                .iter()
                .map(|b| {
                    TransactWriteItem::builder()
                        .update(self.count_up(tenant, b))
                        .build()
                })
                .collect();
            let out = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            let e = match out {
                Ok(_) => return Ok(None),
                Err(e) => e,
            };
            let reasons = match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(t)) => {
                    t.cancellation_reasons().to_vec()
                }
                _ => return Err(dynamo_err(e)),
            };
            // Which condition failed, as DynamoDB says per item.
            if let Some(i) = reasons
                .iter()
                .position(|r| r.code() == Some("ConditionalCheckFailed"))
            {
                return Ok(Some(i));
            }
            // Without the reasons: whichever counter is full now.
            for (i, b) in bounds.iter().enumerate() {
                if !b.fits(self.count(tenant, &b.key).await?) {
                    return Ok(Some(i));
                }
            }
        }
        Err(StoreError::Unavailable(
            "rate counters kept conflicting".into(),
        ))
    }

    async fn used(&self, tenant: &str, b: &Bound, now: i64) -> Result<u64, StoreError> {
        if let Some(window) = b.window_secs {
            let (entries, _) = self.window(tenant, &b.key).await?;
            return Ok(in_window(&entries, window, now).1);
        }
        self.count(tenant, &b.key).await
    }
}

impl DynamoLedger {
    async fn count(&self, tenant: &str, key: &str) -> Result<u64, StoreError> {
        Ok(self
            .item(Self::count_key(tenant, key))
            .await?
            .and_then(|i| {
                i.get("n")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(0))
    }
}
