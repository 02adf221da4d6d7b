//! Tests of the customers in the demo data: the seed customer (张三) as the product
//! description has them, and the mix of behaviours over the population.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, FixedOffset};

use super::gen::yuan;
use super::tests::*;
use super::*;

#[test]
fn seed_customer_is_there() {
    let d = data();
    let member = d
        .members
        .iter()
        .find(|m| str_of(m, "member_id") == Some(SEED_MEMBER_ID))
        .expect("M123456");
    assert_eq!(str_of(member, "phone"), Some(SEED_PHONE));
    assert_eq!(str_of(member, "name"), Some("张三"));
    assert_eq!(str_of(member, "level"), Some("金卡"));
    assert_eq!(num_of(member, "points"), Some("1500"));
    assert_eq!(num_of(member, "balance"), Some("200.00"));
    assert_eq!(str_of(member, "email"), Some("zhangsan@example.com"));
    assert_eq!(str_of(member, "store_id"), Some("store_sh_001"));
    let registered = parse_time(str_of(member, "registered_at").unwrap()).unwrap();
    assert!((180..200).contains(&(now() - registered).num_days()));
    // Nobody else is 张三 or has that phone.
    assert_eq!(
        d.members
            .iter()
            .filter(|m| str_of(m, "name") == Some("张三"))
            .count(),
        1
    );

    let mine = |i: &Item| {
        str_of(i, "member_id") == Some(SEED_MEMBER_ID)
            || str_of(i, "customer_phone").map(normalize_phone).as_deref() == Some(SEED_PHONE)
    };
    let orders: Vec<&Item> = d.orders.iter().filter(|o| mine(o)).collect();
    let counted: Vec<&&Item> = orders
        .iter()
        .filter(|o| matches!(str_of(o, "status"), Some("paid" | "completed")))
        .collect();
    let spent: i64 = counted.iter().map(|o| fen_of(o, "total")).sum();
    println!(
        "张三: {} orders, {} counted, ¥{}",
        orders.len(),
        counted.len(),
        yuan(spent)
    );
    assert!((20..=30).contains(&counted.len()));
    assert!((200_000..1_000_000).contains(&spent), "{spent}");
    assert!(orders
        .iter()
        .any(|o| str_of(o, "customer_phone") == Some("+86 138-0013-8000")));
    assert!(orders.iter().any(|o| str_of(o, "customer_phone").is_none()));
    assert!(orders.iter().any(|o| str_of(o, "member_id").is_none()));
    assert!(orders
        .iter()
        .any(|o| str_of(o, "customer_phone").is_some() && str_of(o, "member_id").is_some()));

    let reservations: Vec<&Item> = d.reservations.iter().filter(|r| mine(r)).collect();
    let kept = reservations
        .iter()
        .filter(|r| matches!(str_of(r, "status"), Some("completed" | "arrived")))
        .count();
    assert_eq!(reservations.len(), 8);
    assert!(kept >= 5);
    assert_eq!(d.pos_transactions.iter().filter(|t| mine(t)).count(), 15);
    let activities: Vec<&Item> = d.activities.iter().filter(|a| mine(a)).collect();
    assert_eq!(activities.len(), 50);
    let last = activities
        .iter()
        .chain(orders.iter())
        .filter_map(|i| str_of(i, "created_at").and_then(parse_time))
        .max()
        .unwrap();
    assert!(now() - last < Duration::days(7));
    let last_order = orders
        .iter()
        .filter_map(|i| str_of(i, "created_at").and_then(parse_time))
        .max()
        .unwrap();
    assert!(now() - last_order < Duration::days(7));
}

#[derive(Default, Debug)]
struct Stats {
    orders: usize,
    spent: i64,
    first: Option<DateTime<FixedOffset>>,
    last_order: Option<DateTime<FixedOffset>>,
    last_any: Option<DateTime<FixedOffset>>,
    kept_reservations: usize,
    stores: HashSet<String>,
}

/// Per-customer figures the way the service computes them (simplified).
fn stats(d: &DemoData) -> HashMap<String, Stats> {
    let phone_of: HashMap<&str, String> = d
        .members
        .iter()
        .map(|m| {
            (
                str_of(m, "member_id").unwrap(),
                normalize_phone(str_of(m, "phone").unwrap()),
            )
        })
        .collect();
    let who = |i: &Item| -> Option<String> {
        str_of(i, "customer_phone")
            .map(normalize_phone)
            .or_else(|| str_of(i, "member_id").map(|m| phone_of[m].clone()))
    };
    let mut out: HashMap<String, Stats> = HashMap::new();
    for (source, item) in all_items(d) {
        let Some(customer) = who(item).or_else(|| str_of(item, "phone").map(normalize_phone))
        else {
            continue;
        };
        let s = out.entry(customer).or_default();
        let key = match source {
            "reservations" => "reserved_for",
            "pos_transactions" => "transacted_at",
            "member_sync" => "registered_at",
            _ => "created_at",
        };
        let t = parse_time(str_of(item, key).unwrap()).unwrap();
        if t <= now() {
            s.last_any = s.last_any.max(Some(t));
        }
        if let Some(store) = str_of(item, "store_id") {
            s.stores.insert(store.to_string());
        }
        match source {
            "orders" if matches!(str_of(item, "status"), Some("paid" | "completed")) => {
                s.orders += 1;
                s.spent += fen_of(item, "total");
                s.first = Some(s.first.map_or(t, |f| f.min(t)));
                s.last_order = s.last_order.max(Some(t));
            }
            "reservations" if matches!(str_of(item, "status"), Some("completed" | "arrived")) => {
                s.kept_reservations += 1;
            }
            _ => {}
        }
    }
    out
}

#[test]
fn behaviours_are_mixed() {
    let d = data();
    let stats = stats(d);
    assert_eq!(stats.len(), 500);
    let count = |f: &dyn Fn(&Stats) -> bool| stats.values().filter(|s| f(s)).count();
    let days =
        |t: Option<DateTime<FixedOffset>>| t.map(|t| (now() - t).num_days()).unwrap_or(i64::MAX);
    let freq = |s: &Stats| {
        let lifetime = days(s.first).max(30) as f64;
        s.orders as f64 / lifetime * 30.0
    };
    let high_ticket = count(&|s| s.orders > 0 && s.spent / s.orders as i64 >= 30_000);
    let frequent = count(&|s| freq(s) >= 4.0);
    let bookers = count(&|s| s.kept_reservations >= 5);
    let active = count(&|s| days(s.last_any) <= 30);
    let sleeping = count(&|s| (31..=90).contains(&days(s.last_any)));
    let lost = count(&|s| days(s.last_any) > 90);
    let churned = count(&|s| s.orders >= 5 && (120..=250).contains(&days(s.last_order)));
    let one_timers = count(&|s| s.orders == 1);
    let newcomers = count(&|s| s.orders > 0 && days(s.first) <= 30);
    let multi_store = count(&|s| s.stores.len() > 1);
    let members = d.members.len();
    println!(
        "high ticket {high_ticket}, frequent {frequent}, bookers {bookers}, active {active}, \
         sleeping {sleeping}, lost {lost}, churned {churned}, one-timers {one_timers}, \
         newcomers {newcomers}, multi-store {multi_store}, members {members}"
    );
    for (what, n) in [
        ("high ticket", high_ticket),
        ("frequent", frequent),
        ("bookers", bookers),
        ("active", active),
        ("sleeping", sleeping),
        ("lost", lost),
        ("churned", churned),
        ("one-timers", one_timers),
        ("newcomers", newcomers),
        ("multi-store", multi_store),
    ] {
        assert!(n >= 20, "{what}: {n}");
    }
    assert!((250..=350).contains(&members), "{members} members");
    // Members' orders carry only the member id, only the phone, or both.
    let member_only = d
        .orders
        .iter()
        .filter(|o| str_of(o, "member_id").is_some() && str_of(o, "customer_phone").is_none())
        .count();
    let phone_only = d
        .orders
        .iter()
        .filter(|o| str_of(o, "member_id").is_none() && str_of(o, "customer_phone").is_some())
        .count();
    let both = d
        .orders
        .iter()
        .filter(|o| str_of(o, "member_id").is_some() && str_of(o, "customer_phone").is_some())
        .count();
    assert!(member_only > 100 && phone_only > 100 && both > 100);
}
