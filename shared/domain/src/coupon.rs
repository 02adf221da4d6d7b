//! Coupon recommendations: which offers apply to one customer in one scope, best first, each
//! with the rule that matched (over 400 lines, a quarter of them documentation: the rules'
//! JSON, its checks at load and their evaluation read best in one place; the tests are in
//! `coupon/tests.rs`).
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

#[cfg(test)]
mod tests;

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
/// `basket_builder` applies only once the daily rescoring job has computed the scope's
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
// Offers

/// What an offer gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferKind {
    /// `value_yuan` off the bill (required), from `min_spend_yuan` when given.
    AmountOff,
    /// `percent` off the bill (required).
    PercentOff,
    /// An item for free (named in the title); `value_yuan`, if given, is its worth.
    FreeItem,
    /// A privilege that is not money (a private room, priority seating); `value_yuan`, if
    /// given, is its worth.
    Perk,
}

impl OfferKind {
    /// The name in the configuration and in the answers (`amount_off`).
    pub fn name(self) -> &'static str {
        match self {
            OfferKind::AmountOff => "amount_off",
            OfferKind::PercentOff => "percent_off",
            OfferKind::FreeItem => "free_item",
            OfferKind::Perk => "perk",
        }
    }
}

impl fmt::Display for OfferKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An offer, as configured:
/// `{"title":"回归礼: 满200减50","kind":"amount_off","value_yuan":"50","min_spend_yuan":"200","valid_days":14}`.
///
/// - `title` (required): the text staff and guests see, 1 to [`MAX_TITLE_CHARS`] characters
///   (trimmed).
/// - `kind` (required): [`OfferKind`], one of `amount_off`, `percent_off`, `free_item`,
///   `perk`.
/// - `value_yuan`: yuan, more than 0 (number or decimal string, at most 2 decimals).
///   Required for `amount_off`; refused for `percent_off`; for `free_item` and `perk` the
///   worth, optional.
/// - `percent`: more than 0, at most 100 (10 is 九折). Required for `percent_off`, refused
///   for the other kinds.
/// - `min_spend_yuan`: the bill the offer needs, yuan, 0 or more; optional.
/// - `valid_days`: whole days the offer is valid once given, at least 1; optional.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub title: String,
    pub kind: OfferKind,
    pub value_yuan: Option<Fen>,
    pub percent: Option<f64>,
    pub min_spend_yuan: Option<Fen>,
    pub valid_days: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOffer {
    title: String,
    kind: OfferKind,
    value_yuan: Option<Value>,
    percent: Option<f64>,
    min_spend_yuan: Option<Value>,
    valid_days: Option<i64>,
}

impl Offer {
    /// Reads and checks an offer's JSON; the error says what is wrong (the caller names the
    /// rule).
    fn from_json(value: &Value) -> Result<Offer, String> {
        let raw: RawOffer = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        let title = raw.title.trim().to_string();
        let chars = title.chars().count();
        if chars == 0 || chars > MAX_TITLE_CHARS {
            return Err(format!(
                "title must have 1 to {MAX_TITLE_CHARS} characters, got {chars}"
            ));
        }
        let value_yuan = raw
            .value_yuan
            .as_ref()
            .map(|v| yuan("value_yuan", v))
            .transpose()?;
        if value_yuan == Some(Fen(0)) {
            return Err("value_yuan must be more than 0".to_string());
        }
        let min_spend_yuan = raw
            .min_spend_yuan
            .as_ref()
            .map(|v| yuan("min_spend_yuan", v))
            .transpose()?;
        if let Some(p) = raw.percent {
            if !(p.is_finite() && p > 0.0 && p <= 100.0) {
                return Err(format!(
                    "percent must be more than 0 and at most 100, got {p}"
                ));
            }
        }
        if let Some(d) = raw.valid_days {
            if d < 1 {
                return Err(format!(
                    "valid_days must be a whole number of days, at least 1, got {d}"
                ));
            }
        }
        let kind = raw.kind;
        match kind {
            OfferKind::AmountOff if value_yuan.is_none() => {
                return Err("an amount_off offer needs value_yuan (the yuan off)".to_string())
            }
            OfferKind::PercentOff if raw.percent.is_none() => {
                return Err("a percent_off offer needs percent (10 is 10% off)".to_string())
            }
            OfferKind::PercentOff if value_yuan.is_some() => {
                return Err(
                    "a percent_off offer takes percent, not value_yuan (a cap is not supported)"
                        .to_string(),
                )
            }
            OfferKind::AmountOff | OfferKind::FreeItem | OfferKind::Perk
                if raw.percent.is_some() =>
            {
                return Err(format!(
                    "percent applies to percent_off offers only, not {kind}"
                ))
            }
            _ => {}
        }
        Ok(Offer {
            title,
            kind,
            value_yuan,
            percent: raw.percent,
            min_spend_yuan,
            valid_days: raw.valid_days,
        })
    }

    /// The offer in the answers: `{"title","kind","value","percent","min_spend","valid_days"}`,
    /// money in yuan as numbers ([`Fen::yuan`]), `null` for what the offer does not have.
    pub fn json(&self) -> Value {
        json!({
            "title": self.title,
            "kind": self.kind.name(),
            "value": self.value_yuan.map(Fen::yuan),
            "percent": self.percent,
            "min_spend": self.min_spend_yuan.map(Fen::yuan),
            "valid_days": self.valid_days,
        })
    }
}

/// Yuan as the segment language reads it: a JSON number (printed in its shortest exact form)
/// or a decimal string, exactly, to the fen.
fn yuan(name: &str, v: &Value) -> Result<Fen, String> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => {
            return Err(format!(
                "{name} must be yuan (a number or a decimal string), got {other}"
            ))
        }
    };
    Fen::parse_yuan(&text).map_err(|e| format!("{name}: {e}"))
}

// ---------------------------------------------------------------------------------------
// Store medians

/// A figure whose median over a scope's customers a filter can compare against:
/// `{"store_median":"avg_order_value"}`.
///
/// `avg_order_value` and `total_spent` are yuan and compare with the money fields
/// (`total_spent`, `avg_order_value`, `predicted_clv_12m`); `total_orders` is a whole number
/// of orders and compares with `total_orders` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Median {
    AvgOrderValue,
    TotalSpent,
    TotalOrders,
}

impl Median {
    pub const ALL: [Median; 3] = [
        Median::AvgOrderValue,
        Median::TotalSpent,
        Median::TotalOrders,
    ];

    /// The name in `{"store_median": name}`, the same as the field's.
    pub fn name(self) -> &'static str {
        match self {
            Median::AvgOrderValue => "avg_order_value",
            Median::TotalSpent => "total_spent",
            Median::TotalOrders => "total_orders",
        }
    }

    pub fn parse(name: &str) -> Option<Median> {
        Median::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether a comparison on `field` can take this median as its value.
    pub fn compares_with(self, field: Field) -> bool {
        match self {
            Median::AvgOrderValue | Median::TotalSpent => matches!(
                field,
                Field::TotalSpent | Field::AvgOrderValue | Field::PredictedClv12m
            ),
            Median::TotalOrders => field == Field::TotalOrders,
        }
    }
}

impl fmt::Display for Median {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One scope's medians (a store's, or the whole chain's for the all-stores scope), which
/// `{"store_median": ...}` in a rule's filter stands for.
///
/// The baseline is computed by the daily rescoring job ([`Baseline::of_figures`] over the
/// scope's customers), so a fresh deployment has none ([`Baseline::unknown`]): a rule that
/// refers to an unknown median does not apply ([`RuleFilter::bind`]), the other rules do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    /// Median of `avg_order_value` over the customers with a counted order, in fen.
    pub avg_order_value: Option<Fen>,
    /// Median of `total_spent` over the customers with the figure, in fen.
    pub total_spent: Option<Fen>,
    /// Median of `total_orders` (counted orders), a whole number of orders.
    pub total_orders: Option<i64>,
    /// When the medians were computed (ms since the epoch).
    pub computed_at: Millis,
}

impl Baseline {
    /// No median known (no rescoring has run yet); `computed_at` is the epoch.
    pub fn unknown() -> Baseline {
        Baseline {
            avg_order_value: None,
            total_spent: None,
            total_orders: None,
            computed_at: Millis(0),
        }
    }

    /// The medians of one scope's customers' figures. Each median is over the customers that
    /// have the figure (a customer without a counted order has no `avg_order_value` and is
    /// left out of that median); `None` when no customer has it. With an even count, the
    /// median is the mean of the middle two, rounded half up to the fen (to the whole order
    /// for `total_orders`).
    pub fn of_figures<'a>(
        figures: impl IntoIterator<Item = &'a SegmentFigures>,
        computed_at: Millis,
    ) -> Baseline {
        let (mut avg, mut spent, mut orders) = (Vec::new(), Vec::new(), Vec::new());
        for f in figures {
            avg.extend(f.avg_order_value.map(|v| v.0));
            spent.extend(f.total_spent.map(|v| v.0));
            orders.extend(f.total_orders);
        }
        Baseline {
            avg_order_value: median(avg).map(Fen),
            total_spent: median(spent).map(Fen),
            total_orders: median(orders),
            computed_at,
        }
    }

    /// The median, if known.
    fn get(&self, m: Median) -> Option<MedianValue> {
        match m {
            Median::AvgOrderValue => self.avg_order_value.map(MedianValue::Money),
            Median::TotalSpent => self.total_spent.map(MedianValue::Money),
            Median::TotalOrders => self.total_orders.map(MedianValue::Orders),
        }
    }

    /// A baseline where every median is known, to check the rules at load.
    fn probe() -> Baseline {
        Baseline {
            avg_order_value: Some(Fen(1)),
            total_spent: Some(Fen(1)),
            total_orders: Some(1),
            computed_at: Millis(0),
        }
    }
}

/// The median of integers; even counts take the mean of the middle two, half up.
fn median(mut v: Vec<i64>) -> Option<i64> {
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        return None;
    }
    if n % 2 == 1 {
        return Some(v[n / 2]);
    }
    let sum = i128::from(v[n / 2 - 1]) + i128::from(v[n / 2]);
    i64::try_from((sum + 1).div_euclid(2)).ok()
}

#[derive(Debug, Clone, Copy)]
enum MedianValue {
    Money(Fen),
    Orders(i64),
}

impl MedianValue {
    /// As a comparison's value in the segment JSON: money as an exact decimal string.
    fn json(self, m: Median) -> Result<Value, CouponError> {
        match self {
            MedianValue::Money(f) if f.0 < 0 => Err(CouponError::UnusableMedian {
                median: m,
                value: format!("{} fen", f.0),
            }),
            MedianValue::Money(f) => Ok(Value::String(f.display_yuan())),
            MedianValue::Orders(n) => Ok(json!(n)),
        }
    }

    fn text(self) -> String {
        match self {
            MedianValue::Money(f) => format!("{} yuan", f.display_yuan()),
            MedianValue::Orders(n) => format!("{n} orders"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Rule filters

/// A rule's filter: segment JSON in which comparisons may take a store median as their value
/// (see [`Median`]). Checked when read ([`RuleFilter::from_json`]); made a [`Filter`] for a
/// scope by [`RuleFilter::bind`].
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFilter {
    json: Value,
    medians: BTreeSet<Median>,
    /// The filter, when it refers to no median (bound once, when read).
    fixed: Option<Filter>,
    fields: BTreeSet<Field>,
}

impl RuleFilter {
    /// Reads and checks a rule's filter: the store-median references (a known median, with
    /// `eq ne gt gte lt lte`, on a field it compares with), then the whole filter, bound
    /// against a baseline where every median is known, as a segment filter.
    ///
    /// # Errors
    /// [`CouponError::StoreMedian`] for a bad reference, [`CouponError::Filter`] for what
    /// [`Filter::from_json`] refuses.
    pub fn from_json(json: Value) -> Result<RuleFilter, CouponError> {
        let mut medians = BTreeSet::new();
        let mut probe = json.clone();
        let all_known = Baseline::probe();
        for_each_comparison(&mut probe, 1, &mut |m| {
            if let Some(median) = reference(m)? {
                medians.insert(median);
                substitute(m, median, &all_known)?;
            }
            Ok(())
        })?;
        let filter = Filter::from_json(&probe).map_err(CouponError::Filter)?;
        let fields = filter.fields();
        Ok(RuleFilter {
            json,
            fixed: medians.is_empty().then_some(filter),
            medians,
            fields,
        })
    }

    /// The filter as configured (with its `{"store_median": ...}` references).
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// The medians the filter refers to.
    pub fn medians(&self) -> &BTreeSet<Median> {
        &self.medians
    }

    /// The fields the filter reads ([`Filter::fields`]).
    pub fn fields(&self) -> &BTreeSet<Field> {
        &self.fields
    }

    /// Whether the filter reads a prediction ([`Filter::needs_predictions`]).
    pub fn needs_predictions(&self) -> bool {
        self.fields.iter().any(|f| f.is_prediction())
    }

    /// The filter for the scope of `baseline`, each store median replaced by its value
    /// (money as the exact yuan). `Ok(None)` when a median it refers to is unknown: the rule
    /// does not apply (a fresh deployment has no baseline until the daily rescoring job).
    ///
    /// # Errors
    /// [`CouponError::UnusableMedian`] for a negative money median, which the segment
    /// language cannot compare against; [`CouponError::Filter`] cannot happen for a filter
    /// that [`RuleFilter::from_json`] accepted.
    pub fn bind(&self, baseline: &Baseline) -> Result<Option<Filter>, CouponError> {
        if let Some(f) = &self.fixed {
            return Ok(Some(f.clone()));
        }
        if self.medians.iter().any(|m| baseline.get(*m).is_none()) {
            return Ok(None);
        }
        let mut bound = self.json.clone();
        for_each_comparison(&mut bound, 1, &mut |m| match reference(m)? {
            Some(median) => substitute(m, median, baseline),
            None => Ok(()),
        })?;
        Filter::from_json(&bound)
            .map(Some)
            .map_err(CouponError::Filter)
    }

    /// `; store median of avg_order_value: 85.50 yuan`, for each median referred to.
    fn medians_text(&self, baseline: &Baseline) -> String {
        self.medians
            .iter()
            .filter_map(|m| {
                Some(format!(
                    "; store median of {m}: {}",
                    baseline.get(*m)?.text()
                ))
            })
            .collect()
    }
}

/// Calls `f` on every comparison node (an object that is not `and`, `or` or `not`), down to
/// one level past [`MAX_DEPTH`] ([`Filter::from_json`] refuses anything deeper).
fn for_each_comparison<F>(node: &mut Value, depth: usize, f: &mut F) -> Result<(), CouponError>
where
    F: FnMut(&mut Map<String, Value>) -> Result<(), CouponError>,
{
    if depth > MAX_DEPTH + 1 {
        return Ok(());
    }
    let Value::Object(m) = node else {
        return Ok(());
    };
    if !["and", "or", "not"].iter().any(|k| m.contains_key(*k)) {
        return f(m);
    }
    for (key, inner) in m.iter_mut() {
        match (key.as_str(), inner) {
            ("and" | "or", Value::Array(items)) => {
                for item in items {
                    for_each_comparison(item, depth + 1, f)?;
                }
            }
            ("not", inner) => for_each_comparison(inner, depth + 1, f)?,
            _ => {}
        }
    }
    Ok(())
}

/// The median a comparison's `value` refers to, checked; `None` when its value is not a
/// `{"store_median": ...}` object, or its field is not a known field (which
/// [`Filter::from_json`] then refuses).
fn reference(m: &Map<String, Value>) -> Result<Option<Median>, CouponError> {
    let Some(Value::Object(r)) = m.get("value") else {
        return Ok(None);
    };
    let Some(name) = r.get("store_median") else {
        return Ok(None);
    };
    let bad = |s: String| Err(CouponError::StoreMedian(s));
    let names = Median::ALL.map(Median::name).join(", ");
    if let Some(other) = r.keys().find(|k| *k != "store_median") {
        return bad(format!(
            "{{\"store_median\": ...}} has no other key, got {other:?}"
        ));
    }
    let Some(median) = name.as_str().and_then(Median::parse) else {
        return bad(format!(
            "unknown store median {name} (store medians: {names})"
        ));
    };
    let Some(field) = m
        .get("field")
        .and_then(Value::as_str)
        .and_then(Field::parse)
    else {
        return Ok(None);
    };
    let op = m.get("op").and_then(Value::as_str).and_then(Op::parse);
    if !matches!(
        op,
        Some(Op::Eq | Op::Ne | Op::Gt | Op::Gte | Op::Lt | Op::Lte)
    ) {
        return bad(format!(
            "a store median is compared with eq, ne, gt, gte, lt or lte, got {} on {field}",
            m.get("op").map_or("no op".to_string(), Value::to_string)
        ));
    }
    if !median.compares_with(field) {
        let what = match median {
            Median::TotalOrders => "a number of orders: it compares with total_orders only",
            _ => "yuan: it compares with total_spent, avg_order_value and predicted_clv_12m only",
        };
        return bad(format!(
            "the store median of {median} is {what}, not with {field}"
        ));
    }
    Ok(Some(median))
}

/// Replaces a comparison's `{"store_median": ...}` value with the median of `baseline`,
/// which the caller has checked is known.
fn substitute(
    m: &mut Map<String, Value>,
    median: Median,
    baseline: &Baseline,
) -> Result<(), CouponError> {
    let value = match baseline.get(median) {
        Some(v) => v.json(median)?,
        // Checked by the callers; an unknown median leaves the reference, which
        // Filter::from_json refuses rather than guess.
        None => return Ok(()),
    };
    m.insert("value".to_string(), value);
    Ok(())
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
                "{}: {}{}",
                self.id,
                filter.to_json(),
                self.filter.medians_text(baseline)
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
    /// For staff: the rule's id and its filter as bound, in the segment JSON spelling, then
    /// the store medians it used, e.g.
    /// `basket_builder: {"field":"avg_order_value","op":"lt","value":85.5}; store median of avg_order_value: 85.50 yuan`.
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
