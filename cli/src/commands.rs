//! The commands: each opens what it needs, calls the core, and prints through `output`.

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
use warden_core::policy::Policy;
use warden_core::time::Timestamp;
use warden_embedded::EmbeddedLedger;

use crate::backend::AnyLedger;
use crate::inputs::{self, Body};
use crate::output::{self, Summary};
use crate::{EXIT_REJECTED, ExportFormat, Global};

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
        Some(name) => Actor::Person(name.clone()),
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
    let inventory = global.inventory.as_deref().map(read_inventory).transpose()?;
    let engine = Engine::new(open_ledger(global).await?, policy, actor(global));
    if let Some((file, digest)) = inventory {
        engine.import_inventory(&file, &digest, now()).await?;
    }
    Ok(engine)
}

/// One line of `replay --json`.
#[derive(Serialize)]
struct ReplayLine<'a> {
    file: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    #[serde(flatten)]
    report: &'a Report,
}

pub async fn replay(global: &Global, paths: &[PathBuf]) -> CommandResult {
    let files = inputs::files(paths).map_err(Failure::Message)?;
    let engine = engine(global).await?;
    let progress = !global.json && std::io::stderr().is_terminal();
    let mut summary = Summary::default();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if !global.json {
        output::timeline_header(&mut out)?;
    }
    let mut done = 0_usize;
    let mut damaged = 0_usize;
    // One file in memory at a time; JSON lines are parsed as they are replayed.
    for path in &files {
        let bytes = inputs::read(path).map_err(Failure::Message)?;
        let name = path.display().to_string();
        for input in inputs::split(&name, &bytes) {
            let recorded_at = now();
            let result = match input.body {
                Body::Json(value, raw) => engine.ingest_value(value, &raw, recorded_at).await,
                Body::Invalid(raw) => engine.ingest_bytes(&raw, recorded_at).await,
            };
            let report = match result {
                Ok(report) => report,
                // Damaged data under this input's keys stops this input only; the rest are still replayed.
                Err(error @ warden_core::ledger::LedgerError::Corrupt(_)) => {
                    let at = input.index.map(|i| format!(" #{i}")).unwrap_or_default();
                    eprintln!("{name}{at}: not recorded: {error}");
                    damaged += 1;
                    continue;
                }
                Err(e) => {
                    return Err(Failure::Message(format!(
                        "{name}: {e} (inputs before it were recorded; replaying again is safe)"
                    )));
                }
            };
            summary.add(&report);
            let line = ReplayLine { file: &input.file, index: input.index, report: &report };
            write_item(&mut out, global.json, &line, |out| {
                output::timeline_row(out, &input.file, input.index, &report)
            })?;
            done += 1;
            if progress && done.is_multiple_of(PROGRESS_EVERY) {
                eprint!("\rreplayed {done} inputs");
            }
        }
    }
    if progress && done >= PROGRESS_EVERY {
        eprintln!();
    }
    if !global.json {
        output::summary(&mut out, &summary)?;
    }
    out.flush()?;
    if damaged > 0 {
        return Err(Failure::Integrity(format!(
            "{damaged} inputs could not be recorded: the ledger holds damaged data under their keys (run `warden ledger verify`)"
        )));
    }
    Ok(if summary.count(Status::Rejected) > 0 { EXIT_REJECTED } else { 0 })
}

pub async fn ledger_show(global: &Global, model: Option<&str>) -> CommandResult {
    let engine = engine(global).await?;
    let ledger = engine.ledger();
    let chains = match model {
        Some(id) => vec![id.to_owned()],
        None => ledger.chains().await?,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut shown = 0;
    let mut unreadable = Vec::new();
    for chain in &chains {
        let entries = match readable(ledger.entries(chain).await)? {
            Ok(entries) => entries,
            Err(error) => {
                unreadable.push(format!("chain {chain}: {error}"));
                continue;
            }
        };
        shown += entries.len();
        for entry in &entries {
            write_item(&mut out, global.json, entry, |out| output::entry_row(out, entry))?;
        }
    }
    out.flush()?;
    if !unreadable.is_empty() {
        return Err(Failure::Integrity(format!(
            "shown what could be read; these chains cannot be read (run `warden ledger verify`): {}",
            unreadable.join("; ")
        )));
    }
    if shown == 0 && !global.json {
        match model {
            Some(id) => eprintln!("no entries for model {id:?}"),
            None => eprintln!("the ledger ({}) is empty", describe_ledger(global)),
        }
    }
    Ok(0)
}

/// A read that failed on damaged data is the caller's to report (`Ok(Err)`); an unreachable ledger stops the
/// command.
fn readable<T>(
    result: Result<T, warden_core::ledger::LedgerError>,
) -> Result<Result<T, warden_core::ledger::LedgerError>, Failure> {
    match result {
        Err(error @ warden_core::ledger::LedgerError::Unavailable(_)) => Err(error.into()),
        other => Ok(other),
    }
}

pub async fn ledger_verify(global: &Global) -> CommandResult {
    let engine = engine(global).await?;
    let report = verify(engine.ledger()).await?;
    if global.json {
        println!("{}", serde_json::to_string(&report)?);
    } else if report.ok() {
        println!("ledger verified: {} entries in {} chains, every hash and link intact", report.entries, report.chains);
    } else {
        println!("ledger verification FAILED ({} entries in {} chains):", report.entries, report.chains);
        for failure in &report.failures {
            println!("  {failure}");
        }
    }
    Ok(if report.ok() { 0 } else { EXIT_REJECTED })
}

pub async fn ledger_export(global: &Global, filter: evidence::Filter, format: ExportFormat) -> CommandResult {
    let engine = engine(global).await?;
    let ledger = engine.ledger();
    let verification = verify(ledger).await?;
    let mut chains = Vec::new();
    for chain in ledger.chains().await? {
        // A chain that cannot be read is left out here and named by the verification below.
        if filter.model.as_ref().is_none_or(|m| *m == chain)
            && let Ok(entries) = readable(ledger.entries(&chain).await)?
        {
            chains.push((chain, entries));
        }
    }
    if let Some(model) = &filter.model
        && chains.is_empty()
    {
        return Err(Failure::Message(format!(
            "no chain for model {model:?} in the ledger ({})",
            describe_ledger(global)
        )));
    }
    let rows = evidence::rows(&chains, &verification, &filter);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        ExportFormat::Json => {
            let document = evidence::Export {
                generated_at: now(),
                ledger: describe_ledger(global),
                model: filter.model.as_deref(),
                since: filter.since,
                verification: &verification,
                verified: verification.ok(),
                entries: &rows,
            };
            serde_json::to_writer_pretty(&mut out, &document)?;
            writeln!(out)?;
        }
        ExportFormat::Csv => {
            writeln!(out, "{}", evidence::CSV_COLUMNS.join(","))?;
            for row in &rows {
                writeln!(out, "{}", row.to_csv())?;
            }
        }
    }
    out.flush()?;
    if !verification.ok() {
        eprintln!("warning: the ledger did not verify; rows of failing chains have chain_verified = false:");
        for failure in &verification.failures {
            eprintln!("  {failure}");
        }
        return Ok(EXIT_REJECTED);
    }
    Ok(0)
}

#[cfg(feature = "aws")]
pub async fn ledger_init(global: &Global) -> CommandResult {
    let Some(table) = &global.table else {
        return Err(Failure::Message("`ledger init` creates a DynamoDB table: name it with --table NAME".into()));
    };
    let ledger = DynamoLedger::from_env(table).await;
    if ledger.create_table().await? {
        println!("created ledger table {table}");
    } else {
        println!("ledger table {table} already exists");
    }
    Ok(0)
}

#[cfg(feature = "aws")]
pub fn ledger_schema() -> CommandResult {
    println!("{}", serde_json::to_string_pretty(&warden_aws::schema::table_definition())?);
    Ok(0)
}

pub async fn inventory_import(global: &Global, file: &Path) -> CommandResult {
    let (parsed, digest) = read_inventory(file)?;
    let engine = engine(global).await?;
    let result = engine.import_inventory(&parsed, &digest, now()).await?;
    if global.json {
        let line =
            serde_json::json!({"file": file.display().to_string(), "changed": result.changed, "models": result.models});
        println!("{line}");
    } else if result.changed.is_empty() {
        println!("inventory unchanged ({} models)", result.models);
    } else {
        println!(
            "imported {}: {} changed ({}); {} models in the inventory",
            file.display(),
            result.changed.len(),
            result.changed.join(", "),
            result.models
        );
    }
    Ok(0)
}

pub async fn inventory_show(global: &Global) -> CommandResult {
    let engine = engine(global).await?;
    let inventory = engine.ledger().inventory().await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for model in inventory.models() {
        write_item(&mut out, global.json, model, |out| output::model_block(out, model))?;
    }
    out.flush()?;
    if inventory.is_empty() && !global.json {
        eprintln!("the inventory is empty: import one with `warden inventory import FILE`");
    }
    Ok(0)
}

pub fn policy_check(global: &Global, file: &Path) -> CommandResult {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read policy {}: {e}", file.display()))?;
    match Policy::parse(&text) {
        Ok(policy) => {
            let actions = policy.rules.iter().filter(|r| !r.actions.is_empty()).count();
            if global.json {
                println!(
                    "{}",
                    serde_json::json!({"file": file.display().to_string(), "valid": true, "rules": policy.rules.len()})
                );
            } else {
                println!(
                    "{}: valid: {} rules ({actions} with actions), kill switch {}, cooldown {} minutes",
                    file.display(),
                    policy.rules.len(),
                    if policy.kill_switch { "ON" } else { "off" },
                    policy.cooldown_minutes
                );
            }
            Ok(0)
        }
        Err(error) => {
            if global.json {
                println!(
                    "{}",
                    serde_json::json!({"file": file.display().to_string(), "valid": false, "error": error.to_string()})
                );
            } else {
                eprintln!("{}: {error}", file.display());
            }
            Ok(EXIT_REJECTED)
        }
    }
}

pub fn policy_default() -> CommandResult {
    print!("{}", Policy::builtin_text());
    Ok(0)
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
