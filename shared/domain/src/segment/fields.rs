//! The fields a filter reads, its operators, its errors and their messages.

use crate::value::Tier;
use serde_json::Value;
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
pub(super) enum Kind {
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

    pub(super) fn kind(self) -> Kind {
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

    pub(super) fn expected(self) -> String {
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
    /// Given twice, which would silently AND both (`rfm_score_gte=70&rfm_score_gte=80`).
    #[error(
        "parameter {0:?} is given more than once; give it once (only tag repeats, adding tags)"
    )]
    RepeatedParameter(String),
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

pub(super) fn field_list() -> String {
    Field::ALL.map(Field::name).join(", ")
}

pub(super) fn op_list() -> String {
    op_names(&Op::ALL)
}

pub(super) fn op_names(ops: &[Op]) -> String {
    ops.iter().map(|o| o.name()).collect::<Vec<_>>().join(", ")
}

pub(super) fn tier_labels() -> String {
    TIERS.map(Tier::label).join(", ")
}

pub(super) const TIERS: [Tier; 5] = [Tier::Vip, Tier::High, Tier::Mid, Tier::Low, Tier::ChurnRisk];

pub(super) fn tier_of_label(label: &str) -> Option<Tier> {
    TIERS.into_iter().find(|t| t.label() == label)
}

/// A value as text (a query parameter's), quoted for an error message, at most 40
/// characters.
pub(super) fn shown(raw: &str) -> String {
    format!("{:?}", shortened(raw))
}

/// A JSON value as JSON text (a string keeps its quotes, a number has none), at most 40
/// characters, for an error message.
pub(super) fn shown_json(v: &Value) -> String {
    shortened(&v.to_string())
}

pub(super) fn shortened(raw: &str) -> String {
    const MAX: usize = 40;
    if raw.chars().count() <= MAX {
        raw.to_string()
    } else {
        format!("{}…", raw.chars().take(MAX).collect::<String>())
    }
}
