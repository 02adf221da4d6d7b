//! The identity graph. Nodes are identifiers; a member record links its member id to its
//! phone and its email. A customer is a connected component ("cluster") of that graph.
//!
//! Records never move between customers: each stays under its home node, and a cluster's
//! figures are the sum of its nodes'. Linking two customers that both have history (a
//! merge) or unlinking them is therefore only a change of cluster membership, written in
//! one transaction: exactly once, crash-safe, and the same whatever the arrival order.

use crate::ids::Identifier;
use std::collections::{BTreeMap, BTreeSet};

/// One node as stored: its neighbours and the cluster it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeLinks {
    pub adjacent: BTreeSet<Identifier>,
    pub cluster: Vec<Identifier>,
}

/// The key a customer's timeline entries carry for the customer-keyed time index
/// (`gsi_cluster`, ADR 0014): one identifier of the cluster, a phone if it has one (the
/// smallest), else its smallest identifier. Phones first because a re-link that changes a
/// node's key re-keys all of that node's entries (a job after the re-link), and the common
/// re-link, a member record linking a phone that has been ordering for years, then leaves the
/// phone's entries where they are and re-keys the member's few. `cluster` is `id`'s node
/// item's list, empty for a node never linked: `id` alone.
pub fn cluster_key<'a>(id: &'a Identifier, cluster: &'a [Identifier]) -> &'a Identifier {
    cluster
        .iter()
        .filter(|n| matches!(n, Identifier::Phone(_)))
        .min()
        .or_else(|| cluster.iter().min())
        .unwrap_or(id)
}

/// The nodes whose state a re-link must read: start here, then follow `adjacent` of every
/// node read until nothing new appears (the adapter does the reading).
pub fn relink_start(
    member: &Identifier,
    old_links: &[Identifier],
    new_links: &[Identifier],
) -> BTreeSet<Identifier> {
    let mut s: BTreeSet<Identifier> = old_links.iter().chain(new_links).cloned().collect();
    s.insert(member.clone());
    s
}

/// Given every node reachable from [`relink_start`] (absent nodes as default), replaces the
/// member's links and returns the new state of every node whose state changes.
pub fn relink(
    nodes: &BTreeMap<Identifier, NodeLinks>,
    member: &Identifier,
    old_links: &[Identifier],
    new_links: &[Identifier],
) -> BTreeMap<Identifier, NodeLinks> {
    let mut next: BTreeMap<Identifier, NodeLinks> = nodes.clone();
    for id in relink_start(member, old_links, new_links) {
        next.entry(id).or_default();
    }
    for l in old_links {
        if let Some(n) = next.get_mut(l) {
            n.adjacent.remove(member);
        }
        if let Some(m) = next.get_mut(member) {
            m.adjacent.remove(l);
        }
    }
    for l in new_links {
        if let Some(n) = next.get_mut(l) {
            n.adjacent.insert(member.clone());
        }
        if let Some(m) = next.get_mut(member) {
            m.adjacent.insert(l.clone());
        }
    }
    let mut seen = BTreeSet::new();
    let keys: Vec<Identifier> = next.keys().cloned().collect();
    for start in keys {
        if seen.contains(&start) {
            continue;
        }
        let mut component = BTreeSet::new();
        let mut stack = vec![start];
        while let Some(id) = stack.pop() {
            if !component.insert(id.clone()) {
                continue;
            }
            if let Some(n) = next.get(&id) {
                stack.extend(
                    n.adjacent
                        .iter()
                        .filter(|a| !component.contains(*a))
                        .cloned(),
                );
            }
        }
        let cluster: Vec<Identifier> = component.iter().cloned().collect();
        for id in &component {
            if let Some(n) = next.get_mut(id) {
                n.cluster = cluster.clone();
            }
            seen.insert(id.clone());
        }
    }
    next.into_iter()
        .filter(|(id, n)| nodes.get(id) != Some(n))
        .collect()
}

/// The cluster of a node that has never been linked: itself alone.
pub fn singleton(id: &Identifier) -> NodeLinks {
    NodeLinks {
        adjacent: BTreeSet::new(),
        cluster: vec![id.clone()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{Email, MemberId, Phone};

    #[test]
    fn a_clusters_timeline_key_is_its_smallest_phone_else_its_smallest_identifier() {
        let cluster = [m("M1"), p("13900000002"), e("a@b.cn"), p("13900000001")];
        assert_eq!(cluster_key(&m("M1"), &cluster), &p("13900000001"));
        let members = [e("a@b.cn"), m("M2"), m("M1")];
        assert_eq!(cluster_key(&e("a@b.cn"), &members), &m("M1"));
        // A node never linked is its own customer.
        assert_eq!(cluster_key(&e("a@b.cn"), &[]), &e("a@b.cn"));
    }

    fn m(x: &str) -> Identifier {
        Identifier::Member(MemberId::parse(x).unwrap())
    }
    fn p(x: &str) -> Identifier {
        Identifier::Phone(Phone::parse(x).unwrap())
    }
    fn e(x: &str) -> Identifier {
        Identifier::Email(Email::parse(x).unwrap())
    }

    #[test]
    fn a_member_record_links_phone_and_email() {
        let nodes = BTreeMap::from([(p("13900000009"), singleton(&p("13900000009")))]);
        let out = relink(&nodes, &m("M9"), &[], &[p("13900000009"), e("a@b.cn")]);
        let cluster = vec![m("M9"), p("13900000009"), e("a@b.cn")];
        for id in &cluster {
            assert_eq!(out[id].cluster, cluster);
        }
    }

    #[test]
    fn removing_the_link_splits_the_cluster() {
        let linked = relink(&BTreeMap::new(), &m("M9"), &[], &[p("13900000009")]);
        let out = relink(&linked, &m("M9"), &[p("13900000009")], &[]);
        assert_eq!(out[&m("M9")].cluster, vec![m("M9")]);
        assert_eq!(out[&p("13900000009")].cluster, vec![p("13900000009")]);
    }

    #[test]
    fn a_phone_shared_by_two_members_keeps_them_together_until_both_unlink() {
        let a = relink(&BTreeMap::new(), &m("M1"), &[], &[p("13900000009")]);
        let mut all = a.clone();
        all.extend(relink(&a, &m("M2"), &[], &[p("13900000009")]));
        assert_eq!(all[&m("M1")].cluster.len(), 3);
        let mut after = all.clone();
        after.extend(relink(&all, &m("M1"), &[p("13900000009")], &[]));
        assert_eq!(after[&m("M1")].cluster, vec![m("M1")]);
        assert_eq!(after[&m("M2")].cluster, vec![m("M2"), p("13900000009")]);
    }

    #[test]
    fn relinking_the_same_links_changes_nothing() {
        let a = relink(&BTreeMap::new(), &m("M1"), &[], &[p("13900000009")]);
        assert!(relink(&a, &m("M1"), &[p("13900000009")], &[p("13900000009")]).is_empty());
    }
}
