//! The table's layout version: checked once per process before the ledger reads or writes anything whose place
//! depends on it, and moved from layout 1 by `warden ledger migrate`.
//!
//! A migration never rewrites an entry: entries are hashed as written (and later signed), so they keep their
//! bytes and only their time-index key changes. Every step is idempotent and the layout item says "migrating"
//! until the last one, so an interrupted migration is finished by running it again, and no writer of this version
//! touches the table meanwhile.

use warden_core::inventory::Model;

// The adapter's own vocabulary (SDK types, schema, the ledger model) is the parent module's.
use super::inventory::{lookup_changes, model_key};
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
        let found = match self.read_layout().await? {
            Some(Layout { version, migrating: false }) if version == schema::LAYOUT_VERSION => return Ok(()),
            Some(layout) => layout,
            None if self.has_layout_1_items().await? => Layout { version: 1, migrating: false },
            None => return Ok(()),
        };
        let table = &self.table;
        let state = if found.migrating { ", part-way through a migration" } else { "" };
        Err(LedgerError::Storage(format!(
            "table {table:?} holds ledger layout {}{state}; this version of Warden reads layout {}: run `warden \
             ledger migrate --table {table}`",
            found.version,
            schema::LAYOUT_VERSION
        )))
    }

    /// Moves a layout-1 table to layout 2 (see the module's notes); a table already at layout 2 is left as it is.
    pub async fn migrate(&self) -> Result<Migration, LedgerError> {
        let from = match self.read_layout().await? {
            Some(Layout { version, migrating: false }) if version == schema::LAYOUT_VERSION => {
                return Ok(Migration { from: version, to: version, ..Migration::default() });
            }
            Some(Layout { version, .. }) if version > schema::LAYOUT_VERSION => {
                return Err(LedgerError::Storage(format!(
                    "table {:?} holds ledger layout {version}, newer than this version of Warden knows ({})",
                    self.table,
                    schema::LAYOUT_VERSION
                )));
            }
            Some(Layout { version, .. }) => version,
            None if self.has_layout_1_items().await? => 1,
            None => 0,
        };
        // Writers of this version refuse the table from here until the last step.
        self.write_layout(from.max(1), true).await?;
        let mut migration = Migration { from, to: schema::LAYOUT_VERSION, ..Migration::default() };
        self.move_heads(&mut migration).await?;
        self.move_models(&mut migration).await?;
        self.reindex_entries(&mut migration).await?;
        self.write_layout(schema::LAYOUT_VERSION, false).await?;
        Ok(migration)
    }

    /// `HEADS` / `CHAIN#<chain>` -> `CHAIN#<chain>` / `HEAD`: the new items first, then the old ones go.
    async fn move_heads(&self, migration: &mut Migration) -> Result<(), LedgerError> {
        let old = self.query(schema::V1_HEADS_PK.to_owned(), Some("CHAIN#"), None).await?;
        let mut puts = Vec::new();
        let mut deletes = Vec::new();
        for item in &old {
            let sk = text(item, SK)?;
            let chain = sk.trim_start_matches("CHAIN#");
            let mut moved = item.clone();
            moved.extend(key(schema::chain_pk(chain), schema::HEAD_SK));
            puts.push(put_request(moved)?);
            deletes.push(delete_request(key(schema::V1_HEADS_PK.to_owned(), sk))?);
        }
        self.batch_write(puts).await?;
        self.batch_write(deletes).await?;
        migration.heads_moved = old.len();
        Ok(())
    }

    /// `INVENTORY` / `MODEL#<id>` -> its model partition, with its lookup items; the record keeps its bytes. A
    /// record that cannot be read moves too (listed as unreadable, as before), without lookups.
    async fn move_models(&self, migration: &mut Migration) -> Result<(), LedgerError> {
        let old = self.query(schema::V1_INVENTORY_PK.to_owned(), Some("MODEL#"), None).await?;
        let mut puts = Vec::new();
        let mut deletes = Vec::new();
        for item in &old {
            let sk = text(item, SK)?;
            let id = sk.trim_start_matches("MODEL#");
            let mut moved = item.clone();
            moved.extend(model_key(id));
            puts.push(put_request(moved)?);
            if let Ok(model) = json::<Model>(item, "model") {
                let (add, _) = lookup_changes(None, &model);
                migration.lookups_written += add.len();
                for lookup in add {
                    puts.push(put_request(lookup)?);
                }
            }
            deletes.push(delete_request(key(schema::V1_INVENTORY_PK.to_owned(), sk))?);
        }
        self.batch_write(puts).await?;
        self.batch_write(deletes).await?;
        migration.models_moved = old.len();
        Ok(())
    }

    /// Layout-1 entry items move from the day's one index partition to the chain's shard of it. Only the index
    /// key changes (on condition that it is still the old one); the entry attribute is not written.
    async fn reindex_entries(&self, migration: &mut Migration) -> Result<(), LedgerError> {
        let filter = ScanFilter {
            expression: "attribute_exists(#entry) AND begins_with(#pk, :chain)",
            names: &[("#entry", "entry"), ("#pk", PK)],
            values: &[(":chain", s("CHAIN#"))],
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
