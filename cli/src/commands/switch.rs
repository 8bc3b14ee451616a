//! `warden kill-switch on|off|status`: the shared kill switch in the ledger (`warden_app::switches`).

// The commands share the context in `commands` (the ledger, the output helpers).
use super::*;

/// Sets the switch as the person acting: through the break-glass function URL (`--url`), the person who signs;
/// directly in the ledger, on DynamoDB the caller STS names and on an embedded ledger `--actor NAME` (required: the
/// ledger must name who stopped or resumed Warden), a direct action.
pub async fn kill_switch_set(global: &Global, on: bool, reason: &str, url: Option<&str>) -> CommandResult {
    if let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) {
        #[cfg(feature = "aws")]
        return crate::breakglass::kill_switch_over_url(global, url, on, reason).await;
        #[cfg(not(feature = "aws"))]
        return Err(needs_aws(&format!("--url {url} (the break-glass function URL)")));
    }
    if reason.trim().is_empty() {
        return Err(Failure::Message("--reason must say why".into()));
    }
    let by = match (&global.table, &global.actor) {
        (Some(_), Some(_)) => {
            return Err(Failure::Message(
                "--actor cannot name who sets the kill switch on DynamoDB: the ledger records the caller AWS names"
                    .into(),
            ));
        }
        #[cfg(feature = "aws")]
        (Some(_), None) => crate::breakglass::direct_caller(&warden_aws::clients::AwsClients::from_env().await).await?,
        #[cfg(not(feature = "aws"))]
        (Some(_), None) => return Err(needs_aws("--table (the DynamoDB ledger)")),
        (None, Some(name)) => Actor::Direct(name.clone()),
        (None, None) => {
            return Err(Failure::Message(
                "the kill switch is set by a person: on a local ledger, name yourself with --actor NAME".into(),
            ));
        }
    };
    let ledger = open_ledger(global).await?;
    let switch = warden_app::switches::set_kill_switch(&ledger, on, reason, by, now()).await?;
    if global.json {
        println!("{}", serde_json::to_string(&switch)?);
    } else {
        let state = if on { "ON: every action is shadow only and break-glass touches nothing" } else { "off" };
        println!(
            "kill switch {state} (in {}; every function within {} s)",
            describe_ledger(global),
            warden_app::switches::SWITCH_CACHE.as_secs()
        );
    }
    Ok(0)
}

pub async fn kill_switch_status(global: &Global) -> CommandResult {
    let ledger = open_ledger(global).await?;
    let switch = warden_app::switches::kill_switch(&ledger).await?;
    if global.json {
        println!("{}", serde_json::to_string(&switch)?);
        return Ok(0);
    }
    match switch {
        Some(s) => println!("kill switch {} since {} by {}: {}", if s.on { "ON" } else { "off" }, s.at, s.by, s.reason),
        None => println!("kill switch off (never set in {})", describe_ledger(global)),
    }
    Ok(0)
}
