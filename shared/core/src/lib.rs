//! Warden's core: decode governance events, turn them into signals, correlate them with the model inventory,
//! decide by policy and describe what to record. Pure and synchronous, except the ledger port, whose adapters
//! (embedded redb here, DynamoDB elsewhere) do the I/O.

pub mod breakglass;
pub mod bus;
pub mod engine;
pub mod event;
pub mod evidence;
pub mod inventory;
pub mod ledger;
pub mod notify;
pub mod policy;
pub mod signal;
pub mod time;
