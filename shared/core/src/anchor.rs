//! Signed digests that anchor the ledger outside itself, in the manner of CloudTrail's log-file integrity digests.
//!
//! A chain whose entries were edited and whose hashes were recomputed verifies on its own: the hashes have no
//! key. A digest records every chain's head at one moment, names the digest before it by its SHA-256, and is signed
//! with a key the ledger's writers cannot use, and is kept where they cannot change it. An entry rewritten after a
//! digest was signed no longer has the hash that digest recorded, whatever was recomputed after it. This module is
//! the pure part: the documents and the checks. Signing, the keys and the stores are the application's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::content_digest;
use crate::ledger::{Entry, Head, Problem, VerifyFailure};
use crate::time::Timestamp;

/// The digest format this code writes and reads.
pub const DIGEST_FORMAT: u32 = 1;

/// What a digest attests: the heads of every chain at one moment, linked to the previous digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerDigest {
    pub format: u32,
    /// 1 for a ledger's first digest, then one more each time.
    pub number: u64,
    pub written_at: Timestamp,
    /// The SHA-256 of the previous digest's document (`None` for the first).
    pub previous: Option<String>,
    /// Which key signed it: a KMS key ARN, or `local:` and the SHA-256 of the public key.
    pub key_id: String,
    /// Every chain's head when the digest was written.
    pub heads: BTreeMap<String, Head>,
}

/// A digest as stored: the exact document that was signed, and its signature (ECDSA P-256 with SHA-256, DER, hex).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedDigest {
    pub document: String,
    pub signature: String,
}

impl LedgerDigest {
    /// The digest that follows `previous` (`None`: the first), attesting `heads`.
    pub fn next(
        previous: Option<&SignedDigest>,
        previous_number: u64,
        written_at: Timestamp,
        key_id: &str,
        heads: BTreeMap<String, Head>,
    ) -> Self {
        Self {
            format: DIGEST_FORMAT,
            number: previous_number.saturating_add(1),
            written_at,
            previous: previous.map(SignedDigest::document_sha256),
            key_id: key_id.to_owned(),
            heads,
        }
    }

    /// The document to sign and store.
    pub fn document(&self) -> String {
        // A struct of strings, numbers and maps of them always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl SignedDigest {
    pub fn document_sha256(&self) -> String {
        content_digest(self.document.as_bytes())
    }
}

/// A problem with the digests themselves (not with a chain).
fn digest_problem(error: String) -> VerifyFailure {
    VerifyFailure { chain: "digests".into(), position: 0, problem: Problem::Digest { error } }
}

/// Checks stored digests, in the order of their numbers: each must read, carry a signature `pinned_key_signed` accepts
/// (with the pinned public key: a digest signed by any other key is a forgery), follow the one before without a
/// gap and name it by its SHA-256. Returns the digests whose signature holds (their heads can be trusted even
/// when a neighbour is missing, since each is signed on its own) and the problems found.
pub fn check_digests(
    stored: &[SignedDigest],
    pinned_key_signed: impl Fn(&SignedDigest) -> bool,
) -> (Vec<LedgerDigest>, Vec<VerifyFailure>) {
    let mut trusted = Vec::new();
    let mut problems = Vec::new();
    let mut previous: Option<(u64, String, Timestamp)> = None;
    for signed in stored {
        if !pinned_key_signed(signed) {
            // Named by its SHA-256, never by its text: an unsigned document is anyone's words.
            problems.push(digest_problem(format!(
                "a digest is not signed by the pinned key (forged or edited): document SHA-256 {}",
                signed.document_sha256()
            )));
            continue;
        }
        let digest = match serde_json::from_str::<LedgerDigest>(&signed.document) {
            Ok(digest) if digest.format == DIGEST_FORMAT => digest,
            Ok(digest) => {
                problems.push(digest_problem(format!("digest {} has format {}", digest.number, digest.format)));
                continue;
            }
            Err(error) => {
                problems.push(digest_problem(format!("a signed digest cannot be read: {error}")));
                continue;
            }
        };
        let expected = previous.as_ref().map_or(1, |(number, _, _)| number + 1);
        if digest.number != expected {
            problems.push(digest_problem(format!(
                "digest {} follows digest {}: {} missing",
                digest.number,
                expected - 1,
                if digest.number > expected { "digests are" } else { "the numbering is" }
            )));
        } else if digest.previous.as_ref() != previous.as_ref().map(|(_, sha, _)| sha) {
            problems.push(digest_problem(format!(
                "digest {} does not name digest {} before it",
                digest.number,
                expected - 1
            )));
        }
        if let Some((_, _, at)) = &previous
            && digest.written_at < *at
        {
            problems.push(digest_problem(format!("digest {} is older than the one before it", digest.number)));
        }
        previous = Some((digest.number, signed.document_sha256(), digest.written_at));
        trusted.push(digest);
    }
    // Asked to check against digests and finding none to trust is a failure: deleting them must not pass.
    if trusted.is_empty() {
        problems
            .push(digest_problem("no digest signed by the pinned key was found: nothing anchors the chains".into()));
    }
    (trusted, problems)
}

/// Checks one chain's entries against every trusted digest that recorded it: the entry at each recorded head must
/// still exist and have the recorded hash. The first problem per chain is enough to name the damage.
pub fn check_chain_against(chain: &str, entries: &[Entry], digests: &[LedgerDigest]) -> Option<VerifyFailure> {
    for digest in digests {
        let Some(head) = digest.heads.get(chain) else { continue };
        let index = usize::try_from(head.seq).ok().and_then(|seq| seq.checked_sub(1));
        let stored = index.and_then(|i| entries.get(i));
        let problem = match stored {
            Some(entry) if entry.seq == head.seq && entry.hash == head.hash => continue,
            Some(_) => Problem::DigestMismatch { digest: digest.number },
            None => Problem::DigestBeyond { digest: digest.number, seq: head.seq },
        };
        let position = if stored.is_some() { head.seq } else { entries.len() as u64 };
        return Some(VerifyFailure { chain: chain.to_owned(), position, problem });
    }
    None
}

/// The chains the digests recorded, each with the digest that last did: a chain deleted whole must still be
/// reported.
pub fn recorded_chains(digests: &[LedgerDigest]) -> BTreeMap<&str, u64> {
    let mut chains = BTreeMap::new();
    for digest in digests {
        for chain in digest.heads.keys() {
            chains.insert(chain.as_str(), digest.number);
        }
    }
    chains
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Actor, EntryBody, NewEntry};

    fn entry(chain: &str, n: u64, prev: Option<&Head>) -> Entry {
        let new = NewEntry {
            chain: chain.into(),
            recorded_at: Timestamp::from_millis(1_700_000_000_000).unwrap_or(Timestamp::MIN),
            idempotency_key: format!("k{n}"),
            event_id: format!("e{n}"),
            source: "test".into(),
            detail_type: "test".into(),
            occurred_at: Timestamp::from_millis(1_700_000_000_000).unwrap_or(Timestamp::MIN),
            model_version: None,
            actor: Actor::Automation("test".into()),
            reason: format!("entry {n}"),
            body: EntryBody::Decision { rule: "r".into(), alert: None, reasons: vec![], skipped: vec![] },
            seals: Vec::new(),
        };
        Entry::seal(new, prev).unwrap_or_else(|e| unreachable!("{e}"))
    }

    fn chain(n: u64) -> Vec<Entry> {
        let mut entries: Vec<Entry> = Vec::new();
        for i in 1..=n {
            let next = entry("m", i, entries.last().map(Entry::head).as_ref());
            entries.push(next);
        }
        entries
    }

    /// "Signs" by appending a tag only the test knows: enough to test the checks, which take the verifier as given.
    fn sign(digest: &LedgerDigest) -> SignedDigest {
        let document = digest.document();
        SignedDigest { signature: hex::encode(format!("ok:{}", content_digest(document.as_bytes()))), document }
    }

    fn signature_ok(signed: &SignedDigest) -> bool {
        hex::decode(&signed.signature).unwrap_or_default()
            == format!("ok:{}", content_digest(signed.document.as_bytes())).as_bytes()
    }

    fn digests_of(heads: &[u64], entries: &[Entry]) -> Vec<SignedDigest> {
        let mut out: Vec<SignedDigest> = Vec::new();
        for (i, seq) in heads.iter().enumerate() {
            let mut map = BTreeMap::new();
            map.insert("m".to_owned(), entries[usize::try_from(*seq).unwrap_or(0) - 1].head());
            let at = Timestamp::from_millis(1_700_000_000_000 + i as i64).unwrap_or(Timestamp::MIN);
            out.push(sign(&LedgerDigest::next(out.last(), i as u64, at, "local:test", map)));
        }
        out
    }

    #[test]
    fn a_recomputed_chain_fails_against_an_earlier_digest() {
        let entries = chain(5);
        let (trusted, problems) = check_digests(&digests_of(&[3], &entries), signature_ok);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(check_chain_against("m", &entries, &trusted), None);
        // Entry 2 edited, then 2..5 re-hashed and re-linked: the chain verifies alone, not against the digest.
        let mut forged = entries[..1].to_vec();
        for i in 2..=5 {
            let mut next = entry("m", i, forged.last().map(Entry::head).as_ref());
            if i == 2 {
                next.entry.reason = "edited".into();
                next = Entry::seal(next.entry, forged.last().map(Entry::head).as_ref())
                    .unwrap_or_else(|e| unreachable!("{e}"));
            }
            forged.push(next);
        }
        assert_eq!(
            crate::ledger::verify_chain("m", &forged, forged.last().map(Entry::head).as_ref()).ok().flatten(),
            None
        );
        let failure = check_chain_against("m", &forged, &trusted);
        assert!(
            matches!(failure, Some(VerifyFailure { position: 3, problem: Problem::DigestMismatch { digest: 1 }, .. })),
            "{failure:?}"
        );
    }

    #[test]
    fn a_truncated_chain_fails_against_a_digest_that_recorded_more() {
        let entries = chain(4);
        let (trusted, _) = check_digests(&digests_of(&[4], &entries), signature_ok);
        let failure = check_chain_against("m", &entries[..2], &trusted);
        assert!(
            matches!(failure, Some(VerifyFailure { problem: Problem::DigestBeyond { digest: 1, seq: 4 }, .. })),
            "{failure:?}"
        );
        assert_eq!(recorded_chains(&trusted).get("m"), Some(&1));
    }

    #[test]
    fn edited_missing_or_unlinked_digests_are_named() {
        let entries = chain(4);
        let digests = digests_of(&[1, 2, 3, 4], &entries);
        // Edited after signing: the signature no longer holds, and its heads are not trusted.
        let mut edited = digests.clone();
        edited[1].document = edited[1].document.replace("\"number\":2", "\"number\":2 ");
        let (trusted, problems) = check_digests(&edited, signature_ok);
        assert_eq!(trusted.len(), 3);
        assert!(problems.iter().any(|p| p.to_string().contains("not signed by the pinned key")), "{problems:?}");
        // One removed from the middle.
        let gap = [digests[0].clone(), digests[2].clone(), digests[3].clone()];
        let (_, problems) = check_digests(&gap, signature_ok);
        assert!(problems.iter().any(|p| p.to_string().contains("digest 3 follows digest 1")), "{problems:?}");
        // Signed, numbered right, but linked to another history.
        let mut other = LedgerDigest::next(Some(&digests[2]), 1, Timestamp::MIN, "local:test", BTreeMap::new());
        other.written_at = Timestamp::from_millis(1_700_000_000_001).unwrap_or(Timestamp::MIN);
        let unlinked = [digests[0].clone(), sign(&other)];
        let (_, problems) = check_digests(&unlinked, signature_ok);
        assert!(problems.iter().any(|p| p.to_string().contains("does not name digest 1")), "{problems:?}");
        // None at all (deleted, or never written) is not a pass.
        let (_, problems) = check_digests(&[], signature_ok);
        assert!(problems.iter().any(|p| p.to_string().contains("no digest signed by the pinned key")), "{problems:?}");
        // A clean sequence has no problems.
        let (trusted, problems) = check_digests(&digests, signature_ok);
        assert_eq!((trusted.len(), problems.len()), (4, 0));
    }
}
