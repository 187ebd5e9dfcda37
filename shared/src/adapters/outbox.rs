//! [`Outbox`] on AWS: notices as events on the stack's EventBridge bus, emails through SES
//! (v2).
use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

use crate::ports::error::StoreError;
use crate::ports::notices::{Email, Notice, Outbox, SOURCE};

use super::dynamo::unavailable;

pub struct AwsOutbox {
    events: aws_sdk_eventbridge::Client,
    ses: aws_sdk_sesv2::Client,
    /// The bus's name; empty: notices go nowhere (a stack without one).
    bus: String,
}

impl AwsOutbox {
    pub fn new(
        events: aws_sdk_eventbridge::Client,
        ses: aws_sdk_sesv2::Client,
        bus: String,
    ) -> Self {
        Self { events, ses, bus }
    }
}

fn text(s: &str) -> Result<Content, StoreError> {
    Content::builder()
        .data(s)
        .charset("UTF-8")
        .build()
        .map_err(|e| StoreError::Malformed(e.to_string()))
}

#[async_trait]
impl Outbox for AwsOutbox {
    async fn publish(&self, notice: &Notice) -> Result<(), StoreError> {
        if self.bus.is_empty() {
            return Ok(());
        }
        let detail =
            serde_json::to_string(notice).map_err(|e| StoreError::Malformed(e.to_string()))?;
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(notice.kind.detail_type())
            .detail(detail)
            .build();
        let out = self
            .events
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
        // PutEvents answers 200 with the entries it could not take counted.
        match out.failed_entry_count() {
            0 => Ok(()),
            _ => Err(StoreError::Unavailable(format!(
                "the bus refused the event: {}",
                out.entries()
                    .first()
                    .and_then(|e| e.error_code())
                    .unwrap_or("unknown")
            ))),
        }
    }

    async fn send(&self, email: &Email) -> Result<(), StoreError> {
        let body = Body::builder()
            .text(text(&email.text)?)
            .html(text(&email.html)?)
            .build();
        let message = Message::builder()
            .subject(text(&email.subject)?)
            .body(body)
            .build();
        self.ses
            .send_email()
            .from_email_address(&email.from)
            .destination(Destination::builder().to_addresses(&email.to).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_sesv2::error::DisplayErrorContext(e)))?;
        Ok(())
    }
}
