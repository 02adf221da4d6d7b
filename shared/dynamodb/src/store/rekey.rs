//! The customer-keyed time index (`gsi_cluster`, ADR 0014): a customer's timeline page in one
//! Query whatever its identifiers, and the re-key that keeps each entry under its customer's
//! key after a re-link changes it.
//!
//! Entries carry their customer's key (`cg`) from the transaction that writes them, which
//! guards the home node's version: a change planned before a re-link re-plans. What a re-link
//! cannot do in its own transaction is move a node's older entries (unbounded: a phone with
//! years of orders), so each node item records the key its entries carry (`ek`). A node whose
//! `ek` differs from its cluster's key is *unsettled*: reads of its customer take the
//! per-node Queries, and [`Store::settle_entries`] re-keys it, called by the ingest after any
//! change that read or wrote such a node (the re-link itself; after a crash, the node's next
//! change). Correctness never depends on the re-key having run: a read uses the index only
//! when every node of the customer is settled, and keeps only the entries of its own nodes
//! (after a split, the other side's entries may still carry the old key).

use crate::keys::*;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, TransactWriteItem, Update};
use c360_domain::identity::cluster_key;
use c360_domain::projection::{Scope, TimelineEntry};
use c360_domain::Identifier;
use std::collections::HashMap;

use super::codec::*;
use super::{classify, Item, Store, StoreError};

/// Entries re-keyed per transaction (DynamoDB's limit is 100 items, one is the node check).
const REKEY_CHUNK: usize = 99;
/// Attempts of a re-key that keeps meeting concurrent changes of the node.
const REKEY_ATTEMPTS: u32 = 8;

/// A page of a customer's timeline from the customer-keyed index: the entries with their
/// time keys and home nodes, newest first, and where the next Query would start.
pub struct ClusterPage {
    pub entries: Vec<(String, Identifier, TimelineEntry)>,
    pub next: Option<HashMap<String, AttributeValue>>,
}

impl Store {
    /// Up to `limit` entries of the customer keyed `key` in `scope`, newest first, strictly
    /// older than `before` (a time key), from `start` (the previous page's `next`). Entries of
    /// any node under that key come back, also a departed one's (a split not yet re-keyed):
    /// the caller keeps its customer's own.
    pub async fn cluster_timeline_page(
        &self,
        key: &Identifier,
        scope: &Scope,
        limit: usize,
        before: Option<&str>,
        start: Option<HashMap<String, AttributeValue>>,
    ) -> Result<ClusterPage, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_CLUSTER)
            .expression_attribute_values(format!(":{CLUSTER_ATTR}"), s(key.key()))
            .projection_expression("pk, lt, e")
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start);
        let resp = super::reads::newest_before(q, CLUSTER_ATTR, scope, before)
            .send()
            .await
            .map_err(classify)?;
        let mut entries = Vec::new();
        for item in resp.items() {
            let (Some(lt), Some(home)) =
                (get_s(item, "lt"), get_s(item, "pk").and_then(parse_node_pk))
            else {
                continue;
            };
            if Some(lt) == before {
                continue;
            }
            entries.push((lt.to_string(), home, parse_entry(item)?));
        }
        Ok(ClusterPage {
            entries,
            next: resp.last_evaluated_key().filter(|k| !k.is_empty()).cloned(),
        })
    }

    /// Re-keys `id`'s entries to its cluster's current key and records it on the node
    /// ([`ENTRIES_KEY_ATTR`]); nothing when the node is settled or gone. Each batch of
    /// entries is written in a transaction that checks the node's version, so a re-link
    /// meanwhile (a new key) makes it start over with that key, and a change meanwhile writes
    /// its entry with the key this re-key writes (it guards the same version). Returns how
    /// many entries it re-keyed. Costs, for a node with `n` entries in all scopes: one
    /// BatchGetItem, `n / 1,000` Queries (keys and `cg` only) and `n / 99` transactions.
    pub async fn settle_entries(&self, id: &Identifier) -> Result<usize, StoreError> {
        let mut rekeyed = 0;
        for _ in 0..REKEY_ATTEMPTS {
            let Some(node) = self
                .load(None, std::slice::from_ref(id), &[], true)
                .await?
                .nodes
                .remove(id)
            else {
                return Ok(rekeyed);
            };
            if node.entries_settled(id) {
                return Ok(rekeyed);
            }
            let key = cluster_key(id, &node.links.cluster);
            match self.rekey_once(id, key, node.version).await {
                Ok(n) => return Ok(rekeyed + n),
                Err((n, StoreError::Conflict)) => rekeyed += n,
                Err((_, e)) => return Err(e),
            }
        }
        Err(StoreError::Contended(REKEY_ATTEMPTS))
    }

    /// One pass of [`Store::settle_entries`] at the node's `version`: what it re-keyed, or the
    /// error with what it had re-keyed before it.
    async fn rekey_once(
        &self,
        id: &Identifier,
        key: &Identifier,
        version: i64,
    ) -> Result<usize, (usize, StoreError)> {
        let projection = format!("pk, sk, {CLUSTER_ATTR}");
        let stale: Vec<Item> = self
            .node_items_with_prefix(id, entry_sk_prefix(), Some(&projection))
            .await
            .map_err(|e| (0, e))?
            .into_iter()
            .filter(|item| get_s(item, CLUSTER_ATTR) != Some(key.key().as_str()))
            .collect();
        let node_check = || -> Result<TransactWriteItem, StoreError> {
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(super::codec::key(node_pk(id), NODE_SK)))
                .condition_expression("ver = :ver")
                .expression_attribute_values(":ver", n(version))
                .build()
                .map_err(|e| StoreError::Failed(e.to_string()))?;
            Ok(TransactWriteItem::builder().condition_check(check).build())
        };
        let mut done = 0;
        for chunk in stale.chunks(REKEY_CHUNK) {
            let mut items = vec![node_check().map_err(|e| (done, e))?];
            for item in chunk {
                let (Some(pk), Some(sk)) = (get_s(item, "pk"), get_s(item, "sk")) else {
                    continue;
                };
                // Only an entry still there: one deleted meanwhile must not come back as a
                // bare key.
                let update = Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(super::codec::key(pk.to_string(), sk)))
                    .update_expression(format!("SET {CLUSTER_ATTR} = :cg"))
                    .condition_expression("attribute_exists(pk)")
                    .expression_attribute_values(":cg", s(key.key()))
                    .build()
                    .map_err(|e| (done, StoreError::Failed(e.to_string())))?;
                items.push(TransactWriteItem::builder().update(update).build());
            }
            self.commit(super::WriteSet::from_items(items))
                .await
                .map_err(|e| (done, e))?;
            done += chunk.len();
        }
        // Settled at this version: a re-link since would have failed the checks above or
        // fails this one.
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(super::codec::key(node_pk(id), NODE_SK)))
            .update_expression(format!("SET {ENTRIES_KEY_ATTR} = :ek"))
            .condition_expression("ver = :ver")
            .expression_attribute_values(":ek", s(key.key()))
            .expression_attribute_values(":ver", n(version))
            .build()
            .map_err(|e| (done, StoreError::Failed(e.to_string())))?;
        self.commit(super::WriteSet::from_items(vec![
            TransactWriteItem::builder().update(update).build(),
        ]))
        .await
        .map_err(|e| (done, e))?;
        Ok(done)
    }
}
