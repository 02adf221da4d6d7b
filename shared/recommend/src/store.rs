//! What a store's dish recommendations are ranked with at request time ([`StoreDishes`], built
//! by a scheduled job from every customer's counted orders), and the endpoint's ranking
//! ([`recommend_dishes`]): [`rank_at`] restricted to what the store serves now, with the
//! popular fill taken from the dishes popular at that time of day.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::{rank_at, Basket, Params, Reason, Recommendation, StatsParts, StoreStats};

/// A dish is served "recently" when it was on a counted order of the last this many days.
pub const RECENT_DAYS: i64 = 30;
/// Baskets older than this many days are left out of the store's statistics.
pub const WINDOW_DAYS: i64 = 365;
/// Most dishes one answer of the endpoint lists (its largest `limit`).
pub const MAX_RECOMMENDATIONS: usize = 50;
/// Dishes kept per daypart in [`StoreDishes::popular_by_daypart`]: as many as one answer can
/// list, so the popular fill never runs past the list while the daypart has more dishes, and
/// a dish filled from the overall popularity really had no order at that daypart.
pub const POPULAR_PER_DAYPART: usize = MAX_RECOMMENDATIONS;

const DAY_MS: i64 = 86_400_000;

/// A store's (or, in the all-stores scope, the chain's) dish statistics, stored as JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoreDishes {
    /// When they were computed, ms since the Unix epoch.
    pub computed_at: i64,
    /// Popularity, reorder rates and pairs over the last [`WINDOW_DAYS`] days' baskets.
    pub stats: StatsParts,
    /// The dishes on a counted order of the last [`RECENT_DAYS`] days: what the store serves
    /// now. Recommendations are limited to these.
    pub recent: BTreeSet<String>,
    /// Per daypart (`breakfast`, `lunch`, ...: the caller's names), the recent dishes by the
    /// number of recent baskets of that daypart containing them, most first (ties by id), at
    /// most [`POPULAR_PER_DAYPART`].
    pub popular_by_daypart: BTreeMap<String, Vec<(String, u32)>>,
    /// Dish names, for the answers.
    pub names: BTreeMap<String, String>,
}

/// One counted order as the job reads it: the basket, when (ms) and its daypart's name.
#[derive(Debug, Clone)]
pub struct TimedBasket {
    pub basket: Basket,
    pub at_ms: i64,
    pub daypart: String,
}

/// Builds [`StoreDishes`] one customer at a time.
#[derive(Debug, Default)]
pub struct StoreDishesBuilder {
    stats: StoreStats,
    recent: BTreeSet<String>,
    by_daypart: BTreeMap<String, HashMap<String, u32>>,
    now_ms: i64,
}

impl StoreDishesBuilder {
    /// Statistics as of `now_ms` (the window and "recent" count back from it).
    pub fn new(now_ms: i64) -> Self {
        StoreDishesBuilder {
            now_ms,
            ..Self::default()
        }
    }

    /// Adds one customer's counted orders (any order); those outside the window are skipped.
    pub fn add_customer(&mut self, orders: &[TimedBasket]) {
        let in_window: Vec<&TimedBasket> = orders
            .iter()
            .filter(|o| self.now_ms - o.at_ms <= WINDOW_DAYS * DAY_MS)
            .collect();
        let baskets: Vec<Basket> = in_window.iter().map(|o| o.basket.clone()).collect();
        self.stats.add_customer(&baskets);
        for o in in_window {
            if self.now_ms - o.at_ms > RECENT_DAYS * DAY_MS {
                continue;
            }
            let counts = self.by_daypart.entry(o.daypart.clone()).or_default();
            let distinct: BTreeSet<&String> = o.basket.dishes.iter().collect();
            for d in distinct {
                self.recent.insert(d.clone());
                *counts.entry(d.clone()).or_default() += 1;
            }
        }
    }

    /// The statistics, with pairs of at least `min_pair_support` baskets and `names`.
    pub fn finish(self, min_pair_support: u32, names: BTreeMap<String, String>) -> StoreDishes {
        let popular_by_daypart = self
            .by_daypart
            .into_iter()
            .map(|(part, counts)| {
                let mut v: Vec<(String, u32)> = counts.into_iter().collect();
                v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                v.truncate(POPULAR_PER_DAYPART);
                (part, v)
            })
            .collect();
        let names = names
            .into_iter()
            .filter(|(id, _)| self.stats.dish(id).is_some())
            .collect();
        StoreDishes {
            computed_at: self.now_ms,
            stats: self.stats.to_parts(min_pair_support),
            recent: self.recent,
            popular_by_daypart,
            names,
        }
    }
}

/// The recommendations endpoint's ranking: [`rank_at`] over the guest's baskets with the
/// store's statistics, keeping only dishes served in the last [`RECENT_DAYS`] days before
/// `as_of` (or before the statistics' `computed_at` without it): those of the statistics'
/// `recent` set, and those in the guest's own orders of that window (an order placed since
/// the statistics were computed proves the dish is served; the statistics are weekly).
/// `popular` is filled from the dishes popular in `daypart` first, then from the store's
/// overall popularity; its `score` is on one scale for every item: the counted orders of the
/// last [`RECENT_DAYS`] days at `daypart` that held the dish (0 for a dish from the overall
/// fill). Without store statistics it is the guest's own repeat dishes only.
pub fn recommend_dishes(
    baskets: &[Basket],
    store: Option<&StoreDishes>,
    daypart: &str,
    n: usize,
    params: &Params,
    as_of: Option<DateTime<FixedOffset>>,
) -> Vec<Recommendation> {
    let stats = store.map(|s| StoreStats::from_parts(&s.stats));
    let guest_recent = store
        .map(|s| guest_recent_dishes(baskets, as_of, s.computed_at))
        .unwrap_or_default();
    let served = |d: &str| store.is_none_or(|s| s.recent.contains(d) || guest_recent.contains(d));
    // Ask for enough to survive the filter: the whole menu at most.
    let wide = n + stats.as_ref().map_or(0, |s| s.most_popular().len());
    let ranked = rank_at(baskets, stats.as_ref(), wide, params, as_of);
    let mut out: Vec<Recommendation> = ranked
        .iter()
        .filter(|r| r.reason != Reason::Popular && served(&r.dish_id))
        .take(n)
        .cloned()
        .collect();
    let daypart_popular = store
        .and_then(|s| s.popular_by_daypart.get(daypart))
        .into_iter()
        .flatten()
        .map(|(d, c)| (d.as_str(), f64::from(*c)));
    let overall = ranked
        .iter()
        .filter(|r| r.reason == Reason::Popular)
        .map(|r| (r.dish_id.as_str(), 0.0));
    for (dish, score) in daypart_popular.chain(overall) {
        if out.len() >= n {
            break;
        }
        if served(dish) && !out.iter().any(|r| r.dish_id == dish) {
            out.push(Recommendation {
                dish_id: dish.to_string(),
                reason: Reason::Popular,
                score,
            });
        }
    }
    out
}

/// The dishes of the guest's baskets ordered in the [`RECENT_DAYS`] days before `as_of`, or
/// before `computed_at` (ms) without it. A basket whose `ordered_at` is not RFC 3339 proves
/// nothing.
fn guest_recent_dishes(
    baskets: &[Basket],
    as_of: Option<DateTime<FixedOffset>>,
    computed_at: i64,
) -> BTreeSet<&str> {
    let reference = as_of.map_or(computed_at, |t| t.timestamp_millis());
    baskets
        .iter()
        .filter(|b| {
            DateTime::parse_from_rfc3339(&b.ordered_at)
                .is_ok_and(|t| reference - t.timestamp_millis() <= RECENT_DAYS * DAY_MS)
        })
        .flat_map(|b| b.dishes.iter().map(String::as_str))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(id: &str, day: i64, dishes: &[&str], daypart: &str) -> TimedBasket {
        TimedBasket {
            basket: Basket {
                order_id: id.into(),
                ordered_at: format!("{day:05}"),
                dishes: dishes.iter().map(|d| d.to_string()).collect(),
            },
            at_ms: day * DAY_MS,
            daypart: daypart.into(),
        }
    }

    fn store() -> StoreDishes {
        let now = 400;
        let mut b = StoreDishesBuilder::new(now * DAY_MS);
        for c in 0..6 {
            b.add_customer(&[
                order(
                    &format!("{c}a"),
                    now - 2,
                    &["noodles", "dumplings"],
                    "lunch",
                ),
                order(
                    &format!("{c}b"),
                    now - 3,
                    &["congee", "youtiao"],
                    "breakfast",
                ),
            ]);
        }
        // An old dish: ordered long ago only, no longer served.
        b.add_customer(&[order("x", now - 200, &["old_special", "noodles"], "dinner")]);
        b.finish(
            3,
            BTreeMap::from([("noodles".to_string(), "面".to_string())]),
        )
    }

    #[test]
    fn new_guests_get_what_is_popular_at_that_time_of_day() {
        let s = store();
        let at = |part| -> Vec<String> {
            recommend_dishes(&[], Some(&s), part, 2, &Params::default(), None)
                .into_iter()
                .map(|r| r.dish_id)
                .collect()
        };
        assert_eq!(at("breakfast"), ["congee", "youtiao"]);
        assert_eq!(at("lunch"), ["dumplings", "noodles"]);
    }

    #[test]
    fn a_dish_the_store_no_longer_serves_is_never_recommended() {
        let s = store();
        assert!(!s.recent.contains("old_special"));
        let mine = [order("m1", 190, &["old_special"], "dinner").basket];
        let recs = recommend_dishes(&mine, Some(&s), "lunch", 5, &Params::default(), None);
        assert!(recs.iter().all(|r| r.dish_id != "old_special"), "{recs:?}");
        assert!(!recs.is_empty());
    }

    #[test]
    fn a_dish_the_guest_ordered_since_the_statistics_is_served() {
        let s = store();
        // The statistics were computed on day 400; the guest ordered a new dish on day 402 and
        // a dish the store dropped long ago on day 150. Asked on day 403:
        let rfc = |day: i64| {
            DateTime::from_timestamp_millis(day * DAY_MS)
                .expect("a time")
                .fixed_offset()
        };
        let at = |id: &str, day: i64, dishes: &[&str]| Basket {
            order_id: id.into(),
            ordered_at: rfc(day).to_rfc3339(),
            dishes: dishes.iter().map(|d| d.to_string()).collect(),
        };
        let mine = [
            at("m1", 150, &["old_special"]),
            at("m2", 402, &["mapo_tofu"]),
        ];
        assert!(!s.recent.contains("mapo_tofu"));
        let recs = recommend_dishes(
            &mine,
            Some(&s),
            "lunch",
            3,
            &Params::default(),
            Some(rfc(403)),
        );
        assert_eq!(recs[0].dish_id, "mapo_tofu", "{recs:?}");
        assert_eq!(recs[0].reason, Reason::Repeat);
        assert!(recs.iter().all(|r| r.dish_id != "old_special"), "{recs:?}");
        // 40 days later the guest's order no longer proves the dish is on the menu.
        let later = recommend_dishes(
            &mine,
            Some(&s),
            "lunch",
            3,
            &Params::default(),
            Some(rfc(443)),
        );
        assert!(later.iter().all(|r| r.dish_id != "mapo_tofu"), "{later:?}");
    }

    #[test]
    fn popular_scores_are_the_dayparts_recent_orders_on_one_scale() {
        let s = store();
        let recs = recommend_dishes(&[], Some(&s), "breakfast", 4, &Params::default(), None);
        let got: Vec<(&str, f64)> = recs.iter().map(|r| (r.dish_id.as_str(), r.score)).collect();
        // Six breakfast orders held congee and youtiao; noodles and dumplings come from the
        // overall popularity and had no breakfast order.
        assert_eq!(
            got,
            [
                ("congee", 6.0),
                ("youtiao", 6.0),
                ("noodles", 0.0),
                ("dumplings", 0.0)
            ]
        );
        assert!(recs.iter().all(|r| r.reason == Reason::Popular));
    }

    #[test]
    fn repeat_and_paired_dishes_come_before_the_popular_fill() {
        let s = store();
        let mine = [order("m1", 390, &["noodles"], "lunch").basket];
        let recs = recommend_dishes(&mine, Some(&s), "breakfast", 3, &Params::default(), None);
        assert_eq!(recs[0].dish_id, "noodles");
        assert_eq!(recs[0].reason, Reason::Repeat);
        assert_eq!(recs[1].dish_id, "dumplings");
        assert_eq!(recs[1].reason, Reason::PairedWith("noodles".into()));
        assert_eq!(recs[2].reason, Reason::Popular);
        assert_eq!(s.names.get("noodles").map(String::as_str), Some("面"));
    }
}
