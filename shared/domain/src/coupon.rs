//! Coupon recommendations: which offers apply to one customer in one scope, best first, each
//! with the rule that matched. This file: the configuration, the rules and their matching;
//! `offer.rs` the offers, `baseline.rs` the store medians, `filter.rs` the rule filters,
//! `tests.rs` the tests.
//!
//! A [`CouponRule`] pairs a filter in the segment filter language (the spec is
//! `shared/domain/src/segment/mod.rs`: fields, operators, units, and that a **missing figure
//! satisfies no comparison**) with an [`Offer`] and a priority. Rules are configuration
//! ([`CouponConfig`]): defaults for every store, and per-store lists whose rules replace a
//! default of the same id. Without a configuration the built-in rules of
//! [`DEFAULT_RULES_JSON`] apply ([`CouponConfig::load`]).
//!
//! # The configuration's JSON
//! ```json
//! {"defaults": [rule, ...], "stores": {"store_sh_001": [rule, ...]}}
//! ```
//! `defaults` is required (`[]` for none: a configuration replaces the built-in rules
//! entirely); `stores` is optional, keyed by store id. A rule:
//! ```json
//! {"id":"win_back",
//!  "offer":{"title":"回归礼: 满200减50","kind":"amount_off","value_yuan":"50","min_spend_yuan":"200"},
//!  "priority":80,
//!  "filter":{"or":[{"field":"tags","op":"contains_any","value":["流失风险"]},
//!                  {"field":"churn_probability","op":"gte","value":0.6}]}}
//! ```
//! - `id`: 1 to [`MAX_ID_CHARS`] characters of `a-z 0-9 _ -`, unique within its list (the
//!   defaults, or one store's rules).
//! - `priority`: a whole number; higher comes first, ties by id ascending.
//! - `filter`: a segment filter ([`crate::segment::Filter::from_json`]), in which the `value`
//!   of an `eq ne gt gte lt lte` comparison may also be a **store median**
//!   `{"store_median":"avg_order_value"}` (or `total_spent`, `total_orders`): see
//!   [`Median`] and [`Baseline`].
//! - `stores` (defaults only, optional): the store ids the rule is limited to; without it a
//!   default applies in every store and in the all-stores scope.
//! - `offer`: see [`Offer`].
//!
//! Unknown keys are errors, at every level. Every rule is checked when the configuration is
//! loaded, its filter bound against a baseline where every median is known, so that a bad
//! rule stops the function at start ([`CouponError`], whose message names the rule and what
//! is wrong), never at request time.
//!
//! # Money and time
//! Money in the configuration is yuan, as in the segment language: a number or a decimal
//! string, at most 2 decimals (`1.001` is refused, never rounded), held exactly as integer
//! [`Fen`]. In the answers ([`Match::json`]) money is yuan as a JSON number. Durations are
//! whole days.

use crate::money::Fen;
use crate::projection::Scope;
use crate::segment::{Field, Filter, FilterError, Op, SegmentFigures, MAX_DEPTH};
use crate::time::Millis;
use crate::StoreId;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

mod baseline;
mod filter;
mod offer;
#[cfg(test)]
mod tests;

pub use baseline::{Baseline, Median};
pub use filter::RuleFilter;
pub use offer::{Offer, OfferKind};

/// The built-in rules, used when the deployment gives no coupon configuration
/// ([`CouponConfig::load`] with `None` or blank text):
///
/// | id | filter | offer | priority |
/// |---|---|---|---|
/// | `win_back` | tags contain `流失风险`, or `churn_probability >= 0.6` | 50 yuan off from 200, 14 days | 80 |
/// | `birthday_week` | `days_until_birthday <= 7` | a free 长寿面, 7 days | 70 |
/// | `vip_perk` | `customer_tier = VIP` | 10% off (九折) | 60 |
/// | `basket_builder` | `avg_order_value <` the scope's median | 15 yuan off from 150, 30 days | 40 |
///
/// `basket_builder` applies only once the weekly calibration has computed the scope's
/// [`Baseline`]; the `churn_probability` branch of `win_back` only when the caller computed
/// predictions ([`needs_predictions`]).
pub const DEFAULT_RULES_JSON: &str = r#"{
  "defaults": [
    {
      "id": "win_back",
      "offer": {"title": "回归礼: 满200减50", "kind": "amount_off", "value_yuan": "50", "min_spend_yuan": "200", "valid_days": 14},
      "priority": 80,
      "filter": {"or": [
        {"field": "tags", "op": "contains_any", "value": ["流失风险"]},
        {"field": "churn_probability", "op": "gte", "value": 0.6}
      ]}
    },
    {
      "id": "birthday_week",
      "offer": {"title": "生日周礼遇: 赠送长寿面一份", "kind": "free_item", "valid_days": 7},
      "priority": 70,
      "filter": {"field": "days_until_birthday", "op": "lte", "value": 7}
    },
    {
      "id": "vip_perk",
      "offer": {"title": "VIP专享: 全单九折", "kind": "percent_off", "percent": 10},
      "priority": 60,
      "filter": {"field": "customer_tier", "op": "eq", "value": "VIP"}
    },
    {
      "id": "basket_builder",
      "offer": {"title": "加购礼: 满150减15", "kind": "amount_off", "value_yuan": "15", "min_spend_yuan": "150", "valid_days": 30},
      "priority": 40,
      "filter": {"field": "avg_order_value", "op": "lt", "value": {"store_median": "avg_order_value"}}
    }
  ],
  "stores": {}
}"#;

/// Longest rule id, in characters.
pub const MAX_ID_CHARS: usize = 64;
/// Longest offer title, in characters.
pub const MAX_TITLE_CHARS: usize = 100;

/// Why coupon rules were refused. The configuration's errors are meant for a start-up
/// failure: each names the rule (its id, or its position when it has no readable id, and its
/// list) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CouponError {
    /// The configuration text is not JSON.
    #[error("coupon rules are not valid JSON: {0}")]
    Json(String),
    /// The configuration's outer shape: not an object, an unknown key, no `defaults`, a
    /// store key that is not a store id.
    #[error("coupon rules: {0}")]
    Config(String),
    /// One rule is wrong. `rule` is e.g. `"win_back" in defaults` or `#3 in stores.s1`.
    #[error("coupon rule {rule}: {problem}")]
    Rule { rule: String, problem: String },
    /// A rule's filter is not a valid segment filter (once its medians are bound).
    #[error("filter: {0}")]
    Filter(FilterError),
    /// A `{"store_median": ...}` reference that is wrong where it is.
    #[error("filter: {0}")]
    StoreMedian(String),
    /// A median the segment language cannot compare against (a negative amount); only from
    /// [`RuleFilter::bind`] with a [`Baseline`] built by hand.
    #[error("the store median of {median} is {value}, which a filter cannot compare against")]
    UnusableMedian { median: Median, value: String },
}

// ---------------------------------------------------------------------------------------
// Rules and the configuration

/// One coupon rule: who (the filter), what (the offer), how high it ranks (the priority) and,
/// for a default, which stores it is limited to. The JSON is in the module's documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct CouponRule {
    /// 1 to [`MAX_ID_CHARS`] characters of `a-z 0-9 _ -`.
    pub id: String,
    pub offer: Offer,
    /// Higher first.
    pub priority: i64,
    pub filter: RuleFilter,
    /// A default limited to these stores (not applied in the all-stores scope); `None`: every
    /// scope. Always `None` for a store's own rules.
    pub stores: Option<Vec<StoreId>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: String,
    offer: Value,
    priority: i64,
    filter: Value,
    stores: Option<Vec<String>>,
}

/// Whether `id` is a rule id: 1 to [`MAX_ID_CHARS`] characters of `a-z 0-9 _ -`.
pub fn is_rule_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

impl CouponRule {
    /// Reads and checks one rule. `list` names where it is (`defaults`, `stores.s1`) for the
    /// error messages, `position` its place there (0-based); a store's rule may not have
    /// `stores`.
    ///
    /// # Errors
    /// [`CouponError::Rule`], naming the rule and what is wrong (an unknown or missing key, a
    /// bad id, offer, priority, store id or filter).
    pub fn from_json(
        value: &Value,
        list: &str,
        position: usize,
    ) -> Result<CouponRule, CouponError> {
        let name = match value.get("id").and_then(Value::as_str) {
            Some(id) => format!("{id:?} in {list}"),
            None => format!("#{} in {list}", position + 1),
        };
        let fail = |problem: String| CouponError::Rule {
            rule: name.clone(),
            problem,
        };
        let raw: RawRule =
            serde_json::from_value(value.clone()).map_err(|e| fail(e.to_string()))?;
        if !is_rule_id(&raw.id) {
            return Err(fail(format!(
                "the id must be 1 to {MAX_ID_CHARS} characters of a-z, 0-9, _ and -"
            )));
        }
        let offer = Offer::from_json(&raw.offer).map_err(|e| fail(format!("offer: {e}")))?;
        let stores = match raw.stores {
            None => None,
            Some(_) if list != "defaults" => {
                return Err(fail(format!(
                    "\"stores\" is for the defaults: a rule in {list} applies to that store only"
                )))
            }
            Some(ids) if ids.is_empty() => {
                return Err(fail(
                    "\"stores\" lists no store (leave it out to apply in every store)".to_string(),
                ))
            }
            Some(ids) => Some(
                ids.iter()
                    .map(|s| {
                        StoreId::parse(s).map_err(|_| fail(format!("{s:?} is not a store id")))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let filter = RuleFilter::from_json(raw.filter).map_err(|e| fail(e.to_string()))?;
        Ok(CouponRule {
            id: raw.id,
            offer,
            priority: raw.priority,
            filter,
            stores,
        })
    }

    /// Whether this default applies in `store` (its `stores`, when limited).
    fn applies_in(&self, store: &StoreId) -> bool {
        self.stores.as_ref().is_none_or(|s| s.contains(store))
    }

    /// The match, if the customer's `figures` satisfy the rule's filter bound to `baseline`;
    /// `None` too when a median it refers to is unknown or unusable.
    pub fn evaluate(&self, figures: &SegmentFigures, baseline: &Baseline) -> Option<Match> {
        let filter = self.filter.bind(baseline).ok().flatten()?;
        filter.matches(figures).then(|| Match {
            rule_id: self.id.clone(),
            offer: self.offer.clone(),
            priority: self.priority,
            reason: format!(
                "{}: {}",
                self.id,
                self.filter.matched_text(&filter, figures, baseline)
            ),
        })
    }

    /// Whether the rule's filter reads a prediction.
    pub fn needs_predictions(&self) -> bool {
        self.filter.needs_predictions()
    }
}

/// The coupon rules: defaults, and per-store rules (keyed by store id) that come before the
/// defaults and replace a default of the same id. Read with [`CouponConfig::parse`] or
/// [`CouponConfig::load`] (or serde, which reads the same JSON and refuses with the same
/// messages).
#[derive(Debug, Clone, PartialEq)]
pub struct CouponConfig {
    pub defaults: Vec<CouponRule>,
    pub stores: BTreeMap<String, Vec<CouponRule>>,
}

impl CouponConfig {
    /// The configuration's rules when `text` is given and not blank; otherwise the built-in
    /// rules of [`DEFAULT_RULES_JSON`].
    ///
    /// # Errors
    /// As [`CouponConfig::parse`].
    pub fn load(text: Option<&str>) -> Result<CouponConfig, CouponError> {
        match text {
            Some(t) if !t.trim().is_empty() => CouponConfig::parse(t),
            _ => CouponConfig::parse(DEFAULT_RULES_JSON),
        }
    }

    /// Reads and checks a configuration's JSON text (see the module's documentation).
    ///
    /// # Errors
    /// [`CouponError::Json`] when it is not JSON; otherwise as [`CouponConfig::from_json`].
    pub fn parse(text: &str) -> Result<CouponConfig, CouponError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| CouponError::Json(e.to_string()))?;
        CouponConfig::from_json(&value)
    }

    /// Reads and checks a configuration's JSON.
    ///
    /// # Errors
    /// [`CouponError::Config`] for the outer shape (an unknown key, no `defaults`, a store
    /// key that is not a store id), [`CouponError::Rule`] for a rule (as
    /// [`CouponRule::from_json`], or an id used twice in one list).
    pub fn from_json(value: &Value) -> Result<CouponConfig, CouponError> {
        let config = |s: String| CouponError::Config(s);
        let Value::Object(m) = value else {
            return Err(config(
                "must be an object {\"defaults\": [...], \"stores\": {...}}".to_string(),
            ));
        };
        if let Some(other) = m
            .keys()
            .find(|k| !["defaults", "stores"].contains(&k.as_str()))
        {
            return Err(config(format!(
                "unknown key {other:?} (keys: defaults, stores)"
            )));
        }
        let defaults = match m.get("defaults") {
            Some(v) => rules(v, "defaults")?,
            None => {
                return Err(config(
                    "\"defaults\" is required ([] for none: a configuration replaces the built-in rules)"
                        .to_string(),
                ))
            }
        };
        let mut stores = BTreeMap::new();
        match m.get("stores") {
            None => {}
            Some(Value::Object(per_store)) => {
                for (key, v) in per_store {
                    if StoreId::parse(key).ok().is_none_or(|s| s.as_str() != key) {
                        return Err(config(format!("stores: {key:?} is not a store id")));
                    }
                    stores.insert(key.clone(), rules(v, &format!("stores.{key}"))?);
                }
            }
            Some(other) => {
                return Err(config(format!(
                    "\"stores\" must be an object of store id to rules, got {other}"
                )))
            }
        }
        Ok(CouponConfig { defaults, stores })
    }

    /// The rules of `scope`: in a store's scope, the store's rules then the defaults that
    /// apply there and that no store rule replaces (same id); in the all-stores scope, the
    /// defaults that are not limited to some stores.
    pub fn rules_for(&self, scope: &Scope) -> Vec<&CouponRule> {
        match scope {
            Scope::AllStores => self
                .defaults
                .iter()
                .filter(|r| r.stores.is_none())
                .collect(),
            Scope::Store(store) => {
                let own = self
                    .stores
                    .get(store.as_str())
                    .map_or(&[][..], Vec::as_slice);
                own.iter()
                    .chain(
                        self.defaults
                            .iter()
                            .filter(|d| d.applies_in(store) && !own.iter().any(|r| r.id == d.id)),
                    )
                    .collect()
            }
        }
    }
}

/// Reads one list of rules; ids are unique within it.
fn rules(value: &Value, list: &str) -> Result<Vec<CouponRule>, CouponError> {
    let Value::Array(items) = value else {
        return Err(CouponError::Config(format!(
            "{list} must be a list of rules, got {value}"
        )));
    };
    let mut out: Vec<CouponRule> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let rule = CouponRule::from_json(item, list, i)?;
        if out.iter().any(|r| r.id == rule.id) {
            return Err(CouponError::Rule {
                rule: format!("{:?} in {list}", rule.id),
                problem: format!("the id is used twice in {list} (ids are unique within a list)"),
            });
        }
        out.push(rule);
    }
    Ok(out)
}

impl<'de> Deserialize<'de> for CouponConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CouponConfig, D::Error> {
        let value = Value::deserialize(d)?;
        CouponConfig::from_json(&value).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------
// Answers

/// An offer that applies, with the rule that matched.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    pub rule_id: String,
    pub offer: Offer,
    pub priority: i64,
    /// For staff: the rule's id and the part of its filter the customer satisfied (every
    /// part of an `and`, the first satisfied branch of an `or`), as bound, in the segment
    /// JSON spelling, then the store medians that part used, e.g.
    /// `basket_builder: {"field":"avg_order_value","op":"lt","value":85.5}; store median of avg_order_value: 85.50 yuan`
    /// or, for a customer tagged 流失风险, `win_back: {"field":"tags","op":"contains_any","value":["流失风险"]}`.
    pub reason: String,
}

impl Match {
    /// The answer's JSON:
    /// `{"rule_id","title","kind","value","percent","min_spend","valid_days","priority","reason"}`,
    /// as [`Offer::json`] for the offer's keys (money in yuan as numbers, `null` when absent).
    pub fn json(&self) -> Value {
        let mut v = self.offer.json();
        if let Value::Object(m) = &mut v {
            m.insert("rule_id".to_string(), json!(self.rule_id));
            m.insert("priority".to_string(), json!(self.priority));
            m.insert("reason".to_string(), json!(self.reason));
        }
        v
    }
}

impl Serialize for Match {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.json().serialize(s)
    }
}

/// The offers of `rules` ([`CouponConfig::rules_for`]) that apply to a customer's `figures`
/// in the scope of `baseline`: priority descending, then rule id ascending. A rule that
/// refers to an unknown median does not apply; nor does a comparison on a missing figure
/// (a customer without a prediction does not match `churn_probability gte 0.6`: compute the
/// predictions when [`needs_predictions`] says so).
pub fn applicable<'a>(
    rules: impl IntoIterator<Item = &'a CouponRule>,
    figures: &SegmentFigures,
    baseline: &Baseline,
) -> Vec<Match> {
    let mut out: Vec<Match> = rules
        .into_iter()
        .filter_map(|r| r.evaluate(figures, baseline))
        .collect();
    out.sort_by(|a, b| by_rank(a.priority, &a.rule_id, b.priority, &b.rule_id));
    out
}

fn by_rank(pa: i64, ida: &str, pb: i64, idb: &str) -> Ordering {
    pb.cmp(&pa).then_with(|| ida.cmp(idb))
}

/// Whether any of `rules` reads a prediction, so that a caller computes the predictions
/// ([`SegmentFigures::of_view`]'s `with_predictions`) only when needed.
pub fn needs_predictions<'a>(rules: impl IntoIterator<Item = &'a CouponRule>) -> bool {
    rules.into_iter().any(CouponRule::needs_predictions)
}
