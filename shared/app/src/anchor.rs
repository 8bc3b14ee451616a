//! Signed digests outside the ledger (see `warden_core::anchor`): writing the next one, and verifying the ledger
//! against all of them with a pinned public key.
//!
//! The signature is ECDSA P-256 with SHA-256 (DER), which is what KMS produces for an `ECC_NIST_P256` key with
//! `ECDSA_SHA_256`, so one verifier serves digests signed by KMS and by a local key. Ports: a [`DigestSigner`]
//! (KMS, or [`LocalSigningKey`]) and a [`DigestStore`] (S3 with Object Lock, or [`FolderStore`]).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use warden_core::anchor::{LedgerDigest, SignedDigest, check_digests};
use warden_core::digest::content_digest;
use warden_core::ledger::{Entry, LedgerError, VerifyReport};
use warden_core::time::Timestamp;

use crate::config::{ConfigError, common_config};
use crate::effects::Notifier;
use crate::ledger::{Ledger, verify_anchored};

/// Signs digest documents with a key the ledger's writers cannot use.
pub trait DigestSigner {
    /// Recorded in each digest: which key signed it.
    fn key_id(&self) -> String;
    /// The DER ECDSA P-256 SHA-256 signature of `document`.
    fn sign(&self, document: &[u8]) -> impl Future<Output = Result<Vec<u8>, LedgerError>> + Send;
    /// The key's public half: what the stored digests must verify with before the next is signed.
    fn public_key(&self) -> impl Future<Output = Result<DigestKey, LedgerError>> + Send;
}

/// Where digests are kept: somewhere the ledger's writers cannot change or delete them.
pub trait DigestStore {
    /// Every stored digest, in the order of their numbers.
    fn list(&self) -> impl Future<Output = Result<Vec<SignedDigest>, LedgerError>> + Send;
    /// Stores digest `number`; never over an existing one.
    fn put(&self, number: u64, digest: &SignedDigest) -> impl Future<Output = Result<(), LedgerError>> + Send;
    /// The newest stored digest: what the next one links to (stores with many digests read just this one).
    fn last(&self) -> impl Future<Output = Result<Option<SignedDigest>, LedgerError>> + Send {
        let all = self.list();
        async { Ok(all.await?.pop()) }
    }
}

/// A pinned public key: the only key whose digests are trusted.
#[derive(Debug, Clone)]
pub struct DigestKey(VerifyingKey);

impl DigestKey {
    /// From a PEM public key (`-----BEGIN PUBLIC KEY-----`, as `warden ledger digest-key` writes it and as
    /// `aws kms get-public-key` gives it once put in PEM form).
    pub fn from_pem(text: &str) -> Result<Self, LedgerError> {
        VerifyingKey::from_public_key_pem(text.trim())
            .map(Self)
            .map_err(|e| LedgerError::Invalid(format!("not a P-256 public key in PEM form: {e}")))
    }

    /// From a DER public key (SubjectPublicKeyInfo, what KMS `GetPublicKey` returns).
    pub fn from_der(bytes: &[u8]) -> Result<Self, LedgerError> {
        VerifyingKey::from_public_key_der(bytes)
            .map(Self)
            .map_err(|e| LedgerError::Invalid(format!("not a P-256 public key: {e}")))
    }

    pub fn to_pem(&self) -> Result<String, LedgerError> {
        self.0.to_public_key_pem(LineEnding::LF).map_err(|e| LedgerError::Storage(e.to_string()))
    }

    /// `sha256:` and the SHA-256 of the key's DER form: what a person compares to pin the right key, whether the
    /// key lives in a file or in KMS.
    pub fn fingerprint(&self) -> Result<String, LedgerError> {
        let der = self.0.to_public_key_der().map_err(|e| LedgerError::Storage(e.to_string()))?;
        Ok(format!("sha256:{}", content_digest(der.as_bytes())))
    }

    /// How digests signed by a local key name it: `local:` and the key's SHA-256.
    pub fn local_id(&self) -> Result<String, LedgerError> {
        Ok(self.fingerprint()?.replacen("sha256:", "local:", 1))
    }

    /// Whether this key signed the digest (its signature is hex DER; anything else is not a signature).
    pub fn signed(&self, digest: &SignedDigest) -> bool {
        let der = hex::decode(&digest.signature).unwrap_or_default();
        Signature::from_der(&der).is_ok_and(|signature| self.0.verify(digest.document.as_bytes(), &signature).is_ok())
    }
}

/// A signing key kept in a file (PKCS#8 PEM) for the embedded ledger. It protects the ledger only as well as it
/// is kept apart from it: whoever can read it can sign a forged history.
#[derive(Debug, Clone)]
pub struct LocalSigningKey(SigningKey);

impl LocalSigningKey {
    pub fn generate() -> Self {
        Self(SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng))
    }

    pub fn from_pem(text: &str) -> Result<Self, LedgerError> {
        SigningKey::from_pkcs8_pem(text.trim())
            .map(Self)
            .map_err(|e| LedgerError::Invalid(format!("not a P-256 private key in PKCS#8 PEM form: {e}")))
    }

    pub fn to_pem(&self) -> Result<String, LedgerError> {
        Ok(self.0.to_pkcs8_pem(LineEnding::LF).map_err(|e| LedgerError::Storage(e.to_string()))?.to_string())
    }

    pub fn public(&self) -> DigestKey {
        DigestKey(*self.0.verifying_key())
    }
}

impl DigestSigner for LocalSigningKey {
    fn key_id(&self) -> String {
        self.public().local_id().unwrap_or_default()
    }

    fn sign(&self, document: &[u8]) -> impl Future<Output = Result<Vec<u8>, LedgerError>> + Send {
        let signature: DerSignature = self.0.sign(document);
        async move { Ok(signature.as_bytes().to_vec()) }
    }

    fn public_key(&self) -> impl Future<Output = Result<DigestKey, LedgerError>> + Send {
        let key = self.public();
        async move { Ok(key) }
    }
}

/// Digests as files `digest-000001.json`, ... in a folder (for the embedded ledger; keep it apart from the ledger,
/// on write-once storage if you have it).
#[derive(Debug, Clone)]
pub struct FolderStore {
    dir: PathBuf,
}

const DIGEST_FILE_PREFIX: &str = "digest-";

impl FolderStore {
    pub fn new(dir: &Path) -> Self {
        Self { dir: dir.to_owned() }
    }

    fn path(&self, number: u64) -> PathBuf {
        self.dir.join(format!("{DIGEST_FILE_PREFIX}{number:06}.json"))
    }
}

impl DigestStore for FolderStore {
    async fn list(&self) -> Result<Vec<SignedDigest>, LedgerError> {
        let read_dir = match std::fs::read_dir(&self.dir) {
            Ok(read_dir) => read_dir,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(LedgerError::Storage(format!("cannot read digest folder {}: {error}", self.dir.display())));
            }
        };
        let mut numbered = BTreeMap::new();
        for item in read_dir {
            let path = item.map_err(|e| LedgerError::Storage(e.to_string()))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            // Only the names `put` writes: `digest-3.json` beside `digest-000003.json` must not replace it.
            let Some(number) = name
                .strip_prefix(DIGEST_FILE_PREFIX)
                .and_then(|rest| rest.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|number| self.path(*number).file_name() == path.file_name())
            else {
                continue;
            };
            let text = std::fs::read_to_string(&path)
                .map_err(|e| LedgerError::Storage(format!("cannot read {}: {e}", path.display())))?;
            let digest = serde_json::from_str::<SignedDigest>(&text)
                .map_err(|e| LedgerError::Corrupt(format!("{} is not a signed digest: {e}", path.display())))?;
            numbered.insert(number, digest);
        }
        Ok(numbered.into_values().collect())
    }

    async fn put(&self, number: u64, digest: &SignedDigest) -> Result<(), LedgerError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| LedgerError::Storage(format!("cannot create {}: {e}", self.dir.display())))?;
        let path = self.path(number);
        let text = serde_json::to_string_pretty(digest).map_err(|e| LedgerError::Storage(e.to_string()))?;
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                LedgerError::Conflict(format!(
                    "{} already exists: another digest was written meanwhile",
                    path.display()
                ))
            } else {
                LedgerError::Storage(format!("cannot write {}: {e}", path.display()))
            }
        })?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| LedgerError::Storage(format!("cannot write {}: {e}", path.display())))
    }
}

/// Digests held in memory (tests, and trying the mechanism out); passes the same store checks as the others.
#[derive(Debug, Default)]
pub struct MemoryStore(std::sync::Mutex<BTreeMap<u64, SignedDigest>>);

impl DigestStore for MemoryStore {
    async fn list(&self) -> Result<Vec<SignedDigest>, LedgerError> {
        let stored = self.0.lock().map_err(|_| LedgerError::Storage("the digest store is poisoned".into()))?;
        Ok(stored.values().cloned().collect())
    }

    async fn put(&self, number: u64, digest: &SignedDigest) -> Result<(), LedgerError> {
        let mut stored = self.0.lock().map_err(|_| LedgerError::Storage("the digest store is poisoned".into()))?;
        if stored.contains_key(&number) {
            return Err(LedgerError::Conflict(format!("digest {number} already exists")));
        }
        stored.insert(number, digest.clone());
        Ok(())
    }
}

/// The newest digest a signer wrote, as the signer keeps it (beside its key, out of the ledger writers' reach): the
/// stored digests must still end with it, or some were deleted or replaced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LastSigned {
    pub number: u64,
    pub sha256: String,
}

/// Writes the next digest: every chain's head now, linked to the newest stored digest, signed. Refuses (and signs
/// nothing) when the newest stored digest is not signed by the signer's own key, when the store no longer ends with
/// `last_signed` (the newest were deleted: signing now would certify whatever was rewritten after the survivors),
/// or when a chain no longer ends where the previous digest recorded it.
pub async fn write_digest<L, S, D>(
    ledger: &L,
    signer: &S,
    store: &D,
    last_signed: Option<&LastSigned>,
    now: Timestamp,
) -> Result<(LedgerDigest, LastSigned), LedgerError>
where
    L: Ledger,
    S: DigestSigner,
    D: DigestStore,
{
    let refuse = |why: String| LedgerError::Invalid(format!("no digest written: {why}"));
    // The newest digest only: the whole sequence is `verify`'s to check, and reading it all every hour grows without
    // end. Its signature must hold with this key, or someone else's digest would be the next one's predecessor.
    let previous_signed = store.last().await?;
    let key = signer.public_key().await?;
    let previous = match &previous_signed {
        Some(signed) => {
            if !key.signed(signed) {
                return Err(refuse(format!(
                    "the newest stored digest (document SHA-256 {}) is not signed by this key",
                    signed.document_sha256()
                )));
            }
            Some(
                serde_json::from_str::<LedgerDigest>(&signed.document)
                    .map_err(|e| refuse(format!("the newest stored digest cannot be read: {e}")))?,
            )
        }
        None => None,
    };
    let previous = previous.as_ref();
    let previous_signed = previous_signed.as_ref();
    let newest =
        previous.zip(previous_signed).map(|(d, s)| LastSigned { number: d.number, sha256: s.document_sha256() });
    // A crash between storing a digest and recording it beside the key leaves the store one ahead: that digest is
    // this key's own (its signature was checked above) and names the recorded one, so it is not a deletion.
    let one_ahead = |expected: &LastSigned| {
        previous
            .is_some_and(|p| p.number == expected.number + 1 && p.previous.as_deref() == Some(expected.sha256.as_str()))
    };
    if let Some(expected) = last_signed
        && newest.as_ref() != Some(expected)
        && !one_ahead(expected)
    {
        return Err(refuse(format!(
            "this key last signed digest {} ({}), but the store ends with {}: digests were deleted or replaced",
            expected.number,
            expected.sha256,
            newest.map_or_else(|| "none".to_owned(), |n| format!("digest {} ({})", n.number, n.sha256))
        )));
    }
    let mut heads = BTreeMap::new();
    for chain in ledger.chains().await? {
        // A chain whose head item is gone is recorded at its last entry (verify names the missing head).
        let head = match ledger.head(&chain).await? {
            Some(head) => Some(head),
            None => ledger.entries(&chain).await?.last().map(Entry::head),
        };
        if let Some(head) = head {
            heads.insert(chain, head);
        }
    }
    if let Some(previous) = previous {
        for (chain, recorded) in &previous.heads {
            // What can be told from the heads alone: a chain cut short, or one whose last entry changed since.
            let now = heads.get(chain);
            let now_seq = now.map_or(0, |h| h.seq);
            if now_seq < recorded.seq || (now_seq == recorded.seq && now != Some(recorded)) {
                return Err(refuse(format!(
                    "chain {chain} no longer ends where digest {} recorded it (entry {}): run `warden ledger verify \
                     --digests`",
                    previous.number, recorded.seq
                )));
            }
        }
    }
    let digest = LedgerDigest::next(previous_signed, previous.map_or(0, |d| d.number), now, &signer.key_id(), heads);
    let document = digest.document();
    let signature = signer.sign(document.as_bytes()).await?;
    let signed = SignedDigest { document, signature: hex::encode(signature) };
    store.put(digest.number, &signed).await?;
    let mark = LastSigned { number: digest.number, sha256: signed.document_sha256() };
    Ok((digest, mark))
}

/// Verifies the ledger as `verify` does, and every chain against the stored digests that `key` signed: an entry
/// rewritten (hashes recomputed or not), a chain truncated or deleted before the newest digest, and a digest
/// edited, forged, removed from the sequence or unlinked are all named.
pub async fn verify_with_digests<L, D>(ledger: &L, store: &D, key: &DigestKey) -> Result<VerifyReport, LedgerError>
where
    L: Ledger,
    D: DigestStore,
{
    let stored = store.list().await?;
    let (trusted, problems) = check_digests(&stored, |signed| key.signed(signed));
    let mut report = verify_anchored(ledger, &trusted).await?;
    report.failures.extend(problems);
    Ok(report)
}

/// The scheduled digest writer's function name (SAM and CDK deploy it on an hourly schedule).
pub const FUNCTION_NAME: &str = "warden-digest";
/// The KMS key that signs digests (an asymmetric `ECC_NIST_P256` key only this function may use).
pub const ENV_DIGEST_KEY: &str = "WARDEN_DIGEST_KEY_ID";
/// The S3 bucket (Object Lock, compliance mode) that keeps the digests.
pub const ENV_DIGEST_BUCKET: &str = "WARDEN_DIGEST_BUCKET";
/// Where in the bucket the digests go: `ledger/digest-000001.json`, ...
pub const DIGEST_PREFIX: &str = "ledger";
/// Every variable the digest writer reads.
pub const ENV_VARS: &[&str] = &[
    crate::config::ENV_TABLE,
    crate::config::ENV_TOPIC,
    crate::config::ENV_POLICY,
    crate::config::ENV_KILL_SWITCH,
    crate::config::ENV_MODE,
    ENV_DIGEST_KEY,
    ENV_DIGEST_BUCKET,
];

/// The digest writer's configuration; a missing value fails the cold start, naming the variable.
#[derive(Debug, Clone)]
pub struct DigestConfig {
    pub table: String,
    pub topic_arn: String,
    pub key_id: String,
    pub bucket: String,
}

impl DigestConfig {
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let (table, topic_arn, _) = common_config(&lookup)?;
        let required = |name: &'static str| {
            lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).ok_or(ConfigError::Missing(name))
        };
        Ok(Self { table, topic_arn, key_id: required(ENV_DIGEST_KEY)?, bucket: required(ENV_DIGEST_BUCKET)? })
    }
}

/// One scheduled run of the digest writer. A refusal means the ledger no longer matches what was signed (or the
/// digests were tampered with): that is what an insider's rewrite looks like, so on-call is paged high before the
/// invocation fails.
pub async fn scheduled_digest<L, S, D, N>(
    ledger: &L,
    signer: &S,
    store: &D,
    notifier: &N,
    now: Timestamp,
) -> Result<LedgerDigest, LedgerError>
where
    L: Ledger,
    S: DigestSigner,
    D: DigestStore,
    N: Notifier,
{
    match write_digest(ledger, signer, store, None, now).await {
        Ok((digest, _)) => Ok(digest),
        Err(LedgerError::Invalid(reason)) => {
            let alert = warden_core::notify::Alert {
                level: warden_core::severity::Band::High,
                subject: "Warden: the ledger no longer matches its signed digests".into(),
                body: format!(
                    "{reason}\n\nNo digest was signed. Check the ledger with `warden ledger verify --table TABLE --digests \
                     s3://BUCKET/{DIGEST_PREFIX} --public-key KEY.pub`."
                ),
                attributes: [("level".to_owned(), "high".to_owned()), ("source".to_owned(), FUNCTION_NAME.to_owned())]
                    .into_iter()
                    .collect(),
            };
            if let Err(error) = notifier.notify(&alert).await {
                tracing::error!(%error, "the digest refusal could not be alerted");
            }
            Err(LedgerError::Invalid(reason))
        }
        Err(other) => Err(other),
    }
}
