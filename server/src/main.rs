//! `pulse-server`: reads configuration, then serves until Ctrl-C or SIGTERM, or runs an
//! `admin` command and exits.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use pulse_server::accounts::{self, NewAdmin};
use pulse_server::config::{AdminAction, Command, LogFormat};
use pulse_server::demo::{DEMO_EMAIL, DEMO_PASSWORD, OTHER_EMAIL};
use pulse_server::error::AppError;
use pulse_server::{Clock, Config, Mode, Server, SystemClock};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let config = Config::parse();
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,socketioxide=warn,engineioxide=warn"));
    match config.log_format {
        LogFormat::Json => tracing_subscriber::fmt().json().with_env_filter(filter).init(),
        LogFormat::Pretty => tracing_subscriber::fmt().with_env_filter(filter).init(),
    }
    let result = match config.command.clone() {
        Some(Command::Admin { action }) => admin(&config, action).await,
        None => serve(config).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("pulse-server: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    if !config.dist.join("index.html").exists() {
        tracing::warn!(dist = %config.dist.display(), "no built dashboard here; run `scripts/run` to build it");
    }
    // The file for SQLite; for PostgreSQL only the engine (its URL may carry a password).
    let store = match &config.database_url {
        Some(_) => "postgres".to_owned(),
        None => config.db_path().display().to_string(),
    };
    let demo = config.demo;
    let server = Server::bind(config, Arc::new(SystemClock)).await.map_err(|e| e.to_string())?;
    let addr = server.local_addr();
    let node = server.state().node.id.clone();
    let mode = server.mode();
    let demo = demo && mode == Mode::Demo;
    tracing::info!(%addr, %node, %store, mode = mode.as_str(), seeded = server.seeded(), demo, "listening");
    println!("Pulse is running at http://{addr}/");
    match mode {
        Mode::Demo => {
            println!("Mode: demo (public demo accounts; never put real data here; PULSE_MODE=production for that)");
            println!("Demo sign-in: {DEMO_EMAIL} / {DEMO_PASSWORD} (second tenant: {OTHER_EMAIL} / {DEMO_PASSWORD})");
        }
        Mode::Production => {
            println!("Mode: production (no demo data)");
            if !server.has_accounts() {
                println!(
                    "No accounts yet. Create the first admin with the same settings:\n  \
                     pulse-server admin create --email you@example.com --business \"Your business\""
                );
            }
        }
    }
    server.run(shutdown_signal()).await.map_err(|e| e.to_string())
}

async fn admin(config: &Config, action: AdminAction) -> Result<(), String> {
    match action {
        AdminAction::Create { email, name, business } => {
            create_admin(config, &email, &name, &business).await
        }
        AdminAction::Backup { to } => {
            accounts::backup(config, &to).await.map_err(cli_message)?;
            println!("Backed up {} to {}", config.db_path().display(), to.display());
            Ok(())
        }
    }
}

async fn create_admin(
    config: &Config,
    email: &str,
    name: &str,
    business: &str,
) -> Result<(), String> {
    let password = read_password()?;
    let admin = NewAdmin { email, name, business, password: &password };
    let id =
        accounts::create_admin(config, admin, SystemClock.now_ms()).await.map_err(cli_message)?;
    let email = email.trim().to_lowercase();
    println!("Created {business:?} and its admin {email} (user {id}); sign in on the dashboard.");
    Ok(())
}

/// A refusal's own message; anything else in full (an operator reads it, not a client).
fn cli_message(e: AppError) -> String {
    match e {
        AppError::Refused(w) => w.message,
        other => other.to_string(),
    }
}

/// A prompt without echo, twice, on a terminal; the first line of standard input otherwise
/// (for scripts: `printf '%s\n' "$PASSWORD" | pulse-server admin create …`).
fn read_password() -> Result<String, String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
        let again = rpassword::prompt_password("Again: ").map_err(|e| e.to_string())?;
        if first != again {
            return Err("the passwords differ".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).map_err(|e| e.to_string())?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
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
