//! `warden ledger show|verify|export|init|schema`.

// The commands share the context in `commands` (the ledger, the policy, the output helpers).
use super::*;
use crate::backend::{AnyDigestSigner, AnyDigestStore};
use std::path::{Path, PathBuf};
use warden_app::anchor::{DigestKey, FolderStore, LastSigned, LocalSigningKey, verify_with_digests, write_digest};

pub async fn ledger_show(global: &Global, model: Option<&str>) -> CommandResult {
    let engine = engine(global).await?;
    let ledger = engine.ledger();
    let chains = match model {
        Some(id) => vec![id.to_owned()],
        None => ledger.chains().await?,
    };
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut shown = 0;
    let mut unreadable = Vec::new();
    for chain in &chains {
        let entries = match readable(ledger.entries(chain).await)? {
            Ok(entries) => entries,
            Err(error) => {
                unreadable.push(format!("chain {chain}: {error}"));
                continue;
            }
        };
        shown += entries.len();
        for entry in &entries {
            write_item(&mut out, global.json, entry, |out| output::entry_row(out, entry))?;
        }
    }
    out.flush()?;
    if !unreadable.is_empty() {
        return Err(Failure::Integrity(format!(
            "shown what could be read; these chains cannot be read (run `warden ledger verify`): {}",
            unreadable.join("; ")
        )));
    }
    if shown == 0 && !global.json {
        match model {
            Some(id) => eprintln!("no entries for model {id:?}"),
            None => eprintln!("the ledger ({}) is empty", describe_ledger(global)),
        }
    }
    Ok(0)
}

/// A read that failed on damaged data is the caller's to report (`Ok(Err)`); an unreachable ledger stops the
/// command.
fn readable<T>(
    result: Result<T, warden_core::ledger::LedgerError>,
) -> Result<Result<T, warden_core::ledger::LedgerError>, Failure> {
    match result {
        Err(error @ warden_core::ledger::LedgerError::Unavailable(_)) => Err(error.into()),
        other => Ok(other),
    }
}

pub async fn ledger_verify(global: &Global, anchors: Option<(&str, &Path)>) -> CommandResult {
    let mut signed_by = String::new();
    let key = match anchors {
        Some((digests, public_key)) => {
            let store = digest_store(digests).await?;
            // A pinned key the ledger's writers could replace pins nothing.
            refuse_inside(global, "the public key", public_key, local_folder(digests))?;
            let key = DigestKey::from_pem(&read_text(public_key)?)?;
            signed_by = format!(", signed by the key {}", key.fingerprint()?);
            Some((store, key))
        }
        None => None,
    };
    let engine = engine(global).await?;
    let report = match &key {
        Some((store, key)) => verify_with_digests(engine.ledger(), store, key).await?,
        None => verify(engine.ledger()).await?,
    };
    let anchored = match report.anchored_at {
        Some(at) => format!("; anchored by {} signed digests{signed_by}, the newest written {at}", report.digests),
        None => String::new(),
    };
    if global.json {
        println!("{}", serde_json::to_string(&report)?);
    } else if report.ok() {
        println!(
            "ledger verified: {} entries in {} chains, every hash and link intact{anchored}",
            report.entries, report.chains
        );
    } else {
        println!("ledger verification FAILED ({} entries in {} chains{anchored}):", report.entries, report.chains);
        for failure in &report.failures {
            println!("  {failure}");
        }
    }
    Ok(if report.ok() { 0 } else { EXIT_REJECTED })
}

/// A folder, or with the AWS build `s3://bucket/prefix`.
async fn digest_store(digests: &str) -> Result<AnyDigestStore, Failure> {
    if digests.starts_with("s3://") {
        #[cfg(feature = "aws")]
        {
            let (bucket, prefix) = warden_aws::anchor::S3DigestStore::parse_url(digests)
                .ok_or_else(|| Failure::Message(format!("{digests} is not an s3://bucket/prefix address")))?;
            let clients = warden_aws::clients::AwsClients::from_env().await;
            return Ok(AnyDigestStore::S3(clients.digest_store(&bucket, &prefix)));
        }
        #[cfg(not(feature = "aws"))]
        return Err(needs_aws("digests in S3"));
    }
    Ok(AnyDigestStore::Folder(FolderStore::new(Path::new(digests))))
}

fn local_folder(digests: &str) -> Option<&Path> {
    (!digests.starts_with("s3://")).then(|| Path::new(digests))
}

/// `warden ledger digest`: the next signed digest. A key file keeps the newest digest it signed beside it
/// (`FILE.last`), so deleting the newest digests is refused rather than papered over; with KMS and S3, Object Lock
/// keeps them.
pub async fn ledger_digest(
    global: &Global,
    key_path: Option<&Path>,
    kms_key: Option<&str>,
    digests: &str,
) -> CommandResult {
    let store = digest_store(digests).await?;
    if let Some(folder) = local_folder(digests) {
        refuse_inside(global, "the digest folder", folder, None)?;
    }
    let (signer, mark_path) = match (key_path, kms_key) {
        (Some(path), _) => {
            refuse_inside(global, "the signing key", path, local_folder(digests))?;
            let key = LocalSigningKey::from_pem(&read_text(path)?)?;
            (AnyDigestSigner::Local(key), Some(PathBuf::from(format!("{}.last", path.display()))))
        }
        #[cfg(feature = "aws")]
        (None, Some(kms_key)) => {
            let clients = warden_aws::clients::AwsClients::from_env().await;
            (AnyDigestSigner::Kms(clients.digest_signer(kms_key)), None)
        }
        #[cfg(not(feature = "aws"))]
        (None, Some(_)) => return Err(needs_aws("--kms-key")),
        (None, None) => return Err(Failure::Message("name a signing key: --key FILE or --kms-key KEY".into())),
    };
    let last_signed: Option<LastSigned> = match &mark_path {
        Some(mark_path) => match std::fs::read_to_string(mark_path) {
            Ok(text) => Some(serde_json::from_str(&text).map_err(|e| {
                Failure::Message(format!("{} is not this key's record of its last digest: {e}", mark_path.display()))
            })?),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => return Err(Failure::Message(format!("cannot read {}: {error}", mark_path.display()))),
        },
        None => None,
    };
    let engine = engine(global).await?;
    let (digest, mark) = write_digest(engine.ledger(), &signer, &store, last_signed.as_ref(), now()).await?;
    if let Some(mark_path) = &mark_path {
        let temporary = PathBuf::from(format!("{}.tmp", mark_path.display()));
        std::fs::write(&temporary, serde_json::to_string(&mark)?)
            .and_then(|()| std::fs::rename(&temporary, mark_path))
            .map_err(|e| {
                Failure::Message(format!(
                    "digest {} written, but {} not updated: {e}",
                    digest.number,
                    mark_path.display()
                ))
            })?;
    }
    if global.json {
        println!("{}", serde_json::to_string(&digest)?);
    } else {
        println!(
            "digest {} written to {digests}: {} chain heads, signed by {}",
            digest.number,
            digest.heads.len(),
            digest.key_id
        );
    }
    Ok(0)
}

/// `warden ledger digest-key --out FILE`: a new P-256 key pair, the private half readable by its owner only; with
/// `--kms-key`, the KMS key's public half only (to pin).
pub async fn ledger_digest_key(out: &Path, kms_key: Option<&str>) -> CommandResult {
    let public_path = PathBuf::from(format!("{}.pub", out.display()));
    if let Some(kms_key) = kms_key {
        #[cfg(feature = "aws")]
        {
            let clients = warden_aws::clients::AwsClients::from_env().await;
            let public = warden_app::anchor::DigestSigner::public_key(&clients.digest_signer(kms_key)).await?;
            write_new(&public_path, &public.to_pem()?, 0o644)?;
            println!("public key of {kms_key} written to {} ({})", public_path.display(), public.fingerprint()?);
            return Ok(0);
        }
        #[cfg(not(feature = "aws"))]
        {
            let _ = kms_key;
            return Err(needs_aws("--kms-key"));
        }
    }
    let key = LocalSigningKey::generate();
    write_new(out, &key.to_pem()?, 0o600)?;
    write_new(&public_path, &key.public().to_pem()?, 0o644)?;
    println!(
        "signing key written to {} (keep it away from the ledger: whoever reads it can sign a forged history); \
         public key to pin: {} ({})",
        out.display(),
        public_path.display(),
        key.public().fingerprint()?
    );
    Ok(0)
}

/// A key or digest folder inside the ledger folder (or a key inside the digest folder) would be rewritten along
/// with what it protects. Paths are resolved through symbolic links and `..` first.
fn refuse_inside(global: &Global, what: &str, path: &Path, digests: Option<&Path>) -> Result<(), Failure> {
    let path = resolved(path);
    let mut protected = vec![("the ledger folder", global.ledger.as_path())];
    if global.table.is_some() {
        protected.clear();
    }
    protected.extend(digests.map(|d| ("the digest folder", d)));
    for (name, folder) in protected {
        let folder_resolved = resolved(folder);
        if path.starts_with(&folder_resolved) {
            return Err(Failure::Message(format!(
                "{what} {} is inside {name} {}: keep it apart, or whoever can rewrite the one can rewrite the other",
                path.display(),
                folder.display()
            )));
        }
    }
    Ok(())
}

/// `path` made absolute, its existing part resolved through symbolic links and `..`.
fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = std::fs::canonicalize(existing) {
            return rest.iter().rev().fold(real, |acc, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

fn read_text(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::Message(format!("cannot read {}: {e}", path.display())))
}

fn write_new(path: &Path, text: &str, mode: u32) -> Result<(), Failure> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file =
        options.open(path).map_err(|e| Failure::Message(format!("cannot create {}: {e}", path.display())))?;
    file.write_all(text.as_bytes()).map_err(|e| Failure::Message(format!("cannot write {}: {e}", path.display())))
}

pub async fn ledger_export(global: &Global, filter: evidence::Filter, format: ExportFormat) -> CommandResult {
    let engine = engine(global).await?;
    let ledger = engine.ledger();
    let verification = verify(ledger).await?;
    let mut chains = Vec::new();
    for chain in ledger.chains().await? {
        // A chain that cannot be read is left out here and named by the verification below.
        if filter.model.as_ref().is_none_or(|m| *m == chain)
            && let Ok(entries) = readable(ledger.entries(&chain).await)?
        {
            chains.push((chain, entries));
        }
    }
    if let Some(model) = &filter.model
        && chains.is_empty()
    {
        return Err(Failure::Message(format!(
            "no chain for model {model:?} in the ledger ({})",
            describe_ledger(global)
        )));
    }
    let rows = evidence::rows(&chains, &verification, &filter);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        ExportFormat::Json => {
            let document = evidence::Export {
                generated_at: now(),
                ledger: describe_ledger(global),
                model: filter.model.as_deref(),
                since: filter.since,
                verification: &verification,
                verified: verification.ok(),
                entries: &rows,
            };
            serde_json::to_writer_pretty(&mut out, &document)?;
            writeln!(out)?;
        }
        ExportFormat::Csv => {
            writeln!(out, "{}", evidence::CSV_COLUMNS.join(","))?;
            for row in &rows {
                writeln!(out, "{}", row.to_csv())?;
            }
        }
    }
    out.flush()?;
    if !verification.ok() {
        eprintln!("warning: the ledger did not verify; rows of failing chains have chain_verified = false:");
        for failure in &verification.failures {
            eprintln!("  {failure}");
        }
        return Ok(EXIT_REJECTED);
    }
    Ok(0)
}

#[cfg(feature = "aws")]
pub async fn ledger_init(global: &Global) -> CommandResult {
    let Some(table) = &global.table else {
        return Err(Failure::Message("`ledger init` creates a DynamoDB table: name it with --table NAME".into()));
    };
    let ledger = DynamoLedger::from_env(table).await;
    if ledger.create_table().await? {
        println!("created ledger table {table}");
    } else {
        println!("ledger table {table} already exists");
    }
    Ok(0)
}

/// Moves a DynamoDB table to this version's layout. The embedded ledger has one layout: nothing to move.
#[cfg(feature = "aws")]
pub async fn ledger_migrate(global: &Global) -> CommandResult {
    let Some(table) = &global.table else {
        return Err(Failure::Message(
            "`ledger migrate` moves a DynamoDB table to this version's layout: name it with --table NAME (the \
             embedded ledger needs no migration)"
                .into(),
        ));
    };
    let migration = DynamoLedger::from_env(table).await.migrate().await?;
    if global.json {
        println!("{}", serde_json::to_string(&migration)?);
    } else if migration.from == migration.to {
        println!(
            "ledger table {table} is at layout {}: nothing to move; {} model lookups put again (any missing one is \
             restored)",
            migration.to, migration.lookups_written
        );
    } else {
        println!(
            "ledger table {table} moved from layout {} to {}: {} chain heads and {} models moved, {} model lookups \
             written, {} entries re-indexed (no entry rewritten)",
            migration.from,
            migration.to,
            migration.heads_moved,
            migration.models_moved,
            migration.lookups_written,
            migration.entries_reindexed
        );
    }
    Ok(0)
}

#[cfg(feature = "aws")]
pub fn ledger_schema() -> CommandResult {
    println!("{}", serde_json::to_string_pretty(&warden_aws::schema::table_definition())?);
    Ok(0)
}
