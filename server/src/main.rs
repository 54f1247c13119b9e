//! `pulse-server`: reads configuration, serves until Ctrl-C or SIGTERM.

use std::sync::Arc;

use clap::Parser;
use pulse_server::config::LogFormat;
use pulse_server::demo::{DEMO_EMAIL, DEMO_PASSWORD, OTHER_EMAIL};
use pulse_server::{Config, Server, SystemClock};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let config = Config::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,socketioxide=warn,engineioxide=warn"));
    match config.log_format {
        LogFormat::Json => tracing_subscriber::fmt().json().with_env_filter(filter).init(),
        LogFormat::Pretty => tracing_subscriber::fmt().with_env_filter(filter).init(),
    }
    if !config.dist.join("index.html").exists() {
        tracing::warn!(dist = %config.dist.display(), "no built dashboard here; run `scripts/run` to build it");
    }
    // The file for SQLite; for PostgreSQL only the engine (its URL may carry a password).
    let store = match &config.database_url {
        Some(_) => "postgres".to_owned(),
        None => config.db_path().display().to_string(),
    };
    let demo = config.demo;
    let server = Server::bind(config, Arc::new(SystemClock)).await?;
    let addr = server.local_addr();
    let node = server.state().node.id.clone();
    tracing::info!(%addr, %node, %store, seeded = server.seeded(), demo, "listening");
    println!("Pulse is running at http://{addr}/");
    println!("Demo sign-in: {DEMO_EMAIL} / {DEMO_PASSWORD} (second tenant: {OTHER_EMAIL} / {DEMO_PASSWORD})");
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
