//! Segment storage (`docs/adr/0009-segments.md`): each customer's segment rows (one per
//! scope, under a node of its cluster), the member items and counts of every saved segment and
//! scope, the roster index, and the rescoring's scan and checkpoints; the definitions are
//! `segment_defs.rs`. Over 400 lines because the row transaction and each read's item
//! parsing belong next to each other.

use crate::keys::*;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};
use c360_domain::projection::Scope;
use c360_domain::segment::SegmentRow;
use c360_domain::{Identifier, Millis};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::codec::*;
use super::{classify, Item, Store, StoreError, StoredStats, WriteSet};

/// A customer's segment row as stored under one node, with what its write is conditioned on.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    pub node: Identifier,
    pub scope: Scope,
    pub row: SegmentRow,
    /// The saved segments the customer was found in when the row was written.
    pub segments: BTreeSet<String>,
    /// The versions of the stats and nodes the row was computed from (see
    /// `c360_runtime::segments`): a row is rewritten when they move, even if its figures
    /// did not, so that a slower evaluation of older figures cannot overwrite it.
    pub fingerprint: String,
    pub version: i64,
    /// The customer's search tokens in the scope (stored forms) that the row's write put
    /// under its node (`F#` items, index `gsi_find`); `None` for a row written before them,
    /// which the next reconcile rewrites with its tokens.
    pub tokens: Option<BTreeSet<String>>,
}

/// One row's change and the membership changes it carries, written together.
#[derive(Debug, Clone, PartialEq)]
pub struct RowWrite {
    pub node: Identifier,
    pub scope: Scope,
    /// The row's version as read; `None` when there was none.
    pub expected: Option<i64>,
    /// The new row; `None` deletes it.
    pub new: Option<NewRow>,
    /// Segments whose member item `(segment, scope, node)` is written, count +1.
    pub enter: Vec<String>,
    /// Segments whose member item `(segment, scope, node)` is deleted, count -1.
    pub leave: Vec<String>,
    /// Search tokens (stored forms) whose item `(node, scope, token)` is written.
    pub find_put: Vec<String>,
    /// Search tokens whose item is deleted.
    pub find_delete: Vec<String>,
}

impl RowWrite {
    /// The transaction items this write takes besides the cluster's node checks.
    pub fn items(&self) -> usize {
        1 + 2 * (self.enter.len() + self.leave.len()) + self.find_put.len() + self.find_delete.len()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NewRow {
    pub row: SegmentRow,
    pub segments: BTreeSet<String>,
    pub fingerprint: String,
    /// Whether the node is its cluster's canonical one: only those rows are in the roster.
    pub canonical: bool,
    /// The customer's search tokens in the scope (`c360_domain::search::customer_tokens`),
    /// stored forms; recorded on the row so that the next write knows which items it has.
    pub tokens: BTreeSet<String>,
}

/// Where a rescoring run stands in one scan segment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RescoreCheckpoint {
    /// The scan's last evaluated key (`pk`, `sk`); `None` at the start.
    pub after: Option<(String, String)>,
    pub done: bool,
    /// Customers evaluated and rows written so far in this segment.
    pub evaluated: i64,
    pub written: i64,
    /// When this segment's walk began (ms): a run's start is its segments' earliest.
    pub started_at: Option<Millis>,
}

/// A row's search tokens (a list of stored forms).
const TOKENS_ATTR: &str = "tk";

fn built(b: impl std::fmt::Display) -> StoreError {
    StoreError::Failed(b.to_string())
}

fn parse_row(node: Identifier, scope: Scope, item: &Item) -> Result<StoredRow, StoreError> {
    let row: SegmentRow = from_json(get_s(item, "row").unwrap_or("{}"), "segment row")?;
    let segments = item
        .get("segs")
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
        .unwrap_or_default();
    let tokens = item
        .get(TOKENS_ATTR)
        .and_then(|v| v.as_l().ok())
        .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect());
    Ok(StoredRow {
        node,
        scope,
        row,
        segments,
        fingerprint: get_s(item, "fp").unwrap_or_default().to_string(),
        version: get_n(item, "ver").unwrap_or(0),
        tokens,
    })
}

impl Store {
    /// A node's segment rows in every scope (one strongly consistent Query).
    pub async fn segment_rows(&self, node: &Identifier) -> Result<Vec<StoredRow>, StoreError> {
        let items = self
            .node_items_with_prefix(node, segment_row_prefix(), None)
            .await?;
        items
            .iter()
            .filter_map(|item| {
                let scope = get_s(item, "sk").and_then(parse_segment_row_sk)?;
                Some(parse_row(node.clone(), scope, item))
            })
            .collect()
    }

    /// A node's statistics in every scope, with their versions (one strongly consistent Query).
    pub async fn node_stats_versioned(
        &self,
        node: &Identifier,
    ) -> Result<BTreeMap<Scope, StoredStats>, StoreError> {
        let items = self
            .node_items_with_prefix(node, stats_sk_prefix(), None)
            .await?;
        items
            .into_iter()
            .map(|item| {
                let scope = get_s(&item, "sk")
                    .and_then(parse_stats_sk)
                    .ok_or_else(|| StoreError::Failed("a stats item without a scope".into()))?;
                let version = get_n(&item, "ver").unwrap_or(0);
                Ok((
                    scope,
                    StoredStats {
                        stats: decode(item, "stats")?,
                        version,
                    },
                ))
            })
            .collect()
    }

    /// Writes the changes of one customer's rows in one scope, and their memberships and
    /// counts, in one transaction conditioned on each row's version as read and on the
    /// cluster's nodes (`(node, version)`, `None`: absent). A failed condition is `Conflict`.
    pub async fn commit_segment_rows(
        &self,
        rows: &[RowWrite],
        nodes: &[(Identifier, Option<i64>)],
    ) -> Result<(), StoreError> {
        let mut items: Vec<TransactWriteItem> = Vec::new();
        for (id, version) in nodes {
            let (expr, values) = match version {
                None => ("attribute_not_exists(pk)", HashMap::new()),
                Some(v) => ("ver = :ver", HashMap::from([(":ver".to_string(), n(*v))])),
            };
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(key(node_pk(id), NODE_SK)))
                .condition_expression(expr)
                .set_expression_attribute_values((!values.is_empty()).then_some(values))
                .build()
                .map_err(built)?;
            items.push(TransactWriteItem::builder().condition_check(check).build());
        }
        for w in rows {
            let (cond, values) = match w.expected {
                None => ("attribute_not_exists(pk)", HashMap::new()),
                Some(v) => ("ver = :ver", HashMap::from([(":ver".to_string(), n(v))])),
            };
            let values = (!values.is_empty()).then_some(values);
            let row_key = key(node_pk(&w.node), segment_row_sk(&w.scope));
            match &w.new {
                Some(new) => {
                    let mut item = row_key;
                    item.insert("row".into(), s(to_json(&new.row)?));
                    item.insert(
                        "segs".into(),
                        AttributeValue::L(new.segments.iter().map(|x| s(x.clone())).collect()),
                    );
                    item.insert("fp".into(), s(new.fingerprint.clone()));
                    item.insert(
                        TOKENS_ATTR.into(),
                        AttributeValue::L(new.tokens.iter().map(|x| s(x.clone())).collect()),
                    );
                    item.insert("ver".into(), n(w.expected.unwrap_or(0) + 1));
                    if new.canonical {
                        item.insert("rp".into(), s(roster_partition(&w.scope)));
                        item.insert("rs".into(), s(w.node.key()));
                    }
                    let put = Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(item))
                        .condition_expression(cond)
                        .set_expression_attribute_values(values)
                        .build()
                        .map_err(built)?;
                    items.push(TransactWriteItem::builder().put(put).build());
                }
                None => {
                    let del = Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(row_key))
                        .condition_expression(cond)
                        .set_expression_attribute_values(values)
                        .build()
                        .map_err(built)?;
                    items.push(TransactWriteItem::builder().delete(del).build());
                }
            }
            for put in self.find_token_writes(w, &w.find_put, &w.find_delete)? {
                items.push(put);
            }
            for (segs, delta) in [(&w.enter, 1), (&w.leave, -1)] {
                for seg in segs {
                    let pk = segment_member_pk(seg, &w.scope);
                    let member = key(pk.clone(), w.node.key());
                    if delta > 0 {
                        let put = Put::builder()
                            .table_name(&self.table)
                            .set_item(Some(member))
                            .build()
                            .map_err(built)?;
                        items.push(TransactWriteItem::builder().put(put).build());
                    } else {
                        let del = Delete::builder()
                            .table_name(&self.table)
                            .set_key(Some(member))
                            .build()
                            .map_err(built)?;
                        items.push(TransactWriteItem::builder().delete(del).build());
                    }
                    let count = Update::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(pk, SEGMENT_COUNT_SK)))
                        .update_expression("ADD n :d")
                        .expression_attribute_values(":d", n(delta))
                        .build()
                        .map_err(built)?;
                    items.push(TransactWriteItem::builder().update(count).build());
                }
            }
        }
        // Store::commit: empty is nothing to do, over 100 items is refused, a failed condition
        // is Conflict and any other cancellation Unavailable, as for a projection's change.
        self.commit(WriteSet::from_items(items)).await
    }

    /// The items that put `puts` and delete `deletes`, search tokens of `w`'s row.
    fn find_token_writes(
        &self,
        w: &RowWrite,
        puts: &[String],
        deletes: &[String],
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut items = Vec::new();
        for token in puts {
            let mut item = key(node_pk(&w.node), find_sk(&w.scope, token));
            item.insert("sp".into(), s(find_partition(&w.scope, token)));
            item.insert("ss".into(), s(w.node.key()));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .build()
                .map_err(built)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        for token in deletes {
            let del = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(key(node_pk(&w.node), find_sk(&w.scope, token))))
                .build()
                .map_err(built)?;
            items.push(TransactWriteItem::builder().delete(del).build());
        }
        Ok(items)
    }

    /// Writes search token items of a row outside its transaction, up to 100 per transaction
    /// (for a row whose memberships and tokens do not fit in one with it: its puts go before
    /// the row, its deletes after, and the search keeps only hits whose row lists the token).
    pub async fn write_find_tokens(
        &self,
        w: &RowWrite,
        puts: &[String],
        deletes: &[String],
    ) -> Result<(), StoreError> {
        let items = self.find_token_writes(w, puts, deletes)?;
        for chunk in items.chunks(100) {
            self.commit(WriteSet::from_items(chunk.to_vec())).await?;
        }
        Ok(())
    }

    /// The canonical identifiers of the customers holding a search token in a scope, in
    /// identifier key order, at most `limit` (one Query of `gsi_find`), and whether the index
    /// may hold more.
    pub async fn find_customers(
        &self,
        scope: &Scope,
        token: &str,
        limit: usize,
    ) -> Result<(Vec<Identifier>, bool), StoreError> {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_FIND)
            .key_condition_expression("sp = :sp")
            .expression_attribute_values(":sp", s(find_partition(scope, token)))
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(classify)?;
        let more = resp.last_evaluated_key().is_some_and(|k| !k.is_empty());
        let ids = resp
            .items()
            .iter()
            .filter_map(|item| get_s(item, "ss"))
            .filter_map(|k| Identifier::from_key(k).ok())
            .collect();
        Ok((ids, more))
    }

    /// One page of a saved segment's members in a scope, by canonical identifier key, after
    /// `after` (one Query); the next page's start when there may be more.
    pub async fn segment_member_page(
        &self,
        segment: &str,
        scope: &Scope,
        limit: usize,
        after: Option<&Identifier>,
    ) -> Result<(Vec<Identifier>, Option<Identifier>), StoreError> {
        let pk = segment_member_pk(segment, scope);
        let start = after.map(|a| key(pk.clone(), a.key()));
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk > :count")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":count", s(SEGMENT_COUNT_SK))
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)?;
        let ids: Vec<Identifier> = resp
            .items()
            .iter()
            .filter_map(|i| get_s(i, "sk"))
            .filter_map(|k| Identifier::from_key(k).ok())
            .collect();
        let more = resp
            .last_evaluated_key()
            .filter(|k| !k.is_empty())
            .and(ids.last().cloned());
        Ok((ids, more))
    }

    /// The rows of `(node, scope)` pairs (one BatchGetItem per 100, eventually consistent).
    pub async fn segment_rows_at(
        &self,
        keys: &[(Identifier, Scope)],
    ) -> Result<BTreeMap<Identifier, StoredRow>, StoreError> {
        let wanted: Vec<Item> = keys
            .iter()
            .map(|(id, scope)| key(node_pk(id), segment_row_sk(scope)))
            .collect();
        let mut out = BTreeMap::new();
        for item in self.batch_get(wanted, false).await? {
            let (Some(node), Some(scope)) = (
                get_s(&item, "pk").and_then(parse_node_pk),
                get_s(&item, "sk").and_then(parse_segment_row_sk),
            ) else {
                continue;
            };
            out.insert(node.clone(), parse_row(node, scope, &item)?);
        }
        Ok(out)
    }

    /// A saved segment's member count in a scope (one GetItem); 0 when it has none.
    pub async fn segment_count(&self, segment: &str, scope: &Scope) -> Result<i64, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(
                segment_member_pk(segment, scope),
                SEGMENT_COUNT_SK,
            )))
            .send()
            .await
            .map_err(classify)?;
        Ok(resp.item().and_then(|i| get_n(i, "n")).unwrap_or(0))
    }

    /// Which of `ids` (canonical identifiers) are members of a saved segment in a scope (one
    /// BatchGetItem per 100).
    pub async fn segment_members_among(
        &self,
        segment: &str,
        scope: &Scope,
        ids: &[Identifier],
    ) -> Result<BTreeSet<Identifier>, StoreError> {
        let pk = segment_member_pk(segment, scope);
        let wanted: Vec<Item> = ids.iter().map(|id| key(pk.clone(), id.key())).collect();
        Ok(self
            .batch_get(wanted, false)
            .await?
            .iter()
            .filter_map(|i| get_s(i, "sk"))
            .filter_map(|k| Identifier::from_key(k).ok())
            .collect())
    }

    /// One page of a scope's roster (the customers with a record in it, by canonical
    /// identifier key, whole rows) after `after`, at most `limit` rows (one index Query).
    pub async fn roster_page(
        &self,
        scope: &Scope,
        limit: usize,
        after: Option<&Identifier>,
    ) -> Result<(Vec<StoredRow>, Option<Identifier>), StoreError> {
        let start = after.map(|a| {
            let mut k = key(node_pk(a), segment_row_sk(scope));
            k.insert("rp".into(), s(roster_partition(scope)));
            k.insert("rs".into(), s(a.key()));
            k
        });
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_ROSTER)
            .key_condition_expression("rp = :rp")
            .expression_attribute_values(":rp", s(roster_partition(scope)))
            .limit(limit.clamp(1, 1000) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(classify)?;
        let mut rows = Vec::new();
        for item in resp.items() {
            let Some(node) = get_s(item, "pk").and_then(parse_node_pk) else {
                continue;
            };
            rows.push(parse_row(node, scope.clone(), item)?);
        }
        let more = resp
            .last_evaluated_key()
            .filter(|k| !k.is_empty())
            .and(rows.last().map(|r| r.node.clone()));
        Ok((rows, more))
    }

    /// One page of a parallel scan over the node items (the rescoring's walk over every
    /// customer): the nodes found and where the next page starts.
    pub async fn scan_nodes_page(
        &self,
        segment: i32,
        segments: i32,
        after: Option<(String, String)>,
        limit: i32,
    ) -> Result<(Vec<(Identifier, Vec<Identifier>)>, Option<(String, String)>), StoreError> {
        let resp = self
            .client
            .scan()
            .table_name(&self.table)
            .segment(segment)
            .total_segments(segments)
            .set_exclusive_start_key(after.map(|(pk, sk)| key(pk, sk)))
            .limit(limit)
            .send()
            .await
            .map_err(classify)?;
        let mut nodes = Vec::new();
        // No filter expression: a Scan reads (and bills) every item either way; node items
        // are picked here.
        for item in resp
            .items()
            .iter()
            .filter(|i| get_s(i, "sk") == Some(NODE_SK))
        {
            let Some(id) = get_s(item, "pk").and_then(parse_node_pk) else {
                continue;
            };
            nodes.push((id, parse_node(item)?.links.cluster));
        }
        let next = resp
            .last_evaluated_key()
            .and_then(|k| Some((get_s(k, "pk")?.to_string(), get_s(k, "sk")?.to_string())));
        Ok((nodes, next))
    }

    /// A rescoring run's checkpoint for one scan segment (default: not started).
    pub async fn rescore_checkpoint(
        &self,
        run: &str,
        segment: i32,
        segments: i32,
    ) -> Result<RescoreCheckpoint, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(
                RESCORE_PK.to_string(),
                rescore_checkpoint_sk(run, segment, segments),
            )))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        Ok(match resp.item() {
            None => RescoreCheckpoint::default(),
            Some(i) => RescoreCheckpoint {
                after: get_s(i, "after_pk")
                    .zip(get_s(i, "after_sk"))
                    .map(|(p, k)| (p.to_string(), k.to_string())),
                done: i
                    .get("done")
                    .and_then(|v| v.as_bool().ok())
                    .copied()
                    .unwrap_or(false),
                evaluated: get_n(i, "evaluated").unwrap_or(0),
                written: get_n(i, "written").unwrap_or(0),
                started_at: get_n(i, "started_at").map(Millis),
            },
        })
    }

    pub async fn put_rescore_checkpoint(
        &self,
        run: &str,
        segment: i32,
        segments: i32,
        checkpoint: &RescoreCheckpoint,
    ) -> Result<(), StoreError> {
        let mut item = key(
            RESCORE_PK.to_string(),
            rescore_checkpoint_sk(run, segment, segments),
        );
        if let Some((pk, sk)) = &checkpoint.after {
            item.insert("after_pk".into(), s(pk.clone()));
            item.insert("after_sk".into(), s(sk.clone()));
        }
        item.insert("done".into(), AttributeValue::Bool(checkpoint.done));
        item.insert("evaluated".into(), n(checkpoint.evaluated));
        item.insert("written".into(), n(checkpoint.written));
        if let Some(t) = checkpoint.started_at {
            item.insert("started_at".into(), n(t.0));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }
}
