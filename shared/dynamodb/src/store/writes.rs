//! The writes: one change's typed writes ([`c360_domain::plan::Write`]) translated into one
//! conditional `TransactWriteItems`, and the few single writes outside a change (models,
//! suppressions).

use crate::keys::*;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};
use c360_domain::identity::{cluster_key, NodeLinks};
use c360_domain::plan::Write;
use c360_domain::prediction::StoreModel;
use c360_domain::projection::{AppliedRecord, RecentEntry, Scope, ScopeStats, TimelineEntry};
use c360_domain::search::Token;
use c360_domain::{Identifier, Millis, SourceKind};
use std::collections::HashMap;

use super::codec::*;
use super::{classify, Item, Store, StoreError};

/// A timeline entry to put, with what its item indexes.
struct Entry<'a> {
    entry: &'a TimelineEntry,
    /// Its customer's key ([`CLUSTER_ATTR`], [`INDEX_CLUSTER`]).
    cluster_key: &'a Identifier,
    /// A counted order: the entry is in the counted-orders index.
    counted: bool,
    /// A counted order's dish ids ([`DISHES_ATTR`]).
    dishes: &'a [String],
}

/// What one change writes ([`Store::write_set`] from its plan), sent as one transaction.
#[derive(Debug, Default)]
pub struct WriteSet {
    items: Vec<TransactWriteItem>,
}

impl WriteSet {
    /// A set of already-built transaction items (segment rows and memberships).
    pub(super) fn from_items(items: Vec<TransactWriteItem>) -> WriteSet {
        WriteSet { items }
    }
    pub fn len(&self) -> usize {
        self.items.len()
    }
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
    fn push_put(
        &mut self,
        table: &str,
        item: Item,
        condition: Option<(String, HashMap<String, AttributeValue>)>,
    ) -> Result<(), StoreError> {
        let mut put = Put::builder().table_name(table).set_item(Some(item));
        if let Some((expr, values)) = condition {
            put = put.condition_expression(expr);
            if !values.is_empty() {
                put = put.set_expression_attribute_values(Some(values));
            }
        }
        let put = put.build().map_err(|e| StoreError::Failed(e.to_string()))?;
        self.items
            .push(TransactWriteItem::builder().put(put).build());
        Ok(())
    }
    fn push_delete(
        &mut self,
        table: &str,
        key: Item,
        condition: Option<(String, HashMap<String, AttributeValue>)>,
    ) -> Result<(), StoreError> {
        let mut del = Delete::builder().table_name(table).set_key(Some(key));
        if let Some((expr, values)) = condition {
            del = del.condition_expression(expr);
            if !values.is_empty() {
                del = del.set_expression_attribute_values(Some(values));
            }
        }
        let del = del.build().map_err(|e| StoreError::Failed(e.to_string()))?;
        self.items
            .push(TransactWriteItem::builder().delete(del).build());
        Ok(())
    }
}

fn version_condition(version: Option<i64>) -> (String, HashMap<String, AttributeValue>) {
    match version {
        None => ("attribute_not_exists(pk)".to_string(), HashMap::new()),
        Some(v) => (
            "ver = :ver".to_string(),
            HashMap::from([(":ver".to_string(), n(v))]),
        ),
    }
}

impl Store {
    /// One change's planned writes ([`c360_domain::plan`]) as the items of its transaction.
    pub fn write_set(
        &self,
        kind: SourceKind,
        source_id: &str,
        writes: &[Write],
    ) -> Result<WriteSet, StoreError> {
        let mut w = WriteSet::default();
        for write in writes {
            match write {
                Write::Stats {
                    node,
                    scope,
                    stats,
                    expected,
                } => self.put_stats(&mut w, node, scope, stats, *expected)?,
                Write::PutToken { node, scope, token } => {
                    self.put_token(&mut w, node, scope, token)?
                }
                Write::DeleteToken { node, scope, token } => {
                    self.delete_token(&mut w, node, scope, token)?
                }
                Write::PutEntry {
                    node,
                    scope,
                    cluster_key,
                    entry,
                    counted,
                    dishes,
                } => {
                    let entry = Entry {
                        entry,
                        cluster_key,
                        counted: *counted,
                        dishes,
                    };
                    self.put_entry(&mut w, node, scope, kind, source_id, entry)?
                }
                Write::DeleteEntry { node, scope } => {
                    self.delete_entry(&mut w, node, scope, kind, source_id)?
                }
                Write::Recent { node, scope, list } => {
                    self.put_recent(&mut w, node, scope, kind, list)?
                }
                Write::PutNode {
                    id,
                    links,
                    expected,
                } => self.put_node(&mut w, id, links, *expected)?,
                Write::CheckNode { id, expected } => self.check_node(&mut w, id, *expected)?,
                Write::CheckNotSuppressed { id } => self.check_not_suppressed(&mut w, id)?,
                Write::Anchor { applied, previous } => {
                    self.put_anchor(&mut w, kind, source_id, applied, previous.as_ref())?
                }
            }
        }
        Ok(w)
    }

    fn put_anchor(
        &self,
        w: &mut WriteSet,
        kind: SourceKind,
        source_id: &str,
        applied: &AppliedRecord,
        previous: Option<&AppliedRecord>,
    ) -> Result<(), StoreError> {
        let mut item = key(anchor_pk(kind, source_id), ANCHOR_SK);
        item.insert("seq".into(), s(applied.seq.as_str()));
        if let Some(state) = &applied.state {
            item.insert("state".into(), s(to_json(state)?));
        }
        let condition = match previous {
            None => ("attribute_not_exists(pk)".to_string(), HashMap::new()),
            Some(p) => (
                "seq = :prev".to_string(),
                HashMap::from([(":prev".to_string(), s(p.seq.as_str()))]),
            ),
        };
        w.push_put(&self.table, item, Some(condition))
    }

    fn put_stats(
        &self,
        w: &mut WriteSet,
        node: &Identifier,
        scope: &Scope,
        stats: &ScopeStats,
        previous_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let condition = Some(version_condition(previous_version));
        if stats.is_empty() {
            if previous_version.is_some() {
                w.push_delete(&self.table, key(node_pk(node), stats_sk(scope)), condition)?;
            }
            return Ok(());
        }
        let mut item = encode(stats)?;
        item.extend(key(node_pk(node), stats_sk(scope)));
        item.insert("ver".into(), n(previous_version.unwrap_or(0) + 1));
        w.push_put(&self.table, item, condition)
    }

    fn put_entry(
        &self,
        w: &mut WriteSet,
        node: &Identifier,
        scope: &Scope,
        kind: SourceKind,
        source_id: &str,
        e: Entry<'_>,
    ) -> Result<(), StoreError> {
        let mut item = key(node_pk(node), entry_sk(scope, kind, source_id));
        let tk = time_key(scope, e.entry.at, kind, source_id);
        if matches!(kind, SourceKind::Orders | SourceKind::Reservations) {
            item.insert("lk".into(), s(kind_key(scope, kind, &tk)));
        }
        if e.counted {
            item.insert("lc".into(), s(tk.clone()));
            if !e.dishes.is_empty() {
                item.insert(DISHES_ATTR.into(), AttributeValue::Ss(e.dishes.to_vec()));
            }
        }
        item.insert("lt".into(), s(tk));
        item.insert(CLUSTER_ATTR.into(), s(e.cluster_key.key()));
        item.insert("e".into(), s(to_json(e.entry)?));
        w.push_put(&self.table, item, None)
    }

    /// A node's newest entries of `kind` in a scope. Unconditional: the plan writes them only
    /// beside the same (node, scope)'s stats, whose version condition decides for both.
    fn put_recent(
        &self,
        w: &mut WriteSet,
        node: &Identifier,
        scope: &Scope,
        kind: SourceKind,
        list: &[RecentEntry],
    ) -> Result<(), StoreError> {
        let key = key(node_pk(node), recent_sk(scope, kind));
        if list.is_empty() {
            return w.push_delete(&self.table, key, None);
        }
        let mut item = key;
        item.insert("r".into(), s(to_json(&list)?));
        w.push_put(&self.table, item, None)
    }

    fn delete_entry(
        &self,
        w: &mut WriteSet,
        node: &Identifier,
        scope: &Scope,
        kind: SourceKind,
        source_id: &str,
    ) -> Result<(), StoreError> {
        w.push_delete(
            &self.table,
            key(node_pk(node), entry_sk(scope, kind, source_id)),
            None,
        )
    }

    fn put_token(
        &self,
        w: &mut WriteSet,
        node: &Identifier,
        scope: &Scope,
        token: &Token,
    ) -> Result<(), StoreError> {
        let mut item = key(node_pk(node), token_sk(scope, token));
        item.insert("gp".into(), s(token_partition(scope, token)));
        item.insert("gs".into(), s(node.key()));
        w.push_put(&self.table, item, None)
    }

    fn delete_token(
        &self,
        w: &mut WriteSet,
        node: &Identifier,
        scope: &Scope,
        token: &Token,
    ) -> Result<(), StoreError> {
        w.push_delete(
            &self.table,
            key(node_pk(node), token_sk(scope, token)),
            None,
        )
    }

    /// A node's links and new version. An update, not a put: what the node's entries are
    /// keyed under ([`ENTRIES_KEY_ATTR`]) is the re-key's to change, not a change's. A new
    /// node starts with it: every entry it has is written by this transaction, with its
    /// cluster's key.
    fn put_node(
        &self,
        w: &mut WriteSet,
        id: &Identifier,
        links: &NodeLinks,
        previous_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let (condition, mut values) = version_condition(previous_version);
        values.insert(
            ":adj".into(),
            AttributeValue::L(links.adjacent.iter().map(|a| s(a.key())).collect()),
        );
        values.insert(
            ":cluster".into(),
            AttributeValue::L(links.cluster.iter().map(|a| s(a.key())).collect()),
        );
        values.insert(":next".into(), n(previous_version.unwrap_or(0) + 1));
        let mut set = "SET adj = :adj, #cluster = :cluster, ver = :next".to_string();
        if previous_version.is_none() {
            let key = cluster_key(id, &links.cluster);
            values.insert(":ek".into(), s(key.key()));
            set.push_str(&format!(", {ENTRIES_KEY_ATTR} = :ek"));
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(key(node_pk(id), NODE_SK)))
            .update_expression(set)
            .condition_expression(condition)
            .expression_attribute_names("#cluster", "cluster")
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        w.items
            .push(TransactWriteItem::builder().update(update).build());
        Ok(())
    }

    /// Guards a node this change read but does not write: its cluster was computed from it.
    fn check_node(
        &self,
        w: &mut WriteSet,
        id: &Identifier,
        version: Option<i64>,
    ) -> Result<(), StoreError> {
        let (expr, values) = version_condition(version);
        let mut check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(node_pk(id), NODE_SK)))
            .condition_expression(expr);
        if !values.is_empty() {
            check = check.set_expression_attribute_values(Some(values));
        }
        let check = check
            .build()
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        w.items
            .push(TransactWriteItem::builder().condition_check(check).build());
        Ok(())
    }

    /// Makes the change fail (as a conflict, so it is re-read) if an erasure suppressed the
    /// identifier after this change read that it was not.
    fn check_not_suppressed(&self, w: &mut WriteSet, id: &Identifier) -> Result<(), StoreError> {
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(key(suppression_pk(id), SUPPRESSION_SK)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Failed(e.to_string()))?;
        w.items
            .push(TransactWriteItem::builder().condition_check(check).build());
        Ok(())
    }

    /// Writes the set atomically. A failed condition (a concurrent writer) is `Conflict`.
    pub async fn commit(&self, w: WriteSet) -> Result<(), StoreError> {
        if w.items.is_empty() {
            return Ok(());
        }
        if w.items.len() > 100 {
            return Err(StoreError::Failed(format!(
                "a change needs {} writes, more than a transaction holds (100)",
                w.items.len()
            )));
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(w.items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err) => {
                if let Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(tc)) = err.as_service_error() {
                    let conflict = tc.cancellation_reasons().iter().any(|r| {
                        matches!(r.code(), Some("ConditionalCheckFailed") | Some("TransactionConflict"))
                    });
                    if conflict {
                        return Err(StoreError::Conflict);
                    }
                    let codes: Vec<_> = tc.cancellation_reasons().iter().filter_map(|r| r.code()).collect();
                    return Err(StoreError::Unavailable(format!("transaction cancelled: {codes:?}")));
                }
                Err(classify(err))
            }
        }
    }

    pub async fn put_model(&self, scope: &Scope, model: &StoreModel) -> Result<(), StoreError> {
        let mut item = key(model_pk(scope), MODEL_SK);
        item.insert("m".into(), s(to_json(model)?));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Marks identifiers as erased: from now on the projector drops their records.
    pub async fn put_suppressions(&self, ids: &[Identifier], at: Millis) -> Result<(), StoreError> {
        let items = ids
            .iter()
            .map(|id| {
                let mut item = key(suppression_pk(id), SUPPRESSION_SK);
                item.insert("at".into(), n(at.0));
                Ok(aws_sdk_dynamodb::types::WriteRequest::builder()
                    .put_request(
                        aws_sdk_dynamodb::types::PutRequest::builder()
                            .set_item(Some(item))
                            .build()
                            .map_err(|e| StoreError::Failed(e.to_string()))?,
                    )
                    .build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.batch_write(items).await
    }
}
