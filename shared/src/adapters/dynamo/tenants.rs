//! Tenant config and the merchant's contact mapping, one DynamoDB item each.
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{conditional, unavailable};
use crate::ports::error::StoreError;
use crate::ports::tenants::{TenantConfig, TenantStore};

pub struct DynamoTenants {
    client: aws_sdk_dynamodb::Client,
    tenants_table: String,
    contacts_table: String,
}

impl DynamoTenants {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        tenants_table: String,
        contacts_table: String,
    ) -> Self {
        Self {
            client,
            tenants_table,
            contacts_table,
        }
    }
}

#[async_trait]
impl TenantStore for DynamoTenants {
    async fn config(&self, tenant: &str) -> Result<Option<TenantConfig>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tenants_table)
            .key("tenant", AttributeValue::S(tenant.into()))
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        out.item
            .map(|item| {
                serde_dynamo::from_item(item).map_err(|e| StoreError::Malformed(e.to_string()))
            })
            .transpose()
    }

    async fn tenant_ids(&self) -> Result<Vec<String>, StoreError> {
        // One small item per tenant, keys only: a scan's cost is the number of tenants.
        let items = self
            .client
            .scan()
            .table_name(&self.tenants_table)
            .projection_expression("tenant")
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(items
            .iter()
            .filter_map(|i| i.get("tenant").and_then(|v| v.as_s().ok()).cloned())
            .collect())
    }

    async fn map_new_contact(
        &self,
        tenant: &str,
        user_id: &str,
        customer: &str,
    ) -> Result<bool, StoreError> {
        let out = self
            .client
            .put_item()
            .table_name(&self.contacts_table)
            .item("tenant", AttributeValue::S(tenant.into()))
            .item("user_id", AttributeValue::S(user_id.into()))
            .item("customer_id", AttributeValue::S(customer.into()))
            .condition_expression("attribute_not_exists(user_id)")
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if conditional(&e) => Ok(false),
            Err(e) => Err(unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e))),
        }
    }

    async fn contact(&self, tenant: &str, user_id: &str) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.contacts_table)
            .key("tenant", AttributeValue::S(tenant.into()))
            .key("user_id", AttributeValue::S(user_id.into()))
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(out
            .item
            .and_then(|mut item| item.remove("customer_id"))
            .and_then(|v| v.as_s().ok().cloned()))
    }
}
