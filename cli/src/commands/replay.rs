//! `warden replay PATH...`: events from files and folders through the engine, one outcome line each.

// The commands share the context in `commands` (the ledger, the policy, the output helpers).
use super::*;

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
