//! What one source change writes: the ingest rule the projection's correctness rests on, as a
//! pure function (over 400 lines: the rule reads best in one piece, in the order its reads
//! happen, and a third of the file is the types of its input and output). [`plan`] takes what
//! has been read so far ([`Snapshot`]) and answers either "read these too" ([`Plan::Read`]) or
//! the typed writes of one conditional transaction ([`Plan::Write`]). The projector
//! (`shared/ingest/src/projector.rs`) loops load → plan → … → commit; the store only
//! translates [`Write`]s into `TransactWriteItems`. What the writes were computed from is
//! guarded by the versions read: stats and nodes are written conditioned on them, and the nodes
//! whose entries and tokens change are checked (`Write::CheckNode`), so a concurrent change
//! makes the transaction fail and the whole plan is made again from fresh reads (exactly-once:
//! `docs/adr/0001-table-design.md`).
//!
//! The reads, in the order a plan asks for them (each round is one batch or one set of
//! parallel Queries): the record's anchor with the new state's home node and stats (with their
//! recent lists, for orders and reservations) and the suppressions of its identifiers; then
//! stats, lists and nodes the move touches beyond those; then, for a re-link, the clusters
//! reachable from them (until closed, at most [`MAX_CLUSTER_NODES`]); then, in one round, the
//! extremes (first/last counted order, last event) a removed contribution took with it, the
//! newest entries of a recent list that can no longer tell them
//! ([`crate::projection::replace_recent`]) and, for nodes whose cluster a re-link changes, all
//! their stats (their tokens in every scope hold the cluster's identifiers).

use crate::identity::{cluster_key, relink, relink_start, singleton, NodeLinks};
use crate::projection::{
    decide, decide_scanned, keeps_recent, replace_recent, stat_deltas, with_found, AppliedRecord,
    Change, Decision, Extreme, RecentEntry, RecordState, Scope, ScopeStats, TimelineEntry,
};
use crate::search::{tokens, tokens_for, Token};
use crate::{Identifier, Millis, SeqNo, SourceKind, Zone};
use std::collections::{BTreeMap, BTreeSet};

/// The largest identity cluster a re-link walks; a larger one fails the change loudly
/// (a phone shared by dozens of memberships is a data problem, ADR 0001).
pub const MAX_CLUSTER_NODES: usize = 60;

/// The change to plan: one stream record (or one scanned item, for the rebuild).
#[derive(Debug, Clone)]
pub struct Input<'a> {
    pub kind: SourceKind,
    pub source_id: &'a str,
    pub seq: &'a SeqNo,
    pub change: &'a Change,
    /// A rebuild's scan: never overrides a stream delivery (ADR 0004).
    pub scanned: bool,
}

/// A value with the version it was read at (optimistic concurrency).
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: i64,
}

/// What has been read for a change. Empty at first; each [`Plan::Read`] answered adds to it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// Whether the first read (anchor, guessed nodes and stats, suppressions) was made.
    pub first_read: bool,
    pub anchor: Option<AppliedRecord>,
    /// Whether any of the change's identifiers is suppressed (erased).
    pub suppressed: bool,
    /// Nodes read and found.
    pub nodes: BTreeMap<Identifier, Versioned<NodeLinks>>,
    /// Nodes read and not found.
    pub absent_nodes: BTreeSet<Identifier>,
    /// Stats read and found.
    pub stats: BTreeMap<(Identifier, Scope), Versioned<ScopeStats>>,
    /// Every stats key read, found or not.
    pub stats_read: BTreeSet<(Identifier, Scope)>,
    /// Extremes found among the node's other records in the scope (`None`: none left).
    pub extremes: BTreeMap<(Identifier, Scope, Extreme), Option<Millis>>,
    /// Every stats item of a node, for nodes a re-link regroups.
    pub node_stats: BTreeMap<Identifier, BTreeMap<Scope, ScopeStats>>,
    /// The newest orders (or reservations) of a node in a scope, kept beside its stats
    /// ([`crate::projection::replace_recent`]): lists read and found.
    pub recent: BTreeMap<(Identifier, Scope, SourceKind), Vec<RecentEntry>>,
    /// Every recent list read, found or not.
    pub recent_read: BTreeSet<(Identifier, Scope, SourceKind)>,
    /// A node's newest entries of a kind in a scope read again (up to
    /// [`crate::projection::RECENT_KEPT`], without this record's own entry).
    pub recent_found: BTreeMap<(Identifier, Scope, SourceKind), Vec<RecentEntry>>,
}

/// What to read next. `first` is the first read: the anchor, `nodes`, `stats` and the
/// suppressions of `identifiers`, in one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NextReads {
    pub first: bool,
    pub identifiers: Vec<Identifier>,
    pub nodes: Vec<Identifier>,
    pub stats: Vec<(Identifier, Scope)>,
    /// One Query each, excluding this record's own entry.
    pub extremes: Vec<(Identifier, Scope, Extreme)>,
    /// One Query each.
    pub node_stats: Vec<Identifier>,
    /// Recent lists, read with `stats` (same batch).
    pub recent: Vec<(Identifier, Scope, SourceKind)>,
    /// One Query each, with the extremes: a node's newest entries of a kind in a scope,
    /// excluding this record's own entry.
    pub recent_lookups: Vec<(Identifier, Scope, SourceKind)>,
}

/// One write of the change's transaction. Conditions: `expected` is the version read
/// (`None`: the item must not exist); the anchor is conditioned on `previous`.
// A change's writes live for one transaction (at most 100): boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Write {
    /// Stats of a node in a scope; empty stats delete the item.
    Stats {
        node: Identifier,
        scope: Scope,
        stats: ScopeStats,
        expected: Option<i64>,
    },
    PutToken {
        node: Identifier,
        scope: Scope,
        token: Token,
    },
    DeleteToken {
        node: Identifier,
        scope: Scope,
        token: Token,
    },
    /// The record's timeline entry in a scope, under its home node. `dishes`: a counted
    /// order's dish ids, indexed with the entry so that a dish's latest order can be found
    /// again ([`Extreme::DishLastOrdered`]).
    PutEntry {
        node: Identifier,
        scope: Scope,
        /// The key of the home node's customer after this change
        /// ([`crate::identity::cluster_key`]): the entry's partition in the customer-keyed
        /// time index. The home node is guarded in the same transaction, so a re-link that
        /// changes the key makes this change re-plan rather than write a stale key.
        cluster_key: Identifier,
        entry: TimelineEntry,
        counted: bool,
        dishes: Vec<String>,
    },
    DeleteEntry {
        node: Identifier,
        scope: Scope,
    },
    /// The newest entries of the record's source (orders or reservations) of a node in a
    /// scope; an empty list deletes the item. Written only beside the same (node, scope)'s
    /// `Stats`, whose version condition guards it.
    Recent {
        node: Identifier,
        scope: Scope,
        list: Vec<RecentEntry>,
    },
    /// A node's links, with a new version.
    PutNode {
        id: Identifier,
        links: NodeLinks,
        expected: Option<i64>,
    },
    /// The node is still at the version read (or still absent).
    CheckNode {
        id: Identifier,
        expected: Option<i64>,
    },
    /// The identifier was not erased meanwhile.
    CheckNotSuppressed {
        id: Identifier,
    },
    /// The record's sequence number and state.
    Anchor {
        applied: AppliedRecord,
        previous: Option<AppliedRecord>,
    },
}

/// What the change did.
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

/// Everything a change may have changed in an answer: every identifier of every customer it
/// touched (both sides of a link or a split) and the scopes whose figures moved (ADR 0006).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    pub ids: BTreeSet<Identifier>,
    pub scopes: BTreeSet<Scope>,
}

impl Touched {
    fn nodes<'a>(&mut self, nodes: impl IntoIterator<Item = (&'a Identifier, &'a NodeLinks)>) {
        for (id, links) in nodes {
            self.ids.insert(id.clone());
            self.ids.extend(links.cluster.iter().cloned());
            self.ids.extend(links.adjacent.iter().cloned());
        }
    }

    fn state(&mut self, state: &RecordState) {
        self.ids.insert(state.home.clone());
        self.ids.extend(state.links.iter().cloned());
        self.scopes.extend(state.scopes());
    }

    /// Adds another attempt's.
    pub fn merge(&mut self, other: Touched) {
        self.ids.extend(other.ids);
        self.scopes.extend(other.scopes);
    }
}

/// The writes of one change (empty for a stale one), its outcome and what it touched.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub writes: Vec<Write>,
    pub outcome: Outcome,
    pub touched: Touched,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Read(NextReads),
    Write(Planned),
}

/// Why a change cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("identity cluster larger than {MAX_CLUSTER_NODES} identifiers")]
    ClusterTooLarge,
}

fn cluster_of(id: &Identifier, links: &NodeLinks) -> Vec<Identifier> {
    if links.cluster.is_empty() {
        vec![id.clone()]
    } else {
        links.cluster.clone()
    }
}

/// Plans one change from what `snap` holds: the next reads, or the writes. Call it again
/// with the reads answered until it returns [`Plan::Write`]; it is deterministic, so an
/// answer never depends on how the reads were split.
pub fn plan(input: &Input, snap: &Snapshot, zone: &Zone) -> Result<Plan, PlanError> {
    let identifiers = match input.change {
        Change::Upsert(record) => record.identities().all(),
        Change::Remove | Change::Expire => Vec::new(),
    };
    if !snap.first_read {
        // Common case: the record stays where it was, so reading the anchor alongside the new
        // state's stats and home node is all the reading needed.
        let after_guess = match input.change {
            Change::Upsert(record) => RecordState::of(record, zone),
            Change::Remove | Change::Expire => None,
        };
        let guess_stats: Vec<(Identifier, Scope)> = stat_deltas(None, after_guess.as_ref())
            .into_keys()
            .collect();
        let guess_nodes: Vec<Identifier> = after_guess.iter().map(|a| a.home.clone()).collect();
        let guess_recent = guess_stats
            .iter()
            .filter(|_| keeps_recent(input.kind))
            .map(|(node, scope)| (node.clone(), scope.clone(), input.kind))
            .collect();
        return Ok(Plan::Read(NextReads {
            first: true,
            identifiers,
            nodes: guess_nodes,
            stats: guess_stats,
            recent: guess_recent,
            ..NextReads::default()
        }));
    }
    let previous = snap.anchor.as_ref();
    let mut touched = Touched::default();
    touched.ids.extend(identifiers.iter().cloned());
    touched.nodes(snap.nodes.iter().map(|(id, n)| (id, &n.value)));
    for state in previous.iter().filter_map(|p| p.state.as_ref()) {
        touched.state(state);
    }
    // An erased customer's records are not projected again: the change counts as a removal.
    let change = if snap.suppressed {
        &Change::Remove
    } else {
        input.change
    };
    let decision = match (input.scanned, change) {
        (true, Change::Upsert(record)) => decide_scanned(previous, record, zone),
        _ => decide(previous, input.seq, change, zone),
    };
    let (before, after) = match decision {
        Decision::Stale => {
            return Ok(Plan::Write(Planned {
                writes: Vec::new(),
                outcome: Outcome::Stale,
                touched,
            }))
        }
        Decision::Advance => {
            let state = previous.and_then(|p| p.state.clone());
            // Advancing an upsert means its state equals the one applied: none at all is a
            // record that belongs to no customer.
            let no_customer = state.is_none() && matches!(change, Change::Upsert(_));
            let outcome = if snap.suppressed {
                Outcome::Suppressed
            } else if no_customer {
                Outcome::NoCustomer
            } else {
                Outcome::Advanced
            };
            return Ok(Plan::Write(Planned {
                writes: vec![Write::Anchor {
                    applied: AppliedRecord {
                        seq: input.seq.clone(),
                        state,
                    },
                    previous: previous.cloned(),
                }],
                outcome,
                touched,
            }));
        }
        Decision::Apply { before, after } => (before, after),
    };

    let deltas = stat_deltas(before.as_ref(), after.as_ref());
    for (node, scope) in deltas.keys() {
        touched.ids.insert(node.clone());
        touched.scopes.insert(scope.clone());
    }
    for state in after.iter() {
        touched.state(state);
    }
    let member = after.as_ref().or(before.as_ref()).map(|s| s.home.clone());
    let old_links = before.as_ref().map(|b| b.links.clone()).unwrap_or_default();
    let new_links = after.as_ref().map(|a| a.links.clone()).unwrap_or_default();
    let relinking = input.kind == SourceKind::MemberSync && old_links != new_links;

    // Second round: stats the move touches beyond the first read's, and nodes: every node
    // whose stats change (a node's search tokens carry its cluster's identifiers) and, for a
    // re-link, where the walk starts.
    let mut want_nodes: BTreeSet<Identifier> = deltas.keys().map(|(n, _)| n.clone()).collect();
    if let (true, Some(m)) = (relinking, &member) {
        want_nodes.extend(relink_start(m, &old_links, &new_links));
    }
    let known = |id: &Identifier| snap.nodes.contains_key(id) || snap.absent_nodes.contains(id);
    let more = NextReads {
        stats: deltas
            .keys()
            .filter(|k| !snap.stats_read.contains(*k))
            .cloned()
            .collect(),
        nodes: want_nodes.iter().filter(|n| !known(n)).cloned().collect(),
        recent: deltas
            .keys()
            .filter(|_| keeps_recent(input.kind))
            .map(|(node, scope)| (node.clone(), scope.clone(), input.kind))
            .filter(|k| !snap.recent_read.contains(k))
            .collect(),
        ..NextReads::default()
    };
    if !more.stats.is_empty() || !more.nodes.is_empty() || !more.recent.is_empty() {
        return Ok(Plan::Read(more));
    }

    // Identity: the new links of every node a re-link changes, from whole clusters.
    let mut changed: BTreeMap<Identifier, NodeLinks> = BTreeMap::new();
    if let (true, Some(m)) = (relinking, &member) {
        let frontier: Vec<Identifier> = snap
            .nodes
            .values()
            .flat_map(|n| n.value.adjacent.iter().chain(n.value.cluster.iter()))
            .filter(|id| !known(id))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !frontier.is_empty() {
            if snap.nodes.len() + frontier.len() > MAX_CLUSTER_NODES {
                return Err(PlanError::ClusterTooLarge);
            }
            return Ok(Plan::Read(NextReads {
                nodes: frontier,
                ..NextReads::default()
            }));
        }
        let links: BTreeMap<Identifier, NodeLinks> = snap
            .nodes
            .iter()
            .map(|(id, n)| (id.clone(), n.value.clone()))
            .collect();
        changed = relink(&links, m, &old_links, &new_links);
        // Both sides of the link or split: the clusters before (walked) and after.
        touched.nodes(links.iter());
        touched.nodes(changed.iter());
    }
    let cluster_before = |id: &Identifier| -> Vec<Identifier> {
        snap.nodes
            .get(id)
            .map(|n| cluster_of(id, &n.value))
            .unwrap_or_else(|| vec![id.clone()])
    };
    let cluster_after = |id: &Identifier| -> Vec<Identifier> {
        changed
            .get(id)
            .map(|l| cluster_of(id, l))
            .unwrap_or_else(|| cluster_before(id))
    };

    let mut writes = Vec::new();
    let mut need = NextReads::default();

    // Statistics and search tokens of every (node, scope) the move touches; an extreme the
    // old contribution held is found again among the node's other records.
    let mut scopes_changed: BTreeSet<Identifier> = BTreeSet::new();
    for ((node, scope), (old, new)) in &deltas {
        let stored = snap.stats.get(&(node.clone(), scope.clone()));
        let mut stats = stored.map(|s| s.value.clone()).unwrap_or_default();
        let was_empty = stats.is_empty();
        if keeps_recent(input.kind) {
            let new_entry = after
                .as_ref()
                .filter(|_| new.is_some())
                .map(|a| &a.timeline);
            let key = (node.clone(), scope.clone(), input.kind);
            let replaced = replace_recent(
                snap.recent.get(&key).map(Vec::as_slice),
                stats.records_of(input.kind),
                input.source_id,
                old.is_some(),
                new_entry,
            );
            let list = match (replaced, snap.recent_found.get(&key)) {
                (Some(list), _) => Some(list),
                (None, Some(found)) => Some(with_found(found, input.source_id, new_entry)),
                (None, None) => {
                    need.recent_lookups.push(key);
                    None
                }
            };
            if let Some(list) = list {
                writes.push(Write::Recent {
                    node: node.clone(),
                    scope: scope.clone(),
                    list,
                });
            }
        }
        let names_before: Vec<String> = stats.names.keys().cloned().collect();
        for extreme in stats.replace(*old, *new) {
            let key = (node.clone(), scope.clone(), extreme);
            match snap.extremes.get(&key) {
                Some(found) => stats.restore(&key.2, *found),
                None => need.extremes.push(key),
            }
        }
        if was_empty != stats.is_empty() {
            scopes_changed.insert(node.clone());
        }
        // A node's tokens in a scope follow from its cluster, whether it has records there and
        // their names; most records (another order of a known guest) change none of them, and
        // computing the tokens (pinyin readings, prefixes) was a third of a plan's time.
        let (before, after) = (cluster_before(node), cluster_after(node));
        let token_change = before != after
            || was_empty != stats.is_empty()
            || !stats.names.keys().eq(names_before.iter());
        let token_sets = token_change.then(|| {
            (
                tokens_for(node, &before, was_empty, &names_before),
                tokens(node, &after, &stats),
            )
        });
        writes.push(Write::Stats {
            node: node.clone(),
            scope: scope.clone(),
            stats,
            expected: stored.map(|s| s.version),
        });
        if let Some((tokens_before, tokens_after)) = token_sets {
            token_writes(&mut writes, node, scope, &tokens_before, &tokens_after);
        }
    }

    // A node whose cluster a re-link changes holds the other identifiers' tokens in every
    // scope it has records in, not only in those this record touches. Only identifier tokens
    // change there, never name tokens, so a record changing names in such a scope at the
    // same time commutes with this write; one adding or emptying a scope bumps the node's
    // version and conflicts.
    let regrouped: Vec<Identifier> = changed
        .keys()
        .filter(|id| snap.nodes.contains_key(*id) && cluster_before(id) != cluster_after(id))
        .cloned()
        .collect();
    need.node_stats = regrouped
        .iter()
        .filter(|id| !snap.node_stats.contains_key(*id))
        .cloned()
        .collect();
    if !need.extremes.is_empty() || !need.node_stats.is_empty() || !need.recent_lookups.is_empty() {
        return Ok(Plan::Read(need));
    }
    for node in &regrouped {
        for (scope, stats) in snap.node_stats.get(node).into_iter().flatten() {
            if deltas.contains_key(&(node.clone(), scope.clone())) {
                continue;
            }
            let tokens_before = tokens(node, &cluster_before(node), stats);
            let tokens_after = tokens(node, &cluster_after(node), stats);
            token_writes(&mut writes, node, scope, &tokens_before, &tokens_after);
            // Cached search answers of that scope may now miss or wrongly show the customer.
            touched.scopes.insert(scope.clone());
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
        writes.push(Write::DeleteEntry {
            node: node.clone(),
            scope: scope.clone(),
        });
    }
    if let Some(a) = &after {
        for (node, scope) in &is {
            writes.push(Write::PutEntry {
                node: node.clone(),
                scope: scope.clone(),
                cluster_key: cluster_key(node, &cluster_after(node)).clone(),
                entry: a.timeline.clone(),
                counted: a.contribution.counted_spend.is_some(),
                dishes: a
                    .contribution
                    .habits
                    .dishes
                    .iter()
                    .map(|d| d.id.clone())
                    .collect(),
            });
        }
    }

    // Nodes: re-linked ones rewritten, a new home created. Every node whose tokens this
    // change wrote is guarded, its tokens having been computed from its cluster; one gaining
    // or losing a scope gets a new version, so that a re-link, which rewrites the tokens of
    // every scope it found, cannot commit having missed one.
    let version = |id: &Identifier| snap.nodes.get(id).map(|n| n.version);
    let mut guarded: BTreeSet<Identifier> = BTreeSet::new();
    for (id, links) in &changed {
        writes.push(Write::PutNode {
            id: id.clone(),
            links: links.clone(),
            expected: version(id),
        });
        guarded.insert(id.clone());
    }
    if let Some(a) = &after {
        if !snap.nodes.contains_key(&a.home) && guarded.insert(a.home.clone()) {
            writes.push(Write::PutNode {
                id: a.home.clone(),
                links: singleton(&a.home),
                expected: None,
            });
        }
    }
    for (id, _) in deltas.keys() {
        if !guarded.insert(id.clone()) {
            continue;
        }
        writes.push(match snap.nodes.get(id) {
            Some(n) if scopes_changed.contains(id) => Write::PutNode {
                id: id.clone(),
                links: n.value.clone(),
                expected: Some(n.version),
            },
            n => Write::CheckNode {
                id: id.clone(),
                expected: n.map(|n| n.version),
            },
        });
    }
    // An entry's cluster key came from its home node's cluster: guard the home too, should
    // no stats of it change (an entry rewritten with the same figures).
    for (node, _) in &is {
        if guarded.insert(node.clone()) {
            writes.push(Write::CheckNode {
                id: node.clone(),
                expected: version(node),
            });
        }
    }
    if relinking {
        // The clusters were computed from every node read.
        for (id, node) in &snap.nodes {
            if guarded.insert(id.clone()) {
                writes.push(Write::CheckNode {
                    id: id.clone(),
                    expected: Some(node.version),
                });
            }
        }
    }

    // Erasure suppresses first and deletes after: a change that read "not suppressed" must
    // not land once the suppression is there.
    if after.is_some() {
        for id in &identifiers {
            writes.push(Write::CheckNotSuppressed { id: id.clone() });
        }
    }
    writes.push(Write::Anchor {
        applied: AppliedRecord {
            seq: input.seq.clone(),
            state: after,
        },
        previous: previous.cloned(),
    });
    Ok(Plan::Write(Planned {
        writes,
        outcome: if snap.suppressed {
            Outcome::Suppressed
        } else {
            Outcome::Applied
        },
        touched,
    }))
}

/// Puts the tokens a (node, scope) gains and deletes those it loses.
fn token_writes(
    writes: &mut Vec<Write>,
    node: &Identifier,
    scope: &Scope,
    before: &BTreeSet<Token>,
    after: &BTreeSet<Token>,
) {
    for token in after.difference(before) {
        writes.push(Write::PutToken {
            node: node.clone(),
            scope: scope.clone(),
            token: token.clone(),
        });
    }
    for token in before.difference(after) {
        writes.push(Write::DeleteToken {
            node: node.clone(),
            scope: scope.clone(),
            token: token.clone(),
        });
    }
}

#[cfg(test)]
mod tests;
