//! Warden's core: decode governance events, turn them into signals, correlate them with the model inventory,
//! decide by policy and describe what to record. Pure and synchronous: no async runtime, no storage engine, no
//! AWS crate, so every decision runs the same in a Lambda, the CLI and a unit test.
//!
//! Layout, lower layers first:
//! - vocabulary: [`time`] (bounded timestamps), severity and resources in [`signal`];
//! - [`event`]: one module per source, decoding EventBridge details (what Warden refuses, and why);
//! - [`signal`]: one normalised signal per event; [`inventory`]: models and correlation;
//! - [`policy`]: rules and decisions; [`engine`]: the pure pipeline (`prepare`, `plan`) that describes a commit;
//! - [`breakglass`]: the action state machine (`decide`), its records and status;
//! - [`ledger`]: entries, chaining, hashing and the pure check of a chain;
//! - renderers: [`notify`] (alert text), [`bus`] (governance events), [`evidence`] (audit rows).
//!
//! `warden-app` runs this against ports; `warden-embedded` and `warden-aws` implement the ports.

pub mod action;
pub mod anchor;
pub mod breakglass;
pub mod bus;
pub mod context;
pub mod digest;
pub mod engine;
pub mod event;
pub mod evidence;
pub mod inventory;
pub mod ledger;
pub mod notify;
pub mod placement;
pub mod policy;
pub mod resource;
pub mod severity;
pub mod signal;
pub mod time;
