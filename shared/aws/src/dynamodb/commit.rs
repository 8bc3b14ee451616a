//! The commit path: one `TransactWriteItems` per commit, with the conditions that make it atomic and tell a
//! duplicate from a conflict.

// The adapter's own vocabulary (SDK types, schema, the ledger model) is the parent module's.
use super::*;

impl DynamoLedger {
    pub(super) fn put(&self, item: Item, condition: Condition) -> Result<TransactWriteItem, LedgerError> {
        let put = Put::builder().table_name(&self.table).set_item(Some(item));
        let put = match condition {
            Condition::Always => put,
            Condition::New => {
                put.condition_expression("attribute_not_exists(#pk)").expression_attribute_names("#pk", PK)
            }
            Condition::Equals(attribute, value) => put
                .condition_expression("#attr = :expected")
                .expression_attribute_names("#attr", attribute)
                .expression_attribute_values(":expected", value),
        };
        Ok(TransactWriteItem::builder().put(put.build().map_err(build_error)?).build())
    }

    fn commit_items(
        &self,
        commit: &Commit,
        sealed: &[Entry],
        heads: &BTreeMap<String, Option<Head>>,
        marks: &[MarkWrite],
        models: &[&Model],
    ) -> Result<Vec<TransactWriteItem>, LedgerError> {
        let mut items = Vec::new();
        let mut marker = key(schema::marker_pk(&commit.idempotency_key), schema::MARKER_SK);
        marker.insert("outcome".into(), s(to_json(&commit.outcome)?));
        items.push(self.put(marker, Condition::New)?);
        // One item per chain for this event's entries on it (sealed in chain order, consecutive per chain).
        let mut by_chain: BTreeMap<&str, Vec<Entry>> = BTreeMap::new();
        for entry in sealed {
            by_chain.entry(entry.chain()).or_default().push(entry.clone());
        }
        for entries in by_chain.values() {
            items.push(self.put(Self::entries_item(entries)?, Condition::New)?);
        }
        let mut new_heads: BTreeMap<&str, Head> = BTreeMap::new();
        for entry in sealed {
            new_heads.insert(entry.chain(), entry.head());
        }
        for (chain, head) in new_heads {
            let mut item = key(schema::chain_pk(chain), schema::HEAD_SK);
            item.insert("seq".into(), n(head.seq));
            item.insert("hash".into(), s(head.hash));
            // The head must still be the one we chained to: another writer may have moved it.
            let condition = match heads.get(chain).and_then(Option::as_ref) {
                None => Condition::New,
                Some(previous) => Condition::Equals("hash", s(previous.hash.clone())),
            };
            items.push(self.put(item, condition)?);
        }
        for model in models {
            let mut item = super::inventory::model_key(&model.id);
            item.insert("model".into(), s(to_json(model)?));
            items.push(self.put(item, Condition::Always)?);
        }
        for mark in marks {
            if mark.previous.is_some_and(|p| p >= mark.at) {
                continue; // a newer mark is already there
            }
            let mut item = mark.key.clone();
            item.insert("at".into(), n(mark.at));
            item.extend(mark.extra.iter().map(|(k, v)| (k.clone(), v.clone())));
            // The mark must still hold what we read: a concurrent writer may have moved it.
            let condition = match mark.previous {
                None => Condition::New,
                Some(p) => Condition::Equals("at", n(p)),
            };
            items.push(self.put(item, condition)?);
        }
        let mut findings: BTreeMap<(&str, &str), bool> = BTreeMap::new();
        for mark in &commit.findings {
            findings.insert((mark.model_id.as_str(), mark.finding_id.as_str()), mark.open);
        }
        for ((model, finding), open) in findings {
            let item_key = key(schema::findings_pk(model), schema::finding_sk(finding));
            items.push(if open {
                self.put(item_key, Condition::Always)?
            } else {
                let delete =
                    Delete::builder().table_name(&self.table).set_key(Some(item_key)).build().map_err(build_error)?;
                TransactWriteItem::builder().delete(delete).build()
            });
        }
        for write in &commit.records {
            items.push(self.record_write(write)?);
        }
        if items.len() > MAX_TRANSACTION_ITEMS {
            return Err(LedgerError::Invalid(format!(
                "one event would write {} items; a DynamoDB transaction takes at most {MAX_TRANSACTION_ITEMS}",
                items.len()
            )));
        }
        Ok(items)
    }

    /// The head a chain's last stored entry gives (`None` for a chain with no entries).
    async fn last_entry_head(&self, chain: &str) -> Result<Option<Head>, LedgerError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .consistent_read(true)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :entry)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(schema::chain_pk(chain)))
            .expression_attribute_values(":entry", s("ENTRY#"))
            .scan_index_forward(false)
            .limit(1)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| sdk_error("Query", &self.table, e))?;
        self.stats.read(output.consumed_capacity());
        let last = output.items.unwrap_or_default().first().map(entries_of).transpose()?;
        let head = last.and_then(|entries| entries.last().map(Entry::head));
        if head.is_some() {
            tracing::warn!(chain, "the chain has entries but no head item: chained onto its last entry");
        }
        Ok(head)
    }

    pub(super) async fn read_head(&self, chain: &str) -> Result<Option<Head>, LedgerError> {
        match self.get(key(schema::chain_pk(chain), schema::HEAD_SK)).await? {
            Some(item) => Ok(Some(head_of(&item)?)),
            None => Ok(None),
        }
    }

    /// Reads items by key, in batches of at most [`MAX_BATCH_GET_KEYS`] (BatchGetItem's limit), retrying what
    /// DynamoDB leaves unprocessed.
    pub(super) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, LedgerError> {
        let mut found = Vec::new();
        for batch in keys.chunks(MAX_BATCH_GET_KEYS) {
            found.extend(self.batch_get_one(batch.to_vec()).await?);
        }
        Ok(found)
    }

    async fn batch_get_one(&self, keys: Vec<Item>) -> Result<Vec<Item>, LedgerError> {
        for item_key in &keys {
            self.count(item_key, false);
        }
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = Vec::new();
        let mut pending = keys;
        for attempt in 0..8_u32 {
            if pending.is_empty() {
                return Ok(found);
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(true)
                .build()
                .map_err(build_error)?;
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", &self.table, e))?;
            self.stats.read(output.consumed_capacity().first());
            found.extend(output.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default());
            pending =
                output.unprocessed_keys.and_then(|mut u| u.remove(&self.table)).map(|k| k.keys).unwrap_or_default();
            if !pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(5 << attempt)).await;
            }
        }
        Err(LedgerError::Unavailable(format!("BatchGetItem left {} keys unprocessed", pending.len())))
    }

    pub(super) async fn read_mark(&self, target: &str) -> Result<Option<i64>, LedgerError> {
        match self.get(key(schema::target_pk(target), schema::LAST_ACTION_SK)).await? {
            Some(item) => Ok(Some(number(&item, "at")?)),
            None => Ok(None),
        }
    }

    pub(super) async fn commit_once(&self, mut commit: Commit) -> Result<CommitOutcome, LedgerError> {
        if commit.idempotency_key.is_empty() {
            return Err(LedgerError::Invalid("empty idempotency key".into()));
        }
        commit.seal_state()?;
        // Newest wins, per mark item, within the commit and against what is stored.
        let mut newest: BTreeMap<(String, &'static str), MarkWrite> = BTreeMap::new();
        let mut propose = |pk: String, sk: &'static str, at: Timestamp, extra: Vec<(String, AttributeValue)>| {
            let mark = MarkWrite { key: key(pk.clone(), sk), at: at.millis(), extra, previous: None };
            match newest.get(&(pk.clone(), sk)) {
                Some(existing) if existing.at >= mark.at => {}
                _ => {
                    newest.insert((pk, sk), mark);
                }
            }
        };
        for (target, at) in &commit.action_marks {
            propose(schema::target_pk(target), schema::LAST_ACTION_SK, *at, Vec::new());
        }
        for (alert_key, level, at) in &commit.alert_marks {
            propose(
                schema::alert_pk(alert_key),
                schema::LAST_ALERT_SK,
                *at,
                vec![("level".to_owned(), s(level.as_str()))],
            );
        }
        let mut marks: Vec<MarkWrite> = newest.into_values().collect();
        let chains: std::collections::BTreeSet<&str> = commit.entries.iter().map(|e| e.chain.as_str()).collect();
        // One strongly consistent read for every head and mark the transaction is conditioned on: the shorter
        // the gap between this read and the write, the fewer conflicts under concurrent writers. So are the stored
        // records of the models it rewrites, whose lookup items follow their keys. The marker is not read here: the
        // engine reads it before deciding (a duplicate costs that one read), and its condition in the transaction
        // catches a concurrent delivery.
        let head_key = |chain: &str| key(schema::chain_pk(chain), schema::HEAD_SK);
        // Whole records, the last write wins: one write per model.
        let mut models: BTreeMap<&str, &Model> = BTreeMap::new();
        for model in &commit.models {
            models.insert(&model.id, model);
        }
        let models: Vec<&Model> = models.into_values().collect();
        let mut keys: Vec<Item> = chains.iter().map(|c| head_key(c)).collect();
        keys.extend(marks.iter().map(|m| m.key.clone()));
        keys.extend(models.iter().map(|m| super::inventory::model_key(&m.id)));
        let current = self.batch_get(keys).await?;
        let found = |item_key: &Item| {
            current.iter().find(|item| item.get(PK) == item_key.get(PK) && item.get(SK) == item_key.get(SK))
        };
        // The heads as stored (what the transaction is conditioned on), and what each event chains onto: the head,
        // or for a chain with entries but no head item (deleted), its last entry, so a lost head blocks no writes.
        // `verify` reports the missing head until the append writes it again.
        let mut stored_heads: BTreeMap<String, Option<Head>> = BTreeMap::new();
        let mut heads: BTreeMap<String, Option<Head>> = BTreeMap::new();
        for chain in chains {
            let head = match found(&head_key(chain)) {
                Some(item) => Some(head_of(item)?),
                None => None,
            };
            let base = match &head {
                Some(head) => Some(head.clone()),
                None => self.last_entry_head(chain).await?,
            };
            stored_heads.insert(chain.to_owned(), head);
            heads.insert(chain.to_owned(), base);
        }
        for mark in &mut marks {
            mark.previous = match found(&mark.key) {
                Some(item) => Some(number(item, "at")?),
                None => None,
            };
        }
        let mut stale_lookups = Vec::new();
        for model in &models {
            let stored =
                found(&super::inventory::model_key(&model.id)).and_then(|item| json::<Model>(item, "model").ok());
            let (add, remove) = super::inventory::lookup_changes(stored.as_ref(), model);
            // New keys first: a model must be found by its keys as soon as its record says it has them.
            self.write_lookups(add, Vec::new()).await?;
            stale_lookups.extend(remove);
        }
        let sealed = seal_all(commit.entries.clone(), &mut heads)?;
        let items = self.commit_items(&commit, &sealed, &stored_heads, &marks, &models)?;
        // A transactional write costs twice the item's write units (AWS's rule); a delete, at least that of its key.
        let (mut computed_wcu, mut computed_index_wcu) = (0, 0);
        for item in &items {
            let written = item.put().map(|p| p.item()).or(item.delete().map(|d| d.key()));
            if let Some(written) = written {
                self.count(written, true);
                computed_wcu += 2 * super::write_units(written);
                self.stats.largest_item.fetch_max(super::item_bytes(written) as u64, Ordering::Relaxed);
            }
            if let Some(put) = item.put() {
                computed_index_wcu += super::index_write_units(put.item());
            }
        }
        let item_count = items.len() as u64;
        // The token makes the SDK's resend of this request idempotent for ten minutes (a commit whose response was
        // lost is then not reported as a duplicate of itself). It must be this attempt's alone: a token derived
        // from the request's content is shared by a second writer that planned the same entries from the same
        // head, and DynamoDB would answer that writer's commit "succeeded" too, so the event counts as applied twice.
        let token = format!("{:032x}", fastrand::u128(..));
        self.stats.sent.fetch_add(1, Ordering::Relaxed);
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .client_request_token(token)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(output) => {
                let wcu: f64 = output.consumed_capacity().iter().filter_map(|c| c.capacity_units()).sum();
                self.stats.transactions.fetch_add(1, Ordering::Relaxed);
                self.stats.items.fetch_add(item_count, Ordering::Relaxed);
                self.stats.computed_wcu.fetch_add(computed_wcu, Ordering::Relaxed);
                self.stats.computed_index_wcu.fetch_add(computed_index_wcu, Ordering::Relaxed);
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                self.stats.milli_wcu.fetch_add((wcu * 1000.0).round() as u64, Ordering::Relaxed);
                // Keys the models no longer have: only a cost if left (an extra read), so a failure here is
                // logged, not the commit's.
                if let Err(error) = self.write_lookups(Vec::new(), stale_lookups).await {
                    tracing::warn!(%error, "stale model lookups were not removed");
                }
                Ok(CommitOutcome::Committed { entries: sealed })
            }
            Err(SdkError::ServiceError(service)) => match service.err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    let codes: Vec<&str> =
                        cancelled.cancellation_reasons().iter().map(|r| r.code().unwrap_or("None")).collect();
                    if codes.first() == Some(&"ConditionalCheckFailed") {
                        return self.duplicate(&commit.idempotency_key).await;
                    }
                    if codes.iter().any(|c| *c == "ConditionalCheckFailed" || *c == "TransactionConflict") {
                        self.stats.conflicts.fetch_add(1, Ordering::Relaxed);
                        return Err(LedgerError::Conflict(format!(
                            "TransactWriteItems cancelled: {}",
                            codes.join(", ")
                        )));
                    }
                    if codes.iter().any(|c| c.contains("Throughput") || c.contains("Throttl")) {
                        return Err(LedgerError::Unavailable(format!(
                            "TransactWriteItems cancelled: {}",
                            codes.join(", ")
                        )));
                    }
                    Err(LedgerError::Storage(format!("TransactWriteItems cancelled: {}", codes.join(", "))))
                }
                TransactWriteItemsError::IdempotentParameterMismatchException(_) => {
                    Err(LedgerError::Conflict("a different request used this client token".into()))
                }
                _ => Err(sdk_error("TransactWriteItems", &self.table, SdkError::ServiceError(service))),
            },
            Err(other) => Err(sdk_error("TransactWriteItems", &self.table, other)),
        }
    }

    async fn duplicate(&self, idempotency_key: &str) -> Result<CommitOutcome, LedgerError> {
        match self.read_outcome(idempotency_key).await? {
            Some(original) => Ok(CommitOutcome::Duplicate { original }),
            None => Err(LedgerError::Conflict("idempotency marker vanished after a conflict".into())),
        }
    }

    pub(super) async fn read_outcome(&self, idempotency_key: &str) -> Result<Option<EventOutcome>, LedgerError> {
        let marker = self.get(key(schema::marker_pk(idempotency_key), schema::MARKER_SK)).await?;
        marker.as_ref().map(outcome_of).transpose()
    }
}

/// What an event led to, from its marker item (the outcome and the effects delivered since).
fn outcome_of(item: &Item) -> Result<EventOutcome, LedgerError> {
    let mut outcome: EventOutcome = json(item, "outcome")?;
    if let Some(AttributeValue::Ss(delivered)) = item.get("delivered") {
        outcome.delivered.extend(delivered.iter().cloned());
    }
    Ok(outcome)
}
