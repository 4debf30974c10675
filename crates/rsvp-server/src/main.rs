//! # rsvp
//!
//! The `rsvp` binary: the only place that knows every adapter. It reads
//! [`settings::Settings`] once, wires the store, the mailer and the use cases
//! together, and runs the HTTP server with its background workers.
//!
//! ```text
//! rsvp serve                      HTTP API + email dispatcher + expiry sweeper (migrates first)
//! rsvp migrate                    apply pending migrations and exit
//! rsvp backup <file>              online, consistent copy of the SQLite database
//! rsvp copy-database --to URL     copy the SQLite database into an empty PostgreSQL one
//! rsvp healthcheck                exit 0 when the local server's /readyz answers 200
//! rsvp admin create-business ...  provision a tenant, print the operator API's JSON
//! rsvp admin add-user ...         add a user to a tenant, print the operator API's JSON
//! rsvp admin list-businesses|get-business|update-business|suspend-business|unsuspend-business
//! rsvp admin list-users|update-user|deactivate-user
//! rsvp admin create-api-key|list-api-keys|revoke-api-key|erase
//!                                 the operator lifecycle, printing the operator API's JSON
//! ```

mod admin_cli;
mod arenas;
mod catalog;
mod events;
mod identity;
mod probe;
mod provider_feedback;
mod settings;
mod wiring;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use rsvp_app::{NewBusinessInput, NewUserInput};
use serde_json::json;

use crate::settings::Settings;

#[derive(Debug, Parser)]
#[command(name = "rsvp", version, about = "Business network invitations: the service.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    settings: catalog::SettingArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server and the background workers (applies migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Copy the SQLite database to FILE while the server runs (PostgreSQL: use pg_dump).
    Backup {
        /// The backup file to write; it must not exist.
        file: std::path::PathBuf,
    },
    /// Copy every row of the SQLite database into an empty PostgreSQL
    /// database (migrating it first), to move to PostgreSQL. Stop `rsvp
    /// serve` first; then set RSVP_DATABASE_URL to the target and start it.
    CopyDatabase {
        /// The PostgreSQL database to fill (postgres://...); it must hold no rsvp data.
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Exit 0 when the server listening on RSVP_BIND answers 200 on /readyz
    /// (for container health checks; no curl needed).
    Healthcheck {
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5)]
        timeout: u64,
    },
    /// Print every setting with its variable, default and meaning.
    Settings {
        /// Print them as a commented `.env` file instead of a Markdown table.
        #[arg(long)]
        env_example: bool,
    },
    /// Provision tenants from the command line (prints the operator API's JSON).
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// A new user, as `rsvp admin create-business` and `add-user` take it.
#[derive(Debug, clap::Args)]
struct UserArgs {
    /// The user's email.
    #[arg(long)]
    email: String,
    /// The user's first name.
    #[arg(long)]
    first_name: Option<String>,
    /// The user's last name.
    #[arg(long)]
    last_name: Option<String>,
    /// The host platform's id of the user (its identity provider's `sub`).
    #[arg(long)]
    user_external_id: Option<String>,
}

impl From<UserArgs> for NewUserInput {
    fn from(user: UserArgs) -> Self {
        Self {
            email: Some(user.email),
            first_name: user.first_name,
            last_name: user.last_name,
            external_id: user.user_external_id,
        }
    }
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create a business with its first user and print its API key.
    CreateBusiness {
        /// The business's name.
        #[arg(long)]
        name: String,
        /// The host platform's id of the business (its org or tenant id).
        #[arg(long)]
        external_id: Option<String>,
        #[command(flatten)]
        user: UserArgs,
    },
    /// Add a user to a business and print its API key.
    AddUser {
        /// The business's id.
        #[arg(long)]
        business_id: String,
        #[command(flatten)]
        user: UserArgs,
    },
    /// The lifecycle of businesses, users and API keys, and erasure.
    #[command(flatten)]
    Lifecycle(admin_cli::LifecycleCommand),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve) {
        arenas::limit_or_go_on();
    }
    if let Command::Settings { env_example } = cli.command {
        print!(
            "{}",
            if env_example {
                catalog::env_example()
            } else {
                catalog::markdown()
            }
        );
        return std::process::ExitCode::SUCCESS;
    }
    let settings = match Settings::load(&cli.settings) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("rsvp: {error}");
            return std::process::ExitCode::from(2);
        }
    };
    if let Command::Healthcheck { timeout } = cli.command {
        let addr = probe::target(settings.bind);
        return match probe::check(addr, "/readyz", std::time::Duration::from_secs(timeout)) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(problem) => {
                eprintln!("rsvp: not ready: {problem}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    wiring::init_logging(&settings.log_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("rsvp: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "rsvp stopped");
            eprintln!("rsvp: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => wiring::serve(settings).await,
        Command::Migrate => {
            let store = wiring::open_store(&settings).await?;
            let applied = store.run_migrations().await.context("applying migrations")?;
            print_json(&json!({"backend": store.backend().as_str(), "applied": applied}))
        }
        Command::Backup { file } => {
            let store = wiring::open_existing_store(&settings).await?;
            let bytes = store.backup_to(&file).await?;
            print_json(
                &json!({"backend": store.backend().as_str(), "file": file.display().to_string(), "bytes": bytes}),
            )
        }
        Command::CopyDatabase { to } => {
            let source = wiring::open_existing_store(&settings).await?;
            source
                .run_migrations()
                .await
                .context("applying migrations to the SQLite database")?;
            let target = rsvp_store_diesel::DieselStore::connect(&to)
                .await
                .context("opening the target database (--to)")?;
            target
                .run_migrations()
                .await
                .context("applying migrations to the target database")?;
            let report = source.copy_into(&target).await?;
            let tables: serde_json::Map<String, serde_json::Value> = report
                .tables
                .iter()
                .map(|(table, rows)| (table.clone(), json!(rows)))
                .collect();
            print_json(&json!({
                "from": source.backend().as_str(),
                "to": target.backend().as_str(),
                "rows": report.total_rows(),
                "tables": tables,
            }))
        }
        // Answered in main, without a runtime.
        Command::Healthcheck { .. } | Command::Settings { .. } => Ok(()),
        Command::Admin(admin) => {
            let store = wiring::open_store(&settings).await?;
            store.run_migrations().await.context("applying migrations")?;
            let app = wiring::app(&settings, wiring::ports(std::sync::Arc::new(store)));
            match admin {
                AdminCommand::CreateBusiness {
                    name,
                    external_id,
                    user,
                } => {
                    let made = app
                        .provision_business(NewBusinessInput {
                            name: Some(name),
                            user: user.into(),
                            external_id,
                        })
                        .await
                        .map_err(wiring::describe)?;
                    print_json(&serde_json::to_value(
                        rsvp_http::operator::ProvisionedBusinessBody::from(&made),
                    )?)
                }
                AdminCommand::AddUser { business_id, user } => {
                    let business = business_id.parse().context("--business-id must be a UUID")?;
                    let made = app.add_user(business, user.into()).await.map_err(wiring::describe)?;
                    print_json(&serde_json::to_value(rsvp_http::operator::ProvisionedUserBody::from(
                        &made,
                    ))?)
                }
                AdminCommand::Lifecycle(command) => print_json(&admin_cli::run(&app, command).await?),
            }
        }
    }
}
