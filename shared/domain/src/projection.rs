//! How one source record contributes to a customer, and how the per-scope statistics
//! change when a record appears, changes or disappears.
//!
//! The projection is kept per identifier node and per scope (all stores, or one store):
//! a record lives under one node (its [`home`](crate::source::Identities::home)) and counts
//! in the all-stores scope and in its own store's scope. A customer is a cluster of nodes
//! (see [`crate::identity`]); its figures are the sum of its nodes' figures, so linking or
//! unlinking identifiers never moves or recounts a record.
//!
//! Files: `stats.rs` (a record's contribution and the node statistics it adds to),
//! `timeline.rs` (the timeline entry rendered at ingest), `recent.rs` (the newest orders and
//! reservations kept beside the statistics), this file the scopes, sequence
//! numbers and what applying a change decides.

pub mod insights;
mod recent;
mod stats;
#[cfg(test)]
mod tests;
mod timeline;

pub use recent::{keeps_recent, replace_recent, with_found, RecentEntry, RECENT_KEPT};
pub use stats::{Contribution, Extreme, MemberInfo, OrderDay, ScopeStats};
pub use timeline::TimelineEntry;

use crate::ids::{Identifier, StoreId};
use crate::source::SourceRecord;
use crate::time::Zone;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A scope: every store together, or one store. Part of every storage key, so a store-scoped
/// read cannot see another store's figures.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Scope {
    AllStores,
    Store(StoreId),
}

impl Scope {
    pub fn key(&self) -> String {
        match self {
            Scope::AllStores => "A".to_string(),
            Scope::Store(s) => format!("S#{}", s.as_str()),
        }
    }
    pub fn from_key(key: &str) -> Option<Scope> {
        match key {
            "A" => Some(Scope::AllStores),
            _ => StoreId::parse(key.strip_prefix("S#")?)
                .ok()
                .map(Scope::Store),
        }
    }
    /// The scopes a record with this store counts in.
    pub fn of_record(store: Option<&StoreId>) -> Vec<Scope> {
        let mut v = vec![Scope::AllStores];
        if let Some(s) = store {
            v.push(Scope::Store(s.clone()));
        }
        v
    }
}

/// A DynamoDB stream sequence number: a decimal integer of up to 40 digits, increasing for
/// the changes of one item.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeqNo(String);

impl SeqNo {
    pub fn parse(raw: &str) -> Option<SeqNo> {
        let t = raw.trim();
        if t.is_empty() || t.len() > 64 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let stripped = t.trim_start_matches('0');
        Some(SeqNo(if stripped.is_empty() {
            "0".into()
        } else {
            stripped.into()
        }))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The sequence number of a record applied from a scan of its source table (a rebuild):
    /// below every stream sequence number, so any stream delivery of the record wins over it.
    pub fn scanned() -> SeqNo {
        SeqNo("0".into())
    }
    pub fn is_scanned(&self) -> bool {
        self.0 == "0"
    }
}

impl Ord for SeqNo {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}
impl PartialOrd for SeqNo {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// What the projection remembers of one source record: the last change applied (by stream
/// sequence number) and, unless the record is gone, where and how it counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedRecord {
    pub seq: SeqNo,
    pub state: Option<RecordState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordState {
    pub home: Identifier,
    pub store: Option<StoreId>,
    pub contribution: Contribution,
    pub links: Vec<Identifier>,
    pub timeline: TimelineEntry,
}

impl RecordState {
    /// `None` when the record belongs to no customer (no identifiers at all).
    pub fn of(record: &SourceRecord, zone: &Zone) -> Option<RecordState> {
        Some(RecordState {
            home: record.home()?,
            store: record.store().cloned(),
            contribution: Contribution::of(record, zone),
            links: record.links(),
            timeline: TimelineEntry::of(record, zone),
        })
    }
    pub fn scopes(&self) -> Vec<Scope> {
        Scope::of_record(self.store.as_ref())
    }
}

/// One change read from a source stream.
// Lives for one apply and is never stored in bulk: boxing the record would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// INSERT or MODIFY: the record's new state.
    Upsert(SourceRecord),
    /// REMOVE by a person or service: the record no longer exists.
    Remove,
    /// REMOVE by DynamoDB's TTL: retention in the source, the history stays.
    Expire,
}

/// What applying a change to a record does.
#[allow(clippy::large_enum_variant)] // as for `Change`
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Already applied (a duplicate or an older delivery): nothing to write.
    Stale,
    /// Remember the sequence number; the projection keeps what it has.
    Advance,
    /// Move the record from `before` to `after` (either may be absent).
    Apply {
        before: Option<RecordState>,
        after: Option<RecordState>,
    },
}

/// Decides what a change does given what was applied before. Pure, so it is tested once here
/// and every adapter (DynamoDB, memory) shares it.
pub fn decide(
    previous: Option<&AppliedRecord>,
    seq: &SeqNo,
    change: &Change,
    zone: &Zone,
) -> Decision {
    if let Some(prev) = previous {
        if prev.seq >= *seq {
            return Decision::Stale;
        }
    }
    let before = previous.and_then(|p| p.state.clone());
    let after = match change {
        Change::Upsert(record) => RecordState::of(record, zone),
        Change::Remove => None,
        Change::Expire => return Decision::Advance,
    };
    if before == after {
        return Decision::Advance;
    }
    Decision::Apply { before, after }
}

/// Decides what applying a record read by a scan of its source table does (a rebuild; see
/// `docs/adr/0004-rebuild.md`). A scan carries no sequence number, so it never competes with
/// the stream: where a stream delivery of the record was applied, the stream's state stands
/// (it is as new as the scan's or newer, and the stream delivers whatever is newer still).
/// Otherwise the record moves to the scanned state, unless it is there already.
pub fn decide_scanned(
    previous: Option<&AppliedRecord>,
    record: &SourceRecord,
    zone: &Zone,
) -> Decision {
    if previous.is_some_and(|p| !p.seq.is_scanned()) {
        return Decision::Stale;
    }
    let before = previous.and_then(|p| p.state.clone());
    let after = RecordState::of(record, zone);
    match (previous, before == after) {
        (Some(_), true) => Decision::Stale,
        (None, true) => Decision::Advance,
        (_, false) => Decision::Apply { before, after },
    }
}

/// For each (node, scope): the contribution to take out and the one to put in.
pub type StatDeltas<'a> =
    BTreeMap<(Identifier, Scope), (Option<&'a Contribution>, Option<&'a Contribution>)>;

/// The (node, scope) statistics a move from `before` to `after` touches.
pub fn stat_deltas<'a>(
    before: Option<&'a RecordState>,
    after: Option<&'a RecordState>,
) -> StatDeltas<'a> {
    let mut out = StatDeltas::new();
    if let Some(b) = before {
        for scope in b.scopes() {
            out.entry((b.home.clone(), scope)).or_default().0 = Some(&b.contribution);
        }
    }
    if let Some(a) = after {
        for scope in a.scopes() {
            out.entry((a.home.clone(), scope)).or_default().1 = Some(&a.contribution);
        }
    }
    out
}
