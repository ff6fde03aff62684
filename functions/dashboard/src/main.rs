//! Lambda entry point of the dashboard: `/horizon` (the single-page app) and `/horizon/api`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Pages of documents are drawn by this executable, started again as a child.
    horizon_app::pages::serve_if_child();
    horizon_runtime::lambda::run_http(horizon_dashboard::routes).await
}
