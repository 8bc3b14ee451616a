//! `warden ledger show|verify|export|init|schema`.

// The commands share the context in `commands` (the ledger, the policy, the output helpers).
use super::*;

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

/// Moves a DynamoDB table to this version's layout. The embedded ledger has one layout: nothing to move.
#[cfg(feature = "aws")]
pub async fn ledger_migrate(global: &Global) -> CommandResult {
    let Some(table) = &global.table else {
        return Err(Failure::Message(
            "`ledger migrate` moves a DynamoDB table to this version's layout: name it with --table NAME (the \
             embedded ledger needs no migration)"
                .into(),
        ));
    };
    let migration = DynamoLedger::from_env(table).await.migrate().await?;
    if global.json {
        println!("{}", serde_json::to_string(&migration)?);
    } else if migration.from == migration.to {
        println!(
            "ledger table {table} is at layout {}: nothing to move; {} model lookups put again (any missing one is \
             restored)",
            migration.to, migration.lookups_written
        );
    } else {
        println!(
            "ledger table {table} moved from layout {} to {}: {} chain heads and {} models moved, {} model lookups \
             written, {} entries re-indexed (no entry rewritten)",
            migration.from,
            migration.to,
            migration.heads_moved,
            migration.models_moved,
            migration.lookups_written,
            migration.entries_reindexed
        );
    }
    Ok(0)
}

#[cfg(feature = "aws")]
pub fn ledger_schema() -> CommandResult {
    println!("{}", serde_json::to_string_pretty(&warden_aws::schema::table_definition())?);
    Ok(0)
}
