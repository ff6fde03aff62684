//! Lambda entry point of the extraction worker: SQS batches in, `batchItemFailures` out.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    horizon_shared::lambda::run_sqs(horizon_extract_worker::ExtractWorker::new).await
}
