//! The reads of one customer. Round trip 1 reads the identifier's node item together with
//! its own statistics and the scope's model (one BatchGetItem); for the profile, also the
//! node's newest orders and reservations, kept beside its statistics (ADR 0014). Value needs
//! nothing else for a guest known by one identifier (most guests): one round trip. A customer
//! with several identifiers needs round trip 2 for the others' statistics (and lists), one
//! BatchGetItem. A timeline (the profile's too) is read in round trip 2 by one Query: the
//! identifier's own partition, or the customer-keyed index for all its identifiers at once.
//! So value, profile and a timeline page take at most 3 requests in 2 round trips, whatever
//! the history and the number of identifiers. Recommendations still read per identifier
//! (baskets of newest orders), beside round trip 1.

use crate::recommend::{self, coupons_json, dishes_json, RecommendationKind, BASKETS_PER_NODE};
use crate::seal::PageCursors;
use c360_domain::coupon::{applicable, needs_predictions, Baseline};
use c360_domain::identity::cluster_key;
use c360_domain::prediction::StoreModel;
use c360_domain::projection::insights::Daypart;
use c360_domain::projection::{
    MemberInfo, RecentEntry, Scope, ScopeStats, TimelineEntry, RECENT_KEPT,
};
use c360_domain::search::{query_tokens, Token};
use c360_domain::segment::SegmentFigures;
use c360_domain::view::{search_answer, CustomerView, SearchHit};
use c360_domain::{Identifier, Millis, SourceKind};
use c360_dynamodb::keys::{scope_prefix, time_key};
use c360_dynamodb::store::{Keys, Store, StoreError, StoredStats};
use c360_recommend::{recommend_dishes, Basket, Params, StoreDishes};
use c360_runtime::config::Config;
use futures::future::try_join_all;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("no customer for this identifier in this scope")]
    NotFound,
    #[error("the cursor does not belong to this timeline")]
    BadCursor,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An answer, and the names the customer goes by (for masking free text that mentions them).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub data: Value,
    pub names: Vec<String>,
}

impl Answer {
    /// An answer about no one customer in particular (search, audit, erasure).
    pub fn anonymous(data: Value) -> Self {
        Answer {
            data,
            names: Vec::new(),
        }
    }
}

#[derive(Clone)]
pub struct Reads {
    store: Store,
    config: Config,
}

/// A customer as one scope sees it.
struct ScopeView {
    stats: ScopeStats,
    member: Option<MemberInfo>,
    model: Option<StoreModel>,
    /// Each node's recent lists in the scope, when the read asked for them.
    recent: Vec<NodeRecent>,
}

/// A node's newest entries of one source in a scope as stored beside its stats, with its
/// record count there: a list that is not there where the node has records of the source (an
/// item from before the lists) is read from the index instead.
struct NodeRecent {
    node: Identifier,
    kind: SourceKind,
    records: i64,
    list: Option<Vec<RecentEntry>>,
}

/// The sources whose newest entries a profile shows, each from its own list.
const RECENT_KINDS: [SourceKind; 2] = [SourceKind::Orders, SourceKind::Reservations];

impl NodeRecent {
    /// The newest `limit` entries with their time keys, or `None` when the stored list cannot
    /// tell them (not there, or `limit` beyond what lists keep).
    fn newest(&self, scope: &Scope, limit: usize) -> Option<Vec<(String, TimelineEntry)>> {
        let kind = self.kind;
        if self.records == 0 {
            return Some(Vec::new());
        }
        let list = self.list.as_ref()?;
        if limit > RECENT_KEPT {
            return None;
        }
        Some(
            list.iter()
                .take(limit)
                .map(|e| (time_key(scope, e.entry.at, kind, &e.id), e.entry.clone()))
                .collect(),
        )
    }
}

impl ScopeView {
    fn answer(&self, data: Value) -> Answer {
        let names = self
            .member
            .as_ref()
            .and_then(|m| m.name.clone())
            .into_iter()
            .chain(self.stats.display_name().map(str::to_string))
            .collect();
        Answer { data, names }
    }
}

/// The stats items a customer's answer in `scope` needs: every node's in the scope, and in a
/// store scope the all-stores item of the member nodes, for the member info. A member record's
/// home is always its member id (`SourceRecord::home`), so no phone or email node holds member
/// info and their all-stores items would be read for nothing.
fn stats_keys(cluster: &[Identifier], scope: &Scope) -> Vec<(Identifier, Scope)> {
    let mut keys: Vec<(Identifier, Scope)> = cluster
        .iter()
        .map(|id| (id.clone(), scope.clone()))
        .collect();
    if *scope != Scope::AllStores {
        keys.extend(
            cluster
                .iter()
                .filter(|id| matches!(id, Identifier::Member(_)))
                .map(|id| (id.clone(), Scope::AllStores)),
        );
    }
    keys
}

/// A customer's figures in a scope (the sum over its identifiers), and its brand-wide member
/// info (kept under the all-stores scope, shown in every scope that can see the customer).
fn sum_cluster(
    stats: &BTreeMap<(Identifier, Scope), StoredStats>,
    cluster: &[Identifier],
    scope: &Scope,
) -> (ScopeStats, Option<MemberInfo>) {
    let mut in_scope = ScopeStats::default();
    let mut brand = ScopeStats::default();
    for node in cluster {
        if let Some(s) = stats.get(&(node.clone(), scope.clone())) {
            in_scope.merge(&s.stats);
        }
        if let Some(s) = stats.get(&(node.clone(), Scope::AllStores)) {
            brand.merge(&s.stats);
        }
    }
    (in_scope, brand.member)
}

/// Merges several nodes' newest-first pages into one newest-first list.
fn merge_newest_first(
    pages: Vec<Vec<(String, TimelineEntry)>>,
    limit: usize,
) -> Vec<(String, TimelineEntry)> {
    let mut all: Vec<(String, TimelineEntry)> = pages.into_iter().flatten().collect();
    all.sort_by(|a, b| b.0.cmp(&a.0));
    all.dedup_by(|a, b| a.0 == b.0);
    all.truncate(limit);
    all
}

/// What round trip 1 read: the customer's identifiers (from the node item), which stats keys
/// were asked for, and what came back.
struct First {
    /// The identifier asked for.
    id: Identifier,
    cluster: Vec<Identifier>,
    own: Vec<(Identifier, Scope)>,
    loaded: c360_dynamodb::store::Loaded,
    /// Whether the asked node's entries all carry its customer's key (ADR 0014).
    settled: bool,
    /// Whether the nodes' recent lists in the scope are read with their stats (the profile).
    recent: bool,
}

/// The identifiers of `id`'s customer, from its node item's cluster list (empty for a node
/// that was never linked: the identifier alone).
fn cluster_of(id: &Identifier, cluster: Vec<Identifier>) -> Vec<Identifier> {
    if cluster.is_empty() {
        vec![id.clone()]
    } else {
        cluster
    }
}

/// The customer's identifiers besides the one asked for: round trip 2's nodes.
fn others(cluster: &[Identifier], id: &Identifier) -> Vec<Identifier> {
    cluster.iter().filter(|n| *n != id).cloned().collect()
}

impl Reads {
    pub fn new(store: Store, config: Config) -> Self {
        Reads { store, config }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The identifiers of the customer `id` belongs to (one GetItem).
    pub async fn resolve(&self, id: &Identifier) -> Result<Vec<Identifier>, ReadError> {
        let node = self.store.get_node(id).await?.ok_or(ReadError::NotFound)?;
        Ok(cluster_of(id, node.links.cluster))
    }

    /// Round trip 1: the node item of `id`, its own stats in `scope` and the scope's fitted
    /// model, in one BatchGetItem. [`ReadError::NotFound`] when `id` has no node.
    async fn first(&self, id: &Identifier, scope: &Scope) -> Result<First, ReadError> {
        self.first_reading(id, scope, false).await
    }

    /// [`Reads::first`], with the node's recent lists in `scope` too when `recent` (and then
    /// the other nodes' in round trip 2).
    async fn first_reading(
        &self,
        id: &Identifier,
        scope: &Scope,
        recent: bool,
    ) -> Result<First, ReadError> {
        let id_alone = std::slice::from_ref(id);
        let own = stats_keys(id_alone, scope);
        let lists = RECENT_KINDS.map(|kind| (id.clone(), scope.clone(), kind));
        let keys = Keys {
            nodes: id_alone,
            stats: &own,
            recent: if recent { &lists } else { &[] },
            models: std::slice::from_ref(scope),
            ..Keys::default()
        };
        let mut loaded = self.store.load_keys(keys, false).await?;
        let node = loaded.nodes.remove(id).ok_or(ReadError::NotFound)?;
        Ok(First {
            id: id.clone(),
            settled: node.entries_settled(id),
            cluster: cluster_of(id, node.links.cluster),
            own,
            loaded,
            recent,
        })
    }

    /// Round trip 2 when the customer has other identifiers: their stats (one BatchGetItem);
    /// then the customer as `scope` sees it. [`ReadError::NotFound`] when it has no records
    /// there.
    async fn seen(&self, first: First, scope: &Scope) -> Result<ScopeView, ReadError> {
        Ok(self.seen_with_nodes(first, scope, false).await?.0)
    }

    /// [`Reads::seen`], reading the other identifiers' node items too when `nodes` (in the
    /// same BatchGetItem): with them, whether every node of the customer is settled in the
    /// customer-keyed index (ADR 0014).
    async fn seen_with_nodes(
        &self,
        first: First,
        scope: &Scope,
        nodes: bool,
    ) -> Result<(ScopeView, bool), ReadError> {
        let First {
            id,
            cluster,
            own,
            mut loaded,
            settled,
            recent,
        } = first;
        let rest: Vec<(Identifier, Scope)> = stats_keys(&cluster, scope)
            .into_iter()
            .filter(|k| !own.contains(k))
            .collect();
        let other_nodes: Vec<Identifier> = if nodes {
            others(&cluster, &id)
        } else {
            Vec::new()
        };
        let other_lists: Vec<(Identifier, Scope, SourceKind)> = if recent {
            others(&cluster, &id)
                .into_iter()
                .flat_map(|n| RECENT_KINDS.map(|kind| (n.clone(), scope.clone(), kind)))
                .collect()
        } else {
            Vec::new()
        };
        let mut all_settled = settled;
        if !rest.is_empty() || !other_nodes.is_empty() {
            let keys = Keys {
                nodes: &other_nodes,
                stats: &rest,
                recent: &other_lists,
                ..Keys::default()
            };
            let more = self.store.load_keys(keys, false).await?;
            all_settled &= other_nodes.iter().all(|n| {
                more.nodes
                    .get(n)
                    .is_some_and(|stored| stored.entries_settled(n))
            });
            loaded.stats.extend(more.stats);
            loaded.recent.extend(more.recent);
        }
        let (stats, member) = sum_cluster(&loaded.stats, &cluster, scope);
        if stats.is_empty() {
            return Err(ReadError::NotFound);
        }
        let mut lists = std::mem::take(&mut loaded.recent);
        let recent = if recent {
            cluster
                .iter()
                .flat_map(|n| RECENT_KINDS.map(|kind| (n.clone(), kind)))
                .filter_map(|(node, kind)| {
                    let stats = &loaded.stats.get(&(node.clone(), scope.clone()))?.stats;
                    Some(NodeRecent {
                        records: stats.records_of(kind),
                        list: lists.remove(&(node.clone(), scope.clone(), kind)),
                        node,
                        kind,
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok((
            ScopeView {
                stats,
                member,
                model: loaded.models.remove(scope),
                recent,
            },
            all_settled,
        ))
    }

    fn view<'a>(
        &'a self,
        id: &'a Identifier,
        seen: &'a ScopeView,
        scope: &Scope,
        now: Millis,
    ) -> CustomerView<'a> {
        CustomerView {
            identifier: id,
            stats: &seen.stats,
            member: seen.member.as_ref(),
            now,
            zone: &self.config.zone,
            thresholds: self.config.value.for_scope(scope),
            model: seen.model.as_ref(),
            monthly_discount_rate: self.config.monthly_discount_rate,
        }
    }

    /// The customer's newest `limit` entries of `kind` in `scope`, from its nodes' recent
    /// lists (read with their stats); a node whose list cannot tell (an item from before the
    /// lists) is read from the index, one Query each.
    async fn newest_of_kind(
        &self,
        seen: &ScopeView,
        scope: &Scope,
        kind: SourceKind,
        limit: usize,
    ) -> Result<Vec<TimelineEntry>, ReadError> {
        let mut pages = Vec::new();
        let mut unknown = Vec::new();
        for node in seen.recent.iter().filter(|n| n.kind == kind) {
            match node.newest(scope, limit) {
                Some(page) => pages.push(page),
                None => unknown.push(&node.node),
            }
        }
        pages.extend(
            try_join_all(
                unknown
                    .into_iter()
                    .map(|n| self.store.recent_of_kind(n, scope, kind, limit)),
            )
            .await?,
        );
        Ok(merge_newest_first(pages, limit)
            .into_iter()
            .map(|(_, e)| e)
            .collect())
    }

    /// The customer in `scope` with its newest timeline entries, orders and reservations.
    /// Requests, whatever the history: round trip 1 reads the node with its own stats and
    /// recent lists (one BatchGetItem); round trip 2 reads the node's own timeline (one Query)
    /// or, for a customer with other identifiers, their nodes, stats and lists (one
    /// BatchGetItem) beside one Query of the customer-keyed index (ADR 0014). So 2 requests
    /// for one identifier and 3 for more, in 2 round trips; more only while a node awaits its
    /// re-key or holds items from before the lists.
    pub async fn profile(
        &self,
        id: &Identifier,
        scope: &Scope,
        now: Millis,
    ) -> Result<Answer, ReadError> {
        let first = self.first_reading(id, scope, true).await?;
        let limit = self.config.profile_timeline_limit;
        let (seen, timeline, _) = self.seen_with_page(first, scope, limit, None).await?;
        let recent = self.config.recent_limit;
        let (orders, reservations) = futures::try_join!(
            self.newest_of_kind(&seen, scope, SourceKind::Orders, recent),
            self.newest_of_kind(&seen, scope, SourceKind::Reservations, recent),
        )?;
        let timeline: Vec<TimelineEntry> = timeline.into_iter().map(|(_, e)| e).collect();
        Ok(seen.answer(
            self.view(id, &seen, scope, now)
                .profile(&timeline, &orders, &reservations),
        ))
    }

    /// Dishes or coupons for the customer in `scope` (see [`crate::recommend`]). Requests,
    /// whatever the history: the node item with its own stats (one BatchGetItem), the scope's
    /// stored inputs (one GetItem) and, for dishes, one Query of newest orders per identifier;
    /// the other identifiers' stats (one BatchGetItem) only when there are any.
    pub async fn recommendations(
        &self,
        id: &Identifier,
        scope: &Scope,
        kind: RecommendationKind,
        limit: usize,
        now: Millis,
    ) -> Result<Answer, ReadError> {
        let baskets = |nodes: Vec<Identifier>| async move {
            if kind == RecommendationKind::Coupons {
                return Ok(Vec::new());
            }
            let pages = try_join_all(
                nodes
                    .iter()
                    .map(|n| self.store.recent_baskets(n, scope, BASKETS_PER_NODE)),
            )
            .await?;
            Ok::<_, StoreError>(pages.into_iter().flatten().collect::<Vec<_>>())
        };
        let (first, reco, mut own) = futures::try_join!(
            self.first(id, scope),
            async { Ok(self.store.store_reco(scope).await?) },
            async { Ok(baskets(vec![id.clone()]).await?) }
        )?;
        let others = others(&first.cluster, id);
        let (seen, more) = futures::try_join!(self.seen(first, scope), async {
            Ok(baskets(others).await?)
        })?;
        own.extend(more);
        let baskets = own;
        let zone = &self.config.zone;
        let view = self.view(id, &seen, scope, now);
        let head = (id.value(), id.kind().as_str());
        let data = match kind {
            RecommendationKind::Coupons => {
                // A baseline that cannot be read counts as none: the rules that need it do
                // not apply, the others still do.
                let baseline: Baseline = reco
                    .baseline
                    .as_deref()
                    .and_then(|b| serde_json::from_str(b).ok())
                    .unwrap_or_else(Baseline::unknown);
                let rules = self.config.coupons.rules_for(scope);
                let birthday = seen.member.as_ref().and_then(|m| m.birthday_month_day());
                let figures = SegmentFigures::of_view(
                    &view,
                    scope,
                    birthday,
                    needs_predictions(rules.iter().copied()),
                );
                let mut matches = applicable(rules, &figures, &baseline);
                matches.truncate(limit);
                let at = reco.baseline.is_some().then_some(baseline.computed_at);
                recommend::answer(head, kind, coupons_json(&matches), at, now, zone)
            }
            RecommendationKind::Dishes => {
                let store: Option<StoreDishes> = reco
                    .dishes
                    .as_deref()
                    .and_then(|d| serde_json::from_str(d).ok());
                let mut baskets = baskets;
                baskets.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.order_id.cmp(&b.order_id)));
                baskets.dedup_by(|a, b| a.order_id == b.order_id);
                baskets.truncate(BASKETS_PER_NODE);
                let baskets: Vec<Basket> = baskets
                    .into_iter()
                    .map(|b| Basket {
                        order_id: b.order_id,
                        ordered_at: zone.format(b.at),
                        dishes: b.dishes,
                    })
                    .collect();
                let daypart = Daypart::of(now, zone);
                let as_of = chrono::DateTime::parse_from_rfc3339(&zone.format(now)).ok();
                let recs = recommend_dishes(
                    &baskets,
                    store.as_ref(),
                    daypart.as_str(),
                    limit,
                    &Params::default(),
                    as_of,
                );
                // The guest's own names first (what their orders said), then the store's.
                let mut names: BTreeMap<String, String> =
                    store.as_ref().map(|s| s.names.clone()).unwrap_or_default();
                for (dish, t) in &seen.stats.insights.dishes {
                    if let Some(n) = &t.name {
                        names.insert(dish.clone(), n.clone());
                    }
                }
                let at = store.as_ref().map(|s| Millis(s.computed_at));
                recommend::answer(head, kind, dishes_json(&recs, &names), at, now, zone)
            }
        };
        Ok(seen.answer(data))
    }

    pub async fn value(
        &self,
        id: &Identifier,
        scope: &Scope,
        now: Millis,
    ) -> Result<Answer, ReadError> {
        let first = self.first(id, scope).await?;
        let seen = self.seen(first, scope).await?;
        Ok(seen.answer(self.view(id, &seen, scope, now).value_answer()))
    }

    /// A page of the timeline. The cursor is the time key of the last entry of the previous
    /// page, sealed for `id` by `cursors`; the key carries its scope, so a cursor cannot be
    /// replayed against another customer or another scope ([`ReadError::BadCursor`]).
    pub async fn timeline(
        &self,
        id: &Identifier,
        scope: &Scope,
        limit: usize,
        cursor: Option<&str>,
        cursors: &PageCursors,
        now: Millis,
    ) -> Result<Answer, ReadError> {
        let before = match cursor {
            None => None,
            Some(c) => {
                let key = cursors.open(&id.key(), c).ok_or(ReadError::BadCursor)?;
                if !key.starts_with(&scope_prefix(scope)) {
                    return Err(ReadError::BadCursor);
                }
                Some(key)
            }
        };
        let first = self.first(id, scope).await?;
        let (seen, page, more) = self
            .seen_with_page(first, scope, limit, before.as_deref())
            .await?;
        let next = more
            .then(|| page.last().and_then(|(k, _)| cursors.seal(&id.key(), k)))
            .flatten();
        let entries: Vec<TimelineEntry> = page.into_iter().map(|(_, e)| e).collect();
        Ok(seen.answer(
            self.view(id, &seen, scope, now)
                .timeline_answer(&entries, next),
        ))
    }

    /// Round trip 2 of a read that shows timeline entries: the customer as `scope` sees it
    /// (the other identifiers' node items and stats, one BatchGetItem), beside one Query of
    /// the customer-keyed index for `limit + 1` entries older than `before` (a time key); an
    /// identifier alone reads its own partition instead. Returns the page, newest first with
    /// time keys, and whether more exist.
    async fn seen_with_page(
        &self,
        first: First,
        scope: &Scope,
        limit: usize,
        before: Option<&str>,
    ) -> Result<(ScopeView, Vec<(String, TimelineEntry)>, bool), ReadError> {
        let pages = |nodes: Vec<Identifier>| async move {
            try_join_all(
                nodes
                    .iter()
                    .map(|n| self.store.timeline_page(n, scope, limit, before)),
            )
            .await
        };
        let cluster = first.cluster.clone();
        if cluster.len() == 1 {
            let (seen, mut own) =
                futures::try_join!(self.seen(first, scope), async { Ok(pages(cluster).await?) })?;
            let (page, more) = own.pop().unwrap_or_default();
            return Ok((seen, page, more));
        }
        let key = cluster_key(&first.id, &cluster).clone();
        let ((seen, settled), indexed) =
            futures::try_join!(self.seen_with_nodes(first, scope, true), async {
                Ok(self
                    .store
                    .cluster_timeline_page(&key, scope, limit + 1, before, None)
                    .await?)
            })?;
        let (page, more) = if settled {
            self.cluster_page(&cluster, &key, scope, limit, before, indexed)
                .await?
        } else {
            // A node still being re-keyed (or from before the index): its entries are read
            // where they are, one Query per identifier.
            let per_node = pages(cluster).await?;
            let more_in_some_node = per_node.iter().any(|(_, more)| *more);
            let total: usize = per_node.iter().map(|(p, _)| p.len()).sum();
            let page = merge_newest_first(per_node.into_iter().map(|(p, _)| p).collect(), limit);
            let more = more_in_some_node || total > page.len();
            (page, more)
        };
        Ok((seen, page, more))
    }

    /// A page of `limit` entries of the customer whose nodes are `cluster`, from the
    /// customer-keyed index, starting with `first` (the Query round trip 2 sent), and whether
    /// more exist. Entries of other nodes under the same key (a split's departed side, not yet
    /// re-keyed) are left out, and only then can another Query be needed.
    async fn cluster_page(
        &self,
        cluster: &[Identifier],
        key: &Identifier,
        scope: &Scope,
        limit: usize,
        before: Option<&str>,
        first: c360_dynamodb::store::ClusterPage,
    ) -> Result<(Vec<(String, TimelineEntry)>, bool), ReadError> {
        let mut got: Vec<(String, TimelineEntry)> = Vec::new();
        let mut page = first;
        loop {
            got.extend(
                page.entries
                    .into_iter()
                    .filter(|(_, home, _)| cluster.contains(home))
                    .map(|(lt, _, e)| (lt, e)),
            );
            // `limit + 1` asked: one more than shown says whether there are more, unless the
            // cursor's own entry (a BETWEEN bound, skipped) took that place; then the Query's
            // own "more" says it.
            if got.len() >= limit {
                let more = got.len() > limit || page.next.is_some();
                got.truncate(limit);
                return Ok((got, more));
            }
            let Some(start) = page.next else {
                return Ok((got, false));
            };
            page = self
                .store
                .cluster_timeline_page(key, scope, limit + 1 - got.len(), before, Some(start))
                .await?;
        }
    }

    /// Customers matching what staff typed, in a scope, at most `limit` (ADR 0014, search).
    /// Stage 1: one Query of `gsi_find` per token kind the text can be (at most three, sent
    /// together; digits are never a name), each of `limit + 1` items: a customer holds a token
    /// once per scope, under its canonical identifier, so each item is a different customer.
    /// Stage 2: one BatchGetItem of the first `limit` customers' segment rows in the scope
    /// (the scope's figures summed over the cluster, its member info and its tokens), one item
    /// per hit. A hit is kept only if its row lists the token that found it: the row is the
    /// truth, the index its copy (see `c360_runtime::segments`). Each customer shows once,
    /// saying which kind of token found it first (`matched_by`); `has_more` says the page was
    /// cut at `limit`.
    pub async fn search(
        &self,
        query: &str,
        scope: &Scope,
        limit: usize,
        now: Millis,
    ) -> Result<Value, ReadError> {
        let tokens = query_tokens(query);
        let found = try_join_all(
            tokens
                .iter()
                .map(|t| self.store.find_customers(scope, t.as_str(), limit + 1)),
        )
        .await?;
        let mut matched: Vec<(Identifier, &Token)> = Vec::new();
        let mut seen = BTreeSet::new();
        let mut has_more = false;
        for (token, (customers, more)) in tokens.iter().zip(found) {
            has_more |= more;
            for c in customers {
                if seen.insert(c.clone()) {
                    matched.push((c, token));
                }
            }
        }
        if matched.len() > limit {
            has_more = true;
            matched.truncate(limit);
        }
        let keys: Vec<(Identifier, Scope)> = matched
            .iter()
            .map(|(c, _)| (c.clone(), scope.clone()))
            .collect();
        let rows = self.store.segment_rows_at(&keys).await?;
        let mut hits = Vec::new();
        for (customer, token) in &matched {
            let Some(stored) = rows.get(customer) else {
                continue;
            };
            let listed = stored
                .tokens
                .as_ref()
                .is_some_and(|t| t.contains(token.as_str()));
            if !listed {
                continue;
            }
            let hit = SearchHit {
                cluster: &stored.row.cluster,
                matched_by: token.kind(),
                stats: &stored.row.stats,
                member: stored.row.member.as_ref(),
            };
            hits.push(hit.json(self.config.value.for_scope(scope), &self.config.zone, now));
        }
        Ok(search_answer(query, hits, has_more, &self.config.zone, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_scope_reads_the_brand_wide_stats_of_member_nodes_only() {
        let cluster = vec![
            Identifier::parse(c360_domain::IdentifierType::Phone, "13800138000").expect("phone"),
            Identifier::parse(c360_domain::IdentifierType::MemberId, "M1").expect("member"),
            Identifier::parse(c360_domain::IdentifierType::Email, "a@b.cn").expect("email"),
        ];
        let store = Scope::Store(c360_domain::StoreId::parse("s1").expect("store"));
        let keys = stats_keys(&cluster, &store);
        assert_eq!(keys.len(), 4, "{keys:?}");
        assert!(cluster
            .iter()
            .all(|id| keys.contains(&(id.clone(), store.clone()))));
        assert!(keys.contains(&(cluster[1].clone(), Scope::AllStores)));
        // All stores: one item per node, which holds the member info too.
        let all = stats_keys(&cluster, &Scope::AllStores);
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all.iter().all(|(_, s)| *s == Scope::AllStores));
    }

    /// An order's entry at `t` ms, with nothing else in it.
    fn order_at(t: i64) -> TimelineEntry {
        TimelineEntry {
            event_type: "order".into(),
            at: Millis(t),
            title: String::new(),
            description: String::new(),
            status: None,
            data: Value::Null,
        }
    }

    #[test]
    fn a_stored_list_answers_only_what_it_can_tell() {
        let entry = |id: &str, t: i64| RecentEntry {
            id: id.into(),
            entry: order_at(t),
        };
        let node = |records: i64, list: Option<Vec<RecentEntry>>| NodeRecent {
            node: Identifier::parse(c360_domain::IdentifierType::Phone, "13800138000")
                .expect("phone"),
            kind: SourceKind::Orders,
            records,
            list,
        };
        let scope = Scope::AllStores;
        let two = node(2, Some(vec![entry("o2", 20), entry("o1", 10)]));
        let keys: Vec<String> = two
            .newest(&scope, 1)
            .expect("known")
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys.len(), 1);
        assert!(keys[0].ends_with("#orders#o2"), "{keys:?}");
        // More than a list keeps, or no list where there are records: read from the index.
        assert!(two.newest(&scope, RECENT_KEPT + 1).is_none());
        assert!(node(3, None).newest(&scope, 5).is_none());
        // No records of the source: nothing to read, list or not.
        assert_eq!(node(0, None).newest(&scope, 5), Some(Vec::new()));
    }

    #[test]
    fn merging_pages_keeps_the_newest() {
        let e = order_at;
        let pages = vec![
            vec![("A#3".to_string(), e(3)), ("A#1".to_string(), e(1))],
            vec![("A#2".to_string(), e(2))],
        ];
        let merged: Vec<i64> = merge_newest_first(pages, 2)
            .into_iter()
            .map(|(_, e)| e.at.0)
            .collect();
        assert_eq!(merged, vec![3, 2]);
    }
}
