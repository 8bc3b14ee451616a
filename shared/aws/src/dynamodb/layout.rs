//! The table's layout version: checked once per process before the ledger reads or writes anything whose place
//! depends on it, and moved from layout 1 by `warden ledger migrate`.
//!
//! A migration never rewrites an entry: entries are hashed as written (and later signed), so they keep their
//! bytes and only their time-index key changes. Every step is idempotent and the layout item says "migrating"
//! until the last one, so an interrupted migration is finished by running it again, and no writer of this version
//! touches the table meanwhile.

// The adapter's own vocabulary (SDK types, schema, the ledger model) is the parent module's.
use super::inventory::{lookup_items, model_key};
use super::*;

/// What `warden ledger migrate` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Migration {
    /// The layout the table had (0: an empty table with no layout item).
    pub from: i64,
    pub to: i64,
    pub heads_moved: usize,
    pub models_moved: usize,
    pub lookups_written: usize,
    pub entries_reindexed: usize,
}

/// The layout item, as read.
struct Layout {
    version: i64,
    migrating: bool,
}

impl DynamoLedger {
    async fn read_layout(&self) -> Result<Option<Layout>, LedgerError> {
        match self.get(key(schema::LAYOUT_PK.to_owned(), schema::LAYOUT_SK)).await? {
            Some(item) => Ok(Some(Layout {
                version: number(&item, "version")?,
                migrating: matches!(item.get("migrating"), Some(AttributeValue::Bool(true))),
            })),
            None => Ok(None),
        }
    }

    /// Whether the table holds layout-1 items (a table written before layouts were versioned).
    async fn has_layout_1_items(&self) -> Result<bool, LedgerError> {
        for pk in [schema::V1_HEADS_PK, schema::V1_INVENTORY_PK] {
            if !self.query(pk.to_owned(), None, Some(1)).await?.is_empty() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub(super) async fn write_layout(&self, version: i64, migrating: bool) -> Result<(), LedgerError> {
        let mut item = key(schema::LAYOUT_PK.to_owned(), schema::LAYOUT_SK);
        item.insert("version".into(), n(version));
        if migrating {
            item.insert("migrating".into(), AttributeValue::Bool(true));
        }
        self.batch_write(vec![put_request(item)?]).await
    }

    /// Refuses a table of another layout, naming the command that moves it. A table with no layout item and no
    /// layout-1 items is new (created by a template): layout 2.
    pub(super) async fn ensure_layout(&self) -> Result<(), LedgerError> {
        self.layout_checked.get_or_try_init(|| self.check_layout()).await.map(|_| ())
    }

    async fn check_layout(&self) -> Result<(), LedgerError> {
        // Layout-1 items are looked for even in a layout-2 table: an earlier Warden still writing (an old CLI, a
        // function not yet updated) would otherwise go unnoticed, and its writes unread.
        let layout_1_items = self.has_layout_1_items().await?;
        let table = &self.table;
        let problem = match self.read_layout().await? {
            Some(Layout { version, migrating: false }) if version == schema::LAYOUT_VERSION && !layout_1_items => {
                return Ok(());
            }
            None if !layout_1_items => {
                // A new table (made by a template): recorded as layout 2, so an earlier Warden's writes into it
                // are told apart from a table that was never moved.
                let mut item = key(schema::LAYOUT_PK.to_owned(), schema::LAYOUT_SK);
                item.insert("version".into(), n(schema::LAYOUT_VERSION));
                self.put_unless_newer(item, "attribute_not_exists(#pk)", Vec::new()).await?;
                return Ok(());
            }
            Some(Layout { version, migrating: false }) if version == schema::LAYOUT_VERSION => {
                "holds layout-1 items written after it moved to layout 2 (is an earlier Warden still writing to it?)"
                    .to_owned()
            }
            Some(Layout { version, migrating }) => {
                let state = if migrating { ", part-way through a migration" } else { "" };
                format!("holds ledger layout {version}{state}")
            }
            None => "holds ledger layout 1".to_owned(),
        };
        Err(LedgerError::Storage(format!(
            "table {table:?} {problem}; this version of Warden reads layout {}: run `warden ledger migrate --table \
             {table}`",
            schema::LAYOUT_VERSION
        )))
    }

    /// Moves a layout-1 table to layout 2 (see the module's notes). On a table already at layout 2 it records the
    /// layout and restores any model lookup that is missing: it is also the repair `verify` points to.
    pub async fn migrate(&self) -> Result<Migration, LedgerError> {
        let layout = self.read_layout().await?;
        let layout_1_items = self.has_layout_1_items().await?;
        let from = match layout {
            Some(Layout { version, .. }) if version > schema::LAYOUT_VERSION => {
                return Err(LedgerError::Storage(format!(
                    "table {:?} holds ledger layout {version}, newer than this version of Warden knows ({})",
                    self.table,
                    schema::LAYOUT_VERSION
                )));
            }
            Some(Layout { version, .. }) => version,
            None if layout_1_items => 1,
            // A table created by a template, never migrated: it has always been layout 2.
            None => schema::LAYOUT_VERSION,
        };
        let mut migration = Migration { from, to: schema::LAYOUT_VERSION, ..Migration::default() };
        let current = matches!(layout, Some(Layout { migrating: false, .. }) | None) && !layout_1_items;
        if from == schema::LAYOUT_VERSION && current {
            migration.lookups_written = self.restore_lookups().await?;
            self.write_layout(schema::LAYOUT_VERSION, false).await?;
            return Ok(migration);
        }
        // Writers of this version refuse the table from here until the last step.
        self.write_layout(from.clamp(1, schema::LAYOUT_VERSION - 1), true).await?;
        self.move_heads(&mut migration).await?;
        self.move_models(&mut migration).await?;
        self.reindex_entries(&mut migration).await?;
        migration.lookups_written = self.restore_lookups().await?;
        self.write_layout(schema::LAYOUT_VERSION, false).await?;
        Ok(migration)
    }

    /// A put that applies only if `condition` holds (`ConditionalCheckFailed` means a newer item is there: kept).
    async fn put_unless_newer(
        &self,
        item: Item,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, LedgerError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .expression_attribute_names("#pk", PK);
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().code() == Some("ConditionalCheckFailedException") => Ok(false),
            Err(e) => Err(sdk_error("PutItem", &self.table, e)),
        }
    }

    /// `HEADS` / `CHAIN#<chain>` -> `CHAIN#<chain>` / `HEAD`, unless a newer head is there already (a writer of
    /// this version); then the old item goes.
    async fn move_heads(&self, migration: &mut Migration) -> Result<(), LedgerError> {
        let old = self.query(schema::V1_HEADS_PK.to_owned(), Some("CHAIN#"), None).await?;
        let mut deletes = Vec::new();
        for item in &old {
            let sk = text(item, SK)?;
            let chain = sk.trim_start_matches("CHAIN#");
            let mut moved = item.clone();
            moved.extend(key(schema::chain_pk(chain), schema::HEAD_SK));
            let seq = item.get("seq").cloned().unwrap_or_else(|| n(0));
            let condition = "attribute_not_exists(#pk) OR seq < :seq";
            if self.put_unless_newer(moved, condition, vec![(":seq", seq)]).await? {
                migration.heads_moved += 1;
            }
            deletes.push(delete_request(key(schema::V1_HEADS_PK.to_owned(), sk))?);
        }
        self.batch_write(deletes).await
    }

    /// `INVENTORY` / `MODEL#<id>` -> its model partition, the record's bytes unchanged, unless the model has a
    /// layout-2 record already (written since: newer); then the old item goes. Lookups are restored afterwards for
    /// every model.
    async fn move_models(&self, migration: &mut Migration) -> Result<(), LedgerError> {
        let old = self.query(schema::V1_INVENTORY_PK.to_owned(), Some("MODEL#"), None).await?;
        let mut deletes = Vec::new();
        for item in &old {
            let sk = text(item, SK)?;
            let id = sk.trim_start_matches("MODEL#");
            let mut moved = item.clone();
            moved.extend(model_key(id));
            if self.put_unless_newer(moved, "attribute_not_exists(#pk)", Vec::new()).await? {
                migration.models_moved += 1;
            }
            deletes.push(delete_request(key(schema::V1_INVENTORY_PK.to_owned(), sk))?);
        }
        self.batch_write(deletes).await
    }

    /// Puts every lookup item of every readable model (idempotent): what an event needs to find the models its
    /// resources name. Returns how many were written.
    async fn restore_lookups(&self) -> Result<usize, LedgerError> {
        let inventory = self.whole_inventory().await?;
        let mut puts = Vec::new();
        for model in inventory.models() {
            for lookup in lookup_items(model) {
                puts.push(put_request(lookup)?);
            }
        }
        let written = puts.len();
        self.batch_write(puts).await?;
        Ok(written)
    }

    /// Layout-1 entry items move from the day's one index partition to the chain's shard of it. Only the index
    /// key changes (on condition that it is still the old one); the entry attribute is not written.
    async fn reindex_entries(&self, migration: &mut Migration) -> Result<(), LedgerError> {
        let filter = ScanFilter {
            expression: "attribute_exists(#entry) AND begins_with(#pk, :chain)",
            names: &[("#entry", "entry"), ("#pk", PK)],
            values: &[(":chain", s("CHAIN#"))],
            projection: None,
        };
        for item in self.scan(Some(filter)).await? {
            let Ok(old) = text(&item, GSI1_PK) else { continue };
            let Some(day) = old.strip_prefix("DAY#").filter(|rest| !rest.contains('#')) else { continue };
            let chain = text(&item, PK)?.trim_start_matches("CHAIN#");
            let new = schema::day_pk(day, chain);
            let result = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(text(&item, PK)?.to_owned(), text(&item, SK)?)))
                .update_expression("SET #index = :new")
                .condition_expression("#index = :old")
                .expression_attribute_names("#index", GSI1_PK)
                .expression_attribute_values(":new", s(new))
                .expression_attribute_values(":old", s(old))
                .send()
                .await;
            match result {
                Ok(_) => migration.entries_reindexed += 1,
                // Another run of the migration got there first.
                Err(SdkError::ServiceError(e)) if e.err().code() == Some("ConditionalCheckFailedException") => {}
                Err(e) => return Err(sdk_error("UpdateItem", &self.table, e)),
            }
        }
        Ok(())
    }
}
