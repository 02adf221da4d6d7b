//! Saved segment definitions (`SEGDEF / {id}`): listed, read, created within the limit on
//! saved segments, replaced with a version condition, deleted.
//!
//! The limit holds under concurrent creations through the set's version (`SEGSET / SET`,
//! attribute `v`): a creation reads the version, then lists the definitions, and commits the
//! new one in one transaction with a bump of the version conditioned on the value it read; a
//! deletion bumps it too. Two creations that both saw 39 of 40 cannot both commit: the second
//! finds the version moved, lists again and sees 40.

use crate::keys::*;
use c360_domain::segment::{Filter, SegmentDef};
use c360_domain::Millis;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};

use super::codec::*;
use super::{classify, Item, Store, StoreError};

/// Attempts of [`Store::create_segment_def`] (and of a deletion) when another creation or
/// deletion commits between its read and its write; each attempt is three requests.
const CREATE_ATTEMPTS: usize = 5;

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
    /// module's doc): 3 requests (GetItem, Query, TransactWriteItems), again while a
    /// concurrent creation or deletion commits in between, at most [`CREATE_ATTEMPTS`] times.
    /// Errors: `Conflict` when every attempt met another writer, or when `def.id` exists.
    pub async fn create_segment_def(
        &self,
        def: &SegmentDef,
        max: usize,
    ) -> Result<Created, StoreError> {
        for _ in 0..CREATE_ATTEMPTS {
            let version = self.segment_set_version().await?;
            if self.segment_defs().await?.len() >= max {
                return Ok(Created::Full);
            }
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(def_item(def)))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| StoreError::Failed(e.to_string()))?;
            let bump = self.bump_segment_set(Some(version))?;
            match self
                .transact(vec![
                    TransactWriteItem::builder().put(put).build(),
                    TransactWriteItem::builder().update(bump).build(),
                ])
                .await
            {
                Err(StoreError::Conflict) => continue,
                other => return other.map(|()| Created::Saved),
            }
        }
        Err(StoreError::Conflict)
    }

    /// The saved segments' set version: 0 before the first creation or deletion.
    async fn segment_set_version(&self) -> Result<i64, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(SEGMENT_SET_PK.to_string(), SEGMENT_SET_SK)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(resp.item().and_then(|i| get_n(i, "v")).unwrap_or(0))
    }

    /// `v += 1` on the set's item; when `seen` is given, only if `v` is still `seen` (absent
    /// counts as 0).
    fn bump_segment_set(&self, seen: Option<i64>) -> Result<Update, StoreError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(SEGMENT_SET_PK.to_string(), SEGMENT_SET_SK)))
            .update_expression("ADD v :one")
            .expression_attribute_values(":one", n(1));
        update = match seen {
            None => update,
            // The in-memory DynamoDB has no OR: an absent version and 0 are told apart here.
            Some(0) => update.condition_expression("attribute_not_exists(v)"),
            Some(v) => update
                .condition_expression("v = :seen")
                .expression_attribute_values(":seen", n(v)),
        };
        update
            .build()
            .map_err(|e| StoreError::Failed(e.to_string()))
    }

    /// One transaction; a failed condition is `Conflict`.
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match e.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(tc))
                    if tc.cancellation_reasons().iter().any(|r| {
                        matches!(
                            r.code(),
                            Some("ConditionalCheckFailed") | Some("TransactionConflict")
                        )
                    }) =>
                {
                    Err(StoreError::Conflict)
                }
                _ => Err(classify(e)),
            },
        }
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

    /// Deletes a saved segment, bumping the set's version with it; `false` when there was
    /// none. Its member items and counts are removed by the next rescoring (each row leaves
    /// the segments it no longer knows).
    pub async fn delete_segment_def(&self, id: &str) -> Result<bool, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(key(SEGMENT_DEF_PK.to_string(), id)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        for _ in 0..CREATE_ATTEMPTS {
            let bump = self.bump_segment_set(None)?;
            match self
                .transact(vec![
                    TransactWriteItem::builder().delete(delete.clone()).build(),
                    TransactWriteItem::builder().update(bump).build(),
                ])
                .await
            {
                Ok(()) => return Ok(true),
                // Either the definition is gone or another transaction held the set's item.
                Err(StoreError::Conflict) => {
                    if self.segment_def(id).await?.is_none() {
                        return Ok(false);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict)
    }
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
    if let Some(b) = def.built_at {
        item.insert("built_at".into(), n(b.0));
    }
    item
}
