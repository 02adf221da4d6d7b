//! The segment filter language: which customers of a scope belong to a segment.
//!
//! A [`Filter`] is a tree of comparisons over one customer's figures in one scope
//! ([`SegmentFigures`]), combined with `and`, `or` and `not`. It comes in two spellings:
//!
//! - JSON, in a request body ([`Filter::from_json`], or `serde` through [`Filter`]'s
//!   `Deserialize`):
//!   `{"and":[{"field":"rfm_score","op":"gte","value":70},{"field":"tags","op":"contains_all","value":["活跃用户"]}]}`.
//!   A node is one of `{"and":[node, ...]}`, `{"or":[node, ...]}`, `{"not":node}` or a
//!   comparison `{"field":F,"op":OP,"value":V}` (`value` absent for `exists` and
//!   `missing`). An empty `and` matches everyone, an empty `or` no one. At most
//!   [`MAX_DEPTH`] levels (a lone comparison is depth 1), [`MAX_NODES`] nodes (comparisons
//!   and combinators alike) and [`MAX_VALUES`] values in one list.
//! - Query parameters for the common case ([`Filter::from_query`]), all ANDed:
//!   `rfm_score_gte=70&tag=活跃用户&tag_any=a,b&tag_none=x&customer_tier=VIP&store_id=s1`.
//!   See [`Filter::from_query`] for the names.
//!
//! # Fields, their values and units
//! | field | value | operators |
//! |---|---|---|
//! | `rfm_score` | number, 0 to 100 | `eq ne gt gte lt lte in` |
//! | `customer_tier` | `VIP`, `高价值`, `中价值`, `低价值`, `流失风险` | `eq ne in` |
//! | `tags` | list of tags (exact text) | `contains_all contains_any contains_none` |
//! | `total_spent` | yuan, at most 2 decimals (number or decimal string) | ordered |
//! | `total_orders` | whole number (counted orders) | ordered |
//! | `avg_order_value` | yuan, as `total_spent` | ordered |
//! | `days_since_last_order` | whole days (since the last counted order) | ordered |
//! | `days_since_last_activity` | whole days (since the last record of any kind) | ordered |
//! | `member_level` | text (exact, e.g. `金卡`) | `eq ne in` |
//! | `churn_probability` | number, 0 to 1 | ordered |
//! | `predicted_clv_12m` | yuan, as `total_spent` | ordered |
//! | `expected_orders_90d` | number | ordered |
//! | `days_until_birthday` | whole days, 0 = today (see [`days_until_birthday`]) | ordered |
//! | `store_id` | a store id: the scope the figures are in | `eq ne in` |
//!
//! "Ordered" is `eq ne gt gte lt lte in`. Every field but `tags` also takes `exists` and
//! `missing`. Money is compared exactly, in integer fen: `280.5` is 28050 fen, and a value
//! with digits below the fen (`1.001`) is refused rather than rounded.
//!
//! # Missing figures
//! A customer may lack a figure: no counted order (`days_since_last_order`,
//! `avg_order_value`), no prediction (`churn_probability`, `expected_orders_90d`,
//! `predicted_clv_12m`; the CLV also without a spend model), no birthday
//! (`days_until_birthday`), no member level, no activity, or no store (the all-stores scope
//! has no `store_id`). **A missing figure satisfies no comparison on it, `ne` included**:
//! without a prediction, both `churn_probability gte 0.5` and `churn_probability ne 0.5`
//! are false. `not` is plain boolean negation, so `not(churn_probability gte 0.5)` is *true*
//! for a customer without a prediction. To say "has a prediction and it is below 0.5", write
//! `churn_probability lt 0.5`; to select on the absence itself, use `exists` / `missing`
//! (`{"field":"days_until_birthday","op":"missing"}`). `tags` is never missing (a customer
//! without tags has an empty list: `contains_none` is true, the others false).
//!
//! # Errors
//! Everything refused is a [`FilterError`] whose message names the offender (field,
//! operator, parameter or value) and what is allowed: meant for a 400 `INVALID_PARAMETER`.

use crate::metrics::Tier;
use crate::money::{parse_scaled, Fen};
use crate::prediction::predict;
use crate::projection::Scope;
use crate::time::{whole_days_between, Millis, Zone};
use crate::view::CustomerView;
use crate::StoreId;
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::fmt;

/// Deepest filter accepted: a lone comparison is depth 1, `and` of comparisons depth 2.
pub const MAX_DEPTH: usize = 8;
/// Most nodes (comparisons plus `and`/`or`/`not`) in one filter, in either spelling.
pub const MAX_NODES: usize = 100;
/// Most values in one `in` or tags list.
pub const MAX_VALUES: usize = 100;

/// A field a filter can read: one figure of one customer in one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    RfmScore,
    CustomerTier,
    Tags,
    TotalSpent,
    TotalOrders,
    AvgOrderValue,
    DaysSinceLastOrder,
    DaysSinceLastActivity,
    MemberLevel,
    ChurnProbability,
    PredictedClv12m,
    ExpectedOrders90d,
    DaysUntilBirthday,
    StoreId,
}

/// What kind of value a field holds, which decides its operators and how values parse.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// A float, within `min..=max`.
    Number {
        min: f64,
        max: f64,
    },
    Integer,
    Money,
    Text,
    Tier,
    Store,
    Tags,
}

impl Field {
    pub const ALL: [Field; 14] = [
        Field::RfmScore,
        Field::CustomerTier,
        Field::Tags,
        Field::TotalSpent,
        Field::TotalOrders,
        Field::AvgOrderValue,
        Field::DaysSinceLastOrder,
        Field::DaysSinceLastActivity,
        Field::MemberLevel,
        Field::ChurnProbability,
        Field::PredictedClv12m,
        Field::ExpectedOrders90d,
        Field::DaysUntilBirthday,
        Field::StoreId,
    ];

    /// The name in JSON and in query parameters (`rfm_score`).
    pub fn name(self) -> &'static str {
        match self {
            Field::RfmScore => "rfm_score",
            Field::CustomerTier => "customer_tier",
            Field::Tags => "tags",
            Field::TotalSpent => "total_spent",
            Field::TotalOrders => "total_orders",
            Field::AvgOrderValue => "avg_order_value",
            Field::DaysSinceLastOrder => "days_since_last_order",
            Field::DaysSinceLastActivity => "days_since_last_activity",
            Field::MemberLevel => "member_level",
            Field::ChurnProbability => "churn_probability",
            Field::PredictedClv12m => "predicted_clv_12m",
            Field::ExpectedOrders90d => "expected_orders_90d",
            Field::DaysUntilBirthday => "days_until_birthday",
            Field::StoreId => "store_id",
        }
    }

    /// The field of a name; `None` for anything else (names are exact, lower case).
    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    fn kind(self) -> Kind {
        match self {
            Field::RfmScore => Kind::Number {
                min: 0.0,
                max: 100.0,
            },
            Field::ChurnProbability => Kind::Number { min: 0.0, max: 1.0 },
            Field::ExpectedOrders90d => Kind::Number {
                min: f64::MIN,
                max: f64::MAX,
            },
            Field::TotalOrders
            | Field::DaysSinceLastOrder
            | Field::DaysSinceLastActivity
            | Field::DaysUntilBirthday => Kind::Integer,
            Field::TotalSpent | Field::AvgOrderValue | Field::PredictedClv12m => Kind::Money,
            Field::MemberLevel => Kind::Text,
            Field::CustomerTier => Kind::Tier,
            Field::StoreId => Kind::Store,
            Field::Tags => Kind::Tags,
        }
    }

    /// Whether the figure can change with the passage of time alone, no record arriving:
    /// recency (`days_since_*`, and `rfm_score`, `customer_tier` and `tags`, which depend on
    /// it), the birthday countdown, and the predictions (the models' `T` grows daily).
    pub fn time_dependent(self) -> bool {
        matches!(
            self,
            Field::RfmScore
                | Field::CustomerTier
                | Field::Tags
                | Field::DaysSinceLastOrder
                | Field::DaysSinceLastActivity
                | Field::DaysUntilBirthday
        ) || self.is_prediction()
    }

    /// Whether the figure comes from the scope's fitted models ([`crate::prediction::Predictions`]).
    pub fn is_prediction(self) -> bool {
        matches!(
            self,
            Field::ChurnProbability | Field::PredictedClv12m | Field::ExpectedOrders90d
        )
    }

    /// The operators this field accepts.
    pub fn operators(self) -> &'static [Op] {
        use Op::*;
        match self.kind() {
            Kind::Number { .. } | Kind::Integer | Kind::Money => {
                &[Eq, Ne, Gt, Gte, Lt, Lte, In, Exists, Missing]
            }
            Kind::Text | Kind::Tier | Kind::Store => &[Eq, Ne, In, Exists, Missing],
            Kind::Tags => &[ContainsAll, ContainsAny, ContainsNone],
        }
    }

    fn expected(self) -> String {
        match self.kind() {
            Kind::Number { min, max } if min > f64::MIN => {
                format!("a number from {min} to {max}")
            }
            Kind::Number { .. } => "a number".to_string(),
            Kind::Integer => "a whole number of days or orders".to_string(),
            Kind::Money => "an amount in yuan with at most 2 decimals".to_string(),
            Kind::Text => "a text".to_string(),
            Kind::Tier => format!("one of {}", tier_labels()),
            Kind::Store => "a store id".to_string(),
            Kind::Tags => "a tag (text)".to_string(),
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    /// Equal to one of a list.
    In,
    /// Tags: has every one of the list.
    ContainsAll,
    /// Tags: has at least one of the list.
    ContainsAny,
    /// Tags: has none of the list.
    ContainsNone,
    /// The customer has the figure (no value).
    Exists,
    /// The customer lacks the figure (no value).
    Missing,
}

impl Op {
    pub const ALL: [Op; 12] = [
        Op::Eq,
        Op::Ne,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::In,
        Op::ContainsAll,
        Op::ContainsAny,
        Op::ContainsNone,
        Op::Exists,
        Op::Missing,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::In => "in",
            Op::ContainsAll => "contains_all",
            Op::ContainsAny => "contains_any",
            Op::ContainsNone => "contains_none",
            Op::Exists => "exists",
            Op::Missing => "missing",
        }
    }

    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|o| o.name() == name)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a filter was refused. Each message names the offender and what is allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("unknown field {0:?} (fields: {fields})", fields = field_list())]
    UnknownField(String),
    #[error("unknown operator {0:?} (operators: {ops})", ops = op_list())]
    UnknownOperator(String),
    #[error("operator \"{op}\" does not apply to {field} ({field} takes {allowed})", allowed = op_names(field.operators()))]
    NotApplicable { field: Field, op: Op },
    #[error("value {got} for {field} {op} must be {expected}")]
    InvalidValue {
        field: Field,
        op: Op,
        /// The value as sent, shortened.
        got: String,
        expected: String,
    },
    #[error("{field} {op} needs a value")]
    MissingValue { field: Field, op: Op },
    #[error("{field} {op} takes no value")]
    UnexpectedValue { field: Field, op: Op },
    #[error("{field} {op} takes at most {MAX_VALUES} values")]
    TooManyValues { field: Field, op: Op },
    #[error("unknown query parameter {0:?} (a field with _gte, _gt, _lte, _lt, _eq, _ne or _in, or tag, tag_any, tag_none, exists, missing)")]
    UnknownParameter(String),
    /// A JSON node that is not one of the four shapes, or has keys it should not.
    #[error("{0}")]
    Malformed(String),
    #[error("filter is nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("filter has more than {MAX_NODES} conditions")]
    TooLarge,
    #[error("filter is not valid JSON: {0}")]
    Json(String),
}

fn field_list() -> String {
    Field::ALL.map(Field::name).join(", ")
}

fn op_list() -> String {
    op_names(&Op::ALL)
}

fn op_names(ops: &[Op]) -> String {
    ops.iter().map(|o| o.name()).collect::<Vec<_>>().join(", ")
}

fn tier_labels() -> String {
    TIERS.map(Tier::label).join(", ")
}

const TIERS: [Tier; 5] = [Tier::Vip, Tier::High, Tier::Mid, Tier::Low, Tier::ChurnRisk];

fn tier_of_label(label: &str) -> Option<Tier> {
    TIERS.into_iter().find(|t| t.label() == label)
}

/// A value as text (a query parameter's), quoted for an error message, at most 40
/// characters.
fn shown(raw: &str) -> String {
    format!("{:?}", shortened(raw))
}

/// A JSON value as JSON text (a string keeps its quotes, a number has none), at most 40
/// characters, for an error message.
fn shown_json(v: &Value) -> String {
    shortened(&v.to_string())
}

fn shortened(raw: &str) -> String {
    const MAX: usize = 40;
    if raw.chars().count() <= MAX {
        raw.to_string()
    } else {
        format!("{}…", raw.chars().take(MAX).collect::<String>())
    }
}

/// A value compared against, already of its field's type.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Number(f64),
    Integer(i64),
    Money(Fen),
    Text(String),
    Tier(Tier),
    Store(StoreId),
}

/// What a comparison tests.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `eq ne gt gte lt lte` against one value.
    Compare(Op, Operand),
    /// Equal to one of the values (at least one).
    In(Vec<Operand>),
    /// `contains_all`, `contains_any` or `contains_none` of the tags (at least one).
    Tags(Op, Vec<String>),
    Exists,
    Missing,
}

/// One comparison of one field, checked: its test fits the field.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    field: Field,
    test: Test,
}

impl Comparison {
    /// Checks that `test` fits `field` (operator, value types, ranges, list sizes).
    ///
    /// # Errors
    /// [`FilterError::NotApplicable`], [`FilterError::InvalidValue`],
    /// [`FilterError::MissingValue`] (an empty list), [`FilterError::TooManyValues`].
    pub fn new(field: Field, test: Test) -> Result<Comparison, FilterError> {
        let op = test.op();
        if !field.operators().contains(&op) {
            return Err(FilterError::NotApplicable { field, op });
        }
        let check = |v: &Operand| -> Result<(), FilterError> {
            let fits = match (field.kind(), v) {
                (Kind::Number { min, max }, Operand::Number(n)) => {
                    n.is_finite() && (min..=max).contains(n)
                }
                (Kind::Integer, Operand::Integer(_))
                | (Kind::Money, Operand::Money(_))
                | (Kind::Text, Operand::Text(_))
                | (Kind::Tier, Operand::Tier(_))
                | (Kind::Store, Operand::Store(_)) => true,
                _ => false,
            };
            if fits {
                Ok(())
            } else {
                Err(invalid(field, op, shown(&operand_text(v))))
            }
        };
        match &test {
            Test::Compare(_, v) => check(v)?,
            Test::In(vs) => {
                check_list_len(field, op, vs.len())?;
                vs.iter().try_for_each(check)?;
            }
            Test::Tags(_, tags) => check_list_len(field, op, tags.len())?,
            Test::Exists | Test::Missing => {}
        }
        Ok(Comparison { field, test })
    }

    pub fn field(&self) -> Field {
        self.field
    }

    pub fn test(&self) -> &Test {
        &self.test
    }

    fn matches(&self, figures: &SegmentFigures) -> bool {
        if let Test::Tags(op, wanted) = &self.test {
            let has = |t: &String| figures.tags.contains(t);
            return match op {
                Op::ContainsAll => wanted.iter().all(has),
                Op::ContainsAny => wanted.iter().any(has),
                _ => !wanted.iter().any(has),
            };
        }
        let figure = figures.figure(self.field);
        match (&self.test, figure) {
            (Test::Exists, f) => f.is_some(),
            (Test::Missing, f) => f.is_none(),
            (_, None) => false,
            (Test::Compare(op, v), Some(f)) => compare(&f, *op, v),
            (Test::In(vs), Some(f)) => vs.iter().any(|v| compare(&f, Op::Eq, v)),
            (Test::Tags(..), Some(_)) => false,
        }
    }
}

impl Test {
    /// The operator of this test.
    pub fn op(&self) -> Op {
        match self {
            Test::Compare(op, _) | Test::Tags(op, _) => *op,
            Test::In(_) => Op::In,
            Test::Exists => Op::Exists,
            Test::Missing => Op::Missing,
        }
    }
}

fn check_list_len(field: Field, op: Op, len: usize) -> Result<(), FilterError> {
    if len == 0 {
        Err(FilterError::MissingValue { field, op })
    } else if len > MAX_VALUES {
        Err(FilterError::TooManyValues { field, op })
    } else {
        Ok(())
    }
}

/// `got` is the value as shown ([`shown`], [`shown_json`]).
fn invalid(field: Field, op: Op, got: String) -> FilterError {
    FilterError::InvalidValue {
        field,
        op,
        got,
        expected: field.expected(),
    }
}

fn operand_text(v: &Operand) -> String {
    match v {
        Operand::Number(n) => n.to_string(),
        Operand::Integer(n) => n.to_string(),
        Operand::Money(f) => f.display_yuan(),
        Operand::Text(t) => t.clone(),
        Operand::Tier(t) => t.label().to_string(),
        Operand::Store(s) => s.as_str().to_string(),
    }
}

/// A customer's figure, borrowed for a comparison.
enum Figure<'a> {
    Number(f64),
    Integer(i64),
    Money(Fen),
    Text(&'a str),
    Tier(Tier),
}

fn compare(figure: &Figure<'_>, op: Op, v: &Operand) -> bool {
    let order = match (figure, v) {
        (Figure::Number(a), Operand::Number(b)) => a.partial_cmp(b),
        (Figure::Integer(a), Operand::Integer(b)) => Some(a.cmp(b)),
        (Figure::Money(a), Operand::Money(b)) => Some(a.cmp(b)),
        // Texts, tiers and stores have no order: they take eq, ne and in only.
        (Figure::Text(a), Operand::Text(b)) => return equality(op, *a == b),
        (Figure::Text(a), Operand::Store(b)) => return equality(op, *a == b.as_str()),
        (Figure::Tier(a), Operand::Tier(b)) => return equality(op, a == b),
        _ => None,
    };
    match (op, order) {
        (Op::Eq, Some(o)) => o.is_eq(),
        (Op::Ne, Some(o)) => o.is_ne(),
        (Op::Gt, Some(o)) => o.is_gt(),
        (Op::Gte, Some(o)) => o.is_ge(),
        (Op::Lt, Some(o)) => o.is_lt(),
        (Op::Lte, Some(o)) => o.is_le(),
        _ => false,
    }
}

fn equality(op: Op, equal: bool) -> bool {
    match op {
        Op::Eq => equal,
        Op::Ne => !equal,
        _ => false,
    }
}

/// A segment filter: a checked tree of comparisons. Build it with [`Filter::from_json`],
/// [`Filter::parse_json`], [`Filter::from_query`] or serde (`Deserialize` reads the JSON
/// form and refuses with the [`FilterError`] message; `Serialize` writes it back).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Every one (empty: matches everyone).
    And(Vec<Filter>),
    /// At least one (empty: matches no one).
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Compare(Comparison),
}

impl Filter {
    /// The filter that matches every customer (no query parameter).
    pub fn all() -> Filter {
        Filter::And(Vec::new())
    }

    /// Parses a request body's JSON text.
    ///
    /// # Errors
    /// [`FilterError::Json`] when the text is not JSON; otherwise as [`Filter::from_json`].
    pub fn parse_json(text: &str) -> Result<Filter, FilterError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| FilterError::Json(e.to_string()))?;
        Filter::from_json(&value)
    }

    /// Reads the JSON form (see the module's documentation).
    ///
    /// # Errors
    /// [`FilterError::UnknownField`], [`FilterError::UnknownOperator`],
    /// [`FilterError::NotApplicable`], [`FilterError::InvalidValue`],
    /// [`FilterError::MissingValue`], [`FilterError::UnexpectedValue`],
    /// [`FilterError::TooManyValues`], [`FilterError::Malformed`] (not one of the four node
    /// shapes, or an unknown key), [`FilterError::TooDeep`], [`FilterError::TooLarge`].
    pub fn from_json(value: &Value) -> Result<Filter, FilterError> {
        let mut nodes = 0;
        node_from_json(value, 1, &mut nodes)
    }

    /// Reads query parameters, already split and decoded into `(name, value)` pairs; all
    /// of them are ANDed. No pair gives [`Filter::all`].
    ///
    /// - `{field}_gte`, `_gt`, `_lte`, `_lt`, `_eq`, `_ne`: that comparison
    ///   (`rfm_score_gte=70`, `total_spent_lt=100.5`, `days_until_birthday_lte=7`);
    /// - `{field}` alone: `eq` (`customer_tier=VIP`, `store_id=s1`, `member_level=金卡`);
    /// - `{field}_in`: `in`, values separated by commas (`customer_tier_in=VIP,高价值`);
    /// - `tag`: contains all (a repeated `tag` adds to the list; commas also separate);
    ///   `tag_any`: contains any; `tag_none`: contains none (comma-separated);
    /// - `exists`, `missing`: field names, comma-separated (`missing=days_until_birthday`).
    ///
    /// The caller takes out the parameters that are not filters (`limit`, `cursor`, ...)
    /// first, with [`is_query_parameter`].
    ///
    /// # Errors
    /// [`FilterError::UnknownParameter`] for any other name, [`FilterError::UnknownField`]
    /// for an unknown name in `exists`/`missing`, [`FilterError::NotApplicable`] (`tags_gte`
    /// is unknown, but `customer_tier_gte` does not apply), the value errors of
    /// [`Comparison::new`], and [`FilterError::TooLarge`] past [`MAX_NODES`] nodes (the comparisons and
    /// their `and`).
    pub fn from_query<N, V>(pairs: &[(N, V)]) -> Result<Filter, FilterError>
    where
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let mut all_tags: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for (name, value) in pairs {
            let (name, value) = (name.as_ref(), value.as_ref());
            match name {
                "tag" => all_tags.extend(split_list(value)),
                "tag_any" | "tag_none" => {
                    let op = if name == "tag_any" {
                        Op::ContainsAny
                    } else {
                        Op::ContainsNone
                    };
                    let test = Test::Tags(op, split_list(value));
                    out.push(Filter::Compare(Comparison::new(Field::Tags, test)?));
                }
                "exists" | "missing" => {
                    for field in split_list(value) {
                        let field = Field::parse(&field).ok_or(FilterError::UnknownField(field))?;
                        let test = if name == "exists" {
                            Test::Exists
                        } else {
                            Test::Missing
                        };
                        out.push(Filter::Compare(Comparison::new(field, test)?));
                    }
                }
                _ => {
                    let (field, op) = query_name(name)
                        .ok_or_else(|| FilterError::UnknownParameter(name.to_string()))?;
                    let test = if op == Op::In {
                        let values = split_list(value)
                            .iter()
                            .map(|v| operand_from_text(field, op, v))
                            .collect::<Result<Vec<_>, _>>()?;
                        Test::In(values)
                    } else {
                        Test::Compare(op, operand_from_text(field, op, value)?)
                    };
                    out.push(Filter::Compare(Comparison::new(field, test)?));
                }
            }
            if out.len() >= MAX_NODES {
                return Err(FilterError::TooLarge);
            }
        }
        if pairs.iter().any(|(n, _)| n.as_ref() == "tag") {
            let test = Test::Tags(Op::ContainsAll, all_tags);
            out.insert(0, Filter::Compare(Comparison::new(Field::Tags, test)?));
        }
        if out.len() >= MAX_NODES {
            return Err(FilterError::TooLarge);
        }
        Ok(Filter::And(out))
    }

    /// Whether this customer's figures satisfy the filter (see the module's documentation
    /// for missing figures).
    pub fn matches(&self, figures: &SegmentFigures) -> bool {
        match self {
            Filter::And(fs) => fs.iter().all(|f| f.matches(figures)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(figures)),
            Filter::Not(f) => !f.matches(figures),
            Filter::Compare(c) => c.matches(figures),
        }
    }

    /// The fields the filter reads, so that a caller computes only what is needed
    /// (predictions, the birthday).
    pub fn fields(&self) -> BTreeSet<Field> {
        let mut out = BTreeSet::new();
        self.collect_fields(&mut out);
        out
    }

    fn collect_fields(&self, out: &mut BTreeSet<Field>) {
        match self {
            Filter::And(fs) | Filter::Or(fs) => fs.iter().for_each(|f| f.collect_fields(out)),
            Filter::Not(f) => f.collect_fields(out),
            Filter::Compare(c) => {
                out.insert(c.field);
            }
        }
    }

    /// Whether the filter reads a figure that moves with time alone
    /// ([`Field::time_dependent`]): its members can change with no record arriving, so a
    /// stored membership needs rescoring as days pass.
    pub fn time_dependent(&self) -> bool {
        self.fields().into_iter().any(Field::time_dependent)
    }

    /// Whether the filter reads a prediction ([`Field::is_prediction`]).
    pub fn needs_predictions(&self) -> bool {
        self.fields().into_iter().any(Field::is_prediction)
    }

    /// The JSON form, which [`Filter::from_json`] reads back to an equal filter.
    pub fn to_json(&self) -> Value {
        match self {
            Filter::And(fs) => json!({ "and": fs.iter().map(Filter::to_json).collect::<Vec<_>>() }),
            Filter::Or(fs) => json!({ "or": fs.iter().map(Filter::to_json).collect::<Vec<_>>() }),
            Filter::Not(f) => json!({ "not": f.to_json() }),
            Filter::Compare(c) => {
                let mut m = Map::new();
                m.insert("field".into(), c.field.name().into());
                m.insert("op".into(), c.test.op().name().into());
                match &c.test {
                    Test::Compare(_, v) => {
                        m.insert("value".into(), operand_json(v));
                    }
                    Test::In(vs) => {
                        m.insert("value".into(), vs.iter().map(operand_json).collect());
                    }
                    Test::Tags(_, tags) => {
                        m.insert("value".into(), tags.clone().into());
                    }
                    Test::Exists | Test::Missing => {}
                }
                Value::Object(m)
            }
        }
    }
}

impl Serialize for Filter {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Filter, D::Error> {
        let value = Value::deserialize(d)?;
        Filter::from_json(&value).map_err(serde::de::Error::custom)
    }
}

fn operand_json(v: &Operand) -> Value {
    match v {
        Operand::Number(n) => json!(n),
        Operand::Integer(n) => json!(n),
        Operand::Money(f) => json!(f.yuan()),
        Operand::Text(t) => json!(t),
        Operand::Tier(t) => json!(t.label()),
        Operand::Store(s) => json!(s.as_str()),
    }
}

/// Comma-separated values, trimmed, empty ones dropped.
fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `rfm_score_gte` → (rfm_score, gte); `customer_tier` → (customer_tier, eq). Tags are
/// filtered through `tag*` only.
fn query_name(name: &str) -> Option<(Field, Op)> {
    const SUFFIXES: [(&str, Op); 7] = [
        ("_gte", Op::Gte),
        ("_gt", Op::Gt),
        ("_lte", Op::Lte),
        ("_lt", Op::Lt),
        ("_eq", Op::Eq),
        ("_ne", Op::Ne),
        ("_in", Op::In),
    ];
    let (field, op) = SUFFIXES
        .iter()
        .find_map(|(suffix, op)| Some((Field::parse(name.strip_suffix(suffix)?)?, *op)))
        .or_else(|| Some((Field::parse(name)?, Op::Eq)))?;
    (field != Field::Tags).then_some((field, op))
}

/// A value sent as text (a query parameter, or a JSON string), read as `field`'s type.
fn operand_from_text(field: Field, op: Op, raw: &str) -> Result<Operand, FilterError> {
    let bad = || invalid(field, op, shown(raw));
    let s = raw.trim();
    let v = match field.kind() {
        Kind::Number { .. } => {
            let n: f64 = s.parse().map_err(|_| bad())?;
            Operand::Number(n)
        }
        Kind::Integer => Operand::Integer(parse_scaled(s, 0).map_err(|_| bad())?),
        Kind::Money => Operand::Money(Fen::parse_yuan(s).map_err(|_| bad())?),
        Kind::Text if !s.is_empty() => Operand::Text(s.to_string()),
        Kind::Tier => Operand::Tier(tier_of_label(s).ok_or_else(bad)?),
        Kind::Store => Operand::Store(StoreId::parse(s).map_err(|_| bad())?),
        Kind::Text | Kind::Tags => return Err(bad()),
    };
    // Ranges are checked once, by Comparison::new; check here too so the message shows the
    // text as sent.
    if let (Kind::Number { min, max }, Operand::Number(n)) = (field.kind(), &v) {
        if !n.is_finite() || !(min..=max).contains(n) {
            return Err(bad());
        }
    }
    Ok(v)
}

/// A JSON value read as `field`'s type: numbers as numbers (money also as a decimal
/// string, for exactness), texts as strings.
fn operand_from_json(field: Field, op: Op, v: &Value) -> Result<Operand, FilterError> {
    let bad = || invalid(field, op, shown_json(v));
    match (field.kind(), v) {
        (Kind::Number { .. }, Value::Number(n)) => {
            operand_from_text(field, op, &n.to_string()).map_err(|_| bad())
        }
        (Kind::Integer, Value::Number(n)) => n.as_i64().map(Operand::Integer).ok_or_else(bad),
        // serde_json prints a float in its shortest exact form (280.5, 0.1), which is read
        // as a decimal: 0.1 yuan is exactly 10 fen.
        (Kind::Money, Value::Number(n)) => {
            operand_from_text(field, op, &n.to_string()).map_err(|_| bad())
        }
        (Kind::Money | Kind::Text | Kind::Tier | Kind::Store, Value::String(s)) => {
            operand_from_text(field, op, s)
        }
        _ => Err(bad()),
    }
}

fn node_from_json(value: &Value, depth: usize, nodes: &mut usize) -> Result<Filter, FilterError> {
    if depth > MAX_DEPTH {
        return Err(FilterError::TooDeep);
    }
    *nodes += 1;
    if *nodes > MAX_NODES {
        return Err(FilterError::TooLarge);
    }
    let Value::Object(m) = value else {
        return Err(FilterError::Malformed(format!(
            "a filter must be an object with \"and\", \"or\", \"not\" or \"field\", got {}",
            shown_json(value)
        )));
    };
    for combinator in ["and", "or", "not"] {
        let Some(inner) = m.get(combinator) else {
            continue;
        };
        if let Some(other) = m.keys().find(|k| *k != combinator) {
            return Err(FilterError::Malformed(format!(
                "a filter with \"{combinator}\" has no other key, got {other:?}"
            )));
        }
        if combinator == "not" {
            return Ok(Filter::Not(Box::new(node_from_json(
                inner,
                depth + 1,
                nodes,
            )?)));
        }
        let Value::Array(items) = inner else {
            return Err(FilterError::Malformed(format!(
                "\"{combinator}\" takes a list of filters, got {}",
                shown_json(inner)
            )));
        };
        let children = items
            .iter()
            .map(|item| node_from_json(item, depth + 1, nodes))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(if combinator == "and" {
            Filter::And(children)
        } else {
            Filter::Or(children)
        });
    }
    if let Some(other) = m
        .keys()
        .find(|k| !["field", "op", "value"].contains(&k.as_str()))
    {
        return Err(FilterError::Malformed(format!(
            "unknown key {other:?} in a filter (keys: and, or, not; or field, op, value)"
        )));
    }
    let field = match m.get("field") {
        Some(Value::String(name)) => {
            Field::parse(name).ok_or_else(|| FilterError::UnknownField(name.clone()))?
        }
        Some(other) => {
            return Err(FilterError::UnknownField(other.to_string()));
        }
        None => {
            return Err(FilterError::Malformed(
                "a comparison needs \"field\" (and \"op\", \"value\")".to_string(),
            ))
        }
    };
    let op = match m.get("op") {
        Some(Value::String(name)) => {
            Op::parse(name).ok_or_else(|| FilterError::UnknownOperator(name.clone()))?
        }
        Some(other) => return Err(FilterError::UnknownOperator(other.to_string())),
        None => {
            return Err(FilterError::Malformed(format!(
                "the comparison on {field} needs \"op\""
            )))
        }
    };
    if !field.operators().contains(&op) {
        return Err(FilterError::NotApplicable { field, op });
    }
    let value = m.get("value");
    let test = match (op, value) {
        (Op::Exists | Op::Missing, Some(_)) => {
            return Err(FilterError::UnexpectedValue { field, op })
        }
        (Op::Exists, None) => Test::Exists,
        (Op::Missing, None) => Test::Missing,
        (_, None) => return Err(FilterError::MissingValue { field, op }),
        (Op::ContainsAll | Op::ContainsAny | Op::ContainsNone, Some(v)) => {
            let tags = list(field, op, v)?
                .iter()
                .map(|t| match t {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(invalid(field, op, shown_json(other))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Test::Tags(op, tags)
        }
        (Op::In, Some(v)) => Test::In(
            list(field, op, v)?
                .iter()
                .map(|v| operand_from_json(field, op, v))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        (_, Some(v)) => Test::Compare(op, operand_from_json(field, op, v)?),
    };
    Ok(Filter::Compare(Comparison::new(field, test)?))
}

fn list(field: Field, op: Op, v: &Value) -> Result<&Vec<Value>, FilterError> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(FilterError::InvalidValue {
            field,
            op,
            got: shown_json(other),
            expected: format!("a list of {}", field.expected()),
        }),
    }
}

/// Whether a query parameter's name is one [`Filter::from_query`] reads, so that a caller
/// can set aside the others (`limit`, `cursor`).
pub fn is_query_parameter(name: &str) -> bool {
    matches!(name, "tag" | "tag_any" | "tag_none" | "exists" | "missing")
        || query_name(name).is_some()
}

/// One customer's figures in one scope, as a filter reads them; `None` is a missing figure
/// (see the module's documentation). Build it with [`SegmentFigures::of_view`], or by hand.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentFigures {
    /// 0-100.
    pub rfm_score: Option<f64>,
    pub customer_tier: Option<Tier>,
    /// As the profile shows them; never missing (empty when there are none).
    pub tags: Vec<String>,
    pub total_spent: Option<Fen>,
    /// Counted orders.
    pub total_orders: Option<i64>,
    /// `total_spent / total_orders` rounded half-up to the fen; missing without a counted
    /// order (the profile shows 0 then, but "average below 50 yuan" should not select
    /// customers who never paid).
    pub avg_order_value: Option<Fen>,
    /// Whole days since the last counted order; missing without one.
    pub days_since_last_order: Option<i64>,
    /// Whole days since the last record of any kind (what the activity tag counts).
    pub days_since_last_activity: Option<i64>,
    pub member_level: Option<String>,
    /// 0-1.
    pub churn_probability: Option<f64>,
    /// Yuan rounded to the fen, held as fen.
    pub predicted_clv_12m: Option<Fen>,
    pub expected_orders_90d: Option<f64>,
    /// Days to the next birthday, 0 today ([`days_until_birthday`]).
    pub days_until_birthday: Option<i64>,
    /// The scope's store; missing in the all-stores scope.
    pub store_id: Option<StoreId>,
}

impl SegmentFigures {
    /// The figures of the customer of `view` (its scope's stats, member record, clock, zone
    /// and thresholds), computed as the profile computes them ([`CustomerView::value`],
    /// [`CustomerView::tags`]). `scope` is the scope of `view.stats`; `birthday` the member's
    /// (its countdown counts days in `view.zone`). The predictions are computed only when
    /// `with_predictions` (pass [`Filter::needs_predictions`]); otherwise they are missing.
    pub fn of_view(
        view: &CustomerView<'_>,
        scope: &Scope,
        birthday: Option<Birthday>,
        with_predictions: bool,
    ) -> SegmentFigures {
        let value = view.value();
        let predictions = if with_predictions {
            predict(view.stats, view.model, view.now, view.monthly_discount_rate).ok()
        } else {
            None
        };
        SegmentFigures {
            rfm_score: Some(value.rfm_score),
            customer_tier: Some(value.tier),
            tags: view.tags(),
            total_spent: Some(value.total_spent),
            total_orders: Some(value.total_orders),
            avg_order_value: if value.total_orders > 0 {
                value.total_spent.div_round_half_up(value.total_orders)
            } else {
                None
            },
            days_since_last_order: value.recency_days,
            days_since_last_activity: view
                .stats
                .last_event_at
                .map(|t| whole_days_between(t, view.now)),
            member_level: view.member.and_then(|m| m.level.clone()),
            churn_probability: predictions.as_ref().map(|p| p.churn_probability),
            predicted_clv_12m: predictions
                .as_ref()
                .and_then(|p| p.predicted_clv_12m)
                .filter(|v| v.is_finite())
                .map(|v| Fen((v * 100.0).round() as i64)),
            expected_orders_90d: predictions.as_ref().map(|p| p.expected_orders_90d),
            days_until_birthday: birthday
                .map(|b| days_until_birthday(b, local_date(view.now, view.zone))),
            store_id: match scope {
                Scope::Store(s) => Some(s.clone()),
                Scope::AllStores => None,
            },
        }
    }

    fn figure(&self, field: Field) -> Option<Figure<'_>> {
        let number = |v: Option<f64>| v.filter(|n| n.is_finite()).map(Figure::Number);
        match field {
            Field::RfmScore => number(self.rfm_score),
            Field::CustomerTier => self.customer_tier.map(Figure::Tier),
            Field::Tags => None,
            Field::TotalSpent => self.total_spent.map(Figure::Money),
            Field::TotalOrders => self.total_orders.map(Figure::Integer),
            Field::AvgOrderValue => self.avg_order_value.map(Figure::Money),
            Field::DaysSinceLastOrder => self.days_since_last_order.map(Figure::Integer),
            Field::DaysSinceLastActivity => self.days_since_last_activity.map(Figure::Integer),
            Field::MemberLevel => self.member_level.as_deref().map(Figure::Text),
            Field::ChurnProbability => number(self.churn_probability),
            Field::PredictedClv12m => self.predicted_clv_12m.map(Figure::Money),
            Field::ExpectedOrders90d => number(self.expected_orders_90d),
            Field::DaysUntilBirthday => self.days_until_birthday.map(Figure::Integer),
            Field::StoreId => self.store_id.as_ref().map(|s| Figure::Text(s.as_str())),
        }
    }
}

/// A birthday's month and day (the year plays no part in the countdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Birthday {
    month: u32,
    day: u32,
}

impl Birthday {
    /// A month (1-12) and day that exist in some year (29 February included).
    pub fn new(month: u32, day: u32) -> Option<Birthday> {
        // 2000 is a leap year: every real month-day exists in it.
        NaiveDate::from_ymd_opt(2000, month, day).map(|_| Birthday { month, day })
    }

    /// Reads `member_sync`'s `birthday`: `YYYY-MM-DD`, or `--MM-DD` when the member gave no
    /// year. `None` for anything else, or a date that does not exist (`2001-02-29`).
    pub fn parse(raw: &str) -> Option<Birthday> {
        let s = raw.trim();
        if let Some(md) = s.strip_prefix("--") {
            let (m, d) = md.split_once('-')?;
            if m.len() != 2 || d.len() != 2 {
                return None;
            }
            return Birthday::new(m.parse().ok()?, d.parse().ok()?);
        }
        let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
        Birthday::new(date.month(), date.day())
    }

    pub fn month(self) -> u32 {
        self.month
    }

    pub fn day(self) -> u32 {
        self.day
    }

    /// The birthday's date in `year`: 29 February is kept on 28 February in common years.
    fn in_year(self, year: i32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(year, self.month, self.day)
            .or_else(|| NaiveDate::from_ymd_opt(year, self.month, self.day - 1))
    }
}

/// Days from `today` (a local date in the deployment's zone: [`local_date`]) to the next
/// birthday, 0 when it is today. A member born on 29 February has the birthday on
/// 28 February in common years, on the 29th in leap years.
pub fn days_until_birthday(birthday: Birthday, today: NaiveDate) -> i64 {
    let year = today.year();
    [year, year + 1]
        .into_iter()
        .filter_map(|y| birthday.in_year(y))
        .find(|d| *d >= today)
        .map_or(0, |d| (d - today).num_days())
}

/// The calendar date of `now` in `zone`.
pub fn local_date(now: Millis, zone: &Zone) -> NaiveDate {
    Utc.timestamp_millis_opt(now.0)
        .single()
        .map(|t| t.with_timezone(&zone.0).date_naive())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Thresholds;
    use crate::projection::{MemberInfo, ScopeStats};
    use crate::time::DAY_MS;
    use crate::{Identifier, IdentifierType};

    fn store(s: &str) -> StoreId {
        StoreId::parse(s).unwrap()
    }

    /// A seed-like customer with every figure present.
    fn rich() -> SegmentFigures {
        SegmentFigures {
            rfm_score: Some(72.5),
            customer_tier: Some(Tier::High),
            tags: vec!["高价值".into(), "高频消费".into(), "活跃用户".into()],
            total_spent: Some(Fen(528_000)),
            total_orders: Some(24),
            avg_order_value: Some(Fen(22_000)),
            days_since_last_order: Some(2),
            days_since_last_activity: Some(1),
            member_level: Some("金卡".into()),
            churn_probability: Some(0.12),
            predicted_clv_12m: Some(Fen(310_050)),
            expected_orders_90d: Some(3.5),
            days_until_birthday: Some(6),
            store_id: Some(store("s1")),
        }
    }

    fn quiet() -> SegmentFigures {
        SegmentFigures {
            rfm_score: Some(31.0),
            customer_tier: Some(Tier::ChurnRisk),
            tags: vec!["流失风险".into(), "流失用户".into()],
            total_spent: Some(Fen(150_000)),
            total_orders: Some(6),
            avg_order_value: Some(Fen(25_000)),
            days_since_last_order: Some(120),
            days_since_last_activity: Some(120),
            ..SegmentFigures::default()
        }
    }

    fn json(text: &str) -> Filter {
        Filter::parse_json(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn json_err(text: &str) -> String {
        match Filter::parse_json(text) {
            Ok(f) => panic!("{text} parsed as {f:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn query(pairs: &[(&str, &str)]) -> Result<Filter, FilterError> {
        Filter::from_query(pairs)
    }

    fn cmp(field: &str, op: &str, value: Value) -> Filter {
        Filter::from_json(&json!({"field": field, "op": op, "value": value})).unwrap()
    }

    #[test]
    fn segment_seed_examples_in_both_spellings() {
        let active_high = json(
            r#"{"and":[{"field":"rfm_score","op":"gte","value":70},{"field":"tags","op":"contains_all","value":["活跃用户"]}]}"#,
        );
        let from_query = query(&[("rfm_score_gte", "70"), ("tag", "活跃用户")]).unwrap();
        assert!(active_high.matches(&rich()));
        assert!(from_query.matches(&rich()));
        assert!(!active_high.matches(&quiet()));
        assert!(!from_query.matches(&quiet()));
        // Score high enough but not active, active but score too low.
        let mut f = rich();
        f.tags = vec!["沉睡用户".into()];
        assert!(!active_high.matches(&f) && !from_query.matches(&f));
        f = rich();
        f.rfm_score = Some(69.9);
        assert!(!active_high.matches(&f) && !from_query.matches(&f));
        f.rfm_score = Some(70.0);
        assert!(active_high.matches(&f) && from_query.matches(&f));

        let churn = json(r#"{"field":"tags","op":"contains_all","value":["流失风险"]}"#);
        let churn_q = query(&[("tag", "流失风险")]).unwrap();
        for f in [&churn, &churn_q] {
            assert!(f.matches(&quiet()));
            assert!(!f.matches(&rich()));
        }
    }

    #[test]
    fn segment_query_parameters_cover_suffixes_tags_and_lists() {
        let q = query(&[
            ("rfm_score_gt", "72"),
            ("total_spent_gte", "5280"),
            ("total_orders_lte", "24"),
            ("days_since_last_order_lt", "3"),
            ("customer_tier", "高价值"),
            ("member_level_ne", "银卡"),
            ("store_id_eq", "s1"),
            ("customer_tier_in", "VIP, 高价值"),
            ("tag", "高价值"),
            ("tag", "活跃用户,高频消费"),
            ("tag_any", "VIP,高频消费"),
            ("tag_none", "流失风险"),
            ("exists", "churn_probability,days_until_birthday"),
            ("avg_order_value_eq", "220.00"),
        ])
        .unwrap();
        assert!(q.matches(&rich()), "{q:?}");
        let Filter::And(parts) = &q else {
            panic!("{q:?}")
        };
        // One contains_all for every `tag`, first; two `exists`.
        assert_eq!(parts.len(), 14);
        assert_eq!(
            parts[0],
            cmp(
                "tags",
                "contains_all",
                json!(["高价值", "活跃用户", "高频消费"])
            )
        );
        assert!(!query(&[("missing", "churn_probability")])
            .unwrap()
            .matches(&rich()));
        assert!(query(&[("missing", "churn_probability")])
            .unwrap()
            .matches(&quiet()));
        assert_eq!(query(&[]).unwrap(), Filter::all());
        assert!(Filter::all().matches(&SegmentFigures::default()));
        for (name, ok) in [
            ("rfm_score_gte", true),
            ("tag", true),
            ("store_id", true),
            ("limit", false),
            ("cursor", false),
            ("tags", false),
            ("rfm_score_ge", false),
        ] {
            assert_eq!(is_query_parameter(name), ok, "{name}");
        }
    }

    #[test]
    fn segment_every_operator_on_numbers_integers_and_money() {
        let f = rich();
        for (op, value, want) in [
            ("eq", 72.5, true),
            ("eq", 72.0, false),
            ("ne", 72.0, true),
            ("ne", 72.5, false),
            ("gt", 72.5, false),
            ("gt", 72.4, true),
            ("gte", 72.5, true),
            ("lt", 72.5, false),
            ("lt", 72.6, true),
            ("lte", 72.5, true),
            ("lte", 72.4, false),
        ] {
            assert_eq!(
                cmp("rfm_score", op, json!(value)).matches(&f),
                want,
                "{op} {value}"
            );
        }
        assert!(cmp("rfm_score", "in", json!([10, 72.5])).matches(&f));
        assert!(!cmp("rfm_score", "in", json!([10, 72])).matches(&f));
        assert!(cmp("total_orders", "gte", json!(24)).matches(&f));
        assert!(!cmp("total_orders", "gt", json!(24)).matches(&f));
        assert!(cmp("total_orders", "in", json!([1, 24])).matches(&f));
        assert!(cmp("days_since_last_activity", "lte", json!(1)).matches(&f));
        assert!(cmp("churn_probability", "lt", json!(0.2)).matches(&f));
        assert!(cmp("expected_orders_90d", "gte", json!(3.5)).matches(&f));
        assert!(cmp("days_until_birthday", "lte", json!(7)).matches(&f));
    }

    #[test]
    fn segment_money_is_compared_exactly_in_fen() {
        let mut f = rich();
        f.total_spent = Some(Fen(10)); // 0.10 yuan
        for (value, op, want) in [
            (json!(0.1), "eq", true),
            (json!("0.10"), "eq", true),
            (json!(0.09), "gt", true),
            (json!(0.11), "lt", true),
            (json!("0.1"), "gte", true),
            (json!(0.1), "gt", false),
            (json!(1e-1), "lte", true),
        ] {
            assert_eq!(
                cmp("total_spent", op, value.clone()).matches(&f),
                want,
                "{op} {value}"
            );
        }
        assert!(cmp("predicted_clv_12m", "eq", json!(3100.5)).matches(&rich()));
        assert!(cmp("avg_order_value", "in", json!(["220", 100])).matches(&rich()));
        assert!(query(&[("total_spent_eq", "0.1")]).unwrap().matches(&f));
        for bad in [
            json!(1.001),
            json!("1.001"),
            json!(-1),
            json!("abc"),
            json!(true),
        ] {
            let err = Filter::from_json(&json!({"field":"total_spent","op":"gte","value":bad}))
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    FilterError::InvalidValue {
                        field: Field::TotalSpent,
                        ..
                    }
                ),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn segment_text_tier_store_and_tag_operators() {
        let f = rich();
        assert!(cmp("customer_tier", "eq", json!("高价值")).matches(&f));
        assert!(cmp("customer_tier", "ne", json!("VIP")).matches(&f));
        assert!(cmp("customer_tier", "in", json!(["VIP", "高价值"])).matches(&f));
        assert!(!cmp("customer_tier", "in", json!(["VIP", "流失风险"])).matches(&f));
        assert!(cmp("member_level", "eq", json!("金卡")).matches(&f));
        assert!(cmp("member_level", "in", json!(["银卡", "金卡"])).matches(&f));
        assert!(!cmp("member_level", "ne", json!("金卡")).matches(&f));
        assert!(cmp("store_id", "eq", json!(" s1 ")).matches(&f));
        assert!(cmp("store_id", "ne", json!("s2")).matches(&f));
        assert!(cmp("store_id", "in", json!(["s2", "s1"])).matches(&f));

        assert!(cmp("tags", "contains_all", json!(["高价值", "活跃用户"])).matches(&f));
        assert!(!cmp("tags", "contains_all", json!(["高价值", "VIP"])).matches(&f));
        assert!(cmp("tags", "contains_any", json!(["VIP", "活跃用户"])).matches(&f));
        assert!(!cmp("tags", "contains_any", json!(["VIP", "沉睡用户"])).matches(&f));
        assert!(cmp("tags", "contains_none", json!(["VIP", "沉睡用户"])).matches(&f));
        assert!(!cmp("tags", "contains_none", json!(["VIP", "高价值"])).matches(&f));
        // A customer without tags has none of any list.
        let bare = SegmentFigures::default();
        assert!(cmp("tags", "contains_none", json!(["VIP"])).matches(&bare));
        assert!(!cmp("tags", "contains_any", json!(["VIP"])).matches(&bare));
        assert!(!cmp("tags", "contains_all", json!(["VIP"])).matches(&bare));
    }

    #[test]
    fn segment_and_or_not_combine() {
        let vip_or_churn = json(
            r#"{"or":[{"field":"customer_tier","op":"eq","value":"VIP"},{"field":"tags","op":"contains_any","value":["流失风险"]}]}"#,
        );
        assert!(vip_or_churn.matches(&quiet()));
        assert!(!vip_or_churn.matches(&rich()));
        let not_it = json(
            r#"{"not":{"or":[{"field":"customer_tier","op":"eq","value":"VIP"},{"field":"tags","op":"contains_any","value":["流失风险"]}]}}"#,
        );
        assert!(not_it.matches(&rich()));
        assert!(!not_it.matches(&quiet()));
        let nested = json(
            r#"{"and":[{"field":"total_orders","op":"gte","value":5},{"or":[{"field":"days_since_last_order","op":"gt","value":90},{"not":{"field":"rfm_score","op":"lt","value":50}}]}]}"#,
        );
        assert!(nested.matches(&rich()));
        assert!(nested.matches(&quiet()));
        let mut few = rich();
        few.total_orders = Some(3);
        assert!(!nested.matches(&few));
        assert!(json(r#"{"and":[]}"#).matches(&rich()));
        assert!(!json(r#"{"or":[]}"#).matches(&rich()));
    }

    /// A missing figure satisfies no comparison, `ne` included; `not` flips that to true;
    /// `exists` and `missing` test the absence itself.
    #[test]
    fn segment_missing_figures_satisfy_no_comparison_and_not_is_plain_negation() {
        let none = quiet(); // no prediction, birthday, member level or store
        for (field, value) in [
            ("churn_probability", json!(0.5)),
            ("predicted_clv_12m", json!(100)),
            ("expected_orders_90d", json!(1)),
            ("days_until_birthday", json!(3)),
            ("member_level", json!("金卡")),
            ("store_id", json!("s1")),
        ] {
            for op in ["eq", "ne", "gt", "gte", "lt", "lte"] {
                if !Field::parse(field)
                    .unwrap()
                    .operators()
                    .contains(&Op::parse(op).unwrap())
                {
                    continue;
                }
                let c = cmp(field, op, value.clone());
                assert!(!c.matches(&none), "{field} {op} {value}");
                assert!(
                    Filter::Not(Box::new(c)).matches(&none),
                    "not {field} {op} {value}"
                );
            }
            let f = Field::parse(field).unwrap();
            let exists = Filter::Compare(Comparison::new(f, Test::Exists).unwrap());
            let missing = Filter::Compare(Comparison::new(f, Test::Missing).unwrap());
            assert!(!exists.matches(&none) && missing.matches(&none), "{field}");
            assert!(
                exists.matches(&rich()) && !missing.matches(&rich()),
                "{field}"
            );
        }
        assert!(!cmp("churn_probability", "in", json!([0.5])).matches(&none));
        // "Predicted to churn below 0.5", and "no prediction or below 0.5".
        let below = json(r#"{"field":"churn_probability","op":"lt","value":0.5}"#);
        let not_above = json(r#"{"not":{"field":"churn_probability","op":"gte","value":0.5}}"#);
        assert!(!below.matches(&none) && not_above.matches(&none));
        assert!(below.matches(&rich()) && not_above.matches(&rich()));
        // exists/missing in JSON take no value.
        assert!(json(r#"{"field":"days_until_birthday","op":"missing"}"#).matches(&none));
        // A NaN figure is missing, not a number.
        let mut nan = rich();
        nan.rfm_score = Some(f64::NAN);
        assert!(!cmp("rfm_score", "ne", json!(1)).matches(&nan));
    }

    #[test]
    fn segment_errors_name_their_offender() {
        for (text, want) in [
            (
                r#"{"field":"rfm","op":"gte","value":70}"#,
                r#"unknown field "rfm" (fields: rfm_score, customer_tier"#,
            ),
            (
                r#"{"field":"rfm_score","op":"like","value":70}"#,
                r#"unknown operator "like" (operators: eq, ne"#,
            ),
            (
                r#"{"field":"rfm_score","op":"contains_all","value":[70]}"#,
                r#"operator "contains_all" does not apply to rfm_score (rfm_score takes eq, ne, gt, gte, lt, lte, in, exists, missing)"#,
            ),
            (
                r#"{"field":"customer_tier","op":"gt","value":"VIP"}"#,
                r#"operator "gt" does not apply to customer_tier"#,
            ),
            (
                r#"{"field":"tags","op":"eq","value":"VIP"}"#,
                r#"operator "eq" does not apply to tags"#,
            ),
            (
                r#"{"field":"rfm_score","op":"gte","value":"high"}"#,
                r#"value "high" for rfm_score gte must be a number from 0 to 100"#,
            ),
            (
                r#"{"field":"rfm_score","op":"gte","value":170}"#,
                r#"value 170 for rfm_score gte must be a number from 0 to 100"#,
            ),
            (
                r#"{"field":"churn_probability","op":"gte","value":70}"#,
                r#"value 70 for churn_probability gte must be a number from 0 to 1"#,
            ),
            (
                r#"{"field":"total_orders","op":"gte","value":2.5}"#,
                r#"value 2.5 for total_orders gte must be a whole number"#,
            ),
            (
                r#"{"field":"total_orders","op":"gte","value":"3"}"#,
                r#"value "3" for total_orders gte must be a whole number"#,
            ),
            (
                r#"{"field":"customer_tier","op":"eq","value":"金卡"}"#,
                r#"value "金卡" for customer_tier eq must be one of VIP, 高价值, 中价值, 低价值, 流失风险"#,
            ),
            (
                r#"{"field":"store_id","op":"eq","value":"s 1"}"#,
                r#"value "s 1" for store_id eq must be a store id"#,
            ),
            (
                r#"{"field":"tags","op":"contains_any","value":"VIP"}"#,
                r#"value "VIP" for tags contains_any must be a list of a tag"#,
            ),
            (
                r#"{"field":"tags","op":"contains_any","value":["VIP",3]}"#,
                r#"value 3 for tags contains_any must be a tag"#,
            ),
            (
                r#"{"field":"rfm_score","op":"in","value":70}"#,
                r#"value 70 for rfm_score in must be a list of a number"#,
            ),
            (
                r#"{"field":"rfm_score","op":"in","value":[]}"#,
                "rfm_score in needs a value",
            ),
            (
                r#"{"field":"rfm_score","op":"gte"}"#,
                "rfm_score gte needs a value",
            ),
            (
                r#"{"field":"rfm_score","op":"exists","value":true}"#,
                "rfm_score exists takes no value",
            ),
            (
                r#"{"field":"rfm_score","value":1}"#,
                r#"the comparison on rfm_score needs "op""#,
            ),
            (r#"{"op":"eq","value":1}"#, r#"a comparison needs "field""#),
            (
                r#"{"field":"rfm_score","op":"gte","value":70,"vaule":1}"#,
                r#"unknown key "vaule" in a filter"#,
            ),
            (
                r#"{"and":[],"or":[]}"#,
                r#"a filter with "and" has no other key, got "or""#,
            ),
            (r#"{"and":{}}"#, r#""and" takes a list of filters, got {}"#),
            (r#"[1]"#, r#"a filter must be an object"#),
            ("{", "filter is not valid JSON"),
        ] {
            let got = json_err(text);
            assert!(got.starts_with(want), "{text}\n got: {got}\nwant: {want}");
        }
        for (pairs, want) in [
            (
                vec![("rfm_gte", "70")],
                r#"unknown query parameter "rfm_gte""#,
            ),
            (vec![("tags", "VIP")], r#"unknown query parameter "tags""#),
            (
                vec![("rfm_score_ge", "70")],
                r#"unknown query parameter "rfm_score_ge""#,
            ),
            (
                vec![("customer_tier_gte", "VIP")],
                r#"operator "gte" does not apply to customer_tier"#,
            ),
            (
                vec![("rfm_score_gte", "seventy")],
                r#"value "seventy" for rfm_score gte must be a number"#,
            ),
            (
                vec![("rfm_score_gte", "NaN")],
                r#"value "NaN" for rfm_score gte"#,
            ),
            (
                vec![("total_spent_gte", "1.001")],
                r#"value "1.001" for total_spent gte must be an amount in yuan with at most 2 decimals"#,
            ),
            (
                vec![("days_until_birthday_lte", "")],
                r#"value "" for days_until_birthday lte must be a whole number"#,
            ),
            (
                vec![("customer_tier_in", "VIP,gold")],
                r#"value "gold" for customer_tier in"#,
            ),
            (vec![("tag", "")], "tags contains_all needs a value"),
            (vec![("tag_any", " , ")], "tags contains_any needs a value"),
            (vec![("missing", "rfm")], r#"unknown field "rfm""#),
            (
                vec![("exists", "tags")],
                r#"operator "exists" does not apply to tags"#,
            ),
        ] {
            let got = query(&pairs).unwrap_err().to_string();
            assert!(
                got.starts_with(want),
                "{pairs:?}\n got: {got}\nwant: {want}"
            );
        }
        // Long values are shortened in messages.
        let long = "x".repeat(500);
        let got = query(&[("rfm_score_gte", long.as_str())])
            .unwrap_err()
            .to_string();
        assert!(got.len() < 200, "{got}");
    }

    #[test]
    fn segment_depth_and_size_are_bounded() {
        let leaf = json!({"field":"rfm_score","op":"gte","value":1});
        let nest =
            |levels: usize| (1..levels).fold(leaf.clone(), |inner, _| json!({ "not": inner }));
        assert!(Filter::from_json(&nest(MAX_DEPTH)).is_ok());
        assert_eq!(
            Filter::from_json(&nest(MAX_DEPTH + 1)),
            Err(FilterError::TooDeep)
        );
        // A hostile depth is refused without recursing through it.
        assert_eq!(Filter::from_json(&nest(100)), Err(FilterError::TooDeep));

        let wide = |n: usize| json!({ "and": vec![leaf.clone(); n] });
        assert!(Filter::from_json(&wide(MAX_NODES - 1)).is_ok());
        assert_eq!(
            Filter::from_json(&wide(MAX_NODES)),
            Err(FilterError::TooLarge)
        );
        // The query's comparisons sit under one `and`, which counts too.
        let pairs = vec![("rfm_score_gte", "1"); MAX_NODES];
        assert_eq!(query(&pairs), Err(FilterError::TooLarge));
        assert!(query(&pairs[..MAX_NODES - 1]).is_ok());

        let values: Vec<i64> = (0..=MAX_VALUES as i64).collect();
        assert_eq!(
            Filter::from_json(&json!({"field":"total_orders","op":"in","value":values})),
            Err(FilterError::TooManyValues {
                field: Field::TotalOrders,
                op: Op::In
            })
        );
        assert!(Filter::from_json(
            &json!({"field":"total_orders","op":"in","value":&values[..MAX_VALUES]})
        )
        .is_ok());
        assert!(FilterError::TooDeep.to_string().contains('8'));
        assert!(FilterError::TooLarge.to_string().contains("100"));
    }

    #[test]
    fn segment_json_round_trips_and_serde_reads_it() {
        let text = r#"{"and":[{"field":"rfm_score","op":"gte","value":70},{"not":{"field":"tags","op":"contains_any","value":["流失风险","沉睡用户"]}},{"or":[{"field":"total_spent","op":"lt","value":"1000.50"},{"field":"customer_tier","op":"in","value":["VIP","高价值"]},{"field":"store_id","op":"eq","value":"s1"},{"field":"member_level","op":"ne","value":"金卡"},{"field":"days_until_birthday","op":"missing"},{"field":"total_orders","op":"eq","value":3}]}]}"#;
        let f = json(text);
        assert_eq!(Filter::from_json(&f.to_json()).unwrap(), f);
        #[derive(Deserialize, Serialize)]
        struct Body {
            filter: Filter,
        }
        let body: Body = serde_json::from_str(&format!(r#"{{"filter":{text}}}"#)).unwrap();
        assert_eq!(body.filter, f);
        let again: Body = serde_json::from_str(&serde_json::to_string(&body).unwrap()).unwrap();
        assert_eq!(again.filter, f);
        let err = serde_json::from_str::<Body>(r#"{"filter":{"field":"rfm","op":"eq","value":1}}"#)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains(r#"unknown field "rfm""#), "{err}");
    }

    #[test]
    fn segment_fields_and_time_dependence() {
        let f = json(
            r#"{"and":[{"field":"total_spent","op":"gte","value":100},{"not":{"field":"member_level","op":"eq","value":"金卡"}}]}"#,
        );
        assert_eq!(
            f.fields().into_iter().collect::<Vec<_>>(),
            [Field::TotalSpent, Field::MemberLevel]
        );
        assert!(!f.time_dependent() && !f.needs_predictions());
        for field in Field::ALL {
            let moving = matches!(
                field,
                Field::RfmScore
                    | Field::CustomerTier
                    | Field::Tags
                    | Field::DaysSinceLastOrder
                    | Field::DaysSinceLastActivity
                    | Field::DaysUntilBirthday
                    | Field::ChurnProbability
                    | Field::PredictedClv12m
                    | Field::ExpectedOrders90d
            );
            assert_eq!(field.time_dependent(), moving, "{field}");
            assert_eq!(Field::parse(field.name()), Some(field));
        }
        let g = query(&[("total_orders_gte", "2"), ("churn_probability_gte", "0.5")]).unwrap();
        assert!(g.time_dependent() && g.needs_predictions());
        assert!(query(&[("tag", "VIP")]).unwrap().time_dependent());
        assert!(!Filter::all().time_dependent());
        for op in Op::ALL {
            assert_eq!(Op::parse(op.name()), Some(op));
        }
    }

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn segment_birthdays_count_days_in_the_zone_and_keep_29_february() {
        let zone = Zone::default();
        let march_1 = Birthday::parse("--03-01").unwrap();
        let leap_day = Birthday::parse("2000-02-29").unwrap();
        // 00:30 on 22 February in +08:00 is still the 21st in UTC.
        let now = zone.parse_time("2027-02-22T00:30:00+08:00").unwrap();
        let today = local_date(now, &zone);
        assert_eq!(today, date("2027-02-22"));
        assert_eq!(days_until_birthday(march_1, today), 7);
        assert_eq!(days_until_birthday(leap_day, today), 6); // 28 February 2027
                                                             // Just past both: the next ones are almost a year away.
        let today = local_date(zone.parse_time("2027-03-02T12:00:00+08:00").unwrap(), &zone);
        assert!(days_until_birthday(march_1, today) > 7);
        assert!(days_until_birthday(leap_day, today) > 7);
        assert_eq!(days_until_birthday(march_1, today), 365);
        assert_eq!(days_until_birthday(leap_day, today), 364); // 29 February 2028
                                                               // A leap year has 29 February.
        assert_eq!(days_until_birthday(leap_day, date("2028-02-28")), 1);
        assert_eq!(days_until_birthday(leap_day, date("2028-02-29")), 0);
        assert_eq!(days_until_birthday(leap_day, date("2027-02-28")), 0);
        assert_eq!(days_until_birthday(leap_day, date("2027-03-01")), 365);
        assert_eq!(days_until_birthday(march_1, date("2028-02-29")), 1);
        let new_year = Birthday::new(1, 1).unwrap();
        assert_eq!(days_until_birthday(new_year, date("2027-12-31")), 1);
        assert_eq!(days_until_birthday(new_year, date("2027-01-01")), 0);

        for bad in [
            "2001-02-29",
            "--13-01",
            "--02-30",
            "03-01",
            "--3-1",
            "",
            "yesterday",
        ] {
            assert_eq!(Birthday::parse(bad), None, "{bad}");
        }
        assert_eq!(Birthday::parse("--02-29"), Birthday::new(2, 29));
        assert_eq!(Birthday::new(4, 31), None);

        // In a filter: within a week.
        let soon = query(&[("days_until_birthday_lte", "7")]).unwrap();
        let figures = |d| SegmentFigures {
            days_until_birthday: Some(d),
            ..SegmentFigures::default()
        };
        assert!(soon.matches(&figures(7)) && soon.matches(&figures(0)));
        assert!(!soon.matches(&figures(8)));
        assert!(!soon.matches(&SegmentFigures::default()));
    }

    #[test]
    fn segment_figures_of_a_view_follow_the_profile() {
        let zone = Zone::default();
        let now = Millis(zone.parse_time("2027-02-22T10:00:00+08:00").unwrap().0);
        let stats = ScopeStats {
            order_records: 24,
            counted_orders: 24,
            spend_fen: 528_000,
            first_counted_at: Some(Millis(now.0 - 180 * DAY_MS)),
            last_counted_at: Some(Millis(now.0 - 2 * DAY_MS)),
            last_event_at: Some(Millis(now.0 - DAY_MS)),
            ..ScopeStats::default()
        };
        let member = MemberInfo {
            member_id: "M1".into(),
            name: None,
            phone: None,
            email: None,
            level: Some("金卡".into()),
            points: None,
            balance_fen: None,
            store_id: None,
            registered_at: Millis(0),
            synced_at: None,
        };
        let id = Identifier::parse(IdentifierType::Phone, "13800138000").unwrap();
        let thresholds = Thresholds::default();
        let view = CustomerView {
            identifier: &id,
            stats: &stats,
            member: Some(&member),
            now,
            zone: &zone,
            thresholds: &thresholds,
            model: None,
            monthly_discount_rate: 0.01,
        };
        let scope = Scope::Store(store("s1"));
        let f = SegmentFigures::of_view(&view, &scope, Birthday::new(3, 1), true);
        assert_eq!(f.customer_tier, Some(Tier::High));
        assert_eq!(f.tags, view.tags());
        assert!(f.tags.contains(&"会员等级:金卡".to_string()));
        assert_eq!(f.total_spent, Some(Fen(528_000)));
        assert_eq!(f.avg_order_value, Some(Fen(22_000)));
        assert_eq!(f.days_since_last_order, Some(2));
        assert_eq!(f.days_since_last_activity, Some(1));
        assert_eq!(f.member_level.as_deref(), Some("金卡"));
        assert_eq!(f.days_until_birthday, Some(7));
        assert_eq!(f.store_id, Some(store("s1")));
        // No model: no prediction, whatever was asked.
        assert_eq!(f.churn_probability, None);
        assert!(json(r#"{"and":[{"field":"rfm_score","op":"gte","value":70},{"field":"tags","op":"contains_all","value":["活跃用户"]}]}"#).matches(&f));

        let empty = ScopeStats {
            reservation_records: 1,
            last_event_at: Some(now),
            ..ScopeStats::default()
        };
        let view = CustomerView {
            stats: &empty,
            member: None,
            ..view
        };
        let f = SegmentFigures::of_view(&view, &Scope::AllStores, None, false);
        assert_eq!(f.total_orders, Some(0));
        assert_eq!(f.avg_order_value, None);
        assert_eq!(f.days_since_last_order, None);
        assert_eq!(f.days_since_last_activity, Some(0));
        assert_eq!(
            (f.member_level, f.days_until_birthday, f.store_id),
            (None, None, None)
        );
    }
}
