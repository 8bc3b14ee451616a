//! Which ledger the CLI talks to: the embedded one (default) or DynamoDB (`--table`). One enum delegating to
//! either adapter, because the port's async methods make it a generic, not an object.

use warden_app::ledger::Ledger;
#[cfg(feature = "aws")]
use warden_aws::dynamodb::DynamoLedger;
use warden_core::inventory::Inventory;
use warden_core::ledger::{Commit, CommitOutcome, Entry, EventOutcome, FactQuery, Head, LedgerError, Record};
use warden_core::policy::DecisionContext;
use warden_embedded::EmbeddedLedger;

#[derive(Debug)]
pub enum AnyLedger {
    Embedded(EmbeddedLedger),
    #[cfg(feature = "aws")]
    Dynamo(DynamoLedger),
}

impl AnyLedger {
    /// Group commit for a long replay (the embedded ledger; DynamoDB commits each event as it comes).
    pub fn set_group_commit(&self, n: u32) {
        match self {
            Self::Embedded(ledger) => ledger.set_group_commit(n),
            #[cfg(feature = "aws")]
            Self::Dynamo(_) => {}
        }
    }

    /// Makes what a group commit left pending durable.
    pub fn flush(&self) -> Result<(), LedgerError> {
        match self {
            Self::Embedded(ledger) => ledger.flush(),
            #[cfg(feature = "aws")]
            Self::Dynamo(_) => Ok(()),
        }
    }
}

macro_rules! delegate {
    ($self:ident, $ledger:ident => $call:expr) => {
        match $self {
            AnyLedger::Embedded($ledger) => $call.await,
            #[cfg(feature = "aws")]
            AnyLedger::Dynamo($ledger) => $call.await,
        }
    };
}

impl Ledger for AnyLedger {
    async fn commit(&self, commit: Commit) -> Result<CommitOutcome, LedgerError> {
        delegate!(self, l => l.commit(commit))
    }

    async fn inventory(&self) -> Result<Inventory, LedgerError> {
        delegate!(self, l => l.inventory())
    }

    async fn inventory_for(&self, resources: &[warden_core::resource::Resource]) -> Result<Inventory, LedgerError> {
        delegate!(self, l => l.inventory_for(resources))
    }

    async fn facts(&self, query: &FactQuery) -> Result<DecisionContext, LedgerError> {
        delegate!(self, l => l.facts(query))
    }

    async fn chains(&self) -> Result<Vec<String>, LedgerError> {
        delegate!(self, l => l.chains())
    }

    async fn entries(&self, chain: &str) -> Result<Vec<Entry>, LedgerError> {
        delegate!(self, l => l.entries(chain))
    }

    async fn head(&self, chain: &str) -> Result<Option<Head>, LedgerError> {
        delegate!(self, l => l.head(chain))
    }

    async fn mark_delivered(&self, idempotency_key: &str, effect: &str) -> Result<(), LedgerError> {
        delegate!(self, l => l.mark_delivered(idempotency_key, effect))
    }

    async fn records(&self, keys: &[String]) -> Result<std::collections::BTreeMap<String, Record>, LedgerError> {
        delegate!(self, l => l.records(keys))
    }

    async fn outcome(&self, idempotency_key: &str) -> Result<Option<EventOutcome>, LedgerError> {
        delegate!(self, l => l.outcome(idempotency_key))
    }

    async fn stored_marks(
        &self,
        items: &[warden_core::ledger::MarkItem],
    ) -> Result<std::collections::BTreeMap<warden_core::ledger::MarkItem, warden_core::ledger::StateSeal>, LedgerError>
    {
        delegate!(self, l => l.stored_marks(items))
    }

    async fn audit_state(
        &self,
        sealed_marks: &std::collections::BTreeSet<warden_core::ledger::MarkItem>,
    ) -> Result<warden_core::ledger::StateAudit, LedgerError> {
        delegate!(self, l => l.audit_state(sealed_marks))
    }

    async fn pause_before_retry(&self, attempt: u32) {
        delegate!(self, l => l.pause_before_retry(attempt))
    }
}

/// Where the CLI's signed digests are kept: a folder, or (`s3://bucket/prefix`) an S3 bucket.
#[derive(Debug)]
pub enum AnyDigestStore {
    Folder(warden_app::anchor::FolderStore),
    #[cfg(feature = "aws")]
    S3(warden_aws::anchor::S3DigestStore),
}

impl warden_app::anchor::DigestStore for AnyDigestStore {
    async fn list(&self) -> Result<Vec<warden_core::anchor::SignedDigest>, LedgerError> {
        match self {
            Self::Folder(store) => store.list().await,
            #[cfg(feature = "aws")]
            Self::S3(store) => store.list().await,
        }
    }

    async fn put(&self, number: u64, digest: &warden_core::anchor::SignedDigest) -> Result<(), LedgerError> {
        match self {
            Self::Folder(store) => store.put(number, digest).await,
            #[cfg(feature = "aws")]
            Self::S3(store) => store.put(number, digest).await,
        }
    }
}

/// Who signs the CLI's digests: a key file, or (`--kms-key`) a KMS key.
#[derive(Debug)]
pub enum AnyDigestSigner {
    Local(warden_app::anchor::LocalSigningKey),
    #[cfg(feature = "aws")]
    Kms(warden_aws::anchor::KmsSigner),
}

impl warden_app::anchor::DigestSigner for AnyDigestSigner {
    fn key_id(&self) -> String {
        match self {
            Self::Local(key) => key.key_id(),
            #[cfg(feature = "aws")]
            Self::Kms(key) => key.key_id(),
        }
    }

    async fn sign(&self, document: &[u8]) -> Result<Vec<u8>, LedgerError> {
        match self {
            Self::Local(key) => key.sign(document).await,
            #[cfg(feature = "aws")]
            Self::Kms(key) => key.sign(document).await,
        }
    }

    async fn public_key(&self) -> Result<warden_app::anchor::DigestKey, LedgerError> {
        match self {
            Self::Local(key) => key.public_key().await,
            #[cfg(feature = "aws")]
            Self::Kms(key) => key.public_key().await,
        }
    }
}
