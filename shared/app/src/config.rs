//! The one configuration every Lambda function and the CLI read: the policy with the kill switch and the mode
//! applied on top, and the functions' table, topic and bus. Read once (at cold start, or when a command starts);
//! a missing or bad value is an error naming the variable.

use warden_core::placement::{Placement, placement_problem};
use warden_core::policy::Policy;

/// Environment variables every function reads (the SAM and CDK stacks set exactly these).
pub const ENV_TABLE: &str = "WARDEN_TABLE_NAME";
pub const ENV_TOPIC: &str = "WARDEN_ALERT_TOPIC_ARN";
pub const ENV_BUS: &str = "WARDEN_EVENT_BUS_NAME";
/// Optional: a whole policy as TOML (the built-in policy when absent).
pub const ENV_POLICY: &str = "WARDEN_POLICY";
/// Optional: `true` turns every action into shadow, whatever the policy says.
pub const ENV_KILL_SWITCH: &str = "WARDEN_KILL_SWITCH";
/// Optional: `shadow` makes every action shadow (observe-only rollout); `policy` (the default) acts as the policy says.
pub const ENV_MODE: &str = "WARDEN_MODE";
/// Optional: the account Warden governs from (the stacks set their own). Models with no account run there, so an
/// event from another account never reaches them; unset, models with no account match events from any account.
pub const ENV_HOME_ACCOUNT: &str = "WARDEN_HOME_ACCOUNT";
/// Optional: the region Warden governs from (the stacks set their own), where models with no region run. Not
/// `AWS_REGION`: an on-call engineer's shell sets that for other reasons, and a replay must not depend on it.
pub const ENV_HOME_REGION: &str = "WARDEN_HOME_REGION";
/// Every variable a detector function reads, for the infrastructure consistency test.
pub const ENV_VARS: &[&str] =
    &[ENV_TABLE, ENV_TOPIC, ENV_BUS, ENV_POLICY, ENV_KILL_SWITCH, ENV_MODE, ENV_HOME_ACCOUNT, ENV_HOME_REGION];

/// A configuration problem that must fail the cold start, naming the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table: String,
    pub topic_arn: String,
    pub bus_name: String,
    pub policy: Policy,
    /// Where models with no account or region run.
    pub home: Placement,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let (table, topic_arn, policy) = common_config(&lookup)?;
        let bus_name = required(&lookup, ENV_BUS)?;
        Ok(Self { table, topic_arn, bus_name, policy, home: home(&lookup)? })
    }
}

/// The home account and region: [`ENV_HOME_ACCOUNT`] and [`ENV_HOME_REGION`], each optional and checked.
pub fn home(lookup: &impl Fn(&str) -> Option<String>) -> Result<Placement, ConfigError> {
    let account = lookup(ENV_HOME_ACCOUNT).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let region = lookup(ENV_HOME_REGION).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if let Some(reason) = placement_problem(account.as_deref(), None) {
        return Err(ConfigError::Invalid { name: ENV_HOME_ACCOUNT, reason });
    }
    if let Some(reason) = placement_problem(None, region.as_deref()) {
        return Err(ConfigError::Invalid { name: ENV_HOME_REGION, reason });
    }
    // Half a home would let models with no region match every region of the home account, or the reverse.
    match (&account, &region) {
        (Some(_), None) => return Err(ConfigError::Missing(ENV_HOME_REGION)),
        (None, Some(_)) => return Err(ConfigError::Missing(ENV_HOME_ACCOUNT)),
        _ => {}
    }
    Ok(Placement::new(account, region))
}

fn required(lookup: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ConfigError> {
    lookup(name).filter(|v| !v.trim().is_empty()).ok_or(ConfigError::Missing(name)).map(|v| v.trim().to_owned())
}

/// The table, the alert topic and the policy (with the kill switch and mode applied): what every function reads.
pub fn common_config(lookup: &impl Fn(&str) -> Option<String>) -> Result<(String, String, Policy), ConfigError> {
    let table = required(lookup, ENV_TABLE)?;
    let topic_arn = required(lookup, ENV_TOPIC)?;
    if !topic_arn.starts_with("arn:") {
        return Err(ConfigError::Invalid { name: ENV_TOPIC, reason: format!("{topic_arn:?} is not an ARN") });
    }
    let policy = match lookup(ENV_POLICY).filter(|v| !v.trim().is_empty()) {
        Some(text) => {
            Policy::parse(&text).map_err(|e| ConfigError::Invalid { name: ENV_POLICY, reason: e.to_string() })?
        }
        None => Policy::builtin().map_err(|e| ConfigError::Invalid { name: ENV_POLICY, reason: e.to_string() })?,
    };
    Ok((table, topic_arn, with_switches(policy, lookup)?))
}

/// Applies the emergency switches to a policy: `WARDEN_KILL_SWITCH=true` (every action shadow, break-glass refuses
/// everything) and `WARDEN_MODE=shadow` (observe-only). The functions and the CLI's `--here` both call this, so a
/// switch set for one is honoured by the other.
pub fn with_switches(mut policy: Policy, lookup: &impl Fn(&str) -> Option<String>) -> Result<Policy, ConfigError> {
    match lookup(ENV_KILL_SWITCH).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("false") => {}
        Some("true") => policy.kill_switch = true,
        Some(other) => {
            return Err(ConfigError::Invalid {
                name: ENV_KILL_SWITCH,
                reason: format!("{other:?} is not true or false"),
            });
        }
    }
    match lookup(ENV_MODE).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("policy") => {}
        Some("shadow") => policy.force_shadow(),
        Some(other) => {
            return Err(ConfigError::Invalid { name: ENV_MODE, reason: format!("{other:?} is not policy or shadow") });
        }
    }
    Ok(policy)
}
