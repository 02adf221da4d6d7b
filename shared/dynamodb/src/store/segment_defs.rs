//! Saved segment definitions (`SEGDEF / {id}`): listed, read, created within the limit on
//! saved segments, replaced with a version condition, deleted.
//!
//! The limit holds under concurrent creations through a count of the definitions on one item
//! (`SEGSET / SET`, attribute `n`): a creation writes the definition and `n + 1` in one
//! transaction, only if `n` is below the limit; a deletion writes `n − 1` with it. The
//! condition is on one item, which a transaction checks serializably, so two creations that
//! both see 39 of 40 cannot both commit. (Counting the definitions with a Query would not do:
//! a Query is only read-committed against a transaction.) The count is set once from the
//! definitions when it is missing (a table from before it existed).

use crate::keys::*;
use c360_domain::segment::{Filter, SegmentDef};
use c360_domain::{Millis, StoreId};

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};

use super::codec::*;
use super::{classify, Item, Store, StoreError, WriteSet};

/// Attempts of [`Store::create_segment_def`] and [`Store::delete_segment_def`] while other
/// transactions on the count's item cancel theirs (`TransactionConflict`), with a short
/// random pause between them.
const ATTEMPTS: u32 = 5;

/// What [`Store::create_segment_def`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Saved,
    /// `max` segments are saved already; nothing was written.
    Full,
}

fn parse_def(item: &Item) -> Result<SegmentDef, StoreError> {
    let id = get_s(item, "sk").unwrap_or_default().to_string();
    let filter_text = get_s(item, "filter").unwrap_or("{}");
    let filter = Filter::parse_json(filter_text)
        .map_err(|e| StoreError::Failed(format!("saved segment {id} has a bad filter: {e}")))?;
    Ok(SegmentDef {
        name: get_s(item, "name").unwrap_or_default().to_string(),
        description: get_s(item, "description").map(str::to_string),
        filter,
        version: get_n(item, "ver").unwrap_or(0),
        created_at: Millis(get_n(item, "created_at").unwrap_or(0)),
        updated_at: Millis(get_n(item, "updated_at").unwrap_or(0)),
        created_by: get_s(item, "created_by").map(str::to_string),
        // A store id that no longer parses would make the segment brand-wide: stricter, not
        // looser.
        owner_store: get_s(item, "owner_store").and_then(|s| StoreId::parse(s).ok()),
        built_at: get_n(item, "built_at").map(Millis),
        id,
    })
}

impl Store {
    /// Every saved segment, by id (one Query, strongly consistent: a segment just saved is
    /// listed).
    pub async fn segment_defs(&self) -> Result<Vec<SegmentDef>, StoreError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(SEGMENT_DEF_PK))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(classify)?;
        items.iter().map(parse_def).collect()
    }

    /// One saved segment (GetItem, strongly consistent); `None` when there is none.
    pub async fn segment_def(&self, id: &str) -> Result<Option<SegmentDef>, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(SEGMENT_DEF_PK.to_string(), id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        resp.item().map(parse_def).transpose()
    }

    /// Saves a new segment unless `max` are saved already, atomically with the count (see the
    /// module's doc): a GetItem (the count exists; a Query and a PutItem once on an older
    /// table) and one TransactWriteItems, and after a cancelled one a GetItem to tell a full
    /// set from contention, retried while others contend, at most [`ATTEMPTS`] times.
    /// Errors: `Conflict` when every attempt met another writer, or when `def.id` exists.
    pub async fn create_segment_def(
        &self,
        def: &SegmentDef,
        max: usize,
    ) -> Result<Created, StoreError> {
        self.ensure_segment_count().await?;
        for attempt in 0..ATTEMPTS {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(def_item(def)))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| StoreError::Failed(e.to_string()))?;
            let count = self.count_update(1, Some(max))?;
            match self
                .commit(WriteSet::from_items(vec![
                    TransactWriteItem::builder().put(put).build(),
                    TransactWriteItem::builder().update(count).build(),
                ]))
                .await
            {
                Ok(()) => return Ok(Created::Saved),
                Err(StoreError::Conflict) => {
                    if self.saved_segments().await?.unwrap_or(0) >= max as i64 {
                        return Ok(Created::Full);
                    }
                    pause(attempt).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }

    /// The count of saved definitions, `None` on a table from before it was kept.
    async fn saved_segments(&self) -> Result<Option<i64>, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(SEGMENT_SET_PK.to_string(), SEGMENT_SET_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(resp.item().and_then(|i| get_n(i, "n")))
    }

    /// Sets the count from the definitions if it is missing (once per table: a GetItem
    /// otherwise). Two processes doing it at once write the same count; the second's
    /// condition fails and its count is the first's.
    async fn ensure_segment_count(&self) -> Result<(), StoreError> {
        if self.saved_segments().await?.is_some() {
            return Ok(());
        }
        let n = self.segment_defs().await?.len();
        let mut item = key(SEGMENT_SET_PK.to_string(), SEGMENT_SET_SK);
        item.insert("n".into(), super::codec::n(n as i64));
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(n)")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// `n += by` on the count's item; with `below`, only if `n` is below it.
    fn count_update(&self, by: i64, below: Option<usize>) -> Result<Update, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(SEGMENT_SET_PK.to_string(), SEGMENT_SET_SK)))
            .update_expression("ADD n :by")
            .expression_attribute_values(":by", n(by));
        if let Some(max) = below {
            update = update
                .condition_expression("n < :max")
                .expression_attribute_values(":max", n(max as i64));
        }
        update
            .build()
            .map_err(|e| StoreError::Failed(e.to_string()))
    }

    /// Replaces a saved segment if its stored version is `expected` (`Conflict` otherwise).
    pub async fn replace_segment_def(
        &self,
        def: &SegmentDef,
        expected: i64,
    ) -> Result<(), StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(def_item(def)))
            .condition_expression("ver = :ver")
            .expression_attribute_values(":ver", n(expected));
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(classify(e)),
        }
    }

    /// Deletes a saved segment and takes it off the count; `false` when there was none. Its
    /// member items and counts are removed by the next rescoring (each row leaves the
    /// segments it no longer knows). Errors: `Conflict` when every attempt met another
    /// writer of the count.
    pub async fn delete_segment_def(&self, id: &str) -> Result<bool, StoreError> {
        self.ensure_segment_count().await?;
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(SEGMENT_DEF_PK.to_string(), id)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        for attempt in 0..ATTEMPTS {
            let count = self.count_update(-1, None)?;
            match self
                .commit(WriteSet::from_items(vec![
                    TransactWriteItem::builder().delete(delete.clone()).build(),
                    TransactWriteItem::builder().update(count).build(),
                ]))
                .await
            {
                Ok(()) => return Ok(true),
                // Either the definition is gone or another transaction held the count.
                Err(StoreError::Conflict) => {
                    if self.segment_def(id).await?.is_none() {
                        return Ok(false);
                    }
                    pause(attempt).await;
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }
}

/// A random pause of up to 20·2^attempt ms, so that contending writers spread out.
async fn pause(attempt: u32) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let ms = u64::from(nanos) % (20u64 << attempt.min(4));
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
}

/// A definition as its item.
fn def_item(def: &SegmentDef) -> Item {
    let mut item = key(SEGMENT_DEF_PK.to_string(), def.id.clone());
    item.insert("name".into(), s(def.name.clone()));
    if let Some(d) = &def.description {
        item.insert("description".into(), s(d.clone()));
    }
    item.insert("filter".into(), s(def.filter.to_json().to_string()));
    item.insert("ver".into(), n(def.version));
    item.insert("created_at".into(), n(def.created_at.0));
    item.insert("updated_at".into(), n(def.updated_at.0));
    if let Some(b) = &def.created_by {
        item.insert("created_by".into(), s(b.clone()));
    }
    if let Some(o) = &def.owner_store {
        item.insert("owner_store".into(), s(o.as_str()));
    }
    if let Some(b) = def.built_at {
        item.insert("built_at".into(), n(b.0));
    }
    item
}
