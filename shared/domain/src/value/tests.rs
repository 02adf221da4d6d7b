use super::*;
use crate::time::DAY_MS;
use proptest::prelude::*;

const NOW: Millis = Millis(400 * DAY_MS);

fn stats(orders: i64, spend_yuan: i64, first_days_ago: i64, last_days_ago: i64) -> ScopeStats {
    ScopeStats {
        order_records: orders,
        counted_orders: orders,
        spend_fen: spend_yuan * 100,
        first_counted_at: (orders > 0).then_some(Millis(NOW.0 - first_days_ago * DAY_MS)),
        last_counted_at: (orders > 0).then_some(Millis(NOW.0 - last_days_ago * DAY_MS)),
        last_event_at: Some(Millis(NOW.0 - last_days_ago * DAY_MS)),
        ..ScopeStats::default()
    }
}

#[test]
fn the_seed_customer_is_high_value_and_frequent() {
    let t = Thresholds::default();
    let s = stats(24, 5280, 180, 2);
    let v = customer_value(&s, NOW, &t);
    assert_eq!(v.total_spent, Fen(528000));
    assert_eq!(v.avg_order_value, 220.0);
    assert_eq!(v.customer_lifetime_days, 180);
    assert_eq!(v.order_frequency_per_month, 4.0);
    assert_eq!(v.tier, Tier::High, "score {}", v.rfm_score);
    assert_eq!(tags(&s, &v, NOW, &t), ["高价值", "高频消费", "活跃用户"]);
}

/// Issue 11, item 6: 144.57 and 144.58 average 144.58 (half-up), 0.57 and 0.58 average 0.58.
#[test]
fn the_average_order_rounds_half_a_fen_up() {
    let t = Thresholds::default();
    for (spend_fen, want) in [(14457 + 14458, 144.58), (57 + 58, 0.58)] {
        let s = ScopeStats {
            spend_fen,
            ..stats(2, 0, 10, 1)
        };
        assert_eq!(customer_value(&s, NOW, &t).avg_order_value, want);
    }
}

#[test]
fn frequency_uses_at_least_a_month() {
    let v = customer_value(&stats(3, 90, 5, 1), NOW, &Thresholds::default());
    assert_eq!(v.order_frequency_per_month, 3.0);
    assert_eq!(v.customer_lifetime_days, 5);
}

#[test]
fn no_orders_means_zeros() {
    let s = ScopeStats {
        reservation_records: 1,
        last_event_at: Some(NOW),
        ..ScopeStats::default()
    };
    let v = customer_value(&s, NOW, &Thresholds::default());
    assert_eq!(
        (
            v.total_orders,
            v.avg_order_value,
            v.customer_lifetime_days,
            v.order_frequency_per_month
        ),
        (0, 0.0, 0, 0.0)
    );
    assert_eq!(v.tier, Tier::Low);
}

#[test]
fn activity_tag_boundaries() {
    let t = Thresholds::default();
    assert_eq!(activity_tag(0, &t), "活跃用户");
    assert_eq!(activity_tag(30, &t), "活跃用户");
    assert_eq!(activity_tag(31, &t), "沉睡用户");
    assert_eq!(activity_tag(90, &t), "沉睡用户");
    assert_eq!(activity_tag(91, &t), "流失用户");
    // 30 days and 23 hours is still 30 whole days.
    let s = ScopeStats {
        activity_records: 1,
        last_event_at: Some(Millis(NOW.0 - 31 * DAY_MS + 3_600_000)),
        ..ScopeStats::default()
    };
    let v = customer_value(&s, NOW, &t);
    assert_eq!(
        tags(&s, &v, NOW, &t).last().map(String::as_str),
        Some("活跃用户")
    );
    let s = ScopeStats {
        last_event_at: Some(Millis(NOW.0 - 31 * DAY_MS)),
        ..s
    };
    assert_eq!(
        tags(&s, &v, NOW, &t).last().map(String::as_str),
        Some("沉睡用户")
    );
}

#[test]
fn habit_tags_at_their_thresholds() {
    let t = Thresholds::default();
    let s = ScopeStats {
        fulfilled_reservations: 5,
        reservation_records: 5,
        ..stats(2, 600, 100, 1)
    };
    let v = customer_value(&s, NOW, &t);
    assert_eq!(v.avg_order_value, 300.0);
    let tags = tags(&s, &v, NOW, &t);
    assert!(tags.contains(&"高客单价".to_string()), "{tags:?}");
    assert!(tags.contains(&"预订常客".to_string()), "{tags:?}");
    let s = ScopeStats {
        fulfilled_reservations: 4,
        ..stats(2, 598, 100, 1)
    };
    let v = customer_value(&s, NOW, &t);
    let tags = super::tags(&s, &v, NOW, &t);
    assert!(
        !tags.contains(&"高客单价".to_string()) && !tags.contains(&"预订常客".to_string()),
        "{tags:?}"
    );
}

#[test]
fn tiers_follow_the_score_and_quiet_valuable_customers_are_churn_risk() {
    let t = Thresholds::default();
    assert_eq!(
        customer_value(&stats(60, 30000, 300, 1), NOW, &t).tier,
        Tier::Vip
    );
    assert_eq!(
        customer_value(&stats(24, 5280, 180, 2), NOW, &t).tier,
        Tier::High
    );
    assert_eq!(
        customer_value(&stats(8, 1500, 120, 5), NOW, &t).tier,
        Tier::Mid
    );
    assert_eq!(
        customer_value(&stats(1, 50, 200, 200), NOW, &t).tier,
        Tier::Low
    );
    assert_eq!(
        customer_value(&stats(24, 5280, 300, 91), NOW, &t).tier,
        Tier::ChurnRisk
    );
    assert_ne!(
        customer_value(&stats(24, 5280, 300, 90), NOW, &t).tier,
        Tier::ChurnRisk
    );
}

#[test]
fn per_store_overrides_apply_only_to_that_store() {
    let cfg: ValueConfig =
        serde_json::from_str(r#"{"stores":{"s1":{"high_ticket_yuan":100}}}"#).unwrap();
    let s1 = Scope::Store(crate::ids::StoreId::parse("s1").unwrap());
    assert_eq!(cfg.for_scope(&s1).high_ticket_yuan, 100.0);
    assert_eq!(cfg.for_scope(&s1).active_max_days, 30);
    assert_eq!(cfg.for_scope(&Scope::AllStores).high_ticket_yuan, 300.0);
    assert!(serde_json::from_str::<ValueConfig>(r#"{"defaults":{"nope":1}}"#).is_err());
}

proptest! {
    #[test]
    fn rfm_is_monotone_and_bounded(r in 0i64..2000, dr in 0i64..500, f in 0.0f64..50.0, df in 0.0f64..10.0, m in 0.0f64..1e6, dm in 0.0f64..1e5) {
        let t = Thresholds::default();
        let base = rfm_score(Some(r + dr), f, m, &t);
        prop_assert!((0.0..=100.0).contains(&base));
        prop_assert!(rfm_score(Some(r), f, m, &t) >= base, "more recent never scores lower");
        prop_assert!(rfm_score(Some(r + dr), f + df, m, &t) >= base, "more frequent never scores lower");
        prop_assert!(rfm_score(Some(r + dr), f, m + dm, &t) >= base, "more spend never scores lower");
        prop_assert!(rfm_score(None, f, m, &t) <= base);
    }
}

/// The chart's months are the deployment's local months: an order at 00:30 on 1 December
/// (+08:00, still 30 November in UTC) is December's; the twelve months end with now's, and
/// an order thirteen months back is left out.
#[test]
fn monthly_spend_counts_local_calendar_months_ending_with_nows() {
    use crate::projection::OrderDay;
    let zone = Zone::default();
    let at = |t: &str| zone.parse_time(t).expect("a time");
    let mut stats = ScopeStats::default();
    for (t, orders, fen) in [
        ("2026-11-30T23:30:00+08:00", 1, 4_400),
        ("2026-12-01T00:30:00+08:00", 2, 12_800),
        ("2026-01-03T12:00:00+08:00", 1, 1_000),
        ("2025-12-31T12:00:00+08:00", 1, 99_900),
    ] {
        stats.order_days.insert(
            local_day(at(t), &zone),
            OrderDay {
                orders,
                spend_fen: fen,
            },
        );
    }
    let months = monthly_spend(&stats, at("2026-12-15T09:00:00+08:00"), &zone);
    assert_eq!(months.len(), SPEND_MONTHS);
    assert_eq!(months[0].month, "2026-01");
    assert_eq!(months[11].month, "2026-12");
    let got: Vec<(&str, i64, i64)> = months
        .iter()
        .filter(|m| m.orders > 0)
        .map(|m| (m.month.as_str(), m.orders, m.spend.0))
        .collect();
    assert_eq!(
        got,
        [
            ("2026-01", 1, 1_000),
            ("2026-11", 1, 4_400),
            ("2026-12", 2, 12_800)
        ]
    );
    // January looks back across the year's turn.
    let january = monthly_spend(&stats, at("2027-01-02T09:00:00+08:00"), &zone);
    assert_eq!(
        (january[0].month.as_str(), january[11].month.as_str()),
        ("2026-02", "2027-01")
    );
    assert_eq!(
        january.iter().map(|m| m.orders).sum::<i64>(),
        3,
        "November and December"
    );
}
