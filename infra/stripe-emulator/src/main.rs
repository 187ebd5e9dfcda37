//! `stripe-emulator`: serves the emulator on `STRIPE_EMULATOR_ADDR` (default 127.0.0.1:12111).

use tokio::net::TcpListener;

const DEFAULT_ADDR: &str = "127.0.0.1:12111";
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let addr = std::env::var("STRIPE_EMULATOR_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.into());
    let listener = TcpListener::bind(&addr).await?;
    println!(
        "stripe-emulator listening on http://{}",
        listener.local_addr()?
    );
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let server = axum::serve(listener, stripe_emulator::app()).with_graceful_shutdown(async move {
        shutdown().await;
        let _ = stopping.send(true);
    });
    // A `hang` fault can hold a connection open for long; don't let it stall shutdown.
    let grace = async move {
        let _ = stopped.wait_for(|s| *s).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = server => result,
        _ = grace => Ok(()),
    }
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
