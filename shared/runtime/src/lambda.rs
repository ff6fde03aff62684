//! The Lambda entry points: a function's `main.rs` is one call to [`run_http`] (an HTTP function's
//! axum routes), [`run_sqs`] (an [`SqsHandler`]) or [`run_events`] (an [`EventHandler`]); the local runner serves the same routes and
//! calls the same handlers.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};

use horizon_app::Services;

/// What became of one message of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handled {
    /// Done with (handled, or settled for good, such as a job marked failed): it leaves the
    /// queue.
    Done,
    /// To be delivered again: after the queue's visibility timeout, or after `Some(wait)`.
    Again(Option<std::time::Duration>),
}

/// An SQS-triggered function, one message at a time: [`run_batch`] does a batch's bookkeeping
/// (the messages to deliver again listed in `batchItemFailures`, which the event source mapping
/// redelivers alone).
#[async_trait]
pub trait SqsHandler: Send + Sync {
    async fn handle_message(&self, message: &SqsMessage) -> Handled;

    /// How many of a batch's messages are handled at once.
    fn concurrency(&self) -> usize {
        1
    }

    /// Makes a message handled [`Handled::Again`]`(Some(wait))` come back after `wait`; where
    /// this fails (or is not provided), the queue's visibility timeout applies, which is also
    /// safe.
    async fn come_back_after(
        &self,
        _receipt_handle: &str,
        _wait: std::time::Duration,
    ) -> horizon_domain::Result<()> {
        Ok(())
    }
}

/// Runs a batch through `handler`, at most [`SqsHandler::concurrency`] messages at once, and
/// answers with the messages to deliver again.
pub async fn run_batch(handler: &dyn SqsHandler, event: SqsEvent) -> SqsBatchResponse {
    use futures_util::StreamExt;
    let each: Vec<_> = event
        .records
        .iter()
        .map(|message| handler.handle_message(message))
        .collect();
    let outcomes: Vec<Handled> = futures_util::stream::iter(each)
        .buffered(handler.concurrency().max(1))
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    for (message, outcome) in event.records.iter().zip(outcomes) {
        let Handled::Again(wait) = outcome else {
            continue;
        };
        if let Some(id) = &message.message_id {
            response.add_failure(id.clone());
        }
        if let (Some(wait), Some(handle)) = (wait, &message.receipt_handle) {
            if let Err(e) = handler.come_back_after(handle, wait).await {
                tracing::warn!(error = %e, "could not set when the message comes back");
            }
        }
    }
    response
}

/// Runs an HTTP function in Lambda: logging, configuration and clients once, then its routes
/// as one [`crate::http::service`].
pub async fn run_http<F>(routes: F) -> Result<(), lambda_http::Error>
where
    F: FnOnce(Services) -> axum::Router,
{
    crate::telemetry::init();
    lambda_http::run(crate::http::service(routes(
        horizon_aws::services::from_env().await?,
    )))
    .await
}

/// A function invoked with any JSON event (the extraction worker: SQS batches, and the reaper's
/// schedule); an error fails the invocation.
#[async_trait]
pub trait EventHandler: Send + Sync {
    async fn handle_event(
        &self,
        event: serde_json::Value,
        request_id: &str,
    ) -> horizon_domain::Result<serde_json::Value>;
}

tokio::task_local! {
    /// When the Lambda invocation being handled must have answered.
    static INVOCATION_ENDS: std::time::SystemTime;
}

/// How long the Lambda invocation being handled has left; `None` outside Lambda (the local
/// runner, tests), where only the configured limits hold.
pub fn time_left() -> Option<std::time::Duration> {
    INVOCATION_ENDS
        .try_with(|ends| {
            ends.duration_since(std::time::SystemTime::now())
                .unwrap_or_default()
        })
        .ok()
}

/// Runs an [`EventHandler`] in Lambda: logging, configuration and clients once, then one call
/// per invocation.
pub async fn run_events<H, F>(make: F) -> Result<(), lambda_runtime::Error>
where
    H: EventHandler + 'static,
    F: FnOnce(Services) -> H,
{
    crate::telemetry::init();
    let handler = Arc::new(make(horizon_aws::services::from_env().await?));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
            let handler = handler.clone();
            let ends =
                std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.context.deadline);
            INVOCATION_ENDS.scope(ends, async move {
                handler
                    .handle_event(event.payload, &event.context.request_id)
                    .await
                    .map_err(lambda_runtime::Error::from)
            })
        },
    ))
    .await
}

/// Sends the heartbeat of an invocation of worker `supervisor` (the dashboard counts live
/// invocations), for each queue its batch came from.
pub async fn beat(services: &Services, supervisor: &str, event: &SqsEvent) {
    let arns: Vec<&str> = event
        .records
        .iter()
        .filter_map(|r| r.event_source_arn.as_deref())
        .collect();
    horizon_app::dashboard::beat_for_queues(services, supervisor, &arns).await;
}

/// Handles one SQS batch inside its `batch` span.
pub async fn handle_batch(
    handler: &dyn SqsHandler,
    event: SqsEvent,
    request_id: &str,
) -> SqsBatchResponse {
    use tracing::Instrument;
    let span = crate::telemetry::batch_span(request_id, &event);
    run_batch(handler, event).instrument(span).await
}

/// Runs an SQS-triggered function in Lambda; each invocation sends the heartbeat of worker
/// `supervisor` (the dashboard counts live invocations).
pub async fn run_sqs<H, F>(supervisor: &'static str, make: F) -> Result<(), lambda_runtime::Error>
where
    H: SqsHandler + 'static,
    F: FnOnce(Services) -> H,
{
    crate::telemetry::init();
    let services = horizon_aws::services::from_env().await?;
    let handler = Arc::new(make(services.clone()));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<SqsEvent>| {
            let handler = handler.clone();
            let services = services.clone();
            async move {
                beat(&services, supervisor, &event.payload).await;
                let request_id = event.context.request_id;
                Ok::<_, std::convert::Infallible>(
                    handle_batch(&*handler, event.payload, &request_id).await,
                )
            }
        },
    ))
    .await
}
