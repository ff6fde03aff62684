//! The Lambda entry points: a function's `main.rs` is one call to [`run_http`] (an HTTP function's
//! axum routes), [`run_sqs`] (an [`SqsHandler`]) or [`run_events`] (an [`EventHandler`]); the local runner serves the same routes and
//! calls the same handlers.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};

use horizon_app::Services;

/// An SQS-triggered function. Messages it could not handle for a transient reason are listed in
/// `batchItemFailures`; the event source mapping redelivers only those.
#[async_trait]
pub trait SqsHandler: Send + Sync {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse;
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
            async move {
                handler
                    .handle_event(event.payload, &event.context.request_id)
                    .await
                    .map_err(lambda_runtime::Error::from)
            }
        },
    ))
    .await
}

/// Handles one SQS batch inside its `batch` span.
pub async fn handle_batch(
    handler: &dyn SqsHandler,
    event: SqsEvent,
    request_id: &str,
) -> SqsBatchResponse {
    use tracing::Instrument;
    let span = crate::telemetry::batch_span(request_id, &event);
    handler.handle(event).instrument(span).await
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
                horizon_app::dashboard::beat_for_event(&services, supervisor, &event.payload).await;
                let request_id = event.context.request_id;
                Ok::<_, std::convert::Infallible>(
                    handle_batch(&*handler, event.payload, &request_id).await,
                )
            }
        },
    ))
    .await
}
