//! `warden status`: what an on-call engineer needs before acting, from the ledger alone (no AWS call, so it works
//! on the embedded ledger and in the local build).

use std::io::Write;

use warden_core::action::TargetKind;

use crate::commands::{CommandResult, describe_ledger, engine, now};
use crate::{EXIT_REJECTED, Global};

/// `warden status --endpoint NAME | --model-package ARN`.
pub async fn show_status(global: &Global, kind: TargetKind, target: &str, history: usize) -> CommandResult {
    let engine = engine(global).await?;
    let status = warden_app::status::load(engine.ledger(), target, kind, history, now()).await?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if global.json {
        serde_json::to_writer(&mut out, &status)?;
        writeln!(out)?;
    } else {
        crate::output::status_block(&mut out, &status)?;
    }
    out.flush()?;
    if status.is_unknown() {
        eprintln!(
            "warden knows nothing about {} {target:?} in the ledger ({}): check the name, --ledger or --table",
            crate::output::kind_label(kind),
            describe_ledger(global)
        );
        return Ok(EXIT_REJECTED);
    }
    Ok(0)
}
