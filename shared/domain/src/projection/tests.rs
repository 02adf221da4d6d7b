//! The projection's unit tests: sequence numbers, statistics that add and subtract exactly
//! and merge in any order, and what a stream change or a scanned record decides.

use super::*;
use crate::money::Fen;
use crate::source::SourceKind;
use crate::time::Millis;

/// Order o1 of store s1 by phone 13800138000, dine-in, with no lines.
fn phone_order(status: crate::source::OrderStatus, total: i64, created_at: Millis) -> SourceRecord {
    use crate::source::{Identities, Order, OrderType};
    SourceRecord::Order(Order {
        order_id: "o1".into(),
        order_number: None,
        store: StoreId::parse("s1").unwrap(),
        ids: Identities {
            member: None,
            phone: Some(crate::Phone::parse("13800138000").unwrap()),
            email: None,
        },
        customer_name: None,
        order_type: OrderType::DineIn,
        status,
        total: Fen(total),
        items: Vec::new(),
        created_at,
    })
}

fn order(at: i64, spend: Option<i64>) -> Contribution {
    Contribution {
        kind: SourceKind::Orders,
        at: Millis(at),
        counted_spend: spend.map(Fen),
        counted_day: spend.map(|_| at.div_euclid(crate::time::DAY_MS)),
        fulfilled: false,
        name: Some("张三".into()),
        member: None,
        habits: Default::default(),
    }
}

#[test]
fn sequence_numbers_compare_numerically() {
    let s = |x: &str| SeqNo::parse(x).unwrap();
    assert!(s("9") < s("10"));
    assert!(s("1100000000017454423009") < s("1100000000017454423010"));
    assert_eq!(s("007"), s("7"));
    assert!(SeqNo::parse("12a").is_none());
}

#[test]
fn adding_then_removing_restores_the_stats() {
    let mut s = ScopeStats::default();
    s.replace(None, Some(&order(10, Some(100))));
    let snapshot = s.clone();
    s.replace(None, Some(&order(20, Some(50))));
    assert_eq!(s.counted_orders, 2);
    assert_eq!(s.last_counted_at, Some(Millis(20)));
    let lost = s.replace(Some(&order(20, Some(50))), None);
    assert_eq!(lost, vec![Extreme::LastCountedOrder, Extreme::LastEvent]);
    s.restore(&Extreme::LastCountedOrder, Some(Millis(10)));
    s.restore(&Extreme::LastEvent, Some(Millis(10)));
    assert_eq!(s, snapshot);
}

#[test]
fn order_days_count_occasions_and_sum_exactly_across_nodes_in_any_order() {
    const H: i64 = 3_600_000;
    let day = |d: i64| d * crate::time::DAY_MS;
    // Node 1: two orders on day 10, one on day 12. Node 2 (the same customer's member
    // id): one more on day 10, one free meal on day 20.
    let one = [
        order(day(10) + H, Some(4_500)),
        order(day(10) + 5 * H, Some(1_000)),
        order(day(12), Some(800)),
    ];
    let two = [order(day(10) + 9 * H, Some(300)), order(day(20), Some(0))];
    let build = |orders: &[Contribution]| {
        let mut s = ScopeStats::default();
        for o in orders {
            s.replace(None, Some(o));
        }
        s
    };
    let (n1, n2) = (build(&one), build(&two));
    let mut merged = n1.clone();
    merged.merge(&n2);
    let mut other_way = n2.clone();
    other_way.merge(&n1);
    assert_eq!(merged.order_days, other_way.order_days);
    let all: Vec<Contribution> = two.iter().chain(one.iter()).cloned().collect();
    assert_eq!(merged.order_days, build(&all).order_days);
    let day_of = |n: i64, f: i64| OrderDay {
        orders: n,
        spend_fen: f,
    };
    assert_eq!(
        merged.order_days,
        BTreeMap::from([
            (10, day_of(3, 5_800)),
            (12, day_of(1, 800)),
            (20, day_of(1, 0))
        ])
    );
    // A refund takes its order out of the day; the day goes when its last order does,
    // even a free one.
    let mut s = build(&all);
    s.replace(Some(&one[1]), Some(&order(day(10) + 5 * H, None)));
    s.replace(Some(&two[1]), None);
    s.replace(Some(&one[2]), None);
    assert_eq!(s.order_days, BTreeMap::from([(10, day_of(2, 4_800))]));
}

#[test]
fn a_counted_orders_day_is_its_calendar_day_in_the_deployments_zone() {
    use crate::source::OrderStatus;
    let zone = Zone::default();
    let order = |created: &str, status| phone_order(status, 100, zone.parse_time(created).unwrap());
    // 00:30 in Shanghai is still the previous day in UTC.
    let c = Contribution::of(
        &order("2024-03-02T00:30:00+08:00", OrderStatus::Paid),
        &zone,
    );
    assert_eq!(
        c.counted_day,
        Some(c360_predict::date::days_from_civil(2024, 3, 2))
    );
    let c = Contribution::of(
        &order("2024-03-02T00:30:00+08:00", OrderStatus::Paid),
        &Zone::parse("Z").unwrap(),
    );
    assert_eq!(
        c.counted_day,
        Some(c360_predict::date::days_from_civil(2024, 3, 1))
    );
    // An order that does not count has no occasion day, and none is stored.
    let c = Contribution::of(
        &order("2024-03-02T00:30:00+08:00", OrderStatus::Pending),
        &zone,
    );
    assert_eq!(c.counted_day, None);
    assert!(!serde_json::to_string(&c).unwrap().contains("counted_day"));
}

#[test]
fn refund_uncounts_but_keeps_the_record() {
    let mut s = ScopeStats::default();
    s.replace(None, Some(&order(10, Some(100))));
    let lost = s.replace(Some(&order(10, Some(100))), Some(&order(10, None)));
    assert!(lost.is_empty(), "{lost:?}");
    assert_eq!((s.order_records, s.counted_orders, s.spend_fen), (1, 0, 0));
    assert_eq!(
        (s.first_counted_at, s.last_counted_at, s.last_event_at),
        (None, None, Some(Millis(10)))
    );
}

#[test]
fn stale_and_duplicate_changes_do_nothing() {
    let zone = Zone::default();
    let prev = AppliedRecord {
        seq: SeqNo::parse("5").unwrap(),
        state: None,
    };
    assert_eq!(
        decide(
            Some(&prev),
            &SeqNo::parse("5").unwrap(),
            &Change::Remove,
            &zone
        ),
        Decision::Stale
    );
    assert_eq!(
        decide(
            Some(&prev),
            &SeqNo::parse("4").unwrap(),
            &Change::Remove,
            &zone
        ),
        Decision::Stale
    );
    assert_eq!(
        decide(
            Some(&prev),
            &SeqNo::parse("6").unwrap(),
            &Change::Remove,
            &zone
        ),
        Decision::Advance
    );
    assert_eq!(
        decide(None, &SeqNo::parse("6").unwrap(), &Change::Expire, &zone),
        Decision::Advance
    );
}

#[test]
fn a_scanned_record_never_overrides_a_stream_delivery_and_applies_once() {
    use crate::source::OrderStatus;
    let zone = Zone::default();
    let order = |total: i64| phone_order(OrderStatus::Paid, total, Millis(1_000));
    let state = |total| RecordState::of(&order(total), &zone);
    // Nothing applied yet: the scan applies.
    assert_eq!(
        decide_scanned(None, &order(10), &zone),
        Decision::Apply {
            before: None,
            after: state(10)
        }
    );
    // A stream delivery was applied, whatever its state: the stream wins.
    for stream_state in [state(10), state(20), None] {
        let streamed = AppliedRecord {
            seq: SeqNo::parse("100").unwrap(),
            state: stream_state,
        };
        assert_eq!(
            decide_scanned(Some(&streamed), &order(10), &zone),
            Decision::Stale
        );
    }
    // Applied by an earlier scan: the same state is a no-op, a newer one moves it.
    let scanned = AppliedRecord {
        seq: SeqNo::scanned(),
        state: state(10),
    };
    assert_eq!(
        decide_scanned(Some(&scanned), &order(10), &zone),
        Decision::Stale
    );
    assert_eq!(
        decide_scanned(Some(&scanned), &order(20), &zone),
        Decision::Apply {
            before: state(10),
            after: state(20)
        }
    );
    // And any stream delivery after a scan applies over it.
    assert!(SeqNo::scanned() < SeqNo::parse("1").unwrap());
    assert!(matches!(
        decide(
            Some(&scanned),
            &SeqNo::parse("1").unwrap(),
            &Change::Upsert(order(30)),
            &zone
        ),
        Decision::Apply { .. }
    ));
}
