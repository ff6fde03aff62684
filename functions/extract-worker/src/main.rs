//! Lambda entry point of the extraction worker (see [`horizon_extract_worker::run`]).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    horizon_extract_worker::run().await
}
