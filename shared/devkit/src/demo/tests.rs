//! Tests of the demo data: determinism, volume, stores, the shapes of every table, money,
//! times and ids, and the helpers the other test files share (the customers are tested in
//! `customer_tests.rs`, loading into the emulator in `tests/moto/demo_load.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::OnceLock;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};

use super::menu::DELIVERY_FEE_FEN;
use super::*;

pub(super) fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-02-20T17:00:00+08:00").unwrap()
}

fn config() -> DemoConfig {
    DemoConfig::new(42, now())
}

/// The default-sized data set, generated once for all tests.
pub(super) fn data() -> &'static DemoData {
    static DATA: OnceLock<DemoData> = OnceLock::new();
    DATA.get_or_init(|| generate(&config()))
}

pub(super) fn str_of<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    match item.get(key) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

pub(super) fn num_of<'a>(item: &'a Item, key: &str) -> Option<&'a str> {
    match item.get(key) {
        Some(AttributeValue::N(v)) => Some(v),
        _ => None,
    }
}

pub(super) fn fen_of(item: &Item, key: &str) -> i64 {
    let v = num_of(item, key).unwrap_or_else(|| panic!("{key} missing in {item:?}"));
    assert!(is_money(v), "{key} = {v:?}");
    let (y, f) = v.split_once('.').unwrap();
    y.parse::<i64>().unwrap() * 100 + f.parse::<i64>().unwrap()
}

/// `^\d+\.\d{2}$`
pub(super) fn is_money(v: &str) -> bool {
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

pub(super) fn normalize_phone(raw: &str) -> String {
    let digits: String = raw.chars().filter(|c| c.is_ascii_digit()).collect();
    match digits.strip_prefix("86") {
        Some(rest) if digits.len() == 13 => rest.to_string(),
        _ => digits,
    }
}

pub(super) fn is_mobile(phone: &str) -> bool {
    phone.len() == 11
        && phone.bytes().all(|b| b.is_ascii_digit())
        && ["13", "15", "17", "18", "19"]
            .iter()
            .any(|p| phone.starts_with(p))
}

/// Parses an RFC 3339 time, or a naive one as +08:00 local time.
pub(super) fn parse_time(v: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(v).ok().or_else(|| {
        NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
            .ok()
            .and_then(|n| shanghai().from_local_datetime(&n).single())
    })
}

pub(super) const TIME_KEYS: [&str; 7] = [
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

pub(super) fn all_items(data: &DemoData) -> impl Iterator<Item = (&'static str, &Item)> {
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

/// `spec/sources.md`: `birthday` is optional, `YYYY-MM-DD` or `--MM-DD`.
#[test]
fn most_members_have_a_birthday_some_without_a_year_one_on_29_february() {
    let d = data();
    let birthdays: Vec<&str> = d
        .members
        .iter()
        .filter_map(|m| str_of(m, "birthday"))
        .collect();
    let share = birthdays.len() as f64 / d.members.len() as f64;
    assert!((0.75..=0.92).contains(&share), "{share}");
    let mut no_year = 0;
    for b in &birthdays {
        if let Some(md) = b.strip_prefix("--") {
            no_year += 1;
            let date = NaiveDate::parse_from_str(&format!("2000-{md}"), "%Y-%m-%d");
            assert!(date.is_ok() && md.len() == 5, "{b}");
        } else {
            let date =
                NaiveDate::parse_from_str(b, "%Y-%m-%d").unwrap_or_else(|e| panic!("{b}: {e}"));
            assert_eq!(date.format("%Y-%m-%d").to_string(), *b, "two digits each");
            let age = now().year() - date.year();
            assert!((18..=80).contains(&age), "{b}");
        }
    }
    assert!(
        no_year > 0 && no_year * 3 < birthdays.len(),
        "{no_year} of {}",
        birthdays.len()
    );
    assert!(
        birthdays
            .iter()
            .any(|b| b.len() == 10 && b.ends_with("-02-29")),
        "a leap-day birthday"
    );
    assert!(d
        .members
        .iter()
        .any(|m| matches!(m.get("birthday"), Some(AttributeValue::Null(true)))));
    let seed = d
        .members
        .iter()
        .find(|m| str_of(m, "member_id") == Some(SEED_MEMBER_ID));
    assert!(
        !seed.expect("the seed member").contains_key("birthday"),
        "the seed gives none"
    );
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

#[test]
fn generation_time() {
    let started = std::time::Instant::now();
    let d = generate(&config());
    println!("generated {} items in {:?}", d.len(), started.elapsed());
}
