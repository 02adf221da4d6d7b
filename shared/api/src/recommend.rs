//! `GET /recommendations`: dishes (`kind=dishes`) or coupons (`kind=coupons`) to offer one
//! customer in one scope. The answer's JSON is built here from the ranking
//! (`c360_recommend::recommend_dishes`) and the coupon rules (`c360_domain::coupon`); the
//! reads are [`crate::reads::Reads::recommendations`].

use c360_domain::coupon::Match;
use c360_domain::time::Zone;
use c360_domain::Millis;
use c360_recommend::{Reason, Recommendation};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Most of a guest's newest orders per identifier the dish ranking reads (its
/// `Params::max_baskets`): one Query each, whatever the history.
pub const BASKETS_PER_NODE: usize = 100;

/// What to recommend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecommendationKind {
    Dishes,
    Coupons,
}

impl RecommendationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RecommendationKind::Dishes => "dishes",
            RecommendationKind::Coupons => "coupons",
        }
    }
}

/// `recommendations` for `kind=dishes`: `{dish_id, name, reason, paired_with, score}` where
/// `reason` is `repeat` (the guest's own, by recency-weighted frequency), `paired_with` (often
/// in the same baskets as `paired_with.dish_id`, one of the guest's dishes; `score` is the
/// confidence, the share in [0, 1] of that dish's baskets holding this one) or `popular` (the
/// store's, for the time of day; `score` is the counted orders of the last 30 days at this
/// daypart holding it). `name` is `null` for a dish no order named.
pub fn dishes_json(recs: &[Recommendation], names: &BTreeMap<String, String>) -> Value {
    let name = |d: &str| names.get(d).cloned();
    recs.iter()
        .map(|r| {
            let paired = match &r.reason {
                Reason::PairedWith(with) => json!({"dish_id": with, "name": name(with)}),
                _ => Value::Null,
            };
            json!({
                "dish_id": r.dish_id,
                "name": name(&r.dish_id),
                "reason": r.reason.as_str(),
                "paired_with": paired,
                "score": (r.score * 10_000.0).round() / 10_000.0,
            })
        })
        .collect()
}

/// `recommendations` for `kind=coupons`: the offers that apply, best first ([`Match::json`]).
pub fn coupons_json(matches: &[Match]) -> Value {
    matches.iter().map(Match::json).collect()
}

/// The answer around the list: who, what, the list, when the store's inputs were computed
/// (`null` before the first calibration) and when the answer was.
pub fn answer(
    head: (&str, &str),
    kind: RecommendationKind,
    list: Value,
    inputs_at: Option<Millis>,
    now: Millis,
    zone: &Zone,
) -> Value {
    json!({
        "customer_identifier": head.0,
        "identifier_type": head.1,
        "kind": kind.as_str(),
        "recommendations": list,
        "store_statistics_at": inputs_at.map(|t| zone.format(t)),
        "generated_at": zone.format(now),
    })
}
