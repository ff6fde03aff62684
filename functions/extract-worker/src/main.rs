//! Lambda entry point of the extraction worker: SQS batches in, `batchItemFailures` out. Started
//! as an extraction child (see `child`), the same executable extracts one PDF instead.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    horizon_extract_worker::child::serve_if_child();
    horizon_shared::lambda::run_sqs(horizon_extract_worker::ExtractWorker::new).await
}
