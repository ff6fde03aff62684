//! The two kinds of handler a Horizon function has, and the Lambda entry points that run them.
//! A function's `main.rs` is one call to [`run_http`] or [`run_sqs`]; the local runner calls the
//! same handlers through the same traits.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};
use lambda_http::{Body, Request, Response};

use crate::Services;

/// An HTTP function (behind API Gateway's HTTP API). Errors are already rendered as
/// problem+json responses, so handling cannot fail.
#[async_trait]
pub trait HttpHandler: Send + Sync {
    async fn handle(&self, req: Request) -> Response<Body>;
}

/// An SQS-triggered function. Messages it could not handle for a transient reason are listed in
/// `batchItemFailures`; the event source mapping redelivers only those.
#[async_trait]
pub trait SqsHandler: Send + Sync {
    async fn handle(&self, event: SqsEvent) -> SqsBatchResponse;
}

/// Runs an HTTP function in Lambda: logging, configuration and clients once, then requests.
pub async fn run_http<H, F>(make: F) -> Result<(), lambda_http::Error>
where
    H: HttpHandler + 'static,
    F: FnOnce(Services) -> H,
{
    crate::telemetry::init();
    let handler = Arc::new(make(Services::from_env().await?));
    lambda_http::run(lambda_http::service_fn(move |req: Request| {
        let handler = handler.clone();
        async move {
            use lambda_http::RequestExt;
            let request_id = req
                .lambda_context_ref()
                .map(|c| c.request_id.clone())
                .unwrap_or_default();
            Ok::<_, std::convert::Infallible>(handle_logged(&*handler, req, &request_id).await)
        }
    }))
    .await
}

/// Handles one request inside its `request` span and logs one line for it (status, time).
pub async fn handle_logged(
    handler: &dyn HttpHandler,
    req: Request,
    request_id: &str,
) -> Response<Body> {
    use tracing::Instrument;
    let span = crate::telemetry::request_span(request_id, req.method().as_str(), req.uri().path());
    let started = std::time::Instant::now();
    let resp = handler.handle(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::info!(
            status = resp.status().as_u16(),
            millis = started.elapsed().as_millis() as u64,
            "request"
        )
    });
    resp
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
    let services = Services::from_env().await?;
    let handler = Arc::new(make(services.clone()));
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<SqsEvent>| {
            let handler = handler.clone();
            let services = services.clone();
            async move {
                crate::dashboard::beat_for_event(&services, supervisor, &event.payload).await;
                let request_id = event.context.request_id;
                Ok::<_, std::convert::Infallible>(
                    handle_batch(&*handler, event.payload, &request_id).await,
                )
            }
        },
    ))
    .await
}
