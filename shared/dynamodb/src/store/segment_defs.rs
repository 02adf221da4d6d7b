//! Saved segment definitions (`SEGDEF / {id}`): listed, read, saved with a version
//! condition, deleted.

use crate::keys::*;
use c360_domain::segment::{Filter, SegmentDef};
use c360_domain::Millis;

use super::codec::*;
use super::{classify, Item, Store, StoreError};

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

    /// Saves a segment: created when `expected` is `None` (fails if the id exists), else
    /// replaced if its stored version is `expected` (`Conflict` otherwise).
    pub async fn put_segment_def(
        &self,
        def: &SegmentDef,
        expected: Option<i64>,
    ) -> Result<(), StoreError> {
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
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(v) => put
                .condition_expression("ver = :ver")
                .expression_attribute_values(":ver", n(v)),
        };
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

    /// Deletes a saved segment; `false` when there was none. Its member items and counts
    /// are removed by the next rescoring (each row leaves the segments it no longer knows).
    pub async fn delete_segment_def(&self, id: &str) -> Result<bool, StoreError> {
        let resp = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(SEGMENT_DEF_PK.to_string(), id)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .map_err(classify)?;
        Ok(resp.attributes().is_some_and(|a| !a.is_empty()))
    }
}
