//! `horizon`: see `horizon --help` and the crate's documentation.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = horizon_cli::Cli::parse();
    let mut out = std::io::stdout().lock();
    match horizon_cli::run(cli, &mut out).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("horizon: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
