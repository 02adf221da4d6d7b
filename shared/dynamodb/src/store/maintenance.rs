//! Maintenance: whole-table scans for calibration and the rebuild, and the partition reads
//! and batched deletes of erasure. None of these is on a request or ingest path.

use crate::keys::*;
use aws_sdk_dynamodb::types::AttributeValue;
use c360_domain::{Identifier, Scope};

use super::codec::*;
use super::{classify, Item, ScanRow, Store, StoreError};

impl Store {
    /// Every node and stats item, read with a parallel scan (`segments` at once). For the
    /// weekly calibration: it reads the whole table.
    pub async fn scan_nodes_and_stats(&self, segments: i32) -> Result<Vec<ScanRow>, StoreError> {
        let pages = futures::future::try_join_all(
            (0..segments).map(|segment| self.scan_segment(segment, segments)),
        )
        .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    pub(super) async fn scan_segment(
        &self,
        segment: i32,
        segments: i32,
    ) -> Result<Vec<ScanRow>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let resp = self
                .client
                .scan()
                .table_name(&self.table)
                .segment(segment)
                .total_segments(segments)
                .filter_expression(format!(
                    "begins_with(sk, :stats) OR sk = :node OR attribute_exists({DISHES_ATTR})"
                ))
                .expression_attribute_values(":stats", s(stats_sk_prefix()))
                .expression_attribute_values(":node", s(NODE_SK))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            for item in resp.items() {
                let (Some(pk), Some(sk)) = (get_s(item, "pk"), get_s(item, "sk")) else {
                    continue;
                };
                let Some(id) = parse_node_pk(pk) else {
                    continue;
                };
                if sk == NODE_SK {
                    out.push(ScanRow::Node {
                        id,
                        links: parse_node(item)?.links,
                    });
                } else if let Some(AttributeValue::Ss(dishes)) = item.get(DISHES_ATTR) {
                    // The all-stores entry of the same order is left out: every order has a
                    // store, and the chain's baskets are the stores' together.
                    let Some(order) = parse_store_order_entry_sk(sk) else {
                        continue;
                    };
                    let at = get_s(item, "lc").and_then(|k| {
                        time_from_key(&scope_prefix(&Scope::Store(order.0.clone())), k)
                    });
                    if let Some(at) = at {
                        out.push(ScanRow::CountedOrder {
                            id,
                            store: order.0,
                            order: order.1,
                            at,
                            dishes: dishes.clone(),
                        });
                    }
                } else if let Some(scope) = parse_stats_sk(sk) {
                    out.push(ScanRow::Stats {
                        id,
                        scope,
                        stats: Box::new(decode(item.clone(), "stats")?),
                    });
                }
            }
            match resp.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(out),
            }
        }
    }

    /// Every item of one partition, page after page (strongly consistent), with only the
    /// attributes `projection` names if it is given.
    pub async fn partition(
        &self,
        pk: &str,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .set_projection_expression(projection.map(str::to_string))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(classify)
    }

    /// The keys of every item under a node: the node, its statistics, timeline entries and
    /// search tokens.
    pub async fn node_item_keys(
        &self,
        id: &Identifier,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let items = self.partition(&node_pk(id), Some("pk, sk")).await?;
        Ok(items
            .iter()
            .filter_map(|item| {
                Some((
                    get_s(item, "pk")?.to_string(),
                    get_s(item, "sk")?.to_string(),
                ))
            })
            .collect())
    }

    /// Deletes items by key, 25 per BatchWriteItem.
    pub async fn delete_keys(&self, keys: &[(String, String)]) -> Result<(), StoreError> {
        let requests = keys
            .iter()
            .map(|(pk, sk)| {
                Ok(aws_sdk_dynamodb::types::WriteRequest::builder()
                    .delete_request(
                        aws_sdk_dynamodb::types::DeleteRequest::builder()
                            .set_key(Some(key(pk.clone(), sk.clone())))
                            .build()
                            .map_err(|e| StoreError::Failed(e.to_string()))?,
                    )
                    .build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.batch_write(requests).await
    }

    pub(super) async fn batch_write(
        &self,
        requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
    ) -> Result<(), StoreError> {
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            let mut attempts = 0;
            while !pending.is_empty() {
                let resp = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(classify)?;
                pending = resp
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if !pending.is_empty() {
                    attempts += 1;
                    if attempts > 8 {
                        return Err(StoreError::Unavailable(
                            "BatchWriteItem kept returning unprocessed items".into(),
                        ));
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(10 << attempts.min(6)))
                        .await;
                }
            }
        }
        Ok(())
    }
}
