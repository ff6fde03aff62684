//! Lambda entry point of the job-events function (triggered by the job table's stream).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    horizon_job_events::run().await
}
