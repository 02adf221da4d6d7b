//! Applies one source change to the projection: load → plan → commit. What a change writes
//! is the domain's pure rule ([`c360_domain::plan`]); this file answers the plan's reads from
//! DynamoDB (the first in one BatchGetItem with the anchor, the rest batched or in parallel)
//! and commits its writes as one TransactWriteItems conditioned on the versions read. A lost
//! race re-reads and re-plans (bounded); a duplicate or older delivery finds its sequence
//! number already applied and writes nothing.

use c360_domain::identity::cluster_key;
pub use c360_domain::plan::Outcome;
use c360_domain::plan::{plan, Input, NextReads, Plan, Snapshot, Touched, Versioned, Write};
use c360_domain::projection::{Change, Scope};
use c360_domain::{Identifier, SeqNo, SourceKind, SourceRecord, Zone};
use c360_dynamodb::keys::entry_sk;
use c360_dynamodb::store::{Keys, Store, StoreError};
use c360_runtime::cache::Cache;
use c360_runtime::segments::Segments;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone)]
pub struct Projector {
    store: Store,
    zone: Zone,
    max_attempts: u32,
    /// Cached answers the changes make stale are dropped here, before the change is
    /// acknowledged (ADR 0006).
    cache: Cache,
    /// Saved segments re-evaluated for the customers each change touched, before the change
    /// is acknowledged (ADR 0009); none when `None`.
    segments: Option<Segments>,
    /// Whether nodes left unsettled in the customer-keyed index are re-keyed after a change
    /// (always, but in tests of what a crash right after the commit leaves).
    settle: bool,
}

/// What an applied change leaves to do after its commit: the answers to invalidate and the
/// segments to reconcile (`touched`), and the nodes to re-key (`unsettled`, ADR 0014).
#[derive(Default)]
struct Effects {
    touched: Touched,
    unsettled: Vec<Identifier>,
}

fn backoff(attempt: u32) -> Duration {
    let cap_ms = 10u64 << attempt.min(6);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Duration::from_millis(1 + u64::from(nanos) % cap_ms)
}

impl Projector {
    pub fn new(store: Store, zone: Zone) -> Self {
        Projector {
            store,
            zone,
            max_attempts: 12,
            cache: Cache::disabled(),
            segments: None,
            settle: true,
        }
    }

    /// The same projector, leaving re-keys undone: what a function that stopped right after
    /// committing a re-link leaves behind (fault-injection tests; ADR 0014).
    pub fn without_rekeying(mut self) -> Self {
        self.settle = false;
        self
    }

    /// The same projector, keeping the saved segments' memberships current.
    pub fn with_segments(mut self, segments: Segments) -> Self {
        self.segments = Some(segments);
        self
    }

    pub fn segments(&self) -> Option<&Segments> {
        self.segments.as_ref()
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
    /// ([`c360_domain::projection::decide_scanned`], `docs/adr/0004-rebuild.md`).
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
            let mut effects = Effects::default();
            // Boxed: the attempt is a deep future, and each ingest binary embeds it in its runtime loop.
            match Box::pin(self.try_apply(kind, source_id, seq, change, scanned, &mut effects))
                .await
            {
                Err(StoreError::Conflict) if attempt < self.max_attempts => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(StoreError::Conflict) => return Err(StoreError::Contended(attempt)),
                Ok(outcome) => {
                    // Nodes whose entries do not all carry their customer's key (a re-link
                    // changed it, or the node predates the index) are re-keyed now, before
                    // the change is acknowledged. A failure fails the record; its redelivery
                    // or the node's next change, reading the node, re-keys it, and reads take
                    // the per-node Queries until then (ADR 0014).
                    let Effects { touched, unsettled } = effects;
                    for id in unsettled.iter().filter(|_| self.settle) {
                        let n = Box::pin(self.store.settle_entries(id)).await?;
                        // Only when entries moved: a node without entries (an email) is
                        // settled by recording its key, which is nothing to tell.
                        if n > 0 {
                            tracing::info!(
                                node = %c360_runtime::telemetry::masked(id),
                                entries = n,
                                "entries re-keyed to their customer's key"
                            );
                        }
                    }
                    // A redelivery (Stale) invalidates again: the delivery before it may have
                    // committed and stopped before invalidating.
                    if matches!(
                        outcome,
                        Outcome::Applied | Outcome::Suppressed | Outcome::Stale
                    ) {
                        let ids: Vec<Identifier> = touched.ids.into_iter().collect();
                        let scopes: Vec<Scope> = touched.scopes.into_iter().collect();
                        // A redelivery re-evaluates too: the delivery before it may have
                        // committed and stopped before its memberships were written. A
                        // failure fails the record, which is retried (nothing is lost).
                        let reconciled = match &self.segments {
                            Some(segments) => {
                                let now =
                                    c360_domain::Millis(chrono::Utc::now().timestamp_millis());
                                Box::pin(segments.reconcile(&ids, now)).await.map(|_| ())
                            }
                            None => Ok(()),
                        };
                        // After the rows: a search answers from them (ADR 0014), so one
                        // answered between an invalidation and the rows' write would be
                        // cached stale. Also when the reconcile failed: the change itself is
                        // in. Boxed like the attempt: inline, the ingest binaries' future
                        // overflows rustc's query depth.
                        Box::pin(self.cache.invalidate(&ids, &scopes)).await;
                        reconciled?;
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
        effects: &mut Effects,
    ) -> Result<Outcome, StoreError> {
        let input = Input {
            kind,
            source_id,
            seq,
            change,
            scanned,
        };
        let mut snap = Snapshot::default();
        let mut keyed = BTreeMap::new();
        loop {
            let next =
                plan(&input, &snap, &self.zone).map_err(|e| StoreError::Failed(e.to_string()))?;
            match next {
                Plan::Read(reads) => self.read(&input, &reads, &mut snap, &mut keyed).await?,
                Plan::Write(planned) => {
                    effects.touched.merge(planned.touched);
                    self.store
                        .commit(self.store.write_set(kind, source_id, &planned.writes)?)
                        .await?;
                    effects.unsettled = unsettled_after(&snap, &keyed, &planned.writes);
                    return Ok(planned.outcome);
                }
            }
        }
    }

    /// Answers a plan's reads into its snapshot: the first read and node/stats reads as one
    /// BatchGetItem each, extremes and a node's stats as parallel Queries.
    async fn read(
        &self,
        input: &Input<'_>,
        reads: &NextReads,
        snap: &mut Snapshot,
        keyed: &mut BTreeMap<Identifier, Option<Identifier>>,
    ) -> Result<(), StoreError> {
        if reads.first
            || !reads.nodes.is_empty()
            || !reads.stats.is_empty()
            || !reads.recent.is_empty()
        {
            let keys = Keys {
                anchor: reads.first.then_some((input.kind, input.source_id)),
                nodes: &reads.nodes,
                stats: &reads.stats,
                recent: &reads.recent,
                suppressions: &reads.identifiers,
                ..Keys::default()
            };
            let loaded = self.store.load_keys(keys, true).await?;
            if reads.first {
                snap.first_read = true;
                snap.anchor = loaded.anchor;
                snap.suppressed = !loaded.suppressed.is_empty();
            }
            for id in &reads.nodes {
                if !loaded.nodes.contains_key(id) {
                    snap.absent_nodes.insert(id.clone());
                }
            }
            keyed.extend(
                loaded
                    .nodes
                    .iter()
                    .map(|(id, n)| (id.clone(), n.entries_key.clone())),
            );
            snap.nodes.extend(loaded.nodes.into_iter().map(|(id, n)| {
                (
                    id,
                    Versioned {
                        value: n.links,
                        version: n.version,
                    },
                )
            }));
            snap.stats_read.extend(reads.stats.iter().cloned());
            snap.recent_read.extend(reads.recent.iter().cloned());
            snap.recent.extend(loaded.recent);
            snap.stats.extend(loaded.stats.into_iter().map(|(k, s)| {
                (
                    k,
                    Versioned {
                        value: s.stats,
                        version: s.version,
                    },
                )
            }));
        }
        let own: Vec<String> = reads
            .extremes
            .iter()
            .map(|(_, scope, _)| entry_sk(scope, input.kind, input.source_id))
            .collect();
        let found = futures::future::try_join_all(reads.extremes.iter().zip(&own).map(
            |((node, scope, extreme), own)| self.store.find_extreme(node, scope, extreme, own),
        ))
        .await?;
        snap.extremes
            .extend(reads.extremes.iter().cloned().zip(found));
        let refilled = futures::future::try_join_all(reads.recent_lookups.iter().map(
            |(node, scope, kind)| {
                let own = entry_sk(scope, *kind, input.source_id);
                async move { self.store.newest_entries(node, scope, *kind, &own).await }
            },
        ))
        .await?;
        snap.recent_found
            .extend(reads.recent_lookups.iter().cloned().zip(refilled));
        let all = futures::future::try_join_all(
            reads.node_stats.iter().map(|id| self.store.node_stats(id)),
        )
        .await?;
        snap.node_stats
            .extend(reads.node_stats.iter().cloned().zip(all));
        Ok(())
    }
}

/// The nodes a committed change read whose entries do not all carry their customer's key
/// after it: the key their node item records (`keyed`, as read) differs from the key of their
/// cluster as the change left it. A node the change created is settled by its creation.
fn unsettled_after(
    snap: &Snapshot,
    keyed: &BTreeMap<Identifier, Option<Identifier>>,
    writes: &[Write],
) -> Vec<Identifier> {
    let mut links: BTreeMap<&Identifier, &[Identifier]> = snap
        .nodes
        .iter()
        .map(|(id, n)| (id, n.value.cluster.as_slice()))
        .collect();
    for w in writes {
        if let Write::PutNode { id, links: l, .. } = w {
            links.insert(id, l.cluster.as_slice());
        }
    }
    links
        .into_iter()
        .filter(|(id, cluster)| {
            keyed
                .get(*id)
                .is_some_and(|recorded| recorded.as_ref() != Some(cluster_key(id, cluster)))
        })
        .map(|(id, _)| id.clone())
        .collect()
}
