//! Segment membership kept current (`docs/adr/0009-segments.md`): after a change is applied,
//! [`Segments::reconcile`] re-evaluates every saved segment for the customers it touched;
//! [`Segments::rescore`] re-evaluates everyone (figures that move with time alone, a new or
//! changed definition); [`Segments::forget`] removes an erased customer's rows and
//! memberships. Used by the ingest wing (after each change), the API wing (erasure, segment
//! reads) and the rescoring jobs. Over 400 lines: the reconcile, its retry and commit, and the
//! rescoring that drives it share one invariant (below), kept in one file.
//!
//! # Why a row is only ever replaced by a fresher one
//! A reconcile reads the customer's segment rows *before* its statistics, and writes each row
//! conditioned on the row's version as read and on the cluster's node versions. A row records
//! the versions of the statistics it was computed from (its fingerprint) and is rewritten
//! whenever they moved. So if an evaluation of older statistics is still in flight when a
//! fresher one commits, its condition fails and it re-reads: the last row written is always
//! computed from statistics at least as new as every change whose reconcile has finished.
//! Counts move in the same transaction as the member items, so they stay exact.

use crate::config::Config;
use crate::seal::Seal;
use c360_domain::prediction::StoreModel;
use c360_domain::projection::{MemberInfo, Scope, ScopeStats};
use c360_domain::segment::{canonical, Evaluation, SegmentDef, SegmentRow};
use c360_domain::{Identifier, Millis};
use c360_dynamodb::store::{
    NewRow, RescoreCheckpoint, RowWrite, Store, StoreError, StoredRow, StoredStats,
};
use futures::future::try_join_all;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A transaction holds 100 items.
const TRANSACTION_ITEMS: usize = 100;

/// What a reconcile or a rescoring run changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Customers (clusters) evaluated.
    pub evaluated: u64,
    /// Segment rows written or deleted.
    pub rows_written: u64,
    /// Memberships entered and left.
    pub entered: u64,
    pub left: u64,
}

impl Reconciled {
    fn add(&mut self, o: Reconciled) {
        self.evaluated += o.evaluated;
        self.rows_written += o.rows_written;
        self.entered += o.entered;
        self.left += o.left;
    }
}

/// What one call of a rescoring run did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RescoreReport {
    pub run: String,
    pub changed: Reconciled,
    /// Whether the run is finished (else call again with the same run id to go on).
    pub complete: bool,
    /// Saved segments whose member items became complete with this run.
    pub materialized: Vec<String>,
}

/// How far one call of a rescoring run may go before it checkpoints and returns
/// (`complete: false`): a number of scan pages per scan segment, a deadline, or both.
#[derive(Debug, Clone, Copy, Default)]
pub struct Budget {
    pub pages: Option<u32>,
    pub until: Option<Instant>,
}

impl Budget {
    /// No bound: the call finishes the run.
    pub const UNBOUNDED: Budget = Budget {
        pages: None,
        until: None,
    };
    fn spent(&self, pages: u32) -> bool {
        self.pages.is_some_and(|p| pages >= p) || self.until.is_some_and(|t| Instant::now() >= t)
    }
}

type DefsCache = Mutex<Option<(Instant, Arc<Vec<SegmentDef>>)>>;

/// Segment membership maintenance over one table. Cheap to clone.
#[derive(Clone)]
pub struct Segments {
    store: Store,
    config: Arc<Config>,
    defs: Arc<DefsCache>,
    /// How long a process reuses the saved definitions it read (default 10 s): a new or
    /// changed segment reaches the ingest within this time.
    pub defs_ttl: Duration,
    max_attempts: u32,
    scan_page: i32,
    /// While set, [`Segments::reconcile`] does nothing (a bulk load followed by a rescoring).
    paused: Arc<std::sync::atomic::AtomicBool>,
    /// Seals the `customer_ref` of a `segment_membership` log line (ADR 0011), so that a
    /// campaign tool can open a phone-only guest it cannot read from the masked identifier.
    refs: Option<Arc<Seal>>,
}

fn backoff(attempt: u32) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Duration::from_millis(1 + u64::from(nanos) % (10u64 << attempt.min(6)))
}

/// The versions a scope's row is computed from: the cluster's nodes and their stats in the
/// scope and in all stores (where the member info is).
fn fingerprint(
    cluster: &[Identifier],
    nodes: &BTreeMap<Identifier, Option<i64>>,
    stats: &BTreeMap<Identifier, BTreeMap<Scope, StoredStats>>,
    scope: &Scope,
) -> String {
    let mut parts = Vec::new();
    for id in cluster {
        let v = |s: &Scope| {
            stats
                .get(id)
                .and_then(|m| m.get(s))
                .map_or(-1, |st| st.version)
        };
        parts.push(format!(
            "{}:{}:{}:{}",
            id.key(),
            nodes.get(id).copied().flatten().unwrap_or(-1),
            v(scope),
            v(&Scope::AllStores)
        ));
    }
    parts.join(",")
}

/// The customer's search tokens in a scope, stored forms (`customer_tokens`). Those of `old`
/// (its row as read) when the cluster and the names they come from are the same: computing
/// pinyin readings and prefixes is most of a token set's cost, and most changes keep both.
fn search_tokens(
    old: Option<&StoredRow>,
    cluster: &[Identifier],
    summed: &ScopeStats,
) -> BTreeSet<String> {
    if let Some(o) = old {
        if let Some(tokens) = &o.tokens {
            let same_names = o.row.stats.names.keys().eq(summed.names.keys());
            if o.row.cluster == cluster && same_names && !o.row.stats.is_empty() {
                return tokens.clone();
            }
        }
    }
    c360_domain::search::customer_tokens(cluster, summed)
        .into_iter()
        .map(|t| t.as_str().to_string())
        .collect()
}

impl Segments {
    pub fn new(store: Store, config: Config) -> Self {
        Segments {
            store,
            config: Arc::new(config),
            defs: Arc::new(Mutex::new(None)),
            defs_ttl: Duration::from_secs(10),
            max_attempts: 12,
            scan_page: 2_000,
            paused: Arc::default(),
            refs: None,
        }
    }

    /// The same, naming customers in its `segment_membership` log lines by `customer_ref` too
    /// (the seal of the API's deployment: `c360_runtime::seal::customer_refs_from_env`), beside
    /// the masked identifier. Without it (`None`) the lines carry the masked identifier only.
    pub fn with_customer_refs(mut self, refs: Option<Arc<Seal>>) -> Self {
        self.refs = refs;
        self
    }

    /// Pauses (or resumes) the per-change reconcile of this value and its clones: for a bulk
    /// load that a rescoring follows (`c360-dev up` loading the demo data), which then
    /// evaluates everyone once instead of after each of thousands of records. Resume before
    /// that rescoring starts, so that nothing arriving meanwhile is missed.
    pub fn pause(&self, paused: bool) {
        self.paused
            .store(paused, std::sync::atomic::Ordering::SeqCst);
    }

    /// The same, scanning `items` items per rescoring page (default 2,000; a checkpoint after
    /// each page).
    pub fn with_scan_page(mut self, items: i32) -> Self {
        self.scan_page = items.max(1);
        self
    }

    /// The same, re-reading the definitions after `ttl` (tests use zero).
    pub fn with_defs_ttl(mut self, ttl: Duration) -> Self {
        self.defs_ttl = ttl;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The saved definitions, from this process's copy if it is younger than `defs_ttl`.
    pub async fn defs(&self) -> Result<Arc<Vec<SegmentDef>>, StoreError> {
        if let Ok(guard) = self.defs.lock() {
            if let Some((at, defs)) = guard.as_ref() {
                if at.elapsed() < self.defs_ttl {
                    return Ok(defs.clone());
                }
            }
        }
        let defs = Arc::new(self.store.segment_defs().await?);
        if let Ok(mut guard) = self.defs.lock() {
            *guard = Some((Instant::now(), defs.clone()));
        }
        Ok(defs)
    }

    /// Forgets the cached definitions (after this process changed one).
    pub fn refresh_defs(&self) {
        if let Ok(mut guard) = self.defs.lock() {
            *guard = None;
        }
    }

    /// The evaluation settings of `scope` at `now`.
    pub fn evaluation<'a>(
        &'a self,
        scope: &Scope,
        model: Option<&'a StoreModel>,
        now: Millis,
    ) -> Evaluation<'a> {
        Evaluation {
            now,
            zone: &self.config.zone,
            thresholds: self.config.value.for_scope(scope),
            model,
            monthly_discount_rate: self.config.monthly_discount_rate,
        }
    }

    /// Re-evaluates every saved segment, in every scope, for the customers that `ids` belong
    /// to (a change's touched identifiers), at `now`. Writes only rows and memberships that
    /// changed.
    pub async fn reconcile(
        &self,
        ids: &[Identifier],
        now: Millis,
    ) -> Result<Reconciled, StoreError> {
        if self.paused.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(Reconciled::default());
        }
        self.reconcile_even_paused(ids, now).await
    }

    /// [`Segments::reconcile`], also while paused: `c360-dev` keeps the seed customer's rows
    /// (and so its search hits) current during the demo load it pauses the reconcile for.
    pub async fn reconcile_even_paused(
        &self,
        ids: &[Identifier],
        now: Millis,
    ) -> Result<Reconciled, StoreError> {
        if ids.is_empty() {
            return Ok(Reconciled::default());
        }
        let defs = self.defs().await?;
        let mut covered: BTreeSet<Identifier> = BTreeSet::new();
        let mut total = Reconciled::default();
        for id in ids {
            if covered.contains(id) {
                continue;
            }
            let (done, cluster) = self.reconcile_cluster(id, &defs, now).await?;
            covered.extend(cluster);
            covered.insert(id.clone());
            total.add(done);
        }
        Ok(total)
    }

    /// Re-evaluates the customer `start` belongs to, retrying lost races; returns what it
    /// wrote and the customer's identifiers.
    async fn reconcile_cluster(
        &self,
        start: &Identifier,
        defs: &[SegmentDef],
        now: Millis,
    ) -> Result<(Reconciled, Vec<Identifier>), StoreError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.try_reconcile_cluster(start, defs, now).await {
                Err(StoreError::Conflict) if attempt < self.max_attempts => {
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(StoreError::Conflict) => return Err(StoreError::Contended(attempt)),
                other => return other,
            }
        }
    }

    async fn try_reconcile_cluster(
        &self,
        start: &Identifier,
        defs: &[SegmentDef],
        now: Millis,
    ) -> Result<(Reconciled, Vec<Identifier>), StoreError> {
        // 1. The cluster and its nodes' versions: read until the cluster read is the cluster
        //    every node of it names (a re-link in between changes it).
        let mut cluster = vec![start.clone()];
        let mut nodes: BTreeMap<Identifier, Option<i64>>;
        let mut rounds = 0;
        loop {
            rounds += 1;
            let loaded = self.store.load(None, &cluster, &[], true).await?;
            nodes = cluster
                .iter()
                .map(|id| (id.clone(), loaded.nodes.get(id).map(|n| n.version)))
                .collect();
            let named: BTreeSet<Identifier> = loaded
                .nodes
                .values()
                .flat_map(|n| n.links.cluster.iter().cloned())
                .chain(cluster.iter().cloned())
                .collect();
            let named: Vec<Identifier> = named.into_iter().collect();
            if named == cluster || rounds > 4 {
                break;
            }
            cluster = named;
        }
        cluster.sort();
        let Some(canon) = canonical(&cluster).cloned() else {
            return Ok((Reconciled::default(), cluster));
        };
        // 2. Rows before stats (see the module's documentation).
        let rows: Vec<StoredRow> = try_join_all(cluster.iter().map(|n| self.store.segment_rows(n)))
            .await?
            .into_iter()
            .flatten()
            .collect();
        let stats: BTreeMap<Identifier, BTreeMap<Scope, StoredStats>> = cluster
            .iter()
            .cloned()
            .zip(try_join_all(cluster.iter().map(|n| self.store.node_stats_versioned(n))).await?)
            .collect();
        let mut scopes: BTreeSet<Scope> = rows.iter().map(|r| r.scope.clone()).collect();
        scopes.extend(stats.values().flat_map(|m| m.keys().cloned()));
        let models: BTreeMap<Scope, StoreModel> =
            if defs.iter().any(|d| d.filter.needs_predictions()) {
                let scopes: Vec<Scope> = scopes.iter().cloned().collect();
                self.store
                    .load_with_models(None, &[], &[], &scopes, false)
                    .await?
                    .models
            } else {
                BTreeMap::new()
            };
        let member: Option<MemberInfo> = {
            let mut brand = ScopeStats::default();
            for m in stats.values() {
                if let Some(s) = m.get(&Scope::AllStores) {
                    brand.merge(&s.stats);
                }
            }
            brand.member
        };
        let checks: Vec<(Identifier, Option<i64>)> =
            nodes.iter().map(|(k, v)| (k.clone(), *v)).collect();
        let mut done = Reconciled {
            evaluated: 1,
            ..Reconciled::default()
        };
        let mut writes = Vec::new();
        for scope in &scopes {
            let mut summed = ScopeStats::default();
            for m in stats.values() {
                if let Some(s) = m.get(scope) {
                    summed.merge(&s.stats);
                }
            }
            // Segments filter on figures and tags, never on the other insights.
            summed.insights = summed.insights.for_tags();
            let old = rows.iter().find(|r| &r.scope == scope && r.node == canon);
            let wanted = (!summed.is_empty()).then(|| {
                let tokens = search_tokens(old, &cluster, &summed);
                let row = SegmentRow {
                    cluster: cluster.clone(),
                    stats: summed,
                    member: member.clone(),
                };
                let e = self.evaluation(scope, models.get(scope), now);
                let segments = row.memberships(defs, scope, &e);
                NewRow {
                    row,
                    segments,
                    fingerprint: fingerprint(&cluster, &nodes, &stats, scope),
                    canonical: true,
                    tokens,
                }
            });
            for old in rows.iter().filter(|r| &r.scope == scope && r.node != canon) {
                writes.push(RowWrite {
                    node: old.node.clone(),
                    scope: scope.clone(),
                    expected: Some(old.version),
                    new: None,
                    enter: Vec::new(),
                    leave: old.segments.iter().cloned().collect(),
                    find_put: Vec::new(),
                    find_delete: old.tokens.iter().flatten().cloned().collect(),
                });
            }
            let unchanged = match (old, &wanted) {
                (None, None) => true,
                (Some(o), Some(w)) => {
                    o.row == w.row
                        && o.segments == w.segments
                        && o.fingerprint == w.fingerprint
                        && o.tokens.as_ref() == Some(&w.tokens)
                }
                _ => false,
            };
            if !unchanged {
                let before = old.map(|o| o.segments.clone()).unwrap_or_default();
                let after = wanted
                    .as_ref()
                    .map(|w| w.segments.clone())
                    .unwrap_or_default();
                let had = old.and_then(|o| o.tokens.clone()).unwrap_or_default();
                let has = wanted
                    .as_ref()
                    .map(|w| w.tokens.clone())
                    .unwrap_or_default();
                writes.push(RowWrite {
                    node: canon.clone(),
                    scope: scope.clone(),
                    expected: old.map(|o| o.version),
                    enter: after.difference(&before).cloned().collect(),
                    leave: before.difference(&after).cloned().collect(),
                    find_put: has.difference(&had).cloned().collect(),
                    find_delete: had.difference(&has).cloned().collect(),
                    new: wanted,
                });
            }
        }
        if writes.is_empty() {
            return Ok((done, cluster));
        }
        self.commit(&writes, &checks).await?;
        for w in &writes {
            // The identifier is masked in logs; a phone-only guest is then reachable only
            // through the ref, which opens in the API (`identifier_type=customer_ref`).
            let customer_ref = self.refs.as_ref().and_then(|r| r.seal(&w.node));
            done.rows_written += 1;
            done.entered += w.enter.len() as u64;
            done.left += w.leave.len() as u64;
            for (segs, change) in [(&w.enter, "enter"), (&w.leave, "leave")] {
                for seg in segs.iter() {
                    // The event a campaign tool reacts to (an EventBridge event in AWS would
                    // carry the same fields); the identifier is masked in logs.
                    tracing::info!(
                        event = "segment_membership",
                        change,
                        segment = %seg,
                        scope = %w.scope.key(),
                        customer = %crate::telemetry::masked(&w.node),
                        customer_ref = customer_ref.as_deref(),
                        "customer {change}s segment"
                    );
                }
            }
        }
        Ok((done, cluster))
    }

    /// Commits a customer's row writes: together when they fit in one transaction, else each
    /// row on its own (each still conditioned on its version and the nodes).
    async fn commit(
        &self,
        writes: &[RowWrite],
        checks: &[(Identifier, Option<i64>)],
    ) -> Result<(), StoreError> {
        let total: usize = checks.len() + writes.iter().map(RowWrite::items).sum::<usize>();
        if total <= TRANSACTION_ITEMS {
            return self.store.commit_segment_rows(writes, checks).await;
        }
        for w in writes {
            if checks.len() + w.items() <= TRANSACTION_ITEMS {
                self.store
                    .commit_segment_rows(std::slice::from_ref(w), checks)
                    .await?;
                continue;
            }
            // Too many for one transaction (a first row with many names and segments): the
            // new tokens before the row, so that none its row lists is missing from the index;
            // the old ones after it. One left over by a failure here is only a stale index
            // item: the search keeps a hit only if its row lists the token.
            let bare = RowWrite {
                find_put: Vec::new(),
                find_delete: Vec::new(),
                ..w.clone()
            };
            self.store.write_find_tokens(w, &w.find_put, &[]).await?;
            self.store
                .commit_segment_rows(std::slice::from_ref(&bare), checks)
                .await?;
            self.store.write_find_tokens(w, &[], &w.find_delete).await?;
        }
        Ok(())
    }

    /// Removes the segment rows of `nodes` and every membership they hold (an erasure: call
    /// it once the customer's statistics are gone, so that no reconcile writes them back).
    pub async fn forget(&self, nodes: &[Identifier]) -> Result<Reconciled, StoreError> {
        let mut done = Reconciled::default();
        for node in nodes {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let rows = self.store.segment_rows(node).await?;
                let writes: Vec<RowWrite> = rows
                    .iter()
                    .map(|r| RowWrite {
                        node: r.node.clone(),
                        scope: r.scope.clone(),
                        expected: Some(r.version),
                        new: None,
                        enter: Vec::new(),
                        leave: r.segments.iter().cloned().collect(),
                        find_put: Vec::new(),
                        find_delete: r.tokens.iter().flatten().cloned().collect(),
                    })
                    .collect();
                let mut result = Ok(());
                for w in &writes {
                    result = self.commit(std::slice::from_ref(w), &[]).await;
                    if result.is_err() {
                        break;
                    }
                }
                match result {
                    Err(StoreError::Conflict) if attempt < self.max_attempts => {
                        tokio::time::sleep(backoff(attempt)).await;
                    }
                    Err(e) => return Err(e),
                    Ok(()) => {
                        done.rows_written += writes.len() as u64;
                        done.left += writes.iter().map(|w| w.leave.len() as u64).sum::<u64>();
                        break;
                    }
                }
            }
        }
        Ok(done)
    }

    /// A rescoring run: every customer re-evaluated at `now` with a parallel scan of
    /// `segments` over the node items, each page checkpointed under `run` (an interrupted run
    /// given the same `run` resumes where it stopped; a finished one does nothing). When the
    /// whole run is done, every saved segment defined before it began (by more than
    /// `defs_ttl`) is marked materialized.
    pub async fn rescore(
        &self,
        run: &str,
        segments: i32,
        now: Millis,
    ) -> Result<RescoreReport, StoreError> {
        self.rescore_within(run, segments, now, Budget::UNBOUNDED)
            .await
    }

    /// [`Segments::rescore`], stopping (checkpointed) once `budget` is spent.
    pub async fn rescore_within(
        &self,
        run: &str,
        segments: i32,
        now: Millis,
        budget: Budget,
    ) -> Result<RescoreReport, StoreError> {
        let segments = segments.max(1);
        self.refresh_defs();
        let defs = self.store.segment_defs().await?;
        let walks = try_join_all(
            (0..segments).map(|seg| self.rescore_segment(run, seg, segments, &defs, now, budget)),
        )
        .await?;
        let mut report = RescoreReport {
            run: run.to_string(),
            complete: true,
            ..RescoreReport::default()
        };
        let mut began = now;
        for (changed, started, done) in walks {
            report.changed.add(changed);
            began = Millis(began.0.min(started.0));
            report.complete &= done;
        }
        if !report.complete {
            return Ok(report);
        }
        let settle = i64::try_from(self.defs_ttl.as_millis()).unwrap_or(i64::MAX);
        for def in self.store.segment_defs().await? {
            let fresh = def.updated_at.0.saturating_add(settle) < began.0;
            let already = def
                .built_at
                .is_some_and(|b| b.0 >= def.updated_at.0.saturating_add(settle));
            if fresh && !already {
                let expected = def.version;
                let marked = c360_domain::segment::SegmentDef {
                    built_at: Some(now),
                    ..def
                };
                match self.store.replace_segment_def(&marked, expected).await {
                    Ok(()) => report.materialized.push(marked.id),
                    // Changed meanwhile: it waits for the next run.
                    Err(StoreError::Conflict) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(report)
    }

    async fn rescore_segment(
        &self,
        run: &str,
        segment: i32,
        segments: i32,
        defs: &[SegmentDef],
        now: Millis,
        budget: Budget,
    ) -> Result<(Reconciled, Millis, bool), StoreError> {
        let mut cp: RescoreCheckpoint = self
            .store
            .rescore_checkpoint(run, segment, segments)
            .await?;
        let started = *cp.started_at.get_or_insert(now);
        let mut changed = Reconciled::default();
        let mut pages = 0;
        // At least one page per call, whatever the budget: a run always moves forward.
        while !cp.done && (pages == 0 || !budget.spent(pages)) {
            pages += 1;
            let (nodes, next) = self
                .store
                .scan_nodes_page(segment, segments, cp.after.clone(), self.scan_page)
                .await?;
            for (id, cluster) in nodes {
                // Each customer once: from its canonical node.
                if canonical(&cluster).is_some_and(|c| *c != id) {
                    continue;
                }
                let (r, _) = self.reconcile_cluster(&id, defs, now).await?;
                cp.evaluated += 1;
                cp.written += i64::try_from(r.rows_written).unwrap_or(i64::MAX);
                changed.add(r);
            }
            cp.done = next.is_none();
            cp.after = next;
            self.store
                .put_rescore_checkpoint(run, segment, segments, &cp)
                .await?;
        }
        Ok((changed, started, cp.done))
    }
}
