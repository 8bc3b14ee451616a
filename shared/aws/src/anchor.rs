//! The signed digests' AWS adapters: KMS signs (an asymmetric `ECC_NIST_P256` key only the digest writer may use)
//! and S3 keeps them (a versioned bucket with Object Lock in compliance mode: nobody can change or delete a version
//! before its retention ends, and a digest is always read from the version first written). See
//! `warden_app::anchor`.

use std::collections::BTreeMap;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use aws_sdk_s3::primitives::ByteStream;
use warden_app::anchor::{DigestKey, DigestSigner, DigestStore};
use warden_core::anchor::SignedDigest;
use warden_core::digest::sha256;
use warden_core::ledger::LedgerError;

use crate::errors::{Failure, classify};

fn failure(detail: Failure) -> LedgerError {
    match detail {
        Failure::Retryable(detail) => LedgerError::Unavailable(detail),
        Failure::NotFound(detail) | Failure::Permanent(detail) => LedgerError::Storage(detail),
    }
}

/// Signs with a KMS key: the SHA-256 of the document is sent (`MessageType=DIGEST`), never the document, which
/// can be larger than KMS's 4 KB message limit.
#[derive(Debug, Clone)]
pub struct KmsSigner {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsSigner {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        Self { client, key_id: key_id.into() }
    }
}

impl DigestSigner for KmsSigner {
    fn key_id(&self) -> String {
        self.key_id.clone()
    }

    async fn sign(&self, document: &[u8]) -> Result<Vec<u8>, LedgerError> {
        let output = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(sha256(document).to_vec()))
            .message_type(MessageType::Digest)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| failure(classify("KMS Sign", &e, &["KMSInternalException", "KeyUnavailableException"])))?;
        output
            .signature()
            .map(|s| s.as_ref().to_vec())
            .ok_or_else(|| LedgerError::Storage("KMS Sign returned no signature".into()))
    }

    async fn public_key(&self) -> Result<DigestKey, LedgerError> {
        let output = self
            .client
            .get_public_key()
            .key_id(&self.key_id)
            .send()
            .await
            .map_err(|e| failure(classify("KMS GetPublicKey", &e, &["KMSInternalException"])))?;
        let der = output.public_key().ok_or_else(|| LedgerError::Storage("KMS GetPublicKey returned no key".into()))?;
        DigestKey::from_der(der.as_ref())
    }
}

/// An S3 client for the digests: buckets addressed by path when an endpoint is set (emulators), as virtual hosts
/// otherwise.
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let path_style = sdk.endpoint_url().is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(path_style).build())
}

/// Digests as S3 objects `PREFIX/digest-000001.json`, ...; each put only if no object has that key yet.
#[derive(Debug, Clone)]
pub struct S3DigestStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3DigestStore {
    /// `prefix` without a trailing slash (empty: the bucket's root).
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>, prefix: &str) -> Self {
        Self { client, bucket: bucket.into(), prefix: prefix.trim_matches('/').to_owned() }
    }

    fn key(&self, number: u64) -> String {
        let name = format!("digest-{number:06}.json");
        if self.prefix.is_empty() { name } else { format!("{}/{name}", self.prefix) }
    }

    /// `s3://bucket/prefix` split into bucket and prefix.
    pub fn parse_url(url: &str) -> Option<(String, String)> {
        let rest = url.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        (!bucket.is_empty()).then(|| (bucket.to_owned(), prefix.trim_matches('/').to_owned()))
    }
}

const S3_RETRYABLE: &[&str] = &["SlowDown", "InternalError", "ServiceUnavailable", "RequestTimeout"];

impl S3DigestStore {
    /// Every digest key, by number, with the version first written under it: the one Object Lock keeps. Later
    /// versions and delete markers (a plain PutObject over a digest, a DeleteObject without a version) are ignored,
    /// so neither can replace or hide a digest; a key whose every version is gone is no digest.
    async fn first_versions(&self) -> Result<BTreeMap<u64, (String, String)>, LedgerError> {
        let list_prefix =
            if self.prefix.is_empty() { "digest-".to_owned() } else { format!("{}/digest-", self.prefix) };
        let mut first: BTreeMap<u64, (String, String)> = BTreeMap::new();
        // ListObjectVersions has no paginator: follow its markers.
        let mut markers: Option<(Option<String>, Option<String>)> = Some((None, None));
        while let Some((key_marker, version_marker)) = markers.take() {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(&list_prefix)
                .set_key_marker(key_marker)
                .set_version_id_marker(version_marker)
                .send()
                .await
                .map_err(|e| failure(classify("S3 ListObjectVersions", &e, S3_RETRYABLE)))?;
            if page.is_truncated() == Some(true) {
                markers =
                    Some((page.next_key_marker().map(str::to_owned), page.next_version_id_marker().map(str::to_owned)));
            }
            for version in page.versions() {
                let (Some(key), Some(id)) = (version.key(), version.version_id()) else { continue };
                let number = key
                    .strip_prefix(&list_prefix)
                    .and_then(|rest| rest.strip_suffix(".json"))
                    .and_then(|n| n.parse::<u64>().ok())
                    .filter(|number| self.key(*number) == key);
                let Some(number) = number else { continue };
                // S3 lists a key's versions newest first (documented), so the last one listed is the first written.
                first.insert(number, (key.to_owned(), id.to_owned()));
            }
        }
        Ok(first)
    }

    async fn read(&self, key: &str, version: &str) -> Result<SignedDigest, LedgerError> {
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .version_id(version)
            .send()
            .await
            .map_err(|e| failure(classify("S3 GetObject", &e, S3_RETRYABLE)))?;
        let bytes = object
            .body
            .collect()
            .await
            .map_err(|e| LedgerError::Unavailable(format!("S3 GetObject {key}: {e}")))?
            .into_bytes();
        serde_json::from_slice::<SignedDigest>(&bytes)
            .map_err(|e| LedgerError::Corrupt(format!("s3://{}/{key} is not a signed digest: {e}", self.bucket)))
    }
}

impl DigestStore for S3DigestStore {
    async fn list(&self) -> Result<Vec<SignedDigest>, LedgerError> {
        let mut digests = Vec::new();
        for (key, version) in self.first_versions().await?.into_values() {
            digests.push(self.read(&key, &version).await?);
        }
        Ok(digests)
    }

    /// One GetObject however many digests there are: the hourly writer needs only the newest.
    async fn last(&self) -> Result<Option<SignedDigest>, LedgerError> {
        match self.first_versions().await?.into_values().next_back() {
            Some((key, version)) => Ok(Some(self.read(&key, &version).await?)),
            None => Ok(None),
        }
    }

    async fn put(&self, number: u64, digest: &SignedDigest) -> Result<(), LedgerError> {
        let key = self.key(number);
        let body = serde_json::to_vec_pretty(digest).map_err(|e| LedgerError::Storage(e.to_string()))?;
        let result = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            // Never over an existing digest: S3's conditional write (412 when the key exists).
            .if_none_match("*")
            .body(ByteStream::from(body))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => {
                let code = error.as_service_error().and_then(aws_sdk_s3::error::ProvideErrorMetadata::code);
                if matches!(code, Some("PreconditionFailed" | "ConditionalRequestConflict")) {
                    return Err(LedgerError::Conflict(format!(
                        "s3://{}/{key} already exists: another digest was written meanwhile",
                        self.bucket
                    )));
                }
                Err(failure(classify("S3 PutObject", &error, S3_RETRYABLE)))
            }
        }
    }
}
