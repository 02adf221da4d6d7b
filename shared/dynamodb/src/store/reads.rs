//! The reads: what a change must see before it is planned (anchor, nodes, stats, models,
//! suppressions, in one `BatchGetItem` round), and what an answer shows (nodes, stats,
//! extremes, timeline pages, recent entries of a kind, search tokens).

use crate::keys::*;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use c360_domain::projection::{
    Extreme, RecentEntry, Scope, ScopeStats, TimelineEntry, RECENT_KEPT,
};
use c360_domain::{Identifier, Millis, SourceKind};
use std::collections::{BTreeMap, HashMap};

use super::codec::*;
use super::{classify, Item, Loaded, Store, StoreError, StoredNode, StoredStats};

/// Orders read per page when a dish's latest order is looked up.
const DISH_PAGE: i32 = 25;

/// What a timeline read needs of an entry item: its time key and the rendered entry.
const ENTRY_PROJECTION: &str = "lt, e";

/// The items one BatchGetItem round reads (any may be empty).
#[derive(Debug, Clone, Copy, Default)]
pub struct Keys<'a> {
    /// A record's anchor.
    pub anchor: Option<(SourceKind, &'a str)>,
    pub nodes: &'a [Identifier],
    pub stats: &'a [(Identifier, Scope)],
    /// Recent lists ([`c360_domain::projection::replace_recent`]) of a source.
    pub recent: &'a [(Identifier, Scope, SourceKind)],
    /// Scopes whose fitted prediction model to read.
    pub models: &'a [Scope],
    /// Identifiers whose erasure (suppression) to look for.
    pub suppressions: &'a [Identifier],
}

impl Store {
    /// A Query of a node's records of one source in a scope, newest first (`lsi_kind`, which
    /// carries every attribute): recent orders and reservations, a dish's latest order, the
    /// baskets the dish ranking starts from.
    pub(super) fn newest_of_kind(
        &self,
        node: &Identifier,
        scope: &Scope,
        kind: SourceKind,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_KIND)
            .key_condition_expression("pk = :pk AND begins_with(lk, :prefix)")
            .expression_attribute_values(":pk", s(node_pk(node)))
            .expression_attribute_values(":prefix", s(kind_prefix(scope, kind)))
            .scan_index_forward(false)
    }

    /// Reads items by key in as few BatchGetItem calls as possible (100 keys each), retrying
    /// unprocessed keys. A key asked twice is read once (DynamoDB refuses duplicates).
    pub(super) async fn batch_get(
        &self,
        keys: Vec<Item>,
        consistent: bool,
    ) -> Result<Vec<Item>, StoreError> {
        let mut seen = std::collections::BTreeSet::new();
        let keys: Vec<Item> = keys
            .into_iter()
            .filter(|k| {
                seen.insert((
                    get_s(k, "pk").unwrap_or_default().to_string(),
                    get_s(k, "sk").unwrap_or_default().to_string(),
                ))
            })
            .collect();
        let mut out = Vec::new();
        for chunk in keys.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(consistent)
                    .build()
                    .map_err(|e| StoreError::Failed(e.to_string()))?,
            );
            let mut attempts = 0;
            while let Some(request) = pending.take() {
                let resp = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(classify)?;
                if let Some(mut responses) = resp.responses {
                    out.extend(responses.remove(&self.table).unwrap_or_default());
                }
                if let Some(mut unprocessed) = resp.unprocessed_keys {
                    if let Some(rest) = unprocessed
                        .remove(&self.table)
                        .filter(|r| !r.keys().is_empty())
                    {
                        attempts += 1;
                        if attempts > 8 {
                            return Err(StoreError::Unavailable(
                                "BatchGetItem kept returning unprocessed keys".into(),
                            ));
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(10 << attempts.min(6)))
                            .await;
                        pending = Some(rest);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Reads a record's anchor, nodes and stats in one BatchGetItem.
    pub async fn load(
        &self,
        anchor: Option<(SourceKind, &str)>,
        nodes: &[Identifier],
        stats: &[(Identifier, Scope)],
        consistent: bool,
    ) -> Result<Loaded, StoreError> {
        self.load_with_models(anchor, nodes, stats, &[], consistent)
            .await
    }

    /// [`Store::load`], plus the fitted models of some scopes, in the same BatchGetItem.
    pub async fn load_with_models(
        &self,
        anchor: Option<(SourceKind, &str)>,
        nodes: &[Identifier],
        stats: &[(Identifier, Scope)],
        models: &[Scope],
        consistent: bool,
    ) -> Result<Loaded, StoreError> {
        let keys = Keys {
            anchor,
            nodes,
            stats,
            models,
            ..Keys::default()
        };
        self.load_keys(keys, consistent).await
    }

    /// Whatever `wanted` names, in as few BatchGetItem calls as possible (one up to 100 keys).
    pub async fn load_keys(
        &self,
        wanted: Keys<'_>,
        consistent: bool,
    ) -> Result<Loaded, StoreError> {
        let Keys {
            anchor,
            nodes,
            stats,
            recent,
            models,
            suppressions,
        } = wanted;
        let mut keys: Vec<Item> = models
            .iter()
            .map(|scope| key(model_pk(scope), MODEL_SK))
            .collect();
        keys.extend(
            suppressions
                .iter()
                .map(|id| key(suppression_pk(id), SUPPRESSION_SK)),
        );
        if let Some((kind, id)) = anchor {
            keys.push(key(anchor_pk(kind, id), ANCHOR_SK));
        }
        keys.extend(nodes.iter().map(|id| key(node_pk(id), NODE_SK)));
        keys.extend(
            stats
                .iter()
                .map(|(id, scope)| key(node_pk(id), stats_sk(scope))),
        );
        keys.extend(
            recent
                .iter()
                .map(|(id, scope, kind)| key(node_pk(id), recent_sk(scope, *kind))),
        );
        let mut by_key: HashMap<(String, String), Item> = HashMap::new();
        for item in self.batch_get(keys, consistent).await? {
            let k = (
                get_s(&item, "pk").unwrap_or_default().to_string(),
                get_s(&item, "sk").unwrap_or_default().to_string(),
            );
            by_key.insert(k, item);
        }
        let mut loaded = Loaded {
            suppressed: suppressions
                .iter()
                .filter(|id| by_key.contains_key(&(suppression_pk(id), SUPPRESSION_SK.to_string())))
                .cloned()
                .collect(),
            ..Loaded::default()
        };
        for scope in models {
            if let Some(item) = by_key.remove(&(model_pk(scope), MODEL_SK.to_string())) {
                if let Some(text) = get_s(&item, "m") {
                    loaded
                        .models
                        .insert(scope.clone(), from_json(text, "model")?);
                }
            }
        }
        if let Some((kind, id)) = anchor {
            if let Some(item) = by_key.remove(&(anchor_pk(kind, id), ANCHOR_SK.to_string())) {
                loaded.anchor = Some(parse_anchor(item)?);
            }
        }
        for id in nodes {
            if let Some(item) = by_key.remove(&(node_pk(id), NODE_SK.to_string())) {
                loaded.nodes.insert(id.clone(), parse_node(&item)?);
            }
        }
        for (id, scope) in stats {
            if let Some(item) = by_key.remove(&(node_pk(id), stats_sk(scope))) {
                let version = get_n(&item, "ver").unwrap_or(0);
                loaded.stats.insert(
                    (id.clone(), scope.clone()),
                    StoredStats {
                        stats: decode(item, "stats")?,
                        version,
                    },
                );
            }
        }
        for (id, scope, kind) in recent {
            if let Some(item) = by_key.remove(&(node_pk(id), recent_sk(scope, *kind))) {
                if let Some(text) = get_s(&item, "r") {
                    loaded.recent.insert(
                        (id.clone(), scope.clone(), *kind),
                        from_json(text, "recent list")?,
                    );
                }
            }
        }
        Ok(loaded)
    }

    pub async fn get_node(&self, id: &Identifier) -> Result<Option<StoredNode>, StoreError> {
        let resp = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(node_pk(id), NODE_SK)))
            .send()
            .await
            .map_err(classify)?;
        resp.item.map(|item| parse_node(&item)).transpose()
    }

    /// Every item of a node's partition whose sort key begins with `prefix`, page after page
    /// (one strongly consistent Query), whole or only the attributes of `projection`.
    pub(super) async fn node_items_with_prefix(
        &self,
        id: &Identifier,
        prefix: &str,
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(node_pk(id)))
            .expression_attribute_values(":prefix", s(prefix))
            .set_projection_expression(projection.map(str::to_string))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(classify)
    }

    /// A node's statistics in every scope it has records in (one Query, strongly consistent):
    /// what a re-link reads to rewrite the node's search tokens wherever it holds them.
    pub async fn node_stats(
        &self,
        id: &Identifier,
    ) -> Result<BTreeMap<Scope, ScopeStats>, StoreError> {
        Ok(self
            .node_stats_versioned(id)
            .await?
            .into_iter()
            .map(|(scope, s)| (scope, s.stats))
            .collect())
    }

    /// The extreme among a node's records in a scope, leaving out one record (the one
    /// being changed, whose new state the caller already counted).
    pub async fn find_extreme(
        &self,
        node: &Identifier,
        scope: &Scope,
        extreme: &Extreme,
        exclude_sk: &str,
    ) -> Result<Option<Millis>, StoreError> {
        let (index, attr, newest_first) = match extreme {
            Extreme::FirstCountedOrder => (INDEX_COUNTED, "lc", false),
            Extreme::LastCountedOrder => (INDEX_COUNTED, "lc", true),
            Extreme::LastEvent => (INDEX_TIME, "lt", true),
            Extreme::DishLastOrdered(dish) => {
                return self.dish_last_ordered(node, scope, dish, exclude_sk).await
            }
        };
        let prefix = scope_prefix(scope);
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(format!("pk = :pk AND begins_with({attr}, :prefix)"))
            .expression_attribute_values(":pk", s(node_pk(node)))
            .expression_attribute_values(":prefix", s(&prefix))
            .scan_index_forward(!newest_first)
            .limit(2)
            .consistent_read(true)
            .projection_expression(format!("sk, {attr}"))
            .send()
            .await
            .map_err(classify)?;
        Ok(resp
            .items()
            .iter()
            .find(|item| get_s(item, "sk") != Some(exclude_sk))
            .and_then(|item| get_s(item, attr).and_then(|k| time_from_key(&prefix, k))))
    }

    /// The latest counted order containing `dish` among a node's orders in a scope, leaving
    /// out one record. Pages through the node's orders newest first ([`INDEX_KIND`], keys,
    /// `lc` and [`DISHES_ATTR`] only) until one has it: asked only when the order holding a
    /// dish's latest time goes away, and a dish the guest still orders is usually on one of
    /// the first orders read. Entries written before dishes were indexed never match; the dish
    /// then shows no `last_ordered` until its next order (or a rebuild).
    async fn dish_last_ordered(
        &self,
        node: &Identifier,
        scope: &Scope,
        dish: &str,
        exclude_sk: &str,
    ) -> Result<Option<Millis>, StoreError> {
        let prefix = scope_prefix(scope);
        let mut start = None;
        loop {
            let resp = self
                .newest_of_kind(node, scope, SourceKind::Orders)
                .limit(DISH_PAGE)
                .consistent_read(true)
                .projection_expression(format!("sk, lk, lc, {DISHES_ATTR}"))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(classify)?;
            let found = resp.items().iter().find_map(|item| {
                let has = matches!(item.get(DISHES_ATTR), Some(AttributeValue::Ss(d)) if d.iter().any(|x| x == dish));
                if !has || get_s(item, "sk") == Some(exclude_sk) {
                    return None;
                }
                get_s(item, "lc").and_then(|k| time_from_key(&prefix, k))
            });
            if found.is_some() {
                return Ok(found);
            }
            match resp.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => return Ok(None),
            }
        }
    }

    /// A page of a node's timeline in a scope, newest first, strictly older than `before`
    /// (a time key). Returns entries with their time keys, and whether more exist.
    pub async fn timeline_page(
        &self,
        node: &Identifier,
        scope: &Scope,
        limit: usize,
        before: Option<&str>,
    ) -> Result<(Vec<(String, TimelineEntry)>, bool), StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_TIME)
            .expression_attribute_values(":pk", s(node_pk(node)))
            // Only the time key and the entry: not the keys, index keys or an order's dish set.
            .projection_expression(ENTRY_PROJECTION)
            .scan_index_forward(false)
            .limit((limit + 1) as i32);
        let resp = newest_before(q, "pk", scope, before)
            .send()
            .await
            .map_err(classify)?;
        let mut out = Vec::new();
        for item in resp.items() {
            let Some(lt) = get_s(item, "lt") else {
                continue;
            };
            if Some(lt) == before {
                continue;
            }
            out.push((lt.to_string(), parse_entry(item)?));
        }
        let more = out.len() > limit
            || resp.last_evaluated_key().is_some_and(|k| !k.is_empty()) && out.len() >= limit;
        out.truncate(limit);
        Ok((out, more))
    }

    /// The newest entries of one kind (orders, reservations) of a node in a scope.
    pub async fn recent_of_kind(
        &self,
        node: &Identifier,
        scope: &Scope,
        kind: SourceKind,
        limit: usize,
    ) -> Result<Vec<(String, TimelineEntry)>, StoreError> {
        let resp = self
            .newest_of_kind(node, scope, kind)
            .projection_expression(ENTRY_PROJECTION)
            .limit(limit as i32)
            .send()
            .await
            .map_err(classify)?;
        resp.items()
            .iter()
            .map(|item| {
                Ok((
                    get_s(item, "lt").unwrap_or_default().to_string(),
                    parse_entry(item)?,
                ))
            })
            .collect()
    }

    /// A node's newest entries of `kind` in a scope, up to [`RECENT_KEPT`] of them, leaving out
    /// one record's (the one being changed): what a recent list that lost track is refilled
    /// from (one strongly consistent Query of `lsi_kind`).
    pub async fn newest_entries(
        &self,
        node: &Identifier,
        scope: &Scope,
        kind: SourceKind,
        exclude_sk: &str,
    ) -> Result<Vec<RecentEntry>, StoreError> {
        let resp = self
            .newest_of_kind(node, scope, kind)
            .projection_expression("sk, e")
            .limit(RECENT_KEPT as i32 + 1)
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        let mut out = Vec::new();
        for item in resp.items() {
            let Some(sk) = get_s(item, "sk").filter(|sk| *sk != exclude_sk) else {
                continue;
            };
            let id = entry_source_id(sk, scope, kind).ok_or_else(|| {
                StoreError::Failed(format!("a {} entry with the key {sk}", kind.table()))
            })?;
            out.push(RecentEntry {
                id: id.to_string(),
                entry: parse_entry(item)?,
            });
        }
        out.truncate(RECENT_KEPT);
        Ok(out)
    }
}

/// The key condition of a newest-first time page (`lt`) in `scope` under the partition
/// `{hash} = :{hash}` (its value set by the caller): the whole scope, or, after a cursor
/// (`before`, a time key), its entries up to that one. BETWEEN is inclusive: the cursor's own
/// entry comes back, and the caller skips it.
pub(super) fn newest_before(
    q: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    hash: &str,
    scope: &Scope,
    before: Option<&str>,
) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
    let prefix = scope_prefix(scope);
    match before {
        Some(cursor) => q
            .key_condition_expression(format!("{hash} = :{hash} AND lt BETWEEN :lo AND :hi"))
            .expression_attribute_values(":lo", s(&prefix))
            .expression_attribute_values(":hi", s(cursor)),
        None => q
            .key_condition_expression(format!("{hash} = :{hash} AND begins_with(lt, :prefix)"))
            .expression_attribute_values(":prefix", s(&prefix)),
    }
}
