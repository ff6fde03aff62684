//! Lambda entry point of uploads and images (`/api/...`), behind API Gateway's HTTP API.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    horizon_runtime::lambda::run_http(horizon_uploads::routes).await
}
