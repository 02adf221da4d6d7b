//! The ingest rule's cases, each from a hand-built [`World`]: what is stored before the change.
//! A plan's reads are answered from it by lookup; no table, no store.

use super::*;
use crate::ids::{MemberId, Phone};
use crate::projection::Contribution;
use crate::segment::Birthday;
use crate::source::{Identities, Member, Order, OrderStatus, OrderType};
use crate::{Fen, SourceRecord, StoreId};

const T1: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const DAY: i64 = 86_400_000;

fn zone() -> Zone {
    Zone::default()
}
fn phone(p: &str) -> Identifier {
    Identifier::Phone(Phone::parse(p).unwrap())
}
fn member_id(m: &str) -> Identifier {
    Identifier::Member(MemberId::parse(m).unwrap())
}
fn s1() -> Scope {
    Scope::Store(StoreId::parse("s1").unwrap())
}
fn seq(n: u64) -> SeqNo {
    SeqNo::parse(&n.to_string()).unwrap()
}

fn order(id: &str, status: OrderStatus, fen: i64, at: i64) -> SourceRecord {
    SourceRecord::Order(Order {
        order_id: id.into(),
        order_number: None,
        store: StoreId::parse("s1").unwrap(),
        ids: Identities {
            member: None,
            phone: Some(Phone::parse("13800138000").unwrap()),
            email: None,
        },
        customer_name: Some("张三".into()),
        order_type: OrderType::DineIn,
        status,
        total: Fen(fen),
        items: Vec::new(),
        created_at: Millis(at),
    })
}

fn member(m: &str, p: &str) -> SourceRecord {
    SourceRecord::Member(Member {
        member_id: MemberId::parse(m).unwrap(),
        phone: Some(Phone::parse(p).unwrap()),
        email: None,
        name: Some("张三".into()),
        level: Some("金卡".into()),
        points: None,
        balance: None,
        store: Some(StoreId::parse("s1").unwrap()),
        birthday: None,
        registered_at: Millis(T1),
        synced_at: None,
    })
}

/// What is stored before the change.
#[derive(Default)]
struct World {
    anchor: Option<AppliedRecord>,
    suppressed: bool,
    nodes: BTreeMap<Identifier, Versioned<NodeLinks>>,
    stats: BTreeMap<(Identifier, Scope), Versioned<ScopeStats>>,
    extremes: BTreeMap<(Identifier, Scope, Extreme), Option<Millis>>,
    recent: BTreeMap<(Identifier, Scope, SourceKind), Vec<RecentEntry>>,
    /// Every entry of a kept kind, by source id: what a recent lookup reads.
    entries: BTreeMap<(Identifier, Scope, SourceKind), BTreeMap<String, TimelineEntry>>,
}

impl World {
    /// The world after `records` were applied one by one (stats summed, one node per home).
    fn with(records: &[&SourceRecord]) -> World {
        let mut w = World::default();
        for r in records {
            let state = RecordState::of(r, &zone()).unwrap();
            w.nodes
                .entry(state.home.clone())
                .or_insert_with(|| Versioned {
                    value: singleton(&state.home),
                    version: 1,
                });
            for scope in state.scopes() {
                let s = w
                    .stats
                    .entry((state.home.clone(), scope.clone()))
                    .or_insert_with(|| Versioned {
                        value: ScopeStats::default(),
                        version: 1,
                    });
                s.value.replace(None, Some(&Contribution::of(r, &zone())));
                if keeps_recent(r.kind()) {
                    w.entries
                        .entry((state.home.clone(), scope.clone(), r.kind()))
                        .or_default()
                        .insert(r.source_id().to_string(), state.timeline.clone());
                }
            }
        }
        w.recent = w
            .entries
            .keys()
            .map(|key| (key.clone(), w.newest(&key.0, &key.1, key.2, "")))
            .collect();
        w
    }

    /// The newest entries of a kind in a node and scope, without record `except`'s.
    fn newest(
        &self,
        node: &Identifier,
        scope: &Scope,
        kind: SourceKind,
        except: &str,
    ) -> Vec<RecentEntry> {
        let found: Vec<RecentEntry> = self
            .entries
            .get(&(node.clone(), scope.clone(), kind))
            .into_iter()
            .flatten()
            .map(|(id, entry)| RecentEntry {
                id: id.clone(),
                entry: entry.clone(),
            })
            .collect();
        with_found(&found, except, None)
    }

    fn applied(mut self, record: &SourceRecord, n: u64) -> World {
        self.anchor = Some(AppliedRecord {
            seq: seq(n),
            state: RecordState::of(record, &zone()),
        });
        self
    }

    fn answer(&self, reads: &NextReads, snap: &mut Snapshot, source_id: &str) {
        if reads.first {
            snap.first_read = true;
            snap.anchor = self.anchor.clone();
            snap.suppressed = self.suppressed;
        }
        for id in &reads.nodes {
            match self.nodes.get(id) {
                Some(n) => {
                    snap.nodes.insert(id.clone(), n.clone());
                }
                None => {
                    snap.absent_nodes.insert(id.clone());
                }
            }
        }
        for key in &reads.stats {
            snap.stats_read.insert(key.clone());
            if let Some(s) = self.stats.get(key) {
                snap.stats.insert(key.clone(), s.clone());
            }
        }
        for key in &reads.extremes {
            let found = self.extremes.get(key).copied().flatten();
            snap.extremes.insert(key.clone(), found);
        }
        for key in &reads.recent {
            snap.recent_read.insert(key.clone());
            if let Some(list) = self.recent.get(key) {
                snap.recent.insert(key.clone(), list.clone());
            }
        }
        for (node, scope, kind) in &reads.recent_lookups {
            let found = self.newest(node, scope, *kind, source_id);
            snap.recent_found
                .insert((node.clone(), scope.clone(), *kind), found);
        }
        for id in &reads.node_stats {
            let all = self
                .stats
                .iter()
                .filter(|((n, _), _)| n == id)
                .map(|((_, scope), s)| (scope.clone(), s.value.clone()))
                .collect();
            snap.node_stats.insert(id.clone(), all);
        }
    }
}

/// Plans `change` against `world`: the rounds of reads it asked for, and what it writes.
fn run(world: &World, kind: SourceKind, n: u64, change: &Change) -> (Vec<NextReads>, Planned) {
    let source_id = match change {
        Change::Upsert(r) => r.source_id().to_string(),
        _ => "o1".to_string(),
    };
    let s = seq(n);
    let input = Input {
        kind,
        source_id: &source_id,
        seq: &s,
        change,
        scanned: false,
    };
    let mut snap = Snapshot::default();
    let mut rounds = Vec::new();
    loop {
        match plan(&input, &snap, &zone()).expect("a plan") {
            Plan::Read(reads) => {
                assert!(rounds.len() < 10, "a plan that never ends: {rounds:?}");
                world.answer(&reads, &mut snap, &source_id);
                rounds.push(reads);
            }
            Plan::Write(planned) => return (rounds, planned),
        }
    }
}

fn stats_written(p: &Planned, scope: &Scope) -> ScopeStats {
    p.writes
        .iter()
        .find_map(|w| match w {
            Write::Stats {
                scope: s, stats, ..
            } if s == scope => Some(stats.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no stats written in {scope:?}: {:?}", p.writes))
}

fn count(p: &Planned, f: impl Fn(&Write) -> bool) -> usize {
    p.writes.iter().filter(|w| f(w)).count()
}

fn anchor_written(p: &Planned) -> &AppliedRecord {
    p.writes
        .iter()
        .find_map(|w| match w {
            Write::Anchor { applied, .. } => Some(applied),
            _ => None,
        })
        .expect("the anchor is written")
}

#[test]
fn a_new_record_is_read_once_and_writes_stats_entries_tokens_node_and_anchor() {
    let o = order("o1", OrderStatus::Paid, 12_800, T1);
    let (rounds, p) = run(
        &World::default(),
        SourceKind::Orders,
        1,
        &Change::Upsert(o.clone()),
    );
    assert_eq!(
        rounds.len(),
        1,
        "one read: anchor, home node, stats, suppressions"
    );
    assert!(rounds[0].first);
    assert_eq!(rounds[0].nodes, vec![phone("13800138000")]);
    assert_eq!(rounds[0].stats.len(), 2, "all stores and s1");
    assert_eq!(p.outcome, Outcome::Applied);
    for scope in [Scope::AllStores, s1()] {
        let s = stats_written(&p, &scope);
        assert_eq!((s.counted_orders, s.spend_fen), (1, 12_800));
    }
    assert_eq!(count(&p, |w| matches!(w, Write::PutEntry { .. })), 2);
    assert!(count(&p, |w| matches!(w, Write::PutToken { .. })) > 0);
    assert!(p.writes.contains(&Write::PutNode {
        id: phone("13800138000"),
        links: singleton(&phone("13800138000")),
        expected: None,
    }));
    assert!(p.writes.contains(&Write::CheckNotSuppressed {
        id: phone("13800138000")
    }));
    assert_eq!(anchor_written(&p).seq, seq(1));
    assert!(p.touched.scopes.contains(&s1()));
}

#[test]
fn a_duplicate_or_an_older_delivery_writes_nothing() {
    let o = order("o1", OrderStatus::Paid, 12_800, T1);
    let world = World::with(&[&o]).applied(&o, 5);
    for n in [5, 4] {
        let (rounds, p) = run(&world, SourceKind::Orders, n, &Change::Upsert(o.clone()));
        assert_eq!(rounds.len(), 1);
        assert_eq!(p.outcome, Outcome::Stale, "seq {n}");
        assert!(p.writes.is_empty(), "seq {n}: {:?}", p.writes);
    }
}

#[test]
fn a_status_change_moves_the_order_into_the_counted_figures() {
    let pending = order("o1", OrderStatus::Pending, 12_800, T1);
    let paid = order("o1", OrderStatus::Paid, 12_800, T1);
    let world = World::with(&[&pending]).applied(&pending, 1);
    assert_eq!(
        world.stats[&(phone("13800138000"), s1())]
            .value
            .counted_orders,
        0
    );
    let (_, p) = run(&world, SourceKind::Orders, 2, &Change::Upsert(paid));
    assert_eq!(p.outcome, Outcome::Applied);
    let s = stats_written(&p, &s1());
    assert_eq!(
        (s.counted_orders, s.spend_fen, s.order_records),
        (1, 12_800, 1)
    );
    // Conditioned on the version read.
    assert!(p.writes.iter().any(|w| matches!(
        w,
        Write::Stats { scope, expected: Some(1), .. } if *scope == s1()
    )));
}

#[test]
fn a_refund_of_the_newest_counted_order_finds_the_previous_one_again() {
    let older = order("o0", OrderStatus::Paid, 5_000, T1);
    let newest = order("o1", OrderStatus::Paid, 12_800, T1 + 10 * DAY);
    let refunded = order("o1", OrderStatus::Refunded, 12_800, T1 + 10 * DAY);
    let mut world = World::with(&[&older, &newest]).applied(&newest, 1);
    let home = phone("13800138000");
    for scope in [Scope::AllStores, s1()] {
        world.extremes.insert(
            (home.clone(), scope, Extreme::LastCountedOrder),
            Some(Millis(T1)),
        );
    }
    let (rounds, p) = run(&world, SourceKind::Orders, 2, &Change::Upsert(refunded));
    let asked: Vec<&(Identifier, Scope, Extreme)> =
        rounds.iter().flat_map(|r| r.extremes.iter()).collect();
    assert_eq!(
        asked.len(),
        2,
        "the last counted order, in both scopes: {asked:?}"
    );
    assert!(asked
        .iter()
        .all(|(_, _, e)| *e == Extreme::LastCountedOrder));
    let s = stats_written(&p, &s1());
    assert_eq!((s.counted_orders, s.spend_fen), (1, 5_000));
    assert_eq!(s.last_counted_at, Some(Millis(T1)));
    assert_eq!(s.order_records, 2, "the refunded order is still a record");
}

fn recent_written(p: &Planned, scope: &Scope) -> Vec<(String, i64)> {
    p.writes
        .iter()
        .find_map(|w| match w {
            Write::Recent { scope: s, list, .. } if s == scope => {
                Some(list.iter().map(|e| (e.id.clone(), e.entry.at.0)).collect())
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no recent lists written in {scope:?}: {:?}", p.writes))
}

#[test]
fn a_new_order_joins_the_recent_list_read_with_the_stats_without_another_round() {
    let orders: Vec<SourceRecord> = (0..6)
        .map(|i| order(&format!("o{i}"), OrderStatus::Paid, 100, T1 + i * DAY))
        .collect();
    let world = World::with(&orders.iter().collect::<Vec<_>>());
    let newer = order("o9", OrderStatus::Paid, 100, T1 + 9 * DAY);
    let (rounds, p) = run(&world, SourceKind::Orders, 1, &Change::Upsert(newer));
    assert_eq!(rounds.len(), 1, "the lists come with the first read");
    assert_eq!(rounds[0].recent.len(), 2, "all stores and s1");
    let ids: Vec<String> = recent_written(&p, &s1())
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["o9", "o5", "o4", "o3", "o2"]);
}

#[test]
fn an_order_moved_out_of_a_full_list_reads_the_next_newest_again() {
    let orders: Vec<SourceRecord> = (0..7)
        .map(|i| order(&format!("o{i}"), OrderStatus::Paid, 100, T1 + i * DAY))
        .collect();
    let world = World::with(&orders.iter().collect::<Vec<_>>()).applied(&orders[6], 1);
    // The newest order turns out to be from before all the others.
    let moved = order("o6", OrderStatus::Paid, 100, T1 - DAY);
    let (rounds, p) = run(&world, SourceKind::Orders, 2, &Change::Upsert(moved));
    let lookups: Vec<_> = rounds
        .iter()
        .flat_map(|r| r.recent_lookups.iter())
        .collect();
    assert_eq!(lookups.len(), 2, "both scopes read again: {lookups:?}");
    let ids: Vec<String> = recent_written(&p, &s1())
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(ids, ["o5", "o4", "o3", "o2", "o1"], "o0 stays out, o6 last");
}

#[test]
fn a_remove_takes_the_record_out_and_keeps_its_sequence_number() {
    let o = order("o1", OrderStatus::Paid, 12_800, T1);
    let world = World::with(&[&o]).applied(&o, 1);
    let (_, p) = run(&world, SourceKind::Orders, 2, &Change::Remove);
    assert_eq!(p.outcome, Outcome::Applied);
    assert_eq!(count(&p, |w| matches!(w, Write::DeleteEntry { .. })), 2);
    assert_eq!(count(&p, |w| matches!(w, Write::PutEntry { .. })), 0);
    assert!(stats_written(&p, &s1()).is_empty());
    assert!(count(&p, |w| matches!(w, Write::DeleteToken { .. })) > 0);
    let a = anchor_written(&p);
    assert_eq!((a.seq.clone(), a.state.clone()), (seq(2), None));
    // Nothing is checked against a suppression when nothing is added.
    assert_eq!(
        count(&p, |w| matches!(w, Write::CheckNotSuppressed { .. })),
        0
    );
}

#[test]
fn a_ttl_expiry_only_records_its_sequence_number() {
    let o = order("o1", OrderStatus::Paid, 12_800, T1);
    let world = World::with(&[&o]).applied(&o, 1);
    let (_, p) = run(&world, SourceKind::Orders, 2, &Change::Expire);
    assert_eq!(p.outcome, Outcome::Advanced);
    assert_eq!(p.writes.len(), 1, "{:?}", p.writes);
    let a = anchor_written(&p);
    assert_eq!(a.seq, seq(2));
    assert_eq!(a.state, world.anchor.as_ref().and_then(|x| x.state.clone()));
}

#[test]
fn a_late_member_record_links_the_phone_customer_and_rewrites_its_tokens() {
    let o = order("o1", OrderStatus::Paid, 12_800, T1);
    let world = World::with(&[&o]);
    let m = member("M1", "13800138000");
    let (rounds, p) = run(&world, SourceKind::MemberSync, 1, &Change::Upsert(m));
    let (p_id, m_id) = (phone("13800138000"), member_id("M1"));
    assert!(
        rounds.iter().any(|r| r.nodes.contains(&p_id)),
        "the phone's node is read: {rounds:?}"
    );
    assert!(
        rounds.iter().any(|r| r.node_stats.contains(&p_id)),
        "the phone's stats in every scope are read: {rounds:?}"
    );
    let node = |id: &Identifier| {
        p.writes.iter().find_map(|w| match w {
            Write::PutNode {
                id: i,
                links,
                expected,
            } if i == id => Some((links.clone(), *expected)),
            _ => None,
        })
    };
    let (links, expected) = node(&p_id).expect("the phone's node rewritten");
    assert_eq!(expected, Some(1));
    assert!(links.cluster.contains(&m_id) && links.cluster.contains(&p_id));
    let (links, expected) = node(&m_id).expect("the member's node created");
    assert_eq!(expected, None);
    assert!(links.cluster.contains(&p_id));
    // The phone's tokens in s1 gain the member's identifier.
    let stats = &world.stats[&(p_id.clone(), s1())].value;
    let gained: BTreeSet<Token> = tokens(&p_id, &links.cluster, stats)
        .difference(&tokens(&p_id, std::slice::from_ref(&p_id), stats))
        .cloned()
        .collect();
    assert!(!gained.is_empty());
    for token in gained {
        assert!(p.writes.contains(&Write::PutToken {
            node: p_id.clone(),
            scope: s1(),
            token,
        }));
    }
    assert!(p.touched.ids.contains(&p_id) && p.touched.ids.contains(&m_id));
}

#[test]
fn a_member_giving_a_birthday_later_shows_it_in_every_scope() {
    let without = member("M1", "13800138000");
    let mut with = without.clone();
    if let SourceRecord::Member(m) = &mut with {
        m.birthday = Some("--03-01".into());
    }
    let world = World::with(&[&without]).applied(&without, 1);
    let (_, p) = run(&world, SourceKind::MemberSync, 2, &Change::Upsert(with));
    assert_eq!(p.outcome, Outcome::Applied);
    for scope in [Scope::AllStores, s1()] {
        let member = stats_written(&p, &scope).member.expect("member info");
        assert_eq!(member.birthday.as_deref(), Some("--03-01"), "{scope:?}");
        assert_eq!(member.birthday_month_day(), Birthday::new(3, 1));
    }
}

#[test]
fn a_member_changing_phone_splits_the_old_phone_off() {
    let o = order("o1", OrderStatus::Paid, 12_800, T1);
    let linked = member("M1", "13800138000");
    let (p_id, m_id) = (phone("13800138000"), member_id("M1"));
    let mut world = World::with(&[&o, &linked]).applied(&linked, 1);
    let both = NodeLinks {
        adjacent: [m_id.clone()].into(),
        cluster: vec![m_id.clone(), p_id.clone()],
    };
    world.nodes.insert(
        p_id.clone(),
        Versioned {
            value: both.clone(),
            version: 2,
        },
    );
    world.nodes.insert(
        m_id.clone(),
        Versioned {
            value: NodeLinks {
                adjacent: [p_id.clone()].into(),
                cluster: both.cluster.clone(),
            },
            version: 2,
        },
    );
    let moved = member("M1", "13900139000");
    let (_, p) = run(&world, SourceKind::MemberSync, 2, &Change::Upsert(moved));
    let split = p.writes.iter().find_map(|w| match w {
        Write::PutNode {
            id,
            links,
            expected,
        } if *id == p_id => Some((links, *expected)),
        _ => None,
    });
    let (links, expected) = split.expect("the old phone's node rewritten");
    assert_eq!(expected, Some(2));
    assert_eq!(links.cluster, vec![p_id.clone()], "alone again");
}

#[test]
fn a_suppressed_customers_record_is_taken_out_not_projected() {
    let o = order("o1", OrderStatus::Paid, 12_800, T1);
    let mut world = World::with(&[&o]).applied(&o, 1);
    world.suppressed = true;
    let (_, p) = run(&world, SourceKind::Orders, 2, &Change::Upsert(o.clone()));
    assert_eq!(p.outcome, Outcome::Suppressed);
    assert_eq!(count(&p, |w| matches!(w, Write::PutEntry { .. })), 0);
    assert_eq!(count(&p, |w| matches!(w, Write::DeleteEntry { .. })), 2);
    assert_eq!(anchor_written(&p).state, None);
    // Never seen before: only the sequence number is kept.
    let fresh = World {
        suppressed: true,
        ..World::default()
    };
    let (_, p) = run(&fresh, SourceKind::Orders, 1, &Change::Upsert(o));
    assert_eq!(p.outcome, Outcome::Suppressed);
    assert_eq!(p.writes.len(), 1);
}

#[test]
fn a_cluster_larger_than_the_bound_fails_the_change() {
    let mut world = World::default();
    let m_id = member_id("M1");
    let chain: Vec<Identifier> = (0..=MAX_CLUSTER_NODES)
        .map(|i| phone(&format!("139{i:08}")))
        .collect();
    world.nodes.insert(
        phone("13800138000"),
        Versioned {
            value: NodeLinks {
                adjacent: BTreeSet::new(),
                cluster: chain.clone(),
            },
            version: 1,
        },
    );
    let m = member("M1", "13800138000");
    let source_id = m.source_id().to_string();
    let s = seq(1);
    let change = Change::Upsert(m);
    let input = Input {
        kind: SourceKind::MemberSync,
        source_id: &source_id,
        seq: &s,
        change: &change,
        scanned: false,
    };
    let mut snap = Snapshot::default();
    let result = loop {
        match plan(&input, &snap, &zone()) {
            Ok(Plan::Read(reads)) => world.answer(&reads, &mut snap, &source_id),
            other => break other,
        }
    };
    assert_eq!(result, Err(PlanError::ClusterTooLarge));
    assert!(!snap.nodes.contains_key(&m_id));
}
