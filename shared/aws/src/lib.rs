//! Warden's AWS adapters and Lambda wiring. They own every SDK type and map every SDK error; the core never sees
//! either.

pub mod breakglass;
pub mod clients;
pub mod dynamodb;
pub mod errors;
pub mod eventbridge;
pub mod function;
pub mod sagemaker;
pub mod schema;
pub mod sns;
