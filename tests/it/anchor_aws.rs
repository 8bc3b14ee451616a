//! Signed digests on AWS: a KMS key (`ECC_NIST_P256`, on moto with KMS's documented `MessageType=DIGEST`, see
//! `tools/emulators/moto_ext.py`) signs, an S3 bucket with Object Lock keeps, and the DynamoDB ledger is checked
//! against them with the key's public half, as an auditor pins it from `GetPublicKey`.

use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use warden_app::anchor::{DigestSigner, DigestStore, LocalSigningKey, verify_with_digests, write_digest};
use warden_app::conformance::{Tamper, sample_commit};
use warden_app::ledger::{Ledger, verify};
use warden_aws::anchor::{KmsSigner, S3DigestStore};
use warden_core::anchor::SignedDigest;
use warden_core::ledger::{Entry, LedgerError, Problem};
use warden_core::time::Timestamp;
use warden_tests::{fresh_dynamo_ledger, moto_config, unique};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("runtime: {e}"))
}

async fn kms_key(kms: &aws_sdk_kms::Client) -> String {
    let created = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateKey: {e}"));
    created.key_metadata().map(|m| m.arn().unwrap_or_default().to_owned()).unwrap_or_default()
}

async fn locked_bucket(s3: &aws_sdk_s3::Client) -> String {
    let bucket = unique("warden-digests");
    s3.create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateBucket: {e}"));
    bucket
}

#[test]
fn kms_signed_digests_in_s3_catch_a_rewrite_of_the_dynamodb_ledger() {
    runtime().block_on(async {
        let config = moto_config();
        let kms = aws_sdk_kms::Client::new(&config);
        let s3 =
            aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
        let signer = KmsSigner::new(kms.clone(), kms_key(&kms).await);
        let bucket = locked_bucket(&s3).await;
        let store = S3DigestStore::new(s3.clone(), bucket.clone(), "ledger/prod/");
        let ledger = fresh_dynamo_ledger("digests").await;
        let at = |s: i64| Timestamp::from_millis(1_780_000_000_000 + s * 1000).unwrap_or(Timestamp::MIN);

        // Three digests as the ledger grows, each linked to the one before, in order from S3.
        let mut last = None;
        for round in 0..3_u64 {
            let key = format!("event-{round}");
            ledger.commit(sample_commit(&key, &["fraud-detector", "credit-scoring"], 2)).await.unwrap();
            let (digest, mark) =
                write_digest(&ledger, &signer, &store, last.as_ref(), at(i64::try_from(round).unwrap())).await.unwrap();
            assert_eq!(digest.number, round + 1);
            assert_eq!(digest.heads["fraud-detector"].seq, 2 * (round + 1));
            last = Some(mark);
        }
        assert_eq!(store.list().await.unwrap().len(), 3);
        // What an auditor pins: the KMS key's public half.
        let pinned = signer.public_key().await.unwrap();
        let clean = verify_with_digests(&ledger, &store, &pinned).await.unwrap();
        assert!(clean.ok() && clean.digests == 3, "{clean:?}");

        // A digest is never written over another.
        let stored = store.list().await.unwrap();
        let overwrite = store.put(2, &stored[0]).await;
        assert!(matches!(overwrite, Err(LedgerError::Conflict(_))), "{overwrite:?}");

        // A plain put over digest 2 (a second version) and a delete marker on digest 3 neither replace nor hide
        // them: digests are read from the version first written, which Object Lock keeps.
        s3.put_object()
            .bucket(&bucket)
            .key("ledger/prod/digest-000002.json")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(br#"{"document":"{}","signature":""}"#))
            .send()
            .await
            .unwrap();
        s3.delete_object().bucket(&bucket).key("ledger/prod/digest-000003.json").send().await.unwrap();
        let kept = verify_with_digests(&ledger, &store, &pinned).await.unwrap();
        assert!(kept.ok() && kept.digests == 3, "{kept:?}");
        assert_eq!(store.last().await.unwrap().as_ref(), stored.last(), "the newest is still digest 3");

        // The insider rewrites fraud-detector's entry 3 and recomputes every hash and the head after it.
        let entries = ledger.entries("fraud-detector").await.unwrap();
        let mut previous = Some(entries[1].head());
        for stored in &entries[2..] {
            let mut forged = stored.entry.clone();
            if stored.seq == 3 {
                forged.reason = "approved by the risk committee".into();
            }
            let sealed = Entry::seal(forged, previous.as_ref()).unwrap();
            ledger.overwrite_entry("fraud-detector", sealed.seq, Some(&sealed)).await.unwrap();
            previous = Some(sealed.head());
        }
        ledger.overwrite_head("fraud-detector", &previous.unwrap()).await.unwrap();
        assert!(verify(&ledger).await.unwrap().ok(), "the chain alone cannot see it");
        let caught = verify_with_digests(&ledger, &store, &pinned).await.unwrap();
        let named: Vec<_> = caught.failures.iter().filter(|f| f.chain == "fraud-detector").collect();
        assert!(
            named.iter().any(|f| matches!(f.problem, Problem::DigestMismatch { digest: 2 })),
            "digest 2 recorded entry 4, rewritten since: {caught:?}"
        );
        // The KMS signer refuses to sign over it.
        let refused = write_digest(&ledger, &signer, &store, last.as_ref(), at(10)).await;
        assert!(matches!(&refused, Err(LedgerError::Invalid(m)) if m.contains("no longer ends where")), "{refused:?}");

        // A digest signed with any other key, added to the bucket, is named as forged.
        let other = LocalSigningKey::generate();
        let document = r#"{"forged":true}"#.to_owned();
        let signature = other.sign(document.as_bytes()).await.unwrap();
        store.put(4, &SignedDigest { document, signature: hex::encode(signature) }).await.unwrap();
        let forged = verify_with_digests(&ledger, &store, &pinned).await.unwrap();
        assert!(forged.failures.iter().any(|f| f.to_string().contains("not signed by the pinned key")), "{forged:?}");
    });
}
