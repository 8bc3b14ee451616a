//! Warden's application layer: the use cases, over ports, that the Lambda functions and the CLI share.
//!
//! Layout:
//! - ports: [`ledger::Ledger`] (with [`ledger::verify`]), [`effects::Notifier`] and [`effects::Publisher`],
//!   [`sagemaker::SageMaker`]; in-memory implementations beside them for tests and local runs;
//! - use cases: [`ingest`] (events and inventory files into the ledger), [`effects`] (alerts and bus events,
//!   once), [`breakglass`] (the executor that runs `warden_core::breakglass`'s state machine against the ports),
//!   [`status`], [`switches`] (the shared kill switch); the handlers the Lambda functions serve, Lambda-free: [`detector`] and [`inbox`] (break-glass);
//! - [`config`]: the one configuration (policy, kill switch, mode, and the functions' table, topic and bus) that
//!   every function and the CLI read;
//! - `conformance` (feature `conformance`): the suite every ledger adapter passes.
//!
//! `warden-core` below decides and is pure; the adapters (`warden-embedded`, `warden-aws`) implement the ports.

pub mod anchor;
pub mod breakglass;
pub mod config;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod detector;
pub mod effects;
pub mod inbox;
pub mod ingest;
pub mod ledger;
pub mod sagemaker;
pub mod status;
pub mod switches;
