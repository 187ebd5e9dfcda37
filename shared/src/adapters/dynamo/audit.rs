//! Audit records in DynamoDB; writes also in the sparse `writes` index.
use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::unavailable;
use crate::ports::audit::{AuditRecord, AuditSink};
use crate::ports::error::StoreError;

pub struct DynamoAudit {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoAudit {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { client, table }
    }
}

#[async_trait]
impl AuditSink for DynamoAudit {
    async fn write(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let mut item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(record).map_err(|e| StoreError::Malformed(e.to_string()))?;
        // A write also goes into the sparse `writes` index, so reads never push it out of
        // agent insight's recent actions.
        if record.sends.is_some() {
            item.insert("write_pk".into(), AttributeValue::S(record.pk.clone()));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn recent(
        &self,
        tenant: &str,
        customer: &str,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("{tenant}#{customer}")))
            .scan_index_forward(false)
            .limit(limit as i32)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        serde_dynamo::from_items(out.items.unwrap_or_default())
            .map_err(|e| StoreError::Malformed(e.to_string()))
    }

    async fn recent_writes(
        &self,
        tenant: &str,
        customer: &str,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name("writes")
            .key_condition_expression("write_pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("{tenant}#{customer}")))
            .scan_index_forward(false)
            .limit(limit as i32)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        serde_dynamo::from_items(out.items.unwrap_or_default())
            .map_err(|e| StoreError::Malformed(e.to_string()))
    }
}
