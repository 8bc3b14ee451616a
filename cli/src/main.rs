//! `warden`: replay governance events locally, inspect and verify the ledger, manage the inventory, check
//! policies. Wiring only: the decisions live in `warden-core`.

mod backend;
#[cfg(feature = "aws")]
mod breakglass;
mod commands;
mod inputs;
mod output;
mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use warden_core::action::TargetKind;

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
    /// Your name, for commands that write an embedded (local) ledger as you: the kill switch, imports. It never
    /// names who acts on AWS: break-glass records the person AWS authenticates.
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
    /// Break glass by hand: roll back, cut off or restore an endpoint, gate or release a model package, or approve
    /// a pending destructive step.
    #[command(name = "break-glass")]
    BreakGlass {
        #[command(subcommand)]
        command: BreakGlassCommand,
    },
    /// The shared kill switch: on, every function records and decides but every action is shadow only and
    /// break-glass touches nothing, within seconds; a person sets it, with a reason, on the `_warden` chain.
    KillSwitch {
        #[command(subcommand)]
        command: KillSwitchCommand,
    },
    /// What Warden knows about an endpoint or model package: its config, the action in flight, what `restore`
    /// would undo, and recent break-glass history.
    Status {
        #[command(flatten)]
        target: Target,
        /// How many recent break-glass steps to show.
        #[arg(long, value_name = "N", default_value_t = 10)]
        history: usize,
    },
}

#[derive(Debug, Subcommand)]
enum KillSwitchCommand {
    /// Turn it on: every function stops acting (actions are recorded as shadow only).
    On {
        /// Why (recorded on the `_warden` chain).
        #[arg(long)]
        reason: String,
        /// Set it as the person who signs, through the break-glass function URL (the normal way on AWS).
        #[arg(long, value_name = "URL", env = "WARDEN_BREAKGLASS_URL")]
        url: Option<String>,
    },
    /// Turn it off: the policy's modes apply again (the deploy-time WARDEN_KILL_SWITCH, if on, still holds).
    Off {
        /// Why (recorded on the `_warden` chain).
        #[arg(long)]
        reason: String,
        /// Set it as the person who signs, through the break-glass function URL (the normal way on AWS).
        #[arg(long, value_name = "URL", env = "WARDEN_BREAKGLASS_URL")]
        url: Option<String>,
    },
    /// Show whether it is on, who set it, when and why.
    Status,
}

/// One endpoint or one model package.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// A SageMaker endpoint, by name.
    #[arg(long, value_name = "NAME")]
    endpoint: Option<String>,
    /// A model package version (ARN) or a model package group (name).
    #[arg(long, value_name = "ARN|GROUP")]
    model_package: Option<String>,
}

/// Why, in words that go into the ledger and the alerts, and where the request goes.
#[derive(Debug, Args)]
pub struct Act {
    /// Why you are acting (recorded in the ledger and every alert).
    #[arg(long, value_name = "TEXT")]
    reason: String,
    #[command(flatten)]
    delivery: Delivery,
}

/// Where a break-glass request or approval goes. One of --url (the normal way), --here or --print.
#[derive(Debug, Args)]
pub struct Delivery {
    /// Send it, signed with your AWS credentials (SigV4), to the break-glass function URL (the stack's
    /// BreakGlassUrl output): the function records the person AWS authenticates.
    #[arg(long, value_name = "URL", env = "WARDEN_BREAKGLASS_URL")]
    pub url: Option<String>,
    /// Last resort, for when the function cannot act: carry it out from this machine now, against this
    /// command's ledger (--ledger or --table) and SageMaker, with the same locks and limits as the function. Needs
    /// the stack's operator role; recorded and alerted as a direct action by the caller STS names, and never
    /// counts as one of the two people of an approval.
    #[arg(long, conflicts_with_all = ["print", "url"])]
    pub here: bool,
    /// Only print the body the function URL would receive.
    #[arg(long, conflicts_with = "url")]
    pub print: bool,
    /// With --here: the SNS topic for the alerts (printed when omitted).
    #[arg(long, value_name = "ARN", requires = "here")]
    pub topic: Option<String>,
    /// With --here: DescribeEndpoint looks while verifying (and while waiting for a busy endpoint).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub polls: u32,
    /// With --here: seconds between looks.
    #[arg(long, value_name = "SECONDS", default_value_t = 3.0, value_parser = parse_seconds)]
    pub poll_seconds: f64,
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && (0.0..=300.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!("{text:?} is not a number of seconds between 0 and 300")),
    }
}

#[derive(Debug, Subcommand)]
enum BreakGlassCommand {
    /// Roll an endpoint back to a config: --config, else its last known-good one.
    Rollback {
        /// The endpoint.
        #[arg(long, value_name = "NAME")]
        endpoint: String,
        /// The endpoint config to return to.
        #[arg(long, value_name = "NAME")]
        config: Option<String>,
        #[command(flatten)]
        act: Act,
    },
    /// Cut an endpoint's traffic off: to its fallback variant, else its maintenance config, else delete it (a
    /// second person approves).
    Cutoff {
        #[arg(long, value_name = "NAME")]
        endpoint: String,
        #[command(flatten)]
        act: Act,
    },
    /// Undo Warden's last rollback or cutoff of an endpoint.
    Restore {
        #[arg(long, value_name = "NAME")]
        endpoint: String,
        #[command(flatten)]
        act: Act,
    },
    /// Hold a model package's approval (back to PendingManualApproval) so it cannot be deployed.
    Gate {
        #[arg(long, value_name = "ARN")]
        model_package: String,
        #[command(flatten)]
        act: Act,
    },
    /// Release a gate: approve the model package again.
    Release {
        #[arg(long, value_name = "ARN")]
        model_package: String,
        #[command(flatten)]
        act: Act,
    },
    /// Carry on with a recorded request, by its id: one `--here` stopped waiting for, or one that stalled. The
    /// same request again (never a second action).
    Resume {
        /// The request id (from the alert, `warden status` or the command that started it).
        #[arg(value_name = "REQUEST_ID")]
        request_id: String,
        #[command(flatten)]
        delivery: Delivery,
    },
    /// Approve a request's destructive step, as the second person (the requester cannot approve their own).
    Approve {
        /// The request id the alert names.
        #[arg(value_name = "REQUEST_ID")]
        request_id: String,
        #[command(flatten)]
        delivery: Delivery,
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
    /// Walk every chain and name the first entry that does not verify; with --digests, also check every chain
    /// against the signed digests (a history rewritten with recomputed hashes passes the chains' own check).
    Verify {
        /// Where the signed digests are: a folder, or `s3://bucket/prefix`.
        #[arg(long, value_name = "DIR|S3_URL", requires = "public_key")]
        digests: Option<String>,
        /// The pinned public key (PEM) that must have signed every digest.
        #[arg(long, value_name = "FILE", requires = "digests")]
        public_key: Option<PathBuf>,
    },
    /// Write the next signed digest: every chain's head now, linked to the previous digest, signed with a key the
    /// ledger's writers cannot use. Run it on a schedule; `verify --digests` then catches any rewrite before it.
    #[command(group(clap::ArgGroup::new("signer").required(true).args(["key", "kms_key"])))]
    Digest {
        /// The private signing key (PEM, from `warden ledger digest-key`), kept away from the ledger.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Sign in KMS instead, with this asymmetric ECC_NIST_P256 key (id, ARN or alias).
        #[arg(long, value_name = "KEY")]
        kms_key: Option<String>,
        /// Where to keep the digests: a folder outside the ledger's, or `s3://bucket/prefix` (Object Lock).
        #[arg(long, value_name = "DIR|S3_URL")]
        digests: String,
    },
    /// Create a digest signing key: FILE (private, readable by you only) and FILE.pub (the public key to pin); with
    /// --kms-key, only FILE.pub, the KMS key's public half.
    DigestKey {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[arg(long, value_name = "KEY")]
        kms_key: Option<String>,
    },
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
    /// Move a DynamoDB ledger table written by an earlier Warden to this version's layout. Entries keep their
    /// bytes; stop the functions' event sources first (they refuse the table until the migration ends), and run
    /// it again if it is interrupted. On a current table it restores any missing model lookup (`verify` says when).
    Migrate,
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

#[cfg(not(feature = "aws"))]
async fn break_glass(_: &Global, _: BreakGlassCommand) -> Result<u8, commands::Failure> {
    Err(commands::needs_aws("break-glass (SageMaker, the governance bus and your AWS identity)"))
}

#[cfg(feature = "aws")]
async fn break_glass(global: &Global, command: BreakGlassCommand) -> Result<u8, commands::Failure> {
    use warden_core::action::Operation;
    let (operation, target, config, act) = match command {
        BreakGlassCommand::Approve { request_id, delivery } => {
            return breakglass::approve(global, &request_id, &delivery).await;
        }
        BreakGlassCommand::Resume { request_id, delivery } => {
            return breakglass::resume(global, &request_id, &delivery).await;
        }
        BreakGlassCommand::Rollback { endpoint, config, act } => (Operation::Rollback, endpoint, config, act),
        BreakGlassCommand::Cutoff { endpoint, act } => (Operation::Cutoff, endpoint, None, act),
        BreakGlassCommand::Restore { endpoint, act } => (Operation::Restore, endpoint, None, act),
        BreakGlassCommand::Gate { model_package, act } => (Operation::Gate, model_package, None, act),
        BreakGlassCommand::Release { model_package, act } => (Operation::Release, model_package, None, act),
    };
    breakglass::request(global, operation, &target, config, &act.reason, &act.delivery).await
}

fn main() -> ExitCode {
    // A panic (redb asserts on some damaged pages; the ledger turns that into an error) is one line, not a
    // backtrace hint that reads like a crash; the command then reports what failed.
    std::panic::set_hook(Box::new(|info| eprintln!("warden: internal error: {info}")));
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
            Command::Ledger { command: LedgerCommand::Verify { digests, public_key } } => {
                let anchors = digests.as_deref().zip(public_key.as_deref());
                commands::ledger_verify(&global, anchors).await
            }
            Command::Ledger { command: LedgerCommand::Digest { key, kms_key, digests } } => {
                commands::ledger_digest(&global, key.as_deref(), kms_key.as_deref(), &digests).await
            }
            Command::Ledger { command: LedgerCommand::DigestKey { out, kms_key } } => {
                commands::ledger_digest_key(&out, kms_key.as_deref()).await
            }
            Command::Ledger { command: LedgerCommand::Export { model, since, format } } => {
                commands::ledger_export(&global, warden_core::evidence::Filter { model, since }, format).await
            }
            #[cfg(feature = "aws")]
            Command::Ledger { command: LedgerCommand::Init } => commands::ledger_init(&global).await,
            #[cfg(feature = "aws")]
            Command::Ledger { command: LedgerCommand::Schema } => commands::ledger_schema(),
            #[cfg(feature = "aws")]
            Command::Ledger { command: LedgerCommand::Migrate } => commands::ledger_migrate(&global).await,
            #[cfg(not(feature = "aws"))]
            Command::Ledger { command: LedgerCommand::Init | LedgerCommand::Schema | LedgerCommand::Migrate } => {
                Err(commands::needs_aws("the DynamoDB table's `ledger init`, `ledger schema` and `ledger migrate`"))
            }
            Command::Inventory { command: InventoryCommand::Import { file } } => {
                commands::inventory_import(&global, &file).await
            }
            Command::Inventory { command: InventoryCommand::Show } => commands::inventory_show(&global).await,
            Command::Policy { command: PolicyCommand::Check { file } } => commands::policy_check(&global, &file),
            Command::Policy { command: PolicyCommand::Default } => commands::policy_default(),
            Command::BreakGlass { command } => break_glass(&global, command).await,
            Command::KillSwitch { command: KillSwitchCommand::On { reason, url } } => {
                commands::kill_switch_set(&global, true, &reason, url.as_deref()).await
            }
            Command::KillSwitch { command: KillSwitchCommand::Off { reason, url } } => {
                commands::kill_switch_set(&global, false, &reason, url.as_deref()).await
            }
            Command::KillSwitch { command: KillSwitchCommand::Status } => commands::kill_switch_status(&global).await,
            Command::Status { target, history } => match (target.endpoint, target.model_package) {
                (Some(endpoint), _) => status::show_status(&global, TargetKind::Endpoint, &endpoint, history).await,
                (None, Some(package)) => {
                    status::show_status(&global, TargetKind::ModelPackage, &package, history).await
                }
                (None, None) => Err(commands::Failure::Message("name --endpoint or --model-package".into())),
            },
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
        // Damaged or tampered data is a finding about the ledger, not a usage error.
        Err(commands::Failure::Integrity(message)) => {
            eprintln!("warden: {message}");
            ExitCode::from(EXIT_REJECTED)
        }
    }
}
