//! The customer360 table on DynamoDB: reads and the typed writes of one transaction. Its key
//! layout is `keys.rs` (and `docs/adr/0001-table-design.md`).

use crate::keys::*;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, KeysAndAttributes, Put, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use c360_domain::identity::NodeLinks;
use c360_domain::plan::Write;
use c360_domain::prediction::StoreModel;
use c360_domain::projection::{AppliedRecord, Extreme, Scope, ScopeStats, TimelineEntry};
use c360_domain::{Identifier, Millis, SourceKind};
use std::collections::{BTreeMap, HashMap};

type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer changed what we read: re-read and try again.
    #[error("a concurrent change won the race")]
    Conflict,
    /// DynamoDB could not be reached or throttled us: the caller may retry later.
    #[error("DynamoDB is unavailable: {0}")]
    Unavailable(String),
    /// A request was refused or an item could not be read: a bug or a broken table.
    #[error("DynamoDB request failed: {0}")]
    Failed(String),
}

pub(crate) fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            StoreError::Unavailable(format!("{err}"))
        }
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("");
            let msg = format!("{code}: {}", se.err().message().unwrap_or(""));
            match code {
                "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "InternalServerError"
                | "ServiceUnavailable" => StoreError::Unavailable(msg),
                "TransactionConflictException" | "ConditionalCheckFailedException" => {
                    StoreError::Conflict
                }
                _ => StoreError::Failed(msg),
            }
        }
        _ => StoreError::Failed(format!("{err}")),
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn key(pk: String, sk: impl Into<String>) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}
fn get_s<'a>(item: &'a Item, attr: &str) -> Option<&'a str> {
    item.get(attr)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}
fn get_n(item: &Item, attr: &str) -> Option<i64> {
    item.get(attr)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}
fn decode<T: serde::de::DeserializeOwned>(item: Item, what: &str) -> Result<T, StoreError> {
    serde_dynamo::from_item(item)
        .map_err(|e| StoreError::Failed(format!("cannot read {what} item: {e}")))
}
/// Record states and timeline entries are stored as JSON text: they are read whole, never
/// queried by attribute, and JSON keeps `188.0` a float where a DynamoDB map would not.
fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Failed(format!("cannot write item: {e}")))
}
fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Failed(format!("cannot read {what}: {e}")))
}
fn encode<T: serde::Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Failed(format!("cannot write item: {e}")))
}

/// A node as read, with the version its write must be conditioned on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNode {
    pub links: NodeLinks,
    pub version: i64,
}

#[derive(Debug, Default)]
pub struct Loaded {
    pub anchor: Option<AppliedRecord>,
    pub models: BTreeMap<Scope, StoreModel>,
    pub nodes: BTreeMap<Identifier, StoredNode>,
    pub stats: BTreeMap<(Identifier, Scope), StoredStats>,
    /// Those of the asked-for identifiers that an erasure suppressed.
    pub suppressed: Vec<Identifier>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ScanRow {
    Node {
        id: Identifier,
        links: NodeLinks,
    },
    Stats {
        id: Identifier,
        scope: Scope,
        stats: Box<ScopeStats>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredStats {
    pub stats: ScopeStats,
    pub version: i64,
}

/// What one change writes ([`Store::write_set`] from its plan), sent as one transaction.
#[derive(Debug, Default)]
pub struct WriteSet {
    items: Vec<TransactWriteItem>,
}

impl WriteSet {
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

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Store {
            client,
            table: table.into(),
        }
    }
    pub fn table(&self) -> &str {
        &self.table
    }
    pub fn client(&self) -> &Client {
        &self.client
    }

    // ---- writes --------------------------------------------------------------------

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
                    entry,
                    counted,
                } => self.put_entry(&mut w, node, scope, kind, source_id, entry, *counted)?,
                Write::DeleteEntry { node, scope } => {
                    self.delete_entry(&mut w, node, scope, kind, source_id)?
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

    #[allow(clippy::too_many_arguments)]
    fn put_entry(
        &self,
        w: &mut WriteSet,
        node: &Identifier,
        scope: &Scope,
        kind: SourceKind,
        source_id: &str,
        entry: &TimelineEntry,
        counted: bool,
    ) -> Result<(), StoreError> {
        let mut item = key(node_pk(node), entry_sk(scope, kind, source_id));
        let tk = time_key(scope, entry.at, kind, source_id);
        if matches!(kind, SourceKind::Orders | SourceKind::Reservations) {
            item.insert("lk".into(), s(kind_key(scope, kind, &tk)));
        }
        if counted {
            item.insert("lc".into(), s(tk.clone()));
        }
        item.insert("lt".into(), s(tk));
        item.insert("e".into(), s(to_json(entry)?));
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
        token: &str,
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
        token: &str,
    ) -> Result<(), StoreError> {
        w.push_delete(
            &self.table,
            key(node_pk(node), token_sk(scope, token)),
            None,
        )
    }

    fn put_node(
        &self,
        w: &mut WriteSet,
        id: &Identifier,
        links: &NodeLinks,
        previous_version: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut item = key(node_pk(id), NODE_SK);
        item.insert(
            "adj".into(),
            AttributeValue::L(links.adjacent.iter().map(|a| s(a.key())).collect()),
        );
        item.insert(
            "cluster".into(),
            AttributeValue::L(links.cluster.iter().map(|a| s(a.key())).collect()),
        );
        item.insert("ver".into(), n(previous_version.unwrap_or(0) + 1));
        w.push_put(&self.table, item, Some(version_condition(previous_version)))
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

    // ---- reads ---------------------------------------------------------------------

    /// Reads items by key in as few BatchGetItem calls as possible (100 keys each), retrying
    /// unprocessed keys.
    async fn batch_get(&self, keys: Vec<Item>, consistent: bool) -> Result<Vec<Item>, StoreError> {
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
        self.load_all(anchor, nodes, stats, models, &[], consistent)
            .await
    }

    /// What a change reads: [`Store::load`], plus whether any of the record's identifiers
    /// was erased, in the same BatchGetItem.
    pub async fn load_for_change(
        &self,
        anchor: (SourceKind, &str),
        nodes: &[Identifier],
        stats: &[(Identifier, Scope)],
        identifiers: &[Identifier],
    ) -> Result<Loaded, StoreError> {
        self.load_all(Some(anchor), nodes, stats, &[], identifiers, true)
            .await
    }

    async fn load_all(
        &self,
        anchor: Option<(SourceKind, &str)>,
        nodes: &[Identifier],
        stats: &[(Identifier, Scope)],
        models: &[Scope],
        suppressions: &[Identifier],
        consistent: bool,
    ) -> Result<Loaded, StoreError> {
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
        Ok(loaded)
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

    /// Every node and stats item, read with a parallel scan (`segments` at once). For the
    /// weekly calibration: it reads the whole table.
    pub async fn scan_nodes_and_stats(&self, segments: i32) -> Result<Vec<ScanRow>, StoreError> {
        let pages = futures::future::try_join_all(
            (0..segments).map(|segment| self.scan_segment(segment, segments)),
        )
        .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    async fn scan_segment(&self, segment: i32, segments: i32) -> Result<Vec<ScanRow>, StoreError> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let resp = self
                .client
                .scan()
                .table_name(&self.table)
                .segment(segment)
                .total_segments(segments)
                .filter_expression("begins_with(sk, :stats) OR sk = :node")
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

    // ---- erasure -------------------------------------------------------------------

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

    async fn batch_write(
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

    /// A node's statistics in every scope it has records in (one Query, strongly consistent):
    /// what a re-link reads to rewrite the node's search tokens wherever it holds them.
    pub async fn node_stats(
        &self,
        id: &Identifier,
    ) -> Result<BTreeMap<Scope, ScopeStats>, StoreError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :stats)")
            .expression_attribute_values(":pk", s(node_pk(id)))
            .expression_attribute_values(":stats", s(stats_sk_prefix()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(classify)?;
        items
            .into_iter()
            .map(|item| {
                let scope = get_s(&item, "sk")
                    .and_then(parse_stats_sk)
                    .ok_or_else(|| StoreError::Failed("a stats item without a scope".into()))?;
                Ok((scope, decode(item, "stats")?))
            })
            .collect()
    }

    /// The extreme among a node's records in a scope, leaving out one record (the one
    /// being changed, whose new state the caller already counted).
    pub async fn find_extreme(
        &self,
        node: &Identifier,
        scope: &Scope,
        extreme: Extreme,
        exclude_sk: &str,
    ) -> Result<Option<Millis>, StoreError> {
        let (index, attr, newest_first) = match extreme {
            Extreme::FirstCountedOrder => (INDEX_COUNTED, "lc", false),
            Extreme::LastCountedOrder => (INDEX_COUNTED, "lc", true),
            Extreme::LastEvent => (INDEX_TIME, "lt", true),
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

    /// A page of a node's timeline in a scope, newest first, strictly older than `before`
    /// (a time key). Returns entries with their time keys, and whether more exist.
    pub async fn timeline_page(
        &self,
        node: &Identifier,
        scope: &Scope,
        limit: usize,
        before: Option<&str>,
    ) -> Result<(Vec<(String, TimelineEntry)>, bool), StoreError> {
        let prefix = scope_prefix(scope);
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_TIME)
            .expression_attribute_values(":pk", s(node_pk(node)))
            .scan_index_forward(false)
            .limit((limit + 1) as i32);
        q = match before {
            // BETWEEN is inclusive: the cursor's own entry comes back and is skipped below.
            Some(cursor) => q
                .key_condition_expression("pk = :pk AND lt BETWEEN :lo AND :hi")
                .expression_attribute_values(":lo", s(&prefix))
                .expression_attribute_values(":hi", s(cursor)),
            None => q
                .key_condition_expression("pk = :pk AND begins_with(lt, :prefix)")
                .expression_attribute_values(":prefix", s(&prefix)),
        };
        let resp = q.send().await.map_err(classify)?;
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
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_KIND)
            .key_condition_expression("pk = :pk AND begins_with(lk, :prefix)")
            .expression_attribute_values(":pk", s(node_pk(node)))
            .expression_attribute_values(":prefix", s(kind_prefix(scope, kind)))
            .scan_index_forward(false)
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

    /// Nodes holding a search token in a scope (one index Query).
    pub async fn search_token(
        &self,
        scope: &Scope,
        token: &str,
        limit: usize,
    ) -> Result<Vec<Identifier>, StoreError> {
        let resp = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(INDEX_SEARCH)
            .key_condition_expression("gp = :gp")
            .expression_attribute_values(":gp", s(token_partition(scope, token)))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(classify)?;
        Ok(resp
            .items()
            .iter()
            .filter_map(|item| get_s(item, "gs"))
            .filter_map(|k| Identifier::from_key(k).ok())
            .collect())
    }
}

fn parse_anchor(item: Item) -> Result<AppliedRecord, StoreError> {
    let seq = get_s(&item, "seq")
        .and_then(c360_domain::SeqNo::parse)
        .ok_or_else(|| StoreError::Failed("anchor without a sequence number".into()))?;
    let state = get_s(&item, "state")
        .map(|j| from_json(j, "anchor"))
        .transpose()?;
    Ok(AppliedRecord { seq, state })
}

fn parse_node(item: &Item) -> Result<StoredNode, StoreError> {
    let ids = |attr: &str| -> Vec<Identifier> {
        item.get(attr)
            .and_then(|v| v.as_l().ok())
            .map(|l| {
                l.iter()
                    .filter_map(|v| v.as_s().ok())
                    .filter_map(|k| Identifier::from_key(k).ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(StoredNode {
        links: NodeLinks {
            adjacent: ids("adj").into_iter().collect(),
            cluster: ids("cluster"),
        },
        version: get_n(item, "ver").unwrap_or(0),
    })
}

fn parse_entry(item: &Item) -> Result<TimelineEntry, StoreError> {
    get_s(item, "e")
        .map(|j| from_json(j, "timeline entry"))
        .unwrap_or_else(|| Err(StoreError::Failed("timeline entry without content".into())))
}
