//! `warden policy check|default`.

// The commands share the context in `commands` (the ledger, the policy, the output helpers).
use super::*;

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
