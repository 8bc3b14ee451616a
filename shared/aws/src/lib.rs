//! Warden's AWS adapters and Lambda wiring. They own every SDK type and map every SDK error; nothing above sees
//! either, and nothing here decides or routes (that is `warden-app`).
//!
//! Layout: the port adapters [`anchor`] (signed digests: KMS, S3), [`dynamodb`] (the ledger, with its one-table [`schema`]), [`sns`] (alerts),
//! [`eventbridge`] (governance events), [`sagemaker`] (break-glass), [`clients`] (the CLI's SDK clients and
//! caller identity), [`function_url`] (the CLI's SigV4-signed calls to the break-glass function URL), [`errors`] (SDK errors to retryable or permanent); and the Lambda wiring: [`function`]
//! (the detectors' handler built from the environment, and the runtime loop), [`breakglass`] and [`digest`] (the
//! scheduled digest writer).

pub mod anchor;
pub mod breakglass;
pub mod clients;
pub mod digest;
pub mod dynamodb;
pub mod errors;
pub mod eventbridge;
pub mod function;
pub mod function_url;
pub mod sagemaker;
pub mod schema;
pub mod sns;
