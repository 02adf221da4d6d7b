//! The domain projection rate: source records planned (`plan::plan`, the ingest rule) and
//! their writes applied to an in-memory map, on one core with no I/O. What it leaves out is
//! DynamoDB: the projector sends each plan's reads and its one transaction (`docs/PERFORMANCE.md`).
//!
//!     cargo bench -p c360-domain --bench projection
//!
//! The workload: 100 customers (phones), 5 orders each, each order first `paid` then
//! `completed`: 1,000 records, every one planned from what the ones before wrote. A status
//! change between counted states never loses an extreme, so the in-memory store never has to
//! answer an extreme's Query (it answers `None`).

use c360_domain::identity::NodeLinks;
use c360_domain::ids::Phone;
use c360_domain::plan::{plan, Input, NextReads, Plan, Snapshot, Versioned, Write};
use c360_domain::projection::{AppliedRecord, Change, RecentEntry, Scope, ScopeStats};
use c360_domain::source::{Identities, Order, OrderStatus, OrderType};
use c360_domain::{Fen, Identifier, Millis, SeqNo, SourceKind, SourceRecord, StoreId, Zone};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;

// The ingest functions run on mimalloc (ADR 0013); the rate they would see is measured with it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What the table would hold, as far as plans read it back.
#[derive(Default)]
struct World {
    anchors: HashMap<String, AppliedRecord>,
    nodes: BTreeMap<Identifier, Versioned<NodeLinks>>,
    stats: BTreeMap<(Identifier, Scope), Versioned<ScopeStats>>,
    recent: BTreeMap<(Identifier, Scope, SourceKind), Vec<RecentEntry>>,
}

impl World {
    fn answer(&self, source_id: &str, reads: &NextReads, snap: &mut Snapshot) {
        if reads.first {
            snap.first_read = true;
            snap.anchor = self.anchors.get(source_id).cloned();
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
            snap.extremes.insert(key.clone(), None);
        }
        for key in &reads.recent {
            snap.recent_read.insert(key.clone());
            if let Some(list) = self.recent.get(key) {
                snap.recent.insert(key.clone(), list.clone());
            }
        }
        // A list is read again only when an entry leaves it for good, which a status change
        // between counted states never does: like the extremes, answered empty.
        for key in &reads.recent_lookups {
            snap.recent_found.insert(key.clone(), Vec::new());
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

    fn commit(&mut self, source_id: &str, writes: Vec<Write>) {
        for w in writes {
            match w {
                Write::Stats {
                    node,
                    scope,
                    stats,
                    expected,
                } => {
                    let version = expected.unwrap_or(0) + 1;
                    self.stats.insert(
                        (node, scope),
                        Versioned {
                            value: stats,
                            version,
                        },
                    );
                }
                Write::PutNode {
                    id,
                    links,
                    expected,
                } => {
                    let version = expected.unwrap_or(0) + 1;
                    self.nodes.insert(
                        id,
                        Versioned {
                            value: links,
                            version,
                        },
                    );
                }
                // The list's kind is the record's: every record of this workload is an order.
                Write::Recent { node, scope, list } => {
                    let key = (node, scope, SourceKind::Orders);
                    if list.is_empty() {
                        self.recent.remove(&key);
                    } else {
                        self.recent.insert(key, list);
                    }
                }
                Write::Anchor { applied, .. } => {
                    self.anchors.insert(source_id.to_string(), applied);
                }
                // Entries, tokens and checks: nothing this workload's plans read back.
                _ => {}
            }
        }
    }
}

fn project(world: &mut World, source_id: &str, seq: &SeqNo, change: &Change, zone: &Zone) {
    let input = Input {
        kind: SourceKind::Orders,
        source_id,
        seq,
        change,
        scanned: false,
    };
    let mut snap = Snapshot::default();
    // A plan that asks again for what it was given would loop for ever: a read this map does
    // not answer (a new kind of read in `NextReads`) stops the bench, naming it.
    for _ in 0..MAX_ROUNDS {
        match plan(&input, &snap, zone).expect("a plan") {
            Plan::Read(reads) => world.answer(source_id, &reads, &mut snap),
            Plan::Write(planned) => return world.commit(source_id, planned.writes),
        }
    }
    let reads = plan(&input, &snap, zone).expect("a plan");
    panic!("{source_id}: no plan after {MAX_ROUNDS} rounds of reads; still asking {reads:?}");
}

/// Far more rounds of reads than a plan takes: each round reads only what the answers before
/// it pointed to (nodes, then their stats and lists, then extremes and refills).
const MAX_ROUNDS: usize = 16;

fn order(customer: usize, n: usize, status: OrderStatus) -> SourceRecord {
    const DAY: i64 = 86_400_000;
    SourceRecord::Order(Order {
        order_id: format!("o{customer}-{n}"),
        order_number: None,
        store: StoreId::parse("store_sh_001").expect("a store id"),
        ids: Identities {
            member: None,
            phone: Some(Phone::parse(&format!("138{customer:08}")).expect("a phone")),
            email: None,
        },
        customer_name: Some("张三".into()),
        order_type: OrderType::DineIn,
        status,
        total: Fen(12_800 + (n as i64) * 100),
        items: Vec::new(),
        created_at: Millis(1_767_225_600_000 + (n as i64) * 7 * DAY),
    })
}

/// The workload's records in stream order, each with its sequence number.
fn records() -> Vec<(String, SeqNo, Change)> {
    let mut out = Vec::new();
    let mut seq = 0u64;
    for n in 0..5 {
        for status in [OrderStatus::Paid, OrderStatus::Completed] {
            for customer in 0..100 {
                seq += 1;
                let record = order(customer, n, status.clone());
                out.push((
                    record.source_id().to_string(),
                    SeqNo::parse(&seq.to_string()).expect("a sequence number"),
                    Change::Upsert(record),
                ));
            }
        }
    }
    out
}

fn projection_rate(c: &mut Criterion) {
    let records = records();
    let zone = Zone::default();
    let mut group = c.benchmark_group("projection");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("1000 orders of 100 customers", |b| {
        b.iter_batched(
            World::default,
            |mut world| {
                for (id, seq, change) in &records {
                    project(&mut world, id, seq, change, &zone);
                }
                black_box(world)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(benches, projection_rate);
criterion_main!(benches);
