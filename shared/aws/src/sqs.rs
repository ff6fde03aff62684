//! SQS: the extraction work queue, the webhook delivery queue (and its dead-letter queue), and
//! the queues' depth and redrive limit for the dashboard.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::Client as SqsClient;

use crate::clients::unavailable;
use crate::dynamo::to_json;
use horizon_app::ports::{DeliveryQueue, WorkMessage, WorkQueue};
use horizon_app::ports::{QueueDepth, QueueInfo};
use horizon_app::ports::{StoreError, StoreResult};
use horizon_domain::deliveries::DeliveryMessage;

pub struct SqsWorkQueue {
    client: SqsClient,
    queue_url: String,
}

impl SqsWorkQueue {
    pub fn new(client: SqsClient, queue_url: impl Into<String>) -> Self {
        SqsWorkQueue {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl WorkQueue for SqsWorkQueue {
    async fn enqueue_after(&self, message: &WorkMessage, delay: Duration) -> StoreResult<()> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(to_json(message)?)
            .delay_seconds(delay.as_secs().min(900) as i32)
            .send()
            .await
            .map_err(|e| unavailable("SQS SendMessage", e))?;
        Ok(())
    }

    async fn retry_later(&self, receipt_handle: &str, delay: Duration) -> StoreResult<()> {
        come_back_after(&self.client, &self.queue_url, receipt_handle, delay).await
    }
}

/// Makes a received message of `queue_url` visible again after `delay`.
async fn come_back_after(
    client: &SqsClient,
    queue_url: &str,
    receipt_handle: &str,
    delay: Duration,
) -> StoreResult<()> {
    // SQS allows 0 to 43,200 seconds.
    let seconds = delay.as_secs().min(43_200) as i32;
    client
        .change_message_visibility()
        .queue_url(queue_url)
        .receipt_handle(receipt_handle)
        .visibility_timeout(seconds)
        .send()
        .await
        .map_err(|e| unavailable("SQS ChangeMessageVisibility", e))?;
    Ok(())
}

/// Webhook deliveries on SQS, with the dead-letter queue for those given up on.
pub struct SqsDeliveryQueue {
    client: SqsClient,
    queue_url: String,
    dlq_url: Option<String>,
}

impl SqsDeliveryQueue {
    pub fn new(client: SqsClient, queue_url: impl Into<String>, dlq_url: Option<String>) -> Self {
        SqsDeliveryQueue {
            client,
            queue_url: queue_url.into(),
            dlq_url,
        }
    }
}

#[async_trait]
impl DeliveryQueue for SqsDeliveryQueue {
    async fn send(&self, message: &DeliveryMessage, delay: Duration) -> StoreResult<()> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(to_json(message)?)
            .delay_seconds(delay.as_secs().min(900) as i32)
            .send()
            .await
            .map_err(|e| unavailable("SQS SendMessage", e))?;
        Ok(())
    }

    async fn dead_letter(&self, message: &DeliveryMessage) -> StoreResult<()> {
        let Some(dlq) = &self.dlq_url else {
            return Err(StoreError::Internal(
                "HORIZON_WEBHOOK_DLQ_URL is not set: cannot dead-letter".into(),
            ));
        };
        self.client
            .send_message()
            .queue_url(dlq)
            .message_body(to_json(message)?)
            .send()
            .await
            .map_err(|e| unavailable("SQS SendMessage (DLQ)", e))?;
        Ok(())
    }

    async fn retry_later(&self, receipt_handle: &str, delay: Duration) -> StoreResult<()> {
        come_back_after(&self.client, &self.queue_url, receipt_handle, delay).await
    }
}

// ---------------------------------------------------------------------------------------------
// SQS queue attributes

pub struct SqsQueues {
    client: aws_sdk_sqs::Client,
}

impl SqsQueues {
    pub fn new(client: aws_sdk_sqs::Client) -> Self {
        SqsQueues { client }
    }
}

#[async_trait]
impl QueueInfo for SqsQueues {
    async fn depth(&self, queue_url: &str) -> StoreResult<QueueDepth> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(A::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| unavailable("SQS GetQueueAttributes", e))?;
        let attrs = out.attributes.unwrap_or_default();
        let get = |a: A| attrs.get(&a).and_then(|v| v.parse().ok()).unwrap_or(0);
        Ok(QueueDepth {
            visible: get(A::ApproximateNumberOfMessages),
            in_flight: get(A::ApproximateNumberOfMessagesNotVisible),
            delayed: get(A::ApproximateNumberOfMessagesDelayed),
        })
    }

    async fn purge(&self, queue_url: &str) -> StoreResult<()> {
        use aws_sdk_sqs::operation::purge_queue::PurgeQueueError;
        match self.client.purge_queue().queue_url(queue_url).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(PurgeQueueError::PurgeQueueInProgress(_))
                ) =>
            {
                Err(StoreError::Conflict(
                    "this queue was purged less than a minute ago; SQS allows one purge a minute"
                        .into(),
                ))
            }
            Err(e) => Err(unavailable("SQS PurgeQueue", e)),
        }
    }

    async fn max_receive_count(&self, queue_url: &str) -> StoreResult<Option<u32>> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(queue_url)
            .attribute_names(A::RedrivePolicy)
            .send()
            .await
            .map_err(|e| unavailable("SQS GetQueueAttributes", e))?;
        let policy = out.attributes.unwrap_or_default().remove(&A::RedrivePolicy);
        Ok(policy
            .and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok())
            .and_then(|v| match &v["maxReceiveCount"] {
                serde_json::Value::Number(n) => n.as_u64(),
                serde_json::Value::String(s) => s.parse().ok(),
                _ => None,
            })
            .map(|n| n as u32))
    }
}
