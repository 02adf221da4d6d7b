//! Store-wide dish statistics: popularity, the reorder prior and co-occurrence counts for lift.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::Basket;

/// Most dishes of one basket that enter the co-occurrence counts. A basket of `m` dishes adds
/// `m(m-1)/2` pairs; the cap keeps one huge order (a banquet) from costing quadratic memory.
pub const MAX_PAIR_DISHES_PER_BASKET: usize = 50;

/// What the store knows about one dish.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DishStats {
    /// Baskets (orders) containing the dish.
    #[serde(rename = "b")]
    pub baskets: u32,
    /// Customers who ordered the dish at least once.
    #[serde(rename = "c")]
    pub customers: u32,
    /// Customers who ordered the dish in two or more orders.
    #[serde(rename = "r")]
    pub repeat_customers: u32,
}

/// [`StoreStats`] as stored between the job that builds them and the reads that rank with
/// them: every dish's counts, and the pairs ordered together in at least `min_pair_support`
/// baskets (a pair below it never gets a lift, [`StoreStats::lift`]), as indexes into
/// `dishes` (`a < b`). About 20 bytes of JSON per dish and 12 per pair: a menu of 150 dishes
/// stays far below DynamoDB's 400 KB item limit even with every pair kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsParts {
    pub baskets: u64,
    pub dishes: Vec<(String, DishStats)>,
    pub pairs: Vec<(u32, u32, u32)>,
}

/// Store-wide statistics over many customers' baskets, built with [`StoreStats::add_customer`].
///
/// Dish ids are interned (`u32`) so the pair counts cost two integers per pair, not two
/// strings.
#[derive(Debug, Clone, Default)]
pub struct StoreStats {
    ids: HashMap<String, u32>,
    names: Vec<String>,
    dishes: Vec<DishStats>,
    /// Baskets containing both dishes: `partners[a][b]`, kept in both directions so the
    /// partners of a dish are one lookup.
    partners: Vec<HashMap<u32, u32>>,
    baskets: u64,
}

impl StoreStats {
    /// Empty statistics.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one customer's baskets (any order). A dish repeated inside one basket counts once.
    pub fn add_customer(&mut self, baskets: &[Basket]) {
        let mut orders_per_dish: HashMap<u32, u32> = HashMap::new();
        for basket in baskets {
            let mut ids: Vec<u32> = basket.dishes.iter().map(|d| self.intern(d)).collect();
            ids.sort_unstable();
            ids.dedup();
            self.baskets += 1;
            for &id in &ids {
                self.dishes[id as usize].baskets += 1;
                *orders_per_dish.entry(id).or_default() += 1;
            }
            let capped = &ids[..ids.len().min(MAX_PAIR_DISHES_PER_BASKET)];
            for (k, &a) in capped.iter().enumerate() {
                for &b in &capped[k + 1..] {
                    *self.partners[a as usize].entry(b).or_default() += 1;
                    *self.partners[b as usize].entry(a).or_default() += 1;
                }
            }
        }
        for (id, orders) in orders_per_dish {
            let stats = &mut self.dishes[id as usize];
            stats.customers += 1;
            if orders >= 2 {
                stats.repeat_customers += 1;
            }
        }
    }

    fn intern(&mut self, dish: &str) -> u32 {
        if let Some(&id) = self.ids.get(dish) {
            return id;
        }
        let id = self.names.len() as u32;
        self.ids.insert(dish.to_owned(), id);
        self.names.push(dish.to_owned());
        self.dishes.push(DishStats::default());
        self.partners.push(HashMap::new());
        id
    }

    /// Number of baskets seen.
    pub fn baskets(&self) -> u64 {
        self.baskets
    }

    /// The statistics of one dish, if the store has seen it.
    pub fn dish(&self, dish: &str) -> Option<DishStats> {
        self.ids.get(dish).map(|&id| self.dishes[id as usize])
    }

    /// Share of (customer, dish) pairs that were ordered again: the store's base reorder rate,
    /// the mean the per-dish prior shrinks towards. 0 when nothing was seen.
    pub fn base_reorder_rate(&self) -> f64 {
        let (ever, again) = self.dishes.iter().fold((0u64, 0u64), |(e, a), d| {
            (
                e + u64::from(d.customers),
                a + u64::from(d.repeat_customers),
            )
        });
        if ever == 0 {
            0.0
        } else {
            again as f64 / ever as f64
        }
    }

    /// Smoothed probability that a customer who ordered `dish` orders it again:
    /// `(repeat_customers + m·r0) / (customers + m)`, with `r0` the
    /// [base rate](Self::base_reorder_rate) and `m` = `strength` pseudo-customers (an
    /// additive, beta-binomial prior, so a dish seen by one customer is not judged on one).
    /// 1 for every dish while the store has seen no customer order anything twice (a new
    /// store): a base rate of 0 says nothing about one dish against another, and a prior of 0
    /// would zero every repeat score.
    pub fn reorder_prior(&self, dish: &str, strength: f64) -> f64 {
        let base = self.base_reorder_rate();
        if base == 0.0 {
            return 1.0;
        }
        let d = self.dish(dish).unwrap_or_default();
        (f64::from(d.repeat_customers) + strength * base) / (f64::from(d.customers) + strength)
    }

    /// Baskets containing both dishes (0 if either is unknown).
    pub fn together(&self, a: &str, b: &str) -> u32 {
        match (self.ids.get(a), self.ids.get(b)) {
            (Some(&x), Some(&y)) => self.partners[x as usize].get(&y).copied().unwrap_or(0),
            _ => 0,
        }
    }

    /// Lift of two dishes over baskets, `P(a,b) / (P(a)·P(b))` = `n_ab·N / (n_a·n_b)`
    /// (Agrawal, Imieliński & Swami 1993; Brin et al. 1997): above 1 they are ordered together
    /// more often than chance. `None` below `min_support` baskets together, where the ratio is
    /// noise.
    pub fn lift(&self, a: &str, b: &str, min_support: u32) -> Option<f64> {
        let together = self.together(a, b);
        if together == 0 || together < min_support {
            return None;
        }
        let na = self.dish(a)?.baskets;
        let nb = self.dish(b)?.baskets;
        Some(f64::from(together) * self.baskets as f64 / (f64::from(na) * f64::from(nb)))
    }

    /// Confidence of the rule `a → b`: the share of the baskets containing `a` that also
    /// contain `b`, `n_ab / n_a` in [0, 1] (Agrawal, Imieliński & Swami 1993). 0 if `a` is
    /// unknown.
    pub fn confidence(&self, a: &str, b: &str) -> f64 {
        match self.dish(a) {
            Some(d) if d.baskets > 0 => f64::from(self.together(a, b)) / f64::from(d.baskets),
            _ => 0.0,
        }
    }

    /// Every dish ordered together with `dish` in at least one basket, with the baskets count.
    pub fn partners<'a>(&'a self, dish: &str) -> impl Iterator<Item = (&'a str, u32)> + 'a {
        self.ids
            .get(dish)
            .map(|&id| &self.partners[id as usize])
            .into_iter()
            .flatten()
            .map(|(&other, &n)| (self.names[other as usize].as_str(), n))
    }

    /// The statistics as [`StatsParts`], keeping the pairs with at least `min_pair_support`
    /// baskets together; dishes in id order, so the same statistics give the same parts.
    pub fn to_parts(&self, min_pair_support: u32) -> StatsParts {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_by(|a, b| self.names[*a as usize].cmp(&self.names[*b as usize]));
        let mut position = vec![0u32; order.len()];
        for (k, &id) in order.iter().enumerate() {
            position[id as usize] = k as u32;
        }
        let dishes = order
            .iter()
            .map(|&id| (self.names[id as usize].clone(), self.dishes[id as usize]))
            .collect();
        let mut pairs: Vec<(u32, u32, u32)> = Vec::new();
        for (a, partners) in self.partners.iter().enumerate() {
            for (&b, &n) in partners {
                let (pa, pb) = (position[a], position[b as usize]);
                if pa < pb && n >= min_pair_support.max(1) {
                    pairs.push((pa, pb, n));
                }
            }
        }
        pairs.sort_unstable();
        StatsParts {
            baskets: self.baskets,
            dishes,
            pairs,
        }
    }

    /// Statistics back from [`StoreStats::to_parts`]. A pair naming a dish index out of range
    /// is left out (the parts come from storage).
    pub fn from_parts(parts: &StatsParts) -> StoreStats {
        let mut s = StoreStats::new();
        for (name, d) in &parts.dishes {
            let id = s.intern(name);
            s.dishes[id as usize] = *d;
        }
        let n = s.names.len() as u32;
        for &(a, b, count) in &parts.pairs {
            if a < n && b < n && a != b {
                let (ia, ib) = (
                    s.ids[&parts.dishes[a as usize].0],
                    s.ids[&parts.dishes[b as usize].0],
                );
                s.partners[ia as usize].insert(ib, count);
                s.partners[ib as usize].insert(ia, count);
            }
        }
        s.baskets = parts.baskets;
        s
    }

    /// Dishes by popularity (baskets containing them), most popular first, ties by dish id.
    pub fn most_popular(&self) -> Vec<(&str, u32)> {
        let mut all: Vec<(&str, u32)> = self
            .names
            .iter()
            .zip(&self.dishes)
            .map(|(name, d)| (name.as_str(), d.baskets))
            .collect();
        all.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(y.0)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basket(id: &str, at: &str, dishes: &[&str]) -> Basket {
        Basket {
            order_id: id.into(),
            ordered_at: at.into(),
            dishes: dishes.iter().map(|d| d.to_string()).collect(),
        }
    }

    fn store() -> StoreStats {
        let mut s = StoreStats::new();
        // Noodles and dumplings go together; tea is everywhere.
        s.add_customer(&[
            basket("1", "1", &["noodles", "dumplings", "tea"]),
            basket("2", "2", &["noodles", "dumplings", "tea", "tea"]),
        ]);
        s.add_customer(&[basket("3", "1", &["rice", "tea"])]);
        s.add_customer(&[basket("4", "1", &["noodles", "dumplings"])]);
        s
    }

    #[test]
    fn counts_a_dish_once_per_basket_and_customers_who_came_back_for_it() {
        let s = store();
        assert_eq!(s.baskets(), 4);
        assert_eq!(
            s.dish("tea"),
            Some(DishStats {
                baskets: 3,
                customers: 2,
                repeat_customers: 1
            })
        );
        assert_eq!(s.dish("caviar"), None);
    }

    #[test]
    fn lift_is_joint_over_product_of_marginals() {
        let s = store();
        // noodles 3/4, dumplings 3/4, together 3/4: lift = (3/4) / (9/16) = 4/3.
        let lift = s.lift("noodles", "dumplings", 1).unwrap_or_default();
        assert!((lift - 4.0 / 3.0).abs() < 1e-12, "{lift}");
        assert_eq!(s.lift("dumplings", "noodles", 1), Some(lift));
        // rice and noodles never together; below the support threshold there is no lift.
        assert_eq!(s.lift("rice", "noodles", 1), None);
        assert_eq!(s.lift("noodles", "dumplings", 4), None);
    }

    #[test]
    fn reorder_prior_shrinks_towards_the_store_rate() {
        let s = store();
        // (customer, dish) pairs: 7, ordered again: 3 (noodles, dumplings, tea of the first).
        let base = 3.0 / 7.0;
        assert!((s.base_reorder_rate() - base).abs() < 1e-12);
        // rice: 1 customer, 0 again: (0 + 2·base)/(1 + 2).
        assert!((s.reorder_prior("rice", 2.0) - 2.0 * base / 3.0).abs() < 1e-12);
        assert!((s.reorder_prior("unknown", 2.0) - base).abs() < 1e-12);
    }

    #[test]
    fn most_popular_breaks_ties_by_dish_id() {
        let s = store();
        let top: Vec<&str> = s.most_popular().iter().map(|(d, _)| *d).collect();
        assert_eq!(top, ["dumplings", "noodles", "tea", "rice"]);
    }

    #[test]
    fn stored_parts_give_back_the_same_lifts_and_priors() {
        let s = store();
        let back = StoreStats::from_parts(&s.to_parts(1));
        for (a, b) in [
            ("noodles", "dumplings"),
            ("tea", "rice"),
            ("rice", "noodles"),
        ] {
            assert_eq!(back.lift(a, b, 1), s.lift(a, b, 1), "{a} {b}");
        }
        assert_eq!(back.reorder_prior("tea", 2.0), s.reorder_prior("tea", 2.0));
        assert_eq!(back.most_popular(), s.most_popular());
        assert_eq!(back.to_parts(1), s.to_parts(1));
        // Pairs below the support are not stored: they could never give a lift.
        let thin = StoreStats::from_parts(&s.to_parts(3));
        assert_eq!(
            thin.lift("noodles", "dumplings", 3),
            s.lift("noodles", "dumplings", 3)
        );
        assert_eq!(thin.together("tea", "rice"), 0);
    }

    #[test]
    fn pair_counts_stop_at_the_per_basket_cap() {
        let mut s = StoreStats::new();
        let names: Vec<String> = (0..MAX_PAIR_DISHES_PER_BASKET + 10)
            .map(|i| format!("d{i:03}"))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        s.add_customer(&[basket("1", "1", &refs)]);
        let cap = MAX_PAIR_DISHES_PER_BASKET;
        let pairs: usize = s.partners.iter().map(HashMap::len).sum::<usize>() / 2;
        assert_eq!(pairs, cap * (cap - 1) / 2);
        assert_eq!(s.dish("d059").map(|d| d.baskets), Some(1));
    }
}
