//! The newest orders (or reservations) of one node in one scope, kept beside its statistics
//! so that a profile reads them by key with the statistics, whatever the customer's history
//! and number of identifiers (ADR 0014, option A). One list per source, so that an order
//! rewrites the orders' list only.
//!
//! A list holds the newest [`RECENT_KEPT`] entries of its kind, in the order of the recent
//! index (`lsi_kind`): time, then source id, newest first. It is maintained exactly like the
//! statistics beside it: a change replaces its record's entry, and when the list cannot tell
//! what comes next (its record left a full list, or the list predates the lists) the plan reads
//! the node's newest entries again ([`crate::plan::NextReads::recent_lookups`]).

use super::TimelineEntry;
use crate::SourceKind;
use serde::{Deserialize, Serialize};
use std::cmp::Reverse;

/// Entries kept per list: the profile shows this many orders and reservations
/// (`C360_RECENT_LIMIT`, default 5, `spec/api.md`), and cannot show more from the lists.
pub const RECENT_KEPT: usize = 5;

/// One record's timeline entry in a list, with its source id (the tie-break between entries
/// of the same millisecond, as in the index's key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecentEntry {
    pub id: String,
    pub entry: TimelineEntry,
}

impl RecentEntry {
    /// Where the entry sorts: its time (negative times as 0, as in the time keys) and id.
    fn rank(&self) -> (i64, &str) {
        (self.entry.at.0.max(0), self.id.as_str())
    }
}

/// Whether records of `kind` have a list (orders and reservations).
pub fn keeps_recent(kind: SourceKind) -> bool {
    matches!(kind, SourceKind::Orders | SourceKind::Reservations)
}

/// Sorts newest first and keeps [`RECENT_KEPT`].
fn settle(list: &mut Vec<RecentEntry>) {
    list.sort_by(|a, b| Reverse(a.rank()).cmp(&Reverse(b.rank())));
    list.dedup_by(|a, b| a.id == b.id);
    list.truncate(RECENT_KEPT);
}

/// The list after record `id` moves from `old` (whether its entry was in this node and scope)
/// to `new` (its entry here now, if any), given the list before (`None`: not known) and how
/// many records of the kind the node had in the scope before (`records_before`, from the
/// statistics). A list not known is one stored by a build from before the lists. `None` when the list cannot tell: the newest entries must be read again and
/// given to [`with_found`].
///
/// A known list holds the newest `min(records_before, RECENT_KEPT)` entries; the records it
/// leaves out are all older than its last entry. So a record leaving a full list, or a new
/// entry older than that last one, can be answered only when the remaining entries still fill
/// the list; otherwise the next-newest is unknown.
pub fn replace_recent(
    list: Option<&[RecentEntry]>,
    records_before: i64,
    id: &str,
    old: bool,
    new: Option<&TimelineEntry>,
) -> Option<Vec<RecentEntry>> {
    let before = usize::try_from(records_before).unwrap_or(0);
    let mut list = match list {
        Some(l) => l.to_vec(),
        None if before == 0 => Vec::new(),
        None => return None,
    };
    // A list that does not hold what the counts say (written by an older build, or damaged)
    // is read again rather than trusted.
    if list.len() != before.min(RECENT_KEPT) {
        return None;
    }
    let truncated = before > list.len();
    let bound = list.last().map(|e| (e.rank().0, e.id.clone()));
    if old {
        list.retain(|e| e.id != id);
    }
    if let Some(entry) = new {
        let candidate = RecentEntry {
            id: id.to_string(),
            entry: entry.clone(),
        };
        let above_bound = bound
            .as_ref()
            .is_none_or(|(t, i)| candidate.rank() >= (*t, i.as_str()));
        if !truncated || above_bound {
            list.push(candidate);
        }
    }
    // Records left out of a truncated list are older than its old last entry: the list is
    // still the newest only if what is known from above that entry fills it.
    if truncated && list.len() < RECENT_KEPT {
        return None;
    }
    settle(&mut list);
    Some(list)
}

/// The list from the node's newest entries read again (`found`: up to [`RECENT_KEPT`] of them,
/// without record `id`'s own entry) and that record's entry here now, if any.
pub fn with_found(
    found: &[RecentEntry],
    id: &str,
    new: Option<&TimelineEntry>,
) -> Vec<RecentEntry> {
    let mut list: Vec<RecentEntry> = found.iter().filter(|e| e.id != id).cloned().collect();
    if let Some(entry) = new {
        list.push(RecentEntry {
            id: id.to_string(),
            entry: entry.clone(),
        });
    }
    settle(&mut list);
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Millis;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn entry(at: i64) -> TimelineEntry {
        TimelineEntry {
            event_type: "order".into(),
            at: Millis(at),
            title: String::new(),
            description: String::new(),
            status: None,
            data: serde_json::Value::Null,
        }
    }

    /// The reference: the newest `RECENT_KEPT` of every record there is.
    fn newest(all: &BTreeMap<String, i64>) -> Vec<(String, i64)> {
        let mut v: Vec<(String, i64)> = all.iter().map(|(k, t)| (k.clone(), *t)).collect();
        v.sort_by(|a, b| (b.1.max(0), &b.0).cmp(&(a.1.max(0), &a.0)));
        v.truncate(RECENT_KEPT);
        v
    }

    fn shown(list: &[RecentEntry]) -> Vec<(String, i64)> {
        list.iter().map(|e| (e.id.clone(), e.entry.at.0)).collect()
    }

    #[test]
    fn a_record_leaving_a_full_list_for_an_older_time_than_the_unseen_sixth_is_read_again() {
        // Six orders at 10, 9, 8, 7, 6, 5: the list holds 10..6, the 5 is not in it.
        let mut all = BTreeMap::new();
        let mut list = Vec::new();
        for (i, t) in [10, 9, 8, 7, 6, 5].into_iter().enumerate() {
            let id = format!("o{i}");
            list = replace_recent(Some(&list), all.len() as i64, &id, false, Some(&entry(t)))
                .expect("a known list takes a new entry");
            all.insert(id, t);
        }
        assert_eq!(shown(&list), newest(&all));
        // The order at 8 is moved back to 1: the newest five are now 10, 9, 7, 6, 5, and the
        // list alone cannot know the 5.
        assert_eq!(
            replace_recent(Some(&list), 6, "o2", true, Some(&entry(1))),
            None
        );
        all.insert("o2".into(), 1);
        let found: Vec<RecentEntry> = newest(&all)
            .into_iter()
            .filter(|(id, _)| id != "o2")
            .map(|(id, t)| RecentEntry {
                id,
                entry: entry(t),
            })
            .collect();
        let list = with_found(&found, "o2", Some(&entry(1)));
        assert_eq!(shown(&list), newest(&all));
    }

    #[test]
    fn a_list_from_before_the_lists_is_read_again_and_an_empty_node_needs_none() {
        assert_eq!(replace_recent(None, 3, "o1", false, Some(&entry(1))), None);
        assert_eq!(
            replace_recent(None, 0, "o1", false, Some(&entry(1))).map(|l| shown(&l)),
            Some(vec![("o1".to_string(), 1)])
        );
        // A list shorter than the counts say is not trusted.
        assert_eq!(
            replace_recent(Some(&[]), 2, "o1", false, Some(&entry(1))),
            None
        );
    }

    #[derive(Debug, Clone)]
    enum Step {
        Put(u8, i64),
        Remove(u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (0u8..12, -2i64..20).prop_map(|(id, t)| Step::Put(id, t)),
            1 => (0u8..12).prop_map(Step::Remove),
        ]
    }

    proptest! {
        /// Whatever the changes, the list equals the newest entries of the records there are,
        /// reading the newest again whenever the list says it cannot tell.
        #[test]
        fn the_list_is_always_the_newest_records(steps in prop::collection::vec(step(), 0..60)) {
            let mut all: BTreeMap<String, i64> = BTreeMap::new();
            let mut list: Option<Vec<RecentEntry>> = Some(Vec::new());
            for s in steps {
                let (id, new) = match s {
                    Step::Put(id, t) => (format!("o{id}"), Some(entry(t))),
                    Step::Remove(id) => (format!("o{id}"), None),
                };
                let old = all.contains_key(&id);
                let next = replace_recent(list.as_deref(), all.len() as i64, &id, old, new.as_ref());
                match &new {
                    Some(e) => all.insert(id.clone(), e.at.0),
                    None => all.remove(&id),
                };
                let next = next.unwrap_or_else(|| {
                    let found: Vec<RecentEntry> = newest(&all)
                        .into_iter()
                        .map(|(id, t)| RecentEntry { id, entry: entry(t) })
                        .collect();
                    with_found(&found, &id, new.as_ref())
                });
                prop_assert_eq!(shown(&next), newest(&all));
                list = Some(next);
            }
        }
    }
}
