//! Warden's integration tests, in one binary: each module below was its own test binary, and each linked the AWS
//! SDKs again (link time and disk in CI). Run one module with `cargo test -p warden-tests --test it MODULE::`.
//!
//! - the layout: `architecture` (no import cycles, a pure core, wiring-only functions);
//! - pure, over the bundled fixtures: `decoding`, `policy_outcomes`, `alerts`, `inputs` (hostile and odd inputs,
//!   and the mutation property test);
//! - the engine and the embedded ledger: `ledger`, `effects`, `handlers`, `breakglass`;
//! - AWS protocols on emulators started by `scripts/test.sh` (DynamoDB Local, moto): `dynamodb`, `aws_effects`,
//!   `breakglass_aws`, `lambda_binaries`;
//! - one central Warden over several accounts: `organization` (both ledgers);
//! - the deployment stacks against the code: `infra` (reads what `scripts/infra-check.sh` wrote).

// Tests fail loudly.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod alerts;
mod anchor_aws;
mod architecture;
mod aws_effects;
mod breakglass;
mod breakglass_aws;
mod decoding;
mod dynamodb;
mod effects;
mod handlers;
mod infra;
mod inputs;
mod lambda_binaries;
mod ledger;
mod organization;
mod policy_outcomes;
