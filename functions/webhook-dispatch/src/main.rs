//! Lambda entry point of the webhook dispatcher (SQS-triggered).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    horizon_runtime::lambda::run_sqs(
        "webhook-dispatch",
        horizon_webhook_dispatch::WebhookDispatcher::new,
    )
    .await
}
