//! Lambda entry point of the extraction worker: SQS batches in, `batchItemFailures` out; the
//! reaper's EventBridge schedule runs the reaper. Started as an extraction child (see `child`),
//! the same executable extracts one PDF instead.

use std::sync::Arc;

use horizon_extract_worker::ExtractWorker;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    horizon_extract_worker::child::serve_if_child();
    horizon_shared::telemetry::init();
    let worker = Arc::new(ExtractWorker::new(
        horizon_shared::Services::from_env().await?,
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let worker = worker.clone();
        async move {
            worker
                .handle_event(event.payload, &event.context.request_id)
                .await
                .map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}
