//! `warden inventory import|show`.

// The commands share the context in `commands` (the ledger, the policy, the output helpers).
use super::*;

pub async fn inventory_import(global: &Global, file: &Path) -> CommandResult {
    let (parsed, digest) = read_inventory_at(file, &home()?)?;
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
