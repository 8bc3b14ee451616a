//! Content digests: of rejected bodies (never the bodies themselves), imported files, and long keys.

use sha2::{Digest, Sha256};

/// The SHA-256 of bytes, raw: what a signer given a digest (KMS `MessageType=DIGEST`) signs.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The hex SHA-256 of bytes: digests of rejected bodies and imported files.
pub fn content_digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
