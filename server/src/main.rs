//! `pulse-server`: reads configuration, serves until Ctrl-C or SIGTERM.

use std::sync::Arc;

use clap::Parser;
use pulse_server::{Config, Server, SystemClock};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,socketioxide=warn,engineioxide=warn")),
        )
        .init();
    let config = Config::parse();
    if !config.dist.join("index.html").exists() {
        tracing::warn!(dist = %config.dist.display(), "no built dashboard here; run `scripts/run` to build it");
    }
    let server = Server::bind(config, Arc::new(SystemClock)).await?;
    let addr = server.local_addr();
    println!("Pulse is running at http://{addr}/");
    server.run(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
