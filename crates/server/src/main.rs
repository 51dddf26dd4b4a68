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
    /// Import products from Shopify's product CSV: creates each product whose Handle is new,
    /// updates the one with that Handle otherwise (its variants matched by Variant SKU).
    ///
    /// A product is imported whole or not at all: every refused row is reported on standard
    /// error as `row N: COLUMN: REASON` (the header is row 1), its product's other rows with
    /// it, and the other products are imported; then a summary line (created, updated,
    /// unchanged, refused). Exits with status 1 when any row was refused. Image Src is not
    /// read yet: images are left alone. Shows a progress bar on a terminal, plain
    /// `imported N/TOTAL` lines otherwise.
    ImportProducts {
        /// The CSV file.
        file: std::path::PathBuf,
        /// The currency of the file's prices (its columns do not say).
        #[arg(long, default_value = "EUR")]
        currency: String,
    },
    /// Write every product (drafts and archived ones too), oldest first, to standard output in
    /// Shopify's product CSV format, as `import-products` reads it.
    ExportProducts,
}

/// `shop import-products` refused this many rows (and imported the others).
#[derive(Debug, thiserror::Error)]
#[error("{0} rows refused; the others were imported")]
struct RowsRefused(usize);

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
    // The export's standard output is the CSV: its log goes to standard error.
    if matches!(cli.command, Some(Command::ExportProducts)) {
        shop::telemetry::init_on_stderr(settings.log_format);
    } else {
        shop::telemetry::init(settings.log_format);
    }
    match run(cli.command.unwrap_or(Command::Serve), settings).await {
        Ok(()) => ExitCode::SUCCESS,
        // Not a failure of the command: the refusals are reported, the rest was imported.
        Err(e) if e.downcast_ref::<RowsRefused>().is_some() => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
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
        Command::ImportProducts { file, currency } => {
            let summary = shop::import_products(&settings, &file, &currency).await?;
            for e in &summary.refused {
                eprintln!("{e}");
            }
            let refused = summary.refused.len();
            println!(
                "created {}, updated {}, unchanged {}, refused {refused} rows",
                summary.created, summary.updated, summary.unchanged
            );
            if refused > 0 {
                return Err(RowsRefused(refused).into());
            }
            Ok(())
        }
        Command::ExportProducts => {
            shop::export_products(&settings, std::io::stdout().lock()).await?;
            Ok(())
        }
    }
}
