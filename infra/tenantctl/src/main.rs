//! `tenantctl`: see `tenantctl --help` and the README's "Operating it" section.
use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let cli = tenantctl::Cli::parse();
    tenantctl::run(cli).await
}
