//! `horizon-local`: runs the whole service locally (see the README's Quick start, which also
//! starts and provisions the local stack first).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    horizon_shared::telemetry::init();
    let services = match horizon_shared::Services::from_env().await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("horizon-local: {e}");
            return ExitCode::FAILURE;
        }
    };
    let workers = services.config.local_workers;
    let running = match horizon_local::start(services).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("horizon-local: cannot listen: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "Horizon is listening on http://{}  (job API /v1, uploads /api; {workers} worker(s) per queue). Ctrl-C stops it.",
        running.addr
    );
    let _ = tokio::signal::ctrl_c().await;
    println!("stopping: finishing in-flight batches");
    running.shutdown().await;
    ExitCode::SUCCESS
}
