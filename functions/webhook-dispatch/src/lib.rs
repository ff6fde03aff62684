//! The webhook dispatcher, triggered by the dispatch SQS queue. Deliveries (signing, retries,
//! SSRF checks, the delivery log) come with the webhook-dispatch issue; until jobs produce
//! deliveries, this handler acknowledges what arrives and logs each message, so the wiring (queue,
//! DLQ, the local runner's poller, the Lambda entry point) is exercised end to end.

use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use horizon_shared::lambda::SqsHandler;
use horizon_shared::Services;

pub struct WebhookDispatcher {
    #[allow(dead_code)] // used once deliveries exist
    services: Services,
}

impl WebhookDispatcher {
    pub fn new(services: Services) -> Self {
        WebhookDispatcher { services }
    }
}

#[async_trait::async_trait]
impl SqsHandler for WebhookDispatcher {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        for message in &event.records {
            tracing::warn!(
                message_id = ?message.message_id,
                "webhook delivery message received, but delivery is not implemented yet; acknowledged"
            );
        }
        SqsBatchResponse::default()
    }
}
