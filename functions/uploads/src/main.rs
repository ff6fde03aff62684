//! Lambda entry point of uploads and images (`/api/...`), behind API Gateway's HTTP API.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // An upload's PDF pages are counted, and an image's thumbnails made, by this executable,
    // started again as a child.
    horizon_app::pages::serve_if_child();
    horizon_uploads::thumbs::serve_if_child();
    horizon_runtime::lambda::run_http(horizon_uploads::routes).await
}
