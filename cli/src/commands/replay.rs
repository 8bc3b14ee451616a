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

/// Commits between two durable ones while replaying (group commit): each input stays atomic; a crash loses at
/// most this many, and replaying again redoes them.
const REPLAY_GROUP_COMMIT: u32 = 256;

pub async fn replay(global: &Global, paths: &[PathBuf]) -> CommandResult {
    let files = inputs::files(paths).map_err(Failure::Message)?;
    let engine = engine(global).await?;
    engine.ledger().set_group_commit(REPLAY_GROUP_COMMIT);
    let progress = std::io::stderr().is_terminal();
    let total_bytes: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let started = std::time::Instant::now();
    let mut bytes_before = 0_u64;
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
        let lines = bytes.iter().filter(|b| **b == b'\n').count().max(1);
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
                        "{name}: {e} (replaying again is safe: it records whatever is missing)"
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
                let within = input.index.map_or(bytes.len(), |i| bytes.len() * i.min(lines) / lines);
                let read = bytes_before + within as u64;
                eprint!("\r{}", progress_line(done, read, total_bytes, started.elapsed()));
            }
        }
        bytes_before += bytes.len() as u64;
    }
    engine.ledger().flush()?;
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

/// `replayed 12000 inputs, 8400/s, 40% read, about 3 s left`: the rate so far, and the time left at that rate by
/// the bytes still to read.
fn progress_line(done: usize, read: u64, total: u64, elapsed: std::time::Duration) -> String {
    let seconds = elapsed.as_secs_f64().max(1e-3);
    #[allow(clippy::cast_precision_loss)]
    let (rate, fraction) = (done as f64 / seconds, read as f64 / total.max(1) as f64);
    let left = if fraction > 0.0 { seconds * (1.0 - fraction) / fraction } else { 0.0 };
    format!("replayed {done} inputs, {rate:.0}/s, {:.0}% read, about {left:.0} s left", fraction * 100.0)
}
