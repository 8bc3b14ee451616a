//! `warden`: replay governance events locally, inspect and verify the ledger, manage the inventory, check
//! policies. Wiring only: the decisions live in `warden-core`.

mod backend;
mod commands;
mod inputs;
mod output;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Exit codes: 0 all good; 1 some input was rejected or a check failed; 2 usage or configuration error.
pub const EXIT_REJECTED: u8 = 1;
pub const EXIT_CONFIG: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "warden",
    version,
    about = "Governance and break-glass for ML models on AWS: replay events, keep the ledger, check policies.",
    after_help = "Exit codes: 0 success; 1 an input was rejected or a check failed; 2 usage or configuration error."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command accepts, before or after the subcommand.
#[derive(Debug, Clone, Args)]
pub struct Global {
    /// Folder of the embedded ledger.
    #[arg(long, global = true, value_name = "DIR", env = "WARDEN_LEDGER", default_value = ".warden")]
    pub ledger: PathBuf,
    /// Use the DynamoDB ledger in this table instead (region, credentials and endpoint from the standard AWS
    /// environment, including AWS_ENDPOINT_URL).
    #[arg(long, global = true, value_name = "NAME", env = "WARDEN_TABLE")]
    pub table: Option<String>,
    /// Policy file (TOML); the built-in policy when omitted.
    #[arg(long, global = true, value_name = "FILE", env = "WARDEN_POLICY")]
    pub policy: Option<PathBuf>,
    /// Inventory file (TOML) to import before the command runs.
    #[arg(long, global = true, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// Machine-readable output: one JSON object per line.
    #[arg(long, global = true)]
    pub json: bool,
    /// Record actions as taken by this person instead of by automation.
    #[arg(long, global = true, value_name = "NAME")]
    pub actor: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Replay EventBridge events from files and folders through the policy into the ledger.
    Replay {
        /// Event files (one event, a JSON array, or JSON lines) and folders (their .json/.jsonl files, by name).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// Read and verify the audit trail.
    Ledger {
        #[command(subcommand)]
        command: LedgerCommand,
    },
    /// Manage the model inventory.
    Inventory {
        #[command(subcommand)]
        command: InventoryCommand,
    },
    /// Validate and show policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
}

#[derive(Debug, Subcommand)]
enum LedgerCommand {
    /// Show entries, oldest first, per chain.
    Show {
        /// Only this model's chain (`_unattributed` for signals that affect no model).
        #[arg(long, value_name = "ID")]
        model: Option<String>,
    },
    /// Walk every chain and name the first entry that does not verify.
    Verify,
    /// Export evidence for auditors: entries with actors, reasons, times, the duty each evidences, and whether
    /// its chain verified.
    Export {
        /// Only this model's chain.
        #[arg(long, value_name = "ID")]
        model: Option<String>,
        /// Only entries about events at or after this time (RFC 3339, e.g. 2026-11-01T00:00:00Z).
        #[arg(long, value_name = "TIME", value_parser = parse_time)]
        since: Option<warden_core::time::Timestamp>,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: ExportFormat,
    },
    /// Create the DynamoDB ledger table (for emulators and tests; deploy real tables with SAM or CDK).
    Init,
    /// Print the ledger table's key schema and index as JSON (the templates are checked against it).
    Schema,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Json,
    Csv,
}

fn parse_time(text: &str) -> Result<warden_core::time::Timestamp, String> {
    warden_core::time::Timestamp::parse(text).ok_or_else(|| format!("{text:?} is not an RFC 3339 time or epoch number"))
}

#[derive(Debug, Subcommand)]
enum InventoryCommand {
    /// Merge an inventory file into the ledger's inventory.
    Import {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Show every model: risk, owner, endpoints and configs, packages, lineage.
    Show,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Validate a policy file.
    Check {
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Print the built-in policy (a starting point for your own).
    Default,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("warden: cannot start: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let global = cli.global;
    let result = runtime.block_on(async {
        match cli.command {
            Command::Replay { paths } => commands::replay(&global, &paths).await,
            Command::Ledger { command: LedgerCommand::Show { model } } => {
                commands::ledger_show(&global, model.as_deref()).await
            }
            Command::Ledger { command: LedgerCommand::Verify } => commands::ledger_verify(&global).await,
            Command::Ledger { command: LedgerCommand::Export { model, since, format } } => {
                commands::ledger_export(&global, warden_core::evidence::Filter { model, since }, format).await
            }
            Command::Ledger { command: LedgerCommand::Init } => commands::ledger_init(&global).await,
            Command::Ledger { command: LedgerCommand::Schema } => commands::ledger_schema(),
            Command::Inventory { command: InventoryCommand::Import { file } } => {
                commands::inventory_import(&global, &file).await
            }
            Command::Inventory { command: InventoryCommand::Show } => commands::inventory_show(&global).await,
            Command::Policy { command: PolicyCommand::Check { file } } => commands::policy_check(&global, &file),
            Command::Policy { command: PolicyCommand::Default } => commands::policy_default(),
        }
    });
    match result {
        Ok(code) => ExitCode::from(code),
        // The reader went away (`warden ledger show | head`): nothing left to say.
        Err(commands::Failure::BrokenPipe) => ExitCode::SUCCESS,
        Err(commands::Failure::Message(message)) => {
            eprintln!("warden: {message}");
            ExitCode::from(EXIT_CONFIG)
        }
    }
}
