//! `shop`: an e-commerce backend. Run `shop --help`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shop::{Application, Settings};

/// shop: an e-commerce backend (catalog, accounts, orders) with a REST API under /api/v1.
///
/// Configuration comes from the environment and from a `.env` file in the working folder;
/// see `.env.example` for every setting. With no settings at all it serves on
/// http://127.0.0.1:5000 with an SQLite database under `data/`.
#[derive(Parser)]
#[command(name = "shop", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending database migrations, then serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run only the background jobs (webhook delivery, sweeps), no API; any number may run at
    /// once. Serves /health/live, /health/ready and /metrics on HOST:PORT.
    Worker,
    /// Create an admin account, or make an existing account (by e-mail) an admin with this
    /// password. Safe to run again.
    CreateAdmin {
        /// E-mail address of the admin.
        #[arg(long)]
        email: String,
        /// Password (at least 8 characters).
        #[arg(long, env = "SHOP_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        /// Sign-in name; the e-mail address when omitted.
        #[arg(long)]
        username: Option<String>,
    },
    /// Add a small demo catalog (products whose SKU already exists are skipped).
    SeedDemo,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    shop::telemetry::init(settings.log_format);
    match run(cli.command.unwrap_or(Command::Serve), settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "failed");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => {
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Worker => shop::run_worker(&settings).await,
        Command::Migrate => {
            shop::migrate(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::CreateAdmin {
            email,
            password,
            username,
        } => {
            let user =
                shop::create_admin(&settings, &email, &password, username.as_deref()).await?;
            println!(
                "admin ready: {} ({}), id {}",
                user.username.as_str(),
                user.email,
                user.id
            );
            Ok(())
        }
        Command::SeedDemo => {
            let n = shop::seed_demo(&settings).await?;
            println!("demo catalog: {n} products added");
            Ok(())
        }
    }
}
