//! Lambda entry point of the dashboard: `/horizon` (the single-page app) and `/horizon/api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    horizon_runtime::lambda::run_http(horizon_dashboard::routes).await
}
