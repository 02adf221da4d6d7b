//! Applies one source change to the projection: one BatchGetItem to read what it touches,
//! one TransactWriteItems conditioned on the versions read. A lost race re-reads and
//! retries (bounded); a duplicate or older delivery finds its sequence number already
//! applied and writes nothing.

use crate::cache::Cache;
use crate::keys::entry_sk;
use crate::store::{Store, StoreError, StoredNode, WriteSet};
use c360_domain::identity::{relink, relink_start, singleton, NodeLinks};
use c360_domain::projection::{
    decide, decide_scanned, stat_deltas, AppliedRecord, Change, Decision, RecordState, Scope,
};
use c360_domain::search::tokens;
use c360_domain::{Identifier, SeqNo, SourceKind, SourceRecord, Zone};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The projection changed.
    Applied,
    /// Already applied: a duplicate or an older delivery.
    Stale,
    /// Recorded, nothing to project (a TTL expiry, or a change that changes nothing shown).
    Advanced,
    /// The record belongs to no customer (no identifiers): only its sequence number is kept.
    NoCustomer,
    /// The record carries an erased identifier: it is not projected (and anything it had
    /// contributed is taken out).
    Suppressed,
}

#[derive(Clone)]
pub struct Projector {
    store: Store,
    zone: Zone,
    max_attempts: u32,
    /// Cached answers the changes make stale are dropped here, before the change is
    /// acknowledged (ADR 0006).
    cache: Cache,
}

/// Everything a change may have changed in an answer: every identifier of every customer it
/// touched (both sides of a link or a split) and the scopes whose figures moved.
#[derive(Debug, Default)]
struct Touched {
    ids: BTreeSet<Identifier>,
    scopes: BTreeSet<Scope>,
}

impl Touched {
    fn nodes<'a>(&mut self, nodes: impl IntoIterator<Item = (&'a Identifier, &'a NodeLinks)>) {
        for (id, links) in nodes {
            self.ids.insert(id.clone());
            self.ids.extend(links.cluster.iter().cloned());
            self.ids.extend(links.adjacent.iter().cloned());
        }
    }
}

/// Exponential backoff with full jitter (10 ms doubling, capped at 640 ms), so writers that
/// lost a race do not collide again in lockstep.
fn backoff(attempt: u32) -> Duration {
    let cap_ms = 10u64 << attempt.min(6);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Duration::from_millis(1 + u64::from(nanos) % cap_ms)
}

/// The identifiers of a node's customer; a node stored before clusters were kept is alone.
fn cluster_of(id: &Identifier, links: &NodeLinks) -> Vec<Identifier> {
    if links.cluster.is_empty() {
        vec![id.clone()]
    } else {
        links.cluster.clone()
    }
}

/// Identity graphs are small; this bounds the walk so a pathological one fails loudly.
const MAX_CLUSTER_NODES: usize = 60;

impl Projector {
    pub fn new(store: Store, zone: Zone) -> Self {
        Projector {
            store,
            zone,
            max_attempts: 12,
            cache: Cache::disabled(),
        }
    }

    /// The same projector, invalidating `cache` for every change it applies.
    pub fn with_cache(mut self, cache: Cache) -> Self {
        self.cache = cache;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Applies a change delivered by the stream with its sequence number.
    pub async fn apply(
        &self,
        kind: SourceKind,
        source_id: &str,
        seq: &SeqNo,
        change: &Change,
    ) -> Result<Outcome, StoreError> {
        self.apply_with_retries(kind, source_id, seq, change, false)
            .await
    }

    /// Applies a record read by a scan of its source table (a rebuild): only where no stream
    /// delivery of it was applied, and only if it changes something
    /// ([`decide_scanned`], `docs/adr/0004-rebuild.md`).
    pub async fn apply_scanned(&self, record: &SourceRecord) -> Result<Outcome, StoreError> {
        let change = Change::Upsert(record.clone());
        let id = record.source_id().to_string();
        self.apply_with_retries(record.kind(), &id, &SeqNo::scanned(), &change, true)
            .await
    }

    async fn apply_with_retries(
        &self,
        kind: SourceKind,
        source_id: &str,
        seq: &SeqNo,
        change: &Change,
        scanned: bool,
    ) -> Result<Outcome, StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut touched = Touched::default();
            // Boxed: the attempt is a deep future, and each ingest binary embeds it in its runtime loop.
            match Box::pin(self.try_apply(kind, source_id, seq, change, scanned, &mut touched))
                .await
            {
                Err(StoreError::Conflict) if attempt < self.max_attempts => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(StoreError::Conflict) => {
                    return Err(StoreError::Unavailable(format!(
                        "still conflicting after {attempt} attempts"
                    )));
                }
                Ok(outcome) => {
                    // A redelivery (Stale) invalidates again: the delivery before it may have
                    // committed and stopped before invalidating.
                    if matches!(
                        outcome,
                        Outcome::Applied | Outcome::Suppressed | Outcome::Stale
                    ) {
                        let ids: Vec<Identifier> = touched.ids.into_iter().collect();
                        let scopes: Vec<Scope> = touched.scopes.into_iter().collect();
                        // Boxed like the attempt: inline, the ingest binaries' future
                        // overflows rustc's query depth.
                        Box::pin(self.cache.invalidate(&ids, &scopes)).await;
                    }
                    return Ok(outcome);
                }
                other => return other,
            }
        }
    }

    async fn try_apply(
        &self,
        kind: SourceKind,
        source_id: &str,
        seq: &SeqNo,
        change: &Change,
        scanned: bool,
        touched: &mut Touched,
    ) -> Result<Outcome, StoreError> {
        let identifiers = match change {
            Change::Upsert(record) => record.identities().all(),
            Change::Remove | Change::Expire => Vec::new(),
        };
        let after_guess = match change {
            Change::Upsert(record) => RecordState::of(record, &self.zone),
            Change::Remove | Change::Expire => None,
        };
        // Common case: the record stays where it was, so reading the anchor alongside the
        // new state's stats and home node is all the reading needed.
        let guess_stats: Vec<(Identifier, Scope)> = stat_deltas(None, after_guess.as_ref())
            .into_keys()
            .collect();
        let guess_nodes: Vec<Identifier> = after_guess.iter().map(|a| a.home.clone()).collect();
        let mut loaded = self
            .store
            .load_for_change((kind, source_id), &guess_nodes, &guess_stats, &identifiers)
            .await?;
        let previous = loaded.anchor.take();
        touched.ids.extend(identifiers.iter().cloned());
        touched.nodes(loaded.nodes.iter().map(|(id, n)| (id, &n.links)));
        for state in previous.iter().filter_map(|p| p.state.as_ref()) {
            touched.ids.insert(state.home.clone());
            touched.ids.extend(state.links.iter().cloned());
            touched.scopes.extend(state.scopes());
        }
        // An erased customer's records are not projected again: the change counts as a removal.
        let suppressed = !loaded.suppressed.is_empty();
        let change = if suppressed { &Change::Remove } else { change };

        let decision = match (scanned, change) {
            (true, Change::Upsert(record)) => decide_scanned(previous.as_ref(), record, &self.zone),
            _ => decide(previous.as_ref(), seq, change, &self.zone),
        };
        let (before, after) = match decision {
            Decision::Stale => return Ok(Outcome::Stale),
            Decision::Advance => {
                let mut w = WriteSet::default();
                let state = previous.as_ref().and_then(|p| p.state.clone());
                let no_customer =
                    state.is_none() && after_guess.is_none() && matches!(change, Change::Upsert(_));
                self.store.put_anchor(
                    &mut w,
                    kind,
                    source_id,
                    &AppliedRecord {
                        seq: seq.clone(),
                        state,
                    },
                    previous.as_ref(),
                )?;
                self.store.commit(w).await?;
                return Ok(if suppressed {
                    Outcome::Suppressed
                } else if no_customer {
                    Outcome::NoCustomer
                } else {
                    Outcome::Advanced
                });
            }
            Decision::Apply { before, after } => (before, after),
        };

        let deltas = stat_deltas(before.as_ref(), after.as_ref());
        for (node, scope) in deltas.keys() {
            touched.ids.insert(node.clone());
            touched.scopes.insert(scope.clone());
        }
        for state in after.iter() {
            touched.ids.insert(state.home.clone());
            touched.ids.extend(state.links.iter().cloned());
            touched.scopes.extend(state.scopes());
        }
        // Stats the first read already asked for are known, present or absent.
        let missing: Vec<(Identifier, Scope)> = deltas
            .keys()
            .filter(|k| !guess_stats.contains(*k))
            .cloned()
            .collect();
        let member = after.as_ref().or(before.as_ref()).map(|s| s.home.clone());
        let old_links = before.as_ref().map(|b| b.links.clone()).unwrap_or_default();
        let new_links = after.as_ref().map(|a| a.links.clone()).unwrap_or_default();
        let relinking = kind == SourceKind::MemberSync && old_links != new_links;
        let mut want_nodes: BTreeSet<Identifier> = BTreeSet::new();
        if relinking {
            if let Some(m) = &member {
                want_nodes.extend(relink_start(m, &old_links, &new_links));
            }
        }
        // A node's search tokens carry its cluster's identifiers, so every node whose stats
        // change is read. The first read has the new home; only a removal or a record
        // changing home needs the old one, and those read missing stats anyway.
        want_nodes.extend(deltas.keys().map(|(n, _)| n.clone()));
        let mut absent: BTreeSet<Identifier> = guess_nodes
            .iter()
            .filter(|n| !loaded.nodes.contains_key(*n))
            .cloned()
            .collect();
        let fetch_nodes: Vec<Identifier> = want_nodes
            .iter()
            .filter(|n| !loaded.nodes.contains_key(*n) && !absent.contains(*n))
            .cloned()
            .collect();
        if !missing.is_empty() || !fetch_nodes.is_empty() {
            let more = self.store.load(None, &fetch_nodes, &missing, true).await?;
            absent.extend(
                fetch_nodes
                    .iter()
                    .filter(|n| !more.nodes.contains_key(*n))
                    .cloned(),
            );
            loaded.nodes.extend(more.nodes);
            loaded.stats.extend(more.stats);
        }

        // Identity: the new links of every node a re-link changes.
        let mut changed: BTreeMap<Identifier, NodeLinks> = BTreeMap::new();
        if let (true, Some(m)) = (relinking, &member) {
            self.walk_cluster(&mut loaded.nodes, &mut absent).await?;
            let links: BTreeMap<Identifier, NodeLinks> = loaded
                .nodes
                .iter()
                .map(|(id, n)| (id.clone(), n.links.clone()))
                .collect();
            changed = relink(&links, m, &old_links, &new_links);
            // Both sides of the link or split: the clusters before (walked) and after.
            touched.nodes(links.iter());
            touched.nodes(changed.iter());
        }
        let cluster_before = |id: &Identifier| -> Vec<Identifier> {
            loaded
                .nodes
                .get(id)
                .map(|n| cluster_of(id, &n.links))
                .unwrap_or_else(|| vec![id.clone()])
        };
        let cluster_after = |id: &Identifier| -> Vec<Identifier> {
            changed
                .get(id)
                .map(|l| cluster_of(id, l))
                .unwrap_or_else(|| cluster_before(id))
        };

        let mut w = WriteSet::default();

        // Statistics and search tokens of every (node, scope) the move touches.
        let mut scopes_changed: BTreeSet<Identifier> = BTreeSet::new();
        for ((node, scope), (old, new)) in &deltas {
            let stored = loaded.stats.get(&(node.clone(), scope.clone()));
            let mut stats = stored.map(|s| s.stats.clone()).unwrap_or_default();
            let tokens_before = tokens(node, &cluster_before(node), &stats);
            let was_empty = stats.is_empty();
            for extreme in stats.replace(*old, *new) {
                let found = self
                    .store
                    .find_extreme(node, scope, extreme, &entry_sk(scope, kind, source_id))
                    .await?;
                stats.restore(extreme, found);
            }
            if was_empty != stats.is_empty() {
                scopes_changed.insert(node.clone());
            }
            self.store
                .put_stats(&mut w, node, scope, &stats, stored.map(|s| s.version))?;
            let tokens_after = tokens(node, &cluster_after(node), &stats);
            self.write_tokens(&mut w, node, scope, &tokens_before, &tokens_after)?;
        }

        // A node whose cluster a re-link changes holds the other identifiers' tokens in every
        // scope it has records in, not only in those this record touches: one Query each,
        // in parallel (re-links are rare). Only identifier tokens change there, never name
        // tokens, so a record changing names in such a scope at the same time commutes with
        // this write; one adding or emptying a scope bumps the node's version and conflicts.
        let regrouped: Vec<Identifier> = changed
            .keys()
            .filter(|id| loaded.nodes.contains_key(*id) && cluster_before(id) != cluster_after(id))
            .cloned()
            .collect();
        let elsewhere =
            futures::future::try_join_all(regrouped.iter().map(|id| self.store.node_stats(id)))
                .await?;
        for (node, scopes) in regrouped.iter().zip(elsewhere) {
            for (scope, stats) in scopes {
                if deltas.contains_key(&(node.clone(), scope.clone())) {
                    continue;
                }
                let tokens_before = tokens(node, &cluster_before(node), &stats);
                let tokens_after = tokens(node, &cluster_after(node), &stats);
                self.write_tokens(&mut w, node, &scope, &tokens_before, &tokens_after)?;
                // Cached search answers of that scope may now miss or wrongly show the customer.
                touched.scopes.insert(scope);
            }
        }

        // Timeline entries: one per scope, under the home node.
        let placed = |s: &Option<RecordState>| -> BTreeSet<(Identifier, Scope)> {
            s.iter()
                .flat_map(|st| st.scopes().into_iter().map(|sc| (st.home.clone(), sc)))
                .collect()
        };
        let (was, is) = (placed(&before), placed(&after));
        for (node, scope) in was.difference(&is) {
            self.store
                .delete_entry(&mut w, node, scope, kind, source_id)?;
        }
        if let Some(a) = &after {
            for (node, scope) in &is {
                self.store.put_entry(
                    &mut w,
                    node,
                    scope,
                    kind,
                    source_id,
                    &a.timeline,
                    a.contribution.counted_spend.is_some(),
                )?;
            }
        }

        // Nodes: re-linked ones rewritten, a new home created. Every node whose tokens this
        // change wrote is guarded, its tokens having been computed from its cluster; one
        // gaining or losing a scope gets a new version, so that a re-link, which rewrites the
        // tokens of every scope it found, cannot commit having missed one.
        let mut guarded: BTreeSet<Identifier> = BTreeSet::new();
        for (id, node) in &changed {
            self.store
                .put_node(&mut w, id, node, loaded.nodes.get(id).map(|n| n.version))?;
            guarded.insert(id.clone());
        }
        if let Some(a) = &after {
            if !loaded.nodes.contains_key(&a.home) && guarded.insert(a.home.clone()) {
                self.store
                    .put_node(&mut w, &a.home, &singleton(&a.home), None)?;
            }
        }
        for (id, _) in deltas.keys() {
            if !guarded.insert(id.clone()) {
                continue;
            }
            match loaded.nodes.get(id) {
                Some(n) if scopes_changed.contains(id) => {
                    self.store.put_node(&mut w, id, &n.links, Some(n.version))?
                }
                Some(n) => self.store.check_node(&mut w, id, Some(n.version))?,
                None => self.store.check_node(&mut w, id, None)?,
            }
        }
        if relinking {
            // The clusters were computed from every node read.
            for (id, node) in &loaded.nodes {
                if guarded.insert(id.clone()) {
                    self.store.check_node(&mut w, id, Some(node.version))?;
                }
            }
        }

        // Erasure suppresses first and deletes after: a change that read "not suppressed"
        // must not land once the suppression is there.
        if after.is_some() {
            for id in &identifiers {
                self.store.check_not_suppressed(&mut w, id)?;
            }
        }
        self.store.put_anchor(
            &mut w,
            kind,
            source_id,
            &AppliedRecord {
                seq: seq.clone(),
                state: after,
            },
            previous.as_ref(),
        )?;
        self.store.commit(w).await?;
        Ok(if suppressed {
            Outcome::Suppressed
        } else {
            Outcome::Applied
        })
    }

    /// Puts the tokens a (node, scope) gains and deletes those it loses.
    fn write_tokens(
        &self,
        w: &mut WriteSet,
        node: &Identifier,
        scope: &Scope,
        before: &BTreeSet<String>,
        after: &BTreeSet<String>,
    ) -> Result<(), StoreError> {
        for t in after.difference(before) {
            self.store.put_token(w, node, scope, t)?;
        }
        for t in before.difference(after) {
            self.store.delete_token(w, node, scope, t)?;
        }
        Ok(())
    }

    /// Reads every node reachable from those loaded, so a re-link sees whole clusters.
    async fn walk_cluster(
        &self,
        nodes: &mut BTreeMap<Identifier, StoredNode>,
        absent: &mut BTreeSet<Identifier>,
    ) -> Result<(), StoreError> {
        loop {
            let frontier: Vec<Identifier> = nodes
                .values()
                .flat_map(|n| n.links.adjacent.iter().chain(n.links.cluster.iter()))
                .filter(|id| !nodes.contains_key(*id) && !absent.contains(*id))
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            if frontier.is_empty() {
                return Ok(());
            }
            if nodes.len() + frontier.len() > MAX_CLUSTER_NODES {
                return Err(StoreError::Failed(format!(
                    "identity cluster larger than {MAX_CLUSTER_NODES} identifiers"
                )));
            }
            let more = self.store.load(None, &frontier, &[], true).await?;
            absent.extend(
                frontier
                    .iter()
                    .filter(|id| !more.nodes.contains_key(*id))
                    .cloned(),
            );
            nodes.extend(more.nodes);
        }
    }
}
