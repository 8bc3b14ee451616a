//! Warden's AWS adapters. They own every SDK type and map every SDK error; the core never sees either.

pub mod dynamodb;
pub mod schema;
