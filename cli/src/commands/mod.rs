//! The commands, one file each (`replay`, `ledger`, `inventory`, `policy`), and the context they share: what a
//! command failed with, opening the ledger and the policy the way every command does, and writing output.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use warden_app::ingest::Engine;
use warden_app::ledger::{Ledger, verify};
#[cfg(feature = "aws")]
use warden_aws::dynamodb::DynamoLedger;
use warden_core::digest::content_digest;
use warden_core::engine::{Report, Status};
use warden_core::evidence;
use warden_core::inventory::InventoryFile;
use warden_core::ledger::Actor;
use warden_core::placement::Placement;
use warden_core::policy::Policy;
use warden_core::time::Timestamp;
use warden_embedded::EmbeddedLedger;

use crate::backend::AnyLedger;
use crate::inputs::{self, Body};
use crate::output::{self, Summary};
use crate::{EXIT_REJECTED, ExportFormat, Global};

mod inventory;
mod ledger;
mod policy;
mod replay;
mod switch;

pub use inventory::{inventory_import, inventory_show};
pub use ledger::{ledger_digest, ledger_digest_key, ledger_export, ledger_show, ledger_verify};
#[cfg(feature = "aws")]
pub use ledger::{ledger_init, ledger_migrate, ledger_schema};
pub use policy::{policy_check, policy_default};
pub use replay::replay;
pub use switch::{kill_switch_set, kill_switch_status};

/// Why a command stopped: a message for the user, or a reader that closed the pipe (not an error).
#[derive(Debug)]
pub enum Failure {
    Message(String),
    /// The ledger holds damaged or tampered data (exit 1, like a failed verification).
    Integrity(String),
    BrokenPipe,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Self::Message(message)
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::BrokenPipe { Self::BrokenPipe } else { Self::Message(error.to_string()) }
    }
}

impl From<warden_core::ledger::LedgerError> for Failure {
    fn from(error: warden_core::ledger::LedgerError) -> Self {
        match error {
            warden_core::ledger::LedgerError::Corrupt(_) => Self::Integrity(error.to_string()),
            _ => Self::Message(error.to_string()),
        }
    }
}

impl From<serde_json::Error> for Failure {
    fn from(error: serde_json::Error) -> Self {
        match error.io_error_kind() {
            Some(std::io::ErrorKind::BrokenPipe) => Self::BrokenPipe,
            _ => Self::Message(error.to_string()),
        }
    }
}

pub type CommandResult = Result<u8, Failure>;

/// Writes `value` as one JSON line with `--json`, else as people read it.
fn write_item<W: Write, T: Serialize>(
    out: &mut W,
    json: bool,
    value: &T,
    human: impl FnOnce(&mut W) -> std::io::Result<()>,
) -> Result<(), Failure> {
    if json {
        serde_json::to_writer(&mut *out, value)?;
        writeln!(out)?;
    } else {
        human(out)?;
    }
    Ok(())
}

/// On a terminal, show progress on stderr every this many inputs.
const PROGRESS_EVERY: usize = 500;

pub fn now() -> Timestamp {
    Timestamp::now()
}

fn actor(global: &Global) -> Actor {
    match &global.actor {
        // A name the user gave: recorded as acting directly, never as a person AWS authenticated.
        Some(name) => Actor::Direct(name.clone()),
        None => Actor::Automation("warden-cli".into()),
    }
}

pub fn describe_ledger(global: &Global) -> String {
    match &global.table {
        Some(table) => format!("DynamoDB table {table}"),
        None => format!("embedded, in {}", global.ledger.display()),
    }
}

async fn open_ledger(global: &Global) -> Result<AnyLedger, Failure> {
    Ok(match &global.table {
        #[cfg(feature = "aws")]
        Some(table) => AnyLedger::Dynamo(DynamoLedger::from_env(table).await),
        #[cfg(not(feature = "aws"))]
        Some(_) => return Err(needs_aws("--table (the DynamoDB ledger)")),
        None => AnyLedger::Embedded(EmbeddedLedger::open(&global.ledger)?),
    })
}

/// What a command that needs AWS says in the local build: what it needs and the one command that gives it.
#[cfg_attr(feature = "aws", allow(dead_code))]
pub fn needs_aws(what: &str) -> Failure {
    Failure::Message(format!(
        "{what} needs AWS, and this warden was built without it (the quick local build): install the full CLI with \
         `cargo install --locked --path cli --features aws`, or run `cargo run -p warden --features aws -- ...`"
    ))
}

/// The policy (`--policy FILE`, else the built-in one) with the switches the functions honour applied
/// (`WARDEN_KILL_SWITCH`, `WARDEN_MODE`): replay and `--here` decide as the functions would.
pub fn load_policy(global: &Global) -> Result<Policy, String> {
    let policy = match &global.policy {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read policy {}: {e}", path.display()))?;
            Policy::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Policy::builtin().map_err(|e| format!("built-in policy: {e}"))?,
    };
    warden_app::config::with_switches(policy, &|name| std::env::var(name).ok()).map_err(|e| e.to_string())
}

/// Where Warden governs from: `WARDEN_HOME_ACCOUNT` and `WARDEN_HOME_REGION`, as the functions read them.
pub fn home() -> Result<Placement, String> {
    warden_app::config::home(&|name: &str| std::env::var(name).ok()).map_err(|e| e.to_string())
}

/// An inventory file as it will be stored under `home` (see `InventoryFile::relative_to`), checked before the
/// ledger is touched.
fn read_inventory_at(path: &Path, home: &Placement) -> Result<(InventoryFile, String), String> {
    let (file, digest) = read_inventory(path)?;
    let file = file.relative_to(home).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((file, digest))
}

fn read_inventory(path: &Path) -> Result<(InventoryFile, String), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read inventory {}: {e}", path.display()))?;
    let text =
        String::from_utf8(bytes.clone()).map_err(|_| format!("{}: inventory is not UTF-8 text", path.display()))?;
    let file = InventoryFile::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((file, content_digest(&bytes)))
}

pub async fn engine(global: &Global) -> Result<Engine<AnyLedger>, Failure> {
    // Validate every input before touching the ledger: a bad file changes nothing.
    let policy = load_policy(global)?;
    let home = home()?;
    let inventory = global.inventory.as_deref().map(|path| read_inventory_at(path, &home)).transpose()?;
    let engine = Engine::new(open_ledger(global).await?, policy, actor(global)).with_home(home);
    if let Some((file, digest)) = inventory {
        engine.import_inventory(&file, &digest, now()).await?;
    }
    Ok(engine)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_that_needs_aws_names_the_build_that_has_it() {
        let Failure::Message(text) = needs_aws("break-glass") else { panic!("a usage message") };
        assert!(text.starts_with("break-glass needs AWS"), "{text}");
        assert!(text.contains("cargo install --locked --path cli --features aws"), "{text}");
    }
}
