//! Tests of the demo data: determinism, volume, shapes, personas, the seed customer,
//! and loading into the DynamoDB emulator (moto).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, TimeZone};

use super::gen::yuan;
use super::menu::DELIVERY_FEE_FEN;
use super::*;
use crate::testing::MotoServer;

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-02-20T17:00:00+08:00").unwrap()
}

fn config() -> DemoConfig {
    DemoConfig::new(42, now())
}

/// The default-sized data set, generated once for all tests.
fn data() -> &'static DemoData {
    static DATA: OnceLock<DemoData> = OnceLock::new();
    DATA.get_or_init(|| generate(&config()))
}

fn str_of<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    match item.get(key) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

fn num_of<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    match item.get(key) {
        Some(AttributeValue::N(v)) => Some(v),
        _ => None,
    }
}

fn fen_of(item: &Item, key: &str) -> i64 {
    let v = num_of(item, key).unwrap_or_else(|| panic!("{key} missing in {item:?}"));
    assert!(is_money(v), "{key} = {v:?}");
    let (y, f) = v.split_once('.').unwrap();
    y.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap()
}

/// `^\d+\.\d{2}$`
fn is_money(v: &str) -> bool {
    match v.split_once('.') {
        Some((y, f)) => {
            !y.is_empty()
                && y.bytes().all(|b| b.is_ascii_digit())
                && f.len() == 2
                && f.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn normalize_phone(raw: &str) -> String {
    let digits: String = raw.chars().filter(|c| c.is_ascii_digit()).collect();
    match digits.strip_prefix("86") {
        Some(rest) if digits.len() == 13 => rest.to_string(),
        _ => digits,
    }
}

fn is_mobile(phone: &str) -> bool {
    phone.len() == 11
        && phone.bytes().all(|b| b.is_ascii_digit())
        && ["13", "15", "17", "18", "19"]
            .iter()
            .any(|p| phone.starts_with(p))
}

/// Parses an RFC 3339 time, or a naive one as +08:00 local time.
fn parse_time(v: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(v).ok().or_else(|| {
        NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
            .ok()
            .and_then(|n| shanghai().from_local_datetime(&n).single())
    })
}

const TIME_KEYS: [&str; 7] = [
    "created_at",
    "updated_at",
    "reserved_for",
    "transacted_at",
    "registered_at",
    "synced_at",
    "timestamp",
];

const ID_KEYS: [&str; 5] = [
    "order_id",
    "reservation_id",
    "transaction_id",
    "member_id",
    "log_id",
];

fn all_items(data: &DemoData) -> impl Iterator<Item = (&'static str, &Item)> {
    data.tables()
        .into_iter()
        .flat_map(|(source, items)| items.iter().map(move |i| (source, i)))
}

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let a = generate(&config());
    assert_eq!(&a, data());
    let other = generate(&DemoConfig::new(43, now()));
    assert_ne!(a.orders, other.orders);
    // `now` in another offset is the same instant: same data.
    let utc_now = now().with_timezone(&FixedOffset::east_opt(0).unwrap());
    assert_eq!(generate(&DemoConfig::new(42, utc_now)), a);
}

#[test]
fn volume_is_in_range() {
    let d = data();
    let counts: Vec<_> = d.tables().iter().map(|(s, i)| (*s, i.len())).collect();
    println!("items: {} {counts:?}", d.len());
    assert!((10_000..=20_000).contains(&d.len()), "{} items", d.len());
    assert!(!d.is_empty());
    assert!(d.tables().iter().all(|(_, items)| !items.is_empty()));
    assert_eq!(d.tables().map(|(s, _)| s), SOURCES);
}

#[test]
fn stores_and_customers() {
    let d = data();
    let stores: HashSet<&str> = all_items(d)
        .filter_map(|(_, i)| str_of(i, "store_id"))
        .collect();
    assert_eq!(stores.len(), 3, "{stores:?}");
    let mut phones = HashSet::new();
    for (_, item) in all_items(d) {
        for key in ["customer_phone", "phone"] {
            if let Some(raw) = str_of(item, key) {
                let phone = normalize_phone(raw);
                assert!(is_mobile(&phone), "{raw:?}");
                phones.insert(phone);
            }
        }
    }
    assert_eq!(phones.len(), 500);
    // Every kind of spelling occurs.
    let spellings: Vec<&str> = all_items(d)
        .filter_map(|(_, i)| str_of(i, "customer_phone"))
        .collect();
    assert!(spellings.iter().any(|p| p.starts_with("+86 ")));
    assert!(spellings.iter().any(|p| p.starts_with("86-")));
    assert!(spellings
        .iter()
        .any(|p| p.len() == 13 && p.as_bytes()[3] == b'-'));
    let plain = spellings.iter().filter(|p| p.len() == 11).count();
    assert!(plain * 10 > spellings.len() * 7, "mostly plain");
    // Chinese names.
    for m in &d.members {
        let name = str_of(m, "name").unwrap();
        let n = name.chars().count();
        assert!((2..=4).contains(&n), "{name}");
        assert!(
            name.chars().all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
            "{name}"
        );
    }
}

#[test]
fn small_and_odd_configs_work() {
    for (customers, days, stores) in [
        (0, 365, 3),
        (1, 365, 3),
        (7, 30, 1),
        (40, 2, 2),
        (60, 1000, 5),
    ] {
        let mut c = config();
        c.customers = customers;
        c.days_of_history = days;
        c.stores = (0..stores).map(|i| format!("store_{i}")).collect();
        let d = generate(&c);
        let phones: HashSet<String> = all_items(&d)
            .filter_map(|(_, i)| str_of(i, "customer_phone").or(str_of(i, "phone")))
            .map(normalize_phone)
            .collect();
        assert_eq!(phones.len(), customers, "{customers} customers");
    }
    let mut c = config();
    c.stores.clear();
    assert_eq!(generate(&c), *data(), "empty store list means the default");
}

#[test]
fn every_order_type_and_status() {
    let d = data();
    let types: HashSet<&str> = d
        .orders
        .iter()
        .filter_map(|o| str_of(o, "order_type"))
        .collect();
    assert_eq!(types, HashSet::from(["dine_in", "delivery", "pickup"]));
    let mut statuses: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &d.orders {
        *statuses.entry(str_of(o, "status").unwrap()).or_default() += 1;
    }
    assert_eq!(statuses.len(), 5, "{statuses:?}");
    let counted = statuses["completed"] + statuses["paid"];
    assert!(counted * 10 > d.orders.len() * 8, "{statuses:?}");
    let numbers: HashSet<&str> = d
        .orders
        .iter()
        .map(|o| str_of(o, "order_number").unwrap())
        .collect();
    assert_eq!(numbers.len(), d.orders.len());
    for o in &d.orders {
        let number = str_of(o, "order_number").unwrap();
        let created = parse_time(str_of(o, "created_at").unwrap()).unwrap();
        let day = created
            .with_timezone(&shanghai())
            .format("%Y%m%d")
            .to_string();
        assert!(
            number.starts_with(&format!("ORD{day}")),
            "{number} {created}"
        );
        assert_eq!(number.len(), 14);
        let updated = parse_time(str_of(o, "updated_at").unwrap()).unwrap();
        assert!(updated >= created);
        if let Some(AttributeValue::L(lines)) = o.get("items") {
            assert!(!lines.is_empty());
            let mut sum = 0;
            for line in lines {
                let AttributeValue::M(m) = line else {
                    panic!("{line:?}")
                };
                assert!(str_of(m, "dish_id").is_some() && str_of(m, "name").is_some());
                let qty: i64 = num_of(m, "quantity").unwrap().parse().unwrap();
                sum += qty * fen_of(m, "price");
            }
            let total = fen_of(o, "total");
            let fee = if str_of(o, "order_type") == Some("delivery") {
                DELIVERY_FEE_FEN
            } else {
                0
            };
            assert_eq!(sum + fee, total);
        }
    }
}

#[test]
fn reservations_pos_and_activities_vary() {
    let d = data();
    let set = |items: &[Item], key: &str| -> HashSet<String> {
        items
            .iter()
            .filter_map(|i| str_of(i, key))
            .map(str::to_string)
            .collect()
    };
    let sources = set(&d.reservations, "source");
    assert_eq!(sources, HashSet::from(["local".into(), "yiding".into()]));
    for r in &d.reservations {
        let yiding = str_of(r, "source") == Some("yiding");
        assert_eq!(yiding, str_of(r, "external_id").is_some());
        let party: u32 = num_of(r, "party_size").unwrap().parse().unwrap();
        assert!((1..=20).contains(&party));
        let at = parse_time(str_of(r, "reserved_for").unwrap()).unwrap();
        let status = str_of(r, "status").unwrap();
        if at > now() {
            assert!(matches!(status, "pending" | "confirmed"), "{status} ahead");
        } else {
            assert!(
                !matches!(status, "pending" | "confirmed"),
                "{status} in the past"
            );
        }
    }
    assert_eq!(set(&d.reservations, "status").len(), 6);
    assert_eq!(
        set(&d.pos_transactions, "status"),
        HashSet::from(["success".into(), "refunded".into(), "voided".into()])
    );
    assert_eq!(set(&d.pos_transactions, "payment_method").len(), 5);
    assert_eq!(
        set(&d.activities, "action"),
        HashSet::from([
            "login".into(),
            "redeem_points".into(),
            "recharge".into(),
            "coupon_claimed".into()
        ])
    );
    assert_eq!(set(&d.members, "level").len(), 4);
    // POS order numbers settle real orders, never more than their total.
    let totals: HashMap<&str, i64> = d
        .orders
        .iter()
        .map(|o| (str_of(o, "order_number").unwrap(), fen_of(o, "total")))
        .collect();
    let mut paid: HashMap<&str, i64> = HashMap::new();
    for t in &d.pos_transactions {
        if let Some(number) = str_of(t, "order_number") {
            assert!(totals.contains_key(number), "{number}");
            *paid.entry(number).or_default() += fen_of(t, "amount");
        }
    }
    assert!(paid.iter().all(|(n, fen)| *fen <= totals[n]));
    assert!(paid.len() * 2 > d.pos_transactions.len());
}

#[test]
fn money_and_times_are_well_formed() {
    let d = data();
    let mut styles = [0usize; 3]; // offset, Z, naive
    for (source, item) in all_items(d) {
        for key in ["total", "amount", "balance"] {
            if item.contains_key(key) {
                fen_of(item, key);
            }
        }
        for key in TIME_KEYS {
            if let Some(v) = str_of(item, key) {
                let t = parse_time(v).unwrap_or_else(|| panic!("{source}.{key} = {v:?}"));
                if key != "reserved_for" {
                    assert!(t <= now(), "{source}.{key} = {v} is after now");
                }
                assert!(t > now() - Duration::days(365 * 4), "{source}.{key} = {v}");
                let i = if v.ends_with("+08:00") {
                    0
                } else if v.ends_with('Z') {
                    1
                } else {
                    2
                };
                styles[i] += 1;
            }
        }
        if let Some(v) = num_of(item, "points") {
            assert!(v.parse::<u64>().is_ok(), "{v}");
        }
    }
    assert!(
        styles[0] > styles[2] && styles[2] > 0 && styles[1] > 0,
        "{styles:?}"
    );
    // Order times lie within the history.
    for o in &d.orders {
        let t = parse_time(str_of(o, "created_at").unwrap()).unwrap();
        assert!(t >= now() - Duration::days(366), "{t}");
    }
}

#[test]
fn ids_are_unique_per_table() {
    let d = data();
    for (source, items) in d.tables() {
        let key = ID_KEYS[SOURCES.iter().position(|s| *s == source).unwrap()];
        let ids: HashSet<&str> = items.iter().map(|i| str_of(i, key).unwrap()).collect();
        assert_eq!(ids.len(), items.len(), "{source}.{key}");
    }
    for m in &d.members {
        let id = str_of(m, "member_id").unwrap();
        assert!(
            id.len() == 7 && id.starts_with('M') && id[1..].bytes().all(|b| b.is_ascii_digit())
        );
    }
    let emails: Vec<String> = d
        .members
        .iter()
        .filter_map(|m| str_of(m, "email"))
        .map(str::to_ascii_lowercase)
        .collect();
    assert_eq!(emails.iter().collect::<HashSet<_>>().len(), emails.len());
    assert!(d
        .members
        .iter()
        .filter_map(|m| str_of(m, "email"))
        .any(|e| e != e.to_ascii_lowercase()));
}

#[test]
fn few_records_belong_to_nobody() {
    let d = data();
    let anonymous = all_items(d)
        .filter(|(_, i)| {
            ["customer_phone", "phone", "member_id", "email"]
                .iter()
                .all(|k| str_of(i, k).is_none())
        })
        .count();
    assert!((1..=3).contains(&anonymous), "{anonymous}");
}

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

#[test]
#[ignore]
fn show_samples() {
    let d = data();
    for (source, items) in d.tables() {
        for i in [0, items.len() / 2, items.len() - 1] {
            let mut keys: Vec<_> = items[i].iter().collect();
            keys.sort_by_key(|(k, _)| k.as_str());
            println!("{source}: {keys:?}\n");
        }
    }
}

// ---------------------------------------------------------------- against moto

async fn load_into_moto(config: &DemoConfig) -> anyhow::Result<()> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    let Some(moto) = MotoServer::start()? else {
        return Ok(());
    };
    let client = moto.clients().0;
    let data = generate(config);
    let mut names: HashMap<&str, String> = HashMap::new();
    for (i, source) in SOURCES.iter().enumerate() {
        let table = format!("c360-demo-{source}");
        client
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(ID_KEYS[i])
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(ID_KEYS[i])
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .send()
            .await?;
        names.insert(source, table);
    }
    let started = std::time::Instant::now();
    let written = load(&client, &names, &data).await?;
    println!(
        "loaded {written} items into moto in {:?}",
        started.elapsed()
    );
    assert_eq!(written, data.len());
    for (i, (source, items)) in data.tables().into_iter().enumerate() {
        let mut count = 0;
        let mut pages = client
            .scan()
            .table_name(&names[source])
            .select(aws_sdk_dynamodb::types::Select::Count)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            count += page?.count() as usize;
        }
        assert_eq!(count, items.len(), "{source}");
        let first = &items[0];
        let got = client
            .get_item()
            .table_name(&names[source])
            .key(ID_KEYS[i], first[ID_KEYS[i]].clone())
            .send()
            .await?;
        assert_eq!(got.item(), Some(first), "{source} round trip");
    }
    // A source without a table name is refused before anything is written.
    names.remove("audit_log");
    let err = load(&client, &names, &data).await.unwrap_err();
    assert!(err.to_string().contains("audit_log"), "{err}");
    Ok(())
}

#[tokio::test]
async fn load_writes_every_item_to_moto() -> anyhow::Result<()> {
    let mut config = config();
    config.customers = 40;
    load_into_moto(&config).await
}

/// The default volume, timed: `cargo test -p c360-devkit --lib demo -- --ignored --nocapture`.
#[tokio::test]
#[ignore]
async fn load_default_volume_to_moto() -> anyhow::Result<()> {
    load_into_moto(&config()).await
}

#[test]
fn generation_time() {
    let started = std::time::Instant::now();
    let d = generate(&config());
    println!("generated {} items in {:?}", d.len(), started.elapsed());
}
