//! Guest insights (`guest_insights` in the profile): what a guest usually orders, when and how
//! they come, how they book and pay. Kept like every other figure of the projection: one
//! record's share ([`Habits`], part of its [`Contribution`](super::Contribution)) adds to and
//! is taken from its node's tallies ([`Insights`], part of
//! [`ScopeStats`](super::ScopeStats)) exactly, and a customer's tallies are the sum of their
//! nodes'. Nothing is recomputed from the history on a read.
//!
//! Size: the tallies grow with the distinct dishes, stores, payment methods and party sizes a
//! guest has had, never with the number of records: a guest with 5,000 orders of the same
//! 40 dishes stores 40 dish tallies (about 60 bytes each). Each order adds at most
//! [`MAX_DISHES_PER_ORDER`] dishes; labels (dish ids, order types, payment methods) are cut to
//! [`MAX_LABEL_CHARS`] characters, dish names to [`MAX_NAME_CHARS`].
//!
//! The one figure that is not a sum is a dish's `last_ordered`: like the node's last counted
//! order, when the record holding it goes away (a refund, a REMOVE), it is looked up again
//! among the node's other counted orders ([`super::Extreme::DishLastOrdered`]).

use crate::source::{OrderLine, PosStatus, ReservationStatus, SourceRecord};
use crate::time::{Millis, Zone};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Dishes of one order that count (distinct ids, first lines first); the rest are left out.
pub const MAX_DISHES_PER_ORDER: usize = 50;
/// Dish ids, order types and payment methods are cut to this many characters.
pub const MAX_LABEL_CHARS: usize = 32;
/// Dish names are cut to this many characters.
pub const MAX_NAME_CHARS: usize = 40;
/// A party size above this counts as this (a banquet is "a large party", not a new size).
pub const MAX_PARTY_SIZE: i64 = 50;

/// The part of the day a meal falls in, by local time in the deployment's zone:
/// breakfast 05:00-10:29, lunch 10:30-13:59, afternoon 14:00-16:59, dinner 17:00-20:59,
/// late night 21:00-04:59 (the meal periods Chinese restaurants open for: 早餐, 午餐, 下午茶,
/// 晚餐, 夜宵).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Daypart {
    Breakfast,
    Lunch,
    Afternoon,
    Dinner,
    LateNight,
}

impl Daypart {
    pub fn of(at: Millis, zone: &Zone) -> Daypart {
        let local_ms = at.0 + i64::from(zone.0.local_minus_utc()) * 1000;
        let minute = local_ms.div_euclid(60_000).rem_euclid(24 * 60);
        match minute {
            m if (5 * 60..10 * 60 + 30).contains(&m) => Daypart::Breakfast,
            m if (10 * 60 + 30..14 * 60).contains(&m) => Daypart::Lunch,
            m if (14 * 60..17 * 60).contains(&m) => Daypart::Afternoon,
            m if (17 * 60..21 * 60).contains(&m) => Daypart::Dinner,
            _ => Daypart::LateNight,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Daypart::Breakfast => "breakfast",
            Daypart::Lunch => "lunch",
            Daypart::Afternoon => "afternoon",
            Daypart::Dinner => "dinner",
            Daypart::LateNight => "late_night",
        }
    }
}

/// How a finished reservation ended (pending and confirmed ones are not finished).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Arrived or completed: a visit.
    Kept,
    Cancelled,
    NoShow,
}

/// A dish on a counted order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DishMark {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// What one record adds to its node's [`Insights`]. Empty for records that say nothing about
/// habits (members, activities, unpaid orders, failed payments); omitted from storage then, so
/// records stored before insights existed read as empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Habits {
    /// A counted order's dishes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dishes: Vec<DishMark>,
    /// A counted order's type (`dine_in`, `delivery`, `pickup`, or the source's own word).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_type: Option<String>,
    /// The daypart of a counted order or of a kept reservation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub daypart: Option<Daypart>,
    /// The store of a counted order or of a kept reservation: a visit there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visit_store: Option<String>,
    /// A finished reservation's outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// A reservation's party size (people, 1 to [`MAX_PARTY_SIZE`]), whatever its status: the
    /// size the guest books for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub party_size: Option<i64>,
    /// A successful POS payment's method, lower case.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
}

fn cut(s: &str, n: usize) -> String {
    s.trim().chars().take(n).collect()
}

/// The label of an open vocabulary (order types, payment methods): trimmed, lower case, cut;
/// `None` when blank.
fn label(s: &str) -> Option<String> {
    Some(cut(&s.to_lowercase(), MAX_LABEL_CHARS)).filter(|l| !l.is_empty())
}

impl Habits {
    pub fn is_empty(&self) -> bool {
        *self == Habits::default()
    }

    pub fn of(record: &SourceRecord, zone: &Zone) -> Habits {
        match record {
            SourceRecord::Order(o) if o.status.is_counted() => Habits {
                dishes: dishes(&o.items),
                order_type: label(o.order_type.as_str()),
                daypart: Some(Daypart::of(o.created_at, zone)),
                visit_store: Some(o.store.as_str().to_string()),
                ..Habits::default()
            },
            SourceRecord::Reservation(r) => {
                let outcome = match r.status {
                    ReservationStatus::Arrived | ReservationStatus::Completed => {
                        Some(Outcome::Kept)
                    }
                    ReservationStatus::Cancelled => Some(Outcome::Cancelled),
                    ReservationStatus::NoShow => Some(Outcome::NoShow),
                    _ => None,
                };
                let kept = outcome == Some(Outcome::Kept);
                Habits {
                    daypart: kept.then(|| Daypart::of(r.reserved_for, zone)),
                    visit_store: kept.then(|| r.store.as_str().to_string()),
                    outcome,
                    party_size: r
                        .party_size
                        .filter(|&n| n >= 1)
                        .map(|n| n.min(MAX_PARTY_SIZE)),
                    ..Habits::default()
                }
            }
            SourceRecord::Pos(p) if p.status == PosStatus::Success => Habits {
                payment_method: p.payment_method.as_deref().and_then(label),
                ..Habits::default()
            },
            _ => Habits::default(),
        }
    }
}

/// An order's distinct dishes with an id, in line order, at most [`MAX_DISHES_PER_ORDER`].
fn dishes(lines: &[OrderLine]) -> Vec<DishMark> {
    let mut out: Vec<DishMark> = Vec::new();
    for line in lines {
        let Some(id) = line.dish_id.as_deref().map(|d| cut(d, MAX_LABEL_CHARS)) else {
            continue;
        };
        if id.is_empty() || out.iter().any(|d| d.id == id) {
            continue;
        }
        if out.len() == MAX_DISHES_PER_ORDER {
            break;
        }
        let name = line.name.as_deref().map(|n| cut(n, MAX_NAME_CHARS));
        out.push(DishMark {
            id,
            name: name.filter(|n| !n.is_empty()),
        });
    }
    out
}

/// One dish's tally on a node: counted orders containing it and the latest of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DishTally {
    /// Counted orders containing the dish; the tally goes when it reaches 0.
    #[serde(rename = "n")]
    pub orders: i64,
    /// When the latest of them was placed. `None` only between losing it and finding it again
    /// (within one change), or on items stored before their orders' dishes were indexed.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Millis>,
    /// The name on an order of the dish (a menu has one name per dish).
    #[serde(rename = "m", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A node's habit tallies in one scope. Every field is a count that adds, subtracts and merges
/// exactly, in any order; entries at 0 are dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Insights {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dishes: BTreeMap<String, DishTally>,
    /// Finished reservations by how they ended (the kept ones are
    /// [`ScopeStats::fulfilled_reservations`](super::ScopeStats::fulfilled_reservations)).
    #[serde(skip_serializing_if = "is_zero")]
    pub cancelled: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub no_shows: i64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub party_sizes: BTreeMap<i64, i64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub dayparts: BTreeMap<Daypart, i64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub order_types: BTreeMap<String, i64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub payment_methods: BTreeMap<String, i64>,
    /// Visits (counted orders and kept reservations) by store.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub stores: BTreeMap<String, i64>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn bump<K: Ord + Clone>(map: &mut BTreeMap<K, i64>, key: &K, by: i64) {
    let n = map.entry(key.clone()).or_insert(0);
    *n += by;
    if *n <= 0 {
        map.remove(key);
    }
}

impl Insights {
    pub fn is_empty(&self) -> bool {
        *self == Insights::default()
    }

    /// Adds (`sign` 1) or takes out (`sign` -1) one record's habits, placed at `at`. Taking
    /// out the record that held a dish's `last` leaves it `None`; the caller finds it again
    /// ([`Insights::lost_dishes`]).
    pub fn count(&mut self, h: &Habits, at: Millis, sign: i64) {
        for d in &h.dishes {
            let t = self.dishes.entry(d.id.clone()).or_default();
            t.orders += sign;
            if sign > 0 {
                if t.last.is_none_or(|l| at >= l) {
                    t.last = Some(at);
                    if d.name.is_some() {
                        t.name = d.name.clone();
                    }
                }
                if t.name.is_none() {
                    t.name = d.name.clone();
                }
            } else if t.last == Some(at) {
                t.last = None;
            }
            if t.orders <= 0 {
                self.dishes.remove(&d.id);
            }
        }
        match h.outcome {
            Some(Outcome::Cancelled) => self.cancelled += sign,
            Some(Outcome::NoShow) => self.no_shows += sign,
            Some(Outcome::Kept) | None => {}
        }
        if let Some(n) = h.party_size {
            bump(&mut self.party_sizes, &n, sign);
        }
        if let Some(d) = h.daypart {
            bump(&mut self.dayparts, &d, sign);
        }
        if let Some(t) = &h.order_type {
            bump(&mut self.order_types, t, sign);
        }
        if let Some(p) = &h.payment_method {
            bump(&mut self.payment_methods, p, sign);
        }
        if let Some(s) = &h.visit_store {
            bump(&mut self.stores, s, sign);
        }
    }

    /// The dishes of a removed record (`old`, placed at `old_at`) whose latest order must be
    /// looked up again: still ordered, and no longer known to be at `old_at` or later.
    pub fn lost_dishes(&self, old: &Habits, old_at: Millis) -> Vec<String> {
        old.dishes
            .iter()
            .filter(|d| {
                self.dishes
                    .get(&d.id)
                    .is_some_and(|t| t.last.is_none_or(|l| l < old_at))
            })
            .map(|d| d.id.clone())
            .collect()
    }

    /// Folds in a dish's latest order found among the node's other records.
    pub fn restore_dish(&mut self, dish: &str, found: Option<Millis>) {
        if let Some(t) = self.dishes.get_mut(dish) {
            t.last = t.last.max(found);
        }
    }

    /// A customer's tallies are the sum of their nodes'.
    pub fn merge(&mut self, other: &Insights) {
        for (id, o) in &other.dishes {
            let t = self.dishes.entry(id.clone()).or_default();
            t.orders += o.orders;
            if o.last > t.last || t.name.is_none() {
                t.name = o.name.clone().or(t.name.take());
            }
            t.last = t.last.max(o.last);
        }
        self.cancelled += other.cancelled;
        self.no_shows += other.no_shows;
        for (k, n) in &other.party_sizes {
            bump(&mut self.party_sizes, k, *n);
        }
        for (k, n) in &other.dayparts {
            bump(&mut self.dayparts, k, *n);
        }
        for (k, n) in &other.order_types {
            bump(&mut self.order_types, k, *n);
        }
        for (k, n) in &other.payment_methods {
            bump(&mut self.payment_methods, k, *n);
        }
        for (k, n) in &other.stores {
            bump(&mut self.stores, k, *n);
        }
    }

    /// Only what the tags read (reservation outcomes, order types; `crate::value::tags`): the
    /// part of the tallies a segment row keeps, so that rows and member items (written on every
    /// change of a customer's figures) do not carry every dish the guest ever ordered.
    pub fn for_tags(&self) -> Insights {
        Insights {
            cancelled: self.cancelled,
            no_shows: self.no_shows,
            order_types: self.order_types.clone(),
            ..Insights::default()
        }
    }

    /// The guest's top `n` dishes: most counted orders first, then the most recently ordered,
    /// then by dish id.
    pub fn favorite_dishes(&self, n: usize) -> Vec<(&str, &DishTally)> {
        let mut v: Vec<(&str, &DishTally)> =
            self.dishes.iter().map(|(k, t)| (k.as_str(), t)).collect();
        v.sort_by(|a, b| {
            b.1.orders
                .cmp(&a.1.orders)
                .then_with(|| b.1.last.cmp(&a.1.last))
                .then_with(|| a.0.cmp(b.0))
        });
        v.truncate(n);
        v
    }

    /// The median party size (the lower middle of an even count), over reservations with one.
    pub fn median_party_size(&self) -> Option<i64> {
        let total: i64 = self.party_sizes.values().sum();
        if total <= 0 {
            return None;
        }
        let middle = (total + 1) / 2;
        let mut seen = 0;
        for (size, n) in &self.party_sizes {
            seen += n;
            if seen >= middle {
                return Some(*size);
            }
        }
        None
    }
}

/// The key with the largest count (ties: the smallest key), for `preferred_*` and
/// `favorite_store`.
pub fn mode<K: Ord>(map: &BTreeMap<K, i64>) -> Option<&K> {
    map.iter()
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(k, _)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dish(id: &str) -> DishMark {
        DishMark {
            id: id.into(),
            name: Some(format!("菜{id}")),
        }
    }

    fn order(dishes: &[&str]) -> Habits {
        Habits {
            dishes: dishes.iter().map(|d| dish(d)).collect(),
            ..Habits::default()
        }
    }

    #[test]
    fn dayparts_follow_local_time() {
        let z = Zone::default();
        let at = |s: &str| z.parse_time(s).unwrap();
        assert_eq!(
            Daypart::of(at("2026-02-18T07:00:00"), &z),
            Daypart::Breakfast
        );
        assert_eq!(
            Daypart::of(at("2026-02-18T10:29:59"), &z),
            Daypart::Breakfast
        );
        assert_eq!(Daypart::of(at("2026-02-18T10:30:00"), &z), Daypart::Lunch);
        assert_eq!(
            Daypart::of(at("2026-02-18T15:00:00"), &z),
            Daypart::Afternoon
        );
        assert_eq!(Daypart::of(at("2026-02-18T19:30:00"), &z), Daypart::Dinner);
        assert_eq!(
            Daypart::of(at("2026-02-18T23:30:00"), &z),
            Daypart::LateNight
        );
        assert_eq!(
            Daypart::of(at("2026-02-18T04:59:00"), &z),
            Daypart::LateNight
        );
    }

    #[test]
    fn removing_the_latest_order_of_a_dish_asks_for_the_one_before() {
        let mut i = Insights::default();
        i.count(&order(&["d1", "d2"]), Millis(10), 1);
        i.count(&order(&["d1"]), Millis(20), 1);
        assert_eq!(i.dishes["d1"].orders, 2);
        assert_eq!(i.dishes["d1"].last, Some(Millis(20)));
        let old = order(&["d1"]);
        i.count(&old, Millis(20), -1);
        assert_eq!(i.lost_dishes(&old, Millis(20)), vec!["d1".to_string()]);
        i.restore_dish("d1", Some(Millis(10)));
        assert_eq!(i.dishes["d1"].last, Some(Millis(10)));
        // d2's only order gone: the tally goes, nothing to look up.
        let old = order(&["d1", "d2"]);
        i.count(&old, Millis(10), -1);
        assert!(i.is_empty());
        assert!(i.lost_dishes(&old, Millis(10)).is_empty());
    }

    #[test]
    fn tallies_merge_to_the_sum_in_any_order() {
        let mut a = Insights::default();
        a.count(&order(&["d1"]), Millis(10), 1);
        let mut b = Insights::default();
        b.count(&order(&["d1", "d2"]), Millis(30), 1);
        b.count(
            &Habits {
                party_size: Some(4),
                outcome: Some(Outcome::NoShow),
                ..Habits::default()
            },
            Millis(5),
            1,
        );
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab, ba);
        assert_eq!(ab.dishes["d1"].orders, 2);
        assert_eq!(ab.dishes["d1"].last, Some(Millis(30)));
        assert_eq!(ab.no_shows, 1);
    }

    #[test]
    fn favourites_rank_by_orders_then_recency_and_the_median_party_is_the_lower_middle() {
        let mut i = Insights::default();
        i.count(&order(&["a", "b"]), Millis(10), 1);
        i.count(&order(&["b", "c"]), Millis(20), 1);
        i.count(&order(&["c"]), Millis(30), 1);
        let ids: Vec<&str> = i.favorite_dishes(5).iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, vec!["c", "b", "a"]);
        for n in [2, 4, 4, 6] {
            bump(&mut i.party_sizes, &n, 1);
        }
        assert_eq!(i.median_party_size(), Some(4));
        bump(&mut i.party_sizes, &2, 1);
        assert_eq!(i.median_party_size(), Some(4));
        bump(&mut i.party_sizes, &2, 2);
        assert_eq!(i.median_party_size(), Some(2));
    }

    #[test]
    fn five_thousand_orders_of_the_same_dishes_cost_what_fifty_do() {
        let stored = |orders: i64| {
            let mut i = Insights::default();
            for k in 0..orders {
                let mut h = order(&["d1", "d2", "d3"][..1 + (k % 3) as usize]);
                h.order_type = Some("dine_in".into());
                h.daypart = Some(Daypart::Dinner);
                h.visit_store = Some("store_sh_001".into());
                i.count(&h, Millis(1_000_000 + k), 1);
            }
            serde_json::to_string(&i).unwrap().len()
        };
        // Only the digits of the counts and of the latest time grow (about 3 bytes).
        assert!(
            stored(5_000) <= stored(50) + 12,
            "{} vs {}",
            stored(5_000),
            stored(50)
        );
    }

    #[test]
    fn an_order_counts_each_dish_once_and_at_most_fifty() {
        let line = |id: &str| OrderLine {
            dish_id: Some(id.into()),
            name: None,
            quantity: Some(2),
            price: None,
        };
        let mut lines: Vec<OrderLine> = (0..80).map(|k| line(&format!("d{k}"))).collect();
        lines.insert(1, line("d0"));
        lines.insert(2, line("  "));
        let d = dishes(&lines);
        assert_eq!(d.len(), MAX_DISHES_PER_ORDER);
        assert_eq!(d[1].id, "d1");
    }
}
