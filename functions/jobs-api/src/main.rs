//! Lambda entry point of the job API (`/v1/...`), behind API Gateway's HTTP API.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // An upload's PDF pages are counted by this executable, started again as a child.
    horizon_app::pages::serve_if_child();
    horizon_runtime::lambda::run_http(horizon_jobs_api::routes).await
}
