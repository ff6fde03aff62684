//! Lambda entry point of the job API (`/v1/...`), behind API Gateway's HTTP API.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    horizon_runtime::lambda::run_http(horizon_jobs_api::routes).await
}
