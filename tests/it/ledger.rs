//! The embedded ledger against the conformance suite, and the engine's idempotency over the bundled story.

use warden_app::conformance;
use warden_app::ingest::Engine;
use warden_app::ledger::{Ledger, verify};
use warden_core::action::RuleAction;
use warden_core::engine::Status;
use warden_core::inventory::InventoryFile;
use warden_core::ledger::{Actor, EntryBody};
use warden_core::policy::Policy;
use warden_core::time::Timestamp;
use warden_embedded::EmbeddedLedger;
use warden_tests::{events_dir, json_files, read};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("runtime: {e}"))
}

fn fresh() -> (tempfile::TempDir, EmbeddedLedger) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let ledger = EmbeddedLedger::open(dir.path()).unwrap_or_else(|e| panic!("open: {e}"));
    (dir, ledger)
}

#[test]
fn embedded_ledger_passes_the_conformance_suite() {
    let dirs = std::sync::Mutex::new(Vec::new());
    let failures = runtime().block_on(conformance::run(|| {
        let (dir, ledger) = fresh();
        if let Ok(mut dirs) = dirs.lock() {
            dirs.push(dir);
        }
        async move { ledger }
    }));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn in_memory_ledger_passes_the_conformance_suite() {
    let failures = runtime().block_on(conformance::run(|| async { EmbeddedLedger::in_memory().unwrap() }));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn now() -> Timestamp {
    Timestamp::now()
}

async fn engine_with_inventory(ledger: EmbeddedLedger) -> Engine<EmbeddedLedger> {
    let policy = Policy::builtin().unwrap_or_else(|e| panic!("{e}"));
    let engine = Engine::new(ledger, policy, Actor::Automation("test".into()));
    let text = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap_or_default();
    let file = InventoryFile::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    engine.import_inventory(&file, "sample", now()).await.unwrap_or_else(|e| panic!("{e}"));
    engine
}

#[test]
fn replaying_everything_twice_changes_nothing_and_reports_duplicates() {
    runtime().block_on(async {
        let (_dir, ledger) = fresh();
        let engine = engine_with_inventory(ledger).await;
        let mut files = warden_tests::event_files();
        files.extend(json_files(&warden_tests::invalid_dir()));
        let mut first = Vec::new();
        for file in &files {
            first.push(engine.ingest_bytes(&read(file), now()).await.unwrap_or_else(|e| panic!("{e}")));
        }
        let snapshot = dump(engine.ledger()).await;
        assert!(first.iter().any(|r| r.status == Status::Rejected), "invalid inputs are rejected");
        for (file, report) in files.iter().zip(&first) {
            let second = engine.ingest_bytes(&read(file), now()).await.unwrap_or_else(|e| panic!("{e}"));
            let expected = if report.status == Status::Rejected { Status::Rejected } else { Status::Duplicate };
            assert_eq!(second.status, expected, "{}", file.display());
            assert_eq!(
                (&second.models, second.alert, &second.actions),
                (&report.models, report.alert, &report.actions),
                "{}",
                file.display()
            );
        }
        assert_eq!(dump(engine.ledger()).await, snapshot, "the second pass must not change the ledger");
        let report = verify(engine.ledger()).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(report.ok(), "{report:?}");
        // A rejected input is recorded once, with a digest and never its body.
        let rejected: Vec<_> = warden_tests::unattributed_entries(engine.ledger())
            .await
            .into_iter()
            .filter(|e| matches!(e.entry.body, EntryBody::Rejected { .. }))
            .collect();
        assert_eq!(rejected.len(), json_files(&warden_tests::invalid_dir()).len());
    });
}

async fn dump(ledger: &EmbeddedLedger) -> String {
    let mut out = String::new();
    for chain in ledger.chains().await.unwrap_or_default() {
        for entry in ledger.entries(&chain).await.unwrap_or_default() {
            out.push_str(&serde_json::to_string(&entry).unwrap_or_default());
            out.push('\n');
        }
    }
    out.push_str(&serde_json::to_string(&ledger.inventory().await.unwrap_or_default()).unwrap_or_default());
    out
}

#[test]
fn a_repeated_finding_with_a_higher_count_is_applied_without_a_second_action() {
    runtime().block_on(async {
        let (_dir, ledger) = fresh();
        let engine = engine_with_inventory(ledger).await;
        let first =
            engine.ingest_bytes(&read(&events_dir().join("guardduty-finding-role-high-risk-cutoff.json")), now()).await;
        let first = first.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first.actions.iter().map(|a| a.kind).collect::<Vec<_>>(), [RuleAction::Cutoff]);
        let repeat = engine
            .ingest_bytes(&read(&events_dir().join("guardduty-finding-role-high-risk-repeat-count2.json")), now())
            .await;
        let repeat = repeat.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(repeat.status, Status::Applied, "a higher count is a new occurrence");
        assert!(repeat.actions.is_empty(), "no second action within the cooldown: {:?}", repeat.actions);
        assert!(repeat.skipped.iter().any(|s| s.reason.starts_with("cooldown")));
        let entries = engine.ledger().entries("fraud-detector").await.unwrap_or_default();
        let signals = entries.iter().filter(|e| matches!(e.entry.body, EntryBody::Signal { .. })).count();
        let actions = entries.iter().filter(|e| matches!(e.entry.body, EntryBody::Action { .. })).count();
        assert_eq!((signals, actions), (2, 1), "both occurrences recorded, one action");
    });
}

#[test]
fn a_macie_finding_opens_a_fact_that_gates_a_later_approval() {
    runtime().block_on(async {
        let (_dir, ledger) = fresh();
        let engine = engine_with_inventory(ledger).await;
        let approval = read(&events_dir().join("sagemaker-model-package-approved-open-data-finding-gate.json"));
        let macie = read(&events_dir().join("macie-finding-sensitive-data-training-bucket-gate.json"));
        engine.ingest_bytes(&macie, now()).await.unwrap_or_else(|e| panic!("{e}"));
        let gated = engine.ingest_bytes(&approval, now()).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(gated.actions.iter().map(|a| a.kind).collect::<Vec<_>>(), [RuleAction::Gate], "{gated:?}");
    });
}

#[test]
fn inventory_is_kept_current_from_sagemaker_events() {
    runtime().block_on(async {
        let (_dir, ledger) = fresh();
        let engine = engine_with_inventory(ledger).await;
        for fixture in [
            "sagemaker-endpoint-inservice-tagged-new-model.json",
            "sagemaker-training-job-completed-records-lineage.json",
            "sagemaker-model-package-rejected.json",
            "cloudwatch-drift-alarm-high-risk-rollback.json",
        ] {
            engine.ingest_bytes(&read(&events_dir().join(fixture)), now()).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let inventory = engine.ledger().inventory().await.unwrap_or_else(|e| panic!("{e}"));
        let doc = inventory.get("doc-classifier").unwrap_or_else(|| panic!("tagged endpoint registers its model"));
        assert_eq!((doc.risk.map(|r| r.as_str()), doc.owner.as_deref()), (Some("low"), Some("docs-ml-team")));
        assert_eq!(
            doc.endpoint("doc-classifier-prod").and_then(|e| e.current_config.as_deref()),
            Some("doc-classifier-cfg-v1")
        );
        let churn = inventory.get("churn-predictor").unwrap_or_else(|| panic!("churn"));
        assert!(churn.data_buckets.contains("churn-feature-store"), "training lineage: {:?}", churn.data_buckets);
        assert!(churn.roles.iter().any(|r| r.ends_with("role/churn-sagemaker-exec")));
        assert_eq!(churn.package_versions.len(), 1);
        let credit = inventory.get("credit-scoring").unwrap_or_else(|| panic!("credit"));
        let endpoint = credit.endpoint("credit-scoring-prod").unwrap_or_else(|| panic!("endpoint"));
        assert!(
            endpoint.history.iter().any(|d| d.config == "credit-cfg-v2" && d.suspect),
            "rolled-back config is suspect"
        );
    });
}

#[test]
fn a_ledger_in_use_is_reported_as_retryable() {
    let (dir, _ledger) = fresh();
    match EmbeddedLedger::open(dir.path()) {
        Err(error) => assert!(error.is_retryable(), "{error}"),
        Ok(_) => panic!("a second open of the same ledger must fail"),
    }
}

#[test]
fn a_repeated_finding_pages_again_only_when_its_severity_rises() {
    runtime().block_on(async {
        let (_dir, ledger) = fresh();
        let engine = engine_with_inventory(ledger).await;
        let first = read(&events_dir().join("guardduty-finding-s3-bucket-medium-risk-alert.json"));
        let mut repeat: serde_json::Value = serde_json::from_slice(&first).unwrap();
        repeat["detail"]["service"]["count"] = serde_json::Value::from(2);
        repeat["detail"]["updatedAt"] = serde_json::Value::from("2026-11-02T10:30:00.000Z");
        let mut risen = repeat.clone();
        risen["detail"]["service"]["count"] = serde_json::Value::from(3);
        risen["detail"]["updatedAt"] = serde_json::Value::from("2026-11-02T10:45:00.000Z");
        risen["detail"]["severity"] = serde_json::Value::from(9.0);

        let pages: Vec<(bool, Option<&str>)> = {
            let mut pages = Vec::new();
            for body in [first.clone(), serde_json::to_vec(&repeat).unwrap(), serde_json::to_vec(&risen).unwrap()] {
                let report = engine.ingest_bytes(&body, now()).await.unwrap();
                assert_eq!(report.status, Status::Applied);
                pages.push((report.notify, report.alert.map(|a| a.as_str())));
            }
            pages
        };
        assert_eq!(
            pages,
            [(true, Some("high")), (false, Some("high")), (true, Some("high"))],
            "severity 7.5 -> 7.5 -> 9: {pages:?}"
        );
        // Every occurrence is still recorded.
        let signals = warden_tests::signal_count(engine.ledger(), "churn-predictor").await;
        assert_eq!(signals, 3);
    });
}

/// An inventory of 10,000 models imports, reads back and verifies on the embedded ledger; importing it again
/// changes nothing.
#[test]
fn ten_thousand_models_import_read_back_and_verify() {
    runtime().block_on(async {
        let engine = Engine::new(
            EmbeddedLedger::in_memory().unwrap(),
            Policy::builtin().unwrap(),
            Actor::Automation("test".into()),
        );
        let file = warden_tests::generated_inventory(10_000);
        let first = engine.import_inventory(&file, "generated", now()).await.unwrap();
        assert_eq!((first.changed.len(), first.models), (10_000, 10_000));
        assert_eq!(engine.ledger().inventory().await.unwrap().len(), 10_000);
        let again = engine.import_inventory(&file, "generated", now()).await.unwrap();
        assert!(again.changed.is_empty());
        let report = verify(engine.ledger()).await.unwrap();
        assert!(report.ok() && report.chains == 10_000, "{:?}", report.failures.first());
    });
}

/// Someone with the ledger file deletes a chain's head (or moves it back): `verify` reports it, and the next event
/// for the model chains onto the last entry instead of writing over entry 1 (which it used to do, erasing the
/// chain's history); a head moved back makes the commit fail, writing nothing.
#[test]
fn a_deleted_or_moved_back_head_never_lets_an_append_overwrite_history() {
    use warden_embedded::tables::HEADS;
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let engine = |dir: &std::path::Path| {
            Engine::new(
                EmbeddedLedger::open(dir).unwrap(),
                Policy::builtin().unwrap(),
                Actor::Automation("test".into()),
            )
        };
        let first = {
            let engine = engine(dir.path());
            let text = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap();
            engine.import_inventory(&InventoryFile::parse(&text).unwrap(), "sample", Timestamp::now()).await.unwrap();
            engine
                .ingest_bytes(
                    &read(&events_dir().join("guardduty-finding-role-high-risk-cutoff.json")),
                    Timestamp::now(),
                )
                .await
                .unwrap();
            engine.ledger().entries("fraud-detector").await.unwrap()
        };
        let edit_head = |value: Option<&[u8]>| {
            let db = redb::Database::open(dir.path().join("ledger.redb")).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut heads = txn.open_table(HEADS).unwrap();
                match value {
                    Some(bytes) => heads.insert("fraud-detector", bytes).map(|_| ()).unwrap(),
                    None => heads.remove("fraud-detector").map(|_| ()).unwrap(),
                }
            }
            txn.commit().unwrap();
        };
        edit_head(None);
        let engine_after = engine(dir.path());
        let report = verify(engine_after.ledger()).await.unwrap();
        assert!(report.failures.iter().any(|f| f.chain == "fraud-detector"), "{report:?}");
        let deployment = {
            let mut event: serde_json::Value =
                serde_json::from_slice(&read(&events_dir().join("sagemaker-endpoint-inservice-records-config.json")))
                    .unwrap();
            event["detail"]["EndpointName"] = "fraud-detector-prod".into();
            event["detail"]["EndpointArn"] =
                "arn:aws:sagemaker:us-east-1:111122223333:endpoint/fraud-detector-prod".into();
            event
        };
        let applied = engine_after
            .ingest_value(deployment.clone(), deployment.to_string().as_bytes(), Timestamp::now())
            .await
            .unwrap();
        assert_eq!(applied.status, Status::Applied);
        let now_stored = engine_after.ledger().entries("fraud-detector").await.unwrap();
        assert_eq!(&now_stored[..first.len()], &first[..], "history kept");
        assert!(now_stored.len() > first.len());
        assert!(verify(engine_after.ledger()).await.unwrap().ok());
        drop(engine_after);

        // A head moved back to entry 1: the next append would land on entry 2; it fails and writes nothing.
        let back = serde_json::to_vec(&first[0].head()).unwrap();
        edit_head(Some(&back));
        let engine_back = engine(dir.path());
        let mut finding: serde_json::Value =
            serde_json::from_slice(&read(&events_dir().join("guardduty-finding-role-high-risk-cutoff.json"))).unwrap();
        finding["detail"]["id"] = "another-finding-on-the-same-role".into();
        let error = engine_back.ingest_value(finding.clone(), finding.to_string().as_bytes(), Timestamp::now()).await;
        let error = error.expect_err("the append must fail, not overwrite entry 2").to_string();
        assert!(error.contains("already holds an entry at 2"), "{error}");
        let stored = engine_back.ledger().entries("fraud-detector").await.unwrap();
        assert_eq!(stored, now_stored, "nothing overwritten");
    });
}

/// Deleting an event's idempotency marker (so that a replay would apply the event again) is caught by `verify`, which
/// names the event and where its entries are (it said "intact" before).
/// An embedded ledger in `dir` with the sample inventory and one GuardDuty finding that plans a cutoff, verified;
/// the finding's idempotency key. The ledger is closed again.
async fn ledger_with_one_cutoff(dir: &std::path::Path) -> String {
    let engine =
        Engine::new(EmbeddedLedger::open(dir).unwrap(), Policy::builtin().unwrap(), Actor::Automation("test".into()));
    let text = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap();
    engine.import_inventory(&InventoryFile::parse(&text).unwrap(), "sample", Timestamp::now()).await.unwrap();
    let event = read(&events_dir().join("guardduty-finding-role-high-risk-cutoff.json"));
    let report = engine.ingest_bytes(&event, Timestamp::now()).await.unwrap();
    assert!(verify(engine.ledger()).await.unwrap().ok());
    report.idempotency_key
}

#[test]
fn a_deleted_marker_is_caught_by_verify() {
    use warden_embedded::tables::MARKERS;
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let key = ledger_with_one_cutoff(dir.path()).await;
        {
            let db = redb::Database::open(dir.path().join("ledger.redb")).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(MARKERS).unwrap().remove(key.as_str()).unwrap();
            txn.commit().unwrap();
        }
        let engine = Engine::new(
            EmbeddedLedger::open(dir.path()).unwrap(),
            Policy::builtin().unwrap(),
            Actor::Automation("test".into()),
        );
        let report = verify(engine.ledger()).await.unwrap();
        assert_eq!(report.failures.len(), 1, "{report:?}");
        assert_eq!(report.failures[0].chain, "fraud-detector");
        assert!(
            report.failures[0].to_string().contains(&format!("event {key}, whose idempotency marker is missing")),
            "{}",
            report.failures[0]
        );
    });
}

/// A marker whose outcome was edited by hand (its planned cutoff taken out, so a redelivery would not request it)
/// is caught; effects delivered since are no edit.
#[test]
fn an_edited_marker_is_caught_by_verify() {
    use redb::ReadableTable;
    use warden_embedded::tables::MARKERS;
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let key = ledger_with_one_cutoff(dir.path()).await;
        {
            let ledger = EmbeddedLedger::open(dir.path()).unwrap();
            ledger.mark_delivered(&key, "bus").await.unwrap();
            assert!(verify(&ledger).await.unwrap().ok(), "a delivered effect is no edit");
        }
        {
            let db = redb::Database::open(dir.path().join("ledger.redb")).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut markers = txn.open_table(MARKERS).unwrap();
                let stored = markers.get(key.as_str()).unwrap().unwrap().value().to_vec();
                let mut outcome: serde_json::Value = serde_json::from_slice(&stored).unwrap();
                assert!(outcome["actions"].as_array().is_some_and(|a| !a.is_empty()), "{outcome}");
                outcome["actions"] = serde_json::json!([]);
                markers.insert(key.as_str(), serde_json::to_vec(&outcome).unwrap().as_slice()).unwrap();
            }
            txn.commit().unwrap();
        }
        let ledger = EmbeddedLedger::open(dir.path()).unwrap();
        let report = verify(&ledger).await.unwrap();
        assert_eq!(report.failures.len(), 1, "{report:?}");
        let edited = warden_core::ledger::StateSeal::marker_item(&key);
        assert!(
            matches!(&report.failures[0].problem, warden_core::ledger::Problem::StateEdited { item } if *item == edited)
        );
    });
}

/// Editing a model's inventory record outside Warden (risk high -> low, which disables a cutoff) or deleting it is
/// caught by `verify`: each record must be what its chain last committed to (both passed verify before).
#[test]
fn an_edited_or_deleted_model_record_is_caught_by_verify() {
    use redb::ReadableTable;
    use warden_embedded::tables::MODELS;
    runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let open = |dir: &std::path::Path| {
            Engine::new(
                EmbeddedLedger::open(dir).unwrap(),
                Policy::builtin().unwrap(),
                Actor::Automation("test".into()),
            )
        };
        {
            let engine = open(dir.path());
            let text = std::fs::read_to_string(events_dir().join("inventory.toml")).unwrap();
            engine.import_inventory(&InventoryFile::parse(&text).unwrap(), "sample", Timestamp::now()).await.unwrap();
            engine
                .ingest_bytes(
                    &read(&events_dir().join("sagemaker-endpoint-inservice-records-config.json")),
                    Timestamp::now(),
                )
                .await
                .unwrap();
            assert!(verify(engine.ledger()).await.unwrap().ok());
        }
        {
            let db = redb::Database::open(dir.path().join("ledger.redb")).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut models = txn.open_table(MODELS).unwrap();
                let bytes = models.get("fraud-detector").unwrap().unwrap().value().to_vec();
                let edited = String::from_utf8(bytes).unwrap().replace("\"high\"", "\"low\"");
                models.insert("fraud-detector", edited.as_bytes()).unwrap();
                models.remove("credit-scoring").unwrap();
            }
            txn.commit().unwrap();
        }
        let engine = open(dir.path());
        let report = verify(engine.ledger()).await.unwrap();
        let text: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
        assert_eq!(report.failures.len(), 2, "{text:?}");
        assert!(text.iter().any(|t| t.contains("model:fraud-detector differs from what entry")), "{text:?}");
        assert!(text.iter().any(|t| t.contains("model:credit-scoring, set by entry")), "{text:?}");
    });
}

/// Group commit (a replay's): reads see the open group's commits, so the same suite passes.
#[test]
fn grouped_commits_pass_the_conformance_suite() {
    let failures = runtime().block_on(conformance::run(|| async {
        let ledger = EmbeddedLedger::in_memory().unwrap();
        ledger.set_group_commit(64);
        ledger
    }));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A commit refused inside a group (a record at another version, a duplicate) writes nothing and costs the
/// group's other commits nothing; closing the ledger keeps them all.
#[test]
fn a_refused_commit_in_a_group_leaves_the_others_whole() {
    use warden_core::ledger::{CommitOutcome, RecordWrite};
    let dir = tempfile::tempdir().unwrap();
    runtime().block_on(async {
        let ledger = EmbeddedLedger::open(dir.path()).unwrap();
        ledger.set_group_commit(1_000);
        let first = ledger.commit(conformance::sample_commit("first", &["model-a"], 2)).await.unwrap();
        assert!(matches!(first, CommitOutcome::Committed { .. }));
        let mut refused = conformance::sample_commit("refused", &["model-a", "model-b"], 1);
        refused.records.push(RecordWrite {
            key: "lock#endpoint".into(),
            expected: Some(7),
            value: Some(serde_json::json!({"holder": "x"})),
        });
        let error = ledger.commit(refused).await.unwrap_err();
        assert!(error.to_string().contains("version"), "{error}");
        let again = ledger.commit(conformance::sample_commit("first", &["model-a"], 2)).await.unwrap();
        assert!(matches!(again, CommitOutcome::Duplicate { .. }));
        let last = ledger.commit(conformance::sample_commit("last", &["model-a"], 1)).await.unwrap();
        assert!(matches!(last, CommitOutcome::Committed { ref entries } if entries[0].seq == 3), "{last:?}");
    });
    // Dropping the ledger commits the open group; a new process reads it all back.
    runtime().block_on(async {
        let ledger = EmbeddedLedger::open(dir.path()).unwrap();
        assert_eq!(ledger.chains().await.unwrap(), ["model-a"], "model-b got nothing");
        assert_eq!(ledger.entries("model-a").await.unwrap().len(), 3);
        assert!(ledger.outcome("refused").await.unwrap().is_none());
        assert!(ledger.records(&["lock#endpoint".into()]).await.unwrap().is_empty());
        let report = verify(&ledger).await.unwrap();
        assert!(report.ok(), "{report:?}");
    });
}

/// A ledger whose records change right after verify walked the chains: another writer committing meanwhile.
struct WriterDuringVerify {
    inner: EmbeddedLedger,
    pending: std::sync::Mutex<Option<warden_core::ledger::Commit>>,
}

impl Ledger for WriterDuringVerify {
    async fn commit(
        &self,
        commit: warden_core::ledger::Commit,
    ) -> Result<warden_core::ledger::CommitOutcome, warden_core::ledger::LedgerError> {
        self.inner.commit(commit).await
    }
    async fn inventory(&self) -> Result<warden_core::inventory::Inventory, warden_core::ledger::LedgerError> {
        self.inner.inventory().await
    }
    async fn facts(
        &self,
        query: &warden_core::ledger::FactQuery,
    ) -> Result<warden_core::policy::DecisionContext, warden_core::ledger::LedgerError> {
        self.inner.facts(query).await
    }
    async fn chains(&self) -> Result<Vec<String>, warden_core::ledger::LedgerError> {
        self.inner.chains().await
    }
    async fn entries(&self, chain: &str) -> Result<Vec<warden_core::ledger::Entry>, warden_core::ledger::LedgerError> {
        self.inner.entries(chain).await
    }
    async fn head(&self, chain: &str) -> Result<Option<warden_core::ledger::Head>, warden_core::ledger::LedgerError> {
        self.inner.head(chain).await
    }
    async fn mark_delivered(&self, key: &str, effect: &str) -> Result<(), warden_core::ledger::LedgerError> {
        self.inner.mark_delivered(key, effect).await
    }
    /// The other writer commits just before the records are read.
    async fn records(
        &self,
        keys: &[String],
    ) -> Result<std::collections::BTreeMap<String, warden_core::ledger::Record>, warden_core::ledger::LedgerError> {
        let pending = self.pending.lock().unwrap().take();
        if let Some(commit) = pending {
            self.inner.commit(commit).await?;
        }
        self.inner.records(keys).await
    }
    async fn outcome(
        &self,
        key: &str,
    ) -> Result<Option<warden_core::ledger::EventOutcome>, warden_core::ledger::LedgerError> {
        self.inner.outcome(key).await
    }
    async fn audit_state(
        &self,
        sealed_marks: &std::collections::BTreeSet<warden_core::ledger::MarkItem>,
    ) -> Result<warden_core::ledger::StateAudit, warden_core::ledger::LedgerError> {
        self.inner.audit_state(sealed_marks).await
    }
    async fn stored_marks(
        &self,
        items: &[warden_core::ledger::MarkItem],
    ) -> Result<
        std::collections::BTreeMap<warden_core::ledger::MarkItem, warden_core::ledger::StateSeal>,
        warden_core::ledger::LedgerError,
    > {
        self.inner.stored_marks(items).await
    }
}

/// Records change while verify runs (a break-glass step commits after its chain was walked): verify takes in what
/// was appended meanwhile instead of calling the newer record edited.
#[test]
fn a_record_written_while_verify_runs_is_not_called_edited() {
    use warden_core::ledger::{Commit, RecordWrite};
    runtime().block_on(async {
        let inner = EmbeddedLedger::in_memory().unwrap();
        let write = |key: &str, expected: Option<u64>, holder: &str| Commit {
            records: vec![RecordWrite {
                key: "window#_account".into(),
                expected,
                value: Some(serde_json::json!({"actions": holder})),
            }],
            ..conformance::sample_commit(key, &["_warden"], 1)
        };
        inner.commit(write("w1", None, "1")).await.unwrap();
        let ledger = WriterDuringVerify { inner, pending: std::sync::Mutex::new(Some(write("w2", Some(1), "2"))) };
        let report = verify(&ledger).await.unwrap();
        assert!(report.ok(), "{report:?}");
        assert_eq!(ledger.records(&["window#_account".into()]).await.unwrap()["window#_account"].version, 2);
    });
}
